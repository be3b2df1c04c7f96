import assert from 'node:assert/strict';
import test from 'node:test';
import { caliper, decodeMultiplexGroup, ecg3x4Layout, sampleAtX, waveformAnnotations, WaveformError, waveformLayout, type MultiplexGroup } from './waveform.js';
import type { JsonDataset } from './cine.js';

const v = (vr: string, ...Value: unknown[]) => ({ vr, Value });
const channel = (label: string, sensitivity: number, units: string, baseline = 0, correction = 1): JsonDataset => ({
  '003A0203': v('SH', label),
  '003A0210': v('DS', sensitivity),
  '003A0211': v('SQ', { '00080100': v('SH', units) }),
  '003A0212': v('DS', correction),
  '003A0213': v('DS', baseline),
});

test('decodeMultiplexGroup - de-interleaves channels and applies sensitivity, correction and baseline', () => {
  const item: JsonDataset = {
    '003A0005': v('US', 2),
    '003A0010': v('UL', 3),
    '003A001A': v('DS', 500),
    '54001004': v('US', 16),
    '54001006': v('CS', 'SS'),
    '003A0200': v('SQ', channel('I', 2.5, 'uV'), channel('Pressure', 0.5, 'mm[Hg]', 10, 2)),
  };
  const samples = new Int16Array([400, 1, -400, 2, 0, -3]);
  const group = decodeMultiplexGroup(item, new Uint8Array(samples.buffer));
  assert.equal(group.channels.length, 2);
  assert.deepEqual([...group.channels[0]!.values], [1, -1, 0]);
  assert.equal(group.channels[0]!.unit, 'mV');
  assert.deepEqual([...group.channels[1]!.values], [11, 12, 7]);
  assert.equal(group.channels[1]!.unit, 'mm[Hg]');
});

test('decodeMultiplexGroup - refuses data shorter than the group says', () => {
  const item: JsonDataset = { '003A0005': v('US', 12), '003A0010': v('UL', 5000), '003A001A': v('DS', 500) };
  assert.throws(() => decodeMultiplexGroup(item, new Uint8Array(100)), WaveformError);
});

test('waveformAnnotations - reads measurements and 1-based sample markers', () => {
  const ann = waveformAnnotations({
    '0040B020': v(
      'SQ',
      { '0040A043': v('SQ', { '00080104': v('LO', 'QT duration, global') }), '0040A30A': v('DS', 400), '004008EA': v('SQ', { '00080100': v('SH', 'ms') }) },
      { '00700006': v('ST', 'T end'), '0040A132': v('UL', 401) },
    ),
  });
  assert.deepEqual(ann, [
    { label: 'QT duration, global', value: 400, unit: 'ms', samples: [] },
    { label: 'T end', samples: [400] },
  ]);
});

test('ecg3x4Layout - places the 12 leads in four 2.5 s columns plus a lead II rhythm strip', () => {
  const labels = ['I', 'II', 'III', 'aVR', 'aVL', 'aVF', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6'];
  const panels = ecg3x4Layout(labels, 500, 5000);
  assert.equal(panels.length, 13);
  const v4 = panels.find((p) => p.label === 'V4')!;
  assert.deepEqual([v4.row, v4.column, v4.channel, v4.startSample, v4.endSample], [0, 3, 9, 3750, 5000]);
  const rhythm = panels[12]!;
  assert.deepEqual([rhythm.row, rhythm.channel, rhythm.endSample], [3, 1, 5000]);
});

test('caliper - gives ms, mV and rate; sampleAtX maps paper to samples', () => {
  const r = caliper({ sample: 100, mv: 0 }, { sample: 300, mv: 1.2 }, 500);
  assert.equal(r.intervalMs, 400);
  assert.equal(r.amplitudeMv, 1.2);
  assert.equal(r.rateBpm, 150);
  // 25 mm/s at 4 px/mm: 100 px is 1 s, 500 samples.
  assert.equal(sampleAtX(100, 4, 500, 10), 510);
});

test('waveformLayout - 12 leads take the 3x4 layout, a hemodynamic group one row per channel', () => {
  const group = (labels: string[]): MultiplexGroup => ({ label: '', samplingFrequency: 250, numberOfSamples: 5000, channels: labels.map((label) => ({ label, unit: 'mV', values: new Float64Array(5000) })) });
  const twelve = waveformLayout(group(['I', 'II', 'III', 'aVR', 'aVL', 'aVF', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6']));
  assert.deepEqual([twelve.twelveLead, twelve.rows, twelve.columnsPerRow, twelve.panelSamples], [true, 4, 4, 625]);
  const hemo = waveformLayout(group(['ECG II', 'Art pressure', 'PA pressure']));
  assert.deepEqual([hemo.twelveLead, hemo.rows, hemo.columnsPerRow, hemo.panelSamples], [false, 3, 1, 2500]);
  assert.deepEqual(hemo.panels.map((p) => [p.label, p.row, p.channel]), [['ECG II', 0, 0], ['Art pressure', 1, 1], ['PA pressure', 2, 2]]);
});
