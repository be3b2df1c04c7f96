import type { Kysely, Transaction } from 'kysely';
import { Migrator } from 'kysely';
import { ArchiveRepository } from './archive-repository.js';
import type { Awaitable, DatabaseKind, DialectSupport, DirectConnection, SqliteDatabaseOptions } from './dialect.js';
import { createSqliteKysely } from './dialect.js';
import type { BatchOptions, BatchWork, Committed } from './group-commit.js';
import { CommitThread, type CommitThreadState } from './commit-thread.js';
import { sqliteContext } from './sqlite-context.js';

export type { BatchOptions, BatchScope, BatchWork, Committed, OwedWrites } from './group-commit.js';
import { DatabaseError } from './errors.js';
import { JobQueue, type JobQueueOptions } from './job-queue.js';
import { MIGRATIONS } from './migrations/index.js';
import type { AtriumSchema } from './schema.js';

/** Name of the table recording applied migrations. */
export const MIGRATION_TABLE = 'atrium_migration';

/** How to open the index database. Only SQLite so far; PostgreSQL adds a `{ kind: 'postgres', ... }` member. */
export type DatabaseOptions = SqliteDatabaseOptions & {
  /** The clock for timestamps, leases and backoff; tests pass a fake one. */
  now?: () => Date;
  jobs?: JobQueueOptions;
  /**
   * Ingest's index commits and blob intent clearings run on a thread of their own with its own connection (see
   * `CommitThread`), off the event loop. Default false: on the 2-core test machine the hand-offs cost more than
   * they free (docs/database.md, commit thread). Never for `:memory:`, which a second connection cannot share.
   */
  commitThread?: boolean;
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
  batched<T>(work: BatchWork<T>, options?: BatchOptions): Promise<T>;
  /**
   * `batched`, answered once the batch is committed rather than once it is durable: `durable` settles when the
   * shared flush is done (at once where commits need no flush).
   */
  batchedCommitted<T>(work: BatchWork<T>, options?: BatchOptions): Promise<Committed<T>>;
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
  /** The commit thread, for logs and tests; undefined when commits run on the event loop. */
  readonly commitThread: CommitThreadState | undefined;
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
  const opened = createSqliteKysely(options);
  const { kysely, dialect } = opened;
  let appliedMigrations: string[];
  let commitThread: CommitThread | undefined;
  try {
    appliedMigrations = await migrateToLatest(kysely, dialect);
    // Started after the migrations: its connection prepares statements against the current schema.
    if (options.path !== ':memory:' && options.commitThread === true) commitThread = await CommitThread.start(options);
  } catch (error) {
    await kysely.destroy();
    throw error;
  }
  const main = sqliteContext(opened, options, options.now ?? (() => new Date()));
  const context = main.context;
  let closed = false;
  return {
    ...context,
    archive: new ArchiveRepository(context, commitThread),
    jobs: new JobQueue(context, options.jobs),
    appliedMigrations,
    commitThread,
    async close() {
      if (closed) return;
      closed = true;
      await commitThread?.close();
      await main.close();
    },
  };
}
