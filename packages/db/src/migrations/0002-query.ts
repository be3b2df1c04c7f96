import type { Kysely } from 'kysely';
import type { DialectSupport } from '../dialect.js';

/**
 * Indexes for the query engine (C-FIND, QIDO-RS; docs/query.md). 0001 already indexes the keys
 * searched most (patient name, birth date, study date+time, accession number, referring physician, series
 * modality, request attributes); this adds what the engine's SQL needs besides.
 */
export async function up(db: Kysely<any>, _dialect: DialectSupport): Promise<void> {
  // ModalitiesInStudy matches as `study.id IN (SELECT study_fk FROM series WHERE modality = ?)`: covering, so a
  // CT-only search reads index entries and never series rows.
  await db.schema.createIndex('series_modality_study_idx').on('series').columns(['modality', 'study_fk']).execute();
  await db.schema.createIndex('study_study_id_idx').on('study').column('study_id').execute();
  await db.schema.createIndex('study_description_idx').on('study').column('study_description').execute();
  // Instance-level queries are scoped to a series and matched on the SOP class (QIDO `SOPClassUID=`).
  await db.schema.createIndex('instance_series_sop_class_idx').on('instance').columns(['series_fk', 'sop_class_uid']).execute();
}
