import assert from 'node:assert/strict';
import { test } from 'node:test';
import { synthesizeBytes } from './multiframe.js';
import { buildStressEcho, PHASE_MARKER_WIDTH } from './stress-echo.js';
import { readWithDcmjs } from './test-support.js';
import { buildXaRun, XA_IMAGE_STORAGE } from './xa-run.js';

test('buildStressEcho - one clip per stage and view with Stage, View and R Wave Pointer', async () => {
  const set = buildStressEcho({ stages: ['REST', 'PEAK'], views: ['PLAX', 'A4C'], frames: 8, rows: 16, columns: 16 });
  assert.equal(set.clips.length, 4);
  assert.equal(new Set(set.clips.map((c) => c.sopInstanceUid)).size, 4);
  assert.equal(new Set(set.clips.map((c) => c.seriesInstanceUid)).size, 2);
  assert.ok(set.clips.every((c) => c.studyInstanceUid === set.studyInstanceUid));
  const peakA4c = set.clips.find((c) => c.stage === 'PEAK' && c.view === 'A4C')!;
  const bytes = await synthesizeBytes(peakA4c);
  const { dict } = await readWithDcmjs(bytes);
  assert.equal(dict['00082120']!.Value![0], 'PEAK');
  assert.equal(Number(dict['00082122']!.Value![0]), 2);
  assert.equal(dict['00082127']!.Value![0], 'A4C');
  assert.equal(dict['00286040']!.Value![0], peakA4c.rWaveFrame);
  // The frame at the R wave carries phase 0 in its marker; the next carries 4.
  const frameBytes = 16 * 16;
  const pixelStart = bytes.byteLength - 8 * frameBytes;
  assert.equal(bytes[pixelStart + (peakA4c.rWaveFrame - 1) * frameBytes], 0);
  assert.equal(bytes[pixelStart + peakA4c.rWaveFrame * frameBytes + PHASE_MARKER_WIDTH - 1], 4);
});

test('buildXaRun - XA geometry calibrates the catheter at the isocentre', async () => {
  const run = buildXaRun({ frames: 3, rows: 64, columns: 64 });
  assert.equal(run.isocentreSpacing, 0.15);
  assert.equal(run.catheterPixels, 13);
  const { meta, dict } = await readWithDcmjs(await synthesizeBytes(run));
  assert.equal(meta['00020002']!.Value![0], XA_IMAGE_STORAGE);
  assert.equal(dict['00080060']!.Value![0], 'XA');
  assert.deepEqual(dict['00181164']!.Value!.map(Number), [0.2, 0.2]);
  assert.equal(Number(dict['00181110']!.Value![0]), 1000);
  assert.ok(Math.abs(Number(dict['00181063']!.Value![0]) - 1000 / 15) < 1e-9);
  assert.equal(Number(dict['00280008']!.Value![0]), 3);
});

test('buildStressEcho - stages at other heart rates list every R wave and mark the phase as a fraction of their cycle', async () => {
  const set = buildStressEcho({ stages: ['REST', 'PEAK'], views: ['A4C'], frames: 24, frameRate: 30, heartRates: [75, 150], rows: 16, columns: 16 });
  const [rest, peak] = set.clips as [(typeof set.clips)[number], (typeof set.clips)[number]];
  assert.deepEqual([rest.cycleFrames, peak.cycleFrames], [24, 12]);
  assert.equal(rest.rWaveFrames.length, 1);
  assert.deepEqual(peak.rWaveFrames, [peak.rWaveFrame, peak.rWaveFrame + 12]);
  const bytes = await synthesizeBytes(peak);
  const { dict } = await readWithDcmjs(bytes);
  assert.deepEqual(dict['00286040']!.Value, peak.rWaveFrames);
  assert.equal(Number(dict['00181088']!.Value![0]), 150);
  // Halfway through the peak's 12-frame cycle the marker is 4 × 24 × 0.5.
  const frameBytes = 16 * 16;
  const pixelStart = bytes.byteLength - 24 * frameBytes;
  assert.equal(bytes[pixelStart + (peak.rWaveFrame - 1 + 6) * frameBytes], 48);
  assert.equal(bytes[pixelStart + (peak.rWaveFrame - 1 + 12) * frameBytes], 0);
});
