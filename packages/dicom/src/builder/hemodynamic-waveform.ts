import { ExplicitVrLittleEndian } from '../transfer-syntax.js';
import { encodePart10 } from '../writer.js';
import type { WritableDataset } from '../writer.js';
import { code, keywordDataset, sequence } from './attributes.js';
import type { SyntheticCommonOptions, SyntheticInstance } from './common.js';
import { commonModules, instanceFromBytes, resolveContext, identityOf } from './common.js';

/** Hemodynamic Waveform Storage (PS3.4 Annex B.5, PS3.3 §A.34.6). */
export const HEMODYNAMIC_WAVEFORM_STORAGE = '1.2.840.10008.5.1.4.1.1.9.2.1';

/** Universal Coordinated Time as Synchronization Frame of Reference (PS3.6 Annex A, well-known frame of reference). */
const UTC_FRAME_OF_REFERENCE = '1.2.840.10008.15.1.1';

export interface HemodynamicWaveformOptions extends SyntheticCommonOptions {
  /** Beats per minute; default 72. */
  heartRate?: number;
  /** Arterial pressure, mmHg; default 120 / 80. */
  systolicMmHg?: number;
  diastolicMmHg?: number;
  /** Pulmonary artery pressure, mmHg; default 25 / 10. */
  pulmonarySystolicMmHg?: number;
  pulmonaryDiastolicMmHg?: number;
  /** Hz, at most 400 for this IOD (§A.34.6.4); default 250. */
  samplingFrequency?: number;
  /** Default 10. */
  durationSeconds?: number;
}

/** One channel as built: what the Channel Definition says and, for pressures, the values the samples hold. */
export interface HemodynamicChannel {
  readonly label: string;
  /** UCUM code of Channel Sensitivity Units: `uV` for the ECG, `mm[Hg]` for pressures. */
  readonly unit: string;
  /** Stored value × sensitivity = physical value (baseline 0, correction 1). */
  readonly sensitivity: number;
  /** For pressures: the highest and lowest sample and the mean over whole beats, in mmHg. */
  readonly systolic?: number;
  readonly diastolic?: number;
  readonly mean?: number;
  /** 0-based samples where the pressure peaks (one per whole beat). */
  readonly peaks?: readonly number[];
}

export interface HemodynamicWaveform extends SyntheticInstance {
  readonly samplingFrequency: number;
  readonly numberOfSamples: number;
  /** In channel order: ECG lead II (`II`), arterial pressure (`Art pressure`), pulmonary artery pressure (`PA pressure`). */
  readonly channels: readonly HemodynamicChannel[];
  /** 0-based samples of the R waves of the ECG channel. */
  readonly rWaves: readonly number[];
}

const ECG_SENSITIVITY_UV = 2.5;
const PRESSURE_SENSITIVITY_MMHG = 0.1;

/**
 * A pressure pulse over one cycle of `length` samples, 0 at the start and end, exactly 1 at `peak`: upstroke,
 * fall to the dicrotic notch, a small wave after it, then diastolic run-off. 0 and 1 land on samples, so the
 * lowest and highest stored values are exactly the diastolic and systolic pressures.
 */
function pressurePulse(i: number, length: number, fs: number): number {
  const ms = (v: number): number => Math.round((v * fs) / 1000);
  const peak = ms(120);
  const notch = ms(300);
  const wave = ms(380);
  if (i <= peak) return (1 - Math.cos((Math.PI * i) / peak)) / 2;
  if (i <= notch) return 1 - 0.38 * ((1 - Math.cos((Math.PI * (i - peak)) / (notch - peak))) / 2);
  if (i <= wave) return 0.62 + 0.06 * Math.sin((Math.PI * (i - notch)) / (wave - notch));
  const runoff = (i - wave) / (length - wave);
  return 0.62 * (1 - runoff) ** 1.6;
}

/**
 * A hemodynamic recording from a cath lab (PS3.3 §A.34.6 Hemodynamic IOD): one multiplex group with an ECG lead
 * (CID 3001) and two pressures (CID 3003: arterial and pulmonary artery, in mmHg), 16-bit signed samples
 * interleaved. Each pressure pulse follows the R wave by 120 ms and has exactly the systolic and diastolic values
 * asked for at its peak and foot, and the Waveform Annotation Sequence states them (CID 3337), so a reader can be
 * checked against the samples and the stored measurements. By default it belongs to the same study as
 * `buildXaRun` (same patient and accession number): the run and the pressures of one catheterization.
 */
export function buildHemodynamicWaveform(options: HemodynamicWaveformOptions = {}): HemodynamicWaveform {
  const ctx = resolveContext(options, {
    kind: 'hemodynamic',
    patient: { patientName: 'Demo^Cath', patientId: 'ATR-XA-0001', issuerOfPatientId: 'ATRIUM', patientBirthDate: '19580923', patientSex: 'M' },
    study: { studyDate: '20240319', studyTime: '113000', accessionNumber: 'ACC-XA-0001', studyId: 'XA1', studyDescription: 'Coronary angiography', referringPhysicianName: 'Referrer^Rita' },
    series: { seriesNumber: 2, seriesDescription: 'Hemodynamics' },
  });
  const fs = options.samplingFrequency ?? 250;
  const heartRate = options.heartRate ?? 72;
  const samples = Math.round((options.durationSeconds ?? 10) * fs);
  const arterial = { systolic: options.systolicMmHg ?? 120, diastolic: options.diastolicMmHg ?? 80 };
  const pulmonary = { systolic: options.pulmonarySystolicMmHg ?? 25, diastolic: options.pulmonaryDiastolicMmHg ?? 10 };
  if (fs <= 0 || fs > 400) throw new RangeError(`Cannot build hemodynamic waveform: sampling frequency ${fs} Hz is outside the IOD's limit of 400 Hz`);
  for (const p of [arterial, pulmonary]) {
    if (!(p.systolic > p.diastolic) || p.diastolic < 0 || p.systolic > 300) {
      throw new RangeError(`Cannot build hemodynamic waveform: pressure ${p.systolic}/${p.diastolic} mmHg is not systolic above diastolic within 0-300`);
    }
  }
  const ms = (v: number): number => Math.round((v * fs) / 1000);
  const rr = (60 * fs) / heartRate;
  if (rr <= ms(500)) throw new RangeError(`Cannot build hemodynamic waveform: ${heartRate} bpm leaves no diastole for the pressure pulse`);

  // R waves from 200 ms on; each pressure cycle runs from 120 ms after its R wave to 120 ms after the next.
  const rWaves: number[] = [];
  for (let k = 0; Math.round(ms(200) + k * rr) < samples; k++) rWaves.push(Math.round(ms(200) + k * rr));
  const delay = ms(120);
  const ecg = new Float64Array(samples);
  const shape = new Float64Array(samples);
  const peaks: number[] = [];
  let wholeStart = -1;
  let wholeEnd = -1;
  for (let k = -1; k < rWaves.length; k++) {
    const start = Math.round(ms(200) + k * rr) + delay;
    const end = Math.round(ms(200) + (k + 1) * rr) + delay;
    for (let i = Math.max(0, start); i < Math.min(samples, end); i++) shape[i] = pressurePulse(i - start, end - start, fs);
    if (start >= 0 && end <= samples) {
      peaks.push(start + ms(120));
      if (wholeStart < 0) wholeStart = start;
      wholeEnd = end;
    }
  }
  const halfQrs = ms(40);
  for (const r of rWaves) {
    // A narrow QRS (peak 1 mV at the R wave) and a T wave 250-400 ms after it, µV.
    for (let i = -halfQrs; i <= halfQrs; i++) if (r + i >= 0 && r + i < samples) ecg[r + i] = 1000 * (1 - Math.abs(i) / halfQrs);
    for (let i = ms(250); i < ms(400); i++) if (r + i < samples) ecg[r + i] = 250 * Math.sin((Math.PI * (i - ms(250))) / ms(150));
  }

  const channelCount = 3;
  const data = new Int16Array(samples * channelCount);
  const pressureOf = (p: { systolic: number; diastolic: number }, i: number): number => p.diastolic + (p.systolic - p.diastolic) * shape[i]!;
  for (let i = 0; i < samples; i++) {
    data[i * channelCount] = Math.round(ecg[i]! / ECG_SENSITIVITY_UV);
    data[i * channelCount + 1] = Math.round(pressureOf(arterial, i) / PRESSURE_SENSITIVITY_MMHG);
    data[i * channelCount + 2] = Math.round(pressureOf(pulmonary, i) / PRESSURE_SENSITIVITY_MMHG);
  }
  // Mean pressure over whole cycles, from the stored samples as a reader decodes them.
  const meanOf = (channel: number): number => {
    let sum = 0;
    for (let i = wholeStart; i < wholeEnd; i++) sum += data[i * channelCount + channel]! * PRESSURE_SENSITIVITY_MMHG;
    return Math.round((sum / (wholeEnd - wholeStart)) * 10) / 10;
  };

  const channels: HemodynamicChannel[] = [
    { label: 'II', unit: 'uV', sensitivity: ECG_SENSITIVITY_UV },
    { label: 'Art pressure', unit: 'mm[Hg]', sensitivity: PRESSURE_SENSITIVITY_MMHG, ...arterial, mean: meanOf(1), peaks },
    { label: 'PA pressure', unit: 'mm[Hg]', sensitivity: PRESSURE_SENSITIVITY_MMHG, ...pulmonary, mean: meanOf(2), peaks },
  ];
  const sources = [code('2:2', 'MDC', 'Lead II'), code('128446002', 'SCT', 'Arterial pressure waveform'), code('128443005', 'SCT', 'Pulmonary artery pressure waveform')];
  const units = { uV: code('uV', 'UCUM', 'microvolt'), 'mm[Hg]': code('mm[Hg]', 'UCUM', 'mmHg') } as Record<string, WritableDataset>;
  const channelDefinition = (c: HemodynamicChannel, i: number): WritableDataset =>
    keywordDataset({
      ChannelLabel: ['SH', c.label],
      ChannelSourceSequence: sequence(sources[i]!),
      ChannelSensitivity: ['DS', c.sensitivity],
      ChannelSensitivityUnitsSequence: sequence(units[c.unit]!),
      ChannelSensitivityCorrectionFactor: ['DS', 1],
      ChannelBaseline: ['DS', 0],
      ChannelSampleSkew: ['DS', 0],
      WaveformBitsStored: ['US', 16],
    });
  const measurement = (channel: number, codeValue: string, meaning: string, value: number): WritableDataset =>
    keywordDataset({
      ConceptNameCodeSequence: sequence(code(codeValue, 'SCT', meaning)),
      NumericValue: ['DS', value],
      MeasurementUnitsCodeSequence: sequence(units['mm[Hg]']!),
      // Multiplex group 1, the channel's 1-based number (PS3.3 §C.10.10.1.1).
      ReferencedWaveformChannels: ['US', 1, channel + 1],
      AnnotationGroupNumber: ['US', 1],
    });
  const annotations = [1, 2].flatMap((c) => {
    const channel = channels[c]!;
    return [
      measurement(c, '314440001', 'Average systolic blood pressure', channel.systolic!),
      measurement(c, '314453003', 'Average diastolic blood pressure', channel.diastolic!),
      measurement(c, '6797001', 'Mean blood pressure', channel.mean!),
    ];
  });

  const sopInstanceUid = ctx.uid('instance/1');
  const dataset = {
    ...commonModules(ctx, { sopClassUid: HEMODYNAMIC_WAVEFORM_STORAGE, sopInstanceUid, modality: 'HD' }),
    ...keywordDataset({
      ContentDate: ['DA', ctx.study.studyDate],
      ContentTime: ['TM', ctx.study.studyTime],
      AcquisitionDateTime: ['DT', `${ctx.study.studyDate}${ctx.study.studyTime}`],
      InstanceNumber: ['IS', 1],
      // The heart is unpaired: with Body Part Examined, General Series needs no Laterality.
      BodyPartExamined: ['CS', 'HEART'],
      // Synchronization Module (§C.7.4.2), required for an ORIGINAL waveform of this IOD.
      SynchronizationFrameOfReferenceUID: ['UI', UTC_FRAME_OF_REFERENCE],
      SynchronizationTrigger: ['CS', 'NO TRIGGER'],
      AcquisitionTimeSynchronized: ['CS', 'N'],
      AcquisitionContextSequence: sequence(),
      WaveformSequence: sequence(
        keywordDataset({
          WaveformOriginality: ['CS', 'ORIGINAL'],
          NumberOfWaveformChannels: ['US', channelCount],
          NumberOfWaveformSamples: ['UL', samples],
          SamplingFrequency: ['DS', fs],
          MultiplexGroupLabel: ['SH', 'HEMODYNAMICS'],
          ChannelDefinitionSequence: sequence(...channels.map(channelDefinition)),
          WaveformBitsAllocated: ['US', 16],
          WaveformSampleInterpretation: ['CS', 'SS'],
          WaveformData: { vr: 'OW', Bytes: new Uint8Array(data.buffer) },
        }),
      ),
      WaveformAnnotationSequence: sequence(...annotations),
    }),
  };
  const transferSyntaxUid = ExplicitVrLittleEndian;
  const bytes = encodePart10({ dataset, transferSyntaxUid });
  return {
    ...instanceFromBytes(
      {
        sopClassUid: HEMODYNAMIC_WAVEFORM_STORAGE,
        sopInstanceUid,
        ...identityOf(ctx),
        transferSyntaxUid,
      },
      bytes,
    ),
    samplingFrequency: fs,
    numberOfSamples: samples,
    channels,
    rWaves,
  };
}
