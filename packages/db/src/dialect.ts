import Sqlite from 'better-sqlite3';
import type {
  ColumnDefinitionBuilder,
  CompiledQuery as CompiledQueryType,
  CreateTableBuilder,
  DatabaseConnection,
  DialectAdapter,
  Driver,
  QueryResult,
  SelectQueryBuilder,
  SqliteDatabase,
  SqliteStatement,
} from 'kysely';
import { CompiledQuery, Kysely, SqliteAdapter, SqliteDialect, sql } from 'kysely';
import { DatabaseError } from './errors.js';
import type { AtriumSchema } from './schema.js';

/**
 * Everything that differs between database engines lives in this module: connection set-up, transaction start,
 * row locking, and the few column types migrations need. Queries elsewhere use the Kysely builder only, so adding
 * PostgreSQL means a second `DialectSupport` and a `createPostgresKysely`, not rewriting queries.
 */
export type DatabaseKind = 'sqlite';

/** `PRAGMA synchronous` (https://sqlite.org/pragma.html#pragma_synchronous). */
export type SqliteSynchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';

export interface SqliteDatabaseOptions {
  kind: 'sqlite';
  /** A file path, or `:memory:` for tests. */
  path: string;
  /**
   * Default FULL: WAL commits are fsync'd, so an answer sent after a commit survives a power loss. NORMAL keeps
   * the database consistent after a crash but may lose the last commits on power loss.
   */
  synchronous?: SqliteSynchronous;
  /** How long a writer waits for another process's lock before failing; default 10 s. */
  busyTimeoutMs?: number;
  /** Prepared statements kept per connection, by SQL text; default 256. */
  statementCacheSize?: number;
  /**
   * WAL pages between automatic checkpoints (`PRAGMA wal_autocheckpoint`); default 10,000 (about 40 MB). Each
   * checkpoint fsyncs, so fewer and larger checkpoints keep ingest fast; the WAL file grows to about this size.
   */
  walAutocheckpointPages?: number;
  /** Page cache in KiB (`PRAGMA cache_size = -N`); default 65,536 (64 MiB). */
  cacheSizeKib?: number;
}

type AnySelect<DB, TB extends keyof DB, O> = SelectQueryBuilder<DB, TB, O>;

/** A value now (SQLite, which executes synchronously) or later (an engine with a network round trip). */
export type Awaitable<T> = T | Promise<T>;

/**
 * The engine's connection without Kysely's executor in between: for the statements every ingest runs, which are
 * still built with the Kysely builder and compiled once (`PreparedQuery`), and run here with new values. Kysely's
 * executor costs a few microseconds and several promise hops per statement, as much as SQLite spends on a point
 * select. Obtained from `ConnectionGate` and only valid until released; callers `await` each result so that an
 * engine answering asynchronously fits the same code.
 */
export interface DirectConnection {
  /** Every row of a query. */
  all<R>(sql: string, parameters: readonly unknown[]): Awaitable<R[]>;
  /** The first row of a query, or undefined. */
  get<R>(sql: string, parameters: readonly unknown[]): Awaitable<R | undefined>;
  /** Runs a statement that returns no rows. */
  run(sql: string, parameters: readonly unknown[]): Awaitable<void>;
  /** Whether a transaction is open: the engine may end one by itself after an I/O error or a full disk. */
  readonly inTransaction: boolean;
}

/**
 * Turns at the one connection, shared with Kysely's driver (the same first-come, first-served lock), so that a
 * holder of the connection never interleaves with a Kysely query or transaction.
 */
export interface ConnectionGate {
  /** Waits for the connection; hand it back with `release`. */
  acquire(): Promise<DirectConnection>;
  /** The connection at once if nobody holds it or waits for it, else undefined. */
  tryAcquire(): DirectConnection | undefined;
  release(): void;
}

/**
 * SQLite's commit-time flush, switched off for group commits, whose callers flush the WAL themselves and share
 * that flush (see `WalSync`). Everything else keeps the configured `synchronous`.
 */
export interface SqliteDurability {
  /** Before the holder of the connection begins a group commit. */
  relax(): void;
  /** The next transaction begun through Kysely is a group commit (its caller holds the connection meanwhile). */
  relaxNextTransaction(): void;
}

/** The SQL of the transaction steps a batch of writes takes (see `GroupCommit`). */
export interface TransactionSql {
  /** Starts a write transaction holding the write lock from the start. */
  readonly begin: string;
  readonly commit: string;
  readonly rollback: string;
  readonly savepoint: (name: string) => string;
  readonly releaseSavepoint: (name: string) => string;
  readonly rollbackToSavepoint: (name: string) => string;
}

/** The per-engine pieces the rest of the package asks for. */
export interface DialectSupport {
  readonly kind: DatabaseKind;
  /** Column type for counts, sizes and ids (64-bit where the engine distinguishes). */
  readonly integerType: 'integer' | 'bigint';
  /**
   * Makes `col` a generated integer primary key. `monotonic`: ids are never reused, even after the highest row is
   * deleted (needed where the id is a cursor others hold and the newest row may be deleted: job ids; the change
   * feed, whose entries are never deleted, does without since 0005).
   */
  idColumn(col: ColumnDefinitionBuilder, options?: { monotonic?: boolean }): ColumnDefinitionBuilder;
  /** Locks the selected rows until the end of the transaction (`FOR UPDATE`); SQLite's writer lock already does. */
  lockRows<DB, TB extends keyof DB, O>(query: AnySelect<DB, TB, O>): AnySelect<DB, TB, O>;
  /** Locks the selected rows, skipping those other transactions hold (`FOR UPDATE SKIP LOCKED`), for job claims. */
  lockRowsSkipLocked<DB, TB extends keyof DB, O>(query: AnySelect<DB, TB, O>): AnySelect<DB, TB, O>;
  readonly transactionSql: TransactionSql;
  /**
   * Stores a table looked up only by its primary key in that key's b-tree alone (SQLite: WITHOUT ROWID), so a
   * write touches one b-tree instead of the table and its key index.
   */
  storedByPrimaryKey<TB extends string, C extends string>(table: CreateTableBuilder<TB, C>): CreateTableBuilder<TB, C>;
  /**
   * The id last handed out for the `monotonic` id column of `table`, where the engine keeps it in a table that
   * every insert writes (SQLite: sqlite_sequence, for AUTOINCREMENT); undefined where the guard costs nothing.
   */
  monotonicIdGuard(db: Kysely<any>, table: string): Promise<{ last: number } | undefined>;
}

const sqliteSupport: DialectSupport = {
  kind: 'sqlite',
  integerType: 'integer',
  // AUTOINCREMENT costs a sqlite_sequence update per insert, so only cursors others hold pay for it; other ids
  // are rowids, which SQLite allocates as max + 1.
  idColumn: (col, options) => (options?.monotonic ? col.primaryKey().autoIncrement() : col.primaryKey()),
  // One writer at a time (every transaction is BEGIN IMMEDIATE), so rows read in a transaction cannot change.
  lockRows: (query) => query,
  lockRowsSkipLocked: (query) => query,
  storedByPrimaryKey: (table) => table.modifyEnd(sql`without rowid`),
  async monotonicIdGuard(db, table) {
    const { rows } = await sql<{ seq: number }>`select seq from sqlite_sequence where name = ${table}`.execute(db);
    return { last: Number(rows[0]?.seq ?? 0) };
  },
  transactionSql: {
    begin: 'begin immediate',
    commit: 'commit',
    rollback: 'rollback',
    savepoint: (name) => `savepoint ${name}`,
    releaseSavepoint: (name) => `release savepoint ${name}`,
    rollbackToSavepoint: (name) => `rollback to savepoint ${name}`,
  },
};

/**
 * better-sqlite3 compiles a statement on every `prepare`; Kysely prepares once per execution. Caching the
 * prepared statements by SQL text saves that work on the ingest path, where the same dozen statements repeat.
 */
class StatementCachingDatabase implements SqliteDatabase {
  readonly #db: Sqlite.Database;
  readonly #cache = new Map<string, Sqlite.Statement>();
  readonly #capacity: number;

  constructor(db: Sqlite.Database, capacity: number) {
    this.#db = db;
    this.#capacity = capacity;
  }

  prepare(sql: string): SqliteStatement {
    return this.statement(sql) as unknown as SqliteStatement;
  }

  /** The cached better-sqlite3 statement of `sql`, prepared on first use. */
  statement(sql: string): Sqlite.Statement {
    let statement = this.#cache.get(sql);
    if (statement) {
      // Map keeps insertion order: re-inserting makes this the most recently used entry.
      this.#cache.delete(sql);
    } else {
      statement = this.#db.prepare(sql);
      if (this.#cache.size >= this.#capacity) {
        const oldest = this.#cache.keys().next();
        if (!oldest.done) this.#cache.delete(oldest.value);
      }
    }
    this.#cache.set(sql, statement);
    return statement;
  }

  get inTransaction(): boolean {
    return this.#db.inTransaction;
  }

  close(): void {
    this.#cache.clear();
    this.#db.close();
  }
}

/**
 * First come, first served. Kysely's own SQLite mutex wakes every waiter on each release, which costs O(n²) when
 * hundreds of ingests wait for the one connection; this hands the lock to the next waiter only.
 */
class FifoMutex {
  #locked = false;
  readonly #waiters: Array<() => void> = [];

  async lock(): Promise<void> {
    if (!this.#locked) {
      this.#locked = true;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** Takes the lock only if it is free: never ahead of a waiter, since a lock with waiters is never free. */
  tryLock(): boolean {
    if (this.#locked) return false;
    this.#locked = true;
    return true;
  }

  unlock(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#locked = false;
  }
}

/** better-sqlite3 runs each statement synchronously: every result is there when the call returns. */
class SqliteDirectConnection implements DirectConnection {
  constructor(private readonly db: StatementCachingDatabase) {}

  all<R>(sql: string, parameters: readonly unknown[]): R[] {
    return this.db.statement(sql).all(parameters) as R[];
  }

  get<R>(sql: string, parameters: readonly unknown[]): R | undefined {
    return this.db.statement(sql).get(parameters) as R | undefined;
  }

  run(sql: string, parameters: readonly unknown[]): void {
    this.db.statement(sql).run(parameters);
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }
}

class SqliteGate implements ConnectionGate {
  constructor(
    private readonly mutex: FifoMutex,
    private readonly connection: SqliteDirectConnection,
  ) {}

  async acquire(): Promise<DirectConnection> {
    await this.mutex.lock();
    return this.connection;
  }

  tryAcquire(): DirectConnection | undefined {
    return this.mutex.tryLock() ? this.connection : undefined;
  }

  release(): void {
    this.mutex.unlock();
  }
}

/**
 * `pragma synchronous` of the one connection. A group commit relaxes it to NORMAL, since it flushes the WAL itself
 * off the event loop (`WalSync`); every other transaction or autocommit write finds it restored to the configured
 * level first, and so keeps SQLite's own durability at its commit. Restored lazily rather than after each batch:
 * back-to-back batches, ingest's steady state, switch it not at all. (The pragma cannot change inside a
 * transaction, which is why every switch happens before a BEGIN or an autocommit write.)
 */
class SynchronousLevel implements SqliteDurability {
  readonly #db: StatementCachingDatabase;
  readonly #configured: SqliteSynchronous;
  readonly #relaxed: SqliteSynchronous;
  #current: SqliteSynchronous;
  #relaxNext = false;

  constructor(db: StatementCachingDatabase, configured: SqliteSynchronous) {
    this.#db = db;
    this.#configured = configured;
    // Relaxing never makes a level stricter: OFF stays OFF.
    this.#relaxed = configured === 'FULL' || configured === 'EXTRA' ? 'NORMAL' : configured;
    this.#current = configured;
  }

  relax(): void {
    this.#set(this.#relaxed);
  }

  relaxNextTransaction(): void {
    this.#relaxNext = true;
  }

  /** Before a transaction begun through Kysely: relaxed only when it is the group commit announced. */
  beforeBegin(): void {
    const relax = this.#relaxNext;
    this.#relaxNext = false;
    this.#set(relax ? this.#relaxed : this.#configured);
  }

  /** Before a write outside any transaction (it commits by itself). */
  restore(): void {
    this.#set(this.#configured);
  }

  #set(level: SqliteSynchronous): void {
    if (this.#current === level) return;
    this.#db.statement(`pragma synchronous = ${level}`).run();
    this.#current = level;
  }
}

class SqliteConnection implements DatabaseConnection {
  constructor(
    private readonly db: StatementCachingDatabase,
    private readonly level: SynchronousLevel,
  ) {}

  executeQuery<R>(query: CompiledQueryType): Promise<QueryResult<R>> {
    const statement = this.db.statement(query.sql);
    if (!statement.readonly && !this.db.inTransaction) this.level.restore();
    if (statement.reader) return Promise.resolve({ rows: statement.all(query.parameters) as R[] });
    const { changes, lastInsertRowid } = statement.run(query.parameters);
    return Promise.resolve({ numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] });
  }

  /** BEGIN IMMEDIATE, at the level `SynchronousLevel.beforeBegin` chooses (not restored as a write would be). */
  begin(): void {
    this.level.beforeBegin();
    this.db.statement('begin immediate').run();
  }

  async *streamQuery<R>(query: CompiledQueryType): AsyncIterableIterator<QueryResult<R>> {
    const statement = this.db.statement(query.sql);
    for (const row of statement.iterate(query.parameters)) yield { rows: [row as R] };
  }
}

/**
 * One connection, handed out in turn. Every transaction takes the write lock at BEGIN: a deferred transaction
 * that reads then writes can fail with SQLITE_BUSY at its first write without waiting (the lock upgrade would
 * deadlock with another process), whereas BEGIN IMMEDIATE waits `busy_timeout` for the lock and then holds it.
 */
class SqliteDriver implements Driver {
  readonly #mutex: FifoMutex;
  readonly #db: StatementCachingDatabase;
  readonly #connection: SqliteConnection;

  constructor(db: StatementCachingDatabase, mutex: FifoMutex, level: SynchronousLevel) {
    this.#db = db;
    this.#mutex = mutex;
    this.#connection = new SqliteConnection(db, level);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#mutex.lock();
    return this.#connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    (connection as SqliteConnection).begin();
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(): Promise<void> {
    this.#mutex.unlock();
  }

  async destroy(): Promise<void> {
    this.#db.close();
  }
}

/** SQLite runs DDL inside transactions: each migration then applies whole or not at all. */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class AtriumSqliteDialect extends SqliteDialect {
  readonly #database: StatementCachingDatabase;
  readonly #mutex: FifoMutex;
  readonly #level: SynchronousLevel;
  constructor(database: StatementCachingDatabase, mutex: FifoMutex, level: SynchronousLevel) {
    super({ database });
    this.#database = database;
    this.#mutex = mutex;
    this.#level = level;
  }
  override createDriver(): Driver {
    return new SqliteDriver(this.#database, this.#mutex, this.#level);
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

/**
 * Opens SQLite with WAL, `busy_timeout`, `foreign_keys=ON` and the chosen `synchronous`. `gate` hands out the same
 * connection Kysely uses, in turn with it.
 */
export function createSqliteKysely(options: SqliteDatabaseOptions): {
  kysely: Kysely<AtriumSchema>;
  dialect: DialectSupport;
  gate: ConnectionGate;
  durability: SqliteDurability;
} {
  let db: Sqlite.Database;
  try {
    db = new Sqlite(options.path);
  } catch (error) {
    throw new DatabaseError('ATRIUM_ERR_DB_OPEN', `Cannot open database '${options.path}': ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    if (options.path !== ':memory:') {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') throw new Error(`journal mode is '${String(mode)}', not WAL`);
    }
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 10_000))}`);
    db.pragma('foreign_keys = ON');
    const synchronous = options.synchronous ?? 'FULL';
    if (!['OFF', 'NORMAL', 'FULL', 'EXTRA'].includes(synchronous)) {
      throw new Error(`synchronous '${String(synchronous)}' is not one of OFF, NORMAL, FULL, EXTRA`);
    }
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma(`wal_autocheckpoint = ${Math.max(1, Math.trunc(options.walAutocheckpointPages ?? 10_000))}`);
    db.pragma(`cache_size = -${Math.max(1, Math.trunc(options.cacheSizeKib ?? 65_536))}`);
  } catch (error) {
    db.close();
    throw new DatabaseError('ATRIUM_ERR_DB_OPEN', `Cannot open database '${options.path}': ${(error as Error).message}`, {
      cause: error,
    });
  }
  const database = new StatementCachingDatabase(db, options.statementCacheSize ?? 256);
  const mutex = new FifoMutex();
  const level = new SynchronousLevel(database, options.synchronous ?? 'FULL');
  return {
    kysely: new Kysely<AtriumSchema>({ dialect: new AtriumSqliteDialect(database, mutex, level) }),
    dialect: sqliteSupport,
    gate: new SqliteGate(mutex, new SqliteDirectConnection(database)),
    durability: level,
  };
}
