import { ExplicitVrLittleEndian } from '../transfer-syntax.js';
import { keywordDataset, sequence } from './attributes.js';
import type { SyntheticCommonOptions, SyntheticObject } from './common.js';
import { commonModules, resolveContext, identityOf } from './common.js';
import type { SyntheticTransferSyntax } from './ct-series.js';
import { buildMultiframe } from './multiframe.js';
import { seededRandom } from './random.js';

/** Ultrasound Multi-frame Image Storage (PS3.4 Annex B.5, PS3.3 §A.7). */
export const US_MULTIFRAME_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.3.1';

export interface UltrasoundClipOptions extends SyntheticCommonOptions {
  /** Default 60 (one second at the default frame rate). */
  frames?: number;
  /** Default 480. */
  rows?: number;
  /** Default 640. */
  columns?: number;
  /** Default MONOCHROME2. RGB adds a green ECG trace sweeping along the bottom, as echo machines show. */
  photometricInterpretation?: 'MONOCHROME2' | 'RGB';
  /** Frames per second; Frame Time, Frame Time Vector, Cine Rate and Recommended Display Frame Rate follow. Default 60. */
  frameRate?: number;
  /**
   * Which attribute Frame Increment Pointer names: `FrameTime` (default, one value) or `FrameTimeVector` (one
   * value per frame, the first 0). Only that one is written, as the Cine Module requires.
   */
  frameIncrement?: 'FrameTime' | 'FrameTimeVector';
  /** Beats per minute of the simulated heart. Default 72. */
  heartRate?: number;
  /** Imaging depth in cm, which sets Physical Delta X/Y of the region. Default 16. */
  depthCm?: number;
  /** Explicit VR LE (default), Implicit VR LE or RLE Lossless. */
  transferSyntaxUid?: SyntheticTransferSyntax;
}

/** The calibrated region of the clip (PS3.3 §C.8.5.5): where the sector is and how big a pixel is. */
export interface UltrasoundRegion {
  readonly minX0: number;
  readonly minY0: number;
  readonly maxX1: number;
  readonly maxY1: number;
  /** cm per pixel. */
  readonly physicalDeltaX: number;
  readonly physicalDeltaY: number;
}

export interface UltrasoundClip extends SyntheticObject {
  readonly frames: number;
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: 1 | 3;
  /** ms between frames. */
  readonly frameTime: number;
  readonly region: UltrasoundRegion;
}

interface Chamber {
  x: number;
  y: number;
  a: number;
  b: number;
  /** How much the chamber shrinks in systole (ventricles) or grows (atria). */
  squeeze: number;
}

/**
 * An echocardiography-like clip (PS3.3 §A.7 US Multi-frame Image IOD): an apical sector with speckle, four beating
 * chambers and, for RGB, an ECG trace; Cine and Multi-frame modules from the frame rate, and one Sequence of
 * Ultrasound Regions item with known physical deltas. Frames are made lazily (see `buildMultiframe`), so clips of
 * a gigabyte stream in a few MB of memory.
 */
export function buildUltrasoundClip(options: UltrasoundClipOptions = {}): UltrasoundClip {
  const ctx = resolveContext(options, {
    kind: 'us',
    patient: {
      patientName: 'Demo^Echo',
      patientId: 'ATR-US-0001',
      issuerOfPatientId: 'ATRIUM',
      patientBirthDate: '19550704',
      patientSex: 'M',
    },
    study: {
      studyDate: '20240316',
      studyTime: '141500',
      accessionNumber: 'ACC-US-0001',
      studyId: 'US1',
      studyDescription: 'Echocardiogram transthoracic',
      referringPhysicianName: 'Referrer^Rita',
    },
    series: { seriesNumber: 1, seriesDescription: 'Apical 4 chamber' },
  });
  const frames = options.frames ?? 60;
  const rows = options.rows ?? 480;
  const columns = options.columns ?? 640;
  const rgb = options.photometricInterpretation === 'RGB';
  const samplesPerPixel = rgb ? 3 : 1;
  const frameRate = options.frameRate ?? 60;
  const heartRate = options.heartRate ?? 72;
  const depthCm = options.depthCm ?? 16;
  const frameTime = 1000 / frameRate;
  const sopInstanceUid = ctx.uid('instance/1');

  // Sector geometry: apex near the top centre, opening 76 degrees.
  const apexX = columns / 2;
  const apexY = Math.round(rows * 0.05);
  const depth = rows - apexY - 12;
  const halfAngle = (38 * Math.PI) / 180;
  const halfWidth = Math.min(apexX - 1, Math.ceil(depth * Math.sin(halfAngle)));
  const region: UltrasoundRegion = {
    minX0: Math.floor(apexX - halfWidth),
    minY0: apexY,
    maxX1: Math.ceil(apexX + halfWidth) - 1,
    maxY1: apexY + depth,
    physicalDeltaX: depthCm / depth,
    physicalDeltaY: depthCm / depth,
  };

  // Per-pixel geometry and speckle are made once per clip; frames only move the chambers.
  const pixels = rows * columns;
  const attenuation = new Float32Array(pixels);
  const speckle = new Uint8Array(pixels);
  const random = seededRandom(ctx.seed * 7919 + 17);
  for (let r = 0, i = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++, i++) {
      const dx = c - apexX;
      const dy = r - apexY;
      const radius = Math.sqrt(dx * dx + dy * dy);
      const inside = dy > 0 && radius <= depth && Math.abs(Math.atan2(dx, dy)) <= halfAngle;
      attenuation[i] = inside ? 1.15 - 0.55 * (radius / depth) : 0;
      speckle[i] = random.int(256);
    }
  }
  const chambers: Chamber[] = [
    { x: apexX - 0.11 * depth, y: apexY + 0.42 * depth, a: 0.1 * depth, b: 0.25 * depth, squeeze: 0.22 },
    { x: apexX + 0.12 * depth, y: apexY + 0.45 * depth, a: 0.08 * depth, b: 0.2 * depth, squeeze: 0.18 },
    { x: apexX - 0.12 * depth, y: apexY + 0.82 * depth, a: 0.1 * depth, b: 0.1 * depth, squeeze: -0.12 },
    { x: apexX + 0.12 * depth, y: apexY + 0.83 * depth, a: 0.08 * depth, b: 0.09 * depth, squeeze: -0.1 },
  ];
  const wall = 1.45;
  const traceTop = rows - 44;

  const frame = (index: number, target: Uint8Array): void => {
    const seconds = (index * frameTime) / 1000;
    const phase = (seconds * heartRate) / 60 - Math.floor((seconds * heartRate) / 60);
    // Systole takes the first 40% of the cycle.
    const contraction = phase < 0.4 ? Math.sin((Math.PI * phase) / 0.4) : 0;
    const shapes = chambers.map((ch) => {
      const s = 1 - ch.squeeze * contraction;
      return { x: ch.x, y: ch.y, ia: 1 / (ch.a * s), ib: 1 / (ch.b * s) };
    });
    const shift = (index * 3) % pixels;
    for (let r = 0, i = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++, i++) {
        const att = attenuation[i]!;
        let value = 0;
        if (att > 0) {
          let tissue = 62;
          for (const sh of shapes) {
            const u = (c - sh.x) * sh.ia;
            const v = (r - sh.y) * sh.ib;
            const d = u * u + v * v;
            if (d < 1) {
              tissue = 6;
              break;
            }
            if (d < wall) tissue = 150;
          }
          const noise = speckle[(i + shift) % pixels]!;
          value = Math.min(255, tissue * att * (0.35 + noise / 196));
        }
        if (rgb) {
          const o = i * 3;
          target[o] = value;
          target[o + 1] = value;
          target[o + 2] = value;
        } else {
          target[i] = value;
        }
      }
    }
    if (rgb) drawEcgTrace(target, rows, columns, traceTop, seconds, heartRate);
  };

  const byVector = options.frameIncrement === 'FrameTimeVector';
  const frameTimeVector = Array.from({ length: frames }, (_, i) => (i === 0 ? 0 : frameTime));
  const dataset = {
    ...commonModules(ctx, { sopClassUid: US_MULTIFRAME_IMAGE_STORAGE, sopInstanceUid, modality: 'US' }),
    ...keywordDataset({
      // Value 3 from the defined terms of PS3.3 §C.8.5.6.1.1 (none is "transthoracic"); value 4: 2D imaging only.
      ImageType: ['CS', 'ORIGINAL', 'PRIMARY', 'CHEST', '0001'],
      AcquisitionDateTime: ['DT', `${ctx.study.studyDate}${ctx.study.studyTime}`],
      ContentDate: ['DA', ctx.study.studyDate],
      ContentTime: ['TM', ctx.study.studyTime],
      BodyPartExamined: ['CS', 'HEART'],
      // Exactly one of the two, the one Frame Increment Pointer names (PS3.3 §C.7.6.5: both are Type 1C).
      FrameTime: byVector ? undefined : ['DS', frameTime],
      FrameTimeVector: byVector ? ['DS', ...frameTimeVector] : undefined,
      CineRate: ['IS', Math.round(frameRate)],
      RecommendedDisplayFrameRate: ['IS', Math.round(frameRate)],
      EffectiveDuration: ['DS', (frames * frameTime) / 1000],
      ActualFrameDuration: ['IS', Math.round(frameTime)],
      PreferredPlaybackSequencing: ['US', 0],
      StartTrim: ['IS', 1],
      StopTrim: ['IS', frames],
      HeartRate: ['IS', heartRate],
      TransducerData: ['LO', 'S5-1'],
      ProcessingFunction: ['LO', 'CARDIAC'],
      SequenceOfUltrasoundRegions: sequence(
        keywordDataset({
          RegionSpatialFormat: ['US', 1],
          RegionDataType: ['US', 1],
          RegionFlags: ['UL', 0],
          RegionLocationMinX0: ['UL', region.minX0],
          RegionLocationMinY0: ['UL', region.minY0],
          RegionLocationMaxX1: ['UL', region.maxX1],
          RegionLocationMaxY1: ['UL', region.maxY1],
          ReferencePixelX0: ['SL', Math.round(apexX) - region.minX0],
          ReferencePixelY0: ['SL', 0],
          PhysicalUnitsXDirection: ['US', 3],
          PhysicalUnitsYDirection: ['US', 3],
          ReferencePixelPhysicalValueX: ['FD', 0],
          ReferencePixelPhysicalValueY: ['FD', 0],
          PhysicalDeltaX: ['FD', region.physicalDeltaX],
          PhysicalDeltaY: ['FD', region.physicalDeltaY],
        }),
      ),
      InstanceNumber: ['IS', 1],
      PatientOrientation: ['CS'],
      PhotometricInterpretation: ['CS', rgb ? 'RGB' : 'MONOCHROME2'],
      FrameIncrementPointer: ['AT', byVector ? '00181065' : '00181063'],
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
    samplesPerPixel,
    bitsAllocated: 8,
    frame,
    transferSyntaxUid: options.transferSyntaxUid ?? ExplicitVrLittleEndian,
    identity: identityOf(ctx),
  });
  return { ...object, frames, rows, columns, samplesPerPixel, frameTime, region };
}

/** A one-lead ECG shape in [-0.3, 1], by position in the cardiac cycle: P, QRS and T bumps. */
function ecgShape(phase: number): number {
  const bump = (centre: number, width: number, height: number): number =>
    height * Math.exp(-(((phase - centre) / width) ** 2));
  return bump(0.1, 0.025, 0.15) - bump(0.18, 0.008, 0.2) + bump(0.2, 0.01, 1) - bump(0.22, 0.008, 0.3) + bump(0.45, 0.05, 0.3);
}

/** A sweeping ECG trace over the last two seconds, drawn in green up to the current time, as echo machines show. */
function drawEcgTrace(target: Uint8Array, rows: number, columns: number, top: number, seconds: number, heartRate: number): void {
  const sweep = 2;
  const cursor = Math.floor(((seconds % sweep) / sweep) * columns);
  let previous = -1;
  for (let c = 0; c <= cursor && c < columns; c++) {
    const t = seconds - ((cursor - c) / columns) * sweep;
    const beat = (t * heartRate) / 60;
    const y = Math.round(top + 28 - 26 * ecgShape(beat - Math.floor(beat)));
    const from = previous < 0 ? y : Math.min(previous, y);
    const to = previous < 0 ? y : Math.max(previous, y);
    for (let r = Math.max(0, from); r <= Math.min(rows - 1, to + 1); r++) {
      const o = (r * columns + c) * 3;
      target[o] = 0;
      target[o + 1] = 220;
      target[o + 2] = 0;
    }
    previous = y;
  }
}
