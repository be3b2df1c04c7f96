import type { Kysely } from 'kysely';
import type { DialectSupport } from '../dialect.js';

/** Schema for the query engine (C-FIND, QIDO-RS). */
export async function up(_db: Kysely<any>, _dialect: DialectSupport): Promise<void> {}
