import type { Kysely } from 'kysely';
import type { DialectSupport } from '../dialect.js';

/** Schema for the DICOM networking (remote AEs, storage commitment). */
export async function up(_db: Kysely<any>, _dialect: DialectSupport): Promise<void> {}
