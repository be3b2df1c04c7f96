import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readPart10 } from '../part10-reader.js';
import { GENERAL_ECG_WAVEFORM_STORAGE, TWELVE_LEAD_ECG_WAVEFORM_STORAGE, buildEcg12Lead } from './ecg-12-lead.js';
import { readWithDcmjs } from './test-support.js';

/** The waveform as [channel][sample] in µV, read back with dcmjs from the Part 10 bytes. */
async function channels(bytes: Uint8Array): Promise<{ dict: any; leads: Float64Array[] }> {
  const { dict } = await readWithDcmjs(bytes);
  const group = dict['54000100']!.Value![0];
  const count = group['003A0005'].Value[0];
  const samples = group['003A0010'].Value[0];
  const raw = new Int16Array(group['54001010'].Value[0] as ArrayBuffer);
  assert.equal(raw.length, count * samples);
  const leads = Array.from({ length: count }, (_, c) => {
    const sensitivity = Number(group['003A0200'].Value[c]['003A0210'].Value[0]);
    return Float64Array.from({ length: samples }, (_, i) => raw[i * count + c]! * sensitivity);
  });
  return { dict, leads };
}

/** Fiducials measured from one lead: nonzero runs, merged across gaps shorter than `gap` samples. */
function waves(signal: Float64Array, gap: number): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < signal.length; i++) {
    if (signal[i] === 0) continue;
    const last = runs[runs.length - 1];
    if (last && i - last[1] <= gap) last[1] = i;
    else runs.push([i, i]);
  }
  return runs;
}

test('buildEcg12Lead - twelve interleaved SS channels with CID 3001 codes and sensitivity in uV', async () => {
  const ecg = buildEcg12Lead();
  const { dict, leads } = await channels(ecg.bytes);
  assert.equal(dict['00080016'].Value[0], TWELVE_LEAD_ECG_WAVEFORM_STORAGE);
  assert.equal(dict['00080060'].Value[0], 'ECG');
  const group = dict['54000100'].Value[0];
  assert.equal(Number(group['003A001A'].Value[0]), 500);
  assert.equal(group['003A0010'].Value[0], 5000);
  assert.equal(group['54001004'].Value[0], 16);
  assert.equal(group['54001006'].Value[0], 'SS');
  const definitions = group['003A0200'].Value;
  assert.deepEqual(
    definitions.map((d: any) => d['003A0208'].Value[0]['00080100'].Value[0]),
    ['2:1', '2:2', '2:61', '2:62', '2:63', '2:64', '2:3', '2:4', '2:5', '2:6', '2:7', '2:8'],
  );
  assert.ok(definitions.every((d: any) => d['003A0208'].Value[0]['00080102'].Value[0] === 'MDC'));
  assert.ok(definitions.every((d: any) => d['003A0211'].Value[0]['00080100'].Value[0] === 'uV'));
  assert.equal(leads.length, 12);
  // Einthoven: III = II - I and aVR + aVL + aVF = 0, to within rounding of each stored sample.
  const [I, II, III, aVR, aVL, aVF] = leads as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  for (let i = 0; i < 5000; i += 7) {
    assert.ok(Math.abs(III[i]! - (II[i]! - I[i]!)) <= 5, `III at ${i}`);
    assert.ok(Math.abs(aVR[i]! + aVL[i]! + aVF[i]!) <= 7.5, `augmented at ${i}`);
  }
  // The R wave of lead II peaks near 1.2 mV.
  assert.ok(Math.abs(Math.max(...II) - 1200) < 60);
});

test('buildEcg12Lead - heart rate, PR, QRS and QT measured from lead II samples equal the options', async () => {
  const options = { heartRate: 75, prIntervalMs: 180, qrsDurationMs: 100, qtIntervalMs: 380 };
  const ecg = buildEcg12Lead(options);
  const { leads } = await channels(ecg.bytes);
  const II = leads[1]!;
  // P, QRS and T are separated by baseline; QRS may touch zero where it crosses the axis, so merge tiny gaps.
  const runs = waves(II, 3);
  assert.equal(runs.length % 3, 0);
  const beats = runs.length / 3;
  assert.equal(beats, ecg.beats.length);
  const ms = (samples: number): number => (samples * 1000) / 500;
  for (let b = 0; b < beats; b++) {
    const [p, qrs, t] = [runs[3 * b]!, runs[3 * b + 1]!, runs[3 * b + 2]!];
    // Each run starts one sample after the onset and ends one sample before the offset.
    const pOnset = p[0] - 1;
    const qrsOnset = qrs[0] - 1;
    const qrsEnd = qrs[1] + 1;
    const tEnd = t[1] + 1;
    assert.equal(ms(qrsOnset - pOnset), 180, `PR of beat ${b}`);
    assert.equal(ms(qrsEnd - qrsOnset), 100, `QRS of beat ${b}`);
    assert.equal(ms(tEnd - qrsOnset), 380, `QT of beat ${b}`);
    assert.deepEqual(ecg.beats[b], { pOnset, qrsOnset, qrsEnd, tEnd });
  }
  const firstQrs = runs[1]![0];
  const lastQrs = runs[runs.length - 2]![0];
  const meanRr = ms(lastQrs - firstQrs) / (beats - 1);
  assert.ok(Math.abs(60000 / meanRr - 75) < 0.5, `heart rate ${60000 / meanRr}`);
});

test('buildEcg12Lead - the Waveform Annotation Sequence states the intervals and the fiducial sample positions', async () => {
  const ecg = buildEcg12Lead({ heartRate: 60, prIntervalMs: 160, qrsDurationMs: 90, qtIntervalMs: 400 });
  const parsed = await readPart10([ecg.bytes], { bulkDataThreshold: 1 << 20 });
  const items = parsed.dataset['0040B020']!.Value as any[];
  const measured = new Map(
    items
      .filter((i) => i['0040A043'])
      .map((i) => [i['0040A043'].Value[0]['00080100'].Value[0], Number(i['0040A30A'].Value[0])]),
  );
  assert.deepEqual(Object.fromEntries(measured), { '2:16770': 60, '2:15872': 160, '2:16156': 90, '2:16160': 400, '2:16000': 1000 });
  const points = items.filter((i) => i['00700006']);
  assert.equal(points.length, 4 * ecg.beats.length);
  const first = points.slice(0, 4).map((i) => [i['00700006'].Value[0], i['0040A132'].Value[0]]);
  const b = ecg.beats[0]!;
  assert.deepEqual(first, [
    ['P onset', b.pOnset + 1],
    ['QRS onset', b.qrsOnset + 1],
    ['QRS end', b.qrsEnd + 1],
    ['T end', b.tEnd + 1],
  ]);
  assert.equal(b.qrsOnset - b.pOnset, 80);
});

test('buildEcg12Lead - refuses intervals that do not fit the beat', () => {
  assert.throws(() => buildEcg12Lead({ heartRate: 150, qtIntervalMs: 400 }), /do not fit a beat/);
  assert.throws(() => buildEcg12Lead({ prIntervalMs: 80 }), /do not fit a beat/);
  assert.throws(() => buildEcg12Lead({ samplingFrequency: 2000 }), /outside the IOD's limits/);
});

test('buildEcg12Lead - a second multiplex group at its own sampling frequency holds the same beats', async () => {
  const ecg = buildEcg12Lead({ heartRate: 60, rhythmGroup: { leads: ['II', 'V5'], samplingFrequency: 250, durationSeconds: 30 }, sopClassUid: GENERAL_ECG_WAVEFORM_STORAGE });
  const dict: any = (await readWithDcmjs(ecg.bytes)).dict;
  assert.equal(dict['00080016'].Value[0], GENERAL_ECG_WAVEFORM_STORAGE);
  const items = dict['54000100'].Value;
  assert.deepEqual(
    items.map((g: any) => [g['003A0020'].Value[0], g['003A0005'].Value[0], Number(g['003A001A'].Value[0]), g['003A0010'].Value[0]]),
    [
      ['RHYTHM', 12, 500, 5000],
      ['LONG RHYTHM', 2, 250, 7500],
    ],
  );
  const [, long] = ecg.groups;
  assert.deepEqual(long!.leads, ['II', 'V5']);
  // Lead II of the long group: zero at each QRS onset, its R wave as tall as in the 12-lead group.
  const raw = new Int16Array(items[1]['54001010'].Value[0] as ArrayBuffer);
  const leadII = Float64Array.from({ length: 7500 }, (_, i) => raw[i * 2]! * ecg.channelSensitivityUv);
  assert.equal(long!.beats.length, 30);
  for (const b of long!.beats) {
    assert.equal(leadII[b.qrsOnset], 0);
    assert.notEqual(leadII[b.qrsOnset + 1], 0);
    assert.equal((b.tEnd - b.qrsOnset) * 4, 400, 'QT of 400 ms at 250 Hz');
  }
  assert.ok(Math.abs(Math.max(...leadII) - 1200) < 80);
  // Fiducial points name their group: group 2's T end of the first beat at its own sample.
  const points = (dict['0040B020'].Value as any[]).filter((a) => a['00700006']);
  assert.equal(points.length, 4 * (ecg.beats.length + long!.beats.length));
  const tEnd2 = points.find((a) => a['0040A0B0'].Value[0] === 2 && a['00700006'].Value[0] === 'T end')!;
  assert.equal(tEnd2['0040A132'].Value[0], long!.beats[0]!.tEnd + 1);
});
