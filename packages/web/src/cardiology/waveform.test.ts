import assert from 'node:assert/strict';
import test from 'node:test';
import { buildEcg12Lead, buildHemodynamicWaveform, readPart10 } from '@atrium/dicom';
import {
  caliper,
  channelStatistics,
  decodeMultiplexGroup,
  ecg3x4Layout,
  fitPxPerMm,
  sampleAtX,
  verticalScale,
  waveformAnnotations,
  WaveformError,
  waveformGroups,
  waveformLayout,
  waveformPages,
  type MultiplexGroup,
} from './waveform.js';
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
  assert.equal(group.channels[1]!.unit, 'mmHg');
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
      { '00700006': v('ST', 'T end'), '0040A132': v('UL', 401), '0040A0B0': v('US', 2, 0) },
      { '0040A043': v('SQ', { '00080104': v('LO', 'Mean blood pressure') }), '0040A30A': v('DS', 93), '004008EA': v('SQ', { '00080100': v('SH', 'mm[Hg]') }), '0040A0B0': v('US', 1, 2) },
    ),
  });
  assert.deepEqual(ann, [
    { label: 'QT duration, global', value: 400, unit: 'ms', samples: [], group: 1, channel: 0 },
    { label: 'T end', samples: [400], group: 2, channel: 0 },
    { label: 'Mean blood pressure', value: 93, unit: 'mmHg', samples: [], group: 1, channel: 2 },
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

test('fitPxPerMm - the 10 s page fits the box by its narrower side, rounded down, with a floor', () => {
  // 250 x 120 mm (3x4 and a rhythm strip) in 1182 x 700 px: the width limits, 4.728 -> 4.72 px/mm.
  assert.equal(fitPxPerMm({ width: 1182, height: 700 }, { widthMm: 250, heightMm: 120 }), 4.72);
  assert.ok(250 * 4.72 <= 1182 && 120 * 4.72 <= 700);
  // The height limits: 480 / 120 = 4.
  assert.equal(fitPxPerMm({ width: 2000, height: 480 }, { widthMm: 250, heightMm: 120 }), 4);
  // Twelve rows of one channel each in a short box: the floor, and the page scrolls.
  assert.equal(fitPxPerMm({ width: 1000, height: 300 }, { widthMm: 250, heightMm: 360 }), 2);
  assert.equal(fitPxPerMm({ width: 0, height: 0 }, { widthMm: 0, heightMm: 0 }), 2);
});

test('waveformLayout - 12 leads take the 3x4 layout, a hemodynamic group one row per channel', () => {
  const group = (labels: string[]): MultiplexGroup => ({ label: '', samplingFrequency: 250, numberOfSamples: 5000, channels: labels.map((label) => ({ label, unit: 'mV', values: new Float64Array(5000) })) });
  const twelve = waveformLayout(group(['I', 'II', 'III', 'aVR', 'aVL', 'aVF', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6']));
  assert.deepEqual([twelve.twelveLead, twelve.rows, twelve.columnsPerRow, twelve.panelSamples], [true, 4, 4, 625]);
  const hemo = waveformLayout(group(['ECG II', 'Art pressure', 'PA pressure']));
  assert.deepEqual([hemo.twelveLead, hemo.rows, hemo.columnsPerRow, hemo.panelSamples], [false, 3, 1, 2500]);
  assert.deepEqual(hemo.panels.map((p) => [p.label, p.row, p.channel]), [['ECG II', 0, 0], ['Art pressure', 1, 1], ['PA pressure', 2, 2]]);
});

/** The object's multiplex groups decoded as the viewer does, from a Part 10 file read by Atrium's reader. */
async function decodeAll(bytes: Uint8Array): Promise<{ dataset: JsonDataset; groups: MultiplexGroup[] }> {
  const parsed = await readPart10([bytes]);
  const dataset = parsed.dataset as JsonDataset;
  const groups = waveformGroups(dataset).map((g) => {
    // The bulk data URI is the element's path (the reader's default); the server serves that byte range.
    const ref = parsed.bulkData.find((r) => r.path === g.bulkDataUri)!;
    return decodeMultiplexGroup(g.item, bytes.subarray(ref.offset, ref.offset + ref.length!));
  });
  return { dataset, groups };
}

test('decodeMultiplexGroup - every multiplex group of an ECG, each at its own sampling frequency', async () => {
  const ecg = buildEcg12Lead({ rhythmGroup: { leads: ['II', 'V1', 'V5'], samplingFrequency: 250, durationSeconds: 30 } });
  const { dataset, groups } = await decodeAll(ecg.bytes);
  assert.deepEqual(
    groups.map((g) => [g.label, g.samplingFrequency, g.numberOfSamples, g.channels.map((c) => c.label).join(' ')]),
    [
      ['RHYTHM', 500, 5000, 'I II III aVR aVL aVF V1 V2 V3 V4 V5 V6'],
      ['LONG RHYTHM', 250, 7500, 'II V1 V5'],
    ],
  );
  // The same beat in both groups: lead II is at baseline at QRS onset and peaks near 1.2 mV in each.
  const [rhythm, long] = groups as [MultiplexGroup, MultiplexGroup];
  const beat500 = ecg.groups[0]!.beats[0]!;
  const beat250 = ecg.groups[1]!.beats[0]!;
  assert.equal(rhythm.channels[1]!.values[beat500.qrsOnset], 0);
  assert.equal(long.channels[0]!.values[beat250.qrsOnset], 0);
  const peak = (values: Float64Array, from: number, to: number) => Math.max(...values.subarray(from, to));
  assert.ok(Math.abs(peak(rhythm.channels[1]!.values, beat500.qrsOnset, beat500.qrsEnd) - 1.2) < 0.05);
  assert.ok(Math.abs(peak(long.channels[0]!.values, beat250.qrsOnset, beat250.qrsEnd) - 1.2) < 0.08);
  // QT read on each group's own samples is 400 ms.
  assert.equal(caliper({ sample: beat250.qrsOnset, mv: 0 }, { sample: beat250.tEnd, mv: 0 }, 250).intervalMs, 400);
  // The fiducial markers say which group they belong to.
  const markers = waveformAnnotations(dataset).filter((a) => a.label === 'T end');
  assert.deepEqual(markers.filter((a) => a.group === 2).map((a) => a.samples[0]), ecg.groups[1]!.beats.map((b) => b.tEnd));
  // The long group is paged 10 s at a time and laid out one row per lead.
  assert.equal(waveformPages(long), 3);
  const page2 = waveformLayout(long, 2);
  assert.deepEqual([page2.twelveLead, page2.rows, page2.panels[0]!.startSample, page2.panels[0]!.endSample], [false, 3, 5000, 7500]);
  assert.equal(waveformLayout(rhythm).twelveLead, true);
});

test('decodeMultiplexGroup - a hemodynamic waveform: pressures in mmHg with their systolic and diastolic values', async () => {
  const hd = buildHemodynamicWaveform({ systolicMmHg: 130, diastolicMmHg: 75 });
  const { groups } = await decodeAll(hd.bytes);
  const [group] = groups as [MultiplexGroup];
  assert.deepEqual(group.channels.map((c) => [c.label, c.unit]), [['II', 'mV'], ['Art pressure', 'mmHg'], ['PA pressure', 'mmHg']]);
  const art = channelStatistics(group.channels[1]!.values);
  assert.ok(Math.abs(art.max - 130) < 1e-9 && Math.abs(art.min - 75) < 1e-9, JSON.stringify(art));
  assert.ok(Math.abs(group.channels[1]!.values[hd.channels[1]!.peaks![0]!]! - 130) < 1e-9);
});

test('verticalScale - 10 mm/mV for ECG channels, a round range in the channel units for pressures', () => {
  const channel = (unit: string, ...values: number[]) => ({ label: 'x', unit, values: Float64Array.from(values) });
  assert.deepEqual(verticalScale(channel('mV', -1, 2), 30), { centre: 0, unitsPerMm: 0.1, ticks: [] });
  const art = verticalScale(channel('mmHg', 80, 97, 120), 30);
  assert.deepEqual(art.ticks, [80, 90, 100, 110, 120]);
  assert.equal(art.centre, 100);
  assert.equal(art.unitsPerMm, 40 / 24);
  const pa = verticalScale(channel('mmHg', 10, 25), 30);
  assert.deepEqual(pa.ticks, [10, 15, 20, 25]);
  assert.deepEqual(channelStatistics(Float64Array.from([3, 1, 2, 6]), 1, 3), { min: 1, max: 2, mean: 1.5 });
});
