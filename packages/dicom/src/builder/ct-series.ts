import { ExplicitVrLittleEndian, ImplicitVrLittleEndian, RleLossless } from '../transfer-syntax.js';
import { encodePart10 } from '../writer.js';
import type { WritableAttribute } from '../writer.js';
import { keywordDataset, sequence, code } from './attributes.js';
import type { SyntheticCommonOptions, SyntheticInstance } from './common.js';
import { commonModules, instanceFromBytes, resolveContext, identityOf } from './common.js';
import { ctPhantomSlice } from './phantom.js';
import { seededRandom } from './random.js';
import { encodeRleFrame } from './rle.js';

/** CT Image Storage (PS3.4 Annex B.5, PS3.3 §A.3). */
export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

/** The transfer syntaxes the builders write. */
export type SyntheticTransferSyntax = typeof ExplicitVrLittleEndian | typeof ImplicitVrLittleEndian | typeof RleLossless;

export interface CtSeriesOptions extends SyntheticCommonOptions {
  /** Number of slices; default 20. */
  slices?: number;
  /** Default 512. */
  rows?: number;
  /** Default 512. */
  columns?: number;
  /** Slice thickness and spacing, mm; default 2.5. */
  sliceThickness?: number;
  /** Reconstruction field of view, mm; pixel spacing is this over the matrix size. Default 360. */
  fieldOfView?: number;
  /** Image noise, HU; default 8. */
  noiseHu?: number;
  /** Explicit VR LE (default), Implicit VR LE or RLE Lossless. */
  transferSyntaxUid?: SyntheticTransferSyntax;
}

/** One CT slice: the UIDs, where it is, and its Part 10 bytes. */
export interface CtSlice extends SyntheticInstance {
  readonly instanceNumber: number;
  /** Image Position (Patient) z, mm. */
  readonly sliceLocation: number;
}

export interface CtSeries {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly frameOfReferenceUid: string;
  readonly patientId: string;
  readonly instances: readonly CtSlice[];
}

/** Stored value = HU - intercept: signed 16-bit with intercept -1024, as many scanners write. */
export const CT_RESCALE_INTERCEPT = -1024;

/**
 * A CT series of an axial thorax phantom (PS3.3 §A.3 CT Image IOD): body, fat, lungs, heart, aorta, spine, ribs
 * and a lung lesion, 16-bit signed with Rescale Slope/Intercept, soft-tissue and lung window presets, slices
 * stepping along z (head first supine, superior to inferior). Deterministic: the same options give the same bytes.
 */
export function buildCtSeries(options: CtSeriesOptions = {}): CtSeries {
  const ctx = resolveContext(options, {
    kind: 'ct',
    patient: {
      patientName: 'Demo^Ct',
      patientId: 'ATR-CT-0001',
      issuerOfPatientId: 'ATRIUM',
      patientBirthDate: '19620314',
      patientSex: 'F',
    },
    study: {
      studyDate: '20240315',
      studyTime: '093000',
      accessionNumber: 'ACC-CT-0001',
      studyId: 'CT1',
      studyDescription: 'CT Chest with contrast',
      referringPhysicianName: 'Referrer^Rita',
    },
    series: { seriesNumber: 2, seriesDescription: 'Axial 2.5mm' },
  });
  const slices = options.slices ?? 20;
  const rows = options.rows ?? 512;
  const columns = options.columns ?? 512;
  const thickness = options.sliceThickness ?? 2.5;
  const fieldOfView = options.fieldOfView ?? 360;
  const spacing = fieldOfView / Math.max(rows, columns);
  const noiseHu = options.noiseHu ?? 8;
  const transferSyntaxUid = options.transferSyntaxUid ?? ExplicitVrLittleEndian;
  const frameOfReferenceUid = ctx.uid('frame-of-reference');
  const firstZ = ((slices - 1) / 2) * thickness;

  const instances: CtSlice[] = [];
  for (let i = 0; i < slices; i++) {
    const instanceNumber = i + 1;
    const z = firstZ - i * thickness;
    const sopInstanceUid = ctx.uid(`instance/${instanceNumber}`);
    const hu = ctPhantomSlice({
      rows,
      columns,
      pixelSpacing: spacing,
      z,
      noiseHu,
      random: seededRandom(ctx.seed * 100003 + instanceNumber),
    });
    const stored = new Int16Array(hu.length);
    for (let p = 0; p < hu.length; p++) stored[p] = hu[p]! - CT_RESCALE_INTERCEPT;
    const pixelBytes = new Uint8Array(stored.buffer);
    const pixelData: WritableAttribute =
      transferSyntaxUid === RleLossless
        ? { vr: 'OB', Fragments: [encodeRleFrame(pixelBytes, { rows, columns, samplesPerPixel: 1, bitsAllocated: 16 })] }
        : { vr: 'OW', Bytes: pixelBytes };
    const dataset = {
      ...commonModules(ctx, { sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid, modality: 'CT' }),
      ...keywordDataset({
        ImageType: ['CS', 'ORIGINAL', 'PRIMARY', 'AXIAL'],
        AcquisitionDate: ['DA', ctx.study.studyDate],
        ContentDate: ['DA', ctx.study.studyDate],
        AcquisitionTime: ['TM', ctx.study.studyTime],
        ContentTime: ['TM', ctx.study.studyTime],
        BodyPartExamined: ['CS', 'CHEST'],
        ScanOptions: ['CS', 'HELICAL MODE'],
        SliceThickness: ['DS', thickness],
        KVP: ['DS', 120],
        SpacingBetweenSlices: ['DS', thickness],
        DataCollectionDiameter: ['DS', 500],
        ReconstructionDiameter: ['DS', fieldOfView],
        DistanceSourceToDetector: ['DS', 1040],
        DistanceSourceToPatient: ['DS', 570],
        GantryDetectorTilt: ['DS', 0],
        TableHeight: ['DS', 150],
        RotationDirection: ['CS', 'CW'],
        ExposureTime: ['IS', 500],
        XRayTubeCurrent: ['IS', 200],
        Exposure: ['IS', 100],
        FilterType: ['SH', 'BODY FILTER'],
        GeneratorPower: ['IS', 24],
        FocalSpots: ['DS', 1.2],
        ConvolutionKernel: ['SH', 'STANDARD'],
        PatientPosition: ['CS', 'HFS'],
        CTDIvol: ['FD', 8.5],
        CTDIPhantomTypeCodeSequence: sequence(code('113691', 'DCM', 'IEC Body Dosimetry Phantom')),
        AcquisitionNumber: ['IS', 1],
        InstanceNumber: ['IS', instanceNumber],
        PatientOrientation: ['CS'],
        ImagePositionPatient: ['DS', (0.5 - columns / 2) * spacing, (0.5 - rows / 2) * spacing, z],
        ImageOrientationPatient: ['DS', 1, 0, 0, 0, 1, 0],
        FrameOfReferenceUID: ['UI', frameOfReferenceUid],
        PositionReferenceIndicator: ['LO'],
        SliceLocation: ['DS', z],
        SamplesPerPixel: ['US', 1],
        PhotometricInterpretation: ['CS', 'MONOCHROME2'],
        Rows: ['US', rows],
        Columns: ['US', columns],
        PixelSpacing: ['DS', spacing, spacing],
        BitsAllocated: ['US', 16],
        BitsStored: ['US', 16],
        HighBit: ['US', 15],
        PixelRepresentation: ['US', 1],
        BurnedInAnnotation: ['CS', 'NO'],
        WindowCenter: ['DS', 40, -600],
        WindowWidth: ['DS', 400, 1500],
        RescaleIntercept: ['DS', CT_RESCALE_INTERCEPT],
        RescaleSlope: ['DS', 1],
        RescaleType: ['LO', 'HU'],
        WindowCenterWidthExplanation: ['LO', 'SOFT TISSUE', 'LUNG'],
        LossyImageCompression: ['CS', '00'],
        AnatomicRegionSequence: sequence(code('51185008', 'SCT', 'Thorax')),
        PixelData: pixelData,
      }),
    };
    const bytes = encodePart10({ dataset, transferSyntaxUid });
    instances.push({
      ...instanceFromBytes(
        {
          sopClassUid: CT_IMAGE_STORAGE,
          sopInstanceUid,
          ...identityOf(ctx),
          transferSyntaxUid,
        },
        bytes,
      ),
      instanceNumber,
      sliceLocation: z,
    });
  }
  return {
    studyInstanceUid: ctx.study.studyInstanceUid,
    seriesInstanceUid: ctx.series.seriesInstanceUid,
    frameOfReferenceUid,
    patientId: ctx.patient.patientId,
    instances,
  };
}
