import { uidFromName } from '../uid.js';
import type { WritableDataset } from '../writer.js';
import { keywordDataset } from './attributes.js';

/** Patient Module attributes (PS3.3 §C.7.1.1) of a synthetic patient. */
export interface SyntheticPatient {
  patientName: string;
  patientId: string;
  issuerOfPatientId: string;
  /** DA, `YYYYMMDD`. */
  patientBirthDate: string;
  patientSex: 'M' | 'F' | 'O';
}

/** General Study Module attributes (PS3.3 §C.7.2.1). */
export interface SyntheticStudy {
  studyInstanceUid: string;
  studyDate: string;
  studyTime: string;
  accessionNumber: string;
  studyId: string;
  studyDescription: string;
  referringPhysicianName: string;
}

/** General Series Module attributes (PS3.3 §C.7.3.1). */
export interface SyntheticSeries {
  seriesInstanceUid: string;
  seriesNumber: number;
  seriesDescription: string;
}

/** Options every builder takes: a seed, and overrides of the patient, study and series it makes up. */
export interface SyntheticCommonOptions {
  /** Same seed, same options: same bytes. Default 1. */
  seed?: number;
  patient?: Partial<SyntheticPatient>;
  study?: Partial<SyntheticStudy>;
  series?: Partial<SyntheticSeries>;
}

/**
 * One synthetic DICOM object, produced lazily: `chunks()` yields the Part 10 bytes in order (it may be called more
 * than once and yields the same bytes each time), and `byteLength` is known before the first byte is made.
 */
export interface SyntheticObject {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly studyInstanceUid: string;
  readonly patientId: string;
  readonly transferSyntaxUid: string;
  readonly byteLength: number;
  chunks(): AsyncIterable<Uint8Array>;
}

/** A synthetic object small enough to hold: its whole Part 10 bytes. */
export interface SyntheticInstance extends SyntheticObject {
  readonly bytes: Uint8Array;
}

export interface ResolvedContext {
  readonly seed: number;
  readonly patient: SyntheticPatient;
  readonly study: SyntheticStudy;
  readonly series: SyntheticSeries;
  /** A UID that depends on the seed, patient, study and series, and on `what`. */
  uid(what: string): string;
}

/** Where an object of the context files: its series, study and patient, as `SyntheticObject` names them. */
export function identityOf(ctx: ResolvedContext): Pick<SyntheticObject, 'seriesInstanceUid' | 'studyInstanceUid' | 'patientId'> {
  return { seriesInstanceUid: ctx.series.seriesInstanceUid, studyInstanceUid: ctx.study.studyInstanceUid, patientId: ctx.patient.patientId };
}

/** Defaults of one kind of object (`ct`, `us`, `ecg`), merged with the caller's overrides. */
export interface ContextDefaults {
  kind: string;
  patient: SyntheticPatient;
  study: Omit<SyntheticStudy, 'studyInstanceUid'>;
  series: Omit<SyntheticSeries, 'seriesInstanceUid'>;
}

export function resolveContext(options: SyntheticCommonOptions, defaults: ContextDefaults): ResolvedContext {
  const seed = options.seed ?? 1;
  const patient = { ...defaults.patient, ...options.patient };
  // UIDs are derived from what identifies the object, so overriding the patient or study alone gives new UIDs
  // while the same options always give the same ones.
  const studyKey = `atrium-synthetic/${seed}/${patient.patientId}/${options.study?.accessionNumber ?? defaults.study.accessionNumber}`;
  const study: SyntheticStudy = {
    ...defaults.study,
    studyInstanceUid: uidFromName(`${studyKey}/study`),
    ...options.study,
  };
  const seriesKey = `${studyKey}/${study.studyInstanceUid}/${defaults.kind}/${options.series?.seriesNumber ?? defaults.series.seriesNumber}`;
  const series: SyntheticSeries = {
    ...defaults.series,
    seriesInstanceUid: uidFromName(`${seriesKey}/series`),
    ...options.series,
  };
  return {
    seed,
    patient,
    study,
    series,
    uid: (what) => uidFromName(`${seriesKey}/${series.seriesInstanceUid}/${what}`),
  };
}

/**
 * SOP Common (C.12.1), Patient (C.7.1.1), General Study (C.7.2.1), General Series (C.7.3.1) and General
 * Equipment (C.7.5.1) modules: what every synthetic object shares.
 */
export function commonModules(
  ctx: ResolvedContext,
  sop: { sopClassUid: string; sopInstanceUid: string; modality: string },
): WritableDataset {
  const { patient, study, series } = ctx;
  return keywordDataset({
    SpecificCharacterSet: ['CS', 'ISO_IR 192'],
    SOPClassUID: ['UI', sop.sopClassUid],
    SOPInstanceUID: ['UI', sop.sopInstanceUid],
    InstanceCreationDate: ['DA', study.studyDate],
    InstanceCreationTime: ['TM', study.studyTime],
    StudyDate: ['DA', study.studyDate],
    SeriesDate: ['DA', study.studyDate],
    StudyTime: ['TM', study.studyTime],
    SeriesTime: ['TM', study.studyTime],
    AccessionNumber: ['SH', study.accessionNumber],
    Modality: ['CS', sop.modality],
    Manufacturer: ['LO', 'Atrium Synthetic'],
    InstitutionName: ['LO', 'Atrium Demo Hospital'],
    ReferringPhysicianName: ['PN', { Alphabetic: study.referringPhysicianName }],
    StationName: ['SH', 'ATRIUM-SIM'],
    StudyDescription: ['LO', study.studyDescription],
    SeriesDescription: ['LO', series.seriesDescription],
    ManufacturerModelName: ['LO', 'Atrium Builder'],
    PatientName: ['PN', { Alphabetic: patient.patientName }],
    PatientID: ['LO', patient.patientId],
    IssuerOfPatientID: ['LO', patient.issuerOfPatientId],
    PatientBirthDate: ['DA', patient.patientBirthDate],
    PatientSex: ['CS', patient.patientSex],
    PatientAge: ['AS', patientAge(patient.patientBirthDate, study.studyDate)],
    DeviceSerialNumber: ['LO', 'SIM-0001'],
    SoftwareVersions: ['LO', 'ATRIUM_0_1'],
    StudyInstanceUID: ['UI', study.studyInstanceUid],
    SeriesInstanceUID: ['UI', series.seriesInstanceUid],
    StudyID: ['SH', study.studyId],
    SeriesNumber: ['IS', series.seriesNumber],
  });
}

/** Age String (PS3.5 §6.2, AS): `nnnY` at the study date. */
function patientAge(birthDate: string, studyDate: string): string {
  const years = Math.max(0, Number(studyDate.slice(0, 4)) - Number(birthDate.slice(0, 4)) - (studyDate.slice(4) < birthDate.slice(4) ? 1 : 0));
  return `${String(Math.min(years, 999)).padStart(3, '0')}Y`;
}

/** Wraps bytes held in memory as a `SyntheticInstance`. */
export function instanceFromBytes(
  meta: Omit<SyntheticObject, 'byteLength' | 'chunks'>,
  bytes: Uint8Array,
): SyntheticInstance {
  return {
    ...meta,
    bytes,
    byteLength: bytes.byteLength,
    async *chunks() {
      yield bytes;
    },
  };
}
