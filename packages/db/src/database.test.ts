import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Kysely } from 'kysely';
import { Migrator, sql } from 'kysely';
import { MIGRATION_TABLE, openDatabase } from './database.js';
import { createSqliteKysely } from './dialect.js';
import { MIGRATIONS } from './migrations/index.js';
import type { AtriumSchema } from './schema.js';
import { syntheticParsed } from './test-support.js';

test('openDatabase - migrates an empty database and records each migration once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-db-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'index.sqlite');
  const first = await openDatabase({ kind: 'sqlite', path });
  const all = MIGRATIONS.map((m) => m.name);
  assert.equal(all[0], '0001-initial');
  assert.deepEqual(first.appliedMigrations, all);
  const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table' order by name`.execute(
    first.kysely,
  );
  const names = tables.rows.map((r) => r.name);
  for (const table of [
    'patient',
    'study',
    'series',
    'series_request_attribute',
    'instance',
    'instance_metadata',
    'series_metadata',
    'change_feed',
    'job',
    MIGRATION_TABLE,
  ]) {
    assert.ok(names.includes(table), `table ${table} exists`);
  }
  await first.close();

  const second = await openDatabase({ kind: 'sqlite', path });
  assert.deepEqual(second.appliedMigrations, [], 'nothing to apply on reopen');
  const recorded = await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)}`.execute(second.kysely);
  assert.deepEqual(
    recorded.rows.map((r) => r.name),
    all,
  );
  await second.close();
});

test('openDatabase - sets WAL, foreign keys, busy timeout and the requested synchronous level', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-db-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const db = await openDatabase({ kind: 'sqlite', path: join(dir, 'x.sqlite'), synchronous: 'NORMAL', busyTimeoutMs: 1234 });
  t.after(() => db.close());
  const pragma = async (name: string) =>
    Object.values((await sql<Record<string, unknown>>`${sql.raw(`pragma ${name}`)}`.execute(db.kysely)).rows[0]!)[0];
  assert.equal(String(await pragma('journal_mode')), 'wal');
  assert.equal(Number(await pragma('foreign_keys')), 1);
  assert.equal(Number(await pragma('busy_timeout')), 1234);
  assert.equal(Number(await pragma('synchronous')), 1, 'NORMAL is 1');
});

test('openDatabase - synchronous defaults to FULL', async () => {
  const db = await openDatabase({ kind: 'sqlite', path: ':memory:' });
  const row = (await sql<{ synchronous: number }>`pragma synchronous`.execute(db.kysely)).rows[0];
  assert.equal(Number(row?.synchronous), 2, 'FULL is 2');
  await db.close();
});

test('openDatabase - an unknown synchronous level or an unopenable path is a coded error', async () => {
  await assert.rejects(
    openDatabase({ kind: 'sqlite', path: ':memory:', synchronous: 'SOMETIMES' as 'FULL' }),
    (error: { code?: string; message: string }) => {
      assert.equal(error.code, 'ATRIUM_ERR_DB_OPEN');
      assert.match(error.message, /'SOMETIMES'/);
      return true;
    },
  );
  await assert.rejects(openDatabase({ kind: 'sqlite', path: '/nonexistent-dir/x/y.sqlite' }), {
    code: 'ATRIUM_ERR_DB_OPEN',
  });
});

/** A database file migrated only up to `last`, as an older Atrium left it. */
async function databaseAt(path: string, last: string): Promise<Kysely<AtriumSchema>> {
  const { kysely, dialect } = createSqliteKysely({ kind: 'sqlite', path });
  const upTo = MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.name === last) + 1);
  const { error } = await new Migrator({
    db: kysely,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: `${MIGRATION_TABLE}_lock`,
    provider: {
      getMigrations: async () => Object.fromEntries(upTo.map((m) => [m.name, { up: (db: Kysely<any>) => m.up(db, dialect) }])),
    },
  }).migrateToLatest();
  if (error) throw error;
  return kysely;
}

function feedEntry(sop: string) {
  return {
    recorded_at: '2024-01-01T00:00:00.000Z',
    level: 'instance' as const,
    action: 'created' as const,
    patient_id: 'P1',
    issuer_of_patient_id: '',
    study_instance_uid: '1.2',
    series_instance_uid: '1.2.3',
    sop_instance_uid: sop,
    detail: '{"size":1}',
  };
}

async function tableSql(db: Kysely<AtriumSchema>, table: string): Promise<string> {
  const { rows } = await sql<{ sql: string }>`select sql from sqlite_master where type = 'table' and name = ${table}`.execute(db);
  return rows[0]!.sql;
}

test('openDatabase - 0005 upgrades a database in place: feed entries keep their seq, intents stay, seq goes on from the last', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-db-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'index.sqlite');
  const old = await databaseAt(path, '0004-fhir');
  for (let i = 1; i <= 5; i++) await old.insertInto('change_feed').values(feedEntry(`1.9.${i}`)).execute();
  await old
    .insertInto('blob_intent')
    .values({ blob_key: 'dicom/a.dcm', action: 'publish', staging_id: 's1', sop_instance_uid: '1.9.1', owner: 'h:1', created_at: '2024-01-01T00:00:00.000Z' })
    .execute();
  await old.destroy();

  const db = await openDatabase({ kind: 'sqlite', path });
  t.after(() => db.close());
  assert.deepEqual(db.appliedMigrations, ['0005-ingest-writes']);
  assert.doesNotMatch(await tableSql(db.kysely, 'change_feed'), /autoincrement/i);
  assert.match(await tableSql(db.kysely, 'blob_intent'), /without rowid/i);
  assert.deepEqual(
    (await db.archive.readChangeFeed()).map((f) => [f.seq, f.sopInstanceUid]),
    [1, 2, 3, 4, 5].map((i) => [i, `1.9.${i}`]),
  );
  assert.deepEqual(await db.archive.listBlobIntents(), [
    { blobKey: 'dicom/a.dcm', action: 'publish', stagingId: 's1', sopInstanceUid: '1.9.1', owner: 'h:1' },
  ]);
  await db.archive.commitInstance({
    parsed: syntheticParsed({ sopInstanceUid: '1.9.9' }),
    blobKey: 'dicom/b.dcm',
    size: 1,
    digest: 'd',
    source: { kind: 'import' },
    duplicatePolicy: 'keep',
    stagingId: 's2',
  });
  const feed = await db.archive.readChangeFeed({ afterSeq: 5 });
  assert.deepEqual(feed.map((f) => f.seq), [6, 7, 8, 9], 'patient, study, series, instance after the last seq');
  await db.archive.clearBlobIntents(['dicom/a.dcm', 'dicom/b.dcm']);
  assert.deepEqual(await db.archive.listBlobIntents(), []);
});

test('openDatabase - 0005 keeps the change feed guarded where its newest entries were deleted by hand, so no seq is reused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-db-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'index.sqlite');
  const old = await databaseAt(path, '0004-fhir');
  for (let i = 1; i <= 3; i++) await old.insertInto('change_feed').values(feedEntry(`1.9.${i}`)).execute();
  await old.deleteFrom('change_feed').where('seq', '=', 3).execute();
  await old.destroy();

  const db = await openDatabase({ kind: 'sqlite', path });
  t.after(() => db.close());
  assert.match(await tableSql(db.kysely, 'change_feed'), /autoincrement/i);
  await db.kysely.insertInto('change_feed').values(feedEntry('1.9.4')).execute();
  assert.deepEqual((await db.archive.readChangeFeed()).map((f) => f.seq), [1, 2, 4]);
});
