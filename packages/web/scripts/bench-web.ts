// npm run bench:web [-- --runs N]
// Time from clicking a study in the worklist to its first frame painted, in Atrium's viewer and in OHIF, for a
// 500-image CT series and a 100-frame ultrasound clip, on a fresh Atrium (own ports, temporary data) driven by
// Debian's Chromium. Each run uses a new browser context (empty HTTP cache, no service worker). Results go to
// stdout and bench-results/web.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildCtSeries, buildUltrasoundClip } from '@atrium/dicom';
import { browserTestsSkipReason, decodePng, launchChromium, pixelStats, startAtrium, stow } from '../e2e/support.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, 'ct-slices': { type: 'string', default: '500' }, 'us-frames': { type: 'string', default: '100' } } });
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
  console.log(`Atrium at ${atrium.url}; storing a ${ctSlices}-image CT series and a ${usFrames}-frame ultrasound clip`);
  const loadStarted = performance.now();
  const ct = buildCtSeries({ slices: ctSlices, patient: { patientName: 'BENCH^CT', patientId: 'BENCH-CT' }, study: { accessionNumber: 'BENCH-CT' } });
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
  for (const dataset of datasets) {
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
  const report = `# Web viewer benchmark

Time from clicking a study in Atrium's worklist to the first frame painted (Cornerstone's IMAGE_RENDERED plus one
animation frame), each run in a fresh browser context (cold HTTP cache). Chromium ${browser.version()} headless
with SwiftShader WebGL (no GPU), ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GB RAM,
Atrium and the browser on the same machine over loopback. Command: \`npm run bench:web -- --runs ${runs}\`.

${table}
`;
  console.log(`\n${table}`);
  mkdirSync(join(repoRoot, 'bench-results'), { recursive: true });
  writeFileSync(join(repoRoot, 'bench-results', 'web.md'), report);
  console.log(`\nWritten to bench-results/web.md`);
} finally {
  await browser.close();
  await atrium.stop();
}
