import type { DicomJsonAttribute, DicomJsonDataset, DicomJsonPersonName, DicomJsonValue, Vr } from '@atrium/dicom';
import { defaultDictionary, parsePersonName } from '@atrium/dicom';
import { CompiledQuery, sql, type DatabaseContext, type RawBuilder } from '@atrium/db';
import {
  COMMON_KEYS,
  KEY_CATALOGUE,
  LEVEL_ORDER,
  SPECIFIC_CHARACTER_SET,
  TIMEZONE_OFFSET_FROM_UTC,
  keyDefinition,
  type KeyDefinition,
  type MatchSpec,
  type QueryLevel,
  type QueryModel,
  type SequenceItemKey,
} from './catalogue.js';
import { QueryError } from './errors.js';
import {
  combineDateTimeRange,
  fuzzyPersonNameMatches,
  fuzzyPrefilterGlob,
  fuzzyTokens,
  globLiteral,
  isRangeValue,
  isUniversalWildcard,
  literalPrefix,
  parseDateTerm,
  parseIntegerTerm,
  parseTextTerm,
  parseTimeTerm,
  parseUidTerm,
  personNameQuery,
  prefixUpperBound,
  wildcardToGlob,
  type DateTimeRange,
  type MatchTerm,
} from './matching.js';

/**
 * One query of the archive, as a C-FIND identifier or a QIDO-RS request makes it (architecture.md, shared paths).
 * Keys with a value are matching keys (PS3.4 C.2.2.2); keys without one are return keys; every key is returned.
 */
export interface QueryRequest {
  level: QueryLevel;
  model: QueryModel;
  /** Matching keys with values and return keys (no value), in DICOM JSON. */
  keys: DicomJsonDataset;
  /** PN fuzzy matching (C-FIND extended negotiation, QIDO `fuzzymatching=true`); see `fuzzyPersonNameMatches`. */
  fuzzyMatching?: boolean;
  /**
   * Relational queries (C-FIND extended negotiation; always for QIDO-RS): the unique keys of the levels above are
   * not required (PS3.4 C.4.1.2.2.2).
   */
  relational?: boolean;
  /** Most results to return; unlimited when absent. */
  limit?: number;
  /** Results to skip first (QIDO `offset`). */
  offset?: number;
  /** Every key the index answers at this level and above is returned (QIDO `includefield=all`). */
  includeAllFields?: boolean;
  /** Aborted on C-CANCEL or when the requester goes away: iteration stops before the next result. */
  signal?: AbortSignal;
}

export interface QueryEngineOptions {
  /** The index database (`Archive.database`). */
  database: Pick<DatabaseContext, 'kysely'>;
  /** The AE title answered as RetrieveAETitle (0008,0054): this archive's. */
  retrieveAeTitle: string;
  /** Rows read per round trip; the connection is released between pages so ingest is never held up. Default 200. */
  pageSize?: number;
}

/** One requested return key and how it is answered. */
interface ReturnKey {
  readonly tag: string;
  readonly vr: Vr;
  /** Catalogue entry; absent for attributes answered from the stored document. */
  readonly definition?: KeyDefinition;
  /** A key of a level below the query level: answered empty (PS3.4 C.4.1.1.3.2 allows no deeper values). */
  readonly empty?: boolean;
  /** Requested item keys of a sequence return key; empty means whole items. */
  readonly itemTags: readonly string[];
}

type Row = Record<string, unknown>;

/** A validated request, ready to run: the SQL conditions, the JavaScript filters and the return keys. */
interface QueryPlan {
  readonly level: QueryLevel;
  readonly conditions: readonly RawBuilder<unknown>[];
  readonly postFilters: ReadonlyArray<(row: Row) => boolean>;
  readonly returnKeys: readonly ReturnKey[];
  readonly needsDocument: boolean;
  readonly needsRequestAttributes: boolean;
  readonly characterSetRequested: boolean;
}

const LEVELS: readonly QueryLevel[] = ['PATIENT', 'STUDY', 'SERIES', 'IMAGE'];
const MODELS: readonly QueryModel[] = ['PATIENT_ROOT', 'STUDY_ROOT'];

const FROM: Readonly<Record<QueryLevel, string>> = {
  PATIENT: 'patient p',
  STUDY: 'study st join patient p on p.id = st.patient_fk',
  SERIES: 'series se join study st on st.id = se.study_fk join patient p on p.id = st.patient_fk',
  IMAGE:
    'instance i join series se on se.id = i.series_fk join study st on st.id = se.study_fk ' +
    'join patient p on p.id = st.patient_fk',
};
const ID_COLUMN: Readonly<Record<QueryLevel, string>> = { PATIENT: 'p.id', STUDY: 'st.id', SERIES: 'se.id', IMAGE: 'i.id' };
const ALIAS_LEVEL: Readonly<Record<string, QueryLevel>> = { p: 'PATIENT', st: 'STUDY', se: 'SERIES', i: 'IMAGE' };

/** Date and time keys matched together as one date-time range when both are ranges (PS3.4 C.2.2.2.5.1). */
const DATE_TIME_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['00080020', '00080030'],
  ['00080021', '00080031'],
  ['00400244', '00400245'],
  ['00080023', '00080033'],
  ['00100030', '00100032'],
];

const alias = (column: string): string => column.replace('.', '__');

/** Columns the SELECT of a level reads: every catalogue column of the level and above (rows are small). */
function selectColumns(level: QueryLevel): string[] {
  const columns = new Set<string>([ID_COLUMN[level]]);
  for (const k of KEY_CATALOGUE) {
    if (LEVEL_ORDER[k.level] > LEVEL_ORDER[level]) continue;
    if (k.returns.from === 'column') columns.add(k.returns.column);
  }
  if (LEVEL_ORDER[level] >= LEVEL_ORDER.SERIES) columns.add('se.id');
  return [...columns].filter((c) => LEVEL_ORDER[ALIAS_LEVEL[c.split('.')[0]!]!] <= LEVEL_ORDER[level]);
}

function isEmptyValue(value: DicomJsonValue): boolean {
  if (value === null) return true;
  if (typeof value === 'number') return false;
  if (typeof value === 'string') return value.trim() === '' || isUniversalWildcard(value.trim());
  if ('Alphabetic' in value || 'Ideographic' in value || 'Phonetic' in value) {
    const pn = value as DicomJsonPersonName;
    return [pn.Alphabetic, pn.Ideographic, pn.Phonetic].every((g) => {
      const t = (g ?? '').replace(/\^/g, '').trim();
      return t === '' || isUniversalWildcard(t);
    });
  }
  return Object.values(value as DicomJsonDataset).every((a) => !attributeHasValue(a));
}

/** True when the key carries a matching value: zero-length, `*` and empty items are universal matching. */
export function attributeHasValue(attribute: DicomJsonAttribute | undefined): boolean {
  if (attribute === undefined || attribute.Value === undefined) return false;
  return attribute.Value.some((v) => !isEmptyValue(v));
}

/** The non-empty text values of a key: PS3.5 multiple values arrive as several JSON values. */
function textValues(attribute: DicomJsonAttribute): string[] {
  const values: string[] = [];
  for (const v of attribute.Value ?? []) {
    if (typeof v === 'number') values.push(String(v));
    else if (typeof v === 'string') {
      // A value still holding `\` came from an edge that did not split it (QIDO text): split it here.
      for (const part of v.split('\\')) if (part.trim() !== '') values.push(part.trim());
    }
  }
  return values;
}

function unsupported(keyword: string, reason: string): QueryError {
  return new QueryError('ATRIUM_ERR_QUERY_UNSUPPORTED_KEY', `Cannot match on ${keyword}: ${reason}`, { key: keyword });
}

/** The SQL of one term on one column. */
function termSql(column: string, term: MatchTerm): RawBuilder<unknown> | undefined {
  const ref = sql.raw(column);
  switch (term.type) {
    case 'equal':
      return sql`${ref} = ${term.value}`;
    case 'range': {
      if (term.lower !== undefined && term.upper !== undefined) return sql`${ref} between ${term.lower} and ${term.upper}`;
      if (term.lower !== undefined) return sql`${ref} >= ${term.lower}`;
      if (term.upper !== undefined) return sql`${ref} <= ${term.upper}`;
      return undefined;
    }
    case 'wildcard': {
      if (isUniversalWildcard(term.pattern)) return undefined;
      const prefix = literalPrefix(term.pattern);
      const parts: RawBuilder<unknown>[] = [];
      // The explicit range lets the planner seek an index on the literal prefix whatever the engine's LIKE/GLOB
      // optimisation rules; the GLOB then checks the rest of the pattern.
      if (prefix !== '') parts.push(sql`${ref} >= ${prefix} and ${ref} < ${prefixUpperBound(prefix)}`);
      if (term.pattern !== `${prefix}*`) parts.push(sql`${ref} glob ${wildcardToGlob(term.pattern)}`);
      return parts.length === 1 ? parts[0] : sql`(${sql.join(parts, sql` and `)})`;
    }
  }
}

/** Several terms of one key: any may match (C.2.2.2.2 list of UIDs, C.2.2.2.8 multiple values). */
function anyTermSql(column: string, terms: readonly MatchTerm[]): RawBuilder<unknown> | undefined {
  if (terms.length === 0) return undefined;
  if (terms.length > 1 && terms.every((t) => t.type === 'equal')) {
    return sql`${sql.raw(column)} in (${sql.join(terms.map((t) => (t as { value: string }).value))})`;
  }
  const parts: RawBuilder<unknown>[] = [];
  for (const t of terms) {
    const part = termSql(column, t);
    if (part === undefined) return undefined; // one universal alternative makes the whole key universal
    parts.push(part);
  }
  return parts.length === 1 ? parts[0] : sql`(${sql.join(parts, sql` or `)})`;
}

/** A term on a `\`-joined list column: the element must match, so the pattern is framed by separators. */
function listTermSql(column: string, term: MatchTerm): RawBuilder<unknown> | undefined {
  const framed = sql`('\\' || ${sql.raw(column)} || '\\')`;
  if (term.type === 'equal') return sql`${framed} glob ${`*\\${globLiteral(term.value)}\\*`}`;
  if (term.type === 'wildcard') {
    if (isUniversalWildcard(term.pattern)) return undefined;
    return sql`${framed} glob ${`*\\${wildcardToGlob(term.pattern)}\\*`}`;
  }
  return undefined;
}

function dateTimeRangeSql(dateColumn: string, timeColumn: string, range: DateTimeRange): RawBuilder<unknown> {
  const d = sql.raw(dateColumn);
  const t = sql.raw(`coalesce(${timeColumn}, '')`);
  const parts: RawBuilder<unknown>[] = [];
  // The plain date bounds come first so the planner can seek the (date, time) index; the exact bounds follow.
  if (range.lower) {
    parts.push(sql`${d} >= ${range.lower.date}`);
    parts.push(sql`(${d} > ${range.lower.date} or ${t} >= ${range.lower.time})`);
  }
  if (range.upper) {
    parts.push(sql`${d} <= ${range.upper.date}`);
    parts.push(sql`(${d} < ${range.upper.date} or ${t} <= ${range.upper.time})`);
  }
  return sql.join(parts, sql` and `);
}

function termsFor(keyword: string, kind: 'uid' | 'text' | 'date' | 'time' | 'integer' | 'list', values: string[]): MatchTerm[] {
  const nonUniversal = values.filter((v) => !isUniversalWildcard(v));
  if (nonUniversal.length < values.length) return [];
  return nonUniversal.map((v) => {
    switch (kind) {
      case 'uid':
        return parseUidTerm(keyword, v);
      case 'integer':
        return parseIntegerTerm(keyword, v);
      case 'date':
        return parseDateTerm(keyword, v);
      case 'time':
        return parseTimeTerm(keyword, v);
      case 'text':
      case 'list':
        return parseTextTerm(v);
    }
  });
}

function prettyTime(normal: string): string {
  // Stored times are padded for comparison ('101500.000000'); answer them as written, without trailing zeros.
  return normal.replace(/\.?0+$/, '') || '000000';
}

function hasNonAscii(value: unknown): boolean {
  if (typeof value === 'string') return /[^\x00-\x7f]/.test(value);
  if (Array.isArray(value)) return value.some(hasNonAscii);
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasNonAscii);
  return false;
}

/**
 * The one query engine of the archive (architecture.md, shared paths), shared by the C-FIND SCP and QIDO-RS. It
 * matches per PS3.4 C.2.2.2 on the typed index columns only (never reading files), pages with keyset SQL so memory
 * stays flat whatever the archive's size, and answers each result with exactly the requested return keys.
 */
export class QueryEngine {
  readonly #kysely: DatabaseContext['kysely'];
  readonly #retrieveAeTitle: string;
  readonly #pageSize: number;

  constructor(options: QueryEngineOptions) {
    this.#kysely = options.database.kysely;
    this.#retrieveAeTitle = options.retrieveAeTitle;
    this.#pageSize = Math.max(1, Math.trunc(options.pageSize ?? 200));
  }

  /**
   * Matches of the request, in index order (oldest first), each a DICOM JSON data set holding the requested keys
   * (the unique key of the level always; SpecificCharacterSet `ISO_IR 192` when a value is not ASCII). Validation
   * errors (`QueryError`) are thrown at the first `next()`, before any result. Stops quietly when `signal` aborts.
   */
  async *find(request: QueryRequest): AsyncGenerator<DicomJsonDataset, void, undefined> {
    const plan = this.#plan(request);
    const offset = request.offset ?? 0;
    const limit = request.limit ?? Number.POSITIVE_INFINITY;
    if (limit === 0) return;
    const filtered = plan.postFilters.length > 0;
    let skip = offset;
    let produced = 0;
    let lastId = 0;
    let first = true;
    for (;;) {
      if (request.signal?.aborted) return;
      const want = filtered ? this.#pageSize : Math.min(this.#pageSize, limit - produced);
      // Without JavaScript filters the offset is SQL's; with them rows are skipped as they pass the filters.
      const sqlOffset = first && !filtered ? skip : 0;
      if (first && !filtered) skip = 0;
      first = false;
      const rows = await this.#page(plan, lastId, want, sqlOffset);
      if (rows.length === 0) return;
      lastId = Number(rows[rows.length - 1]![alias(ID_COLUMN[plan.level])]);
      const matching = filtered ? rows.filter((row) => plan.postFilters.every((f) => f(row))) : rows;
      const selected: Row[] = [];
      for (const row of matching) {
        if (skip > 0) {
          skip--;
          continue;
        }
        if (produced + selected.length >= limit) break;
        selected.push(row);
      }
      if (selected.length > 0) {
        const documents = plan.needsDocument ? await this.#documents(plan.level, selected) : undefined;
        const requestAttributes = plan.needsRequestAttributes ? await this.#requestAttributes(selected) : undefined;
        for (const row of selected) {
          if (request.signal?.aborted) return;
          yield this.#result(plan, row, documents, requestAttributes);
          produced++;
        }
      }
      if (produced >= limit || rows.length < want) return;
    }
  }

  /** How many results the request has, ignoring `limit` and `offset` (QIDO-RS warns when a result is cut). */
  async count(request: QueryRequest): Promise<number> {
    const plan = this.#plan(request);
    if (plan.postFilters.length === 0) {
      const query = sql<{ n: number }>`select count(*) as n from ${sql.raw(FROM[plan.level])} where ${this.#where(plan)}`;
      const { rows } = await query.execute(this.#kysely);
      return Number(rows[0]?.n ?? 0);
    }
    let n = 0;
    let lastId = 0;
    for (;;) {
      if (request.signal?.aborted) return n;
      const rows = await this.#page(plan, lastId, this.#pageSize, 0);
      if (rows.length === 0) return n;
      lastId = Number(rows[rows.length - 1]![alias(ID_COLUMN[plan.level])]);
      n += rows.filter((row) => plan.postFilters.every((f) => f(row))).length;
      if (rows.length < this.#pageSize) return n;
    }
  }

  /** The database's plan for the request's first page (`EXPLAIN QUERY PLAN` details), for tests and benchmarks. */
  async explain(request: QueryRequest): Promise<string[]> {
    const plan = this.#plan(request);
    const compiled = this.#pageQuery(plan, 0, this.#pageSize, 0).compile(this.#kysely);
    const result = await this.#kysely.executeQuery<{ detail: string }>(
      CompiledQuery.raw(`explain query plan ${compiled.sql}`, [...compiled.parameters]),
    );
    return result.rows.map((r) => r.detail);
  }

  #where(plan: QueryPlan): RawBuilder<unknown> {
    return plan.conditions.length === 0 ? sql`1 = 1` : sql.join(plan.conditions, sql` and `);
  }

  #pageQuery(plan: QueryPlan, afterId: number, size: number, offset: number): RawBuilder<Row> {
    const id = ID_COLUMN[plan.level];
    const columns = selectColumns(plan.level).map((c) => `${c} as ${alias(c)}`).join(', ');
    return sql<Row>`select ${sql.raw(columns)} from ${sql.raw(FROM[plan.level])} where ${this.#where(plan)} and ${sql.raw(id)} > ${afterId} order by ${sql.raw(id)} limit ${size} offset ${offset}`;
  }

  async #page(plan: QueryPlan, afterId: number, size: number, offset: number): Promise<Row[]> {
    const { rows } = await this.#pageQuery(plan, afterId, size, offset).execute(this.#kysely);
    return rows;
  }

  /**
   * The stored DICOM JSON answering non-column return keys: the instance's own at IMAGE level; above it, the
   * first stored instance of the series, study or patient (one indexed lookup per result row, plus parsing).
   */
  async #documents(level: QueryLevel, rows: readonly Row[]): Promise<Map<number, DicomJsonDataset>> {
    const ids = rows.map((r) => Number(r[alias(ID_COLUMN[level])]));
    const list = sql.join(ids);
    let query: RawBuilder<{ id: number; dicom_json: string }>;
    switch (level) {
      case 'IMAGE':
        query = sql`select instance_fk as id, dicom_json from instance_metadata where instance_fk in (${list})`;
        break;
      case 'SERIES':
        query = sql`select i.series_fk as id, m.dicom_json from instance_metadata m join instance i on i.id = m.instance_fk
          where i.id in (select min(id) from instance where series_fk in (${list}) group by series_fk)`;
        break;
      case 'STUDY':
        query = sql`select se.study_fk as id, m.dicom_json from instance_metadata m join instance i on i.id = m.instance_fk
          join series se on se.id = i.series_fk
          where i.id in (select min(i2.id) from instance i2 join series s2 on s2.id = i2.series_fk
            where s2.study_fk in (${list}) group by s2.study_fk)`;
        break;
      case 'PATIENT':
        query = sql`select st.patient_fk as id, m.dicom_json from instance_metadata m join instance i on i.id = m.instance_fk
          join series se on se.id = i.series_fk join study st on st.id = se.study_fk
          where i.id in (select min(i2.id) from instance i2 join series s2 on s2.id = i2.series_fk
            join study t2 on t2.id = s2.study_fk where t2.patient_fk in (${list}) group by t2.patient_fk)`;
        break;
    }
    const { rows: found } = await query.execute(this.#kysely);
    return new Map(found.map((r) => [Number(r.id), JSON.parse(r.dicom_json) as DicomJsonDataset]));
  }

  async #requestAttributes(rows: readonly Row[]): Promise<Map<number, Row[]>> {
    const ids = rows.map((r) => Number(r[alias('se.id')]));
    const { rows: found } = await sql<Row>`select series_fk, scheduled_procedure_step_id, requested_procedure_id, accession_number
      from series_request_attribute where series_fk in (${sql.join(ids)}) order by series_fk, item_index`.execute(this.#kysely);
    const bySeries = new Map<number, Row[]>();
    for (const r of found) {
      const id = Number(r.series_fk);
      let items = bySeries.get(id);
      if (!items) bySeries.set(id, (items = []));
      items.push(r);
    }
    return bySeries;
  }

  #result(
    plan: QueryPlan,
    row: Row,
    documents: Map<number, DicomJsonDataset> | undefined,
    requestAttributes: Map<number, Row[]> | undefined,
  ): DicomJsonDataset {
    const out: DicomJsonDataset = {};
    const document = documents?.get(Number(row[alias(ID_COLUMN[plan.level])]));
    for (const rk of plan.returnKeys) {
      out[rk.tag] = this.#answer(plan, rk, row, document, requestAttributes);
    }
    if (hasNonAscii(out)) out[SPECIFIC_CHARACTER_SET] = { vr: 'CS', Value: ['ISO_IR 192'] };
    else if (plan.characterSetRequested) out[SPECIFIC_CHARACTER_SET] = { vr: 'CS' };
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  #answer(
    plan: QueryPlan,
    rk: ReturnKey,
    row: Row,
    document: DicomJsonDataset | undefined,
    requestAttributes: Map<number, Row[]> | undefined,
  ): DicomJsonAttribute {
    const empty: DicomJsonAttribute = { vr: rk.vr };
    if (rk.empty) return empty;
    const source = rk.definition?.returns ?? { from: 'document' as const };
    switch (source.from) {
      case 'constant':
        if (source.value === 'query-level') return { vr: 'CS', Value: [plan.level] };
        if (source.value === 'retrieve-ae-title') return { vr: 'AE', Value: [this.#retrieveAeTitle] };
        return { vr: 'CS', Value: ['ONLINE'] };
      case 'column': {
        const value = row[alias(source.column)];
        if (value === null || value === undefined || value === '') return empty;
        switch (source.as) {
          case 'integer':
            return { vr: rk.vr, Value: [Number(value)] };
          case 'time':
            return { vr: rk.vr, Value: [prettyTime(String(value))] };
          case 'list':
            return { vr: rk.vr, Value: String(value).split('\\') };
          case 'person-name':
            return { vr: 'PN', Value: String(value).split('\\').map(parsePersonName) };
          case 'text':
            return { vr: rk.vr, Value: [String(value)] };
        }
        return empty;
      }
      case 'request-attributes': {
        const stored = requestAttributes?.get(Number(row[alias('se.id')])) ?? [];
        const spec = rk.definition?.match;
        const itemKeys = spec?.kind === 'sequence' ? spec.items : [];
        const wanted = rk.itemTags.length > 0 ? itemKeys.filter((k) => rk.itemTags.includes(k.tag)) : itemKeys;
        const items = stored.map((r) => {
          const item: DicomJsonDataset = {};
          for (const k of wanted) {
            const v = r[k.column.split('.')[1]!];
            item[k.tag] = v === null || v === undefined ? { vr: k.vr } : { vr: k.vr, Value: [String(v)] };
          }
          return item;
        });
        return items.length > 0 ? { vr: 'SQ', Value: items } : { vr: 'SQ' };
      }
      case 'document': {
        const attribute = document?.[rk.tag];
        if (attribute === undefined) return empty;
        // Bulk data references point into the stored object, not to a URL the requester can use.
        if (attribute.BulkDataURI !== undefined) return { vr: attribute.vr };
        if (attribute.vr === 'SQ' && rk.itemTags.length > 0 && attribute.Value) {
          return {
            vr: 'SQ',
            Value: attribute.Value.map((item) =>
              Object.fromEntries(
                rk.itemTags.map((t) => [t, (item as DicomJsonDataset)[t] ?? { vr: 'UN' as Vr }]),
              ) as DicomJsonDataset,
            ),
          };
        }
        return attribute;
      }
    }
  }

  /** Validates the request and turns its keys into SQL conditions and return keys. Throws `QueryError`. */
  #plan(request: QueryRequest): QueryPlan {
    const { level, model } = request;
    if (!LEVELS.includes(level)) {
      throw new QueryError('ATRIUM_ERR_QUERY_INVALID_REQUEST', `Cannot query at level '${String(level)}': not one of ${LEVELS.join(', ')}`);
    }
    if (!MODELS.includes(model)) {
      throw new QueryError('ATRIUM_ERR_QUERY_INVALID_REQUEST', `Cannot query model '${String(model)}': not one of ${MODELS.join(', ')}`);
    }
    if (model === 'STUDY_ROOT' && level === 'PATIENT') {
      throw new QueryError('ATRIUM_ERR_QUERY_INVALID_REQUEST', `Cannot query at level 'PATIENT' in the Study Root model: it starts at STUDY (PS3.4 C.6.2)`);
    }
    for (const [name, n] of [['limit', request.limit], ['offset', request.offset]] as const) {
      if (n !== undefined && !(Number.isSafeInteger(n) && n >= 0)) {
        throw new QueryError('ATRIUM_ERR_QUERY_INVALID_REQUEST', `Cannot query with ${name} '${String(n)}': not a non-negative integer`);
      }
    }
    const keys: DicomJsonDataset = {};
    for (const [tag, attribute] of Object.entries(request.keys)) keys[tag.toUpperCase()] = attribute;

    if (!request.relational) this.#checkHierarchy(level, model, keys);

    const conditions: RawBuilder<unknown>[] = [];
    const postFilters: Array<(row: Row) => boolean> = [];
    const returnKeys: ReturnKey[] = [];
    const consumed = new Set<string>();

    for (const [dateTag, timeTag] of DATE_TIME_PAIRS) {
      const date = keys[dateTag];
      const time = keys[timeTag];
      const dateDef = keyDefinition(dateTag)!;
      const timeDef = keyDefinition(timeTag)!;
      if (!date || !time || LEVEL_ORDER[dateDef.level] > LEVEL_ORDER[level]) continue;
      const dv = textValues(date);
      const tv = textValues(time);
      if (dv.length !== 1 || tv.length !== 1 || !isRangeValue(dv[0]!) || !isRangeValue(tv[0]!)) continue;
      const range = combineDateTimeRange(parseDateTerm(dateDef.keyword, dv[0]!), parseTimeTerm(timeDef.keyword, tv[0]!));
      const dateColumn = (dateDef.match as { column: string }).column;
      const timeColumn = (timeDef.match as { column: string }).column;
      if (range.lower || range.upper) conditions.push(dateTimeRangeSql(dateColumn, timeColumn, range));
      consumed.add(dateTag).add(timeTag);
    }

    let characterSetRequested = false;
    for (const [tag, attribute] of Object.entries(keys)) {
      if (/^0000|^0002|^....0000$/.test(tag)) continue; // command, file meta and group length elements
      if (tag === SPECIFIC_CHARACTER_SET) {
        characterSetRequested = true;
        continue;
      }
      const definition = keyDefinition(tag);
      const hasValue = attributeHasValue(attribute) && tag !== TIMEZONE_OFFSET_FROM_UTC && tag !== '00080052';
      const itemTags = attribute.vr === 'SQ' ? Object.keys((attribute.Value?.[0] as DicomJsonDataset | undefined) ?? {}).map((t) => t.toUpperCase()) : [];
      if (definition === undefined) {
        if (hasValue) {
          const keyword = defaultDictionary().keywordOf(Number.parseInt(tag, 16) >>> 0) ?? tag;
          throw unsupported(keyword, `the index has no column for (${tag.slice(0, 4)},${tag.slice(4)}); it is a return key only (see supportedMatchingKeys('${level}'))`);
        }
        returnKeys.push({ tag, vr: attribute.vr, itemTags });
        continue;
      }
      if (LEVEL_ORDER[definition.level] > LEVEL_ORDER[level]) {
        if (hasValue) throw unsupported(definition.keyword, `it is a key of the ${definition.level} level, below the query level ${level}`);
        returnKeys.push({ tag, vr: definition.vr, definition, empty: true, itemTags });
        continue;
      }
      if (hasValue && !consumed.has(tag)) {
        if (definition.match === undefined) {
          throw unsupported(definition.keyword, `${definition.keyword} is a return key only, the index cannot match on it`);
        }
        this.#matchKey(definition, definition.match, attribute, request, conditions, postFilters);
      }
      returnKeys.push({ tag, vr: definition.vr, definition, itemTags });
    }

    const present = new Set(returnKeys.map((k) => k.tag));
    const add = (definition: KeyDefinition): void => {
      if (present.has(definition.tag)) return;
      present.add(definition.tag);
      returnKeys.push({ tag: definition.tag, vr: definition.vr, definition, itemTags: [] });
    };
    const uniqueKey = KEY_CATALOGUE.find((k) => k.unique && k.level === level)!;
    add(uniqueKey);
    if (request.includeAllFields) {
      for (const k of KEY_CATALOGUE) if (LEVEL_ORDER[k.level] <= LEVEL_ORDER[level]) add(k);
      for (const k of COMMON_KEYS) add(k);
      if (!present.has(TIMEZONE_OFFSET_FROM_UTC)) returnKeys.push({ tag: TIMEZONE_OFFSET_FROM_UTC, vr: 'SH', itemTags: [] });
      characterSetRequested = true;
    }

    return {
      level,
      conditions,
      postFilters,
      returnKeys,
      needsDocument: returnKeys.some((k) => !k.empty && (k.definition === undefined || k.definition.returns.from === 'document')),
      needsRequestAttributes: returnKeys.some((k) => !k.empty && k.definition?.returns.from === 'request-attributes'),
      characterSetRequested,
    };
  }

  /** Hierarchical queries (PS3.4 C.4.1.2.2.1) name each level above by its unique key, with single values. */
  #checkHierarchy(level: QueryLevel, model: QueryModel, keys: DicomJsonDataset): void {
    const above: KeyDefinition[] = KEY_CATALOGUE.filter(
      (k) =>
        k.unique &&
        LEVEL_ORDER[k.level] < LEVEL_ORDER[level] &&
        // In the Study Root model the patient attributes belong to the study level: no patient unique key.
        !(model === 'STUDY_ROOT' && k.level === 'PATIENT'),
    );
    for (const k of above) {
      const attribute = keys[k.tag];
      const values = attribute ? textValues(attribute) : [];
      if (values.length === 0 || values.some(isUniversalWildcard)) {
        throw new QueryError(
          'ATRIUM_ERR_QUERY_MISSING_UNIQUE_KEY',
          `Cannot query at level ${level} of the ${model === 'PATIENT_ROOT' ? 'Patient' : 'Study'} Root model: ` +
            `the unique key ${k.keyword} of the ${k.level} level is required without relational queries (PS3.4 C.4.1.2.2.1)`,
          { key: k.keyword },
        );
      }
      if (values.some((v) => v.includes('*') || v.includes('?'))) {
        throw new QueryError(
          'ATRIUM_ERR_QUERY_MISSING_UNIQUE_KEY',
          `Cannot query at level ${level}: the unique key ${k.keyword} '${values.join('\\')}' must be single values, not a wildcard, without relational queries (PS3.4 C.4.1.2.2.1)`,
          { key: k.keyword },
        );
      }
    }
  }

  #matchKey(
    definition: KeyDefinition,
    spec: MatchSpec,
    attribute: DicomJsonAttribute,
    request: QueryRequest,
    conditions: RawBuilder<unknown>[],
    postFilters: Array<(row: Row) => boolean>,
  ): void {
    const push = (c: RawBuilder<unknown> | undefined): void => {
      if (c !== undefined) conditions.push(c);
    };
    switch (spec.kind) {
      case 'uid':
      case 'text':
      case 'date':
      case 'time':
      case 'integer':
        push(anyTermSql(spec.column, termsFor(definition.keyword, spec.kind, textValues(attribute))));
        return;
      case 'list': {
        const terms = termsFor(definition.keyword, spec.kind, textValues(attribute));
        const parts = terms.map((t) => listTermSql(spec.column, t));
        if (parts.length === 0 || parts.some((p) => p === undefined)) return;
        push(parts.length === 1 ? parts[0] : sql`(${sql.join(parts as RawBuilder<unknown>[], sql` or `)})`);
        return;
      }
      case 'modalities-in-study': {
        const terms = termsFor(definition.keyword, 'text', textValues(attribute));
        const inner = anyTermSql('m.modality', terms);
        // IN (subquery) lets the planner either probe studies by id from the (modality, study_fk) index or
        // check each candidate study, whichever the other keys make cheaper.
        if (inner !== undefined) push(sql`st.id in (select m.study_fk from series m where ${inner})`);
        return;
      }
      case 'person-name':
        this.#matchPersonName(definition, spec, attribute, request, conditions, postFilters);
        return;
      case 'sequence': {
        const items = (attribute.Value ?? []).filter((v): v is DicomJsonDataset => typeof v === 'object' && v !== null);
        if (items.length > 1) {
          throw new QueryError(
            'ATRIUM_ERR_QUERY_INVALID_VALUE',
            `Cannot match ${definition.keyword}: sequence matching takes one item, not ${items.length} (PS3.4 C.2.2.2.6)`,
            { key: definition.keyword },
          );
        }
        const item = items[0] ?? {};
        const itemConditions: RawBuilder<unknown>[] = [];
        for (const [itemTag, itemAttribute] of Object.entries(item)) {
          if (!attributeHasValue(itemAttribute)) continue;
          const itemKey: SequenceItemKey | undefined = spec.items.find((k) => k.tag === itemTag.toUpperCase());
          if (itemKey === undefined) {
            throw unsupported(`${definition.keyword}>${itemTag}`, `the index matches only ${spec.items.map((k) => k.keyword).join(', ')} in ${definition.keyword} items`);
          }
          const c = anyTermSql(itemKey.column, termsFor(itemKey.keyword, itemKey.kind, textValues(itemAttribute)));
          if (c !== undefined) itemConditions.push(c);
        }
        if (itemConditions.length === 0) return;
        if (spec.storage.in === 'row') {
          conditions.push(...itemConditions);
        } else {
          // Every item key must hold in the same item (PS3.4 C.2.2.2.6), hence one subquery over item rows.
          push(sql`se.id in (select r.series_fk from series_request_attribute r where ${sql.join(itemConditions, sql` and `)})`);
        }
        return;
      }
    }
  }

  #matchPersonName(
    definition: KeyDefinition,
    spec: Extract<MatchSpec, { kind: 'person-name' }>,
    attribute: DicomJsonAttribute,
    request: QueryRequest,
    conditions: RawBuilder<unknown>[],
    postFilters: Array<(row: Row) => boolean>,
  ): void {
    const values = (attribute.Value ?? []).filter((v) => !isEmptyValue(v));
    const queries = values.flatMap((v) =>
      typeof v === 'string' ? v.split('\\').map((s) => personNameQuery(s)) : [personNameQuery(v as DicomJsonPersonName)],
    );
    if (request.fuzzyMatching) {
      const rawAlias = alias(spec.raw);
      // One group of the query is compared with every group stored: the first the requester filled in.
      const texts = queries.map((q) => q.alphabetic || q.phonetic || q.ideographic);
      // SQLite drops most rows with a coarse GLOB per word; the exact rule runs on what is left.
      const prefilters = texts.map((t) => {
        const words = fuzzyTokens(t).map((w) => sql`${sql.raw(spec.raw)} glob ${fuzzyPrefilterGlob(w)}`);
        return words.length === 0 ? undefined : sql`(${sql.join(words, sql` and `)})`;
      });
      if (prefilters.length > 0 && prefilters.every((p) => p !== undefined)) {
        conditions.push(prefilters.length === 1 ? prefilters[0]! : sql`(${sql.join(prefilters as RawBuilder<unknown>[], sql` or `)})`);
      }
      postFilters.push((row) => {
        const stored = (row[rawAlias] as string | null) ?? null;
        return texts.some((t) => fuzzyPersonNameMatches(t, stored));
      });
      return;
    }
    const alternatives: RawBuilder<unknown>[] = [];
    for (const q of queries) {
      const groups: RawBuilder<unknown>[] = [];
      const group = (column: string | undefined, value: string, name: string): void => {
        if (value === '' || isUniversalWildcard(value)) return;
        if (column === undefined) {
          throw unsupported(definition.keyword, `the index keeps no ${name} group of ${definition.keyword}`);
        }
        const c = termSql(column, parseTextTerm(value));
        if (c !== undefined) groups.push(c);
      };
      // Case-insensitive on the alphabetic group (the dcm4chee default; PS3.4 C.2.2.2.1 allows it): the search
      // column is upper-cased at ingest with the same `toUpperCase`, so wildcards run on the normalised text.
      group(spec.column, q.alphabetic.toUpperCase(), 'alphabetic');
      group(spec.ideographic, q.ideographic, 'ideographic');
      group(spec.phonetic, q.phonetic, 'phonetic');
      if (groups.length === 0) return; // one universal alternative: no condition at all
      alternatives.push(groups.length === 1 ? groups[0]! : sql`(${sql.join(groups, sql` and `)})`);
    }
    if (alternatives.length === 1) conditions.push(alternatives[0]!);
    else if (alternatives.length > 1) conditions.push(sql`(${sql.join(alternatives, sql` or `)})`);
  }
}
