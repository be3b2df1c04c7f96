import type { Kysely } from 'kysely';
import type { DialectSupport } from '../dialect.js';

/**
 * Fewer pages written per ingest commit (docs/database.md, "Performance"): each commit inserts a blob intent and a
 * change-feed entry, and under 0001's layout each of those dirtied one page more than its row needs.
 *
 * - `blob_intent` is stored by its primary key alone: its rows are looked up and deleted only by blob key, and a
 *   table with a text primary key otherwise writes the row and a separate key index.
 * - `change_feed.seq` loses AUTOINCREMENT, which writes `sqlite_sequence` at every insert. Its only purpose is
 *   that an id is never reused after the newest row is deleted; change-feed entries are never deleted, so the
 *   next seq, max + 1, is above every seq ever handed out. Where the newest entries were deleted by hand (the
 *   guard is ahead of the table), the table keeps its guard.
 *
 * Both tables are rebuilt with their rows; the change feed's copy takes about a second per million entries.
 */
export async function up(db: Kysely<any>, dialect: DialectSupport): Promise<void> {
  const int = dialect.integerType;

  await dialect
    .storedByPrimaryKey(
      db.schema
        .createTable('blob_intent_0005')
        .addColumn('blob_key', 'text', (c) => c.primaryKey())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('staging_id', 'text')
        .addColumn('sop_instance_uid', 'text', (c) => c.notNull())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull()),
    )
    .execute();
  await copyRows(db, 'blob_intent', 'blob_intent_0005', ['blob_key', 'action', 'staging_id', 'sop_instance_uid', 'owner', 'created_at']);
  await db.schema.dropTable('blob_intent').execute();
  await db.schema.alterTable('blob_intent_0005').renameTo('blob_intent').execute();

  const guard = await dialect.monotonicIdGuard(db, 'change_feed');
  if (guard === undefined) return;
  const { max } = await db
    .selectFrom('change_feed')
    .select((eb) => eb.fn.max<number | null>('seq').as('max'))
    .executeTakeFirstOrThrow();
  if (guard.last > Number(max ?? 0)) return;
  await db.schema
    .createTable('change_feed_0005')
    .addColumn('seq', int, (c) => dialect.idColumn(c))
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
  await copyRows(db, 'change_feed', 'change_feed_0005', [
    'seq',
    'recorded_at',
    'level',
    'action',
    'patient_id',
    'issuer_of_patient_id',
    'study_instance_uid',
    'series_instance_uid',
    'sop_instance_uid',
    'detail',
  ]);
  await db.schema.dropTable('change_feed').execute();
  await db.schema.alterTable('change_feed_0005').renameTo('change_feed').execute();
}

async function copyRows(db: Kysely<any>, from: string, to: string, columns: string[]): Promise<void> {
  await db
    .insertInto(to)
    .columns(columns)
    .expression(db.selectFrom(from).select(columns).orderBy(columns[0]!))
    .execute();
}
