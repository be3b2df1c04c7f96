import type { Awaitable, ConnectionGate, DirectConnection, TransactionSql } from './dialect.js';

/**
 * Writes that members of one transaction owe and that cost less made once for all of them: the archive's counts,
 * which every instance of a series would otherwise update row by row. A member hands them over (`BatchScope.owe`);
 * the transaction makes what its members owe before it commits, and before any member that did not say it can run
 * without them (`BatchOptions.defersOwed`). A member that fails owes nothing.
 */
export interface OwedWrites {
  /** Takes over what a later member of the same transaction owes; false when it cannot (both are then written). */
  absorb(later: OwedWrites): boolean;
  write(connection: DirectConnection): Promise<void>;
}

/** What a member's work may ask of the transaction it runs in. */
export interface BatchScope {
  /** Leaves `writes` to the transaction, made before it commits together with other members' (only with `defersOwed`). */
  owe(writes: OwedWrites): void;
  /** Makes at once what the members before this one owe: before reading what those writes change. */
  settle(): Promise<void>;
}

export interface BatchOptions {
  /**
   * The member reads nothing that other members' owed writes change (unless it `settle`s first), so they may wait
   * past it until the commit; and it may owe writes itself. Without it, what is owed is written before it runs.
   */
  defersOwed?: boolean;
}

export type BatchWork<T> = (connection: DirectConnection, scope: BatchScope) => Promise<T>;

/** One caller's share of a batch: its work and how to answer it. */
interface Member {
  work: BatchWork<unknown>;
  defersOwed: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  settled: boolean;
  /** Answered once committed, with the flush as a promise, instead of once durable. */
  early: boolean;
}

/** A commit that may not be durable yet: `durable` settles once it is (rejects when the flush fails). */
export interface Committed<T> {
  value: T;
  durable: Promise<void>;
}

export interface GroupCommitOptions {
  gate: ConnectionGate;
  sql: TransactionSql;
  /** Runs before each transaction begins: the engine may skip its own flush at commit, since `flush` follows. */
  relax?: () => Awaitable<void>;
  /** Resolves once every commit made before the call is durable; absent when each commit is durable by itself. */
  flush?: () => Promise<void>;
  /**
   * `flush` for a batch whose members all answered at commit (`runCommitted`): may wait a little to be shared with
   * the next batches. Default: `flush`.
   */
  flushSoon?: () => Promise<void>;
  /** Most members in one transaction, so one batch never holds the connection for long; default 128. */
  maxMembers?: number;
}

const SAVEPOINT = 'atrium_member';

/**
 * Group commit of whole transactions: writes that arrive while the connection is busy, or in the same turn of the
 * event loop, run in one transaction followed by one flush, instead of a transaction and a flush each. Each member
 * runs in its own savepoint, so a member that throws rolls back only its own writes and rejects only its own
 * promise; the others commit as if they had run alone, in the order they were submitted. A member is resolved once
 * its commit is durable (after `flush`); the connection is handed on before the flush, so the next batch runs while
 * this one's flush is under way.
 *
 * A lone write is not held back waiting for company: its batch starts on the next turn of the event loop.
 */
export class GroupCommit {
  readonly #gate: ConnectionGate;
  readonly #sql: TransactionSql;
  readonly #relax: (() => Awaitable<void>) | undefined;
  readonly #flush: (() => Promise<void>) | undefined;
  readonly #flushSoon: (() => Promise<void>) | undefined;
  readonly #maxMembers: number;
  readonly #savepoint: string;
  readonly #release: string;
  readonly #rollbackTo: string;
  #pending: Member[] = [];
  #scheduled = false;
  readonly #draining = new Set<Promise<void>>();

  constructor(options: GroupCommitOptions) {
    this.#gate = options.gate;
    this.#sql = options.sql;
    this.#relax = options.relax;
    this.#flush = options.flush;
    this.#flushSoon = options.flushSoon ?? options.flush;
    this.#maxMembers = Math.max(1, options.maxMembers ?? 128);
    this.#savepoint = options.sql.savepoint(SAVEPOINT);
    this.#release = options.sql.releaseSavepoint(SAVEPOINT);
    this.#rollbackTo = options.sql.rollbackToSavepoint(SAVEPOINT);
  }

  /**
   * Runs `work` inside a write transaction shared with the other members of its batch; resolves with its result
   * once committed and durable. `work` must reach the database only through `connection` (the connection is held
   * meanwhile: a query through Kysely would wait for it forever).
   */
  run<T>(work: BatchWork<T>, options: BatchOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ work, defersOwed: options.defersOwed === true, resolve: resolve as (value: unknown) => void, reject, settled: false, early: false });
      this.#schedule();
    });
  }

  /**
   * Like `run`, but resolves as soon as the transaction is committed, with the flush that makes it durable as a
   * promise: for a caller whose answer waits on something else that is durable by then (see the ingest pipeline).
   */
  runCommitted<T>(work: BatchWork<T>, options: BatchOptions = {}): Promise<Committed<T>> {
    return new Promise<Committed<T>>((resolve, reject) => {
      this.#pending.push({ work, defersOwed: options.defersOwed === true, resolve: resolve as (value: unknown) => void, reject, settled: false, early: true });
      this.#schedule();
    });
  }

  /** Resolves once every member submitted so far is settled, flush included (for closing the database). */
  async drained(): Promise<void> {
    while (this.#scheduled || this.#draining.size > 0) {
      if (this.#draining.size === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      else await Promise.all(this.#draining);
    }
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      const drain = this.#drain();
      this.#draining.add(drain);
      void drain.finally(() => this.#draining.delete(drain));
    });
  }

  async #drain(): Promise<void> {
    const connection = await this.#gate.acquire();
    // Members that arrived while this batch waited for the connection join it.
    this.#scheduled = false;
    const members = this.#pending.length <= this.#maxMembers ? this.#pending : this.#pending.slice(0, this.#maxMembers);
    this.#pending = members === this.#pending ? [] : this.#pending.slice(this.#maxMembers);
    if (this.#pending.length > 0) this.#schedule();
    const committed: Array<[Member, unknown]> = [];
    try {
      for (let next = 0; next < members.length; ) next = await this.#transaction(connection, members, next, committed);
    } catch (error) {
      // A transaction step itself failed (not a member's work): the open transaction's members are not committed.
      await this.#abandon(connection);
      const done = new Set(committed.map(([member]) => member));
      for (const member of members) if (!done.has(member)) settle(member, error);
    } finally {
      this.#gate.release();
    }
    if (committed.length === 0) return;
    const flush = committed.every(([member]) => member.early) ? this.#flushSoon : this.#flush;
    const durable = flush ? flush() : Promise.resolve();
    // Observed here; early members observe it too, through their `durable`.
    durable.catch(() => undefined);
    for (const [member, value] of committed) {
      if (!member.early) continue;
      member.settled = true;
      member.resolve({ value, durable } satisfies Committed<unknown>);
    }
    try {
      await durable;
    } catch (error) {
      for (const [member] of committed) settle(member, error);
      return;
    }
    for (const [member, value] of committed) {
      if (member.settled) continue;
      member.settled = true;
      member.resolve(value);
    }
  }

  /** Rolls back what is left of a transaction after a failed step; the members get that step's error. */
  async #abandon(connection: DirectConnection): Promise<void> {
    if (!connection.inTransaction) return;
    try {
      await connection.run(this.#sql.rollback, []);
    } catch {
      // Not the error to report: the members are rejected with the one that broke the batch, and if the
      // transaction is still open the next BEGIN fails with an error of its own.
    }
  }

  /**
   * Runs members from `first` on in one transaction and commits it; returns the index of the first member it did
   * not run (the engine ended the transaction by itself: the rest get a new one).
   */
  async #transaction(
    connection: DirectConnection,
    members: readonly Member[],
    first: number,
    committed: Array<[Member, unknown]>,
  ): Promise<number> {
    // A lone member needs no savepoint: its failure rolls back the whole transaction.
    const alone = members.length - first === 1;
    const applied: Array<[Member, unknown]> = [];
    /** What the members applied so far owe, in their order; each entry has absorbed what it could of later ones. */
    let owed: OwedWrites[] = [];
    const writeOwed = async (): Promise<void> => {
      const written = owed;
      owed = [];
      for (const writes of written) await writes.write(connection);
    };
    let next = first;
    await this.#relax?.();
    await connection.run(this.#sql.begin, []);
    for (; next < members.length; next++) {
      const member = members[next]!;
      // Outside any member's savepoint: a member that fails later cannot take these writes with it.
      if (!member.defersOwed && owed.length > 0) await writeOwed();
      if (!alone) await connection.run(this.#savepoint, []);
      const mine: OwedWrites[] = [];
      /** Owed writes this member made inside its savepoint (`settle`): owed again if it is rolled back. */
      const settledHere: OwedWrites[] = [];
      const scope: BatchScope = {
        owe: (writes) => {
          if (!member.defersOwed) throw new Error('A batch member owes writes without the `defersOwed` option');
          mine.push(writes);
        },
        settle: async () => {
          // Noted before they are written: a write that throws fails this member, and its rollback undoes them all.
          settledHere.push(...owed);
          await writeOwed();
        },
      };
      let value: unknown;
      try {
        value = await member.work(connection, scope);
      } catch (error) {
        settle(member, error);
        if (!connection.inTransaction) {
          // What the members before this one wrote went with the transaction.
          for (const [lost] of applied) settle(lost, error);
          return next + 1;
        }
        if (alone) {
          await connection.run(this.#sql.rollback, []);
          return next + 1;
        }
        await connection.run(this.#rollbackTo, []);
        await connection.run(this.#release, []);
        owed = [...settledHere, ...owed];
        continue;
      }
      if (!alone) await connection.run(this.#release, []);
      for (const writes of mine) if (!owed.at(-1)?.absorb(writes)) owed.push(writes);
      applied.push([member, value]);
    }
    try {
      if (owed.length > 0) await writeOwed();
      await connection.run(this.#sql.commit, []);
    } catch (error) {
      if (connection.inTransaction) await connection.run(this.#sql.rollback, []);
      for (const [member] of applied) settle(member, error);
      return next;
    }
    committed.push(...applied);
    return next;
  }
}

function settle(member: Member, error: unknown): void {
  if (member.settled) return;
  member.settled = true;
  member.reject(error);
}
