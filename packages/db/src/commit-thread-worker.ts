// The commit thread's side of `CommitThread` (commit-thread.ts): a second connection to the database file, with the
// same pragmas, group commit and WAL flush as the main one, running `ArchiveRepository`'s own commit code.
import { parentPort, workerData } from 'node:worker_threads';
import { ArchiveRepository } from './archive-repository.js';
import type { CommitThreadAnswer, CommitThreadData, CommitThreadReply, CommitThreadRequest } from './commit-thread.js';
import { toErrorData } from './commit-thread.js';
import { createSqliteKysely } from './dialect.js';
import { sqliteContext, type SqliteContext } from './sqlite-context.js';

const port = parentPort!;
const post = (reply: CommitThreadReply): void => port.postMessage(reply);

let answers: CommitThreadAnswer[] = [];

/**
 * Answers go back together once the batch that settled them is done (its members settle in one turn), so that the
 * event loop is woken once per batch rather than once per commit.
 */
function answer(reply: CommitThreadAnswer): void {
  if (answers.push(reply) > 1) return;
  setImmediate(() => {
    const ready = answers;
    answers = [];
    post({ type: 'answers', answers: ready });
  });
}

function open(): { connection: SqliteContext; archive: ArchiveRepository } | undefined {
  try {
    const { options } = workerData as CommitThreadData;
    // Every commit posted here carries its time: this clock is never asked.
    const connection = sqliteContext(createSqliteKysely(options), options, () => new Date());
    return { connection, archive: new ArchiveRepository(connection.context) };
  } catch (error) {
    // The main thread ends this thread once it has the reason.
    post({ type: 'open-failed', error: toErrorData(error) });
    return undefined;
  }
}

/**
 * `deferFlush` commits waiting for their flush, by the flush: one batch shares one, and its members are told in one
 * message.
 */
const awaitingFlush = new Map<Promise<void>, number[]>();

function whenDurable(id: number, durable: Promise<void>): void {
  const ids = awaitingFlush.get(durable);
  if (ids) {
    ids.push(id);
    return;
  }
  const batch = [id];
  awaitingFlush.set(durable, batch);
  durable.then(
    () => {
      awaitingFlush.delete(durable);
      answer({ type: 'durable', ids: batch });
    },
    (error: unknown) => {
      awaitingFlush.delete(durable);
      answer({ type: 'durable', ids: batch, error: toErrorData(error) });
    },
  );
}

function serve(connection: SqliteContext, archive: ArchiveRepository): void {
  let closing = false;

  port.on('message', (request: CommitThreadRequest) => {
    switch (request.type) {
      case 'work':
        // In order: each call joins the group commit's pending members before the next.
        for (const work of request.work) {
          if (work.type === 'commit') {
            const { id, commit } = work;
            archive.commitPrepared(commit).then(
              ({ durable, ...value }) => {
                answer({ type: 'done', id, value });
                if (commit.deferFlush) whenDurable(id, durable);
              },
              (error: unknown) => answer({ type: 'failed', id, error: toErrorData(error) }),
            );
          } else {
            const { id, blobKeys } = work;
            archive.clearBlobIntentsHere(blobKeys).then(
              () => answer({ type: 'done', id }),
              (error: unknown) => answer({ type: 'failed', id, error: toErrorData(error) }),
            );
          }
        }
        return;
      case 'close':
        if (closing) return;
        closing = true;
        // The main thread asks only once every answer and flush it waited for has arrived; this settles the rest.
        connection.close().then(
          () => post({ type: 'closed' }),
          (error: unknown) => post({ type: 'closed', error: toErrorData(error) }),
        );
        return;
    }
  });

  post({ type: 'ready' });
}

const opened = open();
if (opened) serve(opened.connection, opened.archive);
