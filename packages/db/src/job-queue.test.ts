import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AtriumDatabase } from './database.js';
import { openDatabase } from './database.js';

interface Clock {
  ms: number;
}

async function open(t: { after(fn: () => Promise<void>): void }, clock: Clock): Promise<AtriumDatabase> {
  const db = await openDatabase({
    kind: 'sqlite',
    path: ':memory:',
    now: () => new Date(clock.ms),
    jobs: { backoffBaseMs: 1000, backoffMaxMs: 10_000, defaultMaxAttempts: 3 },
  });
  t.after(() => db.close());
  return db;
}

test('jobs - enqueue in the caller transaction, claim, complete', async (t) => {
  const clock = { ms: Date.parse('2024-01-01T00:00:00Z') };
  const db = await open(t, clock);
  const { id } = await db.transaction((trx) => db.jobs.enqueue(trx, { queue: 'route', payload: { study: '1.2' } }));
  assert.equal(await db.jobs.claim('other-queue', 'w1', 30_000), undefined);
  const job = await db.jobs.claim<{ study: string }>('route', 'w1', 30_000);
  assert.equal(job?.id, id);
  assert.deepEqual(job?.payload, { study: '1.2' });
  assert.equal(job?.state, 'running');
  assert.equal(job?.attempts, 1);
  assert.equal(job?.leaseUntil?.getTime(), clock.ms + 30_000);
  assert.equal(await db.jobs.claim('route', 'w2', 30_000), undefined, 'a held job is not claimed twice');
  assert.equal(await db.jobs.complete(id, 'w2'), false, 'only the lease owner completes');
  assert.equal(await db.jobs.complete(id, 'w1'), true);
  assert.equal((await db.jobs.get(id))?.state, 'done');
  assert.equal(await db.jobs.claim('route', 'w1', 30_000), undefined);
});

test('jobs - a rolled-back transaction leaves no job', async (t) => {
  const clock = { ms: Date.parse('2024-01-01T00:00:00Z') };
  const db = await open(t, clock);
  await assert.rejects(
    db.transaction(async (trx) => {
      await db.jobs.enqueue(trx, { queue: 'route', payload: 1 });
      throw new Error('ingest failed');
    }),
    /ingest failed/,
  );
  assert.equal(await db.jobs.claim('route', 'w1', 1000), undefined);
});

test('jobs - runAt delays a job and a dedupe key is unique while pending', async (t) => {
  const clock = { ms: Date.parse('2024-01-01T00:00:00Z') };
  const db = await open(t, clock);
  const a = await db.jobs.enqueue(db.kysely, {
    queue: 'stable-study',
    payload: { study: 'X' },
    dedupeKey: 'X',
    runAt: new Date(clock.ms + 60_000),
  });
  const b = await db.jobs.enqueue(db.kysely, { queue: 'stable-study', payload: { study: 'X' }, dedupeKey: 'X' });
  assert.equal(a.created, true);
  assert.deepEqual(b, { id: a.id, created: false });
  const other = await db.jobs.enqueue(db.kysely, { queue: 'another', payload: null, dedupeKey: 'X' });
  assert.equal(other.created, true, 'keys are per queue');
  assert.equal(await db.jobs.claim('stable-study', 'w', 1000), undefined, 'not due yet');
  clock.ms += 60_000;
  const job = await db.jobs.claim('stable-study', 'w', 1000);
  assert.equal(job?.id, a.id);
  assert.equal((await db.jobs.enqueue(db.kysely, { queue: 'stable-study', payload: 2, dedupeKey: 'X' })).created, false);
  await db.jobs.complete(a.id, 'w');
  const c = await db.jobs.enqueue(db.kysely, { queue: 'stable-study', payload: 3, dedupeKey: 'X' });
  assert.equal(c.created, true, 'a finished job frees its key');
});

test('jobs - fail retries with exponential backoff, then dead-letters', async (t) => {
  const clock = { ms: Date.parse('2024-01-01T00:00:00Z') };
  const db = await open(t, clock);
  const { id } = await db.jobs.enqueue(db.kysely, { queue: 'q', payload: null, dedupeKey: 'k' });
  const delays: number[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    const job = await db.jobs.claim('q', 'w', 5000);
    assert.equal(job?.attempts, attempt);
    const outcome = await db.jobs.fail(id, 'w', new Error(`boom ${attempt}`));
    if (attempt < 3) {
      assert.equal(outcome?.state, 'failed');
      const delay = outcome!.state === 'failed' ? outcome!.retryAt.getTime() - clock.ms : 0;
      delays.push(delay);
      assert.equal(await db.jobs.claim('q', 'w', 5000), undefined, 'not before the retry time');
      clock.ms += delay;
    } else {
      assert.deepEqual(outcome, { state: 'dead' });
    }
  }
  assert.deepEqual(delays, [1000, 2000]);
  const dead = await db.jobs.get(id);
  assert.equal(dead?.state, 'dead');
  assert.equal(dead?.lastError, 'Error: boom 3');
  assert.equal(dead?.dedupeKey, null);
  clock.ms += 1_000_000;
  assert.equal(await db.jobs.claim('q', 'w', 5000), undefined, 'a dead job is never claimed');
  assert.equal(await db.jobs.fail(id, 'w', 'again'), undefined, 'failing a job one does not hold does nothing');
});

test('jobs - an expired lease is reclaimed, and dead-lettered once attempts are used', async (t) => {
  const clock = { ms: Date.parse('2024-01-01T00:00:00Z') };
  const db = await open(t, clock);
  const { id } = await db.jobs.enqueue(db.kysely, { queue: 'q', payload: null, maxAttempts: 2 });
  assert.equal((await db.jobs.claim('q', 'crashed-1', 10_000))?.id, id);
  clock.ms += 5_000;
  assert.equal(await db.jobs.claim('q', 'w2', 10_000), undefined, 'lease still held');
  assert.equal(await db.jobs.renewLease(id, 'crashed-1', 10_000), true);
  clock.ms += 9_000;
  assert.equal(await db.jobs.claim('q', 'w2', 10_000), undefined, 'renewed lease still held');
  clock.ms += 2_000;
  const reclaimed = await db.jobs.claim('q', 'crashed-2', 10_000);
  assert.equal(reclaimed?.id, id);
  assert.equal(reclaimed?.attempts, 2);
  assert.equal(await db.jobs.complete(id, 'crashed-1'), false, 'the first owner lost its lease');
  clock.ms += 11_000;
  assert.equal(await db.jobs.claim('q', 'w3', 10_000), undefined);
  const dead = await db.jobs.get(id);
  assert.equal(dead?.state, 'dead');
  assert.match(dead?.lastError ?? '', /Lease of 'crashed-2' expired on attempt 2 of 2/);
});

test('jobs - two processes claiming concurrently never get the same job', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-jobs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'jobs.sqlite');
  const db = await openDatabase({ kind: 'sqlite', path, synchronous: 'NORMAL' });
  const total = 300;
  await db.transaction(async (trx) => {
    for (let i = 0; i < total; i++) await db.jobs.enqueue(trx, { queue: 'work', payload: i });
  });
  await db.close();

  const moduleUrl = new URL('./database.ts', import.meta.url).href;
  const worker = (name: string) => `
    const { openDatabase } = await import(${JSON.stringify(moduleUrl)});
    const db = await openDatabase({ kind: 'sqlite', path: ${JSON.stringify(path)}, synchronous: 'NORMAL' });
    process.stderr.write('ready\\n');
    // Both workers start claiming together, when the parent says so.
    await new Promise((resolve) => process.stdin.once('data', resolve));
    const claimed = [];
    for (;;) {
      const job = await db.jobs.claim('work', ${JSON.stringify(name)}, 60000);
      if (!job) break;
      claimed.push(job.id);
      await new Promise((resolve) => setImmediate(resolve));
      if (!(await db.jobs.complete(job.id, ${JSON.stringify(name)}))) throw new Error('lost lease ' + job.id);
    }
    await db.close();
    process.stdout.write(JSON.stringify(claimed));
  `;
  const start = (name: string) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', worker(name)], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let markReady: () => void;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('ready')) markReady();
    });
    const done = new Promise<number[]>((resolve, reject) =>
      child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(err)))),
    );
    return { child, ready, done };
  };
  const workers = [start('worker-a'), start('worker-b')];
  await Promise.race([Promise.all(workers.map((w) => w.ready)), Promise.all(workers.map((w) => w.done))]);
  for (const w of workers) w.child.stdin.end('go\n');
  const [a, b] = (await Promise.all(workers.map((w) => w.done))) as [number[], number[]];
  t.diagnostic(`worker-a claimed ${a.length}, worker-b claimed ${b.length}`);
  const all = [...a, ...b];
  assert.equal(all.length, total, `worker-a took ${a.length}, worker-b took ${b.length}`);
  assert.equal(new Set(all).size, total, 'no job was claimed twice');
});
