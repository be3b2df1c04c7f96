import type { Kysely, Transaction } from 'kysely';
import { Migrator } from 'kysely';
import { ArchiveRepository } from './archive-repository.js';
import type { Awaitable, DatabaseKind, DialectSupport, DirectConnection, SqliteDatabaseOptions } from './dialect.js';
import { createSqliteKysely } from './dialect.js';
import { GroupCommit, type Committed } from './group-commit.js';

export type { Committed } from './group-commit.js';
import { WalSync } from './wal-sync.js';
import { DatabaseError } from './errors.js';
import { JobQueue, type JobQueueOptions } from './job-queue.js';
import { MIGRATIONS } from './migrations/index.js';
import type { AtriumSchema } from './schema.js';

/**
 * How long the flush of commits answered before it (`batchedCommitted`) may wait to be shared with later ones. Their
 * answers do not wait for it; what waits is the move of ingested bytes to their keys (served from staging meanwhile)
 * and the clearing of intents. On the test machine's virtual disk a WAL flush costs 150-250 us of kernel time and a
 * device flush, and while it runs it holds the WAL's inode lock against the next commit's writes: one per commit
 * at 1 association cost more than the rest of the commit. Every device flush also delays the one an answer waits
 * for (the staged bytes'): 100 ms rather than 20 gave 1.3-1.6x the rate at 4 associations in alternated runs.
 */
const DEFERRED_FLUSH_DELAY_MS = 100;

/** Name of the table recording applied migrations. */
export const MIGRATION_TABLE = 'atrium_migration';

/** How to open the index database. Only SQLite so far; PostgreSQL adds a `{ kind: 'postgres', ... }` member. */
export type DatabaseOptions = SqliteDatabaseOptions & {
  /** The clock for timestamps, leases and backoff; tests pass a fake one. */
  now?: () => Date;
  jobs?: JobQueueOptions;
};

/** What repositories need from an open database: the query builder, the dialect's pieces and a clock. */
export interface DatabaseContext {
  readonly kind: DatabaseKind;
  readonly kysely: Kysely<AtriumSchema>;
  readonly dialect: DialectSupport;
  /**
   * Runs `fn` in a write transaction (SQLite: BEGIN IMMEDIATE), committed when it resolves; durable when the
   * returned promise resolves. With `groupCommit`, the commit does not flush on its own: the flush happens off the
   * event loop and is shared with the commits that wait meanwhile (see `WalSync`). For writes many clients make at
   * once through the query builder (FHIR); ingest shares whole transactions as well (`batched`).
   */
  transaction<T>(fn: (trx: Transaction<AtriumSchema>) => Promise<T>, options?: { groupCommit?: boolean }): Promise<T>;
  /**
   * Runs `work` in a write transaction shared with the other `batched` calls pending meanwhile (see `GroupCommit`):
   * each in its own savepoint, so one that throws rolls back only its own writes and rejects only its own promise.
   * Resolves once its commit is durable; the flush is shared, as with `groupCommit`. `work` must use only
   * `connection`: the connection is held for the batch, and a query through `kysely` would wait for it forever.
   */
  batched<T>(work: (connection: DirectConnection) => Promise<T>): Promise<T>;
  /**
   * `batched`, answered once the batch is committed rather than once it is durable: `durable` settles when the
   * shared flush is done (at once where commits need no flush).
   */
  batchedCommitted<T>(work: (connection: DirectConnection) => Promise<T>): Promise<Committed<T>>;
  /** Runs `work` on the connection outside any transaction, at once when nobody holds it, else in turn. */
  read<T>(work: (connection: DirectConnection) => Awaitable<T>): Promise<T>;
  now(): Date;
}

/** An open, migrated index database with its repositories. */
export interface AtriumDatabase extends DatabaseContext {
  /** The ingest's only way to write the index, and the archive's reads. */
  readonly archive: ArchiveRepository;
  readonly jobs: JobQueue;
  /** Names of the migrations applied by this open (empty when the schema was current). */
  readonly appliedMigrations: readonly string[];
  close(): Promise<void>;
}

/** Applies pending migrations in name order; each runs in its own transaction. */
export async function migrateToLatest(kysely: Kysely<AtriumSchema>, dialect: DialectSupport): Promise<string[]> {
  const migrator = new Migrator({
    db: kysely,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: `${MIGRATION_TABLE}_lock`,
    provider: {
      getMigrations: async () =>
        Object.fromEntries(MIGRATIONS.map((m) => [m.name, { up: (db: Kysely<any>) => m.up(db, dialect) }])),
    },
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new DatabaseError(
      'ATRIUM_ERR_DB_MIGRATION',
      `Cannot migrate database: migration '${failed}' failed: ${(error as Error).message ?? String(error)}`,
      { cause: error },
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Opens the index database and brings its schema to the latest migration. SQLite: WAL, `busy_timeout`,
 * `foreign_keys=ON`, `synchronous` FULL unless told otherwise (answers are sent after a durable commit).
 */
export async function openDatabase(options: DatabaseOptions): Promise<AtriumDatabase> {
  if (options.kind !== 'sqlite') {
    throw new DatabaseError('ATRIUM_ERR_DB_OPEN', `Cannot open database: kind '${String(options.kind)}' is not supported`);
  }
  const { kysely, dialect, gate, durability } = createSqliteKysely(options);
  let appliedMigrations: string[];
  try {
    appliedMigrations = await migrateToLatest(kysely, dialect);
  } catch (error) {
    await kysely.destroy();
    throw error;
  }
  const now = options.now ?? (() => new Date());
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
    batched: (work) => groupCommit.run(work),
    batchedCommitted: (work) => groupCommit.runCommitted(work),
    async read(work) {
      const connection = gate.tryAcquire() ?? (await gate.acquire());
      try {
        return await work(connection);
      } finally {
        gate.release();
      }
    },
  };
  let closed = false;
  return {
    ...context,
    archive: new ArchiveRepository(context),
    jobs: new JobQueue(context, options.jobs),
    appliedMigrations,
    async close() {
      if (closed) return;
      closed = true;
      await groupCommit.drained();
      await walSync?.close();
      await kysely.destroy();
    },
  };
}
