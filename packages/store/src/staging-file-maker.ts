import { RequestThread } from './request-thread.js';

/** Asks the worker for these files in `directory` (and, with `fsync`, a flush of the directory once they exist). */
export interface StagingFileRequest {
  id: number;
  directory: string;
  paths: string[];
  fsync: boolean;
}

/** The files exist (and their directory entries are flushed), or none of them does and `error` says why. */
export interface StagingFileReply {
  id: number;
  error?: { message: string; code?: string };
}

/**
 * The thread's program, plain JavaScript on Node's built-in modules (evaluated, so that it runs the same from the
 * TypeScript sources under tsx, whose loader a worker thread does not get, and from the build). For each request it
 * creates the files ('wx': a random name must be new; never take over somebody else's staging file), flushes each
 * (with `fsync`) and closes it, flushes their directory once, and answers; on failure it removes what it created
 * and answers with the error.
 *
 * Each new file is flushed here, empty, because the first flush of a new file costs more than the later ones: on
 * ext4 without a journal it also writes out the directory that holds it (`ext4_sync_parent`), under that
 * directory's lock, which this thread is taking over and over to create more files. Made here, that cost is off
 * the ingest's path: with it, the flush an ingest answer waits for took 0.8-1.3 ms instead of 1.6-1.9 ms
 * (storescu of 10 KB CT slices on this VM, three runs each, alternated), and one association stored 348-500
 * instances a second instead of 316-386. The directory is still flushed once, for file systems where a file's
 * flush does not write its directory entry.
 */
const WORKER_SOURCE = `
const { closeSync, fsyncSync, openSync, unlinkSync } = require('node:fs');
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ id, directory, paths, fsync }) => {
  const created = [];
  try {
    for (const path of paths) {
      const fd = openSync(path, 'wx', 0o644);
      created.push(path);
      try { if (fsync) fsyncSync(fd); } finally { closeSync(fd); }
    }
    if (fsync) {
      const fd = openSync(directory, 'r');
      try { fsyncSync(fd); } finally { closeSync(fd); }
    }
    parentPort.postMessage({ id });
  } catch (error) {
    for (const path of created) { try { unlinkSync(path); } catch {} }
    parentPort.postMessage({ id, error: { message: error.message, code: error.code } });
  }
});
`;

/**
 * Creates empty staging files ahead on a thread of its own. Creating a file costs a few hundred microseconds of
 * kernel time on a file system whose recently freed inodes the allocator must step over (ext4 without a journal
 * after many deletions): here that time is spent beside the event loop, with one exchange of messages per batch
 * instead of a thread-pool trip per file. The files are closed by the thread and reopened by the caller: a
 * descriptor opened by one thread and closed by another confuses Node's per-thread bookkeeping of descriptors,
 * and reopening an existing empty file costs microseconds. The thread starts at the first request and does not
 * keep the process alive while idle; `close` stops it.
 */
export class StagingFileMaker {
  readonly #thread = new RequestThread<{ resolve: () => void; reject: (error: Error) => void }, StagingFileReply>(WORKER_SOURCE, 'staging file', {
    answer: (waiter, reply) => {
      if (reply.error) waiter.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
      else waiter.resolve();
    },
    fail: (waiter, error) => waiter.reject(error),
  });

  /** Resolves once every path exists as an empty file (and, with `fsync`, `directory` is flushed). */
  create(directory: string, paths: string[], fsync: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#thread.request({ resolve, reject }, (id) => ({ id, directory, paths, fsync }) satisfies StagingFileRequest);
    });
  }

  async close(): Promise<void> {
    await this.#thread.close('The staging file maker was closed');
  }
}
