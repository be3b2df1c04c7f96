import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';
import type { Awaitable, DirectConnection } from './dialect.js';

const SENTINEL = '\u0000atrium-parameter:';

/** Stands for a named parameter while a prepared query is built; typed as the value it will carry. */
export type ParameterOf<P> = <K extends keyof P & string>(name: K) => P[K];

/**
 * A query built once with the Kysely builder and compiled once per database, then executed with new parameter
 * values: the builder's per-call cost (building and compiling the operation tree) is paid once, not on every
 * ingest. The SQL stays whatever the dialect compiles, so the query remains portable.
 *
 * The builder must give the same SQL whatever the values (no branches on them): that is what makes reusing the
 * compiled text valid. Values are placed by matching sentinel parameters, so a literal the builder binds itself
 * (`+ 1`) stays as compiled.
 */
export class PreparedQuery<P extends object, R> {
  readonly #compiled: CompiledQuery<R>;
  readonly #slots: ReadonlyArray<string | undefined>;

  constructor(db: Kysely<any>, build: (param: ParameterOf<P>) => Compilable<R>) {
    const param = ((name: string) => `${SENTINEL}${name}`) as ParameterOf<P>;
    this.#compiled = build(param).compile();
    this.#slots = this.#compiled.parameters.map((value) =>
      typeof value === 'string' && value.startsWith(SENTINEL) ? value.slice(SENTINEL.length) : undefined,
    );
  }

  /** Runs the query through `executor` (the database or a transaction of it). */
  execute(executor: Kysely<any>, values: P): Promise<QueryResult<R>> {
    return executor.executeQuery<R>({ ...this.#compiled, parameters: this.#bind(values) });
  }

  /** Every row, from a direct connection (the ingest's hot path, see `DirectConnection`). */
  all(connection: DirectConnection, values: P): Awaitable<R[]> {
    return connection.all<R>(this.#compiled.sql, this.#bind(values));
  }

  /** The first row or undefined, from a direct connection. */
  get(connection: DirectConnection, values: P): Awaitable<R | undefined> {
    return connection.get<R>(this.#compiled.sql, this.#bind(values));
  }

  /** Runs a statement without rows on a direct connection. */
  run(connection: DirectConnection, values: P): Awaitable<void> {
    return connection.run(this.#compiled.sql, this.#bind(values));
  }

  #bind(values: P): unknown[] {
    const fixed = this.#compiled.parameters;
    const slots = this.#slots;
    const parameters = new Array<unknown>(slots.length);
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      parameters[i] = slot === undefined ? fixed[i] : (values as Record<string, unknown>)[slot];
    }
    return parameters;
  }
}
