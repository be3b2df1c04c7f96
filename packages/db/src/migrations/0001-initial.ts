import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { DialectSupport } from '../dialect.js';

/**
 * The first index schema: patient, study, series, instance levels with typed matching columns (PS3.4 C.6.1.1,
 * C.6.2.1; PS3.18 Table 10.6.1-5), instance and series metadata, change feed and job queue. Shipped migrations
 * are never edited: a change is a new numbered migration.
 */
export async function up(db: Kysely<any>, dialect: DialectSupport): Promise<void> {
  const int = dialect.integerType;

  await db.schema
    .createTable('patient')
    .addColumn('id', int, (c) => dialect.idColumn(c))
    .addColumn('patient_id', 'text', (c) => c.notNull())
    .addColumn('issuer_of_patient_id', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('patient_name', 'text')
    .addColumn('patient_name_search', 'text')
    .addColumn('patient_name_ideographic', 'text')
    .addColumn('patient_name_phonetic', 'text')
    .addColumn('patient_birth_date', 'text')
    .addColumn('patient_birth_time', 'text')
    .addColumn('patient_sex', 'text')
    .addColumn('other_patient_ids', 'text')
    .addColumn('number_of_studies', int, (c) => c.notNull().defaultTo(0))
    .addColumn('number_of_series', int, (c) => c.notNull().defaultTo(0))
    .addColumn('number_of_instances', int, (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('patient_identity_unique', ['patient_id', 'issuer_of_patient_id'])
    .execute();
  await db.schema.createIndex('patient_name_search_idx').on('patient').column('patient_name_search').execute();
  await db.schema.createIndex('patient_birth_date_idx').on('patient').column('patient_birth_date').execute();

  await db.schema
    .createTable('study')
    .addColumn('id', int, (c) => dialect.idColumn(c))
    .addColumn('patient_fk', int, (c) => c.notNull().references('patient.id'))
    .addColumn('study_instance_uid', 'text', (c) => c.notNull().unique())
    .addColumn('study_date', 'text')
    .addColumn('study_time', 'text')
    .addColumn('accession_number', 'text')
    .addColumn('issuer_of_accession_number', 'text')
    .addColumn('study_id', 'text')
    .addColumn('study_description', 'text')
    .addColumn('referring_physician_name', 'text')
    .addColumn('referring_physician_name_search', 'text')
    .addColumn('modalities_in_study', 'text')
    .addColumn('sop_classes_in_study', 'text')
    .addColumn('specific_character_set', 'text')
    .addColumn('number_of_series', int, (c) => c.notNull().defaultTo(0))
    .addColumn('number_of_instances', int, (c) => c.notNull().defaultTo(0))
    .addColumn('total_bytes', int, (c) => c.notNull().defaultTo(0))
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('study_patient_fk_idx').on('study').column('patient_fk').execute();
  await db.schema.createIndex('study_date_time_idx').on('study').columns(['study_date', 'study_time']).execute();
  await db.schema.createIndex('study_accession_number_idx').on('study').column('accession_number').execute();
  await db.schema.createIndex('study_received_at_idx').on('study').column('received_at').execute();
  await db.schema
    .createIndex('study_referring_physician_idx')
    .on('study')
    .column('referring_physician_name_search')
    .execute();

  await db.schema
    .createTable('series')
    .addColumn('id', int, (c) => dialect.idColumn(c))
    .addColumn('study_fk', int, (c) => c.notNull().references('study.id'))
    .addColumn('series_instance_uid', 'text', (c) => c.notNull().unique())
    .addColumn('modality', 'text')
    .addColumn('series_number', int)
    .addColumn('series_description', 'text')
    .addColumn('series_date', 'text')
    .addColumn('series_time', 'text')
    .addColumn('body_part_examined', 'text')
    .addColumn('laterality', 'text')
    .addColumn('performed_procedure_step_start_date', 'text')
    .addColumn('performed_procedure_step_start_time', 'text')
    .addColumn('institution_name', 'text')
    .addColumn('station_name', 'text')
    .addColumn('manufacturer', 'text')
    .addColumn('number_of_instances', int, (c) => c.notNull().defaultTo(0))
    .addColumn('total_bytes', int, (c) => c.notNull().defaultTo(0))
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('series_study_fk_idx').on('series').column('study_fk').execute();
  await db.schema.createIndex('series_modality_idx').on('series').column('modality').execute();

  await db.schema
    .createTable('series_request_attribute')
    .addColumn('id', int, (c) => dialect.idColumn(c))
    .addColumn('series_fk', int, (c) => c.notNull().references('series.id').onDelete('cascade'))
    .addColumn('item_index', int, (c) => c.notNull())
    .addColumn('scheduled_procedure_step_id', 'text')
    .addColumn('requested_procedure_id', 'text')
    .addColumn('accession_number', 'text')
    .execute();
  await db.schema
    .createIndex('series_request_attribute_series_fk_idx')
    .on('series_request_attribute')
    .column('series_fk')
    .execute();
  await db.schema
    .createIndex('series_request_attribute_accession_idx')
    .on('series_request_attribute')
    .column('accession_number')
    .execute();
  await db.schema
    .createIndex('series_request_attribute_requested_procedure_idx')
    .on('series_request_attribute')
    .column('requested_procedure_id')
    .execute();
  await db.schema
    .createIndex('series_request_attribute_scheduled_step_idx')
    .on('series_request_attribute')
    .column('scheduled_procedure_step_id')
    .execute();

  await db.schema
    .createTable('instance')
    .addColumn('id', int, (c) => dialect.idColumn(c))
    .addColumn('series_fk', int, (c) => c.notNull().references('series.id'))
    .addColumn('sop_instance_uid', 'text', (c) => c.notNull().unique())
    .addColumn('sop_class_uid', 'text', (c) => c.notNull())
    .addColumn('instance_number', int)
    .addColumn('transfer_syntax_uid', 'text', (c) => c.notNull())
    .addColumn('number_of_frames', int)
    .addColumn('rows', int)
    .addColumn('columns', int)
    .addColumn('bits_allocated', int)
    .addColumn('content_date', 'text')
    .addColumn('content_time', 'text')
    .addColumn('blob_key', 'text', (c) => c.notNull())
    .addColumn('size', int, (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('source_kind', 'text', (c) => c.notNull())
    .addColumn('calling_ae_title', 'text')
    .addColumn('received_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('instance_series_fk_number_idx')
    .on('instance')
    .columns(['series_fk', 'instance_number'])
    .execute();

  await db.schema
    .createTable('instance_metadata')
    .addColumn('instance_fk', int, (c) => c.primaryKey().references('instance.id').onDelete('cascade'))
    .addColumn('dicom_json', 'text', (c) => c.notNull())
    .addColumn('bulk_data_json', 'text', (c) => c.notNull())
    .addColumn('pixel_data_json', 'text')
    .addColumn('frames_json', 'text', (c) => c.notNull())
    .addColumn('deflated', int, (c) => c.notNull())
    .addColumn('dataset_offset', int, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('series_metadata')
    .addColumn('series_fk', int, (c) => c.primaryKey().references('series.id').onDelete('cascade'))
    .addColumn('document', 'text')
    .addColumn('etag', 'text')
    .addColumn('stale', int, (c) => c.notNull().defaultTo(1))
    .addColumn('version', int, (c) => c.notNull().defaultTo(1))
    .addColumn('built_version', int)
    .addColumn('built_at', 'text')
    .execute();

  await db.schema
    .createTable('blob_intent')
    .addColumn('blob_key', 'text', (c) => c.primaryKey())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('staging_id', 'text')
    .addColumn('sop_instance_uid', 'text', (c) => c.notNull())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('change_feed')
    .addColumn('seq', int, (c) => dialect.idColumn(c, { monotonic: true }))
    .addColumn('recorded_at', 'text', (c) => c.notNull())
    .addColumn('level', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('patient_id', 'text')
    .addColumn('issuer_of_patient_id', 'text')
    .addColumn('study_instance_uid', 'text')
    .addColumn('series_instance_uid', 'text')
    .addColumn('sop_instance_uid', 'text')
    .addColumn('detail', 'text')
    .execute();

  await db.schema
    .createTable('job')
    .addColumn('id', int, (c) => dialect.idColumn(c, { monotonic: true }))
    .addColumn('queue', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', int, (c) => c.notNull().defaultTo(0))
    .addColumn('max_attempts', int, (c) => c.notNull())
    .addColumn('run_at', 'text', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', 'text')
    .addColumn('last_error', 'text')
    .addColumn('dedupe_key', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addCheckConstraint('job_state_check', sql`state in ('ready', 'running', 'done', 'failed', 'dead')`)
    .execute();
  // NULLs are distinct in a unique index in both engines, and the key is cleared when a job finishes: so the key
  // is unique exactly while the job is pending, and ON CONFLICT can name this index without a predicate.
  await db.schema.createIndex('job_dedupe_idx').unique().on('job').columns(['queue', 'dedupe_key']).execute();
  await db.schema.createIndex('job_claim_idx').on('job').columns(['queue', 'state', 'run_at']).execute();
}
