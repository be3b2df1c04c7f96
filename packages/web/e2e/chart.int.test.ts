import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { buildCtSeries } from '@atrium/dicom';
import { browserTestsSkipReason, keepScreenshot, launchChromium, startAtrium, stow, type RunningAtrium } from './support.js';

const skip = browserTestsSkipReason();
let atrium: RunningAtrium;
let browser: Browser;
let page: Page;

before(async () => {
  if (skip) return;
  [atrium, browser] = await Promise.all([startAtrium(), launchChromium()]);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await atrium?.stop();
});

async function fhir(path: string): Promise<{ entry?: { resource: Record<string, unknown> }[] }> {
  const response = await fetch(`${atrium.url}/fhir/${path}`, { headers: { accept: 'application/fhir+json' } });
  assert.equal(response.status, 200, `GET /fhir/${path}`);
  return (await response.json()) as { entry?: { resource: Record<string, unknown> }[] };
}

test('chart - register a patient, record an allergy, a problem and a note (sign, amend), and see a STOW-RS study in the imaging timeline', { skip }, async () => {
  // Registration, from the top navigation.
  await page.goto(`${atrium.url}/`);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Patients' }).click();
  const form = page.getByTestId('register-patient');
  await form.getByLabel('Family name').fill('Chartwell');
  await form.getByLabel('Given names').fill('Erin');
  await form.getByLabel('Birth date').fill('1971-05-04');
  await form.getByLabel('Sex').selectOption('female');
  await form.getByLabel('MRN').fill('E2E-1');
  await form.getByRole('button', { name: 'Register' }).click();
  await page.getByTestId('patient-name').filter({ hasText: 'Chartwell, Erin' }).waitFor();
  const patientId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2] ?? '');
  const patients = await fhir('Patient?identifier=urn:atrium:issuer:local|E2E-1');
  assert.equal(patients.entry?.[0]?.resource.id, patientId, 'the chart shows the Patient it created');

  // Allergy banner.
  const banner = page.getByTestId('allergy-banner');
  assert.match(await banner.innerText(), /none recorded/);
  await banner.getByLabel('Allergy substance').fill('Penicillin');
  await banner.getByRole('button', { name: 'Record allergy' }).click();
  await banner.getByTestId('allergy').filter({ hasText: 'Penicillin (high risk)' }).waitFor();

  // Problem.
  await page.getByRole('link', { name: 'Problems' }).click();
  await page.getByLabel('Problem', { exact: true }).fill('Essential hypertension');
  await page.getByRole('button', { name: 'Add problem' }).click();
  await page.getByTestId('problem').filter({ hasText: 'Essential hypertension' }).waitFor();
  await page.getByLabel('Problem', { exact: true }).fill('Sprained ankle');
  await page.getByRole('button', { name: 'Add problem' }).click();
  await page.getByTestId('problem').filter({ hasText: 'Sprained ankle' }).getByRole('button', { name: 'Resolve' }).click();
  await page.getByTestId('problem').filter({ hasText: /Sprained ankle\s+resolved/ }).waitFor();
  await page.getByRole('link', { name: 'Summary' }).click();
  assert.deepEqual(await page.getByTestId('summary-problem').allInnerTexts(), ['Essential hypertension'], 'the summary lists active problems only');
  await page.getByRole('link', { name: 'Problems' }).click();

  // Note: draft, sign, amend.
  await page.getByRole('link', { name: 'Notes' }).click();
  await page.getByRole('button', { name: 'New note' }).click();
  await page.getByLabel('Note title').fill('First visit');
  await page.getByLabel('Note text').fill('BP 150/95, start lifestyle measures.');
  await page.getByRole('button', { name: 'Save draft' }).click();
  await page.locator('[data-testid=note][data-state=draft]').filter({ hasText: 'BP 150/95' }).waitFor();
  // Signing needs a signer: none is chosen yet, so the chart says so and the draft stays a draft.
  await page.getByRole('button', { name: 'Sign' }).click();
  await page.getByTestId('chart-error').filter({ hasText: 'choose who is signing' }).waitFor();
  await page.getByRole('button', { name: 'Add practitioner' }).click();
  await page.getByLabel('Practitioner family name').fill('Welby');
  await page.getByLabel('Practitioner given names').fill('Marcus');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await page.waitForFunction(() => (document.querySelector('select[aria-label="Signing as"]') as HTMLSelectElement | null)?.selectedOptions[0]?.text === 'Welby, Marcus');
  await page.getByRole('button', { name: 'Sign' }).click();
  await page.locator('[data-testid=note][data-state=signed]').getByTestId('note-signer').filter({ hasText: 'signed by Welby, Marcus' }).waitFor();
  await page.getByRole('button', { name: 'Amend' }).click();
  await page.getByLabel('Note text').fill('BP 150/95 (repeat 145/92), start lifestyle measures.');
  await page.getByRole('button', { name: 'Save amendment' }).click();
  await page.locator('[data-testid=note][data-state=amendment]').filter({ hasText: 'repeat 145/92' }).waitFor();
  assert.equal(await page.locator('[data-testid=note][data-state=signed]').count(), 0, 'the superseded original is hidden');
  const notes = (await fhir(`DocumentReference?patient=${patientId}`)).entry?.map((e) => e.resource) ?? [];
  const original = notes.find((n) => n.status === 'superseded');
  const amendment = notes.find((n) => n.docStatus === 'amended');
  assert.equal(original?.docStatus, 'final');
  assert.deepEqual(amendment?.relatesTo, [{ code: 'replaces', target: { reference: `DocumentReference/${original?.id}` } }]);
  const practitionerId = (await fhir('Practitioner?family=welby')).entry?.[0]?.resource.id;
  const welby = { reference: `Practitioner/${practitionerId}`, display: 'Welby, Marcus' };
  assert.deepEqual(original?.authenticator, welby, 'the signed note names its signer');
  assert.deepEqual(amendment?.authenticator, welby, 'so does the amendment');
  // The original's history: the unsigned draft, the signed note, then superseded by the amendment (still signed).
  const history = ((await fhir(`DocumentReference/${original?.id}/_history`)).entry ?? []).map((e) => e.resource).reverse();
  assert.deepEqual(history.map((v) => [v.docStatus, v.status, (v.authenticator as { reference?: string } | undefined)?.reference]), [
    ['preliminary', 'current', undefined],
    ['final', 'current', welby.reference],
    ['final', 'superseded', welby.reference],
  ]);
  await keepScreenshot(page, 'chart-notes');

  // A study for the patient's MRN arrives over STOW-RS: the timeline shows it without a reload.
  await page.getByRole('link', { name: 'Imaging' }).click();
  await page.getByText('No studies for this patient yet.').waitFor();
  const ct = buildCtSeries({ slices: 2, rows: 64, columns: 64, patient: { patientName: 'CHARTWELL^ERIN', patientId: 'E2E-1', issuerOfPatientId: '', patientBirthDate: '19710504', patientSex: 'F' }, study: { studyDescription: 'CT chest' } });
  await stow(atrium.url, ct.instances);
  const item = page.locator(`[data-testid=timeline-study][data-study-uid="${ct.studyInstanceUid}"]`);
  await item.waitFor({ timeout: 30_000 });
  assert.match(await item.innerText(), /CT[\s\S]*CT chest[\s\S]*1 series, 2 images/);
  const thumbnail = item.locator('img');
  await page.waitForFunction((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0, await thumbnail.elementHandle());
  await keepScreenshot(page, 'chart-imaging');
  await thumbnail.click();
  await page.waitForURL(`${atrium.url}/studies/${ct.studyInstanceUid}/view`);
});

test('chart - patient search by name words and by MRN; observations recorded on the page are drawn as a trend', { skip }, async () => {
  await page.goto(`${atrium.url}/patients`);
  const search = page.getByTestId('patient-search');
  await search.fill('eri chartw');
  await page.getByTestId('patient-row').filter({ hasText: 'Chartwell, Erin' }).waitFor();
  await search.fill('E2E-1');
  await page.getByTestId('patient-row').filter({ hasText: 'E2E-1' }).getByRole('link').click();
  await page.getByTestId('patient-name').filter({ hasText: 'Chartwell, Erin' }).waitFor();
  await page.getByRole('link', { name: 'Observations' }).click();
  for (const [value, date] of [
    ['72', '2026-01-10'],
    ['88', '2026-02-10'],
  ] as const) {
    await page.getByLabel('Value').fill(value);
    await page.getByLabel('Date').fill(date);
    await page.getByRole('button', { name: 'Record observation' }).click();
    await page.getByTestId('observation').filter({ hasText: `${value} /min` }).waitFor();
  }
  const trend = page.locator('[data-testid=trend][data-label="Heart rate"]');
  assert.equal(await trend.locator('circle').count(), 2);
  const [first, second] = await trend.locator('circle').evaluateAll((dots) => dots.map((d) => ({ x: Number(d.getAttribute('cx')), y: Number(d.getAttribute('cy')) })));
  assert.ok(first!.x < second!.x && first!.y > second!.y, 'later and higher: right and up');
});
