import type { DicomJsonAttribute, DicomJsonDataset, DicomJsonPersonName, DicomJsonValue } from '@atrium/dicom';
import { MissingAttributeError } from './errors.js';

/** Patient-level matching keys (PS3.4 C.6.1.1.2). */
export interface PatientRecord {
  patientId: string;
  issuerOfPatientId: string;
  patientName: string | null;
  patientNameSearch: string | null;
  patientNameIdeographic: string | null;
  patientNamePhonetic: string | null;
  patientBirthDate: string | null;
  patientBirthTime: string | null;
  patientSex: string | null;
  otherPatientIds: string | null;
}

/** Study-level matching keys (PS3.4 C.6.1.1.3, C.6.2.1.2; PS3.18 Table 10.6.1-5). */
export interface StudyRecord {
  studyInstanceUid: string;
  studyDate: string | null;
  studyTime: string | null;
  accessionNumber: string | null;
  issuerOfAccessionNumber: string | null;
  studyId: string | null;
  studyDescription: string | null;
  referringPhysicianName: string | null;
  referringPhysicianNameSearch: string | null;
  specificCharacterSet: string | null;
}

/** One item of the Request Attributes Sequence (0040,0275). */
export interface RequestAttributesRecord {
  scheduledProcedureStepId: string | null;
  requestedProcedureId: string | null;
  accessionNumber: string | null;
}

/** Series-level matching keys (PS3.4 C.6.1.1.4; PS3.18 Table 10.6.1-5). */
export interface SeriesRecord {
  seriesInstanceUid: string;
  modality: string | null;
  seriesNumber: number | null;
  seriesDescription: string | null;
  seriesDate: string | null;
  seriesTime: string | null;
  bodyPartExamined: string | null;
  laterality: string | null;
  performedProcedureStepStartDate: string | null;
  performedProcedureStepStartTime: string | null;
  institutionName: string | null;
  stationName: string | null;
  manufacturer: string | null;
  requestAttributes: RequestAttributesRecord[];
}

/** Instance-level matching keys (PS3.4 C.6.1.1.5; PS3.18 Table 10.6.1-5). */
export interface InstanceRecord {
  sopInstanceUid: string;
  sopClassUid: string;
  instanceNumber: number | null;
  numberOfFrames: number | null;
  rows: number | null;
  columns: number | null;
  bitsAllocated: number | null;
  contentDate: string | null;
  contentTime: string | null;
}

/** The typed index columns of the four levels, taken from one instance's data set. */
export interface IndexRecord {
  patient: PatientRecord;
  study: StudyRecord;
  series: SeriesRecord;
  instance: InstanceRecord;
}

const T = {
  SpecificCharacterSet: '00080005',
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  StudyDate: '00080020',
  SeriesDate: '00080021',
  ContentDate: '00080023',
  StudyTime: '00080030',
  SeriesTime: '00080031',
  ContentTime: '00080033',
  AccessionNumber: '00080050',
  IssuerOfAccessionNumberSequence: '00080051',
  Modality: '00080060',
  Manufacturer: '00080070',
  InstitutionName: '00080080',
  ReferringPhysicianName: '00080090',
  StationName: '00081010',
  StudyDescription: '00081030',
  SeriesDescription: '0008103E',
  PatientName: '00100010',
  PatientID: '00100020',
  IssuerOfPatientID: '00100021',
  PatientBirthDate: '00100030',
  PatientBirthTime: '00100032',
  PatientSex: '00100040',
  OtherPatientIDs: '00101000',
  OtherPatientIDsSequence: '00101002',
  BodyPartExamined: '00180015',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  StudyID: '00200010',
  SeriesNumber: '00200011',
  InstanceNumber: '00200013',
  Laterality: '00200060',
  NumberOfFrames: '00280008',
  Rows: '00280010',
  Columns: '00280011',
  BitsAllocated: '00280100',
  ScheduledProcedureStepID: '00400009',
  LocalNamespaceEntityID: '00400031',
  PerformedProcedureStepStartDate: '00400244',
  PerformedProcedureStepStartTime: '00400245',
  RequestAttributesSequence: '00400275',
  RequestedProcedureID: '00401001',
  MediaStorageSOPClassUID: '00020002',
  MediaStorageSOPInstanceUID: '00020003',
} as const;

const NO_VALUES: readonly DicomJsonValue[] = Object.freeze([]);

// Most attributes asked for are absent or single-valued: no array is made for an absent one.
function valuesOf(dataset: DicomJsonDataset, tag: string): readonly DicomJsonValue[] {
  const attribute: DicomJsonAttribute | undefined = dataset[tag];
  return attribute?.Value ?? NO_VALUES;
}

function textOf(value: DicomJsonValue | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : null;
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  return trimmed.length > 0 ? trimmed : null;
}

/** The first value as text, trimmed; null when absent or empty. */
export function getString(dataset: DicomJsonDataset, tag: string): string | null {
  return textOf(dataset[tag]?.Value?.[0]);
}

/** Every non-empty value as text, joined by `\` as DICOM multi-values are; null when there is none. */
export function getStrings(dataset: DicomJsonDataset, tag: string): string | null {
  const texts = valuesOf(dataset, tag)
    .map(textOf)
    .filter((t): t is string => t !== null);
  return texts.length > 0 ? texts.join('\\') : null;
}

/** The first value as an integer (IS, US, UL, SS, SL...); null when absent or not a finite integer. */
export function getInteger(dataset: DicomJsonDataset, tag: string): number | null {
  const value = dataset[tag]?.Value?.[0];
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) {
    const n = Number.parseInt(value, 10);
    return Number.isSafeInteger(n) ? n : null;
  }
  return null;
}

function sequenceItems(dataset: DicomJsonDataset, tag: string): DicomJsonDataset[] {
  return valuesOf(dataset, tag).filter(
    (v): v is DicomJsonDataset => typeof v === 'object' && v !== null && !isPersonName(v),
  );
}

function isPersonName(value: object): value is DicomJsonPersonName {
  return 'Alphabetic' in value || 'Ideographic' in value || 'Phonetic' in value;
}

function personNames(dataset: DicomJsonDataset, tag: string): DicomJsonPersonName[] {
  const names: DicomJsonPersonName[] = [];
  for (const v of valuesOf(dataset, tag)) {
    if (typeof v === 'string') names.push({ Alphabetic: v });
    else if (typeof v === 'object' && v !== null && isPersonName(v)) names.push(v);
  }
  return names;
}

// Whitespace as String.prototype.trim sees it (\s is the same set), and any character beyond ASCII.
const WHITESPACE = /\s/;
const NON_ASCII = /[^\x00-\x7f]/;

/** NFC, skipped for ASCII text, which NFC leaves as it is. */
function nfc(text: string | undefined): string | undefined {
  return text === undefined || !NON_ASCII.test(text) ? text : text.normalize('NFC');
}

// Trailing empty components and groups carry no meaning (PS3.5 §6.2.1): 'DOE^JOHN^^^' is 'DOE^JOHN'.
function trimComponents(group: string | undefined, separator: string): string {
  if (group === undefined) return '';
  // Nearly every name: nothing to trim and no trailing separator, so splitting would give it back unchanged.
  if (!group.endsWith(separator) && !WHITESPACE.test(group)) return group;
  const parts = group.split(separator).map((p) => p.trim());
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.join(separator);
}

function joinedOrNull(list: string[]): string | null {
  return list.some((v) => v.length > 0) ? list.join('\\') : null;
}

/** PN columns: the raw value, its upper-cased alphabetic search form, and the other two groups. */
export interface PersonNameColumns {
  raw: string | null;
  search: string | null;
  ideographic: string | null;
  phonetic: string | null;
}

/**
 * Splits a PN attribute (PS3.5 §6.2, PS3.18 §F.2.2) into index columns. The search column is the alphabetic
 * group upper-cased in Unicode NFC with accents kept, so 'Müller^Jürgen' matches 'MÜLLER^JÜRGEN'; multiple
 * values are joined by `\`.
 */
export function personNameColumns(dataset: DicomJsonDataset, tag: string): PersonNameColumns {
  const names = personNames(dataset, tag);
  const raw: string[] = [];
  const search: string[] = [];
  const ideographic: string[] = [];
  const phonetic: string[] = [];
  for (const name of names) {
    const a = trimComponents(nfc(name.Alphabetic), '^');
    const i = trimComponents(nfc(name.Ideographic), '^');
    const p = trimComponents(nfc(name.Phonetic), '^');
    // Without the other two groups the raw value is the alphabetic group (unless that holds '=' itself).
    raw.push(i === '' && p === '' && !a.includes('=') ? a : trimComponents(`${a}=${i}=${p}`, '='));
    search.push(a.toUpperCase());
    ideographic.push(i);
    phonetic.push(p);
  }
  return {
    raw: joinedOrNull(raw),
    search: joinedOrNull(search),
    ideographic: joinedOrNull(ideographic),
    phonetic: joinedOrNull(phonetic),
  };
}

/**
 * A DA value (PS3.5 §6.2) as `YYYYMMDD`; the ACR-NEMA form `YYYY.MM.DD` is accepted. Null when absent or not a
 * plausible date.
 */
export function normalizeDate(value: string | null): string | null {
  if (value === null) return null;
  const compact = /^\d{4}\.\d{2}\.\d{2}$/.test(value) ? value.replaceAll('.', '') : value;
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(compact);
  if (!m) return null;
  const month = Number(m[2]);
  const day = Number(m[3]);
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 ? compact : null;
}

/**
 * A TM value (PS3.5 §6.2) as `HHMMSS.ffffff`, missing components filled with zeros (so '10' is '100000.000000'
 * and text comparison is time comparison); the ACR-NEMA form `HH:MM:SS` is accepted. Null when not a time.
 */
export function normalizeTime(value: string | null): string | null {
  if (value === null) return null;
  const compact = /^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value) ? value.replaceAll(':', '') : value;
  const m = /^(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?$/.exec(compact);
  if (!m) return null;
  const [hh, mm = '00', ss = '00', fraction = ''] = [m[1]!, m[2], m[3], m[4]];
  // 60 is allowed for a leap second (PS3.5 Table 6.2-1).
  if (Number(hh) > 23 || Number(mm) > 59 || Number(ss) > 60) return null;
  return `${hh}${mm}${ss}.${fraction.padEnd(6, '0')}`;
}

function requiredUid(dataset: DicomJsonDataset, tag: string, keyword: string, fallback?: string | null): string {
  const uid = getString(dataset, tag) ?? fallback ?? null;
  if (uid === null) throw new MissingAttributeError(keyword);
  return uid;
}

function otherPatientIds(dataset: DicomJsonDataset): string | null {
  if (dataset[T.OtherPatientIDs] === undefined && dataset[T.OtherPatientIDsSequence] === undefined) return null;
  const ids: string[] = [];
  const direct = getStrings(dataset, T.OtherPatientIDs);
  if (direct) ids.push(...direct.split('\\'));
  for (const item of sequenceItems(dataset, T.OtherPatientIDsSequence)) {
    const id = getString(item, T.PatientID);
    if (id !== null) ids.push(id);
  }
  const unique = [...new Set(ids)];
  return unique.length > 0 ? unique.join('\\') : null;
}

/**
 * The typed index columns of the four levels from one instance's DICOM JSON: a pure function (no I/O), so C-FIND
 * and QIDO-RS match on columns and never read files. Dates and times are normalised, numbers parsed, PN split;
 * an absent or empty attribute is null, except Patient ID and Issuer of Patient ID which are '' (the patient
 * identity pair must be comparable). The SOP Class and Instance UIDs fall back to the file meta information.
 * Throws `MissingAttributeError` without Study, Series or SOP Instance UID or SOP Class UID.
 */
export function extractIndexRecord(
  dataset: DicomJsonDataset,
  fileMetaInformation: DicomJsonDataset = {},
): IndexRecord {
  const patientName = personNameColumns(dataset, T.PatientName);
  const referring = personNameColumns(dataset, T.ReferringPhysicianName);
  const issuerOfAccession = sequenceItems(dataset, T.IssuerOfAccessionNumberSequence)[0];
  return {
    patient: {
      patientId: getString(dataset, T.PatientID) ?? '',
      issuerOfPatientId: getString(dataset, T.IssuerOfPatientID) ?? '',
      patientName: patientName.raw,
      patientNameSearch: patientName.search,
      patientNameIdeographic: patientName.ideographic,
      patientNamePhonetic: patientName.phonetic,
      patientBirthDate: normalizeDate(getString(dataset, T.PatientBirthDate)),
      patientBirthTime: normalizeTime(getString(dataset, T.PatientBirthTime)),
      patientSex: getString(dataset, T.PatientSex)?.toUpperCase() ?? null,
      otherPatientIds: otherPatientIds(dataset),
    },
    study: {
      studyInstanceUid: requiredUid(dataset, T.StudyInstanceUID, 'StudyInstanceUID'),
      studyDate: normalizeDate(getString(dataset, T.StudyDate)),
      studyTime: normalizeTime(getString(dataset, T.StudyTime)),
      accessionNumber: getString(dataset, T.AccessionNumber),
      issuerOfAccessionNumber: issuerOfAccession ? getString(issuerOfAccession, T.LocalNamespaceEntityID) : null,
      studyId: getString(dataset, T.StudyID),
      studyDescription: getString(dataset, T.StudyDescription),
      referringPhysicianName: referring.raw,
      referringPhysicianNameSearch: referring.search,
      specificCharacterSet: getStrings(dataset, T.SpecificCharacterSet),
    },
    series: {
      seriesInstanceUid: requiredUid(dataset, T.SeriesInstanceUID, 'SeriesInstanceUID'),
      modality: getString(dataset, T.Modality),
      seriesNumber: getInteger(dataset, T.SeriesNumber),
      seriesDescription: getString(dataset, T.SeriesDescription),
      seriesDate: normalizeDate(getString(dataset, T.SeriesDate)),
      seriesTime: normalizeTime(getString(dataset, T.SeriesTime)),
      bodyPartExamined: getString(dataset, T.BodyPartExamined),
      laterality: getString(dataset, T.Laterality),
      performedProcedureStepStartDate: normalizeDate(getString(dataset, T.PerformedProcedureStepStartDate)),
      performedProcedureStepStartTime: normalizeTime(getString(dataset, T.PerformedProcedureStepStartTime)),
      institutionName: getString(dataset, T.InstitutionName),
      stationName: getString(dataset, T.StationName),
      manufacturer: getString(dataset, T.Manufacturer),
      requestAttributes: sequenceItems(dataset, T.RequestAttributesSequence).map((item) => ({
        scheduledProcedureStepId: getString(item, T.ScheduledProcedureStepID),
        requestedProcedureId: getString(item, T.RequestedProcedureID),
        accessionNumber: getString(item, T.AccessionNumber),
      })),
    },
    instance: {
      sopInstanceUid: requiredUid(
        dataset,
        T.SOPInstanceUID,
        'SOPInstanceUID',
        getString(fileMetaInformation, T.MediaStorageSOPInstanceUID),
      ),
      sopClassUid: requiredUid(
        dataset,
        T.SOPClassUID,
        'SOPClassUID',
        getString(fileMetaInformation, T.MediaStorageSOPClassUID),
      ),
      instanceNumber: getInteger(dataset, T.InstanceNumber),
      numberOfFrames: getInteger(dataset, T.NumberOfFrames),
      rows: getInteger(dataset, T.Rows),
      columns: getInteger(dataset, T.Columns),
      bitsAllocated: getInteger(dataset, T.BitsAllocated),
      contentDate: normalizeDate(getString(dataset, T.ContentDate)),
      contentTime: normalizeTime(getString(dataset, T.ContentTime)),
    },
  };
}
