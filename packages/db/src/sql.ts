/**
 * Kysely's raw SQL pieces, re-exported so that packages above the index (the query engine builds its matching
 * conditions dynamically) reach them through `@atrium/db` instead of depending on Kysely themselves.
 */
export { sql, CompiledQuery } from 'kysely';
export type { RawBuilder } from 'kysely';
