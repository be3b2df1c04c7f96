import type { Kysely } from 'kysely';
import type { DialectSupport } from '../dialect.js';
import * as initial from './0001-initial.js';
import * as query from './0002-query.js';
import * as dimse from './0003-dimse.js';
import * as fhir from './0004-fhir.js';
import * as ingestWrites from './0005-ingest-writes.js';

/** A forward-only schema step. Names sort in the order they run; a shipped migration is never edited. */
export interface AtriumMigration {
  readonly name: string;
  up(db: Kysely<any>, dialect: DialectSupport): Promise<void>;
}

/** Every migration, in order. Listed here rather than read from disk so that `src` (tsx) and `dist` agree. */
export const MIGRATIONS: readonly AtriumMigration[] = [
  { name: '0001-initial', up: initial.up },
  { name: '0002-query', up: query.up },
  { name: '0003-dimse', up: dimse.up },
  { name: '0004-fhir', up: fhir.up },
  { name: '0005-ingest-writes', up: ingestWrites.up },
];
