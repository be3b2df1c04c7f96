import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { MakeDirectoryOptions } from 'node:fs';
import fsPromises, { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uptime } from 'node:os';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describeBlobStoreContract } from './blob-store-contract.js';
import { FilesystemBlobStore, processAlive, STAGING_DIRECTORY } from './filesystem-blob-store.js';

/** Staging files holding bytes: the store also keeps a few empty spare files there, ready for the next write. */
async function leftoverStagingFiles(root: string): Promise<string[]> {
  const dir = join(root, STAGING_DIRECTORY);
  const names: string[] = [];
  for (const name of await readdir(dir)) if ((await stat(join(dir, name))).size > 0) names.push(name);
  return names;
}

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'atrium-fs-store-'));
}

describeBlobStoreContract('FilesystemBlobStore', async () => {
  const root = await tempRoot();
  return { store: await FilesystemBlobStore.open({ root }), cleanup: () => rm(root, { recursive: true, force: true }) };
});

describeBlobStoreContract('FilesystemBlobStore with a staging thread', async () => {
  const root = await tempRoot();
  const store = await FilesystemBlobStore.open({ root, stagingThread: true });
  return { store, cleanup: async () => { await store.close(); await rm(root, { recursive: true, force: true }); } };
});

describeBlobStoreContract('FilesystemBlobStore with a read thread', async () => {
  const root = await tempRoot();
  const store = await FilesystemBlobStore.open({ root, readThread: true });
  return { store, cleanup: async () => { await store.close(); await rm(root, { recursive: true, force: true }); } };
});

describeBlobStoreContract('FilesystemBlobStore without fsync', async () => {
  const root = await tempRoot();
  return { store: await FilesystemBlobStore.open({ root, fsync: false }), cleanup: () => rm(root, { recursive: true, force: true }) };
});

test('FilesystemBlobStore - open removes stale staging files and keeps fresh ones', async (t) => {
  const root = await tempRoot();
  t.after(() => rm(root, { recursive: true, force: true }));
  await FilesystemBlobStore.open({ root });
  const staging = join(root, STAGING_DIRECTORY);
  await writeFile(join(staging, 'old'), 'partial');
  await writeFile(join(staging, 'fresh'), 'live write');
  const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
  await utimes(join(staging, 'old'), twoHoursAgo, twoHoursAgo);
  await FilesystemBlobStore.open({ root, staleStagingAfterMs: 60 * 60 * 1000 });
  assert.deepEqual(await readdir(staging), ['fresh']);
});

test('FilesystemBlobStore - objects live at their key path and list skips the staging directory', async (t) => {
  const root = await tempRoot();
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await FilesystemBlobStore.open({ root });
  await store.put('1.2.3/4.5.6/7.8.9.dcm', (async function* () {
    yield Buffer.from('DICM');
  })());
  assert.deepEqual(await readdir(join(root, '1.2.3', '4.5.6')), ['7.8.9.dcm']);
  const staged = await store.stage((async function* () {
    yield Buffer.from('pending');
  })());
  const keys: string[] = [];
  for await (const info of store.list()) keys.push(info.key);
  assert.deepEqual(keys, ['1.2.3/4.5.6/7.8.9.dcm']);
  await staged.discard();
  assert.deepEqual(await leftoverStagingFiles(root), []);
  assert.equal(await store.delete('1.2.3/4.5.6/7.8.9.dcm'), true);
  assert.deepEqual(
    (await readdir(root)).filter((n) => n !== STAGING_DIRECTORY),
    [],
    'emptied parent directories are removed',
  );
});

test('FilesystemBlobStore - a key used as a directory by other keys is rejected as a coded error', async (t) => {
  const root = await tempRoot();
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await FilesystemBlobStore.open({ root });
  await store.put('dir/child', (async function* () {
    yield Buffer.from('x');
  })());
  await assert.rejects(
    store.put('dir', (async function* () {
      yield Buffer.from('y');
    })()),
    { code: 'ATRIUM_ERR_STORE_INVALID_KEY' },
  );
  assert.deepEqual(await leftoverStagingFiles(root), [], 'the staging file was removed');
  await store.close();
  assert.deepEqual(await readdir(join(root, STAGING_DIRECTORY)), [], 'closing removed the spare staging files');
});

test('FilesystemBlobStore - a process killed mid-put leaves no partial object under the key', async (t) => {
  const root = await tempRoot();
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await FilesystemBlobStore.open({ root });
  await store.put('crash/object.bin', (async function* () {
    yield Buffer.from('previous whole object');
  })());

  const moduleUrl = new URL('./filesystem-blob-store.ts', import.meta.url).href;
  // The child streams an endless object into the same key and reports progress; it is killed while writing.
  const script = `
    const { FilesystemBlobStore } = await import(${JSON.stringify(moduleUrl)});
    const store = await FilesystemBlobStore.open({ root: ${JSON.stringify(root)} });
    let written = 0;
    async function* endless() {
      for (;;) {
        const chunk = Buffer.alloc(1024 * 1024, 0x41);
        written += chunk.length;
        if (written >= 16 * 1024 * 1024 && written < 17 * 1024 * 1024) process.stdout.write('writing\\n');
        yield chunk;
      }
    }
    await store.put('crash/object.bin', endless());
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('writing')) resolve();
    });
    child.once('exit', () => reject(new Error(`child exited before writing: ${stderr}`)));
  });
  child.kill('SIGKILL');
  assert.equal(await exit, 'SIGKILL');

  const stagingBefore = await leftoverStagingFiles(root);
  assert.equal(stagingBefore.length, 1, 'the crash left its staging file');
  const reopened = await FilesystemBlobStore.open({ root, staleStagingAfterMs: 0 });
  assert.deepEqual(await readdir(join(root, STAGING_DIRECTORY)), [], 'reopening removed the stale staging file');
  const info = await reopened.head('crash/object.bin');
  assert.equal(info?.size, 'previous whole object'.length);
  const chunks: Buffer[] = [];
  for await (const c of await reopened.get('crash/object.bin')) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), 'previous whole object');
});

test('FilesystemBlobStore - an object written past the early-flush size is stored whole; discarded mid-way, nothing stays', async (t) => {
  const root = await tempRoot();
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await FilesystemBlobStore.open({ root });
  // 40 MB in 1 MB chunks: past the early-flush size twice, so flushes run beside the writes and the final one
  // (that they ran is not observable here; what is checked is that the bytes and the clean-up are unaffected).
  const chunk = (i: number) => Buffer.alloc(1024 * 1024, i & 0xff);
  async function* source(chunks: number) {
    for (let i = 0; i < chunks; i++) yield chunk(i);
  }
  const staged = await store.stage(source(40));
  await staged.commit('large/object.bin');
  const read: Buffer[] = [];
  for await (const part of await store.get('large/object.bin')) read.push(part as Buffer);
  const bytes = Buffer.concat(read);
  assert.equal(bytes.length, 40 * 1024 * 1024);
  for (let i = 0; i < 40; i++) assert.equal(bytes[i * 1024 * 1024 + 17], i & 0xff, `chunk ${i}`);

  const writer = store.createStagingWriter();
  for (let i = 0; i < 20; i++) if (!writer.writable.write(chunk(i))) await new Promise((r) => writer.writable.once('drain', r));
  await writer.discard();
  assert.deepEqual(await leftoverStagingFiles(root), []);
  await store.close();
});

test('FilesystemBlobStore - with a staging thread, a file that cannot be created is a coded error and the next write works', async (t) => {
  const root = await tempRoot();
  const store = await FilesystemBlobStore.open({ root, stagingThread: true });
  t.after(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });
  await store.put('before/a', [Buffer.from('first')]);
  // The spares made so far vanish with their directory, and the thread cannot create new ones there.
  await rm(join(root, STAGING_DIRECTORY), { recursive: true, force: true });
  let failures = 0;
  for (let i = 0; i < 12; i++) {
    try {
      await store.put(`during/${i}`, [Buffer.from(`object ${i}`)]);
    } catch (error) {
      assert.equal((error as { code?: string }).code, 'ATRIUM_ERR_STORE_IO');
      failures++;
    }
  }
  assert.ok(failures > 0, 'writes without a staging directory fail');
  await mkdir(join(root, STAGING_DIRECTORY));
  // Spares made before the directory went are gone with it: writes that take them fail (with a coded error) until
  // they are used up, then every write works again.
  let recovered = false;
  for (let i = 0; i < 200 && !recovered; i++) {
    recovered = await store.put(`retry/${i}`, [Buffer.from('x')]).then(
      () => true,
      (error: { code?: string }) => {
        assert.equal(error.code, 'ATRIUM_ERR_STORE_IO');
        return false;
      },
    );
  }
  assert.ok(recovered);
  for (let i = 0; i < 12; i++) await store.put(`after/${i}`, [Buffer.from(`object ${i}`)]);
  assert.equal((await readFile(join(root, 'after/11'))).toString(), 'object 11');
  assert.equal((await readFile(join(root, 'before/a'))).toString(), 'first');
});

test('FilesystemBlobStore - leftoverStaged yields what dead processes left staged, never a live process\'s', async (t) => {
  const root = await tempRoot();
  const store = await FilesystemBlobStore.open({ root });
  t.after(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });
  const staging = join(root, STAGING_DIRECTORY);
  // No process has this id (above any pid_max), and pid 1 is alive.
  const dead = `7ffffffe${'0123456789abcdef'}`;
  const live = `00000001${'fedcba9876543210'}`;
  await writeFile(join(staging, dead), 'left by a crash');
  await writeFile(join(staging, live), 'still being written');
  await writeFile(join(staging, 'not-a-staging-name'), 'ignored');
  const mine = await store.stage([Buffer.from('this process is writing it')]);
  const found: Array<[string, number]> = [];
  for await (const staged of store.leftoverStaged()) found.push([staged.id, staged.size]);
  assert.deepEqual(found, [[dead, 15]]);
  // A file from before the machine last started is left over whoever has its process id now.
  const beforeBoot = new Date(Date.now() - (uptime() + 60) * 1000);
  await utimes(join(staging, live), beforeBoot, beforeBoot);
  const ids: string[] = [];
  for await (const staged of store.leftoverStaged()) ids.push(staged.id);
  assert.deepEqual(ids.sort(), [live, dead].sort());
  await mine.discard();
});

test('processAlive: this process and a running child are alive, an exited child is not', async () => {
  assert.equal(processAlive(process.pid), true);
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30_000)'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('spawn', resolve));
  try {
    assert.equal(processAlive(child.pid!), true);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill();
    await exited;
  }
  assert.equal(processAlive(child.pid!), false);
});

test('FilesystemBlobStore read thread - an object replaced while it streams fails the stream instead of mixing two objects', async (t) => {
  const root = await tempRoot();
  const store = await FilesystemBlobStore.open({ root, readThread: true });
  t.after(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });
  // Larger than the chunks the stream holds ahead, so that some are read after the overwrite.
  await store.put('swap/x', [Buffer.alloc(8 * 1024 * 1024, 1)]);
  const stream = await store.get('swap/x');
  const iterator = stream[Symbol.asyncIterator]();
  const first = await iterator.next();
  assert.equal((first.value as Buffer)[0], 1);
  await store.put('swap/x', [Buffer.alloc(8 * 1024 * 1024, 2)]);
  await assert.rejects(
    (async () => {
      for (;;) {
        const { done, value } = await iterator.next();
        if (done) break;
        assert.equal((value as Buffer)[0], 1, 'never a byte of the new object');
      }
    })(),
    { code: 'ATRIUM_ERR_STORE_IO', message: /'swap\/x'.*replaced/ },
  );
});

test('FilesystemBlobStore read thread - a reusable buffer given back is detached and its memory serves later reads with their own bytes', async (t) => {
  const root = await tempRoot();
  const store = await FilesystemBlobStore.open({ root, readThread: true });
  t.after(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });
  const objects = Array.from({ length: 12 }, (_, i) => Buffer.alloc(40_000 + i * 1000, i + 1));
  await Promise.all(objects.map((bytes, i) => store.put(`pool/${i}`, [bytes])));
  for (let round = 0; round < 3; round++) {
    const read = await Promise.all(objects.map((_, i) => store.getBytes(`pool/${i}`, undefined, { maxBytes: 1 << 20, reusable: true })));
    read.forEach((bytes, i) => assert.deepEqual(bytes, objects[i], `round ${round}, object ${i}`));
    for (const bytes of read) store.recycle(bytes);
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(read.every((bytes) => bytes.length === 0), 'given back: detached, reads as empty');
  }
  // Buffers the store did not lend are ignored.
  const own = Buffer.from('not the store s');
  store.recycle(own);
  assert.equal(own.toString(), 'not the store s');
});

/** A store with a read thread, and the messages posted to that thread (how many reads, how many buffers given back). */
async function readThreadWatched(t: { after: (fn: () => Promise<void>) => void }) {
  const { Worker } = await import('node:worker_threads');
  const root = await tempRoot();
  const store = await FilesystemBlobStore.open({ root, readThread: true });
  const post = Worker.prototype.postMessage;
  const messages: Array<{ reads: number; recycled: number }> = [];
  Worker.prototype.postMessage = function (this: InstanceType<typeof Worker>, value: unknown, transfer?: readonly unknown[]) {
    const message = value as { reads?: unknown[]; recycled?: unknown[] };
    messages.push({ reads: message.reads?.length ?? 0, recycled: message.recycled?.length ?? 0 });
    return post.call(this, value, transfer as never);
  };
  t.after(async () => {
    Worker.prototype.postMessage = post;
    await store.close();
    await rm(root, { recursive: true, force: true });
  });
  return { store, messages };
}

test('FilesystemBlobStore read thread - reads asked one after another while the thread is busy travel in one message, with the buffers given back meanwhile', async (t) => {
  const { store, messages } = await readThreadWatched(t);
  const objects = Array.from({ length: 16 }, (_, i) => Buffer.alloc(30_000, i + 1));
  await Promise.all(objects.map((bytes, i) => store.put(`batch/${i}`, [bytes])));
  const read = (i: number) => store.getBytes(`batch/${i}`, undefined, { maxBytes: 1 << 20, reusable: true });
  const first = await read(0);
  messages.length = 0;
  // As a read-ahead asks: the first read goes at once, the next ones a promise apart, while the first is out.
  const reads = [read(1)];
  for (let i = 2; i < 16; i++) {
    await Promise.resolve();
    reads.push(read(i));
  }
  store.recycle(first);
  const got = await Promise.all(reads);
  got.forEach((bytes, i) => assert.deepEqual(bytes, objects[i + 1], `object ${i + 1}`));
  assert.deepEqual(messages, [
    { reads: 1, recycled: 0 },
    { reads: 14, recycled: 1 },
  ]);
});

test('FilesystemBlobStore read thread - buffers given back wait for the next batch of reads, or go alone once the thread has been idle a while', async (t) => {
  const { store, messages } = await readThreadWatched(t);
  const objects = Array.from({ length: 4 }, (_, i) => Buffer.alloc(20_000, i + 1));
  await Promise.all(objects.map((bytes, i) => store.put(`held/${i}`, [bytes])));
  const read = (i: number) => store.getBytes(`held/${i}`, undefined, { maxBytes: 1 << 20, reusable: true });
  const first = await Promise.all([read(0), read(1), read(2)]);
  messages.length = 0;
  // As a C-MOVE gives them back, one per sub-operation: detached at once, no message of their own.
  for (const bytes of first) {
    store.recycle(bytes);
    assert.equal(bytes.length, 0, 'detached when given back');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.deepEqual(messages, []);
  assert.deepEqual(await read(3), objects[3]);
  assert.deepEqual(messages, [{ reads: 1, recycled: 3 }]);
  // With no read to ride with, they go alone after a while.
  const last = await read(1);
  messages.length = 0;
  store.recycle(last);
  assert.deepEqual(messages, []);
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.deepEqual(messages, [{ reads: 0, recycled: 1 }]);
});

test('FilesystemBlobStore - objects published together into a new directory make it once, and each lands', async (t) => {
  const root = await tempRoot();
  const store = await FilesystemBlobStore.open({ root });
  const made: string[] = [];
  const realMkdir = fsPromises.mkdir;
  t.mock.method(fsPromises, 'mkdir', (path: string, options: MakeDirectoryOptions) => {
    made.push(String(path));
    return realMkdir(path, options);
  });
  // The store's `import { mkdir }` follows the module's object only once the built-in's exports are synced.
  syncBuiltinESMExports();
  t.after(async () => {
    t.mock.restoreAll();
    syncBuiltinESMExports();
    await rm(root, { recursive: true, force: true });
  });
  const objects = Array.from({ length: 20 }, (_, i) => Buffer.alloc(1000 + i, i + 1));
  const staged = await Promise.all(objects.map((bytes) => store.stage([bytes])));
  // As the ingest publishes the instances of a new series once their shared index commit is flushed.
  const ready = Promise.resolve();
  await Promise.all(staged.map((blob, i) => blob.publishWhen(`study/series/${i}`, ready, { durable: false })));
  assert.deepEqual(made.filter((path) => path === join(root, 'study', 'series')), [join(root, 'study', 'series')]);
  for (const [i, bytes] of objects.entries()) assert.deepEqual(await readFile(join(root, 'study', 'series', String(i))), bytes);
  assert.deepEqual(await leftoverStagingFiles(root), []);
});
