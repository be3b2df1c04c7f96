import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildDemoStudies } from '@atrium/dicom';
import { browserTestsSkipReason, keepScreenshot, launchChromium, startAtrium, type RunningAtrium } from './support.js';

const skip = browserTestsSkipReason();
const repoRoot = new URL('../../../', import.meta.url).pathname;
const demo = buildDemoStudies();

let atrium: RunningAtrium;
let browser: Browser;
let demoOutput = '';
let dataDir = '';

before(async () => {
  if (skip) return;
  dataDir = mkdtempSync(join(tmpdir(), 'atrium-e2e-demo-'));
  // What a newcomer runs: `atrium demo` into the data directory, then Atrium on it.
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', 'packages/server/src/cli.ts', 'demo'], {
    cwd: repoRoot,
    env: { ...process.env, ATRIUM_DATA_DIR: dataDir, ATRIUM_LOG_LEVEL: 'warn', ATRIUM_DURABILITY: 'process-crash' },
    encoding: 'utf8',
  });
  demoOutput = `${run.stdout}${run.stderr}`;
  assert.equal(run.status, 0, demoOutput);
  [atrium, browser] = await Promise.all([startAtrium({ ATRIUM_DATA_DIR: dataDir }), launchChromium()]);
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await atrium?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const newPage = (): Promise<Page> => browser.newPage({ viewport: { width: 1280, height: 900 } });

/** Opens a study page and follows its Cardiology reading button. */
async function openCardiology(page: Page, studyInstanceUid: string): Promise<void> {
  await page.goto(`${atrium.url}/studies/${studyInstanceUid}`);
  await page.getByTestId('study-open-cardiology').click();
  await page.waitForURL(`${atrium.url}/cardio/${studyInstanceUid}`);
}

const loaded = (page: Page, selector: string, atLeast: number) =>
  page.waitForFunction(
    ([selector, atLeast]) => [...document.querySelectorAll<HTMLCanvasElement>(selector)].filter((c) => Number(c.dataset.loaded) >= atLeast).length > 0,
    [selector, atLeast] as const,
    { timeout: 60_000 },
  );

test('cardiology demo - after `atrium demo`, every cardiology view has a study to open', { skip }, async () => {
  assert.match(demoOutput, /Echo clip, 60 frames \(Demo\^Cardio\): 1 instances 1 stored/);
  assert.match(demoOutput, /Stress echo, 4 stages x 4 views \(Demo\^Stress\): 16 instances 16 stored/);
  assert.match(demoOutput, /XA run and hemodynamic waveform \(Demo\^Cath\): 2 instances 2 stored/);
  const page = await newPage();
  try {
    // Echo: the clip plays, its thumbnail loops.
    await openCardiology(page, demo.echo.studyInstanceUid);
    await loaded(page, '[data-testid=cine-player] canvas', 2);
    await loaded(page, '[data-testid=cardio-thumb-cine]', 2);

    // ECG: both multiplex groups offered.
    await openCardiology(page, demo.ecg.studyInstanceUid);
    await page.getByTestId('ecg-canvas').waitFor();
    assert.equal(await page.getByTestId('waveform-group').count(), 2);

    // Stress echo: four views, the quad of four stages.
    await openCardiology(page, demo.stressEcho.studyInstanceUid);
    await page.getByTestId('stress-link').click();
    assert.equal(await page.getByTestId('stress-view').count(), 4);
    assert.equal(await page.locator('[data-testid=stress-cell] canvas').count(), 4);
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLCanvasElement>('[data-testid=stress-cell] canvas')].every((c) => Number(c.dataset.loaded) > 0), undefined, { timeout: 60_000 });
    await keepScreenshot(page, 'cardiology-demo-stress');

    // Catheterization: the XA run plays; its hemodynamic waveform is beside it, in mmHg.
    await openCardiology(page, demo.xa.studyInstanceUid);
    await loaded(page, '[data-testid=cine-player] canvas', 2);
    const thumbs = page.getByTestId('cardio-thumb');
    assert.deepEqual(await thumbs.evaluateAll((links) => links.map((a) => (a as HTMLElement).dataset.kind)).then((k) => k.sort()), ['cine', 'waveform']);
    await page.locator('[data-testid=cardio-thumb][data-kind=waveform]').click();
    await page.getByTestId('ecg-canvas').waitFor();
    const art = page.locator('[data-testid=waveform-channel][data-label="Art pressure"]');
    assert.equal(await art.getAttribute('data-unit'), 'mmHg');
    assert.ok(Math.abs(Number(await art.getAttribute('data-max')) - 120) < 0.05);
    await keepScreenshot(page, 'cardiology-demo-hemodynamic');
  } finally {
    await page.close();
  }
});
