import Sqlite from 'better-sqlite3';
import type {
  ColumnDefinitionBuilder,
  CompiledQuery as CompiledQueryType,
  DatabaseConnection,
  DialectAdapter,
  Driver,
  QueryResult,
  SelectQueryBuilder,
  SqliteDatabase,
  SqliteStatement,
} from 'kysely';
import { CompiledQuery, Kysely, SqliteAdapter, SqliteDialect } from 'kysely';
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

/** The per-engine pieces the rest of the package asks for. */
export interface DialectSupport {
  readonly kind: DatabaseKind;
  /** Column type for counts, sizes and ids (64-bit where the engine distinguishes). */
  readonly integerType: 'integer' | 'bigint';
  /**
   * Makes `col` a generated integer primary key. `monotonic`: ids are never reused, even after the highest row is
   * deleted (needed where the id is a cursor others hold: the change feed's seq, job ids).
   */
  idColumn(col: ColumnDefinitionBuilder, options?: { monotonic?: boolean }): ColumnDefinitionBuilder;
  /** Locks the selected rows until the end of the transaction (`FOR UPDATE`); SQLite's writer lock already does. */
  lockRows<DB, TB extends keyof DB, O>(query: AnySelect<DB, TB, O>): AnySelect<DB, TB, O>;
  /** Locks the selected rows, skipping those other transactions hold (`FOR UPDATE SKIP LOCKED`), for job claims. */
  lockRowsSkipLocked<DB, TB extends keyof DB, O>(query: AnySelect<DB, TB, O>): AnySelect<DB, TB, O>;
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
    return statement as unknown as SqliteStatement;
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

  unlock(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#locked = false;
  }
}

class SqliteConnection implements DatabaseConnection {
  constructor(private readonly db: SqliteDatabase) {}

  executeQuery<R>(query: CompiledQueryType): Promise<QueryResult<R>> {
    const statement = this.db.prepare(query.sql);
    if (statement.reader) return Promise.resolve({ rows: statement.all(query.parameters) as R[] });
    const { changes, lastInsertRowid } = statement.run(query.parameters);
    return Promise.resolve({ numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] });
  }

  async *streamQuery<R>(query: CompiledQueryType): AsyncIterableIterator<QueryResult<R>> {
    const statement = this.db.prepare(query.sql);
    for (const row of statement.iterate(query.parameters)) yield { rows: [row as R] };
  }
}

/**
 * One connection, handed out in turn. Every transaction takes the write lock at BEGIN: a deferred transaction
 * that reads then writes can fail with SQLITE_BUSY at its first write without waiting (the lock upgrade would
 * deadlock with another process), whereas BEGIN IMMEDIATE waits `busy_timeout` for the lock and then holds it.
 */
class SqliteDriver implements Driver {
  readonly #mutex = new FifoMutex();
  readonly #db: SqliteDatabase;
  readonly #connection: SqliteConnection;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    this.#connection = new SqliteConnection(db);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#mutex.lock();
    return this.#connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
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
  readonly #database: SqliteDatabase;
  constructor(database: SqliteDatabase) {
    super({ database });
    this.#database = database;
  }
  override createDriver(): Driver {
    return new SqliteDriver(this.#database);
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

/** Opens SQLite with WAL, `busy_timeout`, `foreign_keys=ON` and the chosen `synchronous`. */
export function createSqliteKysely(options: SqliteDatabaseOptions): {
  kysely: Kysely<AtriumSchema>;
  dialect: DialectSupport;
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
  return { kysely: new Kysely<AtriumSchema>({ dialect: new AtriumSqliteDialect(database) }), dialect: sqliteSupport };
}
