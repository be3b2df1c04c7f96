import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildCtSeries, buildUltrasoundClip, synthesizeBytes } from '@atrium/dicom';
import { browserTestsSkipReason, keepScreenshot, launchChromium, startAtrium, stow, type RunningAtrium } from './support.js';

const skip = browserTestsSkipReason();
let atrium: RunningAtrium;
let browser: Browser;
let page: Page;
let files: string;

before(async () => {
  if (skip) return;
  files = mkdtempSync(join(tmpdir(), 'atrium-e2e-files-'));
  [atrium, browser] = await Promise.all([startAtrium(), launchChromium()]);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await atrium?.stop();
  rmSync(files, { recursive: true, force: true });
});

const rowUids = async () =>
  page.locator('[data-testid=study-row]').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.studyUid ?? ''));

/** Waits until the worklist shows exactly these studies (in this order when `ordered`). */
async function expectRows(expected: string[], ordered = false) {
  const want = ordered ? expected : [...expected].sort();
  let got: string[] = [];
  for (let i = 0; i < 50; i++) {
    got = await rowUids();
    if (expected.length === 0 && (await page.locator('[data-testid=no-match]').count()) > 0) return;
    if (JSON.stringify(ordered ? got : [...got].sort()) === JSON.stringify(want)) return;
    await page.waitForTimeout(100);
  }
  assert.deepEqual(ordered ? got : [...got].sort(), want);
}

test('worklist - first start shows the empty state with the AE title and DICOM port', { skip }, async () => {
  await page.goto(`${atrium.url}/`);
  const empty = page.getByTestId('empty-state');
  await empty.waitFor();
  const text = await empty.innerText();
  assert.match(text, /Drop DICOM files or folders here or send to AE ATRIUM at 127\.0\.0\.1:\d+/);
  // Regression: 'No studies yet' was said twice, and nothing told a newcomer how to get demo data.
  assert.equal(text.match(/No studies yet/g)?.length, 1, text);
  assert.match(text, /run npx atrium demo in the directory where you started Atrium/);
  await keepScreenshot(page, 'worklist-empty');
});

test('upload - files chosen on the page are stored with STOW-RS, a non-DICOM file is rejected with its reason, and the study appears live', { skip }, async () => {
  const ct = buildCtSeries({ slices: 2, rows: 64, columns: 64, patient: { patientName: 'UPLOAD^ULLA', patientId: 'UP-1' }, study: { accessionNumber: 'UPL1' } });
  const paths = ct.instances.map((slice, i) => {
    const path = join(files, `slice-${i + 1}.dcm`);
    writeFileSync(path, slice.bytes);
    return path;
  });
  const notDicom = join(files, 'notes.txt');
  writeFileSync(notDicom, 'not a DICOM file at all, just some words that are long enough to look like something');
  await page.getByTestId('upload-files').setInputFiles([...paths, notDicom]);
  const summary = page.getByTestId('upload-summary');
  await summary.filter({ hasText: '2 stored, 1 rejected' }).waitFor({ timeout: 30_000 });
  const rejected = page.locator('[data-testid=upload-item][data-state=rejected]');
  assert.equal(await rejected.count(), 1);
  const reason = await rejected.innerText();
  assert.match(reason, /notes\.txt/);
  assert.match(reason, /Rejected/);
  assert.ok(reason.length > 'notes.txtRejected'.length + 10, `a reason is shown: ${reason}`);
  // No reload: the worklist learns of the new study from /api/events.
  await expectRows([ct.studyInstanceUid]);
  await keepScreenshot(page, 'upload-summary');
});

test('upload - a file dropped on the worklist is stored', { skip }, async () => {
  const ct = buildCtSeries({ slices: 1, rows: 64, columns: 64, patient: { patientName: 'DROP^DORA', patientId: 'DR-1' }, study: { accessionNumber: 'DROP1' } });
  const bytes = [...ct.instances[0]!.bytes];
  const transfer = await page.evaluateHandle((data) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(data)], 'dropped.dcm', { type: 'application/dicom' }));
    return dt;
  }, bytes);
  const zone = page.getByTestId('drop-zone');
  await zone.dispatchEvent('dragover', { dataTransfer: transfer });
  await zone.dispatchEvent('drop', { dataTransfer: transfer });
  await page.getByTestId('upload-summary').filter({ hasText: '3 stored, 1 rejected' }).waitFor({ timeout: 30_000 });
  await page.locator(`[data-testid=study-row][data-study-uid="${ct.studyInstanceUid}"]`).waitFor();
});

test('worklist - each filter, sort and paging find the synthetic studies; counts and thumbnails are shown', { skip }, async () => {
  const a = buildCtSeries({ slices: 3, rows: 64, columns: 64, patient: { patientName: 'ALPHA^ANNA', patientId: 'AL-100' }, study: { studyDate: '20230105', accessionNumber: 'ACC-A1', studyDescription: 'CT CHEST' } });
  const b = buildCtSeries({ slices: 2, rows: 64, columns: 64, patient: { patientName: 'BRAVO^BEN', patientId: 'BR-200' }, study: { studyDate: '20230610', accessionNumber: 'ACC-B2', studyDescription: 'CT HEAD' } });
  const clip = buildUltrasoundClip({ frames: 3, rows: 48, columns: 64, patient: { patientName: 'CHARLIE^CLEO', patientId: 'CH-300' }, study: { studyDate: '20230301', accessionNumber: 'ACC-C3', studyDescription: 'ECHO REST' } });
  await stow(atrium.url, [...a.instances, ...b.instances, clip]);
  await page.goto(`${atrium.url}/`);
  await page.locator(`[data-testid=study-row][data-study-uid="${clip.studyInstanceUid}"]`).waitFor();

  const setFilter = async (testId: string, value: string) => {
    const input = page.getByTestId(testId);
    if ((await input.evaluate((e) => e.tagName)) === 'SELECT') await input.selectOption(value);
    else await input.fill(value);
  };
  const clear = async () => {
    for (const id of ['filter-patient', 'filter-accession', 'filter-description', 'filter-date-from', 'filter-date-to']) await page.getByTestId(id).fill('');
    await page.getByTestId('filter-modality').selectOption('');
  };
  const cases: [string, string, string[]][] = [
    ['filter-patient', 'alpha', [a.studyInstanceUid]],
    ['filter-patient', 'BR-200', [b.studyInstanceUid]],
    ['filter-accession', 'ACC-C', [clip.studyInstanceUid]],
    ['filter-description', 'head', [b.studyInstanceUid]],
    ['filter-modality', 'US', [clip.studyInstanceUid]],
  ];
  for (const [testId, value, expected] of cases) {
    await clear();
    await setFilter(testId, value);
    await expectRows(expected);
  }
  await clear();
  await setFilter('filter-date-from', '2023-02-01');
  await setFilter('filter-date-to', '2023-12-31');
  await expectRows([b.studyInstanceUid, clip.studyInstanceUid]);
  await setFilter('filter-patient', 'nobody-has-this-name');
  await expectRows([]);
  await clear();

  await setFilter('filter-accession', 'ACC-');
  await page.getByTestId('sort-patientName').click();
  await expectRows([a.studyInstanceUid, b.studyInstanceUid, clip.studyInstanceUid], true);
  await page.getByTestId('sort-patientName').click();
  await expectRows([clip.studyInstanceUid, b.studyInstanceUid, a.studyInstanceUid], true);

  const rowA = page.locator(`[data-testid=study-row][data-study-uid="${a.studyInstanceUid}"]`);
  assert.equal(await rowA.getByTestId('series-count').innerText(), '1');
  assert.equal(await rowA.getByTestId('instance-count').innerText(), '3');
  const rowClip = page.locator(`[data-testid=study-row][data-study-uid="${clip.studyInstanceUid}"]`);
  assert.equal(await rowClip.getByTestId('instance-count').innerText(), '1');
  await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('.thumb img')].every((img) => img.complete && img.naturalWidth === 128), undefined, { timeout: 30_000 });

  // Paging: two per page over the three ACC- studies, sorted by date (newest first).
  await page.goto(`${atrium.url}/?accessionNumber=ACC-&limit=2`);
  await expectRows([b.studyInstanceUid, clip.studyInstanceUid], true);
  assert.equal(await page.getByTestId('page-range').innerText(), '1–2 of 3');
  await page.getByTestId('page-next').click();
  await expectRows([a.studyInstanceUid], true);
  assert.equal(await page.getByTestId('page-range').innerText(), '3–3 of 3');
  await keepScreenshot(page, 'worklist-paged');

  // Keyboard: / focuses the search, ↓ moves into the rows, Enter opens the study page.
  await page.goto(`${atrium.url}/?accessionNumber=ACC-A1`);
  await expectRows([a.studyInstanceUid]);
  await page.locator('body').click({ position: { x: 5, y: 780 } });
  await page.keyboard.press('/');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.getByTestId('study-page').waitFor();
  assert.equal(await page.getByTestId('study-patient').innerText(), 'ALPHA, ANNA');
  assert.equal(await page.getByTestId('study-description').innerText(), 'CT CHEST');
  assert.equal(await page.getByTestId('series-card').count(), 1);
  const download = await page.getByTestId('study-download').getAttribute('href');
  const zip = await fetch(`${atrium.url}${download}`);
  assert.equal(zip.headers.get('content-type'), 'application/zip');
  assert.equal(Buffer.from(await zip.arrayBuffer()).readUInt32LE(0), 0x04034b50, 'a ZIP local file header');
  await keepScreenshot(page, 'study-page');
});
