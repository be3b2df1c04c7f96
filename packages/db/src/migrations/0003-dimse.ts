import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { DialectSupport } from '../dialect.js';

/**
 * Schema for DICOM networking: the remote AEs added through the admin API (those of the configuration file and
 * the environment are not stored) and the storage commitment transactions (PS3.4 Annex J), kept so that a result
 * can still be delivered on a new association and an operator can see what was committed to whom.
 */
export async function up(db: Kysely<any>, dialect: DialectSupport): Promise<void> {
  const int = dialect.integerType;
  await db.schema
    .createTable('remote_ae')
    .addColumn('ae_title', 'text', (c) => c.primaryKey())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('port', int, (c) => c.notNull())
    .addColumn('services', 'text', (c) => c.notNull())
    .addColumn('tls', int, (c) => c.notNull().defaultTo(0))
    .addColumn('description', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('storage_commitment')
    .addColumn('transaction_uid', 'text', (c) => c.primaryKey())
    .addColumn('calling_ae_title', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('referenced_count', int, (c) => c.notNull())
    .addColumn('failed_count', int, (c) => c.notNull().defaultTo(0))
    .addColumn('result_json', 'text')
    .addColumn('delivery', 'text')
    .addColumn('requested_at', 'text', (c) => c.notNull())
    .addColumn('completed_at', 'text')
    .addCheckConstraint('storage_commitment_state_check', sql`state in ('pending', 'reported', 'undelivered')`)
    .execute();
  await db.schema.createIndex('storage_commitment_requested_at_idx').on('storage_commitment').column('requested_at').execute();
}
