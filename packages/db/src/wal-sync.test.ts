import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from './database.js';
import { WalSync } from './wal-sync.js';

test('transaction groupCommit - commits, then restores the configured synchronous level', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-wal-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const db = await openDatabase({ kind: 'sqlite', path: join(dir, 'index.sqlite'), synchronous: 'FULL' });
  try {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        db.transaction(
          async (trx) => {
            await trx.insertInto('job').values({
              queue: 'test',
              payload: JSON.stringify({ i }),
              state: 'ready',
              attempts: 0,
              max_attempts: 1,
              run_at: new Date().toISOString(),
              created_at: new Date().toISOString(),
              updated_at: new Date().toISOString(),
            } as never).execute();
            return i;
          },
          { groupCommit: true },
        ),
      ),
    );
    assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => i));
    const count = await sql<{ n: number }>`select count(*) as n from job`.execute(db.kysely);
    assert.equal(count.rows[0]!.n, 20);
    const level = await sql<{ synchronous: number }>`pragma synchronous`.execute(db.kysely);
    assert.equal(level.rows[0]!.synchronous, 2, 'FULL (2) again for every other transaction');
    await assert.rejects(
      db.transaction(async () => {
        throw new Error('rolled back');
      }, { groupCommit: true }),
      /rolled back/,
    );
    const after = await sql<{ synchronous: number }>`pragma synchronous`.execute(db.kysely);
    assert.equal(after.rows[0]!.synchronous, 2, 'restored after a rollback too');
  } finally {
    await db.close();
  }
});

test('WalSync - concurrent callers share flushes, and a closed one refuses', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-wal-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'index.sqlite');
  const db = await openDatabase({ kind: 'sqlite', path });
  const walSync = new WalSync(path);
  try {
    const calls = Array.from({ length: 50 }, () => walSync.sync());
    // At most two flushes serve fifty callers: the one running and the one queued behind it.
    assert.ok(new Set(calls).size <= 2, `${new Set(calls).size} distinct flushes`);
    await Promise.all(calls);
  } finally {
    await walSync.close();
    await db.close();
  }
  await assert.rejects(walSync.sync(), /closed/);
});
