// npm run bench:web [-- --runs N]
// Time from clicking a study in the worklist to its first frame painted, in Atrium's viewer and in OHIF, for a
// 500-image CT series and a 100-frame ultrasound clip, on a fresh Atrium (own ports, temporary data) driven by
// Debian's Chromium. Each run uses a new browser context (empty HTTP cache, no service worker). Results go to
// stdout and bench-results/web.md.
// Cardiology part: a 100-frame echo clip acquired at 60 fps, time to first frame and time until it plays at full
// rate (at least 90 % of 60 fps shown over one second) in Atrium's cardiology view and in OHIF's cine.
// `--only-cardio` skips the CT and worklist part.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildCtSeries, buildUltrasoundClip } from '@atrium/dicom';
import { browserTestsSkipReason, decodePng, launchChromium, pixelStats, startAtrium, stow } from '../e2e/support.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, 'ct-slices': { type: 'string', default: '500' }, 'us-frames': { type: 'string', default: '100' }, 'only-cardio': { type: 'boolean', default: false } } });
const runs = Math.max(1, Number(values.runs));
const ctSlices = Number(values['ct-slices']);
const usFrames = Number(values['us-frames']);

const skip = browserTestsSkipReason({ ohif: true });
if (skip) {
  console.error(`Cannot run the web benchmark: ${skip}`);
  process.exit(1);
}

const repoRoot = new URL('../../../', import.meta.url).pathname;
const atrium = await startAtrium();
const browser = await launchChromium();
try {
  console.log(`Atrium at ${atrium.url}; storing a ${values['only-cardio'] ? 1 : ctSlices}-image CT series and a ${usFrames}-frame ultrasound clip`);
  const loadStarted = performance.now();
  const ct = buildCtSeries({ slices: values['only-cardio'] ? 1 : ctSlices, patient: { patientName: 'BENCH^CT', patientId: 'BENCH-CT' }, study: { accessionNumber: 'BENCH-CT' } });
  await stow(atrium.url, ct.instances, 25);
  const clip = buildUltrasoundClip({ frames: usFrames, patient: { patientName: 'BENCH^US', patientId: 'BENCH-US' }, study: { accessionNumber: 'BENCH-US' } });
  await stow(atrium.url, [clip], 1);
  console.log(`Stored in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s`);

  const datasets = [
    { name: `CT, ${ctSlices} images of 512x512`, accession: 'BENCH-CT' },
    { name: `US clip, ${usFrames} frames of 480x640`, accession: 'BENCH-US' },
  ];
  const viewers = [
    { name: "Atrium's viewer", link: 'open-viewer' },
    { name: 'OHIF 3.13.2', link: 'open-ohif' },
  ] as const;
  const rows: { dataset: string; viewer: string; times: number[] }[] = [];
  for (const dataset of values['only-cardio'] ? [] : datasets) {
    for (const viewer of viewers) {
      const times: number[] = [];
      for (let run = 0; run < runs; run++) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        const page = await context.newPage();
        // Wall-clock time of the first Cornerstone draw, one animation frame later (when it is on screen). The
        // event does not bubble; a capture listener on the window sees it on any viewport element, in either app.
        await page.addInitScript(() => {
          const w = window as unknown as { __firstFrameAt?: number };
          window.addEventListener(
            'CORNERSTONE_IMAGE_RENDERED',
            () => {
              if (w.__firstFrameAt === undefined) requestAnimationFrame(() => (w.__firstFrameAt ??= Date.now()));
            },
            true,
          );
        });
        await page.goto(`${atrium.url}/?accessionNumber=${dataset.accession}`);
        const link = page.locator('[data-testid=study-row]').first().getByTestId(viewer.link);
        await link.waitFor();
        const clickedAt = Date.now();
        await link.click();
        await page.waitForFunction(() => (window as unknown as { __firstFrameAt?: number }).__firstFrameAt !== undefined, undefined, { timeout: 300_000, polling: 10 });
        const firstFrameAt = await page.evaluate(() => (window as unknown as { __firstFrameAt: number }).__firstFrameAt);
        // Not timed: prove that what was drawn is an image, not an empty canvas.
        const canvas = page.locator('[data-testid=viewport] canvas, .cornerstone-viewport-element canvas').first();
        const stats = pixelStats(decodePng(await canvas.screenshot()));
        if (stats.distinctLevels < 10) throw new Error(`${viewer.name} drew no image of ${dataset.name}: ${JSON.stringify(stats)}`);
        times.push(firstFrameAt - clickedAt);
        await context.close();
        console.log(`${dataset.name} | ${viewer.name} | run ${run + 1}: ${firstFrameAt - clickedAt} ms`);
      }
      rows.push({ dataset: dataset.name, viewer: viewer.name, times });
    }
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const table = [
    '| data | viewer | median ms | runs (ms) |',
    '| --- | --- | ---: | --- |',
    ...rows.map((r) => `| ${r.dataset} | ${r.viewer} | ${median(r.times)} | ${r.times.join(', ')} |`),
  ].join('\n');
  const cardio = await benchCardiology();
  const report = `# Web viewer benchmark

Time from clicking a study in Atrium's worklist to the first frame painted (Cornerstone's IMAGE_RENDERED plus one
animation frame), each run in a fresh browser context (cold HTTP cache). Chromium ${browser.version()} headless
with SwiftShader WebGL (no GPU), ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GB RAM,
Atrium and the browser on the same machine over loopback. Command: \`npm run bench:web -- --runs ${runs}\`.

${table}

## Cardiology: a ${usFrames}-frame echo clip acquired at 60 fps (480x640)

Time from opening the view to the first frame painted, and until the clip plays at full rate (at least 54 of 60
frames per second actually painted over a whole second). Atrium: \`/cardio/<study>\`, which plays by itself, with
frames fetched one request each and decoded in workers. OHIF: its viewer on the study, then the play button of its
cine bar; painted frames counted from Cornerstone's IMAGE_RENDERED events.

${cardio}
`;
  console.log(`\n${table}\n\n${cardio}`);
  mkdirSync(join(repoRoot, 'bench-results'), { recursive: true });
  writeFileSync(join(repoRoot, 'bench-results', 'web.md'), report);
  console.log(`\nWritten to bench-results/web.md`);
} finally {
  await browser.close();
  await atrium.stop();
}

async function benchCardiology(): Promise<string> {
  const clip = buildUltrasoundClip({ frames: usFrames, frameRate: 60, seed: 60, patient: { patientName: 'BENCH^ECHO', patientId: 'BENCH-ECHO' }, study: { accessionNumber: 'BENCH-ECHO' } });
  await stow(atrium.url, [clip], 1);
  const lines: string[] = ['| viewer | first frame ms (median) | full rate ms (median) | runs: first / full rate (ms) |', '| --- | ---: | ---: | --- |'];
  for (const viewer of ['atrium', 'ohif'] as const) {
    const results: { first: number; full: number | undefined; best: number }[] = [];
    for (let run = 0; run < runs; run++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.addInitScript(() => {
        const w = window as unknown as { __paints: number[] };
        w.__paints = [];
        window.addEventListener('CORNERSTONE_IMAGE_RENDERED', () => w.__paints.push(performance.now()), true);
      });
      const started = Date.now();
      let first: number;
      if (viewer === 'atrium') {
        await page.goto(`${atrium.url}/cardio/${clip.studyInstanceUid}`);
        await page.waitForFunction(() => document.querySelector<HTMLCanvasElement>('[data-testid=cine-player] canvas')?.dataset.frame !== undefined, undefined, { timeout: 120_000, polling: 10 });
        first = Date.now() - started;
      } else {
        await page.goto(`${atrium.url}/ohif/viewer?StudyInstanceUIDs=${clip.studyInstanceUid}`);
        await page.waitForFunction(() => (window as unknown as { __paints: number[] }).__paints.length > 0, undefined, { timeout: 120_000, polling: 10 });
        first = Date.now() - started;
        // OHIF opens its cine bar on a multi-frame clip but does not play: press its play button.
        await page.locator('[data-cy="cine-player-play-pause"]').first().click({ timeout: 20_000 });
      }
      // Poll the shown rate for up to 30 s after the first frame.
      let full: number | undefined;
      let best = 0;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const fps = await page.evaluate((which) => {
          // A rate counts only over (nearly) a whole second of paints.
          if (which === 'atrium') {
            const data = document.querySelector<HTMLCanvasElement>('[data-testid=cine-player] canvas')?.dataset;
            return Number(data?.fpsSpan ?? 0) >= 900 ? Number(data?.fps ?? 0) : 0;
          }
          const paints = (window as unknown as { __paints: number[] }).__paints;
          const now = performance.now();
          const recent = paints.filter((t) => t > now - 1000);
          const span = recent.length >= 2 ? recent[recent.length - 1]! - recent[0]! : 0;
          return span >= 900 ? ((recent.length - 1) * 1000) / span : 0;
        }, viewer);
        best = Math.max(best, fps);
        if (fps >= 54) {
          full = Date.now() - started;
          break;
        }
        await page.waitForTimeout(100);
      }
      results.push({ first, full, best });
      console.log(`Echo clip 60 fps | ${viewer} | run ${run + 1}: first frame ${first} ms, full rate ${full ?? `not reached in 30 s (best ${best.toFixed(1)} fps)`}`);
      await context.close();
    }
    const median = (xs: number[]) => (xs.length ? String([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]) : 'never');
    const fulls = results.flatMap((r) => (r.full === undefined ? [] : [r.full]));
    lines.push(
      `| ${viewer === 'atrium' ? "Atrium's cardiology view" : 'OHIF 3.13.2 cine'} | ${median(results.map((r) => r.first))} | ${fulls.length === results.length ? median(fulls) : `never (best ${Math.max(...results.map((r) => r.best)).toFixed(1)} fps)`} | ${results.map((r) => `${r.first} / ${r.full ?? 'never'}`).join(', ')} |`,
    );
  }
  return lines.join('\n');
}
