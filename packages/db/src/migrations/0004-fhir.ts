import type { Kysely } from 'kysely';
import type { DialectSupport } from '../dialect.js';

/**
 * Schema for the FHIR R4 store (see `fhir-schema.ts` and `docs/fhir.md`): current resources, their history, and
 * one index table per search parameter type. Each index has the (type, param, value) order the searches use, with
 * `resource_pk` last so the index alone answers the subquery; a second index on `resource_pk` serves the per-row
 * probes of the other conditions and the rewrite of a resource's rows on update.
 */
export async function up(db: Kysely<any>, dialect: DialectSupport): Promise<void> {
  const int = dialect.integerType;

  await db.schema
    .createTable('fhir_resource')
    .addColumn('pk', int, (c) => dialect.idColumn(c, { monotonic: true }))
    .addColumn('resource_type', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('version_id', int, (c) => c.notNull())
    .addColumn('last_updated', 'text', (c) => c.notNull())
    .addColumn('deleted', int, (c) => c.notNull().defaultTo(0))
    .addColumn('json', 'text')
    .addUniqueConstraint('fhir_resource_type_id_unique', ['resource_type', 'id'])
    .execute();
  await db.schema
    .createIndex('fhir_resource_type_updated_idx')
    .on('fhir_resource')
    .columns(['resource_type', 'last_updated'])
    .execute();

  await db.schema
    .createTable('fhir_resource_history')
    .addColumn('resource_pk', int, (c) => c.notNull().references('fhir_resource.pk'))
    .addColumn('resource_type', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('version_id', int, (c) => c.notNull())
    .addColumn('last_updated', 'text', (c) => c.notNull())
    .addColumn('deleted', int, (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('json', 'text')
    .addPrimaryKeyConstraint('fhir_resource_history_pk', ['resource_pk', 'version_id'])
    .execute();
  await db.schema
    .createIndex('fhir_history_type_updated_idx')
    .on('fhir_resource_history')
    .columns(['resource_type', 'last_updated'])
    .execute();
  await db.schema.createIndex('fhir_history_updated_idx').on('fhir_resource_history').column('last_updated').execute();

  const indexTable = async (name: string, columns: Array<[string, 'text' | 'real', boolean]>, order: string[]) => {
    let table = db.schema
      .createTable(name)
      .addColumn('id', int, (c) => dialect.idColumn(c))
      .addColumn('resource_pk', int, (c) => c.notNull().references('fhir_resource.pk'))
      .addColumn('resource_type', 'text', (c) => c.notNull())
      .addColumn('param', 'text', (c) => c.notNull());
    for (const [column, type, notNull] of columns) {
      table = table.addColumn(column, type === 'real' ? 'double precision' : 'text', (c) => (notNull ? c.notNull() : c));
    }
    await table.execute();
    await db.schema
      .createIndex(`${name}_search_idx`)
      .on(name)
      .columns(['resource_type', 'param', ...order, 'resource_pk'])
      .execute();
    await db.schema
      .createIndex(`${name}_resource_idx`)
      .on(name)
      .columns(['resource_pk', 'param', ...order.slice(0, 1)])
      .execute();
  };
  await indexTable('fhir_token', [['system', 'text', false], ['code', 'text', true]], ['code', 'system']);
  await indexTable('fhir_string', [['value', 'text', true], ['exact', 'text', true]], ['value']);
  await indexTable('fhir_date', [['low', 'text', true], ['high', 'text', true]], ['low', 'high']);
  await indexTable(
    'fhir_reference',
    [['target_type', 'text', false], ['target_id', 'text', false], ['url', 'text', false]],
    ['target_id', 'target_type'],
  );
  await indexTable(
    'fhir_quantity',
    [['value', 'real', true], ['system', 'text', false], ['code', 'text', false]],
    ['code', 'value'],
  );
  await indexTable('fhir_uri', [['value', 'text', true]], ['value']);

  await db.schema
    .createTable('fhir_sync_state')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}
