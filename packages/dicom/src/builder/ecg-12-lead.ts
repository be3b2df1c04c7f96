import { ExplicitVrLittleEndian } from '../transfer-syntax.js';
import { encodePart10 } from '../writer.js';
import type { WritableDataset } from '../writer.js';
import { code, keywordDataset, sequence } from './attributes.js';
import type { SyntheticCommonOptions, SyntheticInstance } from './common.js';
import { commonModules, instanceFromBytes, resolveContext, identityOf } from './common.js';
import type { SyntheticTransferSyntax } from './ct-series.js';
import { seededRandom, type Random } from './random.js';

/** 12-lead ECG Waveform Storage (PS3.4 Annex B.5, PS3.3 §A.34.3). */
export const TWELVE_LEAD_ECG_WAVEFORM_STORAGE = '1.2.840.10008.5.1.4.1.1.9.1.1';

/** General ECG Waveform Storage (PS3.4 Annex B.5, PS3.3 §A.34.4). */
export const GENERAL_ECG_WAVEFORM_STORAGE = '1.2.840.10008.5.1.4.1.1.9.1.2';

/** A second multiplex group: a long rhythm recording of a few leads at its own sampling frequency. */
export interface EcgRhythmGroupOptions {
  /** Leads of the group, from the twelve; default II, V1, V5. */
  leads?: readonly string[];
  /** Hz; default 250. */
  samplingFrequency?: number;
  /** Default 30. */
  durationSeconds?: number;
}

export interface Ecg12LeadOptions extends SyntheticCommonOptions {
  /** Beats per minute; default 60. */
  heartRate?: number;
  /** P onset to QRS onset, ms; default 160. */
  prIntervalMs?: number;
  /** QRS onset to QRS end, ms; default 90. */
  qrsDurationMs?: number;
  /** QRS onset to T end, ms; default 400. */
  qtIntervalMs?: number;
  /** P wave duration, ms; default 100 (less than PR). */
  pDurationMs?: number;
  /** Default 10. */
  durationSeconds?: number;
  /** Hz, 200 to 1000 for this IOD (§A.34.3.4.5); default 500. */
  samplingFrequency?: number;
  /** Standard deviation of added noise, µV; default 0 so that wave boundaries are exact. */
  noiseUv?: number;
  transferSyntaxUid?: SyntheticTransferSyntax;
  /** 12-lead ECG (default) or General ECG Waveform Storage; both allow several multiplex groups. */
  sopClassUid?: typeof TWELVE_LEAD_ECG_WAVEFORM_STORAGE | typeof GENERAL_ECG_WAVEFORM_STORAGE;
  /** Adds a second multiplex group, `LONG RHYTHM`, with the same beats at another sampling frequency. */
  rhythmGroup?: EcgRhythmGroupOptions;
}

/** Fiducial points of one beat, as 0-based sample indexes; each is the last baseline sample before or after a wave. */
export interface EcgBeat {
  readonly pOnset: number;
  readonly qrsOnset: number;
  readonly qrsEnd: number;
  readonly tEnd: number;
}

/** One multiplex group as built: its samples and where its beats are, in its own sample indexes. */
export interface EcgGroup {
  readonly label: string;
  readonly samplingFrequency: number;
  readonly numberOfSamples: number;
  readonly leads: readonly string[];
  readonly beats: readonly EcgBeat[];
  readonly intervalsInSamples: { readonly pr: number; readonly qrs: number; readonly qt: number; readonly rr: number };
}

/** The first multiplex group (all twelve leads) is described at the top level, every group in `groups`. */
export interface Ecg12Lead extends SyntheticInstance {
  readonly groups: readonly EcgGroup[];
  readonly samplingFrequency: number;
  readonly numberOfSamples: number;
  /** Lead labels in channel order. */
  readonly leads: readonly string[];
  /** µV per stored unit (Channel Sensitivity). */
  readonly channelSensitivityUv: number;
  readonly beats: readonly EcgBeat[];
  /** The intervals in samples, as placed: the Waveform Annotation Sequence states them in ms. */
  readonly intervalsInSamples: { readonly pr: number; readonly qrs: number; readonly qt: number; readonly rr: number };
}

/** Leads in the conventional order with their CID 3001 codes (MDC, ISO/IEEE 11073-10101). */
const LEADS = [
  ['I', '2:1', 'Lead I'],
  ['II', '2:2', 'Lead II'],
  ['III', '2:61', 'Lead III'],
  ['aVR', '2:62', 'aVR, augmented voltage, right'],
  ['aVL', '2:63', 'aVL, augmented voltage, left'],
  ['aVF', '2:64', 'aVF, augmented voltage, foot'],
  ['V1', '2:3', 'Lead V1'],
  ['V2', '2:4', 'Lead V2'],
  ['V3', '2:5', 'Lead V3'],
  ['V4', '2:6', 'Lead V4'],
  ['V5', '2:7', 'Lead V5'],
  ['V6', '2:8', 'Lead V6'],
] as const;

/** Wave amplitudes in µV: P, Q (depth), R, S (depth), T. Limb leads III, aVR, aVL, aVF are derived from I and II. */
type Amplitudes = readonly [p: number, q: number, r: number, s: number, t: number];
const MEASURED: Record<string, Amplitudes> = {
  I: [60, 30, 700, 100, 200],
  II: [120, 50, 1200, 150, 300],
  V1: [50, 0, 200, 900, 100],
  V2: [60, 0, 400, 1200, 400],
  V3: [70, 20, 700, 700, 450],
  V4: [80, 40, 1300, 400, 400],
  V5: [80, 60, 1400, 200, 350],
  V6: [70, 50, 1000, 100, 250],
};

const SENSITIVITY_UV = 2.5;

/**
 * A 12-lead resting ECG (PS3.3 §A.34.3, or §A.34.4 General ECG): 12 channels in one multiplex group, 16-bit signed
 * samples interleaved, Channel Source codes from CID 3001, sensitivity in µV, and a synthetic PQRST beat whose
 * heart rate, PR, QRS and QT are exactly where the options say (to the sample). With `rhythmGroup`, a second
 * multiplex group holds a few leads over a longer time at another sampling frequency, as carts that record a long
 * rhythm strip do. The Waveform Annotation Sequence carries the four measurements (CID 3689 codes) and the
 * fiducial points of every beat of every group, so readers can be checked against both.
 */
export function buildEcg12Lead(options: Ecg12LeadOptions = {}): Ecg12Lead {
  const ctx = resolveContext(options, {
    kind: 'ecg',
    patient: {
      patientName: 'Demo^Ecg',
      patientId: 'ATR-ECG-0001',
      issuerOfPatientId: 'ATRIUM',
      patientBirthDate: '19700101',
      patientSex: 'M',
    },
    study: {
      studyDate: '20240317',
      studyTime: '081000',
      accessionNumber: 'ACC-ECG-0001',
      studyId: 'ECG1',
      studyDescription: 'Resting 12-lead ECG',
      referringPhysicianName: 'Referrer^Rita',
    },
    series: { seriesNumber: 1, seriesDescription: '12-lead ECG' },
  });
  const fs = options.samplingFrequency ?? 500;
  const heartRate = options.heartRate ?? 60;
  const timing: BeatTiming = {
    heartRate,
    prMs: options.prIntervalMs ?? 160,
    qrsMs: options.qrsDurationMs ?? 90,
    qtMs: options.qtIntervalMs ?? 400,
    pDurationMs: options.pDurationMs ?? 100,
  };
  const sopClassUid = options.sopClassUid ?? TWELVE_LEAD_ECG_WAVEFORM_STORAGE;
  const random = seededRandom(ctx.seed * 31337 + 3);
  const noiseUv = options.noiseUv ?? 0;
  const main = ecgGroup('RHYTHM', LEADS.map(([lead]) => lead), fs, Math.round((options.durationSeconds ?? 10) * fs), timing, noiseUv, random);
  const groups = [main];
  if (options.rhythmGroup) {
    const rhythm = options.rhythmGroup;
    const rhythmFs = rhythm.samplingFrequency ?? 250;
    groups.push(ecgGroup('LONG RHYTHM', rhythm.leads ?? ['II', 'V1', 'V5'], rhythmFs, Math.round((rhythm.durationSeconds ?? 30) * rhythmFs), timing, noiseUv, random));
  }

  const sopInstanceUid = ctx.uid('instance/1');
  const msCode = code('ms', 'UCUM', 'millisecond');
  const measurement = (codeValue: string, meaning: string, value: number, units: WritableDataset): WritableDataset =>
    keywordDataset({
      ConceptNameCodeSequence: sequence(code(codeValue, 'MDC', meaning)),
      NumericValue: ['DS', value],
      MeasurementUnitsCodeSequence: sequence(units),
      ReferencedWaveformChannels: ['US', 1, 0],
      AnnotationGroupNumber: ['US', 1],
    });
  const point = (label: string, group: number, sample: number): WritableDataset =>
    keywordDataset({
      UnformattedTextValue: ['ST', label],
      // Multiplex group `group` (1-based), channel 0: every channel of the group (PS3.3 §C.10.10.1.1).
      ReferencedWaveformChannels: ['US', group, 0],
      TemporalRangeType: ['CS', 'POINT'],
      // Sample positions count from 1 (PS3.3 §C.10.10.1.2).
      ReferencedSamplePositions: ['UL', sample + 1],
      AnnotationGroupNumber: ['US', 2],
    });
  const { pr, qrs, qt } = main.intervalsInSamples;
  const annotations: WritableDataset[] = [
    measurement('2:16770', 'ECG Heart Rate', heartRate, code('/min', 'UCUM', 'per minute')),
    measurement('2:15872', 'PR time period, global', (pr * 1000) / fs, msCode),
    measurement('2:16156', 'QRS duration, global', (qrs * 1000) / fs, msCode),
    measurement('2:16160', 'QT duration, global', (qt * 1000) / fs, msCode),
    measurement('2:16000', 'RR time period, global', 60000 / heartRate, msCode),
    ...groups.flatMap((g, i) =>
      g.beats.flatMap((b) => [
        point('P onset', i + 1, b.pOnset),
        point('QRS onset', i + 1, b.qrsOnset),
        point('QRS end', i + 1, b.qrsEnd),
        point('T end', i + 1, b.tEnd),
      ]),
    ),
  ];

  const channel = (lead: string): WritableDataset => {
    const [, codeValue, meaning] = LEADS.find(([l]) => l === lead)!;
    return keywordDataset({
      ChannelLabel: ['SH', lead],
      ChannelSourceSequence: sequence(
        keywordDataset({
          CodeValue: ['SH', codeValue],
          CodingSchemeDesignator: ['SH', 'MDC'],
          CodingSchemeVersion: ['SH', '1.0'],
          CodeMeaning: ['LO', meaning],
        }),
      ),
      ChannelSensitivity: ['DS', SENSITIVITY_UV],
      ChannelSensitivityUnitsSequence: sequence(code('uV', 'UCUM', 'microvolt')),
      ChannelSensitivityCorrectionFactor: ['DS', 1],
      ChannelBaseline: ['DS', 0],
      ChannelSampleSkew: ['DS', 0],
      WaveformBitsStored: ['US', 16],
      FilterLowFrequency: ['DS', 0.05],
      FilterHighFrequency: ['DS', 150],
    });
  };

  const dataset = {
    ...commonModules(ctx, { sopClassUid, sopInstanceUid, modality: 'ECG' }),
    ...keywordDataset({
      ContentDate: ['DA', ctx.study.studyDate],
      ContentTime: ['TM', ctx.study.studyTime],
      AcquisitionDateTime: ['DT', `${ctx.study.studyDate}${ctx.study.studyTime}`],
      InstanceNumber: ['IS', 1],
      AcquisitionContextSequence: sequence(),
      WaveformSequence: sequence(
        ...groups.map((g) =>
          keywordDataset({
            WaveformOriginality: ['CS', 'ORIGINAL'],
            NumberOfWaveformChannels: ['US', g.leads.length],
            NumberOfWaveformSamples: ['UL', g.numberOfSamples],
            SamplingFrequency: ['DS', g.samplingFrequency],
            MultiplexGroupLabel: ['SH', g.label],
            ChannelDefinitionSequence: sequence(...g.leads.map(channel)),
            WaveformBitsAllocated: ['US', 16],
            WaveformSampleInterpretation: ['CS', 'SS'],
            WaveformData: { vr: 'OW', Bytes: new Uint8Array(g.data.buffer) },
          }),
        ),
      ),
      WaveformAnnotationSequence: sequence(...annotations),
    }),
  };
  const transferSyntaxUid = options.transferSyntaxUid ?? ExplicitVrLittleEndian;
  const bytes = encodePart10({ dataset, transferSyntaxUid });
  const describe = ({ data: _data, ...group }: BuiltGroup): EcgGroup => group;
  return {
    ...instanceFromBytes(
      {
        sopClassUid,
        sopInstanceUid,
        ...identityOf(ctx),
        transferSyntaxUid,
      },
      bytes,
    ),
    groups: groups.map(describe),
    samplingFrequency: fs,
    numberOfSamples: main.numberOfSamples,
    leads: main.leads,
    channelSensitivityUv: SENSITIVITY_UV,
    beats: main.beats,
    intervalsInSamples: main.intervalsInSamples,
  };
}

interface BeatTiming {
  readonly heartRate: number;
  readonly prMs: number;
  readonly qrsMs: number;
  readonly qtMs: number;
  readonly pDurationMs: number;
}

interface BuiltGroup extends EcgGroup {
  /** Interleaved samples: all channels of sample i, then sample i + 1 (PS3.3 §C.10.9.1.6). */
  readonly data: Int16Array;
}

/**
 * One multiplex group of `leads` at `fs`: the beats placed in this group's own samples, so every fiducial point
 * is exact to the sample at any sampling frequency.
 */
function ecgGroup(label: string, leads: readonly string[], fs: number, samples: number, timing: BeatTiming, noiseUv: number, random: Random): BuiltGroup {
  const ms = (value: number): number => Math.round((value * fs) / 1000);
  const pr = ms(timing.prMs);
  const qrs = ms(timing.qrsMs);
  const qt = ms(timing.qtMs);
  const pDuration = ms(timing.pDurationMs);
  const rrExact = (60 * fs) / timing.heartRate;
  const tDuration = Math.min(ms(160), qt - qrs - ms(40));
  if (fs < 200 || fs > 1000 || samples > 16384) {
    throw new RangeError(`Cannot build ECG group '${label}': ${samples} samples at ${fs} Hz is outside the IOD's limits`);
  }
  if (pDuration >= pr || tDuration < ms(40) || pr + qt >= rrExact) {
    throw new RangeError(
      `Cannot build 12-lead ECG: PR ${timing.prMs} ms, QRS ${timing.qrsMs} ms and QT ${timing.qtMs} ms do not fit a beat at ${timing.heartRate} bpm`,
    );
  }
  const unknown = leads.find((lead) => !LEADS.some(([l]) => l === lead));
  if (unknown !== undefined) throw new RangeError(`Cannot build ECG group '${label}': lead '${unknown}' is not one of the twelve`);

  // Beats start 200 ms in and repeat every RR; only whole beats are placed.
  const beats: EcgBeat[] = [];
  for (let k = 0; ; k++) {
    const pOnset = Math.round(ms(200) + k * rrExact);
    const tEnd = pOnset + pr + qt;
    if (tEnd >= samples - 1) break;
    beats.push({ pOnset, qrsOnset: pOnset + pr, qrsEnd: pOnset + pr + qrs, tEnd });
  }

  // The waves are zero at and outside their fiducial points, so every boundary is exact to the sample.
  const measured = new Map<string, Float64Array>();
  for (const [lead, [pA, qA, rA, sA, tA]] of Object.entries(MEASURED)) {
    const signal = new Float64Array(samples);
    for (const beat of beats) {
      for (let i = 1; i < pDuration; i++) signal[beat.pOnset + i] = pA * Math.sin((Math.PI * i) / pDuration);
      for (let i = 1; i < qrs; i++) signal[beat.qrsOnset + i] = qrsShape(i / qrs, qA, rA, sA);
      const tStart = beat.tEnd - tDuration;
      for (let i = 1; i < tDuration; i++) signal[tStart + i] = tA * Math.sin((Math.PI * i) / tDuration);
    }
    measured.set(lead, signal);
  }
  const leadI = measured.get('I')!;
  const leadII = measured.get('II')!;
  const derived: Record<string, (i: number) => number> = {
    III: (i) => leadII[i]! - leadI[i]!,
    aVR: (i) => -(leadI[i]! + leadII[i]!) / 2,
    aVL: (i) => leadI[i]! - leadII[i]! / 2,
    aVF: (i) => leadII[i]! - leadI[i]! / 2,
  };
  const data = new Int16Array(samples * leads.length);
  for (let i = 0; i < samples; i++) {
    leads.forEach((lead, channel) => {
      const uv = measured.get(lead)?.[i] ?? derived[lead]!(i);
      const noisy = noiseUv > 0 ? uv + random.normal() * noiseUv : uv;
      data[i * leads.length + channel] = Math.max(-32768, Math.min(32767, Math.round(noisy / SENSITIVITY_UV)));
    });
  }
  return { label, samplingFrequency: fs, numberOfSamples: samples, leads, beats, intervalsInSamples: { pr, qrs, qt, rr: rrExact }, data };
}

/** QRS by position u in (0, 1): down to -q, up to +r, down to -s, back to 0, in straight segments. */
function qrsShape(u: number, q: number, r: number, s: number): number {
  const knots: readonly (readonly [number, number])[] = [
    [0, 0],
    [0.15, -q],
    [0.45, r],
    [0.75, -s],
    [1, 0],
  ];
  for (let k = 1; k < knots.length; k++) {
    const [u1, v1] = knots[k]!;
    const [u0, v0] = knots[k - 1]!;
    if (u <= u1) return v0 + ((v1 - v0) * (u - u0)) / (u1 - u0);
  }
  return 0;
}
