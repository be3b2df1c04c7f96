import type { Vr } from '@atrium/dicom';

/** Query/Retrieve levels (PS3.4 C.6). `IMAGE` is the standard's name for the instance level. */
export type QueryLevel = 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';

/** Information models (PS3.4 C.6.1, C.6.2); Patient/Study Only is retired. */
export type QueryModel = 'PATIENT_ROOT' | 'STUDY_ROOT';

export const LEVEL_ORDER: Readonly<Record<QueryLevel, number>> = { PATIENT: 0, STUDY: 1, SERIES: 2, IMAGE: 3 };

/** How the index matches a key; see `docs/query.md` for each kind's rules. */
export type MatchKind =
  | 'uid'
  | 'text'
  | 'person-name'
  | 'date'
  | 'time'
  | 'integer'
  /** A `\`-joined list column: matches when any element matches (SOPClassesInStudy, OtherPatientIDs). */
  | 'list'
  /** ModalitiesInStudy: matches when a series of the study has the modality. */
  | 'modalities-in-study'
  /** Sequence matching on the items of a sequence kept as rows or columns (PS3.4 C.2.2.2.6). */
  | 'sequence';

/** How a return key is answered. */
export type ReturnSource =
  | { readonly from: 'column'; readonly column: string; readonly as: 'text' | 'integer' | 'person-name' | 'list' | 'time' }
  | { readonly from: 'constant'; readonly value: 'retrieve-ae-title' | 'instance-availability' | 'query-level' }
  | { readonly from: 'request-attributes' }
  /** The stored DICOM JSON of the instance (IMAGE) or of the first instance of the series, study or patient. */
  | { readonly from: 'document' };

/** A key of the catalogue: an attribute the index can match on, or answer as a return key, or both. */
export interface KeyDefinition {
  readonly keyword: string;
  /** `GGGGEEEE`, upper-case hex as in DICOM JSON. */
  readonly tag: string;
  readonly vr: Vr;
  /** The level the attribute belongs to in the Patient Root model. */
  readonly level: QueryLevel;
  /** Absent: return key only, matching on it is `ATRIUM_ERR_QUERY_UNSUPPORTED_KEY`. */
  readonly match?: MatchSpec;
  readonly returns: ReturnSource;
  /** The level's unique key (PS3.4 C.6.1.1, C.6.2.1). */
  readonly unique?: boolean;
}

export type MatchSpec =
  | { readonly kind: 'uid' | 'text' | 'date' | 'time' | 'integer' | 'list'; readonly column: string }
  | { readonly kind: 'person-name'; readonly column: string; readonly ideographic?: string; readonly phonetic?: string; readonly raw: string }
  | { readonly kind: 'modalities-in-study' }
  | { readonly kind: 'sequence'; readonly items: readonly SequenceItemKey[]; readonly storage: SequenceStorage };

/** A key inside a sequence item, matched on its own column. */
export interface SequenceItemKey {
  readonly keyword: string;
  readonly tag: string;
  readonly vr: Vr;
  readonly kind: 'text' | 'uid';
  readonly column: string;
}

/** Where a sequence's items live: a child table (one row per item) or columns of the level's own row. */
export type SequenceStorage =
  | { readonly in: 'series_request_attribute' }
  | { readonly in: 'row' };

const col = (column: string, as: 'text' | 'integer' | 'person-name' | 'list' | 'time' = 'text'): ReturnSource => ({
  from: 'column',
  column,
  as,
});
const DOCUMENT: ReturnSource = { from: 'document' };

function key(
  keyword: string,
  tag: string,
  vr: Vr,
  level: QueryLevel,
  match: MatchSpec | undefined,
  returns: ReturnSource,
  unique = false,
): KeyDefinition {
  return { keyword, tag, vr, level, ...(match ? { match } : {}), returns, ...(unique ? { unique } : {}) };
}

const m = (kind: 'uid' | 'text' | 'date' | 'time' | 'integer' | 'list', column: string): MatchSpec => ({ kind, column });

/**
 * Every key the index answers from columns, with the level it belongs to. Matching keys are those of PS3.4
 * C.6.1.1 / C.6.2.1 and PS3.18 Table 10.6.1-5 that have a column; return-only keys come from columns, constants
 * or the stored document. Any other attribute is a return key answered from the stored DICOM JSON.
 */
export const KEY_CATALOGUE: readonly KeyDefinition[] = [
  // Patient (PS3.4 C.6.1.1.2)
  key('PatientName', '00100010', 'PN', 'PATIENT', {
    kind: 'person-name',
    column: 'p.patient_name_search',
    ideographic: 'p.patient_name_ideographic',
    phonetic: 'p.patient_name_phonetic',
    raw: 'p.patient_name',
  }, col('p.patient_name', 'person-name')),
  key('PatientID', '00100020', 'LO', 'PATIENT', m('text', 'p.patient_id'), col('p.patient_id'), true),
  key('IssuerOfPatientID', '00100021', 'LO', 'PATIENT', m('text', 'p.issuer_of_patient_id'), col('p.issuer_of_patient_id')),
  key('PatientBirthDate', '00100030', 'DA', 'PATIENT', m('date', 'p.patient_birth_date'), col('p.patient_birth_date')),
  key('PatientBirthTime', '00100032', 'TM', 'PATIENT', m('time', 'p.patient_birth_time'), col('p.patient_birth_time', 'time')),
  key('PatientSex', '00100040', 'CS', 'PATIENT', m('text', 'p.patient_sex'), col('p.patient_sex')),
  key('OtherPatientIDs', '00101000', 'LO', 'PATIENT', m('list', 'p.other_patient_ids'), col('p.other_patient_ids', 'list')),
  key('NumberOfPatientRelatedStudies', '00201200', 'IS', 'PATIENT', undefined, col('p.number_of_studies', 'integer')),
  key('NumberOfPatientRelatedSeries', '00201202', 'IS', 'PATIENT', undefined, col('p.number_of_series', 'integer')),
  key('NumberOfPatientRelatedInstances', '00201204', 'IS', 'PATIENT', undefined, col('p.number_of_instances', 'integer')),
  // Study (PS3.4 C.6.1.1.3, C.6.2.1.2; PS3.18 Table 10.6.1-5)
  key('StudyInstanceUID', '0020000D', 'UI', 'STUDY', m('uid', 'st.study_instance_uid'), col('st.study_instance_uid'), true),
  key('StudyDate', '00080020', 'DA', 'STUDY', m('date', 'st.study_date'), col('st.study_date')),
  key('StudyTime', '00080030', 'TM', 'STUDY', m('time', 'st.study_time'), col('st.study_time', 'time')),
  key('AccessionNumber', '00080050', 'SH', 'STUDY', m('text', 'st.accession_number'), col('st.accession_number')),
  key('IssuerOfAccessionNumberSequence', '00080051', 'SQ', 'STUDY', {
    kind: 'sequence',
    storage: { in: 'row' },
    items: [{ keyword: 'LocalNamespaceEntityID', tag: '00400031', vr: 'UT', kind: 'text', column: 'st.issuer_of_accession_number' }],
  }, DOCUMENT),
  key('StudyID', '00200010', 'SH', 'STUDY', m('text', 'st.study_id'), col('st.study_id')),
  key('StudyDescription', '00081030', 'LO', 'STUDY', m('text', 'st.study_description'), col('st.study_description')),
  key('ReferringPhysicianName', '00080090', 'PN', 'STUDY', {
    kind: 'person-name',
    column: 'st.referring_physician_name_search',
    raw: 'st.referring_physician_name',
  }, col('st.referring_physician_name', 'person-name')),
  key('ModalitiesInStudy', '00080061', 'CS', 'STUDY', { kind: 'modalities-in-study' }, col('st.modalities_in_study', 'list')),
  key('SOPClassesInStudy', '00080062', 'UI', 'STUDY', m('list', 'st.sop_classes_in_study'), col('st.sop_classes_in_study', 'list')),
  key('NumberOfStudyRelatedSeries', '00201206', 'IS', 'STUDY', undefined, col('st.number_of_series', 'integer')),
  key('NumberOfStudyRelatedInstances', '00201208', 'IS', 'STUDY', undefined, col('st.number_of_instances', 'integer')),
  // Series (PS3.4 C.6.1.1.4; PS3.18 Table 10.6.1-5)
  key('SeriesInstanceUID', '0020000E', 'UI', 'SERIES', m('uid', 'se.series_instance_uid'), col('se.series_instance_uid'), true),
  key('Modality', '00080060', 'CS', 'SERIES', m('text', 'se.modality'), col('se.modality')),
  key('SeriesNumber', '00200011', 'IS', 'SERIES', m('integer', 'se.series_number'), col('se.series_number', 'integer')),
  key('SeriesDescription', '0008103E', 'LO', 'SERIES', m('text', 'se.series_description'), col('se.series_description')),
  key('SeriesDate', '00080021', 'DA', 'SERIES', m('date', 'se.series_date'), col('se.series_date')),
  key('SeriesTime', '00080031', 'TM', 'SERIES', m('time', 'se.series_time'), col('se.series_time', 'time')),
  key('BodyPartExamined', '00180015', 'CS', 'SERIES', m('text', 'se.body_part_examined'), col('se.body_part_examined')),
  key('Laterality', '00200060', 'CS', 'SERIES', m('text', 'se.laterality'), col('se.laterality')),
  key('PerformedProcedureStepStartDate', '00400244', 'DA', 'SERIES', m('date', 'se.performed_procedure_step_start_date'), col('se.performed_procedure_step_start_date')),
  key('PerformedProcedureStepStartTime', '00400245', 'TM', 'SERIES', m('time', 'se.performed_procedure_step_start_time'), col('se.performed_procedure_step_start_time', 'time')),
  key('InstitutionName', '00080080', 'LO', 'SERIES', m('text', 'se.institution_name'), col('se.institution_name')),
  key('StationName', '00081010', 'SH', 'SERIES', m('text', 'se.station_name'), col('se.station_name')),
  key('Manufacturer', '00080070', 'LO', 'SERIES', m('text', 'se.manufacturer'), col('se.manufacturer')),
  key('RequestAttributesSequence', '00400275', 'SQ', 'SERIES', {
    kind: 'sequence',
    storage: { in: 'series_request_attribute' },
    items: [
      { keyword: 'ScheduledProcedureStepID', tag: '00400009', vr: 'SH', kind: 'text', column: 'r.scheduled_procedure_step_id' },
      { keyword: 'RequestedProcedureID', tag: '00401001', vr: 'SH', kind: 'text', column: 'r.requested_procedure_id' },
      { keyword: 'AccessionNumber', tag: '00080050', vr: 'SH', kind: 'text', column: 'r.accession_number' },
    ],
  }, { from: 'request-attributes' }),
  key('NumberOfSeriesRelatedInstances', '00201209', 'IS', 'SERIES', undefined, col('se.number_of_instances', 'integer')),
  // Instance (PS3.4 C.6.1.1.5; PS3.18 Table 10.6.1-5)
  key('SOPInstanceUID', '00080018', 'UI', 'IMAGE', m('uid', 'i.sop_instance_uid'), col('i.sop_instance_uid'), true),
  key('SOPClassUID', '00080016', 'UI', 'IMAGE', m('uid', 'i.sop_class_uid'), col('i.sop_class_uid')),
  key('InstanceNumber', '00200013', 'IS', 'IMAGE', m('integer', 'i.instance_number'), col('i.instance_number', 'integer')),
  key('NumberOfFrames', '00280008', 'IS', 'IMAGE', m('integer', 'i.number_of_frames'), col('i.number_of_frames', 'integer')),
  key('Rows', '00280010', 'US', 'IMAGE', m('integer', 'i.rows'), col('i.rows', 'integer')),
  key('Columns', '00280011', 'US', 'IMAGE', m('integer', 'i.columns'), col('i.columns', 'integer')),
  key('BitsAllocated', '00280100', 'US', 'IMAGE', m('integer', 'i.bits_allocated'), col('i.bits_allocated', 'integer')),
  key('ContentDate', '00080023', 'DA', 'IMAGE', m('date', 'i.content_date'), col('i.content_date')),
  key('ContentTime', '00080033', 'TM', 'IMAGE', m('time', 'i.content_time'), col('i.content_time', 'time')),
  key('AvailableTransferSyntaxUID', '00083002', 'UI', 'IMAGE', m('uid', 'i.transfer_syntax_uid'), col('i.transfer_syntax_uid')),
];

/** Keys answered the same way at every level (PS3.4 C.4.1.1.3.2, PS3.18 Table 10.6.1-5). */
export const COMMON_KEYS: readonly KeyDefinition[] = [
  key('QueryRetrieveLevel', '00080052', 'CS', 'PATIENT', undefined, { from: 'constant', value: 'query-level' }),
  key('RetrieveAETitle', '00080054', 'AE', 'PATIENT', undefined, { from: 'constant', value: 'retrieve-ae-title' }),
  key('InstanceAvailability', '00080056', 'CS', 'PATIENT', undefined, { from: 'constant', value: 'instance-availability' }),
];

/** Specific Character Set and Timezone Offset describe the request's values, so they are never matching keys. */
export const SPECIFIC_CHARACTER_SET = '00080005';
export const TIMEZONE_OFFSET_FROM_UTC = '00080201';

const BY_TAG = new Map<string, KeyDefinition>([...KEY_CATALOGUE, ...COMMON_KEYS].map((k) => [k.tag, k]));

/** The catalogue entry of a tag (`GGGGEEEE`), if the index answers it from more than the stored document. */
export function keyDefinition(tag: string): KeyDefinition | undefined {
  return BY_TAG.get(tag.toUpperCase());
}

/** A matching key as the edges list it to callers and in error messages. */
export interface SupportedKey {
  readonly keyword: string;
  readonly tag: string;
  readonly vr: Vr;
  /** The level the attribute belongs to (Patient Root). */
  readonly level: QueryLevel;
  readonly kind: MatchKind;
  /** For sequences: the item keys that can be matched. */
  readonly itemKeys?: readonly string[];
}

/**
 * The matching keys a query at `level` accepts: the keys of that level and of the levels above it (relational
 * or Study Root patient attributes). Any other key with a value is `ATRIUM_ERR_QUERY_UNSUPPORTED_KEY`.
 */
export function supportedMatchingKeys(level: QueryLevel): SupportedKey[] {
  return KEY_CATALOGUE.filter((k) => k.match !== undefined && LEVEL_ORDER[k.level] <= LEVEL_ORDER[level]).map((k) => {
    const spec = k.match!;
    return {
      keyword: k.keyword,
      tag: k.tag,
      vr: k.vr,
      level: k.level,
      kind: spec.kind,
      ...(spec.kind === 'sequence' ? { itemKeys: spec.items.map((i) => i.keyword) } : {}),
    };
  });
}

const QIDO_DEFAULTS: Readonly<Record<'STUDY' | 'SERIES' | 'IMAGE', readonly string[]>> = {
  // PS3.18 Table 10.6.1-5 (study), without RetrieveURL, which the DICOMweb edge adds from its base URL.
  STUDY: [
    '00080005', '00080020', '00080030', '00080050', '00080056', '00080061', '00080090', '00080201', '00100010',
    '00100020', '00100030', '00100040', '0020000D', '00200010', '00201206', '00201208',
  ],
  // PS3.18 Table 10.6.1-6 (series).
  SERIES: ['00080005', '00080060', '00080201', '0008103E', '0020000E', '00200011', '00201209', '00400244', '00400245', '00400275'],
  // PS3.18 Table 10.6.1-7 (instance).
  IMAGE: ['00080005', '00080016', '00080018', '00080056', '00080201', '00200013', '00280010', '00280011', '00280100', '00280008'],
};

/**
 * The attributes QIDO-RS returns by default at `level` (PS3.18 Table 10.6.1-5/6/7), as `GGGGEEEE` tags. With
 * `withUpperLevels` (a search not scoped by the URL to a study or series, e.g. `/series?...`), the defaults of the
 * levels above are added, as PS3.18 §10.6.3.3 asks. RetrieveURL is left to the edge.
 */
export function qidoDefaultReturnKeys(level: 'STUDY' | 'SERIES' | 'IMAGE', withUpperLevels = false): string[] {
  const levels: Array<'STUDY' | 'SERIES' | 'IMAGE'> = withUpperLevels
    ? (['STUDY', 'SERIES', 'IMAGE'] as const).filter((l) => LEVEL_ORDER[l] <= LEVEL_ORDER[level])
    : [level];
  return [...new Set(levels.flatMap((l) => QIDO_DEFAULTS[l]))];
}
