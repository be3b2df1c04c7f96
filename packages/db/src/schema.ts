import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * The index schema as Kysely sees it (see `docs/database.md` for the why). Columns are snake_case; DICOM dates
 * are `YYYYMMDD` text and times normalised `HHMMSS.ffffff` text, so range matching is text comparison in both
 * dialects; timestamps of our own are ISO 8601 UTC text (`Date.toISOString()`), which sorts the same way.
 */
export interface AtriumSchema {
  patient: PatientTable;
  study: StudyTable;
  series: SeriesTable;
  series_request_attribute: SeriesRequestAttributeTable;
  instance: InstanceTable;
  instance_metadata: InstanceMetadataTable;
  series_metadata: SeriesMetadataTable;
  change_feed: ChangeFeedTable;
  job: JobTable;
  blob_intent: BlobIntentTable;
}

/**
 * Blob work that must follow an index commit, recorded in the same transaction so a crash between the commit and
 * the work cannot lose it (see the ingest pipeline): `publish` moves staged bytes (`staging_id`) to `blob_key`;
 * `delete` removes a blob the commit superseded. Rows are cleared once the work is done.
 */
export interface BlobIntentTable {
  blob_key: string;
  action: 'publish' | 'delete';
  staging_id: string | null;
  sop_instance_uid: string;
  /** `<host>:<pid>` of the process that committed: recovery leaves the intents of a live process alone. */
  owner: string;
  created_at: string;
}

/** Patient level, PS3.4 C.6.1.1.2 (Patient Root). Identity: (patient_id, issuer_of_patient_id). */
export interface PatientTable {
  id: Generated<number>;
  patient_id: string;
  /** '' when absent, so the pair is unique in both dialects. */
  issuer_of_patient_id: string;
  /** The raw PN value: `Alphabetic=Ideographic=Phonetic`, values joined by `\`. */
  patient_name: string | null;
  /** Alphabetic group, upper-cased (accents kept): the column case-insensitive PN matching runs on. */
  patient_name_search: string | null;
  patient_name_ideographic: string | null;
  patient_name_phonetic: string | null;
  patient_birth_date: string | null;
  patient_birth_time: string | null;
  patient_sex: string | null;
  /** Other Patient IDs, from (0010,1000) and (0010,1002), joined by `\`. */
  other_patient_ids: string | null;
  number_of_studies: ColumnType<number, number | undefined, number>;
  number_of_series: ColumnType<number, number | undefined, number>;
  number_of_instances: ColumnType<number, number | undefined, number>;
  created_at: string;
  updated_at: string;
}

/** Study level, PS3.4 C.6.1.1.3 / C.6.2.1.2 and PS3.18 Table 10.6.1-5. */
export interface StudyTable {
  id: Generated<number>;
  patient_fk: number;
  study_instance_uid: string;
  study_date: string | null;
  study_time: string | null;
  accession_number: string | null;
  /** Local Namespace Entity ID of the Issuer of Accession Number Sequence. */
  issuer_of_accession_number: string | null;
  study_id: string | null;
  study_description: string | null;
  referring_physician_name: string | null;
  referring_physician_name_search: string | null;
  /** Distinct modalities of the study's series, sorted, joined by `\`. */
  modalities_in_study: string | null;
  /** Distinct SOP Class UIDs of the study's instances, sorted, joined by `\`. */
  sop_classes_in_study: string | null;
  specific_character_set: string | null;
  number_of_series: ColumnType<number, number | undefined, number>;
  number_of_instances: ColumnType<number, number | undefined, number>;
  total_bytes: ColumnType<number, number | undefined, number>;
  received_at: string;
  updated_at: string;
}

/** Series level, PS3.4 C.6.1.1.4 and PS3.18 Table 10.6.1-5. */
export interface SeriesTable {
  id: Generated<number>;
  study_fk: number;
  series_instance_uid: string;
  modality: string | null;
  series_number: number | null;
  series_description: string | null;
  series_date: string | null;
  series_time: string | null;
  body_part_examined: string | null;
  laterality: string | null;
  performed_procedure_step_start_date: string | null;
  performed_procedure_step_start_time: string | null;
  institution_name: string | null;
  station_name: string | null;
  manufacturer: string | null;
  number_of_instances: ColumnType<number, number | undefined, number>;
  total_bytes: ColumnType<number, number | undefined, number>;
  received_at: string;
  updated_at: string;
}

/** One item of the series' Request Attributes Sequence (0040,0275), for QIDO-RS and C-FIND sequence matching. */
export interface SeriesRequestAttributeTable {
  id: Generated<number>;
  series_fk: number;
  item_index: number;
  scheduled_procedure_step_id: string | null;
  requested_procedure_id: string | null;
  accession_number: string | null;
}

/** Instance level, PS3.4 C.6.1.1.5 and PS3.18 Table 10.6.1-5, plus where the bytes are. */
export interface InstanceTable {
  id: Generated<number>;
  series_fk: number;
  sop_instance_uid: string;
  sop_class_uid: string;
  instance_number: number | null;
  transfer_syntax_uid: string;
  number_of_frames: number | null;
  rows: number | null;
  columns: number | null;
  bits_allocated: number | null;
  content_date: string | null;
  content_time: string | null;
  blob_key: string;
  size: number;
  /** SHA-256 of the stored bytes, lower-case hex. */
  digest: string;
  source_kind: string;
  calling_ae_title: string | null;
  received_at: string;
}

/** Kept apart from `instance` so that queries scanning instances stay in small rows. */
export interface InstanceMetadataTable {
  instance_fk: number;
  /** DICOM JSON (PS3.18 Annex F) of the data set; bulk data appears as BulkDataURI. */
  dicom_json: string;
  /** JSON of `ParsedInstance.bulkData`. */
  bulk_data_json: string;
  /** JSON of `ParsedInstance.pixelData`, or null. */
  pixel_data_json: string | null;
  /** JSON of `ParsedInstance.frames`. */
  frames_json: string;
  deflated: number;
  dataset_offset: number;
}

/** Per series, the WADO-RS metadata document (PS3.18 §10.4.1.1.2), rebuilt when stale. */
export interface SeriesMetadataTable {
  series_fk: number;
  document: string | null;
  etag: string | null;
  stale: number;
  /** Bumped with every change of the series; a rebuild records the version it saw in `built_version`. */
  version: number;
  built_version: number | null;
  built_at: string | null;
}

export type ChangeLevel = 'patient' | 'study' | 'series' | 'instance';
export type ChangeAction = 'created' | 'updated' | 'deleted';

export interface ChangeFeedTable {
  /**
   * The cursor readers resume from: max + 1 at each insert (SQLite rowid). It is never reused only because the
   * newest entry is never deleted: a retention that prunes the feed must keep it (migration 0005).
   */
  seq: Generated<number>;
  recorded_at: string;
  level: ChangeLevel;
  action: ChangeAction;
  patient_id: string | null;
  issuer_of_patient_id: string | null;
  study_instance_uid: string | null;
  series_instance_uid: string | null;
  sop_instance_uid: string | null;
  /** Small JSON object; never a whole data set. */
  detail: string | null;
}

export type JobState = 'ready' | 'running' | 'done' | 'failed' | 'dead';

export interface JobTable {
  id: Generated<number>;
  queue: string;
  payload: string;
  state: JobState;
  attempts: number;
  max_attempts: number;
  run_at: string;
  lease_owner: string | null;
  lease_until: string | null;
  last_error: string | null;
  /** Unique per queue while the job is pending (ready or running); cleared when it finishes. */
  dedupe_key: string | null;
  created_at: string;
  updated_at: string;
}

export type PatientRow = Selectable<PatientTable>;
export type StudyRow = Selectable<StudyTable>;
export type SeriesRow = Selectable<SeriesTable>;
export type InstanceRow = Selectable<InstanceTable>;
export type ChangeFeedRow = Selectable<ChangeFeedTable>;
export type JobRow = Selectable<JobTable>;
export type NewPatient = Insertable<PatientTable>;
export type NewStudy = Insertable<StudyTable>;
export type NewSeries = Insertable<SeriesTable>;
export type NewInstance = Insertable<InstanceTable>;
export type PatientUpdate = Updateable<PatientTable>;
export type StudyUpdate = Updateable<StudyTable>;
export type SeriesUpdate = Updateable<SeriesTable>;
