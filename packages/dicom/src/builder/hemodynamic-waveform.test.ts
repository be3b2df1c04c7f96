import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildHemodynamicWaveform, HEMODYNAMIC_WAVEFORM_STORAGE } from './hemodynamic-waveform.js';
import { readWithDcmjs } from './test-support.js';

/** Each channel in physical units, decoded with dcmjs from the Part 10 bytes: stored × sensitivity + baseline. */
async function decoded(bytes: Uint8Array) {
  const { dict } = await readWithDcmjs(bytes);
  const group = dict['54000100']!.Value![0];
  const count = group['003A0005'].Value[0];
  const samples = group['003A0010'].Value[0];
  const raw = new Int16Array(group['54001010'].Value[0] as ArrayBuffer);
  const definitions = group['003A0200'].Value;
  const channels = definitions.map((d: any, c: number) => ({
    label: d['003A0203'].Value[0] as string,
    unit: d['003A0211'].Value[0]['00080100'].Value[0] as string,
    source: d['003A0208'].Value[0]['00080100'].Value[0] as string,
    values: Float64Array.from({ length: samples }, (_, i) => raw[i * count + c]! * Number(d['003A0210'].Value[0]) + Number(d['003A0213'].Value[0])),
  }));
  return { dict, group, channels };
}

test('buildHemodynamicWaveform - an ECG lead and two pressures in mmHg, interleaved, at 250 Hz', async () => {
  const hd = buildHemodynamicWaveform();
  const { dict, group, channels } = await decoded(hd.bytes);
  assert.equal(dict['00080016']!.Value![0], HEMODYNAMIC_WAVEFORM_STORAGE);
  assert.equal(dict['00080060']!.Value![0], 'HD');
  assert.equal(Number(group['003A001A'].Value[0]), 250);
  assert.deepEqual(
    channels.map((c: { label: string; unit: string; source: string }) => [c.label, c.unit, c.source]),
    [
      ['II', 'uV', '2:2'],
      ['Art pressure', 'mm[Hg]', '128446002'],
      ['PA pressure', 'mm[Hg]', '128443005'],
    ],
  );
  assert.deepEqual(hd.channels.map((c) => c.label), ['II', 'Art pressure', 'PA pressure']);
});

test('buildHemodynamicWaveform - the samples peak at the systolic and fall to the diastolic pressure asked for', async () => {
  const hd = buildHemodynamicWaveform({ systolicMmHg: 135, diastolicMmHg: 72, heartRate: 60 });
  const { channels } = await decoded(hd.bytes);
  const art = channels[1]!.values as Float64Array;
  const max = Math.max(...art);
  const min = Math.min(...art);
  assert.ok(Math.abs(max - 135) < 1e-9, `max ${max}`);
  assert.ok(Math.abs(min - 72) < 1e-9, `min ${min}`);
  // Every whole beat peaks at the listed sample, 120 ms after the upstroke that follows its R wave by 120 ms.
  const peaks = hd.channels[1]!.peaks!;
  assert.ok(peaks.length >= 8, `${peaks.length} beats`);
  for (const p of peaks) assert.ok(Math.abs(art[p]! - 135) < 1e-9, `sample ${p}: ${art[p]}`);
  const ecg = channels[0]!.values as Float64Array;
  for (const r of hd.rWaves) assert.equal(ecg[r], 1000, `R wave at ${r}`);
  assert.equal(peaks[0]! - hd.rWaves[0]!, 60);
  // The stated mean is the mean of the decoded samples over whole beats.
  const mean = hd.channels[1]!.mean!;
  assert.ok(mean > 72 && mean < 135);
});

test('buildHemodynamicWaveform - the Waveform Annotation Sequence states systolic, diastolic and mean per pressure channel', async () => {
  const hd = buildHemodynamicWaveform();
  const { dict } = await decoded(hd.bytes);
  const stated = (dict['0040B020']!.Value as any[]).map((a) => [
    a['0040A0B0'].Value.join('/'),
    a['0040A043'].Value[0]['00080100'].Value[0],
    Number(a['0040A30A'].Value[0]),
    a['004008EA'].Value[0]['00080100'].Value[0],
  ]);
  assert.deepEqual(stated, [
    ['1/2', '314440001', 120, 'mm[Hg]'],
    ['1/2', '314453003', 80, 'mm[Hg]'],
    ['1/2', '6797001', hd.channels[1]!.mean, 'mm[Hg]'],
    ['1/3', '314440001', 25, 'mm[Hg]'],
    ['1/3', '314453003', 10, 'mm[Hg]'],
    ['1/3', '6797001', hd.channels[2]!.mean, 'mm[Hg]'],
  ]);
});

test('buildHemodynamicWaveform - shares the XA run\'s study by default and refuses what the IOD does not allow', async () => {
  const { buildXaRun } = await import('./xa-run.js');
  const hd = buildHemodynamicWaveform();
  const xa = buildXaRun({ frames: 1, rows: 8, columns: 8 });
  assert.equal(hd.studyInstanceUid, xa.studyInstanceUid);
  assert.notEqual(hd.seriesInstanceUid, xa.seriesInstanceUid);
  assert.throws(() => buildHemodynamicWaveform({ samplingFrequency: 500 }), /outside the IOD's limit of 400 Hz/);
  assert.throws(() => buildHemodynamicWaveform({ systolicMmHg: 70, diastolicMmHg: 80 }), /not systolic above diastolic/);
});
