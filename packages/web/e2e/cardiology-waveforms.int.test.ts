import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { buildEcg12Lead, buildHemodynamicWaveform, GENERAL_ECG_WAVEFORM_STORAGE } from '@atrium/dicom';
import { browserTestsSkipReason, clickEcgSample, keepScreenshot, launchChromium, startAtrium, stow, type RunningAtrium } from './support.js';

const skip = browserTestsSkipReason();
// A General ECG with two multiplex groups: the 12 leads over 10 s at 500 Hz, and three leads over 30 s at 250 Hz.
const ecg = buildEcg12Lead({
  sopClassUid: GENERAL_ECG_WAVEFORM_STORAGE,
  rhythmGroup: { leads: ['II', 'V1', 'V5'], samplingFrequency: 250, durationSeconds: 30 },
  patient: { patientName: 'CARDIO^GROUPS', patientId: 'CW-1' },
});
const hd = buildHemodynamicWaveform({ systolicMmHg: 132, diastolicMmHg: 76, patient: { patientName: 'CARDIO^HEMO', patientId: 'CW-2' } });

let atrium: RunningAtrium;
let browser: Browser;

before(async () => {
  if (skip) return;
  [atrium, browser] = await Promise.all([startAtrium(), launchChromium()]);
  await stow(atrium.url, [ecg, hd]);
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await atrium?.stop();
});

const newPage = (): Promise<Page> => browser.newPage({ viewport: { width: 1280, height: 900 } });

async function zoom5(page: Page): Promise<void> {
  await page.getByTestId('ecg-zoom').selectOption('5');
  await page.waitForFunction(() => document.querySelector<HTMLCanvasElement>('[data-testid=ecg-canvas]')?.dataset.pxPerMm === '20');
}

test('cardiology ecg groups - every multiplex group is decoded and drawn; the rhythm group at 250 Hz reads QT within one sample', { skip }, async () => {
  const page = await newPage();
  try {
    await page.goto(`${atrium.url}/cardio/${ecg.studyInstanceUid}`);
    const canvas = page.getByTestId('ecg-canvas');
    await canvas.waitFor();
    const groups = page.getByTestId('waveform-group');
    assert.equal(await groups.count(), 2);
    assert.match(await groups.nth(0).innerText(), /^RHYTHM · 12 ch · 500 Hz · 10\.0 s$/);
    assert.match(await groups.nth(1).innerText(), /^LONG RHYTHM · 3 ch · 250 Hz · 30\.0 s$/);
    assert.equal(await groups.nth(0).getAttribute('aria-pressed'), 'true');
    assert.equal(await canvas.getAttribute('data-sampling-frequency'), '500');
    assert.equal(await page.getByTestId('waveform-channel').count(), 12);

    await groups.nth(1).click();
    await page.waitForFunction(() => document.querySelector<HTMLCanvasElement>('[data-testid=ecg-canvas]')?.dataset.samplingFrequency === '250');
    assert.deepEqual(await page.getByTestId('waveform-channel').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.label)), ['II', 'V1', 'V5']);
    // One row per lead, 10 s per page of the 30 s.
    const rowHeight = Number(await canvas.getAttribute('data-row-height'));
    assert.equal(Number(await canvas.getAttribute('height')), Math.ceil(3 * rowHeight));
    assert.match(await page.getByTestId('waveform-page').innerText(), /0-10 s of 30 s/);
    await page.getByTestId('waveform-page-next').click();
    await page.waitForFunction(() => document.querySelector<HTMLCanvasElement>('[data-testid=ecg-canvas]')?.dataset.startSample === '2500');
    await keepScreenshot(page, 'cardiology-ecg-long-rhythm');

    // QT of the first beat on this page, on lead II (row 0), at 5x: 400 ms within one sample (4 ms at 250 Hz).
    await zoom5(page);
    const beat = ecg.groups[1]!.beats.find((b) => b.qrsOnset >= 2500)!;
    await clickEcgSample(page, 0, beat.qrsOnset);
    await clickEcgSample(page, 0, beat.tEnd);
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=ecg-caliper]')?.dataset.intervalMs !== '');
    const qtMs = Number(await page.getByTestId('ecg-caliper').getAttribute('data-interval-ms'));
    assert.ok(Math.abs(qtMs - 400) <= 4, `caliper ${qtMs} ms on the 250 Hz group, synthetic QT 400 ms`);
    assert.match(await page.getByTestId('ecg-annotations').innerText(), /120 fiducial markers in this group/);
  } finally {
    await page.close();
  }
});

test('cardiology hemodynamic - pressures on their own scale in mmHg; the readout and a caliper point give the synthetic systolic pressure', { skip }, async () => {
  const page = await newPage();
  try {
    // From the study page's Cardiology reading button (modality HD).
    await page.goto(`${atrium.url}/studies/${hd.studyInstanceUid}`);
    await page.getByTestId('study-open-cardiology').click();
    const canvas = page.getByTestId('ecg-canvas');
    await canvas.waitFor();
    assert.equal(await page.getByTestId('waveform-group').count(), 0, 'one group: no group buttons');
    const channels = await page.getByTestId('waveform-channel').evaluateAll((rows) => rows.map((r) => ({ ...(r as HTMLElement).dataset })));
    assert.deepEqual(channels.map((c) => [c.label, c.unit]), [['II', 'mV'], ['Art pressure', 'mmHg'], ['PA pressure', 'mmHg']]);
    const art = channels[1]!;
    assert.ok(Math.abs(Number(art.max) - 132) < 0.05, `highest arterial pressure ${art.max}`);
    assert.ok(Math.abs(Number(art.min) - 76) < 0.05, `lowest arterial pressure ${art.min}`);
    assert.match(await page.getByTestId('waveform-channels').innerText(), /Art pressure\s+mmHg\s+76\.0\s+132\.0/);
    assert.match(await page.getByTestId('ecg-annotations').innerText(), /Art pressure: Average systolic blood pressure: 132 mmHg/);
    await keepScreenshot(page, 'cardiology-hemodynamic');

    // A caliper point on the arterial row (row 1) at the first systolic peak reads the systolic pressure.
    await zoom5(page);
    const peak = hd.channels[1]!.peaks![0]!;
    await clickEcgSample(page, 1, peak);
    const caliper = page.getByTestId('ecg-caliper');
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=ecg-caliper]')?.dataset.valueA !== '');
    assert.equal(await caliper.getAttribute('data-unit-a'), 'mmHg');
    assert.ok(Math.abs(Number(await caliper.getAttribute('data-value-a')) - 132) < 0.05, await caliper.innerText());
    assert.match(await caliper.innerText(), /^132\.0 mmHg at \d+ ms/);
    // And the next peak: one RR (72 bpm) later, the same pressure.
    await clickEcgSample(page, 1, hd.channels[1]!.peaks![1]!);
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=ecg-caliper]')?.dataset.intervalMs !== '');
    const rr = Number(await caliper.getAttribute('data-interval-ms'));
    assert.ok(Math.abs(rr - 60000 / 72) <= 4, `RR ${rr} ms`);
    assert.ok(Math.abs(Number(await caliper.getAttribute('data-amplitude'))) < 0.05);
  } finally {
    await page.close();
  }
});
