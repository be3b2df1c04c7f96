import { ExplicitVrLittleEndian } from '../transfer-syntax.js';
import { keywordDataset } from './attributes.js';
import type { SyntheticCommonOptions, SyntheticObject } from './common.js';
import { commonModules, resolveContext, identityOf } from './common.js';
import { buildMultiframe } from './multiframe.js';

/** X-Ray Angiographic Image Storage (PS3.4 Annex B.5, PS3.3 §A.14). */
export const XA_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.12.1';

export interface XaRunOptions extends SyntheticCommonOptions {
  /** Default 30. */
  frames?: number;
  /** Default 15. */
  frameRate?: number;
  /** Default 512 x 512. */
  rows?: number;
  columns?: number;
  /** mm at the detector; default 0.2. */
  imagerPixelSpacing?: number;
  /** Distance Source to Detector, mm; default 1000. */
  sourceToDetector?: number;
  /** Distance Source to Patient (isocentre), mm; default 750. */
  sourceToPatient?: number;
  /** Catheter diameter in mm drawn at the isocentre; default 2 (6 F). */
  catheterMm?: number;
}

export interface XaRun extends SyntheticObject {
  readonly frames: number;
  /** mm per pixel at the isocentre: imager spacing × SOD / SID. */
  readonly isocentreSpacing: number;
  /** The catheter: a horizontal band from row `catheterTop`, `catheterPixels` rows high, dark on every frame. */
  readonly catheterTop: number;
  readonly catheterPixels: number;
}

/**
 * A coronary angiography run (PS3.3 §A.14 XA IOD): a horizontal catheter of known diameter and a vessel that fills
 * with contrast over the run, with the X-Ray Acquisition geometry (Imager Pixel Spacing, Distance Source to
 * Detector and to Patient) that calibrates measurements at the isocentre, and the Cine module.
 */
export function buildXaRun(options: XaRunOptions = {}): XaRun {
  const ctx = resolveContext(options, {
    kind: 'xa',
    patient: { patientName: 'Demo^Cath', patientId: 'ATR-XA-0001', issuerOfPatientId: 'ATRIUM', patientBirthDate: '19580923', patientSex: 'M' },
    study: { studyDate: '20240319', studyTime: '113000', accessionNumber: 'ACC-XA-0001', studyId: 'XA1', studyDescription: 'Coronary angiography', referringPhysicianName: 'Referrer^Rita' },
    series: { seriesNumber: 1, seriesDescription: 'LCA RAO 30 CAU 20' },
  });
  const frames = options.frames ?? 30;
  const frameRate = options.frameRate ?? 15;
  const rows = options.rows ?? 512;
  const columns = options.columns ?? 512;
  const imager = options.imagerPixelSpacing ?? 0.2;
  const sid = options.sourceToDetector ?? 1000;
  const sod = options.sourceToPatient ?? 750;
  const isocentreSpacing = (imager * sod) / sid;
  const catheterPixels = Math.round((options.catheterMm ?? 2) / isocentreSpacing);
  const catheterTop = Math.round(rows * 0.2);
  const sopInstanceUid = ctx.uid('instance/1');
  const frame = (index: number, target: Uint8Array): void => {
    const fill = Math.min(1, (index + 1) / (frames * 0.6));
    for (let r = 0, i = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++, i++) {
        let value = 200 - Math.round(40 * Math.hypot(r / rows - 0.5, c / columns - 0.5));
        if (r >= catheterTop && r < catheterTop + catheterPixels && c < columns * 0.7) value = 60;
        // The vessel: a sine curve downward from the catheter tip, filled up to `fill` of its length.
        const along = (r - catheterTop) / (rows - catheterTop);
        const centre = columns * 0.7 + 40 * Math.sin(along * 6);
        if (along > 0 && along < fill && Math.abs(c - centre) < 6 - 3 * along) value = 80;
        target[i] = value;
      }
    }
  };
  const dataset = {
    ...commonModules(ctx, { sopClassUid: XA_IMAGE_STORAGE, sopInstanceUid, modality: 'XA' }),
    ...keywordDataset({
      ImageType: ['CS', 'ORIGINAL', 'PRIMARY', 'SINGLE PLANE'],
      AcquisitionDateTime: ['DT', `${ctx.study.studyDate}${ctx.study.studyTime}`],
      ContentDate: ['DA', ctx.study.studyDate],
      ContentTime: ['TM', ctx.study.studyTime],
      BodyPartExamined: ['CS', 'HEART'],
      KVP: ['DS', 80],
      XRayTubeCurrent: ['IS', 600],
      RadiationSetting: ['CS', 'GR'],
      ImagerPixelSpacing: ['DS', imager, imager],
      DistanceSourceToDetector: ['DS', sid],
      DistanceSourceToPatient: ['DS', sod],
      EstimatedRadiographicMagnificationFactor: ['DS', sid / sod],
      PositionerMotion: ['CS', 'STATIC'],
      PositionerPrimaryAngle: ['DS', -30],
      PositionerSecondaryAngle: ['DS', 20],
      FrameTime: ['DS', 1000 / frameRate],
      CineRate: ['IS', Math.round(frameRate)],
      RecommendedDisplayFrameRate: ['IS', Math.round(frameRate)],
      FrameIncrementPointer: ['AT', '00181063'],
      InstanceNumber: ['IS', 1],
      PatientOrientation: ['CS'],
      PhotometricInterpretation: ['CS', 'MONOCHROME2'],
      PixelIntensityRelationship: ['CS', 'LIN'],
      PixelRepresentation: ['US', 0],
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
  return { ...object, frames, isocentreSpacing, catheterTop, catheterPixels };
}
