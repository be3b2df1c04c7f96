import type { Expression, ExpressionBuilder, Kysely, SqlBool, Transaction } from 'kysely';
import { CompiledQuery, sql } from 'kysely';
import type { DatabaseContext } from './database.js';
import type { FhirSchema } from './fhir-schema.js';
import type { AtriumSchema } from './schema.js';

/** The index schema and the FHIR store's tables, as one Kysely database type. */
export type FhirDatabase = AtriumSchema & FhirSchema;
/** The database or a transaction of it. */
export type FhirExecutor = Kysely<FhirDatabase>;

/** One version of a resource as stored. `json` is null for a deletion. */
export interface FhirResourceVersion {
  pk: number;
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
  json: string | null;
  /** The interaction that made this version (history only). */
  method?: string;
}

/** The index kinds, one table each. */
export type FhirIndexKind = 'token' | 'string' | 'date' | 'reference' | 'quantity' | 'uri';

/** The search index rows of one resource version, computed by the FHIR layer. */
export interface FhirIndexRows {
  token: Array<{ param: string; system: string | null; code: string }>;
  string: Array<{ param: string; value: string; exact: string }>;
  date: Array<{ param: string; low: string; high: string }>;
  reference: Array<{ param: string; targetType: string | null; targetId: string | null; url: string | null }>;
  quantity: Array<{ param: string; value: number; system: string | null; code: string | null }>;
  uri: Array<{ param: string; value: string }>;
}

/** A new version to store: `json` null writes a deletion. */
export interface FhirWrite {
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  json: string | null;
  index: FhirIndexRows;
}

/** FHIR R4 search prefixes (search.html#prefix). */
export type FhirPrefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';

/**
 * One AND-ed condition of a search, already parsed by the FHIR layer. `values` are OR-ed (a comma in the query).
 * Ranges are half-open for quantities ([low, high)) and closed for dates ([low, high], ISO instants).
 */
export type FhirCondition =
  | { kind: 'id'; ids: string[] }
  | { kind: 'lastUpdated'; values: Array<{ prefix: FhirPrefix; low: string; high: string }> }
  | { kind: 'token'; param: string; not?: boolean; values: Array<{ system?: string | null; code?: string }> }
  | { kind: 'string'; param: string; match: 'start' | 'exact' | 'contains'; values: string[] }
  | { kind: 'date'; param: string; values: Array<{ prefix: FhirPrefix; low: string; high: string }> }
  | { kind: 'reference'; param: string; values: Array<{ targetType?: string; targetId?: string; url?: string }> }
  | {
      kind: 'quantity';
      param: string;
      values: Array<{ prefix: FhirPrefix; value: number; low: number; high: number; system?: string | null; code?: string }>;
    }
  | { kind: 'uri'; param: string; match: 'exact' | 'below' | 'above'; values: string[] }
  /**
   * Composite (search.html#composite), OR-ed values: the second component's condition on the index rows kept
   * under the key of the first (`param`), or under every key starting with `paramPrefix`.
   */
  | { kind: 'composite'; values: Array<({ param: string } | { paramPrefix: string }) & { where: FhirValueCondition }> }
  /** Chained search: the reference `param` points at a `targetType` resource matching `where`. */
  | { kind: 'chain'; param: string; targetTypes: string[]; where: FhirCondition }
  /** Reverse chain (`_has`): some `sourceType` resource whose reference `param` points here matches `where`. */
  | { kind: 'has'; sourceType: string; param: string; where: FhirCondition }
  | { kind: 'missing'; param: string; index: FhirIndexKind; missing: boolean };

/** The conditions on one index table's values. */
export type FhirValueCondition = Extract<FhirCondition, { kind: 'token' | 'string' | 'date' | 'reference' | 'quantity' | 'uri' }>;

export interface FhirSortKey {
  /** `_id`, `_lastUpdated`, or a parameter with its index table. */
  key: '_id' | '_lastUpdated' | { param: string; index: Exclude<FhirIndexKind, 'reference'> };
  descending: boolean;
}

export interface FhirSearchQuery {
  resourceType: string;
  conditions: FhirCondition[];
  sort?: FhirSortKey[];
  count: number;
  offset?: number;
  /** Count every match (another query); otherwise `total` is set only when the page shows it exactly. */
  total?: boolean;
}

export interface FhirSearchResult {
  resources: FhirResourceVersion[];
  total: number | undefined;
}

const TABLE: Record<FhirIndexKind, keyof FhirSchema> = {
  token: 'fhir_token',
  string: 'fhir_string',
  date: 'fhir_date',
  reference: 'fhir_reference',
  quantity: 'fhir_quantity',
  uri: 'fhir_uri',
};

/** Rows per multi-row statement: at most 8 columns each, well below SQLite's 32,766 bound parameters. */
const CHUNK_ROWS = 500;

/** Multi-row inserts in chunks: one statement per table and chunk instead of one per row. */
async function insertChunked(db: FhirExecutor, table: keyof FhirSchema, rows: readonly object[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK_ROWS) {
    await (db as Kysely<any>).insertInto(table).values(rows.slice(i, i + CHUNK_ROWS)).execute();
  }
}

/** Which condition drives the query: the most selective kinds first (a patient's references before a code). */
const DRIVE_ORDER: Record<FhirCondition['kind'], number> = {
  id: 0,
  reference: 1,
  chain: 2,
  token: 3,
  composite: 3,
  string: 4,
  uri: 5,
  date: 6,
  quantity: 7,
  has: 8,
  lastUpdated: 9,
  missing: 10,
};

type Eb = ExpressionBuilder<any, any>;

/** Whether a condition, when it drives, is `r.pk in (subquery of an index table restricted to the type)`. */
function drivesByPrimaryKey(c: FhirCondition): boolean {
  switch (c.kind) {
    case 'token':
      return !c.not;
    case 'string':
    case 'date':
    case 'reference':
    case 'quantity':
    case 'uri':
    case 'chain':
    case 'composite':
      return true;
    default:
      return false;
  }
}

/**
 * The least string greater than every string starting with `prefix` (in code point order, which is SQLite's
 * BINARY order of UTF-8): the prefix with its last code point incremented, so a starts-with match is an index
 * range. Undefined when there is none (an empty prefix).
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = [...prefix];
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last >= 0x10ffff) continue;
    const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
    return points.join('') + String.fromCodePoint(next);
  }
  return undefined;
}

/** LIKE with `\` as the escape character, so `%` and `_` in a value match themselves. */
function likePattern(value: string, start: boolean, end: boolean): string {
  const escaped = value.replace(/[\\%_]/g, (c) => `\\${c}`);
  return `${start ? '%' : ''}${escaped}${end ? '%' : ''}`;
}

function like(column: string, pattern: string) {
  return sql<SqlBool>`${sql.ref(column)} like ${pattern} escape '\\'`;
}

/** Starts-with as an index range on `column` (see `prefixUpperBound`), with LIKE to say what is meant. */
function startsWith(eb: Eb, column: string, prefix: string): Expression<SqlBool> {
  const upper = prefixUpperBound(prefix);
  return eb.and([
    eb(column, '>=', prefix),
    ...(upper !== undefined ? [eb(column, '<', upper)] : []),
    like(column, likePattern(prefix, false, true)),
  ]);
}

/** Date prefix semantics on a stored range [low, high] against the search range (search.html#prefix). */
function dateMatch(eb: Eb, lowCol: string, highCol: string, v: { prefix: FhirPrefix; low: string; high: string }) {
  const within = eb.and([eb(lowCol, '>=', v.low), eb(highCol, '<=', v.high)]);
  switch (v.prefix) {
    case 'eq':
      return within;
    case 'ne':
      return eb.not(within);
    case 'gt':
      return eb(highCol, '>', v.high);
    case 'lt':
      return eb(lowCol, '<', v.low);
    case 'ge':
      return eb(highCol, '>=', v.low);
    case 'le':
      return eb(lowCol, '<=', v.high);
    case 'sa':
      return eb(lowCol, '>', v.high);
    case 'eb':
      return eb(highCol, '<', v.low);
    case 'ap':
      return eb.and([eb(lowCol, '<=', v.high), eb(highCol, '>=', v.low)]);
  }
}

function quantityMatch(eb: Eb, col: string, v: { prefix: FhirPrefix; value: number; low: number; high: number }) {
  switch (v.prefix) {
    case 'eq':
      return eb.and([eb(col, '>=', v.low), eb(col, '<', v.high)]);
    case 'ne':
      return eb.or([eb(col, '<', v.low), eb(col, '>=', v.high)]);
    case 'gt':
    case 'sa':
      return eb(col, '>', v.value);
    case 'lt':
    case 'eb':
      return eb(col, '<', v.value);
    case 'ge':
      return eb(col, '>=', v.value);
    case 'le':
      return eb(col, '<=', v.value);
    case 'ap':
      return eb.and([eb(col, '>=', v.low), eb(col, '<=', v.high)]);
  }
}

/** The value part of an index condition, on the index row `i`. */
function valueMatch(c: FhirValueCondition): (ib: Eb) => Expression<SqlBool> {
  switch (c.kind) {
    case 'token':
      return (ib) =>
        ib.or(
          c.values.map((v) => {
            const parts: Expression<SqlBool>[] = [];
            if (v.code !== undefined) parts.push(ib('i.code', '=', v.code));
            if (v.system === null) parts.push(ib('i.system', 'is', null));
            else if (v.system !== undefined) parts.push(ib('i.system', '=', v.system));
            return parts.length === 0 ? sql<SqlBool>`1 = 1` : ib.and(parts);
          }),
        );
    case 'string':
      return (ib) =>
        ib.or(
          c.values.map((v) =>
            c.match === 'exact'
              ? ib('i.exact', '=', v)
              : c.match === 'contains'
                ? like('i.value', likePattern(v, true, true))
                : startsWith(ib, 'i.value', v),
          ),
        );
    case 'date':
      return (ib) => ib.or(c.values.map((v) => dateMatch(ib, 'i.low', 'i.high', v)));
    case 'reference':
      return (ib) =>
        ib.or(
          c.values.map((v) => {
            if (v.url !== undefined) return ib('i.url', '=', v.url);
            const parts: Expression<SqlBool>[] = [ib('i.target_id', '=', v.targetId ?? '')];
            if (v.targetType !== undefined) parts.push(ib('i.target_type', '=', v.targetType));
            return ib.and(parts);
          }),
        );
    case 'quantity':
      return (ib) =>
        ib.or(
          c.values.map((v) => {
            const parts: Expression<SqlBool>[] = [quantityMatch(ib, 'i.value', v)];
            if (v.code !== undefined) parts.push(ib('i.code', '=', v.code));
            if (v.system === null) parts.push(ib('i.system', 'is', null));
            else if (v.system !== undefined) parts.push(ib('i.system', '=', v.system));
            return ib.and(parts);
          }),
        );
    case 'uri':
      return (ib) =>
        ib.or(
          c.values.map((v) => {
            if (c.match === 'below') return startsWith(ib, 'i.value', v);
            if (c.match === 'above') return sql<SqlBool>`${v} like (replace(replace(replace(i.value, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%') escape '\\'`;
            return ib('i.value', '=', v);
          }),
        );
  }
}

function rowToVersion(row: {
  pk: number;
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: string;
  deleted: number;
  json: string | null;
  method?: string;
}): FhirResourceVersion {
  return {
    pk: row.pk,
    resourceType: row.resource_type,
    id: row.id,
    versionId: row.version_id,
    lastUpdated: row.last_updated,
    deleted: row.deleted !== 0,
    json: row.json,
    ...(row.method !== undefined ? { method: row.method } : {}),
  };
}

/**
 * The FHIR store's persistence: versions, history and search over the index tables. It knows nothing of FHIR's
 * element paths: the FHIR layer computes the index rows and parses search URLs into `FhirCondition`s, and this
 * class turns them into Kysely queries (so a PostgreSQL dialect needs no change here). Every method takes the
 * executor to run on, so a transaction bundle runs all its entries in one database transaction.
 */
export class FhirRepository {
  readonly #database: DatabaseContext;

  constructor(database: DatabaseContext) {
    this.#database = database;
  }

  /** The database, typed with the FHIR tables. */
  get db(): FhirExecutor {
    return this.#database.kysely as unknown as FhirExecutor;
  }

  /**
   * Runs `fn` in one write transaction (SQLite: BEGIN IMMEDIATE, so reads inside it see a stable state). With
   * `groupCommit`, concurrent commits share one flush (`DatabaseContext.transaction`); durable either way when the
   * promise resolves.
   */
  transaction<T>(fn: (trx: Transaction<FhirDatabase>) => Promise<T>, options?: { groupCommit?: boolean }): Promise<T> {
    return this.#database.transaction((trx) => fn(trx as unknown as Transaction<FhirDatabase>), options);
  }

  /** The current version (deleted or not), or undefined when the resource never existed. */
  async read(db: FhirExecutor, resourceType: string, id: string): Promise<FhirResourceVersion | undefined> {
    const row = await this.#database.dialect
      .lockRows(
        db
          .selectFrom('fhir_resource')
          .selectAll()
          .where('resource_type', '=', resourceType)
          .where('id', '=', id),
      )
      .executeTakeFirst();
    return row ? rowToVersion(row) : undefined;
  }

  /** Current versions of several resources of one type (missing and deleted ones left out). */
  async readMany(db: FhirExecutor, resourceType: string, ids: readonly string[]): Promise<FhirResourceVersion[]> {
    if (ids.length === 0) return [];
    const rows = await db
      .selectFrom('fhir_resource')
      .selectAll()
      .where('resource_type', '=', resourceType)
      .where('id', 'in', [...new Set(ids)])
      .where('deleted', '=', 0)
      .execute();
    return rows.map(rowToVersion);
  }

  async vread(db: FhirExecutor, resourceType: string, id: string, versionId: number): Promise<FhirResourceVersion | undefined> {
    const row = await db
      .selectFrom('fhir_resource_history')
      .select(['resource_pk as pk', 'resource_type', 'id', 'version_id', 'last_updated', 'deleted', 'json', 'method'])
      .where('resource_type', '=', resourceType)
      .where('id', '=', id)
      .where('version_id', '=', versionId)
      .executeTakeFirst();
    return row ? rowToVersion(row) : undefined;
  }

  /**
   * Stores a new version: the current row, a history row and the index rows, replacing the previous version's.
   * Call it inside a transaction in which the caller read the current version: that read is what makes
   * `versionId` (and `If-Match`) safe against concurrent writers.
   */
  async write(db: FhirExecutor, write: FhirWrite): Promise<FhirResourceVersion> {
    const deleted = write.json === null ? 1 : 0;
    const existing = await db
      .selectFrom('fhir_resource')
      .select('pk')
      .where('resource_type', '=', write.resourceType)
      .where('id', '=', write.id)
      .executeTakeFirst();
    let pk: number;
    if (existing) {
      pk = existing.pk;
      await db
        .updateTable('fhir_resource')
        .set({ version_id: write.versionId, last_updated: write.lastUpdated, deleted, json: write.json })
        .where('pk', '=', pk)
        .execute();
      for (const table of Object.values(TABLE)) {
        await (db as Kysely<any>).deleteFrom(table).where('resource_pk', '=', pk).execute();
      }
    } else {
      const inserted = await db
        .insertInto('fhir_resource')
        .values({
          resource_type: write.resourceType,
          id: write.id,
          version_id: write.versionId,
          last_updated: write.lastUpdated,
          deleted,
          json: write.json,
        })
        .returning('pk')
        .executeTakeFirstOrThrow();
      pk = inserted.pk;
    }
    await db
      .insertInto('fhir_resource_history')
      .values({
        resource_pk: pk,
        resource_type: write.resourceType,
        id: write.id,
        version_id: write.versionId,
        last_updated: write.lastUpdated,
        deleted,
        method: write.method,
        json: write.json,
      })
      .execute();
    if (deleted === 0) await this.#writeIndex(db, pk, write.resourceType, write.index);
    return {
      pk,
      resourceType: write.resourceType,
      id: write.id,
      versionId: write.versionId,
      lastUpdated: write.lastUpdated,
      deleted: deleted === 1,
      json: write.json,
    };
  }

  async #writeIndex(db: FhirExecutor, pk: number, resourceType: string, index: FhirIndexRows): Promise<void> {
    await this.#insertIndexRows(db, [{ pk, resourceType, index }]);
  }

  /** The index rows of several resources, one multi-row statement per table and chunk. */
  async #insertIndexRows(db: FhirExecutor, items: ReadonlyArray<{ pk: number; resourceType: string; index: FhirIndexRows }>): Promise<void> {
    const rows = <R>(pick: (index: FhirIndexRows) => R[], shape: (row: R) => object) =>
      items.flatMap(({ pk, resourceType, index }) => pick(index).map((r) => ({ resource_pk: pk, resource_type: resourceType, ...shape(r) })));
    await insertChunked(db, 'fhir_token', rows((i) => i.token, (r) => ({ param: r.param, system: r.system, code: r.code })));
    await insertChunked(db, 'fhir_string', rows((i) => i.string, (r) => ({ param: r.param, value: r.value, exact: r.exact })));
    await insertChunked(db, 'fhir_date', rows((i) => i.date, (r) => ({ param: r.param, low: r.low, high: r.high })));
    await insertChunked(
      db,
      'fhir_reference',
      rows((i) => i.reference, (r) => ({ param: r.param, target_type: r.targetType, target_id: r.targetId, url: r.url })),
    );
    await insertChunked(db, 'fhir_quantity', rows((i) => i.quantity, (r) => ({ param: r.param, value: r.value, system: r.system, code: r.code })));
    await insertChunked(db, 'fhir_uri', rows((i) => i.uri, (r) => ({ param: r.param, value: r.value })));
  }

  /** Current (not deleted) resources after primary key `afterPk`, in key order: a walk over the whole store. */
  async currentAfter(db: FhirExecutor, afterPk: number, limit: number): Promise<FhirResourceVersion[]> {
    const rows = await db
      .selectFrom('fhir_resource')
      .selectAll()
      .where('pk', '>', afterPk)
      .where('deleted', '=', 0)
      .orderBy('pk')
      .limit(limit)
      .execute();
    return rows.map(rowToVersion);
  }

  /** Replaces the index rows of current resources (their versions unchanged), after the index itself changed. */
  async replaceIndexes(db: FhirExecutor, items: ReadonlyArray<{ pk: number; resourceType: string; index: FhirIndexRows }>): Promise<void> {
    const pks = items.map((item) => item.pk);
    for (let i = 0; i < pks.length; i += CHUNK_ROWS) {
      for (const table of Object.values(TABLE)) {
        await (db as Kysely<any>).deleteFrom(table).where('resource_pk', 'in', pks.slice(i, i + CHUNK_ROWS)).execute();
      }
    }
    await this.#insertIndexRows(db, items);
  }

  /**
   * Stores new versions of many resources at once (the creates of a transaction Bundle, a bulk load): the rows
   * `write` would write, as multi-row statements, a few per table instead of about a dozen per resource. Same
   * contract as `write` (inside a transaction in which the caller read the current versions); each resource at
   * most once.
   */
  async writeMany(db: FhirExecutor, writes: readonly FhirWrite[]): Promise<FhirResourceVersion[]> {
    const key = (type: string, id: string) => `${type}/${id}`;
    const pks = new Map<string, number>();
    const byType = new Map<string, string[]>();
    for (const w of writes) {
      const k = key(w.resourceType, w.id);
      if (pks.has(k)) throw new RangeError(`Cannot write ${k} twice in one batch`);
      pks.set(k, -1);
      byType.set(w.resourceType, [...(byType.get(w.resourceType) ?? []), w.id]);
    }
    for (const [type, ids] of byType) {
      for (let i = 0; i < ids.length; i += CHUNK_ROWS) {
        const found = await db
          .selectFrom('fhir_resource')
          .select(['pk', 'id'])
          .where('resource_type', '=', type)
          .where('id', 'in', ids.slice(i, i + CHUNK_ROWS))
          .execute();
        for (const row of found) pks.set(key(type, row.id), row.pk);
      }
    }
    const existing = writes.filter((w) => pks.get(key(w.resourceType, w.id))! >= 0);
    for (const w of existing) {
      const pk = pks.get(key(w.resourceType, w.id))!;
      await db
        .updateTable('fhir_resource')
        .set({ version_id: w.versionId, last_updated: w.lastUpdated, deleted: w.json === null ? 1 : 0, json: w.json })
        .where('pk', '=', pk)
        .execute();
    }
    const existingPks = existing.map((w) => pks.get(key(w.resourceType, w.id))!);
    for (let i = 0; i < existingPks.length; i += CHUNK_ROWS) {
      for (const table of Object.values(TABLE)) {
        await (db as Kysely<any>).deleteFrom(table).where('resource_pk', 'in', existingPks.slice(i, i + CHUNK_ROWS)).execute();
      }
    }
    const fresh = writes.filter((w) => pks.get(key(w.resourceType, w.id))! < 0);
    for (let i = 0; i < fresh.length; i += CHUNK_ROWS) {
      const inserted = await db
        .insertInto('fhir_resource')
        .values(
          fresh.slice(i, i + CHUNK_ROWS).map((w) => ({
            resource_type: w.resourceType,
            id: w.id,
            version_id: w.versionId,
            last_updated: w.lastUpdated,
            deleted: w.json === null ? 1 : 0,
            json: w.json,
          })),
        )
        // The order of RETURNING rows is unspecified (sqlite.org/lang_returning.html): matched by key.
        .returning(['pk', 'resource_type', 'id'])
        .execute();
      for (const row of inserted) pks.set(key(row.resource_type, row.id), row.pk);
    }
    const versions = writes.map((w) => ({
      pk: pks.get(key(w.resourceType, w.id))!,
      resourceType: w.resourceType,
      id: w.id,
      versionId: w.versionId,
      lastUpdated: w.lastUpdated,
      deleted: w.json === null,
      json: w.json,
    }));
    await insertChunked(
      db,
      'fhir_resource_history',
      writes.map((w, i) => ({
        resource_pk: versions[i]!.pk,
        resource_type: w.resourceType,
        id: w.id,
        version_id: w.versionId,
        last_updated: w.lastUpdated,
        deleted: w.json === null ? 1 : 0,
        method: w.method,
        json: w.json,
      })),
    );
    await this.#insertIndexRows(
      db,
      writes.flatMap((w, i) => (w.json === null ? [] : [{ pk: versions[i]!.pk, resourceType: w.resourceType, index: w.index }])),
    );
    return versions;
  }

  /**
   * History, newest first (http.html#history): of one resource, of a type, or of the whole system. `since` keeps
   * versions updated at or after it.
   */
  async history(
    db: FhirExecutor,
    scope: { resourceType?: string; id?: string; since?: string; at?: string; count: number; offset?: number },
  ): Promise<{ versions: FhirResourceVersion[]; total: number }> {
    let query = db.selectFrom('fhir_resource_history');
    if (scope.resourceType !== undefined) query = query.where('resource_type', '=', scope.resourceType);
    if (scope.id !== undefined) query = query.where('id', '=', scope.id);
    if (scope.since !== undefined) query = query.where('last_updated', '>=', scope.since);
    if (scope.at !== undefined) query = query.where('last_updated', '<=', scope.at);
    const totalRow = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await query
      .select(['resource_pk as pk', 'resource_type', 'id', 'version_id', 'last_updated', 'deleted', 'json', 'method'])
      .orderBy('last_updated', 'desc')
      .orderBy('version_id', 'desc')
      .limit(scope.count)
      .offset(scope.offset ?? 0)
      .execute();
    return { versions: rows.map(rowToVersion), total: Number(totalRow.n) };
  }

  /** SQLite's plan of the page query of a search (`explain query plan`), one line per step, for tests. */
  async explain(db: FhirExecutor, query: FhirSearchQuery): Promise<string[]> {
    const compiled = this.#pageQuery(db, query).compile();
    const result = await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${compiled.sql}`, [...compiled.parameters]));
    return result.rows.map((r) => r.detail);
  }

  /** Resources of a type matching every condition, sorted and paged. */
  async search(db: FhirExecutor, query: FhirSearchQuery): Promise<FhirSearchResult> {
    const offset = query.offset ?? 0;
    let resources: FhirResourceVersion[] = [];
    if (query.count > 0) {
      resources = ((await this.#pageQuery(db, query).execute()) as Parameters<typeof rowToVersion>[0][]).map(rowToVersion);
    }
    let total: number | undefined;
    if (query.total) {
      const row = (await this.#matches(db, query)
        .select((eb: Eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()) as { n: number };
      total = Number(row.n);
    } else if (query.count > 0 && resources.length < query.count && (offset === 0 || resources.length > 0)) {
      total = offset + resources.length;
    }
    return { resources, total };
  }

  /** The current resources of the type matching every condition, before selection, sorting and paging. */
  #matches(db: FhirExecutor, query: FhirSearchQuery) {
    const ordered = [...query.conditions].sort((a, b) => DRIVE_ORDER[a.kind] - DRIVE_ORDER[b.kind]);
    let q = (db as Kysely<any>).selectFrom('fhir_resource as r').where('r.deleted', '=', 0);
    // An index subquery that drives already keeps to the type (its rows carry their resource's type). Restating
    // it on `r` would offer SQLite the (resource_type, last_updated) index, and without statistics it prefers
    // walking every resource of the type to looking up the few primary keys the subquery found.
    const first = ordered[0];
    if (!first || !drivesByPrimaryKey(first)) q = q.where('r.resource_type', '=', query.resourceType);
    ordered.forEach((condition, i) => {
      // The first condition drives (`pk in (index subquery)` walks the search index); the others are checked
      // per candidate row through the `resource_pk` index. Left to itself SQLite may materialise every
      // subquery, which for a common code means reading a hundred thousand rows to keep ten.
      q = q.where((eb: Eb) => this.#condition(eb, db, query.resourceType, condition, i === 0 ? 'drive' : 'probe', 'r'));
    });
    return q;
  }

  #pageQuery(db: FhirExecutor, query: FhirSearchQuery) {
    let q = this.#matches(db, query).select(['r.pk', 'r.resource_type', 'r.id', 'r.version_id', 'r.last_updated', 'r.deleted', 'r.json']);
    for (const sort of query.sort ?? []) {
      q = q.orderBy(this.#sortExpression(sort), sort.descending ? 'desc' : 'asc');
    }
    return q.orderBy('r.pk', 'asc').limit(query.count).offset(query.offset ?? 0);
  }

  #sortExpression(sort: FhirSortKey): Expression<unknown> {
    if (sort.key === '_id') return sql.ref('r.id');
    if (sort.key === '_lastUpdated') return sql.ref('r.last_updated');
    const { param, index } = sort.key;
    const table = TABLE[index];
    // Ascending sorts on the lowest value of a repeating element, descending on the highest (search.html#_sort).
    const column = index === 'date' ? (sort.descending ? 'high' : 'low') : index === 'token' ? 'code' : 'value';
    const fn = sort.descending ? 'max' : 'min';
    return sql`(select ${sql.raw(fn)}(${sql.ref(`s.${column}`)}) from ${sql.table(table)} as s where s.resource_pk = r.pk and s.param = ${param})`;
  }

  /** A condition on `alias.pk`, either as the driving `in (subquery)` or as a correlated probe. */
  #condition(
    eb: Eb,
    db: FhirExecutor,
    resourceType: string,
    c: FhirCondition,
    mode: 'drive' | 'probe',
    alias: string,
  ): Expression<SqlBool> {
    const pkRef = `${alias}.pk`;
    const k = db as Kysely<any>;
    const indexed = (kind: FhirIndexKind, param: string | { prefix: string }, match: (eb: Eb) => Expression<SqlBool>) => {
      const paramMatch = (ib: Eb) => (typeof param === 'string' ? ib('i.param', '=', param) : startsWith(ib, 'i.param', param.prefix));
      const sub = k
        .selectFrom(`${TABLE[kind]} as i`)
        .select('i.resource_pk')
        .where('i.resource_type', '=', resourceType)
        .where(paramMatch)
        .where(match);
      if (mode === 'drive') return eb(pkRef, 'in', sub);
      return eb.exists(
        k
          .selectFrom(`${TABLE[kind]} as i`)
          .select(sql.lit(1).as('one'))
          .whereRef('i.resource_pk', '=', pkRef)
          .where(paramMatch)
          .where(match),
      );
    };
    switch (c.kind) {
      case 'id':
        return eb(`${alias}.id`, 'in', c.ids);
      case 'lastUpdated':
        return eb.or(c.values.map((v) => dateMatch(eb, `${alias}.last_updated`, `${alias}.last_updated`, v)));
      case 'token':
        if (c.not) {
          // `:not` matches resources with no value matching (including those without the element), so it can
          // never drive.
          return eb.not(
            eb.exists(
              k
                .selectFrom('fhir_token as i')
                .select(sql.lit(1).as('one'))
                .whereRef('i.resource_pk', '=', pkRef)
                .where('i.param', '=', c.param)
                .where(valueMatch(c)),
            ),
          );
        }
        return indexed('token', c.param, valueMatch(c));
      case 'string':
      case 'date':
      case 'reference':
      case 'quantity':
      case 'uri':
        return indexed(c.kind, c.param, valueMatch(c));
      case 'composite':
        return eb.or(c.values.map((v) => indexed(v.where.kind, 'param' in v ? v.param : { prefix: v.paramPrefix }, valueMatch(v.where))));
      case 'chain': {
        const alias2 = `${alias}c`;
        return indexed('reference', c.param, (ib) =>
          ib.and([
            ib('i.target_type', 'in', c.targetTypes),
            ib(
              'i.target_id',
              'in',
              k
                .selectFrom(`fhir_resource as ${alias2}`)
                .select(`${alias2}.id`)
                .where(`${alias2}.deleted`, '=', 0)
                .where((eb2: Eb) =>
                  eb2.or(
                    c.targetTypes.map((t) => {
                      const where = this.#condition(eb2, db, t, c.where, 'drive', alias2);
                      // As in a search: a driving index subquery keeps to the type by itself.
                      return drivesByPrimaryKey(c.where) ? where : eb2.and([eb2(`${alias2}.resource_type`, '=', t), where]);
                    }),
                  ),
                ),
            ),
          ]),
        );
      }
      case 'has': {
        const alias2 = `${alias}h`;
        return eb(
          `${alias}.id`,
          'in',
          k
            .selectFrom('fhir_reference as i')
            .innerJoin(`fhir_resource as ${alias2}`, `${alias2}.pk`, 'i.resource_pk')
            .select('i.target_id')
            .where('i.resource_type', '=', c.sourceType)
            .where('i.param', '=', c.param)
            .where('i.target_type', '=', resourceType)
            .where(`${alias2}.deleted`, '=', 0)
            .where((eb2: Eb) => this.#condition(eb2, db, c.sourceType, c.where, 'probe', alias2)),
        );
      }
      case 'missing': {
        const exists = eb.exists(
          k
            .selectFrom(`${TABLE[c.index]} as i`)
            .select(sql.lit(1).as('one'))
            .whereRef('i.resource_pk', '=', pkRef)
            .where('i.param', '=', c.param),
        );
        return c.missing ? eb.not(exists) : exists;
      }
    }
  }

  /** `_include`: the resources that references of `param` in `sources` point at (`*`: every reference). */
  async included(
    db: FhirExecutor,
    sources: readonly FhirResourceVersion[],
    param: string,
    targetType?: string,
  ): Promise<FhirResourceVersion[]> {
    if (sources.length === 0) return [];
    let q = db
      .selectFrom('fhir_reference as i')
      .innerJoin('fhir_resource as r', (join) =>
        join.onRef('r.resource_type', '=', 'i.target_type').onRef('r.id', '=', 'i.target_id'),
      )
      .select(['r.pk', 'r.resource_type', 'r.id', 'r.version_id', 'r.last_updated', 'r.deleted', 'r.json'])
      .distinct()
      .where('i.resource_pk', 'in', sources.map((s) => s.pk))
      .where('r.deleted', '=', 0);
    if (param !== '*') q = q.where('i.param', '=', param);
    if (targetType !== undefined) q = q.where('r.resource_type', '=', targetType);
    return (await q.execute()).map(rowToVersion);
  }

  /** `_revinclude`: `sourceType` resources whose reference `param` points at one of `targets`. */
  async revincluded(
    db: FhirExecutor,
    targets: readonly FhirResourceVersion[],
    sourceType: string,
    param: string,
  ): Promise<FhirResourceVersion[]> {
    if (targets.length === 0) return [];
    const byType = new Map<string, string[]>();
    for (const t of targets) byType.set(t.resourceType, [...(byType.get(t.resourceType) ?? []), t.id]);
    let q = db
      .selectFrom('fhir_resource as r')
      .selectAll('r')
      .where('r.resource_type', '=', sourceType)
      .where('r.deleted', '=', 0)
      .where('r.pk', 'in', (eb) => {
        let sub = eb
          .selectFrom('fhir_reference as i')
          .select('i.resource_pk')
          .where('i.resource_type', '=', sourceType)
          .where((ib) =>
            ib.or([...byType].map(([type, ids]) => ib.and([ib('i.target_type', '=', type), ib('i.target_id', 'in', ids)]))),
          );
        if (param !== '*') sub = sub.where('i.param', '=', param);
        return sub;
      });
    return (await q.execute()).map(rowToVersion);
  }

  /** Reads a named state value of the FHIR services. */
  async getState(db: FhirExecutor, name: string): Promise<string | undefined> {
    const row = await db.selectFrom('fhir_sync_state').select('value').where('name', '=', name).executeTakeFirst();
    return row?.value;
  }

  async setState(db: FhirExecutor, name: string, value: string): Promise<void> {
    const updatedAt = this.#database.now().toISOString();
    await db
      .insertInto('fhir_sync_state')
      .values({ name, value, updated_at: updatedAt })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value, updated_at: updatedAt }))
      .execute();
  }
}
