import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type {
  BulkDataRef,
  DicomJsonDataset,
  FrameRef,
  ParsedInstance,
  PixelDataInfo,
} from '@atrium/dicom';
import type { Compilable, Insertable, Kysely, Updateable } from 'kysely';
import { sql } from 'kysely';
import type { CommitThread } from './commit-thread.js';
import type { BatchScope, DatabaseContext, OwedWrites } from './database.js';
import type { DirectConnection } from './dialect.js';
import { DatabaseError, DuplicateInstanceError, IngestConflictError } from './errors.js';
import type { IndexRecord, PatientRecord, SeriesRecord, StudyRecord } from './index-record.js';
import { extractIndexRecord } from './index-record.js';
import type { ParameterOf } from './prepared-query.js';
import { PreparedQuery } from './prepared-query.js';
import type {
  AtriumSchema,
  BlobIntentTable,
  InstanceTable,
  ChangeAction,
  ChangeFeedTable,
  ChangeLevel,
  PatientRow,
  SeriesRow,
  StudyRow,
} from './schema.js';

export type IngestSourceKind = 'import' | 'dimse' | 'stow' | 'demo';
export type DuplicatePolicy = 'keep' | 'replace' | 'reject';
export type CommitOutcome = 'stored' | 'identical' | 'kept-existing' | 'replaced';

export interface CommitInstanceInput {
  parsed: ParsedInstance;
  /** Where the bytes are (or will be, once the caller finishes its crash-safe steps). */
  blobKey: string;
  size: number;
  /** SHA-256 of the stored bytes, lower-case hex. */
  digest: string;
  source: { kind: IngestSourceKind; callingAeTitle?: string };
  duplicatePolicy: DuplicatePolicy;
  /**
   * The store's id of the staged bytes that the caller will publish under `blobKey` after the commit. When given,
   * a new or replacing commit records the publish (and the deletion of a replaced blob) as blob intents in the
   * same transaction, for crash recovery; the caller clears them with `clearBlobIntents` once done.
   */
  stagingId?: string;
  /** `<host>:<pid>` of the committing process, recorded with the intents (default: this process). */
  owner?: string;
  /**
   * Runs inside the transaction once the outcome is decided, just before the commit; throwing rolls this instance
   * back (and only this one when commits share a transaction). For work that must succeed or fail together with
   * the index rows. It must not query the database itself: the commit holds the connection meanwhile.
   */
  beforeCommit?: (decision: { outcome: CommitOutcome; replacedBlobKey?: string }) => Promise<void> | void;
  /**
   * Resolve once the transaction is committed, before its flush; the result's `durable` settles after the flush.
   * For a caller that acknowledges on other durable evidence (the ingest pipeline's flushed staged bytes, from
   * which recovery can redo a commit lost with the last unflushed writes).
   */
  deferFlush?: boolean;
}

export interface BlobIntent {
  blobKey: string;
  action: 'publish' | 'delete';
  stagingId: string | null;
  sopInstanceUid: string;
  owner: string;
}

export interface CommitInstanceResult {
  outcome: CommitOutcome;
  /** For 'identical' and 'kept-existing': the key of the copy that stays stored. */
  storedBlobKey?: string;
  /** Settles once the commit is on disk (rejects if its flush fails): already settled unless `deferFlush` was set. */
  durable: Promise<void>;
  /** For 'replaced': the key of the bytes no longer indexed, for the caller to delete after the commit. */
  replacedBlobKey?: string;
  warnings: string[];
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

/**
 * A commit as its transaction needs it: the index record extracted and the metadata serialised on the caller's
 * thread, and nothing but plain data, so that it can be posted to the commit thread (see `CommitThread`).
 */
export interface PreparedCommit
  extends Pick<CommitInstanceInput, 'blobKey' | 'size' | 'digest' | 'source' | 'duplicatePolicy' | 'stagingId'> {
  record: IndexRecord;
  metadata: MetadataColumns;
  transferSyntaxUid: string;
  owner: string;
  /** The commit's timestamp, ISO 8601; taken in the transaction from the database's clock when absent. */
  now?: string;
  deferFlush: boolean;
}

/** A commit's result before its `durable` is attached. */
export type CommitValue = Omit<CommitInstanceResult, 'durable'>;

export interface StoredInstance {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  blobKey: string;
  size: number;
  digest: string;
  receivedAt: string;
}

export interface InstanceBlob {
  sopInstanceUid: string;
  blobKey: string;
  size: number;
  digest: string;
}

export interface InstanceMetadata extends StoredInstance {
  /** DICOM JSON of the data set without bulk data (bulk values carry BulkDataURIs). */
  dataset: DicomJsonDataset;
  bulkData: BulkDataRef[];
  pixelData: PixelDataInfo | undefined;
  frames: FrameRef[];
  deflated: boolean;
  datasetOffset: number;
}

export interface DeletedInstance extends InstanceBlob {
  seriesInstanceUid: string;
  studyInstanceUid: string;
  /** Levels removed because the instance was their last. */
  removedSeries: boolean;
  removedStudy: boolean;
  removedPatient: boolean;
}

export interface ArchiveStats {
  patients: number;
  studies: number;
  series: number;
  instances: number;
  bytes: number;
  byModality: Record<string, { series: number; instances: number; bytes: number }>;
}

/** The WADO-RS metadata of a series (PS3.18 §10.4.1.1.2): a JSON array of the instances' DICOM JSON. */
export interface SeriesMetadataDocument {
  seriesInstanceUid: string;
  /** JSON text, ready to send. */
  document: string;
  /** Strong validator of `document` (quoted, RFC 9110 §8.8.3). */
  etag: string;
}

export interface ChangeFeedEntry {
  seq: number;
  recordedAt: string;
  level: ChangeLevel;
  action: ChangeAction;
  patientId: string | null;
  issuerOfPatientId: string | null;
  studyInstanceUid: string | null;
  seriesInstanceUid: string | null;
  sopInstanceUid: string | null;
  detail: Record<string, unknown> | null;
}

type FeedRow = Required<Omit<Insertable<ChangeFeedTable>, 'seq'>>;

/** The `durable` of a commit that was flushed before it was answered. */
const DURABLE: Promise<void> = Promise.resolve();

/** The instance's metadata as stored: serialised by the caller before its commit. */
export interface MetadataColumns {
  dicom_json: string;
  bulk_data_json: string;
  pixel_data_json: string | null;
  frames_json: string;
  deflated: number;
  dataset_offset: number;
}

/** Attribute columns of each level: written when the row is created, later only where empty (see `gaps`). */
const PATIENT_ATTRIBUTES = [
  'patient_name',
  'patient_name_search',
  'patient_name_ideographic',
  'patient_name_phonetic',
  'patient_birth_date',
  'patient_birth_time',
  'patient_sex',
  'other_patient_ids',
] as const;
const STUDY_ATTRIBUTES = [
  'study_date',
  'study_time',
  'accession_number',
  'issuer_of_accession_number',
  'study_id',
  'study_description',
  'referring_physician_name',
  'referring_physician_name_search',
  'specific_character_set',
] as const;
const SERIES_ATTRIBUTES = [
  'modality',
  'series_number',
  'series_description',
  'series_date',
  'series_time',
  'body_part_examined',
  'laterality',
  'performed_procedure_step_start_date',
  'performed_procedure_step_start_time',
  'institution_name',
  'station_name',
  'manufacturer',
] as const;

type PatientAttributes = Pick<PatientRow, (typeof PATIENT_ATTRIBUTES)[number]>;
type StudyAttributes = Pick<StudyRow, (typeof STUDY_ATTRIBUTES)[number]>;
type SeriesAttributes = Pick<SeriesRow, (typeof SERIES_ATTRIBUTES)[number]>;

/** What a commit reads of each stored level: its id, its parent, and what it compares or fills. */
type StoredPatient = { id: number } & PatientAttributes;
type StoredStudy = Pick<StudyRow, 'id' | 'patient_fk' | 'modalities_in_study' | 'sop_classes_in_study'> & StudyAttributes;
type StoredSeries = Pick<SeriesRow, 'id' | 'study_fk'> & SeriesAttributes;

/** A level of the hierarchy as a commit found it: `stored` is undefined when this commit created the row. */
interface Level<R> {
  id: number;
  stored: R | undefined;
}

function patientColumns(p: PatientRecord): PatientAttributes {
  return {
    patient_name: p.patientName,
    patient_name_search: p.patientNameSearch,
    patient_name_ideographic: p.patientNameIdeographic,
    patient_name_phonetic: p.patientNamePhonetic,
    patient_birth_date: p.patientBirthDate,
    patient_birth_time: p.patientBirthTime,
    patient_sex: p.patientSex,
    other_patient_ids: p.otherPatientIds,
  };
}

function studyColumns(s: StudyRecord): StudyAttributes {
  return {
    study_date: s.studyDate,
    study_time: s.studyTime,
    accession_number: s.accessionNumber,
    issuer_of_accession_number: s.issuerOfAccessionNumber,
    study_id: s.studyId,
    study_description: s.studyDescription,
    referring_physician_name: s.referringPhysicianName,
    referring_physician_name_search: s.referringPhysicianNameSearch,
    specific_character_set: s.specificCharacterSet,
  };
}

function seriesColumns(s: SeriesRecord): SeriesAttributes {
  return {
    modality: s.modality,
    series_number: s.seriesNumber,
    series_description: s.seriesDescription,
    series_date: s.seriesDate,
    series_time: s.seriesTime,
    body_part_examined: s.bodyPartExamined,
    laterality: s.laterality,
    performed_procedure_step_start_date: s.performedProcedureStepStartDate,
    performed_procedure_step_start_time: s.performedProcedureStepStartTime,
    institution_name: s.institutionName,
    station_name: s.stationName,
    manufacturer: s.manufacturer,
  };
}

/**
 * Columns the stored row lacks and the new instance has, or undefined when there are none (nearly always).
 * Study and series attributes come from the first instance that created the row; later instances only fill gaps,
 * so the index never flip-flops between instances that disagree.
 */
function gaps<T extends object>(stored: T, incoming: T, columns: ReadonlyArray<keyof T>): Partial<T> | undefined {
  let fill: Partial<T> | undefined;
  for (const column of columns) {
    const value = incoming[column];
    if (value !== null && stored[column] === null) {
      fill ??= {};
      fill[column] = value;
    }
  }
  return fill;
}

/** Adds `value` to a sorted, `\`-joined set; returns undefined when it is already there. */
function addToList(list: string | null, value: string | null): string | undefined {
  if (value === null) return undefined;
  const items = list ? list.split('\\') : [];
  if (items.includes(value)) return undefined;
  items.push(value);
  items.sort();
  return items.join('\\');
}

function describePatient(patientId: string, issuer: string): string {
  return issuer ? `'${patientId}' (issuer '${issuer}')` : `'${patientId}'`;
}

function etagOf(document: string): string {
  return `"${createHash('sha256').update(document).digest('base64url')}"`;
}

/** The rows of a query of a rare path, built anew each time, run on the direct connection. */
async function rowsOf<R>(connection: DirectConnection, query: Compilable<R>): Promise<R[]> {
  const compiled = query.compile();
  return connection.all<R>(compiled.sql, compiled.parameters);
}

/** The one row a rare-path query must find. */
async function oneOf<R>(connection: DirectConnection, query: Compilable<R>, what: string): Promise<R> {
  const compiled = query.compile();
  const row = await connection.get<R>(compiled.sql, compiled.parameters);
  if (row === undefined) throw new DatabaseError('ATRIUM_ERR_DB_NOT_FOUND', `Cannot find ${what} in the index`);
  return row;
}

async function execute(connection: DirectConnection, query: Compilable<unknown>): Promise<void> {
  const compiled = query.compile();
  await connection.run(compiled.sql, compiled.parameters);
}

type Levels = { seriesId: number; studyId: number; patientId: number };

interface StoredInstanceRow {
  sop_instance_uid: string;
  sop_class_uid: string;
  transfer_syntax_uid: string;
  blob_key: string;
  size: number;
  digest: string;
  received_at: string;
  series_instance_uid: string;
  study_instance_uid: string;
}

/** What `StoredInstance` is read from, after joining an instance to its series and study. */
const STORED_INSTANCE_COLUMNS = [
  'instance.sop_instance_uid',
  'instance.sop_class_uid',
  'instance.transfer_syntax_uid',
  'instance.blob_key',
  'instance.size',
  'instance.digest',
  'instance.received_at',
  'series.series_instance_uid',
  'study.study_instance_uid',
] as const;

/** Blob keys per statement when intents are cleared: one statement text whatever the count (see `clearBlobIntents`). */
const CLEAR_CHUNK = 64;

/** Named parameters for every column of `columns`, for an insert built once. */
function parametersFor<P, K extends keyof P & string>(p: ParameterOf<P>, columns: readonly K[]): Record<K, unknown> {
  return Object.fromEntries(columns.map((c) => [c, p(c)])) as Record<K, unknown>;
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * The counts the new instances of one transaction add, and the series whose metadata they make stale: written once
 * per series, study and patient when the transaction commits (`OwedWrites`), instead of four updates per instance.
 * The instances of a series mostly arrive together, so one transaction's commits mostly share their rows.
 */
class OwedCounts implements OwedWrites {
  readonly #series = new Map<number, { instances: number; bytes: number }>();
  readonly #studies = new Map<number, { series: number; instances: number; bytes: number }>();
  readonly #patients = new Map<number, { studies: number; series: number; instances: number }>();
  readonly #staleSeries = new Set<number>();
  /** The latest commit time among the instances counted: what `updated_at` becomes. */
  #now = '';

  constructor(private readonly q: Statements) {}

  /** One new instance of `levels`; `created` says which of its series and study its commit created. */
  add(levels: Levels, bytes: number, created: { series: boolean; study: boolean }, now: string): this {
    const series = this.#series.get(levels.seriesId) ?? { instances: 0, bytes: 0 };
    series.instances += 1;
    series.bytes += bytes;
    this.#series.set(levels.seriesId, series);
    // As before, an instance joining a series that existed before its commit makes the series' metadata stale.
    if (!created.series) this.#staleSeries.add(levels.seriesId);
    const study = this.#studies.get(levels.studyId) ?? { series: 0, instances: 0, bytes: 0 };
    study.series += created.series ? 1 : 0;
    study.instances += 1;
    study.bytes += bytes;
    this.#studies.set(levels.studyId, study);
    const patient = this.#patients.get(levels.patientId) ?? { studies: 0, series: 0, instances: 0 };
    patient.studies += created.study ? 1 : 0;
    patient.series += created.series ? 1 : 0;
    patient.instances += 1;
    this.#patients.set(levels.patientId, patient);
    if (now > this.#now) this.#now = now;
    return this;
  }

  absorb(later: OwedWrites): boolean {
    if (!(later instanceof OwedCounts) || later.q !== this.q) return false;
    const sum = <V extends Record<string, number>>(into: Map<number, V>, from: Map<number, V>) => {
      for (const [id, add] of from) {
        const have = into.get(id);
        if (!have) into.set(id, { ...add });
        else for (const key of Object.keys(add) as (keyof V)[]) (have[key] as number) += add[key]!;
      }
    };
    sum(this.#series, later.#series);
    sum(this.#studies, later.#studies);
    sum(this.#patients, later.#patients);
    for (const id of later.#staleSeries) this.#staleSeries.add(id);
    if (later.#now > this.#now) this.#now = later.#now;
    return true;
  }

  async write(c: DirectConnection): Promise<void> {
    const now = this.#now;
    for (const [id, add] of this.#series) await this.q.addToSeries.run(c, { id, ...add, now });
    for (const seriesId of this.#staleSeries) await this.q.markSeriesStale.run(c, { seriesId });
    for (const [id, add] of this.#studies) await this.q.addToStudy.run(c, { id, ...add, now });
    for (const [id, add] of this.#patients) await this.q.addToPatient.run(c, { id, ...add, now });
  }
}

/** The statements every commit runs, prepared once per database (see `PreparedQuery`). */
function prepareStatements(db: Kysely<AtriumSchema>, dialect: DatabaseContext['dialect']) {
  return {
    // Also on each ingest's path: the duplicate check before the commit.
    storedInstance: new PreparedQuery<{ sopInstanceUid: string }, StoredInstanceRow>(db, (p) =>
      db
        .selectFrom('instance')
        .innerJoin('series', 'series.id', 'instance.series_fk')
        .innerJoin('study', 'study.id', 'series.study_fk')
        .select(STORED_INSTANCE_COLUMNS)
        .where('instance.sop_instance_uid', '=', p('sopInstanceUid')),
    ),
    instanceBySop: new PreparedQuery<{ sopInstanceUid: string }, {
      id: number;
      series_fk: number;
      size: number;
      digest: string;
      blob_key: string;
    }>(db, (p) =>
      dialect.lockRows(
        db
          .selectFrom('instance')
          .select(['id', 'series_fk', 'size', 'digest', 'blob_key'])
          .where('sop_instance_uid', '=', p('sopInstanceUid')),
      ),
    ),
    patientByIdentity: new PreparedQuery<{ patientId: string; issuer: string }, StoredPatient>(db, (p) =>
      dialect.lockRows(
        db
          .selectFrom('patient')
          .select(['id', ...PATIENT_ATTRIBUTES])
          .where('patient_id', '=', p('patientId'))
          .where('issuer_of_patient_id', '=', p('issuer')),
      ),
    ),
    studyByUid: new PreparedQuery<{ uid: string }, StoredStudy>(db, (p) =>
      dialect.lockRows(
        db
          .selectFrom('study')
          .select(['id', 'patient_fk', 'modalities_in_study', 'sop_classes_in_study', ...STUDY_ATTRIBUTES])
          .where('study_instance_uid', '=', p('uid')),
      ),
    ),
    seriesByUid: new PreparedQuery<{ uid: string }, StoredSeries>(db, (p) =>
      dialect.lockRows(
        db
          .selectFrom('series')
          .select(['id', 'study_fk', ...SERIES_ATTRIBUTES])
          .where('series_instance_uid', '=', p('uid')),
      ),
    ),
    insertPatient: new PreparedQuery<
      PatientAttributes & { patient_id: string; issuer_of_patient_id: string; created_at: string; updated_at: string },
      { id: number }
    >(db, (p) =>
      db
        .insertInto('patient')
        .values(
          parametersFor(p, [...PATIENT_ATTRIBUTES, 'patient_id', 'issuer_of_patient_id', 'created_at', 'updated_at']) as unknown as Insertable<AtriumSchema['patient']>,
        )
        .returning('id'),
    ),
    insertStudy: new PreparedQuery<
      StudyAttributes & { patient_fk: number; study_instance_uid: string; received_at: string; updated_at: string },
      { id: number }
    >(db, (p) =>
      db
        .insertInto('study')
        .values(
          parametersFor(p, [...STUDY_ATTRIBUTES, 'patient_fk', 'study_instance_uid', 'received_at', 'updated_at']) as unknown as Insertable<AtriumSchema['study']>,
        )
        .returning('id'),
    ),
    insertSeries: new PreparedQuery<
      SeriesAttributes & { study_fk: number; series_instance_uid: string; received_at: string; updated_at: string },
      { id: number }
    >(db, (p) =>
      db
        .insertInto('series')
        .values(
          parametersFor(p, [...SERIES_ATTRIBUTES, 'study_fk', 'series_instance_uid', 'received_at', 'updated_at']) as unknown as Insertable<AtriumSchema['series']>,
        )
        .returning('id'),
    ),
    insertSeriesMetadata: new PreparedQuery<{ seriesId: number }, unknown>(db, (p) =>
      db.insertInto('series_metadata').values({ series_fk: p('seriesId'), stale: 1, version: 1 }),
    ),
    insertInstance: new PreparedQuery<InstanceColumns & { sop_instance_uid: string }, { id: number }>(db, (p) =>
      db
        .insertInto('instance')
        .values(parametersFor(p, INSTANCE_COLUMNS) as unknown as Insertable<AtriumSchema['instance']>)
        .returning('id'),
    ),
    updateInstance: new PreparedQuery<InstanceColumns & { id: number }, unknown>(db, (p) =>
      db
        .updateTable('instance')
        .set(
          parametersFor(p, INSTANCE_COLUMNS.filter((c) => c !== 'sop_instance_uid') as Array<keyof InstanceColumns>) as unknown as Updateable<InstanceTable>,
        )
        .where('id', '=', p('id')),
    ),
    insertMetadata: new PreparedQuery<MetadataColumns & { instance_fk: number }, unknown>(db, (p) =>
      db.insertInto('instance_metadata').values({
        instance_fk: p('instance_fk'),
        dicom_json: p('dicom_json'),
        bulk_data_json: p('bulk_data_json'),
        pixel_data_json: p('pixel_data_json'),
        frames_json: p('frames_json'),
        deflated: p('deflated'),
        dataset_offset: p('dataset_offset'),
      }),
    ),
    updateMetadata: new PreparedQuery<MetadataColumns & { instance_fk: number }, unknown>(db, (p) =>
      db
        .updateTable('instance_metadata')
        .set({
          dicom_json: p('dicom_json'),
          bulk_data_json: p('bulk_data_json'),
          pixel_data_json: p('pixel_data_json'),
          frames_json: p('frames_json'),
          deflated: p('deflated'),
          dataset_offset: p('dataset_offset'),
        })
        .where('instance_fk', '=', p('instance_fk')),
    ),
    addToSeries: new PreparedQuery<{ id: number; instances: number; bytes: number; now: string }, unknown>(db, (p) =>
      db
        .updateTable('series')
        .set((eb) => ({
          number_of_instances: eb('number_of_instances', '+', p('instances')),
          total_bytes: eb('total_bytes', '+', p('bytes')),
          updated_at: p('now'),
        }))
        .where('id', '=', p('id')),
    ),
    addToStudy: new PreparedQuery<
      { id: number; series: number; instances: number; bytes: number; now: string },
      unknown
    >(db, (p) =>
      db
        .updateTable('study')
        .set((eb) => ({
          number_of_series: eb('number_of_series', '+', p('series')),
          number_of_instances: eb('number_of_instances', '+', p('instances')),
          total_bytes: eb('total_bytes', '+', p('bytes')),
          updated_at: p('now'),
        }))
        .where('id', '=', p('id')),
    ),
    addToPatient: new PreparedQuery<
      { id: number; studies: number; series: number; instances: number; now: string },
      unknown
    >(db, (p) =>
      db
        .updateTable('patient')
        .set((eb) => ({
          number_of_studies: eb('number_of_studies', '+', p('studies')),
          number_of_series: eb('number_of_series', '+', p('series')),
          number_of_instances: eb('number_of_instances', '+', p('instances')),
          updated_at: p('now'),
        }))
        .where('id', '=', p('id')),
    ),
    markSeriesStale: new PreparedQuery<{ seriesId: number }, unknown>(db, (p) =>
      db
        .updateTable('series_metadata')
        .set((eb) => ({ stale: 1, version: eb('version', '+', 1) }))
        .where('series_fk', '=', p('seriesId')),
    ),
    insertFeed: new PreparedQuery<FeedRow, unknown>(db, (p) =>
      db.insertInto('change_feed').values({
        recorded_at: p('recorded_at'),
        level: p('level'),
        action: p('action'),
        patient_id: p('patient_id'),
        issuer_of_patient_id: p('issuer_of_patient_id'),
        study_instance_uid: p('study_instance_uid'),
        series_instance_uid: p('series_instance_uid'),
        sop_instance_uid: p('sop_instance_uid'),
        detail: p('detail'),
      }),
    ),
    upsertIntent: new PreparedQuery<BlobIntentTable, unknown>(db, (p) =>
      db
        .insertInto('blob_intent')
        .values({
          blob_key: p('blob_key'),
          action: p('action'),
          staging_id: p('staging_id'),
          sop_instance_uid: p('sop_instance_uid'),
          owner: p('owner'),
          created_at: p('created_at'),
        })
        .onConflict((oc) =>
          oc.column('blob_key').doUpdateSet((eb) => ({
            action: eb.ref('excluded.action'),
            staging_id: eb.ref('excluded.staging_id'),
            sop_instance_uid: eb.ref('excluded.sop_instance_uid'),
            owner: eb.ref('excluded.owner'),
            created_at: eb.ref('excluded.created_at'),
          })),
        ),
    ),
    // Its parameters are exactly CLEAR_CHUNK blob keys, so it is run with the keys as they are.
    deleteIntents: db
      .deleteFrom('blob_intent')
      .where('blob_key', 'in', Array.from({ length: CLEAR_CHUNK }, () => ''))
      .compile(),
  };
}

const INSTANCE_COLUMNS = [
  'sop_instance_uid',
  'series_fk',
  'sop_class_uid',
  'instance_number',
  'transfer_syntax_uid',
  'number_of_frames',
  'rows',
  'columns',
  'bits_allocated',
  'content_date',
  'content_time',
  'blob_key',
  'size',
  'digest',
  'source_kind',
  'calling_ae_title',
  'received_at',
] as const;

/** Every instance column but the generated id and the SOP Instance UID, the key a row is written under. */
type InstanceColumns = Omit<InstanceTable, 'id' | 'sop_instance_uid'>;

/**
 * The index's write path for ingest and its reads by instance: every change to the four levels goes through here,
 * in one transaction (or savepoint of a shared one, see `DatabaseContext.batched`) per call, keeping counts,
 * ModalitiesInStudy, SOPClassesInStudy, series metadata staleness and the change feed current (architecture.md,
 * data model).
 */
export class ArchiveRepository {
  readonly #q: Statements;
  /** `<host>:<pid>`, recorded with blob intents: looked up once, not at every commit. */
  readonly #owner = `${hostname()}:${process.pid}`;
  readonly #commits: CommitThread | undefined;

  /**
   * `commits`: the database's commit thread, where commits and intent clearings run on a connection of their own
   * (see `CommitThread`); without it they run on `database`'s connection.
   */
  constructor(
    private readonly database: DatabaseContext,
    commits?: CommitThread,
  ) {
    this.#q = prepareStatements(database.kysely, database.dialect);
    this.#commits = commits;
  }

  /** The stored instance with this SOP Instance UID, or undefined. */
  async findInstance(sopInstanceUid: string): Promise<StoredInstance | undefined> {
    const row = await this.database.read((connection) => this.#q.storedInstance.get(connection, { sopInstanceUid }));
    if (!row) return undefined;
    return {
      sopInstanceUid: row.sop_instance_uid,
      seriesInstanceUid: row.series_instance_uid,
      studyInstanceUid: row.study_instance_uid,
      sopClassUid: row.sop_class_uid,
      transferSyntaxUid: row.transfer_syntax_uid,
      blobKey: row.blob_key,
      size: row.size,
      digest: row.digest,
      receivedAt: row.received_at,
    };
  }

  /** Blob intents left by commits whose follow-up work has not been confirmed (crash recovery reads them). */
  async listBlobIntents(): Promise<BlobIntent[]> {
    const rows = await this.database.kysely.selectFrom('blob_intent').selectAll().orderBy('created_at').execute();
    return rows.map((r) => ({
      blobKey: r.blob_key,
      action: r.action,
      stagingId: r.staging_id,
      sopInstanceUid: r.sop_instance_uid,
      owner: r.owner,
    }));
  }

  /**
   * Confirms that the follow-up work of these intents is done. Group commit: the deletion shares a transaction
   * and a flush (off the event loop) with the commits pending meanwhile, on the commit thread when there is one
   * (where the intents were written: an intent is never cleared before the commit that wrote it).
   */
  async clearBlobIntents(blobKeys: readonly string[]): Promise<void> {
    if (blobKeys.length === 0) return;
    if (this.#commits) return this.#commits.clearBlobIntents(blobKeys);
    return this.clearBlobIntentsHere(blobKeys);
  }

  /** `clearBlobIntents` on this repository's own connection: what the commit thread runs. */
  async clearBlobIntentsHere(blobKeys: readonly string[]): Promise<void> {
    const { sql: text } = this.#q.deleteIntents;
    await this.database.batched(async (connection) => {
      for (let first = 0; first < blobKeys.length; first += CLEAR_CHUNK) {
        const chunk = blobKeys.slice(first, first + CLEAR_CHUNK);
        // A repeated key changes nothing in an IN list, and keeps one statement text in the engine's cache.
        while (chunk.length < CLEAR_CHUNK) chunk.push(chunk[0]!);
        await connection.run(text, chunk);
      }
      // Only blob intents: the counts commits before it owe can wait for the commit.
    }, { defersOwed: true });
  }

  /**
   * Indexes one instance in one transaction. The duplicate decision is taken inside it (so two simultaneous
   * copies cannot both win): same digest → 'identical' with no change; otherwise the policy decides ('keep' →
   * 'kept-existing', 'replace' → 'replaced' with the old blob key returned, 'reject' → `DuplicateInstanceError`).
   * A study owned by another patient, or a series by another study, is refused with `IngestConflictError`. A
   * patient whose stored name or birth date differs keeps the stored values and the result carries a warning.
   *
   * Commits called meanwhile share one transaction (each in its own savepoint) and one flush (group commit, see
   * `DatabaseContext.batched`): each result, change-feed entry and count is what one commit after the other, in
   * call order, would have given, a failure rolls back only its own instance, and each promise resolves once its
   * commit is durable.
   *
   * With a commit thread, the transaction runs there; the index record and the metadata are still made here. A
   * commit with `beforeCommit` runs on this thread's connection instead (a function cannot be posted, and a round
   * trip to run it here would hold the write lock while this thread may itself be waiting for it): its order
   * against the commit thread's concurrent commits is the order in which the two connections get the write lock.
   */
  async commitInstance(input: CommitInstanceInput): Promise<CommitInstanceResult> {
    const { parsed } = input;
    const record = extractIndexRecord(parsed.dataset, parsed.fileMetaInformation);
    // Serialised before the transaction: the write lock is held for as short a time as possible.
    const prepared: PreparedCommit = {
      record,
      metadata: {
        dicom_json: JSON.stringify(parsed.dataset),
        bulk_data_json: JSON.stringify(parsed.bulkData),
        pixel_data_json: parsed.pixelData ? JSON.stringify(parsed.pixelData) : null,
        frames_json: JSON.stringify(parsed.frames),
        deflated: parsed.deflated ? 1 : 0,
        dataset_offset: parsed.datasetOffset,
      },
      transferSyntaxUid: parsed.transferSyntaxUid,
      blobKey: input.blobKey,
      size: input.size,
      digest: input.digest,
      // Copied, not passed on: whatever else the caller's object holds need not survive a post to the commit thread.
      source: { kind: input.source.kind, ...(input.source.callingAeTitle !== undefined ? { callingAeTitle: input.source.callingAeTitle } : {}) },
      duplicatePolicy: input.duplicatePolicy,
      ...(input.stagingId !== undefined ? { stagingId: input.stagingId } : {}),
      owner: input.owner ?? this.#owner,
      deferFlush: input.deferFlush === true,
    };
    if (this.#commits && !input.beforeCommit) {
      // The commit thread has no clock of ours (tests pass fake ones): the time is taken at the call.
      prepared.now = this.database.now().toISOString();
      return this.#commits.commit(prepared);
    }
    return this.commitPrepared(prepared, input.beforeCommit);
  }

  /** `commitInstance` of a prepared commit on this repository's own connection: what the commit thread runs. */
  async commitPrepared(prepared: PreparedCommit, beforeCommit?: CommitInstanceInput['beforeCommit']): Promise<CommitInstanceResult> {
    const work = (connection: DirectConnection, scope: BatchScope) => this.#commit(connection, scope, prepared, beforeCommit);
    if (prepared.deferFlush) {
      const { value, durable } = await this.database.batchedCommitted(work, { defersOwed: true });
      return { ...value, durable };
    }
    return { ...(await this.database.batched(work, { defersOwed: true })), durable: DURABLE };
  }

  async #commit(
    c: DirectConnection,
    scope: BatchScope,
    input: PreparedCommit,
    beforeCommit: CommitInstanceInput['beforeCommit'],
  ): Promise<CommitValue> {
    const { record, metadata } = input;
    const q = this.#q;
    const db = this.database.kysely;
    const now = input.now ?? this.database.now().toISOString();
    const sopInstanceUid = record.instance.sopInstanceUid;
    const warnings: string[] = [];
    const result = (outcome: CommitOutcome, replacedBlobKey?: string, storedBlobKey?: string): Omit<CommitInstanceResult, 'durable'> => ({
      outcome,
      ...(replacedBlobKey !== undefined ? { replacedBlobKey } : {}),
      ...(storedBlobKey !== undefined ? { storedBlobKey } : {}),
      warnings,
      studyInstanceUid: record.study.studyInstanceUid,
      seriesInstanceUid: record.series.seriesInstanceUid,
      sopInstanceUid,
    });

    const existing = await q.instanceBySop.get(c, { sopInstanceUid });
    if (existing) {
      if (existing.digest === input.digest) {
        await beforeCommit?.({ outcome: 'identical' });
        return result('identical', undefined, existing.blob_key);
      }
      if (input.duplicatePolicy === 'reject') throw new DuplicateInstanceError(sopInstanceUid, existing.blob_key);
      if (input.duplicatePolicy === 'keep') {
        warnings.push(`Instance '${sopInstanceUid}' is already stored with other content: kept the stored copy`);
        await beforeCommit?.({ outcome: 'kept-existing' });
        return result('kept-existing', undefined, existing.blob_key);
      }
    }

    const feed: FeedRow[] = [];
    const patient = await this.#resolvePatient(c, record.patient, now, warnings, feed);
    const study = await this.#resolveStudy(c, record, patient, now, feed);
    const series = await this.#resolveSeries(c, record, study, now, feed);
    // The series' modality as stored before this commit: what ModalitiesInStudy and the feed have always used.
    const modality = series.stored ? series.stored.modality : record.series.modality;

    const instanceColumns: InstanceColumns = {
      series_fk: series.id,
      sop_class_uid: record.instance.sopClassUid,
      instance_number: record.instance.instanceNumber,
      transfer_syntax_uid: input.transferSyntaxUid,
      number_of_frames: record.instance.numberOfFrames,
      rows: record.instance.rows,
      columns: record.instance.columns,
      bits_allocated: record.instance.bitsAllocated,
      content_date: record.instance.contentDate,
      content_time: record.instance.contentTime,
      blob_key: input.blobKey,
      size: input.size,
      digest: input.digest,
      source_kind: input.source.kind,
      calling_ae_title: input.source.callingAeTitle ?? null,
      received_at: now,
    };
    const feedBase = {
      recorded_at: now,
      patient_id: record.patient.patientId,
      issuer_of_patient_id: record.patient.issuerOfPatientId,
      study_instance_uid: record.study.studyInstanceUid,
      series_instance_uid: record.series.seriesInstanceUid,
      sop_instance_uid: sopInstanceUid,
    };

    let previous: Levels | undefined;
    if (existing) {
      // A replacement reads counts (`#removeEmptyLevels`): what the commits before it in the transaction owe first.
      await scope.settle();
      previous = await oneOf(
        c,
        db
          .selectFrom('series')
          .innerJoin('study', 'study.id', 'series.study_fk')
          .select(['series.id as seriesId', 'study.id as studyId', 'study.patient_fk as patientId'])
          .where('series.id', '=', existing.series_fk),
        `the series of instance '${sopInstanceUid}'`,
      );
      await q.updateInstance.run(c, { ...instanceColumns, id: existing.id });
      await q.updateMetadata.run(c, { ...metadata, instance_fk: existing.id });
      await this.#addToCounts(c, previous, -1, -existing.size, now);
      feed.push({
        ...feedBase,
        level: 'instance',
        action: 'updated',
        detail: JSON.stringify({ reason: 'replaced', previousDigest: existing.digest, digest: input.digest }),
      });
    } else {
      const inserted = await q.insertInstance.get(c, { ...instanceColumns, sop_instance_uid: sopInstanceUid });
      await q.insertMetadata.run(c, { ...metadata, instance_fk: inserted!.id });
      feed.push({
        ...feedBase,
        level: 'instance',
        action: 'created',
        detail: JSON.stringify({
          sopClassUid: record.instance.sopClassUid,
          modality,
          size: input.size,
          source: input.source.kind,
          ...(input.source.callingAeTitle ? { callingAeTitle: input.source.callingAeTitle } : {}),
        }),
      });
    }

    // The one place counts go up, owed to the transaction (`OwedCounts`) except by a replacement, which reads them
    // back; `#addToCounts` and `#removeEmptyLevels` are where they go down.
    const counts = new OwedCounts(q).add(
      { seriesId: series.id, studyId: study.id, patientId: patient.id },
      input.size,
      { series: !series.stored, study: !study.stored },
      now,
    );
    if (previous) await counts.write(c);
    else scope.owe(counts);
    if (series.stored) {
      const fill = gaps<SeriesAttributes>(series.stored, seriesColumns(record.series), SERIES_ATTRIBUTES);
      if (fill) await execute(c, db.updateTable('series').set(fill).where('id', '=', series.id));
    }

    let studyChanges: Partial<StudyAttributes & Pick<StudyRow, 'modalities_in_study' | 'sop_classes_in_study'>> | undefined =
      study.stored && gaps<StudyAttributes>(study.stored, studyColumns(record.study), STUDY_ATTRIBUTES);
    const modalities = addToList(study.stored?.modalities_in_study ?? null, modality);
    if (modalities !== undefined) (studyChanges ??= {}).modalities_in_study = modalities;
    const sopClasses = addToList(study.stored?.sop_classes_in_study ?? null, record.instance.sopClassUid);
    if (sopClasses !== undefined) (studyChanges ??= {}).sop_classes_in_study = sopClasses;
    if (studyChanges) await execute(c, db.updateTable('study').set(studyChanges).where('id', '=', study.id));

    if (patient.stored) {
      const fill = gaps<PatientAttributes>(patient.stored, patientColumns(record.patient), PATIENT_ATTRIBUTES);
      if (fill) await execute(c, db.updateTable('patient').set(fill).where('id', '=', patient.id));
    }

    if (previous) {
      // A replacement may move the instance to another series (a corrected study): tidy where it was.
      const removed = await this.#removeEmptyLevels(c, previous, now, feed);
      if (previous.seriesId !== series.id && !removed.series) {
        await q.markSeriesStale.run(c, { seriesId: previous.seriesId });
      }
      if (previous.studyId !== study.id && !removed.study) await this.#recomputeStudyLists(c, previous.studyId);
      await this.#recomputeStudyLists(c, study.id);
    }

    await this.#appendFeed(c, feed);
    if (input.stagingId !== undefined) {
      const owner = input.owner;
      await q.upsertIntent.run(c, {
        blob_key: input.blobKey,
        action: 'publish',
        staging_id: input.stagingId,
        sop_instance_uid: sopInstanceUid,
        owner,
        created_at: now,
      });
      if (existing && existing.blob_key !== input.blobKey) {
        await q.upsertIntent.run(c, {
          blob_key: existing.blob_key,
          action: 'delete',
          staging_id: null,
          sop_instance_uid: sopInstanceUid,
          owner,
          created_at: now,
        });
      }
    }
    const outcome: CommitOutcome = existing ? 'replaced' : 'stored';
    await beforeCommit?.({ outcome, ...(existing ? { replacedBlobKey: existing.blob_key } : {}) });
    return result(outcome, existing?.blob_key);
  }

  async #appendFeed(c: DirectConnection, feed: readonly FeedRow[]): Promise<void> {
    for (const row of feed) await this.#q.insertFeed.run(c, row);
  }

  async #resolvePatient(
    c: DirectConnection,
    p: PatientRecord,
    now: string,
    warnings: string[],
    feed: FeedRow[],
  ): Promise<Level<StoredPatient>> {
    const row = await this.#q.patientByIdentity.get(c, { patientId: p.patientId, issuer: p.issuerOfPatientId });
    if (row) {
      const who = describePatient(p.patientId, p.issuerOfPatientId);
      if (row.patient_name !== null && p.patientName !== null && row.patient_name !== p.patientName) {
        warnings.push(
          `Patient ${who} is stored with name '${row.patient_name}', the instance says '${p.patientName}': kept the stored name`,
        );
      }
      if (row.patient_birth_date !== null && p.patientBirthDate !== null && row.patient_birth_date !== p.patientBirthDate) {
        warnings.push(
          `Patient ${who} is stored with birth date '${row.patient_birth_date}', the instance says '${p.patientBirthDate}': kept the stored birth date`,
        );
      }
      return { id: row.id, stored: row };
    }
    const created = await this.#q.insertPatient.get(c, {
      ...patientColumns(p),
      patient_id: p.patientId,
      issuer_of_patient_id: p.issuerOfPatientId,
      created_at: now,
      updated_at: now,
    });
    feed.push({
      recorded_at: now,
      level: 'patient',
      action: 'created',
      patient_id: p.patientId,
      issuer_of_patient_id: p.issuerOfPatientId,
      study_instance_uid: null,
      series_instance_uid: null,
      sop_instance_uid: null,
      detail: null,
    });
    return { id: created!.id, stored: undefined };
  }

  async #resolveStudy(
    c: DirectConnection,
    record: IndexRecord,
    patient: Level<StoredPatient>,
    now: string,
    feed: FeedRow[],
  ): Promise<Level<StoredStudy>> {
    const uid = record.study.studyInstanceUid;
    const { patientId, issuerOfPatientId } = record.patient;
    const row = await this.#q.studyByUid.get(c, { uid });
    if (row) {
      if (row.patient_fk !== patient.id) {
        const owner = await oneOf(
          c,
          this.database.kysely
            .selectFrom('patient')
            .select(['patient_id', 'issuer_of_patient_id'])
            .where('id', '=', row.patient_fk),
          `the patient of study '${uid}'`,
        );
        throw new IngestConflictError(
          `Cannot store instance '${record.instance.sopInstanceUid}': study '${uid}' belongs to patient ${describePatient(owner.patient_id, owner.issuer_of_patient_id)}, not to patient ${describePatient(patientId, issuerOfPatientId)}`,
        );
      }
      return { id: row.id, stored: row };
    }
    const created = await this.#q.insertStudy.get(c, {
      ...studyColumns(record.study),
      patient_fk: patient.id,
      study_instance_uid: uid,
      received_at: now,
      updated_at: now,
    });
    feed.push({
      recorded_at: now,
      level: 'study',
      action: 'created',
      patient_id: patientId,
      issuer_of_patient_id: issuerOfPatientId,
      study_instance_uid: uid,
      series_instance_uid: null,
      sop_instance_uid: null,
      detail: null,
    });
    return { id: created!.id, stored: undefined };
  }

  async #resolveSeries(
    c: DirectConnection,
    record: IndexRecord,
    study: Level<StoredStudy>,
    now: string,
    feed: FeedRow[],
  ): Promise<Level<StoredSeries>> {
    const uid = record.series.seriesInstanceUid;
    const studyUid = record.study.studyInstanceUid;
    const row = await this.#q.seriesByUid.get(c, { uid });
    if (row) {
      if (row.study_fk !== study.id) {
        const owner = await oneOf(
          c,
          this.database.kysely.selectFrom('study').select('study_instance_uid').where('id', '=', row.study_fk),
          `the study of series '${uid}'`,
        );
        throw new IngestConflictError(
          `Cannot store instance '${record.instance.sopInstanceUid}': series '${uid}' belongs to study '${owner.study_instance_uid}', not to study '${studyUid}'`,
        );
      }
      return { id: row.id, stored: row };
    }
    const created = await this.#q.insertSeries.get(c, {
      ...seriesColumns(record.series),
      study_fk: study.id,
      series_instance_uid: uid,
      received_at: now,
      updated_at: now,
    });
    const seriesId = created!.id;
    if (record.series.requestAttributes.length > 0) {
      await execute(
        c,
        this.database.kysely.insertInto('series_request_attribute').values(
          record.series.requestAttributes.map((item, index) => ({
            series_fk: seriesId,
            item_index: index,
            scheduled_procedure_step_id: item.scheduledProcedureStepId,
            requested_procedure_id: item.requestedProcedureId,
            accession_number: item.accessionNumber,
          })),
        ),
      );
    }
    await this.#q.insertSeriesMetadata.run(c, { seriesId });
    feed.push({
      recorded_at: now,
      level: 'series',
      action: 'created',
      patient_id: record.patient.patientId,
      issuer_of_patient_id: record.patient.issuerOfPatientId,
      study_instance_uid: studyUid,
      series_instance_uid: uid,
      sop_instance_uid: null,
      detail: JSON.stringify({ modality: record.series.modality }),
    });
    return { id: seriesId, stored: undefined };
  }

  async #addToCounts(c: DirectConnection, levels: Levels, instances: number, bytes: number, now: string): Promise<void> {
    await this.#q.addToSeries.run(c, { id: levels.seriesId, instances, bytes, now });
    await this.#q.addToStudy.run(c, { id: levels.studyId, series: 0, instances, bytes, now });
    await this.#q.addToPatient.run(c, { id: levels.patientId, studies: 0, series: 0, instances, now });
  }

  /** ModalitiesInStudy and SOPClassesInStudy from what the study holds now (after a delete or a replace). */
  async #recomputeStudyLists(c: DirectConnection, studyId: number): Promise<void> {
    const db = this.database.kysely;
    const modalities = await rowsOf(
      c,
      db.selectFrom('series').select('modality').distinct().where('study_fk', '=', studyId).where('modality', 'is not', null),
    );
    const sopClasses = await rowsOf(
      c,
      db
        .selectFrom('instance')
        .innerJoin('series', 'series.id', 'instance.series_fk')
        .select('instance.sop_class_uid')
        .distinct()
        .where('series.study_fk', '=', studyId),
    );
    const join = (values: Array<string | null>): string | null => {
      const list = values.filter((v): v is string => v !== null).sort();
      return list.length > 0 ? list.join('\\') : null;
    };
    await execute(
      c,
      db
        .updateTable('study')
        .set({
          modalities_in_study: join(modalities.map((r) => r.modality)),
          sop_classes_in_study: join(sopClasses.map((r) => r.sop_class_uid)),
        })
        .where('id', '=', studyId),
    );
  }

  /** Deletes the series, study and patient of `levels` that no longer hold anything, bottom up. */
  async #removeEmptyLevels(
    c: DirectConnection,
    levels: Levels,
    now: string,
    feed: FeedRow[],
  ): Promise<{ series: boolean; study: boolean; patient: boolean }> {
    const db = this.database.kysely;
    const removed = { series: false, study: false, patient: false };
    const [series] = await rowsOf(
      c,
      db.selectFrom('series').select(['number_of_instances', 'series_instance_uid']).where('id', '=', levels.seriesId),
    );
    const study = await oneOf(
      c,
      db
        .selectFrom('study')
        .innerJoin('patient', 'patient.id', 'study.patient_fk')
        .select(['study.study_instance_uid', 'patient.patient_id', 'patient.issuer_of_patient_id'])
        .where('study.id', '=', levels.studyId),
      `study ${levels.studyId}`,
    );
    const base = {
      recorded_at: now,
      patient_id: study.patient_id,
      issuer_of_patient_id: study.issuer_of_patient_id,
      sop_instance_uid: null,
      detail: null,
    };
    if (series && series.number_of_instances === 0) {
      await execute(c, db.deleteFrom('series').where('id', '=', levels.seriesId));
      removed.series = true;
      await execute(
        c,
        db
          .updateTable('study')
          .set((eb) => ({ number_of_series: eb('number_of_series', '-', 1), updated_at: now }))
          .where('id', '=', levels.studyId),
      );
      await execute(
        c,
        db
          .updateTable('patient')
          .set((eb) => ({ number_of_series: eb('number_of_series', '-', 1), updated_at: now }))
          .where('id', '=', levels.patientId),
      );
      feed.push({
        ...base,
        level: 'series',
        action: 'deleted',
        study_instance_uid: study.study_instance_uid,
        series_instance_uid: series.series_instance_uid,
      });
    }
    const studyCounts = await oneOf(
      c,
      db.selectFrom('study').select('number_of_series').where('id', '=', levels.studyId),
      `study ${levels.studyId}`,
    );
    if (studyCounts.number_of_series === 0) {
      await execute(c, db.deleteFrom('study').where('id', '=', levels.studyId));
      removed.study = true;
      await execute(
        c,
        db
          .updateTable('patient')
          .set((eb) => ({ number_of_studies: eb('number_of_studies', '-', 1), updated_at: now }))
          .where('id', '=', levels.patientId),
      );
      feed.push({
        ...base,
        level: 'study',
        action: 'deleted',
        study_instance_uid: study.study_instance_uid,
        series_instance_uid: null,
      });
      const patientCounts = await oneOf(
        c,
        db.selectFrom('patient').select('number_of_studies').where('id', '=', levels.patientId),
        `patient ${levels.patientId}`,
      );
      if (patientCounts.number_of_studies === 0) {
        await execute(c, db.deleteFrom('patient').where('id', '=', levels.patientId));
        removed.patient = true;
        feed.push({ ...base, level: 'patient', action: 'deleted', study_instance_uid: null, series_instance_uid: null });
      }
    }
    return removed;
  }

  /**
   * Removes an instance from the index (its metadata with it), keeps the counts and study lists current, removes
   * the series, study and patient it leaves empty, and records it all in the change feed. Returns what was
   * removed, including the blob key for the caller to delete after the commit; undefined when not indexed.
   * Shares transactions and flushes with concurrent commits, as `commitInstance` does.
   */
  async deleteInstance(sopInstanceUid: string): Promise<DeletedInstance | undefined> {
    return this.database.batched(async (c) => {
      const db = this.database.kysely;
      const now = this.database.now().toISOString();
      const [row] = await rowsOf(
        c,
        this.database.dialect.lockRows(
          db
            .selectFrom('instance')
            .innerJoin('series', 'series.id', 'instance.series_fk')
            .innerJoin('study', 'study.id', 'series.study_fk')
            .innerJoin('patient', 'patient.id', 'study.patient_fk')
            .select([
              'instance.id',
              'instance.size',
              'instance.digest',
              'instance.blob_key',
              'series.id as seriesId',
              'series.series_instance_uid',
              'study.id as studyId',
              'study.study_instance_uid',
              'patient.id as patientId',
              'patient.patient_id',
              'patient.issuer_of_patient_id',
            ])
            .where('instance.sop_instance_uid', '=', sopInstanceUid),
        ),
      );
      if (!row) return undefined;
      const levels = { seriesId: row.seriesId, studyId: row.studyId, patientId: row.patientId };
      await execute(c, db.deleteFrom('instance').where('id', '=', row.id));
      await this.#addToCounts(c, levels, -1, -row.size, now);
      const feed: FeedRow[] = [
        {
          recorded_at: now,
          level: 'instance',
          action: 'deleted',
          patient_id: row.patient_id,
          issuer_of_patient_id: row.issuer_of_patient_id,
          study_instance_uid: row.study_instance_uid,
          series_instance_uid: row.series_instance_uid,
          sop_instance_uid: sopInstanceUid,
          detail: JSON.stringify({ digest: row.digest, size: row.size }),
        },
      ];
      const removed = await this.#removeEmptyLevels(c, levels, now, feed);
      if (!removed.series) await this.#q.markSeriesStale.run(c, { seriesId: row.seriesId });
      if (!removed.study) await this.#recomputeStudyLists(c, row.studyId);
      await this.#appendFeed(c, feed);
      return {
        sopInstanceUid,
        seriesInstanceUid: row.series_instance_uid,
        studyInstanceUid: row.study_instance_uid,
        blobKey: row.blob_key,
        size: row.size,
        digest: row.digest,
        removedSeries: removed.series,
        removedStudy: removed.study,
        removedPatient: removed.patient,
      };
    });
  }

  /**
   * Every indexed instance's blob, for fsck. Paged by id (keyset pagination) with one short query per page, so
   * memory stays bounded and writers are not held off while the caller checks each blob.
   */
  async *listInstanceBlobs(options: { pageSize?: number } = {}): AsyncIterable<InstanceBlob> {
    const pageSize = Math.max(1, options.pageSize ?? 1000);
    let after = 0;
    for (;;) {
      const page = await this.database.kysely
        .selectFrom('instance')
        .select(['id', 'sop_instance_uid', 'blob_key', 'size', 'digest'])
        .where('id', '>', after)
        .orderBy('id')
        .limit(pageSize)
        .execute();
      for (const row of page) {
        yield { sopInstanceUid: row.sop_instance_uid, blobKey: row.blob_key, size: row.size, digest: row.digest };
      }
      const last = page[page.length - 1];
      if (page.length < pageSize || last === undefined) return;
      after = last.id;
    }
  }

  /** Counts of each level, stored bytes, and per modality the series, instances and bytes. */
  async stats(): Promise<ArchiveStats> {
    const db = this.database.kysely;
    const count = async (table: 'patient' | 'study' | 'series'): Promise<number> => {
      const row = await db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    };
    const instances = await db
      .selectFrom('instance')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number | null>('size').as('bytes')])
      .executeTakeFirstOrThrow();
    const modalities = await db
      .selectFrom('series')
      .select((eb) => [
        'modality',
        eb.fn.countAll<number>().as('series'),
        eb.fn.sum<number>('number_of_instances').as('instances'),
        eb.fn.sum<number>('total_bytes').as('bytes'),
      ])
      .groupBy('modality')
      .execute();
    const byModality: ArchiveStats['byModality'] = {};
    for (const m of modalities) {
      byModality[m.modality ?? ''] = { series: Number(m.series), instances: Number(m.instances), bytes: Number(m.bytes) };
    }
    return {
      patients: await count('patient'),
      studies: await count('study'),
      series: await count('series'),
      instances: Number(instances.n),
      bytes: Number(instances.bytes ?? 0),
      byModality,
    };
  }

  /** The instance's DICOM JSON and byte locations as recorded at ingest (no file is read). */
  async getInstanceMetadata(sopInstanceUid: string): Promise<InstanceMetadata | undefined> {
    const row = await this.database.kysely
      .selectFrom('instance')
      .innerJoin('instance_metadata', 'instance_metadata.instance_fk', 'instance.id')
      .innerJoin('series', 'series.id', 'instance.series_fk')
      .innerJoin('study', 'study.id', 'series.study_fk')
      .select([
        ...STORED_INSTANCE_COLUMNS,
        'instance_metadata.dicom_json',
        'instance_metadata.bulk_data_json',
        'instance_metadata.pixel_data_json',
        'instance_metadata.frames_json',
        'instance_metadata.deflated',
        'instance_metadata.dataset_offset',
      ])
      .where('instance.sop_instance_uid', '=', sopInstanceUid)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      sopInstanceUid: row.sop_instance_uid,
      seriesInstanceUid: row.series_instance_uid,
      studyInstanceUid: row.study_instance_uid,
      sopClassUid: row.sop_class_uid,
      transferSyntaxUid: row.transfer_syntax_uid,
      blobKey: row.blob_key,
      size: row.size,
      digest: row.digest,
      receivedAt: row.received_at,
      dataset: JSON.parse(row.dicom_json) as DicomJsonDataset,
      bulkData: JSON.parse(row.bulk_data_json) as BulkDataRef[],
      pixelData: row.pixel_data_json ? (JSON.parse(row.pixel_data_json) as PixelDataInfo) : undefined,
      frames: JSON.parse(row.frames_json) as FrameRef[],
      deflated: row.deflated !== 0,
      datasetOffset: row.dataset_offset,
    };
  }

  /**
   * The series' WADO-RS metadata document: the stored one when fresh, otherwise rebuilt first. Undefined when the
   * series is not indexed.
   */
  async getSeriesMetadata(seriesInstanceUid: string): Promise<SeriesMetadataDocument | undefined> {
    const row = await this.database.kysely
      .selectFrom('series_metadata')
      .innerJoin('series', 'series.id', 'series_metadata.series_fk')
      .select(['series_metadata.document', 'series_metadata.etag', 'series_metadata.stale'])
      .where('series.series_instance_uid', '=', seriesInstanceUid)
      .executeTakeFirst();
    if (!row) return undefined;
    if (row.stale === 0 && row.document !== null && row.etag !== null) {
      return { seriesInstanceUid, document: row.document, etag: row.etag };
    }
    return this.rebuildSeriesMetadata(seriesInstanceUid);
  }

  /**
   * Builds the series' metadata document by concatenating its instances' stored DICOM JSON in Instance Number
   * order (then SOP Instance UID; instances without a number last): no file is read. The document is stored as
   * fresh only if the series did not change meanwhile (its version is unchanged), so a concurrent ingest is never
   * hidden behind an old document.
   */
  async rebuildSeriesMetadata(seriesInstanceUid: string): Promise<SeriesMetadataDocument | undefined> {
    const db = this.database.kysely;
    const head = await db
      .selectFrom('series_metadata')
      .innerJoin('series', 'series.id', 'series_metadata.series_fk')
      .select(['series.id', 'series_metadata.version'])
      .where('series.series_instance_uid', '=', seriesInstanceUid)
      .executeTakeFirst();
    if (!head) return undefined;
    const rows = await db
      .selectFrom('instance')
      .innerJoin('instance_metadata', 'instance_metadata.instance_fk', 'instance.id')
      .select('instance_metadata.dicom_json')
      .where('instance.series_fk', '=', head.id)
      .orderBy(sql`case when ${sql.ref('instance.instance_number')} is null then 1 else 0 end`)
      .orderBy('instance.instance_number')
      .orderBy('instance.sop_instance_uid')
      .execute();
    const document = `[${rows.map((r) => r.dicom_json).join(',')}]`;
    const etag = etagOf(document);
    await db
      .updateTable('series_metadata')
      .set({
        document,
        etag,
        stale: 0,
        built_version: head.version,
        built_at: this.database.now().toISOString(),
      })
      .where('series_fk', '=', head.id)
      .where('version', '=', head.version)
      .execute();
    return { seriesInstanceUid, document, etag };
  }

  /** Change-feed entries after `afterSeq`, oldest first. */
  async readChangeFeed(options: { afterSeq?: number; limit?: number } = {}): Promise<ChangeFeedEntry[]> {
    const rows = await this.database.kysely
      .selectFrom('change_feed')
      .selectAll()
      .where('seq', '>', options.afterSeq ?? 0)
      .orderBy('seq')
      .limit(Math.max(1, options.limit ?? 100))
      .execute();
    return rows.map((r) => ({
      seq: r.seq,
      recordedAt: r.recorded_at,
      level: r.level,
      action: r.action,
      patientId: r.patient_id,
      issuerOfPatientId: r.issuer_of_patient_id,
      studyInstanceUid: r.study_instance_uid,
      seriesInstanceUid: r.series_instance_uid,
      sopInstanceUid: r.sop_instance_uid,
      detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
    }));
  }
}
