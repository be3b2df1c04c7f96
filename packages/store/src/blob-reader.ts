import { RequestThread } from './request-thread.js';

/** One read: `path` from `start` to `end` (inclusive, clamped to the file's end; the end of the file when absent). */
export interface BlobReadRequest {
  path: string;
  start: number;
  end?: number;
  maxBytes: number;
  /** The whole file was asked for (an empty one is then no unsatisfiable range). */
  whole: boolean;
  /** Read into a buffer of the thread's pool, for the caller to give back with `recycle` (see there). */
  reusable?: boolean;
}

/** What the thread answers for one read: the bytes, or why not (`kind` says which of the store's errors). */
type BlobReadReply =
  | { bytes: ArrayBuffer; length?: number; size: number; identity: string }
  | { error: { kind: 'missing' | 'range' | 'too-large' | 'io'; message: string; code?: string; size?: number; length?: number } };

/**
 * The thread's program, plain JavaScript on Node's built-in modules (evaluated, so that it runs the same from the
 * TypeScript sources under tsx and from the build, as `StagingFileMaker`'s does). For each read of a batch it opens
 * the file, checks it is one, reads the span into a buffer of its own and closes it; the buffers go back in one
 * message, transferred, not copied.
 */
const WORKER_SOURCE = `
const { closeSync, fstatSync, openSync, readSync } = require('node:fs');
const { parentPort } = require('node:worker_threads');
// Buffers given back (recycle), by capacity (powers of two from 64 KiB), at most POOL_BYTES in all.
const POOL_BYTES = 32 * 1024 * 1024;
const pool = new Map();
let pooled = 0;
function capacityOf(length) {
  let c = 65536;
  while (c < length) c *= 2;
  return c;
}
function take(length) {
  const capacity = capacityOf(length);
  const free = pool.get(capacity);
  if (free && free.length > 0) {
    pooled -= capacity;
    return free.pop();
  }
  return new ArrayBuffer(capacity);
}
function give(buffer) {
  const capacity = buffer.byteLength;
  if (capacity !== capacityOf(capacity) || pooled + capacity > POOL_BYTES) return;
  let free = pool.get(capacity);
  if (!free) pool.set(capacity, (free = []));
  free.push(buffer);
  pooled += capacity;
}
function readOne({ path, start, end, maxBytes, whole, reusable }) {
  let fd;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    const missing = error.code === 'ENOENT' || error.code === 'ENOTDIR' || error.code === 'EISDIR';
    return { error: { kind: missing ? 'missing' : 'io', message: error.message, code: error.code } };
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) return { error: { kind: 'missing', message: 'not a file' } };
    const size = info.size;
    // Which file was read: a caller reading an object in several requests checks that it stayed the same one.
    const identity = info.dev + ':' + info.ino + ':' + size + ':' + info.mtimeMs;
    if (whole && size === 0) return { bytes: new ArrayBuffer(0), size, identity };
    const last = Math.min(end === undefined ? size - 1 : end, size - 1);
    if (!Number.isSafeInteger(start) || start < 0 || start >= size || last < start) return { error: { kind: 'range', message: 'range', size } };
    const length = last - start + 1;
    if (length > maxBytes) return { error: { kind: 'too-large', message: 'too large', length } };
    const bytes = reusable && length > 0 ? take(length) : new ArrayBuffer(length);
    const view = new Uint8Array(bytes, 0, length);
    let filled = 0;
    while (filled < length) {
      const n = readSync(fd, view, filled, length - filled, start + filled);
      if (n === 0) {
        if (reusable) give(bytes);
        return { error: { kind: 'io', message: 'it ended after ' + filled + ' of ' + length + ' bytes' } };
      }
      filled += n;
    }
    return { bytes, length, size, identity };
  } catch (error) {
    return { error: { kind: 'io', message: error.message, code: error.code } };
  } finally {
    closeSync(fd);
  }
}
parentPort.on('message', ({ id, reads, recycled }) => {
  if (recycled) for (const buffer of recycled) give(buffer);
  if (!reads) return;
  const replies = reads.map(readOne);
  parentPort.postMessage({ id, replies }, replies.filter((r) => r.bytes).map((r) => r.bytes));
});
`;

/** Buffers given back that are held for the next batch of reads at most, and for how long with no read. */
const RECYCLE_HOLD_BUFFERS = 64;
const RECYCLE_IDLE_MS = 200;

interface Waiter {
  request: BlobReadRequest;
  resolve: (read: BlobRead) => void;
  reject: (error: Error) => void;
  reusable: boolean;
}

/** What a read gives. */
export interface BlobRead {
  bytes: Buffer;
  /** The file's size when it was read. */
  size: number;
  identity: string;
}

/** How a read failed, for the store to turn into its own coded error. */
export class BlobReadFailure extends Error {
  constructor(
    readonly kind: 'missing' | 'range' | 'too-large' | 'io',
    message: string,
    readonly details: { code?: string; size?: number; length?: number },
  ) {
    super(message);
  }
}

/**
 * Reads small files whole on a thread of its own, the reads asked for in one turn of the event loop sent as one
 * batch. Through Node's thread pool a whole-file read is four trips (open, stat, read, close), each waking a pool
 * thread and then the event loop; a retrieve of a hundred small instances spent most of its time in those wake-ups
 * (strace: 20 futex calls per file). Here a batch costs one message each way, and the thread reads with plain
 * system calls beside the event loop. The thread starts at the first read and never keeps the process alive
 * while idle; `close` stops it.
 */
export class BlobReader {
  readonly #thread = new RequestThread<Waiter[], { id: number; replies: BlobReadReply[] }>(WORKER_SOURCE, 'blob reader', {
    answer: (waiters, { replies }) => {
      replies.forEach((reply, i) => {
        const waiter = waiters[i]!;
        if ('bytes' in reply) {
          const bytes = Buffer.from(reply.bytes, 0, reply.length ?? reply.bytes.byteLength);
          if (reply.length !== undefined && reply.bytes.byteLength > 0 && waiter.reusable) this.#lent.add(reply.bytes);
          waiter.resolve({ bytes, size: reply.size, identity: reply.identity });
        } else {
          const { kind, message, ...details } = reply.error;
          waiter.reject(new BlobReadFailure(kind, message, details));
        }
      });
    },
    fail: (waiters, error) => {
      for (const waiter of waiters) waiter.reject(error);
    },
  });
  #batch: Waiter[] = [];
  /** Pool buffers lent out by `read({ reusable: true })`, not yet given back. */
  readonly #lent = new WeakSet<ArrayBuffer>();
  #recycled: ArrayBuffer[] = [];
  #recycleTimer: NodeJS.Timeout | undefined;

  /**
   * The bytes asked for, with the file's size and an identity (device, inode, size, modification time) that tells
   * whether two reads read the same file; rejects with a `BlobReadFailure` saying why not.
   */
  read(request: BlobReadRequest): Promise<BlobRead> {
    return new Promise<BlobRead>((resolve, reject) => {
      if (this.#batch.length === 0) {
        // An idle thread gets the read at once. A busy one gets the reads of this whole turn of the event loop in
        // one batch: a read-ahead asks for its reads one promise at a time, and a message each cost more than the
        // reads.
        if (this.#thread.idle) queueMicrotask(() => this.#send());
        else setImmediate(() => this.#send());
      }
      this.#batch.push({ request, resolve, reject, reusable: request.reusable === true });
    });
  }

  /**
   * Gives a buffer read with `reusable: true` back to the thread's pool, so that the next reads reuse its memory
   * instead of making new buffers for the garbage collector (a retrieve makes megabytes of them, and V8 starts a
   * full collection for every few tens of megabytes of new buffers). Only once nothing will read the buffer again
   * (a socket write has completed): it is detached here, and reads as empty afterwards. Other buffers are ignored.
   * The memory goes to the thread with the next batch of reads, which is when the thread needs it: a message of
   * its own costs 50-350 µs on a busy 2-core machine, and a C-MOVE giving back one buffer per sub-operation spent
   * more on those messages than on its reads. Held buffers go alone once `RECYCLE_HOLD_BUFFERS` are waiting, or
   * after `RECYCLE_IDLE_MS` with no read.
   */
  recycle(bytes: Uint8Array): void {
    const buffer = bytes.buffer as ArrayBuffer;
    if (!this.#lent.has(buffer) || !this.#thread.running) return;
    this.#lent.delete(buffer);
    // The same memory under a new ArrayBuffer (nothing is copied); the caller's view of it is now empty.
    this.#recycled.push(structuredClone(buffer, { transfer: [buffer] }));
    if (this.#recycled.length >= RECYCLE_HOLD_BUFFERS) {
      this.#postRecycled();
      return;
    }
    if (this.#recycleTimer) return;
    this.#recycleTimer = setTimeout(() => this.#postRecycled(), RECYCLE_IDLE_MS);
    this.#recycleTimer.unref();
  }

  #postRecycled(): void {
    const recycled = this.#takeRecycled();
    if (recycled) this.#thread.post({ recycled }, recycled);
  }

  #takeRecycled(): ArrayBuffer[] | undefined {
    clearTimeout(this.#recycleTimer);
    this.#recycleTimer = undefined;
    if (this.#recycled.length === 0) return undefined;
    const recycled = this.#recycled;
    this.#recycled = [];
    return recycled;
  }

  async close(): Promise<void> {
    this.#takeRecycled();
    await this.#thread.close('The blob reader was closed');
  }

  #send(): void {
    const batch = this.#batch;
    this.#batch = [];
    if (batch.length === 0) return;
    const reads = batch.map((b) => b.request);
    // The buffers given back meanwhile go with the reads (see `recycle`).
    const recycled = this.#takeRecycled();
    try {
      this.#thread.request(batch, (id) => ({ id, reads, ...(recycled ? { recycled } : {}) }), recycled);
    } catch (error) {
      for (const waiter of batch) waiter.reject(error as Error);
    }
  }
}
