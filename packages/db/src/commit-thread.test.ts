import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fromErrorData, toErrorData } from './commit-thread.js';
import type { AtriumDatabase } from './database.js';
import { openDatabase } from './database.js';
import { DatabaseError, DuplicateInstanceError, IngestConflictError } from './errors.js';
import { commitInput as input } from './test-support.js';

async function open(t: TestContext, options: { commitThread?: boolean; synchronous?: 'NORMAL' } = {}): Promise<AtriumDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-commit-thread-'));
  const db = await openDatabase({ kind: 'sqlite', path: join(dir, 'index.sqlite'), commitThread: true, ...options });
  t.after(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  return db;
}

test('commit thread - started for a file database when asked, not by default', async (t) => {
  const db = await open(t);
  assert.ok(db.commitThread?.running);
  const off = await open(t, { commitThread: false });
  assert.equal(off.commitThread, undefined);
  const dir = await mkdtemp(join(tmpdir(), 'atrium-commit-thread-'));
  const byDefault = await openDatabase({ kind: 'sqlite', path: join(dir, 'index.sqlite') });
  assert.equal(byDefault.commitThread, undefined);
  await byDefault.close();
  await rm(dir, { recursive: true, force: true });
  const memory = await openDatabase({ kind: 'sqlite', path: ':memory:', commitThread: true });
  assert.equal(memory.commitThread, undefined, 'a database in memory cannot be shared with a second connection');
  await memory.close();
});

test('commit thread - commits while the event loop holds its own connection: the statements run on the thread', async (t) => {
  const db = await open(t);
  // Without the thread this commit would wait for the connection `read` holds, for ever.
  const result = await db.read(() => db.archive.commitInstance(input({ sopInstanceUid: '1.9.1' }, { stagingId: 's1' })));
  assert.equal(result.outcome, 'stored');
  await db.read(() => db.archive.clearBlobIntents(['dicom/1.9.1-d1.dcm']));
  assert.equal((await db.archive.findInstance('1.9.1'))?.digest, 'd1', 'and the event loop reads what it committed');
  assert.deepEqual(await db.archive.listBlobIntents(), []);
});

test('commit thread - concurrent commits all settle; a conflict and a rejected duplicate reject only themselves, as their own classes', async (t) => {
  const db = await open(t);
  await db.archive.commitInstance(input({ sopInstanceUid: 'X.1' }));
  const settled = await Promise.allSettled([
    db.archive.commitInstance(input({ sopInstanceUid: 'A.1', instanceNumber: 2 })),
    db.archive.commitInstance(input({ sopInstanceUid: 'B.1', patientId: 'P2' })),
    db.archive.commitInstance(input({ sopInstanceUid: 'X.1' }, { digest: 'd2', duplicatePolicy: 'reject' })),
    db.archive.commitInstance(input({ sopInstanceUid: 'C.1', instanceNumber: 3 }, { deferFlush: true })),
    db.archive.commitInstance(input({ sopInstanceUid: 'X.1' })),
  ]);
  assert.deepEqual(
    settled.map((s) => s.status),
    ['fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled'],
  );
  const conflict = (settled[1] as PromiseRejectedResult).reason;
  assert.ok(conflict instanceof IngestConflictError);
  assert.equal(conflict.code, 'ATRIUM_ERR_INGEST_CONFLICT');
  assert.equal(conflict.dicomStatus, 0xa900);
  assert.match(conflict.message, /study '1\.2\.3\.1' belongs to patient 'P1', not to patient 'P2'/);
  const duplicate = (settled[2] as PromiseRejectedResult).reason;
  assert.ok(duplicate instanceof DuplicateInstanceError);
  assert.equal(duplicate.sopInstanceUid, 'X.1');
  assert.equal(duplicate.storedBlobKey, 'dicom/X.1-d1.dcm');
  assert.equal(duplicate.httpStatus, 409);
  const identical = (settled[4] as PromiseFulfilledResult<Awaited<ReturnType<typeof db.archive.commitInstance>>>).value;
  assert.deepEqual([identical.outcome, identical.storedBlobKey], ['identical', 'dicom/X.1-d1.dcm']);
  const stats = await db.archive.stats();
  assert.deepEqual([stats.patients, stats.instances], [1, 3]);
});

for (const synchronous of ['FULL', 'NORMAL'] as const) {
  test(`commit thread - a deferFlush commit answers with a durable that settles (synchronous ${synchronous})`, async (t) => {
    // NORMAL: no flush, so the thread knows each commit durable as soon as it is committed.
    const db = await open(t, synchronous === 'NORMAL' ? { synchronous } : {});
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => db.archive.commitInstance(input({ sopInstanceUid: `D.${i}` }, { deferFlush: true }))),
    );
    await Promise.all(results.map((r) => r.durable));
    const flushed = await db.archive.commitInstance(input({ sopInstanceUid: 'F.1' }));
    await flushed.durable;
    assert.equal((await db.archive.stats()).instances, 6);
  });
}

test('commit thread - close settles the commits in flight, ends the thread, and refuses later commits', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-commit-thread-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'index.sqlite');
  const db = await openDatabase({ kind: 'sqlite', path, commitThread: true });
  const thread = db.commitThread!;
  const inFlight = Array.from({ length: 20 }, (_, i) =>
    db.archive.commitInstance(input({ sopInstanceUid: `I.${i}` }, { deferFlush: i % 2 === 0, stagingId: `s${i}` })),
  );
  const clearing = db.archive.clearBlobIntents(['dicom/I.0-d1.dcm']);
  await db.close();
  assert.equal(thread.running, false, 'no thread is left running');
  const results = await Promise.all(inFlight);
  await Promise.all(results.map((r) => r.durable));
  await clearing;
  await assert.rejects(db.archive.commitInstance(input({ sopInstanceUid: 'late' })), (error: unknown) => {
    assert.ok(error instanceof DatabaseError);
    assert.equal(error.code, 'ATRIUM_ERR_DB_COMMIT_THREAD');
    return true;
  });
  const reopened = await openDatabase({ kind: 'sqlite', path, commitThread: false });
  t.after(() => reopened.close());
  assert.equal((await reopened.archive.stats()).instances, 20, 'every commit in flight is in the file');
  assert.equal((await reopened.archive.listBlobIntents()).length, 19, 'and the clearing posted after them was applied');
});

test('commit thread errors - other errors keep their name, code and message across the threads', () => {
  const sqlite = Object.assign(new Error('database is locked'), { name: 'SqliteError', code: 'SQLITE_BUSY' });
  const rebuilt = fromErrorData(structuredClone(toErrorData(sqlite)));
  assert.deepEqual([rebuilt.name, rebuilt.message, (rebuilt as Error & { code?: string }).code], ['SqliteError', 'database is locked', 'SQLITE_BUSY']);
  const missing = fromErrorData(toErrorData(new DatabaseError('ATRIUM_ERR_DB_NOT_FOUND', 'Cannot find study 3 in the index')));
  assert.ok(missing instanceof DatabaseError);
  assert.equal(missing.code, 'ATRIUM_ERR_DB_NOT_FOUND');
});
