import type { Kysely } from 'kysely';
import type { DialectSupport } from '../dialect.js';

/** Schema for the FHIR R4 store. */
export async function up(_db: Kysely<any>, _dialect: DialectSupport): Promise<void> {}
