import type { DatabaseContext } from './database.js';
import type { SqliteDatabaseOptions, createSqliteKysely } from './dialect.js';
import { GroupCommit } from './group-commit.js';
import { WalSync } from './wal-sync.js';

/**
 * How long the flush of commits answered before it (`batchedCommitted`) may wait to be shared with later ones. Their
 * answers do not wait for it; what waits is the move of ingested bytes to their keys (served from staging meanwhile)
 * and the clearing of intents. On the test machine's virtual disk a WAL flush costs 150-250 us of kernel time and a
 * device flush, and while it runs it holds the WAL's inode lock against the next commit's writes: one per commit
 * at 1 association cost more than the rest of the commit. Every device flush also delays the one an answer waits
 * for (the staged bytes'): 100 ms rather than 20 gave 1.3-1.6x the rate at 4 associations in alternated runs.
 */
const DEFERRED_FLUSH_DELAY_MS = 100;

/** A connection's `DatabaseContext` and how to close it. */
export interface SqliteContext {
  readonly context: DatabaseContext;
  /** Settles the batches submitted so far (their flush included), then closes the connection. */
  close(): Promise<void>;
}

/**
 * The group commit, shared WAL flush and transactions of one SQLite connection: the main connection's, and the
 * commit thread's own (see `CommitThread`), so that both commit the same way.
 */
export function sqliteContext(
  opened: ReturnType<typeof createSqliteKysely>,
  options: SqliteDatabaseOptions,
  now: () => Date,
): SqliteContext {
  const { kysely, dialect, gate, durability } = opened;
  const synchronous = options.synchronous ?? 'FULL';
  // Group commit only where a flush would otherwise happen at each commit, and only for a file database.
  const walSync = options.path !== ':memory:' && (synchronous === 'FULL' || synchronous === 'EXTRA') ? new WalSync(options.path) : undefined;
  const groupCommit = new GroupCommit({
    gate,
    sql: dialect.transactionSql,
    ...(walSync
      ? { relax: () => durability.relax(), flush: () => walSync.sync(), flushSoon: () => walSync.syncSoon(DEFERRED_FLUSH_DELAY_MS) }
      : {}),
  });
  const context: DatabaseContext = {
    kind: 'sqlite',
    kysely,
    dialect,
    now,
    async transaction(fn, transactionOptions) {
      if (!walSync || !transactionOptions?.groupCommit) return kysely.transaction().execute(fn);
      // The connection is held from here on: the transaction begun next is this one.
      const result = await kysely.connection().execute((connection) => {
        durability.relaxNextTransaction();
        return connection.transaction().execute(fn);
      });
      await walSync.sync();
      return result;
    },
    batched: (work, batchOptions) => groupCommit.run(work, batchOptions),
    batchedCommitted: (work, batchOptions) => groupCommit.runCommitted(work, batchOptions),
    async read(work) {
      const connection = gate.tryAcquire() ?? (await gate.acquire());
      try {
        return await work(connection);
      } finally {
        gate.release();
      }
    },
  };
  return {
    context,
    async close() {
      await groupCommit.drained();
      await walSync?.close();
      await kysely.destroy();
    },
  };
}
