import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type {
  BulkDataRef,
  DicomJsonDataset,
  FrameRef,
  ParsedInstance,
  PixelDataInfo,
} from '@atrium/dicom';
import type { Insertable, Kysely, Transaction } from 'kysely';
import { sql } from 'kysely';
import type { DatabaseContext } from './database.js';
import { DuplicateInstanceError, IngestConflictError } from './errors.js';
import type { IndexRecord, PatientRecord, SeriesRecord, StudyRecord } from './index-record.js';
import { extractIndexRecord } from './index-record.js';
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
   * Runs inside the transaction once the outcome is decided, just before the commit; throwing rolls everything
   * back. For work that must succeed or fail together with the index rows.
   */
  beforeCommit?: (decision: { outcome: CommitOutcome; replacedBlobKey?: string }) => Promise<void> | void;
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
  /** For 'replaced': the key of the bytes no longer indexed, for the caller to delete after the commit. */
  replacedBlobKey?: string;
  warnings: string[];
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

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

type Trx = Transaction<AtriumSchema>;
type FeedRow = Insertable<ChangeFeedTable>;

interface Resolved<R> {
  row: R;
  created: boolean;
}

interface MetadataColumns {
  dicom_json: string;
  bulk_data_json: string;
  pixel_data_json: string | null;
  frames_json: string;
  deflated: number;
  dataset_offset: number;
}

function patientColumns(p: PatientRecord) {
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

function studyColumns(s: StudyRecord) {
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

function seriesColumns(s: SeriesRecord) {
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
 * Columns the stored row lacks and the new instance has. Study and series attributes come from the first instance
 * that created the row; later instances only fill gaps, so the index never flip-flops between instances that
 * disagree.
 */
function gaps<C extends Record<string, unknown>>(stored: Record<string, unknown>, incoming: C): Partial<C> {
  const fill: Partial<C> = {};
  for (const [column, value] of Object.entries(incoming)) {
    if (value !== null && stored[column] === null) (fill as Record<string, unknown>)[column] = value;
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
    patientByIdentity: new PreparedQuery<{ patientId: string; issuer: string }, PatientRow>(db, (p) =>
      dialect.lockRows(
        db
          .selectFrom('patient')
          .selectAll()
          .where('patient_id', '=', p('patientId'))
          .where('issuer_of_patient_id', '=', p('issuer')),
      ),
    ),
    studyByUid: new PreparedQuery<{ uid: string }, StudyRow>(db, (p) =>
      dialect.lockRows(db.selectFrom('study').selectAll().where('study_instance_uid', '=', p('uid'))),
    ),
    seriesByUid: new PreparedQuery<{ uid: string }, SeriesRow>(db, (p) =>
      dialect.lockRows(db.selectFrom('series').selectAll().where('series_instance_uid', '=', p('uid'))),
    ),
    insertInstance: new PreparedQuery<InstanceColumns & { sop_instance_uid: string }, { id: number }>(db, (p) =>
      db
        .insertInto('instance')
        .values(Object.fromEntries(INSTANCE_COLUMNS.map((c) => [c, p(c)])) as unknown as Insertable<AtriumSchema['instance']>)
        .returning('id'),
    ),
    updateInstance: new PreparedQuery<InstanceColumns & { id: number }, unknown>(db, (p) =>
      db
        .updateTable('instance')
        .set(Object.fromEntries(INSTANCE_COLUMNS.filter((c) => c !== 'sop_instance_uid').map((c) => [c, p(c as keyof InstanceColumns)])))
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
    insertFeed: new PreparedQuery<Required<Omit<FeedRow, 'seq'>>, unknown>(db, (p) =>
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
 * in one transaction per call, keeping counts, ModalitiesInStudy, SOPClassesInStudy, series metadata staleness and
 * the change feed current (architecture.md, data model).
 */
export class ArchiveRepository {
  readonly #q: ReturnType<typeof prepareStatements>;

  constructor(private readonly database: DatabaseContext) {
    this.#q = prepareStatements(database.kysely, database.dialect);
  }

  /** The stored instance with this SOP Instance UID, or undefined. */
  async findInstance(sopInstanceUid: string): Promise<StoredInstance | undefined> {
    const row = (await this.#q.storedInstance.execute(this.database.kysely, { sopInstanceUid })).rows[0];
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

  /**
   * Indexes one instance in one transaction. The duplicate decision is taken inside it (so two simultaneous
   * copies cannot both win): same digest → 'identical' with no change; otherwise the policy decides ('keep' →
   * 'kept-existing', 'replace' → 'replaced' with the old blob key returned, 'reject' → `DuplicateInstanceError`).
   * A study owned by another patient, or a series by another study, is refused with `IngestConflictError`. A
   * patient whose stored name or birth date differs keeps the stored values and the result carries a warning.
   */
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

  /** Confirms that the follow-up work of these intents is done. */
  async clearBlobIntents(blobKeys: readonly string[]): Promise<void> {
    if (blobKeys.length === 0) return;
    // Group commit: its flush runs off the event loop. (An autocommit under synchronous=FULL would flush on it.)
    await this.database.transaction(
      (trx) => trx.deleteFrom('blob_intent').where('blob_key', 'in', [...blobKeys]).execute(),
      { groupCommit: true },
    );
  }

  async commitInstance(input: CommitInstanceInput): Promise<CommitInstanceResult> {
    const { parsed } = input;
    const record = extractIndexRecord(parsed.dataset, parsed.fileMetaInformation);
    // Serialised before the transaction: the write lock is held for as short a time as possible.
    const metadata: MetadataColumns = {
      dicom_json: JSON.stringify(parsed.dataset),
      bulk_data_json: JSON.stringify(parsed.bulkData),
      pixel_data_json: parsed.pixelData ? JSON.stringify(parsed.pixelData) : null,
      frames_json: JSON.stringify(parsed.frames),
      deflated: parsed.deflated ? 1 : 0,
      dataset_offset: parsed.datasetOffset,
    };
    return this.database.transaction((trx) => this.#commit(trx, input, record, metadata), { groupCommit: true });
  }

  async #commit(
    trx: Trx,
    input: CommitInstanceInput,
    record: IndexRecord,
    metadata: MetadataColumns,
  ): Promise<CommitInstanceResult> {
    const q = this.#q;
    const now = this.database.now().toISOString();
    const sopInstanceUid = record.instance.sopInstanceUid;
    const warnings: string[] = [];
    const result = (outcome: CommitOutcome, replacedBlobKey?: string): CommitInstanceResult => ({
      outcome,
      ...(replacedBlobKey !== undefined ? { replacedBlobKey } : {}),
      warnings,
      studyInstanceUid: record.study.studyInstanceUid,
      seriesInstanceUid: record.series.seriesInstanceUid,
      sopInstanceUid,
    });

    const existing = (await q.instanceBySop.execute(trx, { sopInstanceUid })).rows[0];
    if (existing) {
      if (existing.digest === input.digest) {
        await input.beforeCommit?.({ outcome: 'identical' });
        return result('identical');
      }
      if (input.duplicatePolicy === 'reject') throw new DuplicateInstanceError(sopInstanceUid);
      if (input.duplicatePolicy === 'keep') {
        warnings.push(`Instance '${sopInstanceUid}' is already stored with other content: kept the stored copy`);
        await input.beforeCommit?.({ outcome: 'kept-existing' });
        return result('kept-existing');
      }
    }

    const feed: FeedRow[] = [];
    const patient = await this.#resolvePatient(trx, record.patient, now, warnings, feed);
    const study = await this.#resolveStudy(trx, record, patient.row, now, feed);
    const series = await this.#resolveSeries(trx, record, study.row, patient.row, now, feed);
    const patientRow = patient.row;
    const studyRow = study.row;
    const seriesRow = series.row;

    const instanceColumns: InstanceColumns = {
      series_fk: seriesRow.id,
      sop_class_uid: record.instance.sopClassUid,
      instance_number: record.instance.instanceNumber,
      transfer_syntax_uid: input.parsed.transferSyntaxUid,
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
      patient_id: patientRow.patient_id,
      issuer_of_patient_id: patientRow.issuer_of_patient_id,
      study_instance_uid: studyRow.study_instance_uid,
      series_instance_uid: seriesRow.series_instance_uid,
      sop_instance_uid: sopInstanceUid,
    };

    let previous: Levels | undefined;
    if (existing) {
      previous = await trx
        .selectFrom('series')
        .innerJoin('study', 'study.id', 'series.study_fk')
        .select(['series.id as seriesId', 'study.id as studyId', 'study.patient_fk as patientId'])
        .where('series.id', '=', existing.series_fk)
        .executeTakeFirstOrThrow();
      await q.updateInstance.execute(trx, { ...instanceColumns, id: existing.id });
      await q.updateMetadata.execute(trx, { ...metadata, instance_fk: existing.id });
      await this.#addToCounts(trx, previous, -1, -existing.size, now);
      feed.push({
        ...feedBase,
        level: 'instance',
        action: 'updated',
        detail: JSON.stringify({ reason: 'replaced', previousDigest: existing.digest, digest: input.digest }),
      });
    } else {
      const inserted = await q.insertInstance.execute(trx, { ...instanceColumns, sop_instance_uid: sopInstanceUid });
      await q.insertMetadata.execute(trx, { ...metadata, instance_fk: inserted.rows[0]!.id });
      feed.push({
        ...feedBase,
        level: 'instance',
        action: 'created',
        detail: JSON.stringify({
          sopClassUid: record.instance.sopClassUid,
          modality: seriesRow.modality,
          size: input.size,
          source: input.source.kind,
          ...(input.source.callingAeTitle ? { callingAeTitle: input.source.callingAeTitle } : {}),
        }),
      });
    }

    // The one place counts go up; `#addToCounts` and `#removeEmptyLevels` are where they go down.
    await q.addToSeries.execute(trx, { id: seriesRow.id, instances: 1, bytes: input.size, now });
    if (!series.created) {
      await q.markSeriesStale.execute(trx, { seriesId: seriesRow.id });
      const fill = gaps(seriesRow, seriesColumns(record.series));
      if (Object.keys(fill).length > 0) await trx.updateTable('series').set(fill).where('id', '=', seriesRow.id).execute();
    }

    await q.addToStudy.execute(trx, {
      id: studyRow.id,
      series: series.created ? 1 : 0,
      instances: 1,
      bytes: input.size,
      now,
    });
    const studyChanges: Record<string, string | null> = study.created
      ? {}
      : gaps(studyRow, studyColumns(record.study));
    const modalities = addToList(studyRow.modalities_in_study, seriesRow.modality);
    if (modalities !== undefined) studyChanges['modalities_in_study'] = modalities;
    const sopClasses = addToList(studyRow.sop_classes_in_study, record.instance.sopClassUid);
    if (sopClasses !== undefined) studyChanges['sop_classes_in_study'] = sopClasses;
    if (Object.keys(studyChanges).length > 0) {
      await trx.updateTable('study').set(studyChanges).where('id', '=', studyRow.id).execute();
    }

    await q.addToPatient.execute(trx, {
      id: patientRow.id,
      studies: study.created ? 1 : 0,
      series: series.created ? 1 : 0,
      instances: 1,
      now,
    });
    if (!patient.created) {
      const fill = gaps(patientRow, patientColumns(record.patient));
      if (Object.keys(fill).length > 0) await trx.updateTable('patient').set(fill).where('id', '=', patientRow.id).execute();
    }

    if (previous) {
      // A replacement may move the instance to another series (a corrected study): tidy where it was.
      const removed = await this.#removeEmptyLevels(trx, previous, now, feed);
      if (previous.seriesId !== seriesRow.id && !removed.series) {
        await q.markSeriesStale.execute(trx, { seriesId: previous.seriesId });
      }
      if (previous.studyId !== studyRow.id && !removed.study) await this.#recomputeStudyLists(trx, previous.studyId);
      await this.#recomputeStudyLists(trx, studyRow.id);
    }

    await this.#appendFeed(trx, feed);
    if (input.stagingId !== undefined) {
      const owner = input.owner ?? `${hostname()}:${process.pid}`;
      const intents: BlobIntentTable[] = [
        { blob_key: input.blobKey, action: 'publish', staging_id: input.stagingId, sop_instance_uid: sopInstanceUid, owner, created_at: now },
      ];
      if (existing && existing.blob_key !== input.blobKey) {
        intents.push({ blob_key: existing.blob_key, action: 'delete', staging_id: null, sop_instance_uid: sopInstanceUid, owner, created_at: now });
      }
      await trx
        .insertInto('blob_intent')
        .values(intents)
        .onConflict((oc) => oc.column('blob_key').doUpdateSet((eb) => ({
          action: eb.ref('excluded.action'),
          staging_id: eb.ref('excluded.staging_id'),
          sop_instance_uid: eb.ref('excluded.sop_instance_uid'),
          owner: eb.ref('excluded.owner'),
          created_at: eb.ref('excluded.created_at'),
        })))
        .execute();
    }
    const outcome: CommitOutcome = existing ? 'replaced' : 'stored';
    await input.beforeCommit?.({ outcome, ...(existing ? { replacedBlobKey: existing.blob_key } : {}) });
    return result(outcome, existing?.blob_key);
  }

  async #appendFeed(trx: Trx, feed: FeedRow[]): Promise<void> {
    for (const row of feed) {
      await this.#q.insertFeed.execute(trx, {
        recorded_at: row.recorded_at,
        level: row.level,
        action: row.action,
        patient_id: row.patient_id ?? null,
        issuer_of_patient_id: row.issuer_of_patient_id ?? null,
        study_instance_uid: row.study_instance_uid ?? null,
        series_instance_uid: row.series_instance_uid ?? null,
        sop_instance_uid: row.sop_instance_uid ?? null,
        detail: row.detail ?? null,
      });
    }
  }

  async #resolvePatient(
    trx: Trx,
    p: PatientRecord,
    now: string,
    warnings: string[],
    feed: FeedRow[],
  ): Promise<Resolved<PatientRow>> {
    const row = (
      await this.#q.patientByIdentity.execute(trx, { patientId: p.patientId, issuer: p.issuerOfPatientId })
    ).rows[0];
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
      return { row, created: false };
    }
    const created = await trx
      .insertInto('patient')
      .values({
        ...patientColumns(p),
        patient_id: p.patientId,
        issuer_of_patient_id: p.issuerOfPatientId,
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
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
    return { row: created, created: true };
  }

  async #resolveStudy(
    trx: Trx,
    record: IndexRecord,
    patient: PatientRow,
    now: string,
    feed: FeedRow[],
  ): Promise<Resolved<StudyRow>> {
    const uid = record.study.studyInstanceUid;
    const row = (await this.#q.studyByUid.execute(trx, { uid })).rows[0];
    if (row) {
      if (row.patient_fk !== patient.id) {
        const owner = await trx
          .selectFrom('patient')
          .select(['patient_id', 'issuer_of_patient_id'])
          .where('id', '=', row.patient_fk)
          .executeTakeFirstOrThrow();
        throw new IngestConflictError(
          `Cannot store instance '${record.instance.sopInstanceUid}': study '${uid}' belongs to patient ${describePatient(owner.patient_id, owner.issuer_of_patient_id)}, not to patient ${describePatient(patient.patient_id, patient.issuer_of_patient_id)}`,
        );
      }
      return { row, created: false };
    }
    const created = await trx
      .insertInto('study')
      .values({
        ...studyColumns(record.study),
        patient_fk: patient.id,
        study_instance_uid: uid,
        received_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    feed.push({
      recorded_at: now,
      level: 'study',
      action: 'created',
      patient_id: patient.patient_id,
      issuer_of_patient_id: patient.issuer_of_patient_id,
      study_instance_uid: uid,
      series_instance_uid: null,
      sop_instance_uid: null,
      detail: null,
    });
    return { row: created, created: true };
  }

  async #resolveSeries(
    trx: Trx,
    record: IndexRecord,
    study: StudyRow,
    patient: PatientRow,
    now: string,
    feed: FeedRow[],
  ): Promise<Resolved<SeriesRow>> {
    const uid = record.series.seriesInstanceUid;
    const row = (await this.#q.seriesByUid.execute(trx, { uid })).rows[0];
    if (row) {
      if (row.study_fk !== study.id) {
        const owner = await trx
          .selectFrom('study')
          .select('study_instance_uid')
          .where('id', '=', row.study_fk)
          .executeTakeFirstOrThrow();
        throw new IngestConflictError(
          `Cannot store instance '${record.instance.sopInstanceUid}': series '${uid}' belongs to study '${owner.study_instance_uid}', not to study '${study.study_instance_uid}'`,
        );
      }
      return { row, created: false };
    }
    const created = await trx
      .insertInto('series')
      .values({ ...seriesColumns(record.series), study_fk: study.id, series_instance_uid: uid, received_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    if (record.series.requestAttributes.length > 0) {
      await trx
        .insertInto('series_request_attribute')
        .values(
          record.series.requestAttributes.map((item, index) => ({
            series_fk: created.id,
            item_index: index,
            scheduled_procedure_step_id: item.scheduledProcedureStepId,
            requested_procedure_id: item.requestedProcedureId,
            accession_number: item.accessionNumber,
          })),
        )
        .execute();
    }
    await trx.insertInto('series_metadata').values({ series_fk: created.id, stale: 1, version: 1 }).execute();
    feed.push({
      recorded_at: now,
      level: 'series',
      action: 'created',
      patient_id: patient.patient_id,
      issuer_of_patient_id: patient.issuer_of_patient_id,
      study_instance_uid: study.study_instance_uid,
      series_instance_uid: uid,
      sop_instance_uid: null,
      detail: JSON.stringify({ modality: created.modality }),
    });
    return { row: created, created: true };
  }

  async #addToCounts(trx: Trx, levels: Levels, instances: number, bytes: number, now: string): Promise<void> {
    await this.#q.addToSeries.execute(trx, { id: levels.seriesId, instances, bytes, now });
    await this.#q.addToStudy.execute(trx, { id: levels.studyId, series: 0, instances, bytes, now });
    await this.#q.addToPatient.execute(trx, { id: levels.patientId, studies: 0, series: 0, instances, now });
  }

  /** ModalitiesInStudy and SOPClassesInStudy from what the study holds now (after a delete or a replace). */
  async #recomputeStudyLists(trx: Trx, studyId: number): Promise<void> {
    const modalities = await trx
      .selectFrom('series')
      .select('modality')
      .distinct()
      .where('study_fk', '=', studyId)
      .where('modality', 'is not', null)
      .execute();
    const sopClasses = await trx
      .selectFrom('instance')
      .innerJoin('series', 'series.id', 'instance.series_fk')
      .select('instance.sop_class_uid')
      .distinct()
      .where('series.study_fk', '=', studyId)
      .execute();
    const join = (values: Array<string | null>): string | null => {
      const list = values.filter((v): v is string => v !== null).sort();
      return list.length > 0 ? list.join('\\') : null;
    };
    await trx
      .updateTable('study')
      .set({
        modalities_in_study: join(modalities.map((r) => r.modality)),
        sop_classes_in_study: join(sopClasses.map((r) => r.sop_class_uid)),
      })
      .where('id', '=', studyId)
      .execute();
  }

  /** Deletes the series, study and patient of `levels` that no longer hold anything, bottom up. */
  async #removeEmptyLevels(
    trx: Trx,
    levels: Levels,
    now: string,
    feed: FeedRow[],
  ): Promise<{ series: boolean; study: boolean; patient: boolean }> {
    const removed = { series: false, study: false, patient: false };
    const series = await trx
      .selectFrom('series')
      .select(['number_of_instances', 'series_instance_uid'])
      .where('id', '=', levels.seriesId)
      .executeTakeFirst();
    const study = await trx
      .selectFrom('study')
      .innerJoin('patient', 'patient.id', 'study.patient_fk')
      .select(['study.study_instance_uid', 'patient.patient_id', 'patient.issuer_of_patient_id'])
      .where('study.id', '=', levels.studyId)
      .executeTakeFirstOrThrow();
    const base = {
      recorded_at: now,
      patient_id: study.patient_id,
      issuer_of_patient_id: study.issuer_of_patient_id,
      sop_instance_uid: null,
      detail: null,
    };
    if (series && series.number_of_instances === 0) {
      await trx.deleteFrom('series').where('id', '=', levels.seriesId).execute();
      removed.series = true;
      await trx
        .updateTable('study')
        .set((eb) => ({ number_of_series: eb('number_of_series', '-', 1), updated_at: now }))
        .where('id', '=', levels.studyId)
        .execute();
      await trx
        .updateTable('patient')
        .set((eb) => ({ number_of_series: eb('number_of_series', '-', 1), updated_at: now }))
        .where('id', '=', levels.patientId)
        .execute();
      feed.push({
        ...base,
        level: 'series',
        action: 'deleted',
        study_instance_uid: study.study_instance_uid,
        series_instance_uid: series.series_instance_uid,
      });
    }
    const studyCounts = await trx
      .selectFrom('study')
      .select('number_of_series')
      .where('id', '=', levels.studyId)
      .executeTakeFirstOrThrow();
    if (studyCounts.number_of_series === 0) {
      await trx.deleteFrom('study').where('id', '=', levels.studyId).execute();
      removed.study = true;
      await trx
        .updateTable('patient')
        .set((eb) => ({ number_of_studies: eb('number_of_studies', '-', 1), updated_at: now }))
        .where('id', '=', levels.patientId)
        .execute();
      feed.push({
        ...base,
        level: 'study',
        action: 'deleted',
        study_instance_uid: study.study_instance_uid,
        series_instance_uid: null,
      });
      const patientCounts = await trx
        .selectFrom('patient')
        .select('number_of_studies')
        .where('id', '=', levels.patientId)
        .executeTakeFirstOrThrow();
      if (patientCounts.number_of_studies === 0) {
        await trx.deleteFrom('patient').where('id', '=', levels.patientId).execute();
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
   */
  async deleteInstance(sopInstanceUid: string): Promise<DeletedInstance | undefined> {
    return this.database.transaction(async (trx) => {
      const now = this.database.now().toISOString();
      const row = await this.database.dialect
        .lockRows(
          trx
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
        )
        .executeTakeFirst();
      if (!row) return undefined;
      const levels = { seriesId: row.seriesId, studyId: row.studyId, patientId: row.patientId };
      await trx.deleteFrom('instance').where('id', '=', row.id).execute();
      await this.#addToCounts(trx, levels, -1, -row.size, now);
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
      const removed = await this.#removeEmptyLevels(trx, levels, now, feed);
      if (!removed.series) await this.#q.markSeriesStale.execute(trx, { seriesId: row.seriesId });
      if (!removed.study) await this.#recomputeStudyLists(trx, row.studyId);
      await this.#appendFeed(trx, feed);
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
