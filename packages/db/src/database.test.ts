import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { MIGRATION_TABLE, openDatabase } from './database.js';
import { MIGRATIONS } from './migrations/index.js';

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
