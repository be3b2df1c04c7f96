import { Worker } from 'node:worker_threads';
import type { CommitInstanceResult, CommitValue, PreparedCommit } from './archive-repository.js';
import type { SqliteDatabaseOptions } from './dialect.js';
import { DatabaseError, DuplicateInstanceError, IngestConflictError } from './errors.js';

/** An error as plain data, to cross between threads; rebuilt as its own class on the other side (`fromErrorData`). */
export interface ErrorData {
  name: string;
  message: string;
  code?: string;
  sopInstanceUid?: string;
  storedBlobKey?: string;
  stack?: string;
}

/** Work for the commit thread. */
export type CommitThreadWork =
  | { type: 'commit'; id: number; commit: PreparedCommit }
  | { type: 'clear'; id: number; blobKeys: readonly string[] };

/** What the event loop posts to the commit thread: the work asked for in one turn of the event loop, in call order. */
export type CommitThreadRequest = { type: 'work'; work: CommitThreadWork[] } | { type: 'close' };

/**
 * A commit or clearing done (committed for `deferFlush`, else durable), or failed; or the flush of `deferFlush`
 * commits done (failed with `error`), always after their `done`.
 */
export type CommitThreadAnswer =
  | { type: 'done'; id: number; value?: CommitValue }
  | { type: 'failed'; id: number; error: ErrorData }
  | { type: 'durable'; ids: number[]; error?: ErrorData };

/** What the commit thread posts back. */
export type CommitThreadReply =
  | { type: 'ready' }
  | { type: 'open-failed'; error: ErrorData }
  | { type: 'answers'; answers: CommitThreadAnswer[] }
  /** The connection is closed, or failed to close with `error`. */
  | { type: 'closed'; error?: ErrorData };

export function toErrorData(error: unknown): ErrorData {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const fields = error as Error & Partial<Record<'code' | 'sopInstanceUid' | 'storedBlobKey', unknown>>;
  return {
    name: error.name,
    message: error.message,
    ...(typeof fields.code === 'string' ? { code: fields.code } : {}),
    ...(typeof fields.sopInstanceUid === 'string' ? { sopInstanceUid: fields.sopInstanceUid } : {}),
    ...(typeof fields.storedBlobKey === 'string' ? { storedBlobKey: fields.storedBlobKey } : {}),
    ...(error.stack !== undefined ? { stack: error.stack } : {}),
  };
}

/**
 * The error the commit thread threw, as the class callers test for (the ingest pipeline tells a rejected duplicate
 * by its class and `storedBlobKey`), with its fields and the commit thread's stack. Others, such as SQLite's, come
 * back as an `Error` with their name and code.
 */
export function fromErrorData(data: ErrorData): Error {
  let error: Error;
  switch (data.name) {
    case 'DuplicateInstanceError':
      error = new DuplicateInstanceError(data.sopInstanceUid ?? '', data.storedBlobKey);
      break;
    case 'IngestConflictError':
      error = new IngestConflictError(data.message);
      break;
    case 'DatabaseError':
      error = new DatabaseError((data.code ?? 'ATRIUM_ERR_DB_COMMIT_THREAD') as DatabaseError['code'], data.message);
      break;
    default:
      error = new Error(data.message);
      error.name = data.name;
      if (data.code !== undefined) (error as Error & { code?: string }).code = data.code;
  }
  if (data.stack !== undefined) error.stack = data.stack;
  return error;
}

/** What a caller may see of the commit thread (logs, tests). */
export interface CommitThreadState {
  /** `threadId` of the worker thread. */
  readonly threadId: number;
  /** False once the thread has exited. */
  readonly running: boolean;
}

interface Pending {
  answered: boolean;
  resolve: (value: CommitValue | undefined) => void;
  reject: (error: unknown) => void;
  /** For a `deferFlush` commit: its `durable`, settled by a later message. */
  durable?: { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void };
}

/** What the commit thread is started with. */
export interface CommitThreadData {
  options: SqliteDatabaseOptions;
}

/**
 * Under tsx (tests, scripts), this module is the TypeScript source, and so is the worker. Node 20 does not pass
 * the tsx hooks of `--import tsx` to a worker, so a bootstrap registers them there before it loads the source (the
 * worker inherits `--conditions=source` with the rest of execArgv). Built, the worker is the .js beside this file.
 */
function startWorker(options: SqliteDatabaseOptions): Worker {
  const workerData: CommitThreadData = { options };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./commit-thread-worker.js', import.meta.url), { workerData });
  // Kysely's hundreds of modules are loaded before the hooks are registered, and then found loaded: through the
  // hooks they took 0.4 s of the thread's start, paid at every open of a file database in the tests.
  const preload = [import.meta.resolve('kysely'), import.meta.resolve('better-sqlite3')];
  // Valid as a script and as a module: the worker inherits `--input-type` too, when the process has one.
  const bootstrap = `
    Promise.all(${JSON.stringify(preload)}.map((url) => import(url)))
      .then(() => import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}))
      .then((tsx) => tsx.register())
      .then(() => import(${JSON.stringify(new URL('./commit-thread-worker.ts', import.meta.url).href)}));
  `;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** The `durable` of a commit the commit thread answered once flushed. */
const DURABLE: Promise<void> = Promise.resolve();

/**
 * Ingest's index commits on a thread of their own (database.md, "Commit thread"). The event loop extracts the index
 * record and serialises the metadata, then posts the prepared commit; the thread runs the same `ArchiveRepository`
 * commit on a second connection to the same file, with its own group commit and WAL flush, and posts the result
 * back. SQLite's statements, COMMIT, BEGIN IMMEDIATE waiting for the write lock, and automatic checkpoints then take
 * that thread's time, not the event loop's.
 *
 * Created by `openDatabase` and closed with the database: `close` waits for every commit posted, then ends the
 * thread. The thread does not keep the process alive while nothing is pending.
 */
export class CommitThread implements CommitThreadState {
  readonly #worker: Worker;
  readonly #path: string;
  readonly #pending = new Map<number, Pending>();
  /** Commits not answered plus `durable`s not settled: the thread is referenced while any is outstanding. */
  #outstanding = 0;
  #idle: (() => void) | undefined;
  #nextId = 1;
  /** Work asked for in this turn of the event loop, posted together at its end. */
  #outbox: CommitThreadWork[] = [];
  #running = true;
  #closing = false;
  #closed: { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } | undefined;
  /** Why the thread stopped before it was closed: every later request is rejected with it. */
  #failure: Error | undefined;

  private constructor(worker: Worker, path: string) {
    this.#worker = worker;
    this.#path = path;
    worker.on('message', (reply: CommitThreadReply) => this.#receive(reply));
    worker.on('error', (error) => this.#fail(error));
    worker.on('exit', (code) => {
      this.#running = false;
      this.#fail(new Error(`the thread exited with code ${code}`));
      this.#closed?.resolve();
    });
  }

  /** Starts the thread and waits until its connection is open; rejects with the reason it cannot open. */
  static async start(options: SqliteDatabaseOptions): Promise<CommitThread> {
    // The connection settings without what cannot be posted (the clock, the job options).
    const workerOptions: SqliteDatabaseOptions = {
      kind: 'sqlite',
      path: options.path,
      ...(options.synchronous !== undefined ? { synchronous: options.synchronous } : {}),
      ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
      ...(options.statementCacheSize !== undefined ? { statementCacheSize: options.statementCacheSize } : {}),
      ...(options.walAutocheckpointPages !== undefined ? { walAutocheckpointPages: options.walAutocheckpointPages } : {}),
      ...(options.cacheSizeKib !== undefined ? { cacheSizeKib: options.cacheSizeKib } : {}),
    };
    const worker = startWorker(workerOptions);
    await new Promise<void>((resolve, reject) => {
      const cannot = (reason: string, cause?: unknown) =>
        reject(
          new DatabaseError('ATRIUM_ERR_DB_COMMIT_THREAD', `Cannot start the commit thread of '${options.path}': ${reason}`, {
            cause,
          }),
        );
      const onMessage = (reply: CommitThreadReply) => {
        off();
        if (reply.type === 'ready') resolve();
        else if (reply.type === 'open-failed') reject(fromErrorData(reply.error));
        else cannot(`it answered '${reply.type}' before it was ready`);
      };
      const onError = (error: Error) => {
        off();
        cannot(error.message, error);
      };
      const onExit = (code: number) => {
        off();
        cannot(`it exited with code ${code}`);
      };
      const off = () => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    }).catch(async (error: unknown) => {
      await worker.terminate();
      throw error;
    });
    worker.unref();
    return new CommitThread(worker, options.path);
  }

  get threadId(): number {
    return this.#worker.threadId;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Runs a prepared commit on the thread (see `ArchiveRepository.commitPrepared`). */
  async commit(commit: PreparedCommit): Promise<CommitInstanceResult> {
    const pending = this.#post<CommitValue>(commit.deferFlush, (id) => ({ type: 'commit', id, commit }));
    const value = await pending.result;
    return { ...value, durable: pending.durable ?? DURABLE };
  }

  /** Clears blob intents on the thread (see `ArchiveRepository.clearBlobIntentsHere`); resolves once durable. */
  async clearBlobIntents(blobKeys: readonly string[]): Promise<void> {
    await this.#post<undefined>(false, (id) => ({ type: 'clear', id, blobKeys })).result;
  }

  /**
   * Waits for every commit posted so far, its flush included, then lets the thread close its connection (after its
   * own last flush) and ends it. Later commits are rejected.
   */
  async close(): Promise<void> {
    if (this.#closing) return this.#closed?.promise;
    this.#closing = true;
    if (this.#outstanding > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    if (!this.#running) return;
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#closed = { promise, resolve, reject };
    this.#worker.ref();
    this.#worker.postMessage({ type: 'close' } satisfies CommitThreadRequest);
    await this.#closed.promise;
  }

  #post<T>(
    deferFlush: boolean,
    request: (id: number) => CommitThreadWork,
  ): { result: Promise<T>; durable: Promise<void> | undefined } {
    const refused = this.#failure ?? (this.#closing ? this.#error('the database is closed') : undefined);
    if (refused) return { result: Promise.reject(refused), durable: undefined };
    const id = this.#nextId++;
    let resolve!: Pending['resolve'];
    let reject!: Pending['reject'];
    const result = new Promise<T>((res, rej) => {
      resolve = res as Pending['resolve'];
      reject = rej;
    });
    const entry: Pending = { answered: false, resolve, reject };
    this.#hold();
    if (deferFlush) {
      let durableResolve!: () => void;
      let durableReject!: (error: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        durableResolve = res;
        durableReject = rej;
      });
      // Observed here as the group commit observes its flush: a caller that never looks at it must not crash us.
      promise.catch(() => undefined);
      entry.durable = { promise, resolve: durableResolve, reject: durableReject };
      this.#hold();
    }
    this.#pending.set(id, entry);
    // Posted at the next turn, as the group commit starts a batch: what arrives meanwhile reaches the thread in one
    // message and shares its transaction there, instead of waking it once per commit.
    if (this.#outbox.push(request(id)) === 1) setImmediate(() => this.#flushOutbox());
    return { result, durable: entry.durable?.promise };
  }

  #flushOutbox(): void {
    const work = this.#outbox;
    this.#outbox = [];
    // The thread failed meanwhile: `#fail` has rejected this work already.
    if (this.#failure) return;
    this.#worker.postMessage({ type: 'work', work } satisfies CommitThreadRequest);
  }

  #answer(answer: CommitThreadAnswer): void {
    if (answer.type === 'durable') {
      const error = answer.error ? fromErrorData(answer.error) : undefined;
      for (const id of answer.ids) {
        const entry = this.#pending.get(id);
        if (entry?.durable) this.#settleDurable(entry, error);
        this.#pending.delete(id);
      }
      return;
    }
    const entry = this.#pending.get(answer.id);
    if (!entry || entry.answered) return;
    entry.answered = true;
    if (answer.type === 'done') {
      entry.resolve(answer.value);
    } else {
      entry.reject(fromErrorData(answer.error));
      // A commit that failed has nothing to flush.
      if (entry.durable) this.#settleDurable(entry, undefined);
    }
    if (!entry.durable) this.#pending.delete(answer.id);
    this.#release();
  }

  #receive(reply: CommitThreadReply): void {
    switch (reply.type) {
      case 'answers':
        for (const answer of reply.answers) this.#answer(answer);
        return;
      case 'closed': {
        const error = reply.error;
        void this.#worker.terminate().then(() => {
          if (error) this.#closed?.reject(this.#error(`its connection did not close: ${error.message}`, fromErrorData(error)));
          else this.#closed?.resolve();
        });
        return;
      }
      default:
        return;
    }
  }

  #settleDurable(entry: Pending, error: Error | undefined): void {
    const durable = entry.durable;
    if (!durable) return;
    entry.durable = undefined;
    if (error) durable.reject(error);
    else durable.resolve();
    this.#release();
  }

  /** The thread failed or exited: whatever it had not answered is rejected, and so is every later request. */
  #fail(cause: Error): void {
    if (this.#failure) return;
    const expected = this.#closed !== undefined;
    this.#failure = expected ? this.#error('the database is closed') : this.#error(`it failed: ${cause.message}`, cause);
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const entry of pending) {
      const failure = this.#failure;
      if (!entry.answered) {
        entry.answered = true;
        entry.reject(failure);
        this.#release();
      }
      this.#settleDurable(entry, failure);
    }
  }

  #error(reason: string, cause?: unknown): DatabaseError {
    return new DatabaseError('ATRIUM_ERR_DB_COMMIT_THREAD', `Cannot commit to '${this.#path}' on its commit thread: ${reason}`, {
      cause,
    });
  }

  #hold(): void {
    if (this.#outstanding++ === 0) this.#worker.ref();
  }

  #release(): void {
    if (--this.#outstanding > 0) return;
    if (!this.#closed) this.#worker.unref();
    const idle = this.#idle;
    this.#idle = undefined;
    idle?.();
  }
}
