import type { Readable, Writable } from 'node:stream';
import { InvalidBlobKeyError } from './errors.js';

/** What a store knows about one object. */
export interface BlobInfo {
  key: string;
  size: number;
  modifiedAt?: Date;
}

/** A byte range with an inclusive end, as in HTTP `Range: bytes=start-end` (RFC 9110 §14.1.2). */
export interface ByteRange {
  start: number;
  /** Inclusive; past the end of the object it is clamped to the last byte, like HTTP. */
  end?: number;
}

/** Bytes a store accepts: any async iterable of chunks, which includes every `Readable`. */
export type BlobSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Readable;

export interface BlobWriteOptions {
  /** The write fails with `BlobTooLargeError` as soon as more bytes than this arrive; nothing is kept. */
  maxBytes?: number;
}

export interface CommitOptions {
  /**
   * Default true: the object is durable under its key when `commit` resolves. With false, the move is made but
   * may be undone by a power cut until `BlobStore.sync` of the key resolves; callers that record the staged id
   * (crash recovery can redo the move) use it to keep that flush off each object's latency and share it.
   */
  durable?: boolean;
}

/**
 * Bytes written to a private staging area, not yet visible under any key. Exactly one of `commit` or `discard`
 * must follow; after either, both fail with `StagedBlobStateError`.
 */
export interface StagedBlob {
  /**
   * Opaque id of the staged bytes, stable until they are committed or discarded, across a restart too: a caller
   * that records it (for example in the same transaction as index rows) can find the bytes again with
   * `resumeStaged` after a crash.
   */
  readonly id: string;
  readonly size: number;
  /**
   * Makes the staged bytes durable (the store's flush policy applies); once only, later calls share the first.
   * `commit` does it too: calling it early lets the flush overlap the caller's other work.
   */
  flush(): Promise<void>;
  /** Flushes, then publishes the bytes under `key` atomically, replacing any object there. */
  commit(key: string, options?: CommitOptions): Promise<void>;
  /**
   * Publishes under `key` once `ready` resolves (a condition of the caller's, such as its index commit being
   * durable), without waiting for it: meanwhile `get` and `head` of `key` read these bytes, so what the caller
   * answers for is readable at once, and `delete` of `key` removes them and cancels the move. Flush first: this
   * does not. The returned promise settles when the bytes are under `key` (or the move was cancelled); if `ready`
   * rejects it rejects too and the bytes stay staged, for crash recovery to find.
   */
  publishWhen(key: string, ready: Promise<void>, options?: CommitOptions): Promise<void>;
  /** Reads the staged bytes back (before `commit` or `discard`), e.g. to compare them with a stored object. */
  read(): Promise<Readable>;
  /** Removes the staged bytes. */
  discard(): Promise<void>;
}

/**
 * A sink for one object whose key is learned only after its bytes: the ingest pipes the incoming stream through
 * its digest and header parser into `writable` with `pipeline` (so backpressure reaches the network), then calls
 * `finish()` to get the staged blob, names it and commits it.
 */
export interface StagingWriter {
  /** Fails (destroyed with `BlobTooLargeError`) as soon as more than `maxBytes` are written. */
  readonly writable: Writable;
  /** Bytes accepted so far. */
  readonly bytesWritten: number;
  /** Resolves once `writable` has finished (the bytes are written, `StagedBlob.flush` makes them durable); rejects with the writable's error. */
  finish(): Promise<StagedBlob>;
  /** Abandons the write (destroying `writable` if needed) and removes whatever was staged. */
  discard(): Promise<void>;
}

/**
 * Where instance bytes live. Keys are `/`-separated relative paths (see `validateBlobKey`). Every write is atomic:
 * an object is either absent or whole under its key, even across a crash; concurrent writes to one key leave one
 * of the objects whole. Implementations run `describeBlobStoreContract` in their tests.
 */
export interface BlobStore {
  /** Streams `source` into the store under `key`, replacing any object there. */
  put(key: string, source: BlobSource, opts?: BlobWriteOptions): Promise<BlobInfo>;
  /** Streams `source` into staging, for a key chosen later. */
  stage(source: BlobSource, opts?: BlobWriteOptions): Promise<StagedBlob>;
  /** Staged bytes left by an earlier process, by `StagedBlob.id`; undefined when they are gone. */
  resumeStaged(id: string): Promise<StagedBlob | undefined>;
  /**
   * Staged bytes that no running process is writing or will publish: left by processes that are gone (a crash, a
   * power cut), empty ones included. What recovery examines once the intents it knows of are done.
   */
  leftoverStaged(): AsyncIterable<StagedBlob>;
  /** A writable sink into staging, for callers that build their own `pipeline`. */
  createStagingWriter(opts?: BlobWriteOptions): StagingWriter;
  /** Opens the object (or a range of it); `BlobNotFoundError` when absent, `BlobRangeError` when unsatisfiable. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /**
   * The object (or a range of it) read whole into one buffer, for small objects read many at a time (a retrieve
   * reads a few instances ahead): cheaper than a stream per object. With `reusable`, the buffer may come from the
   * store's pool, to be given back with `recycle`. `BlobTooLargeError` when the bytes asked for
   * are more than `maxBytes` (nothing is read), and the errors of `get`.
   */
  getBytes(key: string, range: ByteRange | undefined, options: { maxBytes: number; reusable?: boolean }): Promise<Buffer>;
  /**
   * Gives back a buffer that `getBytes` returned with `reusable: true`, once nothing will read it again (its socket
   * write has completed): a store with a buffer pool reuses its memory, and the buffer must not be touched after
   * this (it may read as empty). Optional; stores without a pool, and other buffers, are ignored.
   */
  recycle?(bytes: Uint8Array): void;
  head(key: string): Promise<BlobInfo | undefined>;
  /**
   * Moves the object at `fromKey` to `toKey`, replacing any object there; `BlobNotFoundError` when `fromKey` is
   * absent. Atomic on stores that can (file systems); on object stores it may be a copy then a delete, so a crash
   * can leave both keys, never neither.
   */
  rename(fromKey: string, toKey: string): Promise<void>;
  /** True when an object was removed. */
  delete(key: string): Promise<boolean>;
  /** Makes the commits (and deletes) of these keys durable, when they were made with `durable: false`. */
  sync(keys: readonly string[]): Promise<void>;
  /** Every object whose key starts with `prefix`, produced lazily. */
  list(prefix?: string): AsyncIterable<BlobInfo>;
  close?(): Promise<void>;
}

/** Longest key accepted: well below PATH_MAX and S3's 1,024-byte limit once a root or bucket prefix is added. */
export const MAX_BLOB_KEY_LENGTH = 512;

// Portable across file systems and object stores; a segment never starts with '.', which keeps `.staging` and
// `.`/`..` out of the key space.
const SEGMENT = /^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$/;

/**
 * Checks that `key` is a safe relative path: `/`-separated segments of `[A-Za-z0-9_.-]`, none empty, none starting
 * with `.`, at most `MAX_BLOB_KEY_LENGTH` characters. Throws `InvalidBlobKeyError` otherwise.
 */
export function validateBlobKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidBlobKeyError(String(key), 'the key is empty');
  if (key.length > MAX_BLOB_KEY_LENGTH) {
    throw new InvalidBlobKeyError(key, `the key is longer than ${MAX_BLOB_KEY_LENGTH} characters`);
  }
  if (key.startsWith('/')) throw new InvalidBlobKeyError(key, 'the key is an absolute path');
  for (const segment of key.split('/')) {
    if (segment.length === 0) throw new InvalidBlobKeyError(key, 'the key has an empty path segment');
    if (segment === '.' || segment === '..') throw new InvalidBlobKeyError(key, `the key has a '${segment}' segment`);
    if (!SEGMENT.test(segment)) {
      throw new InvalidBlobKeyError(key, `segment '${segment}' has characters outside [A-Za-z0-9_.-] or starts with '.'`);
    }
  }
  return key;
}
