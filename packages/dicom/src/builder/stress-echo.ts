import { ExplicitVrLittleEndian } from '../transfer-syntax.js';
import { keywordDataset, sequence } from './attributes.js';
import type { SyntheticCommonOptions, SyntheticObject } from './common.js';
import { commonModules, resolveContext, identityOf } from './common.js';
import { buildMultiframe } from './multiframe.js';
import { US_MULTIFRAME_IMAGE_STORAGE } from './ultrasound-clip.js';

export interface StressEchoOptions extends SyntheticCommonOptions {
  /** Stage names in protocol order; default REST, LOW DOSE, PEAK, RECOVERY. */
  stages?: readonly string[];
  /** View names; default PLAX, PSAX, A4C, A2C. */
  views?: readonly string[];
  /** Frames per clip; default 32. */
  frames?: number;
  /**
   * Heart rate of each stage, bpm; default one beat per clip (60 × frameRate / frames) at every stage. A faster
   * stage has several R waves in its clip, all listed in R Wave Pointer.
   */
  heartRates?: readonly number[];
  /** Default 30. */
  frameRate?: number;
  /** Default 96 x 128. */
  rows?: number;
  columns?: number;
}

export interface StressEchoClip extends SyntheticObject {
  readonly stage: string;
  readonly stageNumber: number;
  readonly view: string;
  readonly viewNumber: number;
  /** 1-based frame of the first R wave (R Wave Pointer). */
  readonly rWaveFrame: number;
  /** 1-based frames of every R wave in the clip (R Wave Pointer). */
  readonly rWaveFrames: readonly number[];
  /** Frames per cardiac cycle at this stage's heart rate. */
  readonly cycleFrames: number;
}

export interface StressEchoSet {
  readonly studyInstanceUid: string;
  readonly clips: readonly StressEchoClip[];
}

/**
 * Pixel value written in the first `PHASE_MARKER_WIDTH` pixels of row 0: 4 × frames × the fraction of the cardiac
 * cycle since the last R wave (4 × the frame's position counted from the R wave when the clip is one beat), so a
 * reader can check that synchronised clips show the same phase.
 */
export const PHASE_MARKER_WIDTH = 8;

/**
 * A stress echo study (PS3.3 §C.8.5.6 US Image Module Stage and View attributes): one US multi-frame clip per
 * stage and view, one series per stage, each clip starting at a different frame of the cycle with its R waves
 * given by R Wave Pointer, so aligning on the first puts all clips in step; with `heartRates`, stages beat at
 * different rates and only a reader that also matches the cycle lengths keeps them in step.
 */
export function buildStressEcho(options: StressEchoOptions = {}): StressEchoSet {
  const stages = options.stages ?? ['REST', 'LOW DOSE', 'PEAK', 'RECOVERY'];
  const views = options.views ?? ['PLAX', 'PSAX', 'A4C', 'A2C'];
  const frames = options.frames ?? 32;
  const frameRate = options.frameRate ?? 30;
  const rows = options.rows ?? 96;
  const columns = options.columns ?? 128;
  const frameTime = 1000 / frameRate;
  const clips: StressEchoClip[] = [];
  let studyInstanceUid = '';
  stages.forEach((stage, s) => {
    const ctx = resolveContext(
      { ...options, series: { seriesNumber: s + 1, seriesDescription: `Stress echo ${stage}`, ...options.series } },
      {
        kind: 'stress-echo',
        patient: { patientName: 'Demo^Stress', patientId: 'ATR-SE-0001', issuerOfPatientId: 'ATRIUM', patientBirthDate: '19600214', patientSex: 'F' },
        study: { studyDate: '20240318', studyTime: '100000', accessionNumber: 'ACC-SE-0001', studyId: 'SE1', studyDescription: 'Stress echocardiogram', referringPhysicianName: 'Referrer^Rita' },
        series: { seriesNumber: s + 1, seriesDescription: `Stress echo ${stage}` },
      },
    );
    studyInstanceUid = ctx.study.studyInstanceUid;
    views.forEach((view, v) => {
      const cycleFrames = options.heartRates?.[s] ? (60 * frameRate) / options.heartRates[s] : frames;
      // Clips start at different points of the beat; the R wave is where phase 0 is. A clip shorter than two
      // beats starts early enough to hold two R waves.
      const room = cycleFrames < frames ? Math.min(Math.floor(frames / 2), Math.floor(frames - cycleFrames)) : Math.floor(frames / 2);
      const rWaveFrame = 1 + ((s * 5 + v * 3) % Math.max(1, room));
      const rWaveFrames: number[] = [];
      for (let k = 0; Math.round(rWaveFrame + k * cycleFrames) <= frames; k++) rWaveFrames.push(Math.round(rWaveFrame + k * cycleFrames));
      const cycleFraction = (index: number): number => ((((index - (rWaveFrame - 1)) % cycleFrames) + cycleFrames) % cycleFrames) / cycleFrames;
      const phaseOf = (index: number): number => cycleFraction(index) * frames;
      const cx = columns / 2;
      const cy = rows / 2;
      const frame = (index: number, target: Uint8Array): void => {
        const phase = phaseOf(index) / frames;
        const contraction = phase < 0.4 ? Math.sin((Math.PI * phase) / 0.4) : 0;
        const radius = (Math.min(rows, columns) / 4) * (1 - 0.3 * contraction) * (1 + 0.1 * v);
        for (let r = 0, i = 0; r < rows; r++) {
          for (let c = 0; c < columns; c++, i++) {
            const d = Math.hypot(c - cx, (r - cy) * (1 + 0.2 * s));
            target[i] = d < radius ? 10 : d < radius * 1.35 ? 170 : 40 + ((r * 7 + c * 13 + v * 29) % 23);
          }
        }
        target.fill(Math.min(255, Math.round(4 * phaseOf(index))), 0, PHASE_MARKER_WIDTH);
      };
      const sopInstanceUid = ctx.uid(`instance/${v + 1}`);
      const minute = String(s * 10 + v).padStart(2, '0');
      const dataset = {
        ...commonModules(ctx, { sopClassUid: US_MULTIFRAME_IMAGE_STORAGE, sopInstanceUid, modality: 'US' }),
        ...keywordDataset({
          ImageType: ['CS', 'ORIGINAL', 'PRIMARY', 'CHEST', '0001'],
          AcquisitionDateTime: ['DT', `${ctx.study.studyDate}10${minute}00`],
          ContentDate: ['DA', ctx.study.studyDate],
          ContentTime: ['TM', `10${minute}00`],
          BodyPartExamined: ['CS', 'HEART'],
          FrameTime: ['DS', frameTime],
          CineRate: ['IS', Math.round(frameRate)],
          RecommendedDisplayFrameRate: ['IS', Math.round(frameRate)],
          FrameIncrementPointer: ['AT', '00181063'],
          HeartRate: ['IS', Math.round((60 * frameRate) / cycleFrames)],
          StageName: ['SH', stage],
          StageNumber: ['IS', s + 1],
          NumberOfStages: ['IS', stages.length],
          ViewName: ['SH', view],
          ViewNumber: ['IS', v + 1],
          NumberOfViewsInStage: ['IS', views.length],
          RWavePointer: ['US', ...rWaveFrames],
          SequenceOfUltrasoundRegions: sequence(
            keywordDataset({
              RegionSpatialFormat: ['US', 1],
              RegionDataType: ['US', 1],
              RegionFlags: ['UL', 0],
              RegionLocationMinX0: ['UL', 0],
              RegionLocationMinY0: ['UL', 1],
              RegionLocationMaxX1: ['UL', columns - 1],
              RegionLocationMaxY1: ['UL', rows - 1],
              PhysicalUnitsXDirection: ['US', 3],
              PhysicalUnitsYDirection: ['US', 3],
              PhysicalDeltaX: ['FD', 0.1],
              PhysicalDeltaY: ['FD', 0.1],
            }),
          ),
          InstanceNumber: ['IS', v + 1],
          PatientOrientation: ['CS'],
          PhotometricInterpretation: ['CS', 'MONOCHROME2'],
          PixelRepresentation: ['US', 0],
          BurnedInAnnotation: ['CS', 'NO'],
          LossyImageCompression: ['CS', '00'],
        }),
      };
      const object = buildMultiframe({
        dataset,
        frames,
        rows,
        columns,
        samplesPerPixel: 1,
        bitsAllocated: 8,
        frame,
        transferSyntaxUid: ExplicitVrLittleEndian,
        identity: identityOf(ctx),
      });
      clips.push({ ...object, stage, stageNumber: s + 1, view, viewNumber: v + 1, rWaveFrame, rWaveFrames, cycleFrames });
    });
  });
  return { studyInstanceUid, clips };
}
