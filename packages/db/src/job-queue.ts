import type { Kysely } from 'kysely';
import type { DatabaseContext } from './database.js';
import type { AtriumSchema, JobRow, JobState } from './schema.js';

export interface JobQueueOptions {
  /** First retry delay; each further failure doubles it. Default 1 s. */
  backoffBaseMs?: number;
  /** Longest retry delay. Default 1 h. */
  backoffMaxMs?: number;
  /** Attempts before a job is dead-lettered, unless the job says otherwise. Default 5. */
  defaultMaxAttempts?: number;
}

export interface EnqueueJobInput {
  queue: string;
  /** Serialised as JSON. */
  payload: unknown;
  /**
   * While a job with this key is pending (ready, running or failed awaiting retry) in the same queue, enqueueing
   * another returns the pending one instead.
   */
  dedupeKey?: string;
  /** Not before this time; default now. */
  runAt?: Date;
  maxAttempts?: number;
}

export interface Job<P = unknown> {
  id: number;
  queue: string;
  payload: P;
  state: JobState;
  /** Claims so far, including the current one. */
  attempts: number;
  maxAttempts: number;
  runAt: Date;
  leaseOwner: string | null;
  leaseUntil: Date | null;
  lastError: string | null;
  dedupeKey: string | null;
}

export type FailOutcome = { state: 'failed'; retryAt: Date } | { state: 'dead' };

const MAX_ERROR_LENGTH = 4000;

function toJob<P>(row: JobRow): Job<P> {
  return {
    id: row.id,
    queue: row.queue,
    payload: JSON.parse(row.payload) as P,
    state: row.state,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAt: new Date(row.run_at),
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until === null ? null : new Date(row.lease_until),
    lastError: row.last_error,
    dedupeKey: row.dedupe_key,
  };
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}…` : text;
}

/**
 * A job queue in the index database (architecture.md, data model): jobs are enqueued in the same transaction as the
 * data that caused them, claimed with a lease by one worker at a time (SQLite: an immediate transaction; PostgreSQL:
 * `FOR UPDATE SKIP LOCKED`), retried with exponential backoff and dead-lettered after `maxAttempts`. A worker that
 * dies leaves a lease that expires; the job is then claimed again (or dead-lettered if it used its attempts).
 */
export class JobQueue {
  readonly #backoffBaseMs: number;
  readonly #backoffMaxMs: number;
  readonly #defaultMaxAttempts: number;

  constructor(
    private readonly database: DatabaseContext,
    options: JobQueueOptions = {},
  ) {
    this.#backoffBaseMs = options.backoffBaseMs ?? 1000;
    this.#backoffMaxMs = options.backoffMaxMs ?? 60 * 60 * 1000;
    this.#defaultMaxAttempts = options.defaultMaxAttempts ?? 5;
  }

  /**
   * Adds a job through `executor`: pass the caller's transaction so the job exists exactly when the data that
   * caused it does. Returns the job id, and `created: false` when a pending job with the same dedupe key won.
   */
  async enqueue(executor: Kysely<AtriumSchema>, input: EnqueueJobInput): Promise<{ id: number; created: boolean }> {
    const now = this.database.now();
    const inserted = await executor
      .insertInto('job')
      .values({
        queue: input.queue,
        payload: JSON.stringify(input.payload ?? null),
        state: 'ready',
        attempts: 0,
        max_attempts: Math.max(1, input.maxAttempts ?? this.#defaultMaxAttempts),
        run_at: (input.runAt ?? now).toISOString(),
        dedupe_key: input.dedupeKey ?? null,
        created_at: now.toISOString(),
        updated_at: now.toISOString(),
      })
      .onConflict((oc) => oc.columns(['queue', 'dedupe_key']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted) return { id: inserted.id, created: true };
    const pending = await executor
      .selectFrom('job')
      .select('id')
      .where('queue', '=', input.queue)
      .where('dedupe_key', '=', input.dedupeKey ?? null)
      .executeTakeFirstOrThrow();
    return { id: pending.id, created: false };
  }

  /**
   * Claims the next due job of `queue` for `owner` until now + `leaseMs`: a ready job, a failed one whose retry
   * time has come, or a running one whose lease expired. Undefined when none is due. Two claimers never get the
   * same job while its lease holds.
   */
  async claim<P = unknown>(queue: string, owner: string, leaseMs: number): Promise<Job<P> | undefined> {
    return this.database.transaction(async (trx) => {
      for (;;) {
        const now = this.database.now();
        const nowText = now.toISOString();
        const candidate = await this.database.dialect
          .lockRowsSkipLocked(
            trx
              .selectFrom('job')
              .selectAll()
              .where('queue', '=', queue)
              .where((eb) =>
                eb.or([
                  eb.and([eb('state', 'in', ['ready', 'failed']), eb('run_at', '<=', nowText)]),
                  eb.and([eb('state', '=', 'running'), eb('lease_until', '<=', nowText)]),
                ]),
              )
              .orderBy('run_at')
              .orderBy('id')
              .limit(1),
          )
          .executeTakeFirst();
        if (!candidate) return undefined;
        if (candidate.state === 'running' && candidate.attempts >= candidate.max_attempts) {
          // Its worker died on every attempt: claiming it again would crash the next worker too.
          await trx
            .updateTable('job')
            .set({
              state: 'dead',
              dedupe_key: null,
              lease_owner: null,
              lease_until: null,
              last_error: `Lease of '${candidate.lease_owner ?? ''}' expired on attempt ${candidate.attempts} of ${candidate.max_attempts}`,
              updated_at: nowText,
            })
            .where('id', '=', candidate.id)
            .execute();
          continue;
        }
        const claimed = await trx
          .updateTable('job')
          .set((eb) => ({
            state: 'running',
            attempts: eb('attempts', '+', 1),
            lease_owner: owner,
            lease_until: new Date(now.getTime() + leaseMs).toISOString(),
            updated_at: nowText,
          }))
          .where('id', '=', candidate.id)
          .returningAll()
          .executeTakeFirstOrThrow();
        return toJob<P>(claimed);
      }
    });
  }

  /** Extends the lease of a job `owner` still holds; false when the lease was lost. */
  async renewLease(id: number, owner: string, leaseMs: number): Promise<boolean> {
    const now = this.database.now();
    const result = await this.database.kysely
      .updateTable('job')
      .set({ lease_until: new Date(now.getTime() + leaseMs).toISOString(), updated_at: now.toISOString() })
      .where('id', '=', id)
      .where('state', '=', 'running')
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Marks a job `owner` holds as done; false when the lease was lost (another worker may be running it). */
  async complete(id: number, owner: string): Promise<boolean> {
    const now = this.database.now().toISOString();
    const result = await this.database.kysely
      .updateTable('job')
      .set({ state: 'done', dedupe_key: null, lease_owner: null, lease_until: null, updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'running')
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Records a failed attempt: the job is retried after base × 2^(attempts-1) (capped), or dead-lettered once it
   * used `maxAttempts`. Undefined when `owner` no longer holds the lease.
   */
  async fail(id: number, owner: string, error: unknown): Promise<FailOutcome | undefined> {
    return this.database.transaction(async (trx) => {
      const now = this.database.now();
      const job = await trx
        .selectFrom('job')
        .select(['attempts', 'max_attempts'])
        .where('id', '=', id)
        .where('state', '=', 'running')
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
      if (!job) return undefined;
      const common = { last_error: errorText(error), lease_owner: null, lease_until: null, updated_at: now.toISOString() };
      if (job.attempts >= job.max_attempts) {
        await trx
          .updateTable('job')
          .set({ ...common, state: 'dead', dedupe_key: null })
          .where('id', '=', id)
          .execute();
        return { state: 'dead' };
      }
      const delay = Math.min(this.#backoffMaxMs, this.#backoffBaseMs * 2 ** Math.max(0, job.attempts - 1));
      const retryAt = new Date(now.getTime() + delay);
      await trx
        .updateTable('job')
        .set({ ...common, state: 'failed', run_at: retryAt.toISOString() })
        .where('id', '=', id)
        .execute();
      return { state: 'failed', retryAt };
    });
  }

  async get<P = unknown>(id: number): Promise<Job<P> | undefined> {
    const row = await this.database.kysely.selectFrom('job').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toJob<P>(row) : undefined;
  }
}
