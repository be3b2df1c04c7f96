import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { buildEcg12Lead, buildStressEcho, buildUltrasoundClip, buildXaRun } from '@atrium/dicom';
import { browserTestsSkipReason, clickEcgSample, keepScreenshot, launchChromium, startAtrium, stow, type RunningAtrium } from './support.js';

const skip = browserTestsSkipReason();
const echo = buildUltrasoundClip({ frames: 60, frameRate: 60, rows: 240, columns: 320, patient: { patientName: 'CARDIO^ECHO', patientId: 'CD-1' }, study: { accessionNumber: 'CARDIO-US' } });
const stress = buildStressEcho({ views: ['PLAX', 'A4C'], frames: 16, patient: { patientName: 'CARDIO^STRESS', patientId: 'CD-2' } });
const ecg = buildEcg12Lead({ patient: { patientName: 'CARDIO^ECG', patientId: 'CD-3' } });
// Four stages of one view at 75, 100, 150 and 90 bpm: cycles of 24, 18, 12 and 20 frames in 24-frame clips.
const stressRates = buildStressEcho({ views: ['A4C'], frames: 24, frameRate: 30, heartRates: [75, 100, 150, 90], patient: { patientName: 'CARDIO^RATES', patientId: 'CD-5' } });
const xa = buildXaRun({ frames: 4, rows: 256, columns: 256, patient: { patientName: 'CARDIO^XA', patientId: 'CD-4' } });

let atrium: RunningAtrium;
let browser: Browser;

before(async () => {
  if (skip) return;
  [atrium, browser] = await Promise.all([startAtrium(), launchChromium()]);
  await stow(atrium.url, [echo, ...stress.clips, ...stressRates.clips, ecg, xa]);
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await atrium?.stop();
});

/** ECG paper speed. */
const ECG_MM_PER_S = 25;

const newPage = (): Promise<Page> => browser.newPage({ viewport: { width: 1280, height: 900 } });

/** Drags on the measurement overlay between two image points (pixel column, row). */
async function measure(page: Page, a: { x: number; y: number }, b: { x: number; y: number }, columns: number, rows: number): Promise<string> {
  const box = (await page.getByTestId('measure-overlay').boundingBox())!;
  const at = (p: { x: number; y: number }) => [box.x + (p.x * box.width) / columns, box.y + (p.y * box.height) / rows] as const;
  await page.mouse.move(...at(a));
  await page.mouse.down();
  await page.mouse.move(...at(b), { steps: 4 });
  await page.mouse.up();
  return page.getByTestId('measurement').innerText();
}

test('cardiology cine - a 60 fps echo clip plays at 90 % of its rate and measures in the region units', { skip }, async () => {
  const page = await newPage();
  try {
    await page.goto(`${atrium.url}/cardio/${echo.studyInstanceUid}`);
    const canvas = page.locator('[data-testid=cine-player] canvas');
    await canvas.waitFor();
    assert.equal(await canvas.getAttribute('data-acquired-fps'), '60.00');
    // Frames arrive one request each; playback starts with the first.
    await page.waitForFunction(() => Number(document.querySelector<HTMLCanvasElement>('[data-testid=cine-player] canvas')?.dataset.loaded) === 60, undefined, { timeout: 60_000 });
    await page.waitForTimeout(2500);
    const fps = Number(await canvas.getAttribute('data-fps'));
    const status = await page.getByTestId('cine-status').innerText();
    await keepScreenshot(page, 'cardiology-cine');
    assert.ok(fps >= 54, `shown ${fps} fps of 60 acquired (${status})`);
    assert.match(status, /^playing \d+ fps of 60 acquired/);

    // Stop, step one frame.
    await page.getByTestId('cine-play').click();
    const before = Number(await canvas.getAttribute('data-frame'));
    await page.getByTestId('cine-next').click();
    await page.waitForFunction((f) => Number(document.querySelector<HTMLCanvasElement>('[data-testid=cine-player] canvas')?.dataset.frame) === (f + 1) % 60, before);

    // A vertical line of 140 pixels inside the sector region is 140 × Physical Delta Y cm.
    const text = await measure(page, { x: 160, y: 60 }, { x: 160, y: 200 }, echo.columns, echo.rows);
    const value = Number(await page.getByTestId('measurement').getAttribute('data-value'));
    const expected = 140 * echo.region.physicalDeltaY;
    assert.ok(Math.abs(value - expected) / expected < 0.01, `${value} cm measured, ${expected} cm expected`);
    assert.match(text, / cm$/);
    const refused = await measure(page, { x: 5, y: 5 }, { x: 160, y: 100 }, echo.columns, echo.rows);
    assert.match(refused, /Cannot measure: the line leaves the calibrated ultrasound regions/);

    // An area traced by clicks: a 100 x 50 pixel rectangle in the sector.
    await page.getByTestId('measure-mode').selectOption('area');
    const box = (await page.getByTestId('measure-overlay').boundingBox())!;
    for (const [x, y] of [[110, 80], [210, 80], [210, 130], [110, 130]] as const) {
      await page.mouse.click(box.x + (x * box.width) / echo.columns, box.y + (y * box.height) / echo.rows);
    }
    const area = Number(await page.getByTestId('measurement').getAttribute('data-value'));
    const expectedArea = 5000 * echo.region.physicalDeltaX * echo.region.physicalDeltaY;
    assert.ok(Math.abs(area - expectedArea) / expectedArea < 0.01, `${area} cm² measured, ${expectedArea} expected`);
  } finally {
    await page.close();
  }
});

test('cardiology ecg - the caliper reads the synthetic QT interval within one sample', { skip }, async () => {
  const page = await newPage();
  try {
    // From the study page's Cardiology reading button.
    await page.goto(`${atrium.url}/studies/${ecg.studyInstanceUid}`);
    await page.getByTestId('study-open-cardiology').click();
    await page.waitForURL(`${atrium.url}/cardio/${ecg.studyInstanceUid}`);
    await page.getByTestId('ecg-canvas').waitFor();
    assert.match(await page.getByTestId('ecg-annotations').innerText(), /QT duration, global: 400 ms/);
    await keepScreenshot(page, 'cardiology-ecg');
    await page.getByTestId('ecg-zoom').selectOption('5');
    await page.waitForFunction(() => document.querySelector<HTMLCanvasElement>('[data-testid=ecg-canvas]')?.dataset.pxPerMm === '20');
    const beat = ecg.beats[0]!;
    // On the lead II rhythm strip (row 4 of the 3x4 layout, from sample 0).
    await clickEcgSample(page, 3, beat.qrsOnset);
    await clickEcgSample(page, 3, beat.tEnd);
    const reading = page.getByTestId('ecg-caliper');
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=ecg-caliper]')?.dataset.intervalMs !== '');
    const qtMs = Number(await reading.getAttribute('data-interval-ms'));
    const expected = (ecg.intervalsInSamples.qt * 1000) / ecg.samplingFrequency;
    assert.ok(Math.abs(qtMs - expected) <= 1000 / ecg.samplingFrequency, `caliper ${qtMs} ms, synthetic QT ${expected} ms`);
    assert.match(await reading.innerText(), /ms · -?\d+\.\d\d mV/);
  } finally {
    await page.close();
  }
});

/** Page scroll and where an element is, in the window. */
async function geometry(page: Page, selector: string) {
  return page.evaluate((sel) => {
    const r = document.querySelector(sel)!.getBoundingClientRect();
    const d = document.documentElement;
    return { scrolls: d.scrollHeight > innerHeight || d.scrollWidth > innerWidth, innerWidth, innerHeight, top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height };
  }, selector);
}

test('cardiology ecg - at 1400x900 and 1920x1080 the 3x4 page, rhythm strip and caliper readout fit without page scroll, calibrated at the fitted scale', { skip }, async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  try {
    await page.goto(`${atrium.url}/cardio/${ecg.studyInstanceUid}`);
    await page.getByTestId('ecg-canvas').waitFor();
    for (const viewport of [{ width: 1400, height: 900 }, { width: 1920, height: 1080 }]) {
      await page.setViewportSize(viewport);
      // The layout follows the window over a few frames (resize, then the stage's size); wait for it to settle
      // (a failure shows in the assertions below), then check 10 s at 25 mm/s by 4 rows of 30 mm.
      await page
        .waitForFunction(
          (width) => {
            const c = document.querySelector<HTMLCanvasElement>('[data-testid=ecg-canvas]')!;
            const box = c.parentElement!;
            const d = document.documentElement;
            return innerWidth === width && box.scrollWidth <= box.clientWidth && box.scrollHeight <= box.clientHeight && d.scrollHeight <= innerHeight && c.width === Math.ceil(250 * Number(c.dataset.pxPerMm));
          },
          viewport.width,
          { timeout: 5000 },
        )
        .catch(() => undefined);
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
      assert.equal(await page.getByTestId('ecg-canvas').getAttribute('data-zoom'), 'fit');
      const pxPerMm = Number(await page.getByTestId('ecg-canvas').getAttribute('data-px-per-mm'));
      const canvas = await geometry(page, '[data-testid=ecg-canvas]');
      const readout = await geometry(page, '[data-testid=ecg-caliper]');
      const at = `${viewport.width}x${viewport.height}: ${JSON.stringify({ pxPerMm, canvas, readout })}`;
      assert.equal(canvas.scrolls, false, `the page scrolls at ${at}`);
      assert.ok(canvas.top >= 0 && canvas.left >= 0 && canvas.bottom <= canvas.innerHeight && canvas.right <= canvas.innerWidth, `the waveform leaves the window at ${at}`);
      assert.ok(readout.top >= 0 && readout.bottom <= canvas.top && readout.height > 0, `the caliper readout is not on screen above the waveform at ${at}`);
      // Not scaled by CSS, so data-px-per-mm is screen pixels per paper mm; no larger than needed to fit, and
      // larger than the former fixed 4 px/mm at both sizes.
      assert.ok(Math.abs(canvas.width - 250 * pxPerMm) <= 1 && Math.abs(canvas.height - 120 * pxPerMm) <= 1, at);
      assert.ok(pxPerMm > 4, at);
      assert.equal(await page.getByTestId('ecg-canvas').evaluate((c) => c.parentElement!.scrollWidth <= c.parentElement!.clientWidth && c.parentElement!.scrollHeight <= c.parentElement!.clientHeight), true, `the whole page is in its box at ${at}`);
    }

    // At the fitted scale of 1920x1080: a caliper from the first to the last QRS onset of the rhythm strip
    // (about 8 s) reads within two screen pixels of paper, so a scale off by 1 % would fail (80 ms).
    const pxPerMm = Number(await page.getByTestId('ecg-canvas').getAttribute('data-px-per-mm'));
    const first = ecg.beats[0]!;
    const last = ecg.beats.at(-1)!;
    await clickEcgSample(page, 3, first.qrsOnset);
    await clickEcgSample(page, 3, last.qrsOnset);
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=ecg-caliper]')?.dataset.intervalMs !== '');
    const ms = Number(await page.getByTestId('ecg-caliper').getAttribute('data-interval-ms'));
    const expected = ((last.qrsOnset - first.qrsOnset) * 1000) / ecg.samplingFrequency;
    const pixelMs = 1000 / (ECG_MM_PER_S * pxPerMm);
    assert.ok(Math.abs(ms - expected) <= 2 * pixelMs, `caliper ${ms} ms, expected ${expected} ms (one pixel is ${pixelMs.toFixed(1)} ms at ${pxPerMm} px/mm)`);
    // 10 mm/mV at the fitted scale: the highest point drawn on the lead II rhythm strip is lead II's highest value.
    const leadIIMax = Number(await page.locator('[data-testid=waveform-channel][data-label="II"]').getAttribute('data-max'));
    const drawnMv = await page.getByTestId('ecg-canvas').evaluate((c, px) => {
      const canvas = c as HTMLCanvasElement;
      const rowHeight = Number(canvas.dataset.rowHeight);
      const top = Math.floor(3 * rowHeight);
      // From 20 mm on, past the lead label.
      const x0 = Math.ceil(20 * px);
      const image = canvas.getContext('2d')!.getImageData(x0, top, canvas.width - x0, Math.floor(rowHeight / 2));
      for (let y = 0; y < image.height; y++) {
        for (let x = 0; x < image.width; x++) {
          const i = (y * image.width + x) * 4;
          if (image.data[i]! < 100 && image.data[i + 1]! < 100 && image.data[i + 2]! < 100) return (3.5 * rowHeight - (top + y)) / (10 * px);
        }
      }
      return Number.NaN;
    }, pxPerMm);
    assert.ok(Math.abs(drawnMv - leadIIMax) <= 2 / (10 * pxPerMm) + 0.02, `drawn ${drawnMv} mV high, lead II highest ${leadIIMax} mV at ${pxPerMm} px/mm`);
    await keepScreenshot(page, 'cardiology-ecg-fit-1920');

    // Zoomed in, the waveform scrolls inside its box; the page still does not.
    await page.getByTestId('ecg-zoom').selectOption('5');
    await page.waitForFunction(() => document.querySelector<HTMLCanvasElement>('[data-testid=ecg-canvas]')?.dataset.pxPerMm === '20');
    assert.equal((await geometry(page, '[data-testid=ecg-caliper]')).scrolls, false, 'the page scrolls at 5x');
  } finally {
    await page.close();
  }
});

test('cardiology stress - the quad fills its width with four clips, aspect kept, labelled, without page scroll', { skip }, async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  try {
    await page.goto(`${atrium.url}/cardio/${stress.studyInstanceUid}/stress`);
    await page.locator('[data-testid=stress-cell] canvas').nth(3).waitFor();
    const stages = [...new Map(stress.clips.map((c) => [c.stageNumber, c.stage])).entries()].sort((a, b) => a[0] - b[0]).map(([, name]) => name);
    for (const viewport of [{ width: 1400, height: 900 }, { width: 1920, height: 1080 }]) {
      await page.setViewportSize(viewport);
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
      const quad = await geometry(page, '[data-testid=stress-quad]');
      const main = await geometry(page, '.cardio-main');
      const cells = await page.locator('[data-testid=stress-cell]').evaluateAll((figures) =>
        figures.map((f) => {
          const canvas = f.querySelector('canvas')!;
          const r = canvas.getBoundingClientRect();
          const caption = f.querySelector('figcaption')!.getBoundingClientRect();
          return { left: r.left, right: r.right, width: r.width, height: r.height, aspect: canvas.width / canvas.height, captionBottom: caption.bottom, label: (f as HTMLElement).innerText };
        }),
      );
      const at = `${viewport.width}x${viewport.height}: ${JSON.stringify({ quad, cells })}`;
      assert.equal(quad.scrolls, false, `the page scrolls at ${at}`);
      assert.equal(cells.length, 4);
      // Two clips side by side cover at least 90 % of the grid's width: no gap between the columns.
      for (const row of [cells.slice(0, 2), cells.slice(2)]) {
        assert.ok(row[0]!.width + row[1]!.width >= 0.9 * quad.width, `a row of clips covers ${row[0]!.width + row[1]!.width} of ${quad.width} px at ${at}`);
      }
      // The image's columns / rows (the canvas is the image matrix).
      for (const c of cells) assert.ok(Math.abs(c.width / c.height - c.aspect) < 0.02, `aspect ${c.width}x${c.height} at ${at}`);
      // The grid uses the room: as wide as the column, or as high as the window.
      assert.ok(quad.width >= 0.9 * main.width || cells[3]!.captionBottom >= quad.innerHeight - 80, `the quad leaves room unused at ${at}`);
      assert.ok(cells[3]!.captionBottom <= quad.innerHeight, at);
      assert.deepEqual(cells.map((c) => c.label.split(' · ')[0]), stages);
    }
    await keepScreenshot(page, 'cardiology-stress-fill-1920');
  } finally {
    await page.close();
  }
});

test('cardiology stress - the quad view plays its four stages in step, aligned on the R wave', { skip }, async () => {
  const page = await newPage();
  try {
    await page.goto(`${atrium.url}/cardio/${stress.studyInstanceUid}`);
    await page.getByTestId('stress-link').click();
    const cells = page.locator('[data-testid=stress-cell] canvas');
    await cells.nth(3).waitFor();
    assert.equal(await cells.count(), 4);
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLCanvasElement>('[data-testid=stress-cell] canvas')].every((c) => c.dataset.loaded === '16'), undefined, { timeout: 60_000 });
    const phases: number[][] = [];
    for (let i = 0; i < 4; i++) {
      await page.waitForTimeout(170);
      // Read in one task: every player paints in the same animation frame.
      phases.push(await page.evaluate(() => [...document.querySelectorAll<HTMLCanvasElement>('[data-testid=stress-cell] canvas')].map((c) => c.getContext('2d')!.getImageData(2, 0, 1, 1).data[0]! / 4)));
    }
    await keepScreenshot(page, 'cardiology-stress');
    for (const row of phases) assert.ok(Math.max(...row) - Math.min(...row) <= 1, `phases ${JSON.stringify(phases)}`);
    assert.ok(new Set(phases.map((row) => row[0])).size > 1, `the clips advance: ${JSON.stringify(phases)}`);
  } finally {
    await page.close();
  }
});

test('cardiology stress - stages at different heart rates stay in step loop after loop with the same cycle length, and drift without', { skip }, async () => {
  const page = await newPage();
  try {
    await page.goto(`${atrium.url}/cardio/${stressRates.studyInstanceUid}/stress`);
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLCanvasElement>('[data-testid=stress-cell] canvas')].filter((c) => c.dataset.loaded === '24').length === 4, undefined, { timeout: 60_000 });
    assert.equal(await page.getByTestId('stress-sync').innerText(), 'aligned on the first R wave');
    // The marker is 4 × 24 × the fraction of the cycle since the last R wave; compare fractions on a circle.
    const spread = async (): Promise<number> => {
      const fractions = await page.evaluate(() =>
        [...document.querySelectorAll<HTMLCanvasElement>('[data-testid=stress-cell] canvas')].map((c) => c.getContext('2d')!.getImageData(2, 0, 1, 1).data[0]! / 96),
      );
      let worst = 0;
      for (const a of fractions) for (const b of fractions) worst = Math.max(worst, Math.min(Math.abs(a - b), 1 - Math.abs(a - b)));
      return worst;
    };
    // Over three rest cycles (800 ms each): within two frames of the fastest cycle (2/12).
    const inStep: number[] = [];
    for (let i = 0; i < 14; i++) {
      await page.waitForTimeout(170);
      inStep.push(await spread());
    }
    assert.ok(Math.max(...inStep) <= 0.17, `spread of cycle fractions ${inStep.map((x) => x.toFixed(2)).join(' ')}`);
    await keepScreenshot(page, 'cardiology-stress-rates');

    // At the acquired rates the peak (400 ms cycle) runs ahead of rest (800 ms): out of step most of the time.
    await page.getByTestId('stress-same-cycle').uncheck();
    const drifting: number[] = [];
    for (let i = 0; i < 10; i++) {
      await page.waitForTimeout(170);
      drifting.push(await spread());
    }
    assert.ok(Math.max(...drifting) > 0.25, `spread without the same cycle length ${drifting.map((x) => x.toFixed(2)).join(' ')}`);
  } finally {
    await page.close();
  }
});

test('cardiology echo layout - thumbnails in acquisition order loop their clips at a reduced rate, paused off screen', { skip }, async () => {
  const page = await newPage();
  try {
    await page.goto(`${atrium.url}/cardio/${stress.studyInstanceUid}`);
    const thumbs = page.getByTestId('cardio-thumb');
    await thumbs.nth(stress.clips.length - 1).waitFor();
    // Acquisition order: the builder acquires stage by stage, view by view.
    const expected = [...stress.clips].sort((a, b) => a.stageNumber - b.stageNumber || a.viewNumber - b.viewNumber).map((c) => `US ${c.stage} ${c.view}`);
    const titles = await thumbs.evaluateAll((links) => links.map((a) => (a as HTMLElement).innerText.replace(/ · .*$/s, '').trim()));
    assert.deepEqual(titles, expected);

    const cines = page.locator('[data-testid=cardio-thumb-cine]');
    const first = cines.first();
    const last = cines.last();
    const data = (locator: typeof first) => locator.evaluate((c) => ({ ...(c as HTMLCanvasElement).dataset }));
    // 16 frames at 30 fps: every second frame, 15 fps.
    assert.equal((await data(first)).frames, '8');
    await page.waitForFunction(() => document.querySelector<HTMLCanvasElement>('[data-testid=cardio-thumb-cine]')?.dataset.loaded === '8', undefined, { timeout: 30_000 });
    const seen = new Set<string>();
    const paintsBefore = Number((await data(first)).paints);
    const t0 = Date.now();
    for (let i = 0; i < 12; i++) {
      seen.add((await data(first)).frame!);
      await page.waitForTimeout(100);
    }
    const paintsPerSecond = ((Number((await data(first)).paints) - paintsBefore) * 1000) / (Date.now() - t0);
    assert.ok(seen.size >= 4, `the first thumbnail showed frames ${[...seen].join(', ')}`);
    assert.ok(paintsPerSecond <= 16, `${paintsPerSecond.toFixed(1)} paints/s for a 15 fps preview`);

    // The list is taller than the window: the last thumbnail is scrolled out of view and neither loads nor plays.
    assert.deepEqual([(await data(last)).playing, (await data(last)).loaded], ['false', undefined]);
    await page.getByTestId('cardio-thumbs').evaluate((list) => (list.scrollTop = list.scrollHeight));
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLCanvasElement>('[data-testid=cardio-thumb-cine]')].at(-1)?.dataset.playing === 'true');
    await page.waitForFunction(() => document.querySelector<HTMLCanvasElement>('[data-testid=cardio-thumb-cine]')?.dataset.playing === 'false');
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLCanvasElement>('[data-testid=cardio-thumb-cine]')].at(-1)?.dataset.loaded === '8', undefined, { timeout: 30_000 });
    const lastSeen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      lastSeen.add((await data(last)).frame!);
      await page.waitForTimeout(100);
    }
    assert.ok(lastSeen.size >= 4, `the last thumbnail showed frames ${[...lastSeen].join(', ')}`);
    const paused = Number((await data(first)).paints);
    await page.waitForTimeout(300);
    assert.equal(Number((await data(first)).paints), paused, 'a thumbnail off screen does not paint');
    await keepScreenshot(page, 'cardiology-echo-layout');
  } finally {
    await page.close();
  }
});

test('cardiology xa - distances at the isocentre, and a user calibration on the catheter', { skip }, async () => {
  const page = await newPage();
  try {
    await page.goto(`${atrium.url}/cardio/${xa.studyInstanceUid}`);
    await page.getByTestId('measure-overlay').waitFor();
    await measure(page, { x: 40, y: xa.catheterTop }, { x: 40, y: xa.catheterTop + 100 }, 256, 256);
    const value = Number(await page.getByTestId('measurement').getAttribute('data-value'));
    assert.ok(Math.abs(value - 100 * xa.isocentreSpacing) < 0.01 * 100 * xa.isocentreSpacing, `${value} mm`);
    await page.getByTestId('known-mm').fill('30');
    await page.getByTestId('calibrate').click();
    assert.match(await page.getByTestId('measurement').innerText(), /^30\.0 mm$/);
  } finally {
    await page.close();
  }
});
