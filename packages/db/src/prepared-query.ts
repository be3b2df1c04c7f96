import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';

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
    const fixed = this.#compiled.parameters;
    const parameters = this.#slots.map((slot, i) => (slot === undefined ? fixed[i] : (values as Record<string, unknown>)[slot]));
    return executor.executeQuery<R>({ ...this.#compiled, parameters });
  }
}
