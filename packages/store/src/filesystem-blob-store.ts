import { randomBytes } from 'node:crypto';
import { closeSync, fdatasync, fsync, open as openFd, openSync, renameSync, writev as writevFd, writevSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, rmdir, stat, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { uptime } from 'node:os';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type {
  BlobInfo,
  BlobSource,
  BlobStore,
  BlobWriteOptions,
  ByteRange,
  CommitOptions,
  StagedBlob,
  StagingWriter,
} from './blob-store.js';
import { validateBlobKey } from './blob-store.js';
import { StagingFileMaker } from './staging-file-maker.js';
import { BlobReader, BlobReadFailure, type BlobRead } from './blob-reader.js';
import {
  BlobNotFoundError,
  BlobRangeError,
  BlobStoreIoError,
  BlobTooLargeError,
  InvalidBlobKeyError,
  StagedBlobStateError,
} from './errors.js';

/** Name of the staging directory under the root; keys can never name it (a segment never starts with '.'). */
export const STAGING_DIRECTORY = '.staging';

export interface FilesystemBlobStoreOptions {
  /** Directory holding the objects; created when missing. */
  root: string;
  /**
   * Staging files older than this are removed at open: they are what a crash left mid-write. Default 60 minutes,
   * far longer than any live write, so a second process opening the same root cannot remove another's live file.
   */
  staleStagingAfterMs?: number;
  /**
   * Flush every write to disk before it counts as done (default true): objects survive a power cut. With false,
   * writes are still atomic (temporary name, rename) and survive a crash of the process, not of the machine;
   * faster on disks where a flush is slow or shared.
   */
  fsync?: boolean;
  /**
   * Create staging files ahead on a thread of the store's own (default false: through Node's thread pool, one trip
   * per file). Worth it for a server that ingests many small objects: see `StagingFileMaker`.
   */
  stagingThread?: boolean;
  /**
   * Read objects whole (`getBytes`) on a thread of the store's own, in batches (default false: through Node's
   * thread pool, four trips per object). Worth it for a server that sends studies of many small objects: see
   * `BlobReader`.
   */
  readThread?: boolean;
}

const DEFAULT_STALE_STAGING_MS = 60 * 60 * 1000;
/** Bytes the read thread reads at a time for `get` (a stream holds two such chunks at most). */
const READ_THREAD_CHUNK = 1024 * 1024;
/**
 * Empty staging files kept ready. Creating a file (allocating its inode) is the costliest step of storing a small
 * object on ext4, and it does not depend on the object: done ahead, it overlaps with the previous objects' work
 * instead of adding to each object's latency. They are made in batches that share one flush of the staging
 * directory; a new batch starts while a few are still left.
 */
const SPARE_BATCH = 16;
// Several batches ahead: at a thousand objects a second a batch of 16 lasts 16 ms, and making one takes longer.
const SPARE_LOW_WATER = 48;
// Well inside the stale-staging age, so that another process opening the same root never removes a live spare.
const SPARE_MAX_AGE_MS = 5 * 60 * 1000;
// Large enough to keep the disk busy, small enough that a slow disk applies backpressure quickly.
const WRITE_HIGH_WATER_MARK = 1024 * 1024;
/**
 * The first bytes of an object, up to this size, go straight into the page cache from the event loop, as SQLite's
 * own WAL writes do: a copy of a few pages costs microseconds, while a trip through the thread pool costs a
 * wake-up and a context switch on each side (about 10x the copy on a 2-core machine) and, worse, waits for a free
 * event loop before the next chunk can be read. So a small object never uses the pool for its writes. The rest of
 * a large object goes through the thread pool, in batches of the chunks that queued meanwhile, where a slow disk
 * or dirty-page throttling cannot stall the loop. Flushes (fdatasync) always go through the thread pool.
 */
const SYNC_WRITE_MAX_BYTES = 64 * 1024;
/**
 * A large object is flushed as it arrives, each time this much more has been written (in the thread pool, beside
 * the writes): the disk then works while the network delivers, and the flush that makes the object durable finds
 * little left to do, instead of the whole object at once.
 */
const EARLY_FLUSH_BYTES = 16 * 1024 * 1024;

const openAsync = promisify(openFd);
const fdatasyncAsync = promisify(fdatasync);
const fsyncAsync = promisify(fsync);
const writevAsync = promisify(writevFd);

function isErrno(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

/**
 * Only the flush goes through the thread pool: opening and closing a directory are lookups in memory, while each
 * trip through the pool costs 30-40 us of the event loop's CPU in wake-ups on a 2-core VM (docs/dicomweb.md).
 */
async function fsyncDirectory(path: string, enabled = true): Promise<void> {
  if (!enabled) return;
  const fd = openSync(path, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    closeQuietly(fd);
  }
}

/**
 * A staging file being created: its name is known at once, its descriptor once the file exists. Plain descriptors
 * (not `FileHandle`s) so that small writes and the close can be made without the thread pool.
 */
interface StagingFile {
  path: string;
  fd: Promise<number>;
  createdAt: number;
  /** Set once its creation failed: a spare that can never be written is passed over, not handed out. */
  failed?: boolean;
}

/** Marks the file failed when its creation fails; until taken, nobody else observes that rejection. */
function watched(file: StagingFile): StagingFile {
  file.fd.catch(() => {
    file.failed = true;
  });
  return file;
}

/**
 * A new staging file's name: the creating process's id (8 hex digits) and 16 random hex digits, so that recovery can
 * tell the staged bytes of a live process, which are none of its business, from those a dead one left.
 */
function newStagingId(): string {
  return (process.pid >>> 0).toString(16).padStart(8, '0') + randomBytes(8).toString('hex');
}

/** Whether the process that made a staging file may still be using it (see `leftoverStaged`). */
function stagingOwnerAlive(id: string, modifiedAtMs: number): boolean {
  // Made before this boot: whoever made it is gone, whatever process has that id now.
  if (modifiedAtMs < Date.now() - uptime() * 1000) return false;
  return processAlive(Number.parseInt(id.slice(0, 8), 16));
}

/**
 * Whether a process with this id runs on this host (signal 0 checks without sending anything; EPERM means it runs
 * under another user). Recovery uses it to leave alone what a live process is still writing.
 */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Nothing was written through it that a failed close could lose: flushes are checked before closing.
  }
}

/**
 * Creates `count` staging files in `dir`, on the maker's thread when there is one, else through the thread pool.
 * With `fsync`, their directory entries are flushed (once for all) before any is used, so that staged bytes flushed
 * later can be found again by name after a power cut (what `resumeStaged` and crash recovery rely on).
 */
function createStagingFiles(dir: string, count: number, fsync: boolean, maker: StagingFileMaker | undefined): StagingFile[] {
  const paths = Array.from({ length: count }, () => join(dir, newStagingId()));
  const createdAt = Date.now();
  if (maker) {
    const made = maker.create(dir, paths, fsync);
    // Reopened here: an existing empty file opens in microseconds, without the thread pool.
    return paths.map((path) => watched({ path, fd: made.then(() => openSync(path, 'r+')), createdAt }));
  }
  // 'wx': a random name must be new; never write into somebody else's staging file.
  const opened = paths.map((path) => openAsync(path, 'wx', 0o644));
  const flushed = Promise.allSettled(opened).then(() => fsyncDirectory(dir, fsync));
  return paths.map((path, i) => {
    const fd = opened[i]!.then(async (created) => {
      try {
        await flushed;
        return created;
      } catch (error) {
        closeQuietly(created);
        await unlink(path).catch(() => undefined);
        throw error;
      }
    });
    return watched({ path, fd, createdAt });
  });
}

/**
 * Writes into one staging file. 'finish' means written, not yet flushed: the open file passes to the staged blob,
 * whose `flush` (or `commit`) makes the bytes durable, so that the flush can overlap the caller's next steps.
 */
class StagingFileWritable extends Writable {
  #fd: number | undefined;
  #bytesWritten = 0;
  #unflushed = 0;
  /** The early flush under way, if any; settles with its error (kept for the final flush to report), never rejects. */
  #writeback: Promise<Error | undefined> | undefined;
  readonly #file: StagingFile;
  readonly #path: string;
  readonly #maxBytes: number;
  readonly #flushEarly: boolean;

  constructor(file: StagingFile, maxBytes: number, flushEarly: boolean) {
    super({ highWaterMark: WRITE_HIGH_WATER_MARK });
    this.#file = file;
    this.#path = file.path;
    this.#maxBytes = maxBytes;
    this.#flushEarly = flushEarly;
  }

  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.#file.fd.then(
      (fd) => {
        this.#fd = fd;
        callback();
      },
      (error: unknown) => callback(this.#ioError('create', error)),
    );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this._writev([{ chunk }], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    let total = 0;
    for (const { chunk } of chunks) total += chunk.length;
    if (this.#bytesWritten + total > this.#maxBytes) {
      callback(new BlobTooLargeError(this.#maxBytes));
      return;
    }
    const buffers = chunks.map((c) => c.chunk);
    if (this.#bytesWritten + total <= SYNC_WRITE_MAX_BYTES) {
      try {
        writeAllSync(this.#fd!, buffers);
      } catch (error) {
        callback(this.#ioError('write', error));
        return;
      }
      this.#bytesWritten += total;
      callback();
      return;
    }
    writeAll(this.#fd!, buffers).then(
      () => {
        this.#bytesWritten += total;
        this.#unflushed += total;
        if (this.#flushEarly && this.#unflushed >= EARLY_FLUSH_BYTES && !this.#writeback) this.#startWriteback();
        callback();
      },
      (error: unknown) => callback(this.#ioError('write', error)),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    callback();
  }

  #startWriteback(): void {
    this.#unflushed = 0;
    const writeback = fdatasyncAsync(this.#fd!).then(
      () => undefined,
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    );
    this.#writeback = writeback;
    void writeback.then((error) => {
      // An error is kept for the final flush; otherwise the next early flush may start.
      if (this.#writeback === writeback && error === undefined) this.#writeback = undefined;
    });
  }

  /** The open staging file and its early flush, handed to the staged blob once writing has finished. */
  takeFd(): { fd: number | undefined; writeback: Promise<Error | undefined> | undefined } {
    const taken = { fd: this.#fd, writeback: this.#writeback };
    this.#fd = undefined;
    this.#writeback = undefined;
    return taken;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const fd = this.#fd;
    this.#fd = undefined;
    // Never close a descriptor a flush in the thread pool still uses: the number could be reused meanwhile.
    if (fd !== undefined) void (this.#writeback ?? Promise.resolve()).then(() => closeQuietly(fd));
    callback(error);
  }

  #ioError(action: string, cause: unknown): Error {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new BlobStoreIoError(`Cannot ${action} staging file '${this.#path}': ${reason}`, { cause });
  }
}

/**
 * Writes `source` into `writable` with backpressure and ends it; on failure the source is given up (a generator
 * returns, a stream is destroyed) and the error is thrown. What `stream.pipeline` does for one source and one
 * destination, without its AbortController: pipeline aborts one on every completion, and the AbortError that
 * makes (a DOMException with a stack trace) cost more than the rest of staging a small object.
 */
async function pump(source: BlobSource, writable: Writable): Promise<void> {
  try {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      if (writable.destroyed) break;
      if (!writable.write(chunk)) await drained(writable);
    }
    if (!writable.destroyed) writable.end();
    await finished(writable);
  } catch (error) {
    if (typeof (source as Readable).destroy === 'function') (source as Readable).destroy();
    writable.destroy();
    throw writable.errored ?? error;
  }
}

/** Resolves at 'drain'; rejects when the writable fails or closes first. */
function drained(writable: Writable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      writable.off('drain', onDrain);
      writable.off('error', onError);
      writable.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onError = (error: Error) => done(error);
    const onClose = () => done(writable.errored ?? new Error('The staging file was closed before the write finished'));
    writable.on('drain', onDrain);
    writable.on('error', onError);
    writable.on('close', onClose);
  });
}

function writeAllSync(fd: number, buffers: readonly Uint8Array[]): void {
  let pending = buffers;
  while (pending.length > 0) pending = remainder(pending, writevSync(fd, pending as Uint8Array[]));
}

async function writeAll(fd: number, buffers: readonly Uint8Array[]): Promise<void> {
  let pending = buffers;
  while (pending.length > 0) pending = remainder(pending, (await writevAsync(fd, pending as Uint8Array[])).bytesWritten);
}

/** What is left of `buffers` once `written` bytes of them are written: writev may write fewer than asked. */
function remainder(buffers: readonly Uint8Array[], written: number): Uint8Array[] {
  let skip = written;
  const rest: Uint8Array[] = [];
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
    } else {
      rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
      skip = 0;
    }
  }
  return rest;
}

async function discardStagingFile(file: StagingFile): Promise<void> {
  const fd = await file.fd.catch(() => undefined);
  if (fd === undefined) return;
  closeQuietly(fd);
  await unlink(file.path).catch(() => undefined);
}

type StagedState = 'staged' | 'committed' | 'discarded';

interface PendingPublish {
  /** The staged file that holds the key's bytes until it is moved under the key. */
  path: string;
  /** Settles when the publish is done or taken back. */
  settled: Promise<void>;
  release(): void;
}

class FilesystemStagedBlob implements StagedBlob {
  #state: StagedState = 'staged';
  #fd: number | undefined;
  #writeback: Promise<Error | undefined> | undefined;
  #flushed: Promise<void> | undefined;

  readonly id: string;

  constructor(
    private readonly store: FilesystemBlobStore,
    private readonly stagingPath: string,
    readonly size: number,
    fd?: number,
    writeback?: Promise<Error | undefined>,
  ) {
    this.id = basename(stagingPath);
    this.#fd = fd;
    this.#writeback = writeback;
  }

  flush(): Promise<void> {
    this.#flushed ??= this.#release(this.store.fsync);
    return this.#flushed;
  }

  async #release(sync: boolean): Promise<void> {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd === undefined) return;
    try {
      // An early flush that failed has taken the error with it (Linux reports a writeback error once): report it.
      const early = await this.#writeback;
      if (early) throw early;
      if (sync) await fdatasyncAsync(fd);
    } catch (error) {
      throw new BlobStoreIoError(`Cannot flush staging file '${this.stagingPath}': ${(error as Error).message}`, { cause: error });
    } finally {
      closeQuietly(fd);
    }
  }

  async commit(key: string, options: CommitOptions = {}): Promise<void> {
    validateBlobKey(key);
    this.#enter('commit', 'committed');
    try {
      await this.flush();
      await this.store.publish(this.stagingPath, key, undefined, options.durable ?? true);
    } catch (error) {
      await unlink(this.stagingPath).catch(() => undefined);
      throw error;
    }
  }

  async publishWhen(key: string, ready: Promise<void>, options: CommitOptions = {}): Promise<void> {
    validateBlobKey(key);
    this.#enter('commit', 'committed');
    const claim = this.store.holdPending(key, this.stagingPath);
    // If `ready` or the flush fails, the bytes stay staged (and readable under `key`): recovery decides about them.
    await ready;
    await this.flush();
    try {
      // Checked again before each attempt: a first object of a series waits for its directory, and meanwhile the
      // key may be deleted (the bytes went with the delete) or written anew; either makes these bytes stale.
      const moved = await this.store.publish(this.stagingPath, key, undefined, options.durable ?? true, claim.current);
      if (!moved) await unlink(this.stagingPath).catch(() => undefined);
    } finally {
      claim.release();
    }
  }

  async read(): Promise<Readable> {
    if (this.#state !== 'staged') throw new StagedBlobStateError('read', this.#state);
    const handle = await open(this.stagingPath, 'r');
    return handle.createReadStream({ autoClose: true });
  }

  async discard(): Promise<void> {
    this.#enter('discard', 'discarded');
    // Bytes about to be removed need no flush; a flush already started is waited for before the file goes.
    await (this.#flushed ?? this.#release(false)).catch(() => undefined);
    await unlink(this.stagingPath).catch((error: unknown) => {
      if (!isErrno(error, 'ENOENT')) throw error;
    });
  }

  #enter(action: string, next: StagedState): void {
    if (this.#state !== 'staged') throw new StagedBlobStateError(action, this.#state);
    this.#state = next;
  }
}

class FilesystemStagingWriter implements StagingWriter {
  readonly writable: StagingFileWritable;
  readonly #path: string;
  readonly #done: Promise<StagedBlob>;
  #staged: StagedBlob | undefined;
  #discarded = false;

  constructor(store: FilesystemBlobStore, file: StagingFile, maxBytes: number) {
    const path = file.path;
    this.#path = path;
    const writable = new StagingFileWritable(file, maxBytes, store.fsync);
    this.writable = writable;
    this.#done = new Promise<StagedBlob>((resolve, reject) => {
      writable.once('finish', () => {
        const { fd, writeback } = writable.takeFd();
        this.#staged = new FilesystemStagedBlob(store, path, writable.bytesWritten, fd, writeback);
        resolve(this.#staged);
      });
      // Also the guard against an unhandled 'error' event when nobody pipes into the writable yet.
      writable.once('error', (error) => {
        this.#removeFile().then(
          () => reject(error),
          () => reject(error),
        );
      });
      writable.once('close', () => {
        if (!writable.writableFinished) {
          this.#removeFile().then(
            () => reject(new BlobStoreIoError(`Cannot stage blob '${path}': the write was abandoned`, { cause: null })),
            reject,
          );
        }
      });
    });
    // Callers that only pipe and discard never await `finish()`: the rejection is theirs to see through `pump`.
    this.#done.catch(() => undefined);
  }

  get bytesWritten(): number {
    return this.writable.bytesWritten;
  }

  finish(): Promise<StagedBlob> {
    return this.#done;
  }

  async discard(): Promise<void> {
    if (this.#discarded) return;
    this.#discarded = true;
    if (!this.writable.destroyed && !this.writable.writableFinished) this.writable.destroy();
    const staged = await this.#done.catch(() => undefined);
    if (staged) await staged.discard().catch(() => undefined);
    await this.#removeFile();
  }

  async #removeFile(): Promise<void> {
    await unlink(this.#path).catch((error: unknown) => {
      if (!isErrno(error, 'ENOENT')) throw error;
    });
  }
}

/**
 * A `BlobStore` on a local file system. Objects are files under `root` named by their keys. A write goes to
 * `<root>/.staging/<random>`, is fsync'd, renamed into place (parents created) and the parent directory fsync'd, so
 * a crash never leaves a partial object under its key; the staging files a crash leaves behind are removed at the
 * next `open` once older than `staleStagingAfterMs`. `.staging` must be on the same file system as the objects,
 * which holds because it lives under `root`.
 */
export class FilesystemBlobStore implements BlobStore {
  readonly root: string;
  readonly #stagingDir: string;
  #spares: StagingFile[] = [];
  #closed = false;
  readonly #maker: StagingFileMaker | undefined;
  readonly #reader: BlobReader | undefined;
  /** Keys whose bytes are still staged (`StagedBlob.publishWhen`), with where they are meanwhile. */
  readonly #pending = new Map<string, PendingPublish>();
  /**
   * Directories being made for `publish`, by path. The instances of a new series are published together once their
   * index commit is flushed (STOW-RS commits about 9 at a time); each would otherwise make the series' directory
   * itself: 1,383 `mkdir` trips through the thread pool for 2,000 instances in 100 series, 100 with this.
   */
  readonly #makingDirectories = new Map<string, Promise<void>>();

  /** Whether writes are flushed to disk before they count as done (see `FilesystemBlobStoreOptions.fsync`). */
  readonly fsync: boolean;

  private constructor(root: string, fsync = true, stagingThread = false, readThread = false) {
    this.fsync = fsync;
    this.root = resolve(root);
    this.#stagingDir = join(root, STAGING_DIRECTORY);
    this.#maker = stagingThread ? new StagingFileMaker() : undefined;
    this.#reader = readThread ? new BlobReader() : undefined;
  }

  /** Creates the root and staging directories when missing, and removes stale staging files. */
  static async open(options: FilesystemBlobStoreOptions): Promise<FilesystemBlobStore> {
    const store = new FilesystemBlobStore(options.root, options.fsync ?? true, options.stagingThread ?? false, options.readThread ?? false);
    await mkdir(store.#stagingDir, { recursive: true });
    await store.removeStaleStaging(options.staleStagingAfterMs ?? DEFAULT_STALE_STAGING_MS);
    return store;
  }

  /** Removes staging files last modified more than `olderThanMs` ago; returns how many. */
  async removeStaleStaging(olderThanMs: number): Promise<number> {
    const limit = Date.now() - olderThanMs;
    let removed = 0;
    for (const name of await readdir(this.#stagingDir)) {
      const path = join(this.#stagingDir, name);
      try {
        const info = await stat(path);
        if (info.isFile() && info.mtimeMs <= limit) {
          await unlink(path);
          removed++;
        }
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
      }
    }
    return removed;
  }

  async resumeStaged(id: string): Promise<StagedBlob | undefined> {
    // Ids are the random hex names `createStagingWriter` makes; anything else could name a path outside staging.
    if (!/^[0-9a-f]{24}$/.test(id)) return undefined;
    const path = join(this.#stagingDir, id);
    try {
      const info = await stat(path);
      return info.isFile() ? new FilesystemStagedBlob(this, path, info.size) : undefined;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  async *leftoverStaged(): AsyncIterable<StagedBlob> {
    for (const name of await readdir(this.#stagingDir)) {
      if (!/^[0-9a-f]{24}$/.test(name)) continue;
      const path = join(this.#stagingDir, name);
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile() || stagingOwnerAlive(name, info.mtimeMs)) continue;
      yield new FilesystemStagedBlob(this, path, info.size);
    }
  }

  /**
   * Makes `key` read from `path` until the claim is released (by a publish) or taken back (by a delete of the key).
   * Internal to the store and its staged blobs.
   */
  holdPending(key: string, path: string): { current(): boolean; release(): void } {
    let release!: () => void;
    const entry: PendingPublish = { path, settled: new Promise<void>((resolve) => (release = resolve)), release };
    this.#pending.get(key)?.release();
    this.#pending.set(key, entry);
    return {
      current: () => this.#pending.get(key) === entry,
      release: () => {
        if (this.#pending.get(key) === entry) this.#pending.delete(key);
        entry.release();
      },
    };
  }

  createStagingWriter(opts: BlobWriteOptions = {}): StagingWriter {
    return new FilesystemStagingWriter(this, this.#takeStagingFile(), opts.maxBytes ?? Number.POSITIVE_INFINITY);
  }

  #newStagingFiles(count: number): StagingFile[] {
    return createStagingFiles(this.#stagingDir, count, this.fsync, this.#maker);
  }

  #takeStagingFile(): StagingFile {
    const now = Date.now();
    let file = this.#spares.shift();
    while (file && (file.failed || now - file.createdAt > SPARE_MAX_AGE_MS)) {
      void discardStagingFile(file);
      file = this.#spares.shift();
    }
    if (!this.#closed && this.#spares.length < SPARE_LOW_WATER) this.#spares.push(...this.#newStagingFiles(SPARE_BATCH));
    return file ?? this.#newStagingFiles(1)[0]!;
  }

  async stage(source: BlobSource, opts: BlobWriteOptions = {}): Promise<StagedBlob> {
    if (Array.isArray(source)) return this.#stageWhole(source, opts.maxBytes ?? Number.POSITIVE_INFINITY);
    const writer = this.createStagingWriter(opts);
    try {
      await pump(source, writer.writable);
    } catch (error) {
      await writer.discard();
      throw error;
    }
    return writer.finish();
  }

  /**
   * An object already in memory, written without a stream: in one write from the event loop when small (see
   * `SYNC_WRITE_MAX_BYTES`), else in one trip through the thread pool.
   */
  async #stageWhole(chunks: readonly Uint8Array[], maxBytes: number): Promise<StagedBlob> {
    let size = 0;
    for (const chunk of chunks) size += chunk.byteLength;
    if (size > maxBytes) throw new BlobTooLargeError(maxBytes);
    const file = this.#takeStagingFile();
    let fd: number;
    try {
      fd = await file.fd;
    } catch (error) {
      throw new BlobStoreIoError(`Cannot create staging file '${file.path}': ${(error as Error).message}`, { cause: error });
    }
    try {
      if (size <= SYNC_WRITE_MAX_BYTES) writeAllSync(fd, chunks);
      else await writeAll(fd, chunks);
    } catch (error) {
      closeQuietly(fd);
      await unlink(file.path).catch(() => undefined);
      throw new BlobStoreIoError(`Cannot write staging file '${file.path}': ${(error as Error).message}`, { cause: error });
    }
    return new FilesystemStagedBlob(this, file.path, size, fd);
  }

  async sync(keys: readonly string[]): Promise<void> {
    if (!this.fsync) return;
    const directories = new Set<string>();
    for (const key of keys) directories.add(dirname(join(this.root, validateBlobKey(key))));
    await Promise.all(
      [...directories].map((dir) =>
        fsyncDirectory(dir).catch((error: unknown) => {
          // Removed since: its objects were deleted, and there is nothing left to make durable.
          if (!isErrno(error, 'ENOENT')) throw error;
        }),
      ),
    );
  }

  async put(key: string, source: BlobSource, opts: BlobWriteOptions = {}): Promise<BlobInfo> {
    validateBlobKey(key);
    const staged = await this.stage(source, opts);
    await staged.commit(key);
    return { key, size: staged.size };
  }

  async rename(fromKey: string, toKey: string): Promise<void> {
    validateBlobKey(fromKey);
    validateBlobKey(toKey);
    await this.#pending.get(fromKey)?.settled;
    const source = join(this.root, fromKey);
    const info = await stat(source).catch((error: unknown) => {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) throw new BlobNotFoundError(fromKey, { cause: error });
      throw error;
    });
    if (!info.isFile()) throw new BlobNotFoundError(fromKey);
    if (fromKey === toKey) return;
    await this.publish(source, toKey, fromKey);
    await this.#removeEmptyParents(source);
  }

  /**
   * Moves a file (a finished staging file, or an object being renamed) under `key` and makes the move durable.
   * With `wanted`, the move is made only while it says so (checked right before it): false when it did not happen.
   * Internal to the store and its staged blobs.
   */
  async publish(sourcePath: string, key: string, sourceKey?: string, durable = true, wanted?: () => boolean): Promise<boolean> {
    const target = join(this.root, key);
    const parent = dirname(target);
    // A concurrent delete may remove an emptied parent between our mkdir and rename: create it again and retry.
    for (let attempt = 0; ; attempt++) {
      try {
        // Most objects go into a directory that exists already (the series'): try the rename alone first. It is
        // made from the event loop: a rename is a few microseconds of directory update in memory, while a trip
        // through the thread pool costs tens of microseconds of wake-ups on each side (see SYNC_WRITE_MAX_BYTES).
        if (attempt > 0) await this.#makeDirectory(parent);
        if (wanted && !wanted()) return false;
        // A later write of the key wins over bytes still waiting to be moved there.
        this.#takeBackPending(key, sourcePath);
        renameSync(sourcePath, target);
      } catch (error) {
        if (isErrno(error, 'ENOENT') && attempt < 5) {
          // Either our parent is missing (create it and retry) or the source is (a concurrent rename or delete won).
          if (sourceKey !== undefined && !(await stat(sourcePath).catch(() => undefined))) {
            throw new BlobNotFoundError(sourceKey, { cause: error });
          }
          continue;
        }
        if (isErrno(error, 'EISDIR', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR')) {
          throw new InvalidBlobKeyError(key, 'the key or one of its parents is used as a prefix of other keys');
        }
        throw new BlobStoreIoError(`Cannot store blob '${key}': ${(error as Error).message}`, { cause: error });
      }
      // The rename is durable once the target's parent is synced; a new parent's own entry already is
      // (`#makeDirectory`).
      if (durable) await fsyncDirectory(parent, this.fsync);
      // A rename between directories also removed an entry from the source's directory. That directory may be
      // gone already: emptied by our rename, a concurrent delete's clean-up can remove it, and then there is
      // nothing left to sync.
      if (sourceKey !== undefined && dirname(sourcePath) !== parent) {
        await fsyncDirectory(dirname(sourcePath), this.fsync).catch((error: unknown) => {
          if (!isErrno(error, 'ENOENT')) throw error;
        });
      }
      return true;
    }
  }

  /**
   * `mkdir -p` of a publish's parent, shared with the publishes that need the same directory meanwhile. Settles once
   * the entries of the directories it created are durable (their parents synced), so that none of those publishes
   * can finish before the path to its object survives a power cut.
   */
  #makeDirectory(path: string): Promise<void> {
    const making = this.#makingDirectories.get(path);
    if (making) return making;
    const made = (async () => {
      const firstCreated = await mkdir(path, { recursive: true });
      if (firstCreated === undefined) return;
      for (let dir = path; dir.length >= firstCreated.length; dir = dirname(dir)) await fsyncDirectory(dirname(dir), this.fsync);
    })();
    this.#makingDirectories.set(path, made);
    const forget = () => {
      this.#makingDirectories.delete(path);
    };
    made.then(forget, forget);
    return made;
  }

  #takeBackPending(key: string, keepPath?: string): void {
    const pending = this.#pending.get(key);
    if (!pending || pending.path === keepPath) return;
    this.#pending.delete(key);
    pending.release();
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    validateBlobKey(key);
    if (this.#reader && !this.#pending.has(key)) return this.#streamOnThread(key, range);
    const { handle, size } = await this.#openForRead(key);
    try {
      if (range === undefined) return handle.createReadStream({ autoClose: true });
      const { start, end } = byteSpan(key, range, size);
      return handle.createReadStream({ start, end, autoClose: true });
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async getBytes(key: string, range: ByteRange | undefined, options: { maxBytes: number; reusable?: boolean }): Promise<Buffer> {
    validateBlobKey(key);
    // Bytes still staged (publishWhen) are read from where they wait, through the thread pool: rare, and moving.
    if (this.#reader && !this.#pending.has(key)) return this.#readOnThread(key, range, options.maxBytes, options.reusable === true);
    const { handle, size } = await this.#openForRead(key);
    try {
      const { start, end } = range === undefined ? { start: 0, end: size - 1 } : byteSpan(key, range, size);
      const length = end - start + 1;
      if (length > options.maxBytes) throw new BlobTooLargeError(options.maxBytes, { key, length });
      const buffer = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(buffer, filled, length - filled, start + filled);
        // Objects are replaced by rename, never truncated in place: a short read means the file is not ours.
        if (bytesRead === 0) throw new BlobStoreIoError(`Cannot read blob '${key}': it ended after ${filled} of ${length} bytes`, { cause: undefined });
        filled += bytesRead;
      }
      return buffer;
    } finally {
      await handle.close();
    }
  }

  recycle(bytes: Uint8Array): void {
    this.#reader?.recycle(bytes);
  }

  async #readOnThread(key: string, range: ByteRange | undefined, maxBytes: number, reusable: boolean): Promise<Buffer> {
    const request = { start: range?.start ?? 0, whole: range === undefined, reusable, ...(range?.end !== undefined ? { end: range.end } : {}) };
    return (await this.#readThreadRequest(key, request, maxBytes, range)).bytes;
  }

  /**
   * The object streamed from the read thread `READ_THREAD_CHUNK` bytes at a time, the next chunk read while this
   * one is consumed (memory: two chunks). The first chunk is read before this resolves, so a missing object or an
   * unsatisfiable range fails here, as `get` promises; a later chunk from another file (the key was overwritten
   * meanwhile) fails the stream rather than mixing two objects.
   */
  async #streamOnThread(key: string, range: ByteRange | undefined): Promise<Readable> {
    const start = range?.start ?? 0;
    const firstEnd = range?.end !== undefined ? Math.min(range.end, start + READ_THREAD_CHUNK - 1) : start + READ_THREAD_CHUNK - 1;
    const first = await this.#readThreadRequest(key, { start, end: firstEnd, whole: range === undefined }, READ_THREAD_CHUNK, range);
    const end = Math.min(range?.end ?? first.size - 1, first.size - 1);
    const readChunk = (from: number) =>
      this.#readThreadRequest(key, { start: from, end: Math.min(end, from + READ_THREAD_CHUNK - 1), whole: false }, READ_THREAD_CHUNK, range).then((read) => {
        if (read.identity !== first.identity) {
          throw new BlobStoreIoError(`Cannot read blob '${key}': it was replaced while being read`, { cause: undefined });
        }
        return read.bytes;
      });
    async function* chunks(): AsyncGenerator<Buffer> {
      let position = start + first.bytes.length;
      let next = position <= end ? readChunk(position) : undefined;
      next?.catch(() => {});
      yield first.bytes;
      while (next) {
        const bytes = await next;
        position += bytes.length;
        if (bytes.length === 0) throw new BlobStoreIoError(`Cannot read blob '${key}': it ended at ${position} of ${end + 1} bytes`, { cause: undefined });
        next = position <= end ? readChunk(position) : undefined;
        next?.catch(() => {});
        yield bytes;
      }
    }
    return Readable.from(chunks(), { objectMode: false, highWaterMark: READ_THREAD_CHUNK });
  }

  /** One read on the thread, its failure turned into the store's error; `asked` is the range errors report. */
  async #readThreadRequest(
    key: string,
    span: { start: number; end?: number; whole: boolean; reusable?: boolean },
    maxBytes: number,
    asked: ByteRange | undefined,
  ): Promise<BlobRead> {
    const request = { path: join(this.root, key), maxBytes, ...span };
    try {
      return await this.#reader!.read(request);
    } catch (error) {
      if (!(error instanceof BlobReadFailure)) throw new BlobStoreIoError(`Cannot read blob '${key}': ${(error as Error).message}`, { cause: error });
      const { kind, details } = error;
      if (kind === 'missing') throw new BlobNotFoundError(key, { cause: error });
      if (kind === 'range') throw new BlobRangeError(key, request.start, asked?.end, details.size ?? 0);
      if (kind === 'too-large') throw new BlobTooLargeError(maxBytes, { key, length: details.length ?? 0 });
      throw new BlobStoreIoError(`Cannot read blob '${key}': ${error.message}`, { cause: error });
    }
  }

  /** The file under `key` (or where its publish keeps it meanwhile), opened, with its size. */
  async #openForRead(key: string): Promise<{ handle: FileHandle; size: number }> {
    const pending = this.#pending.get(key);
    if (pending) {
      // Its publish may move the file while this opens it: then it is under the key.
      const handle = await open(pending.path, 'r').catch((error: unknown) => {
        if (isErrno(error, 'ENOENT')) return undefined;
        throw error;
      });
      if (handle) return { handle, size: await statOrClose(handle).then((info) => info.size) };
    }
    try {
      const handle = await open(join(this.root, key), 'r');
      const info = await statOrClose(handle);
      if (!info.isFile()) {
        await handle.close();
        throw new BlobNotFoundError(key);
      }
      return { handle, size: info.size };
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) throw new BlobNotFoundError(key, { cause: error });
      throw error;
    }
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    validateBlobKey(key);
    const pending = this.#pending.get(key);
    if (pending) {
      const info = await stat(pending.path).catch(() => undefined);
      if (info?.isFile()) return { key, size: info.size, modifiedAt: info.mtime };
    }
    try {
      const info = await stat(join(this.root, key));
      return info.isFile() ? { key, size: info.size, modifiedAt: info.mtime } : undefined;
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<boolean> {
    validateBlobKey(key);
    const pending = this.#pending.get(key);
    if (pending) {
      // Taken back before its publish: the bytes go, and the publish finds its claim gone.
      this.#takeBackPending(key);
      const removed = await unlink(pending.path).then(
        () => true,
        (error: unknown) => {
          if (isErrno(error, 'ENOENT')) return false;
          throw error;
        },
      );
      if (removed) return true;
    }
    const path = join(this.root, key);
    try {
      await unlink(path);
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR', 'EISDIR', 'EPERM')) return false;
      throw error;
    }
    await this.#removeEmptyParents(path);
    return true;
  }

  // Empty parents are removed so that a deleted study leaves no directory skeleton; `publish` recreates them.
  async #removeEmptyParents(path: string): Promise<void> {
    let dir = dirname(path);
    while (dir !== this.root && dir.startsWith(this.root + sep)) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
      dir = dirname(dir);
    }
  }

  async *list(prefix = ''): AsyncIterable<BlobInfo> {
    // Start at the deepest directory the prefix names completely, so listing one study does not walk the archive.
    const slash = prefix.lastIndexOf('/');
    let base = '';
    if (slash > 0) {
      const candidate = prefix.slice(0, slash);
      try {
        validateBlobKey(candidate);
        base = candidate;
      } catch {
        return;
      }
    }
    yield* this.#walk(base, prefix);
  }

  async *#walk(relativeDir: string, prefix: string): AsyncGenerator<BlobInfo> {
    let entries;
    try {
      entries = await readdir(relativeDir ? join(this.root, relativeDir) : this.root, { withFileTypes: true });
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return;
      throw error;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const key = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        const asPrefix = `${key}/`;
        if (asPrefix.startsWith(prefix) || prefix.startsWith(asPrefix)) yield* this.#walk(key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        try {
          const info = await stat(join(this.root, key));
          yield { key, size: info.size, modifiedAt: info.mtime };
        } catch (error) {
          if (!isErrno(error, 'ENOENT')) throw error;
        }
      }
    }
  }

  /** Removes the spare staging files; writes already under way finish normally. */
  async close(): Promise<void> {
    this.#closed = true;
    const spares = this.#spares;
    this.#spares = [];
    await Promise.all(spares.map(discardStagingFile));
    await this.#maker?.close();
    await this.#reader?.close();
  }
}

/** The inclusive span of `range` in an object of `size` bytes, as HTTP reads it; `BlobRangeError` when unsatisfiable. */
function byteSpan(key: string, range: ByteRange, size: number): { start: number; end: number } {
  const { start } = range;
  if (!Number.isSafeInteger(start) || start < 0 || start >= size) throw new BlobRangeError(key, start, range.end, size);
  const end = Math.min(range.end ?? size - 1, size - 1);
  if (!Number.isSafeInteger(end) || end < start) throw new BlobRangeError(key, start, range.end, size);
  return { start, end };
}

async function statOrClose(handle: FileHandle): Promise<{ size: number; isFile(): boolean }> {
  try {
    return await handle.stat();
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Opens (creating when missing) a `FilesystemBlobStore`; the same as `FilesystemBlobStore.open`. */
export function openFileSystemBlobStore(options: FilesystemBlobStoreOptions): Promise<FilesystemBlobStore> {
  return FilesystemBlobStore.open(options);
}
