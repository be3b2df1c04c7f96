import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from './database.js';
import { syntheticParsed } from './test-support.js';
import { WalSync } from './wal-sync.js';

test('transaction groupCommit - commits at synchronous NORMAL; every other transaction and write runs at FULL', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-wal-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const db = await openDatabase({ kind: 'sqlite', path: join(dir, 'index.sqlite'), synchronous: 'FULL' });
  type Level = { synchronous: number };
  const level = async (executor: Parameters<ReturnType<typeof sql<Level>>['execute']>[0]) =>
    (await sql<Level>`pragma synchronous`.execute(executor)).rows[0]!.synchronous;
  const job = (i: number) =>
    ({
      queue: 'test',
      payload: JSON.stringify({ i }),
      state: 'ready',
      attempts: 0,
      max_attempts: 1,
      run_at: new Date().toISOString(),
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    }) as never;
  try {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        db.transaction(
          async (trx) => {
            await trx.insertInto('job').values(job(i)).execute();
            return [i, await level(trx)];
          },
          { groupCommit: true },
        ),
      ),
    );
    assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => [i, 1]), 'NORMAL (1) inside group commits');
    const count = await sql<{ n: number }>`select count(*) as n from job`.execute(db.kysely);
    assert.equal(count.rows[0]!.n, 20);
    assert.equal(await db.transaction((trx) => level(trx)), 2, 'FULL (2) again for a transaction without group commit');

    await db.archive.commitInstance({
      parsed: syntheticParsed({ sopInstanceUid: '1.9.1' }),
      blobKey: 'dicom/1.9.1.dcm',
      size: 1,
      digest: 'd1',
      source: { kind: 'import' },
      duplicatePolicy: 'keep',
    });
    await db.kysely.insertInto('job').values(job(99)).execute();
    assert.equal(await level(db.kysely), 2, 'an autocommit write after a batched commit ran at FULL');
    await assert.rejects(
      db.transaction(async () => {
        throw new Error('rolled back');
      }, { groupCommit: true }),
      /rolled back/,
    );
    assert.equal(await db.transaction((trx) => level(trx)), 2, 'FULL after a rolled back group commit too');
  } finally {
    await db.close();
  }
});

/** A `WalSync` on the WAL of a new file database, which the test's end closes and removes. */
async function walSyncOfNewDatabase(t: TestContext): Promise<WalSync> {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-wal-'));
  const path = join(dir, 'index.sqlite');
  const db = await openDatabase({ kind: 'sqlite', path });
  const walSync = new WalSync(path);
  t.after(async () => {
    await walSync.close();
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  return walSync;
}

test('WalSync - concurrent callers share flushes, and a closed one refuses', async (t) => {
  const walSync = await walSyncOfNewDatabase(t);
  const calls = Array.from({ length: 50 }, () => walSync.sync());
  // At most two flushes serve fifty callers: the one running and the one queued behind it.
  assert.ok(new Set(calls).size <= 2, `${new Set(calls).size} distinct flushes`);
  await Promise.all(calls);
  await walSync.close();
  await assert.rejects(walSync.sync(), /closed/);
});

test('WalSync - syncSoon waits to share one flush, which a sync starts at once; close makes an owed flush', async (t) => {
  const walSync = await walSyncOfNewDatabase(t);
  const soon = Array.from({ length: 10 }, () => walSync.syncSoon(60_000));
  assert.equal(new Set(soon).size, 1, 'callers within the delay share one flush');
  let settled = false;
  void soon[0]!.then(() => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(settled, false, 'not before the delay');
  // Someone who needs durability now starts it, and the waiting callers are served by it.
  await walSync.sync();
  await Promise.all(soon);
  const started = Date.now();
  await walSync.syncSoon(30);
  assert.ok(Date.now() - started >= 25, 'alone, it starts when the delay is over');
  const owed = walSync.syncSoon(60_000);
  await walSync.close();
  await owed;
});
