import { randomUUID } from 'node:crypto';
import { FhirRepository, type AtriumDatabase, type FhirExecutor, type FhirResourceVersion, type FhirWrite } from '@atrium/db';
import type { Logger } from '../logger.js';
import { FhirError, operationOutcome, outcomeOfError, type FhirIssue } from './fhir-error.js';
import { applyJsonPatch } from './json-patch.js';
import { indexResource, SEARCH_INDEX_VERSION } from './search-index.js';
import { READ_ONLY_RESOURCE_TYPES, SUPPORTED_RESOURCE_TYPES } from './search-parameters.js';
import { parseSearch, MAX_COUNT, DEFAULT_COUNT, type IncludeSpec } from './search-query.js';
import { validateResource } from './validate-resource.js';
import { dateRange } from './fhir-primitives.js';
import { capabilityStatement } from './capability-statement.js';
import { relinkImagingStudies } from './imaging-study.js';

export type FhirResource = Record<string, unknown> & { resourceType: string; id?: string };

/** A FHIR interaction, from HTTP or from a Bundle entry (FHIR R4 http.html). */
export interface FhirRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  /** Path below the base, split: `['Patient', '123', '_history', '2']`. */
  path: string[];
  query: Array<[string, string]>;
  body?: unknown;
  ifMatch?: string;
  ifNoneExist?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  /** `Prefer` header: `return=minimal|representation|OperationOutcome`, `handling=strict|lenient`. */
  prefer?: string;
  /** Absolute base of the API, e.g. `http://127.0.0.1:8080/fhir`, for fullUrl, Location and links. */
  base: string;
}

export interface FhirResponse {
  status: number;
  body?: Record<string, unknown>;
  location?: string;
  etag?: string;
  lastModified?: string;
}

/** Internal writers (the ImagingStudy derivation) may write read-only types. */
interface WriteOptions {
  system?: boolean;
}

const ALLOWED_TYPES = new Set(SUPPORTED_RESOURCE_TYPES);
/** The `fhir_sync_state` entry holding the SEARCH_INDEX_VERSION the stored index rows were written by. */
const INDEX_VERSION_STATE = 'search-index-version';
/** Rounds of `_include:iterate` / `_revinclude:iterate` after the first. */
const MAX_INCLUDE_ROUNDS = 8;
const ID = /^[A-Za-z0-9\-.]{1,64}$/;

function parseBody(version: FhirResourceVersion): FhirResource {
  return JSON.parse(version.json ?? 'null') as FhirResource;
}

function weakEtag(versionId: number): string {
  return `W/"${versionId}"`;
}

/** The version number in `If-Match` (`W/"3"`, `"3"` or `3`), or undefined when it is not one. */
function versionOfEtag(etag: string): number | undefined {
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(etag.trim());
  return m ? Number(m[1]) : undefined;
}

function httpDate(iso: string): string {
  return new Date(iso).toUTCString();
}

function notFound(type: string, id: string): FhirError {
  return new FhirError('ATRIUM_ERR_FHIR_NOT_FOUND', `Cannot find ${type}/${id}: no such resource`, { expression: [`${type}/${id}`] });
}

function checkType(type: string | undefined): string {
  if (!type || !ALLOWED_TYPES.has(type)) {
    throw new FhirError('ATRIUM_ERR_FHIR_NOT_FOUND', `Cannot handle resource type '${type ?? ''}': not supported by this server (see /fhir/metadata)`, {
      httpStatus: 404,
      issues: [{ severity: 'error', code: 'not-supported', diagnostics: `Cannot handle resource type '${type ?? ''}': not supported by this server (see /fhir/metadata)` }],
    });
  }
  return type;
}

function checkId(id: string): string {
  if (!ID.test(id)) throw new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot use id '${id.slice(0, 80)}': not a FHIR id ([A-Za-z0-9-.]{1,64})`, { expression: ['id'] });
  return id;
}

/** Puts resourceType, id and meta first, as people expect to read them. */
function ordered(resource: FhirResource): FhirResource {
  const { resourceType, id, meta, ...rest } = resource;
  return { resourceType, ...(id !== undefined ? { id } : {}), ...(meta !== undefined ? { meta } : {}), ...rest } as FhirResource;
}

/** Resource content without server-set meta, to tell a real change from a rewrite of the same content. */
function contentOf(resource: FhirResource): string {
  const { meta, ...rest } = resource;
  const { versionId: _v, lastUpdated: _l, ...keptMeta } = (meta ?? {}) as Record<string, unknown>;
  return JSON.stringify({ ...rest, meta: keptMeta });
}

/** Every `reference` string in a resource, for rewriting `urn:uuid:` and conditional references. */
function visitReferences(node: unknown, fn: (holder: Record<string, unknown>) => void): void {
  if (Array.isArray(node)) for (const item of node) visitReferences(item, fn);
  else if (node !== null && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    if (typeof record.reference === 'string') fn(record);
    for (const value of Object.values(record)) visitReferences(value, fn);
  }
}

/**
 * The FHIR R4 store's interactions (http.html): read, vread, create (and conditional), update (and conditional,
 * with `If-Match`), JSON Patch, delete, history, search, batch and transaction. Each write validates the resource,
 * gives it the next version and its `meta`, and writes it with its search index in one database transaction.
 */
export class FhirService {
  readonly repository: FhirRepository;
  readonly #database: AtriumDatabase;
  readonly #logger: Logger;

  constructor(options: { database: AtriumDatabase; logger: Logger }) {
    this.#database = options.database;
    this.#logger = options.logger;
    this.repository = new FhirRepository(options.database);
  }

  /** The database the service reads and writes (for the ImagingStudy derivation). */
  get database(): AtriumDatabase {
    return this.#database;
  }

  now(): string {
    return this.#database.now().toISOString();
  }

  /** Runs one interaction: writes in their own transaction, reads on the database. */
  async handle(request: FhirRequest): Promise<FhirResponse> {
    if (request.method === 'GET' || request.method === 'HEAD') return this.interact(this.repository.db, request);
    if (request.method === 'POST' && request.path.length === 0) return this.bundle(request);
    if (request.method === 'POST' && request.path[1] === '_search') return this.interact(this.repository.db, request);
    // Clients write concurrently: their commits share the WAL flush (as DICOM ingest's do), still durable
    // before the answer.
    return this.repository.transaction((trx) => this.interact(trx, request), { groupCommit: true });
  }

  /** One interaction on `db` (the database, or the transaction of a bundle). */
  async interact(db: FhirExecutor, request: FhirRequest): Promise<FhirResponse> {
    const [type, id, op, vid, ...extra] = request.path;
    if (type === 'metadata' && request.path.length === 1 && request.method === 'GET') {
      return { status: 200, body: capabilityStatement(request.base, this.#database.now()) };
    }
    if (type === '_history' && request.path.length === 1 && request.method === 'GET') return this.#history(db, request, {});
    if (extra.length > 0) throw this.#noRoute(request);
    const resourceType = checkType(type);
    switch (request.method) {
      case 'GET':
      case 'HEAD':
        if (id === undefined) return this.#search(db, resourceType, request.query, request);
        if (id === '_history' && op === undefined) return this.#history(db, request, { resourceType });
        if (op === undefined) return this.#read(db, resourceType, checkId(id), request);
        if (op === '_history' && vid === undefined) return this.#history(db, request, { resourceType, id: checkId(id) });
        if (op === '_history' && vid !== undefined) return this.#vread(db, resourceType, checkId(id), vid);
        break;
      case 'POST':
        if (id === '_search' && op === undefined) return this.#search(db, resourceType, request.query, request);
        if (id === undefined) return this.#create(db, resourceType, request.body, request);
        break;
      case 'PUT':
        if (id === undefined) return this.#conditionalUpdate(db, resourceType, request);
        if (op === undefined) return this.#update(db, resourceType, checkId(id), request.body, request, 'PUT');
        break;
      case 'PATCH':
        if (id === undefined) {
          const target = await this.#singleMatch(db, resourceType, request.query, 'patch');
          if (!target) throw new FhirError('ATRIUM_ERR_FHIR_NOT_FOUND', `Cannot patch ${resourceType}: no resource matches the conditions`);
          return this.#patch(db, resourceType, target.id!, request);
        }
        if (op === undefined) return this.#patch(db, resourceType, checkId(id), request);
        break;
      case 'DELETE':
        if (id === undefined) {
          const target = await this.#singleMatch(db, resourceType, request.query, 'delete');
          if (!target) return { status: 204 };
          return this.#delete(db, resourceType, target.id!);
        }
        if (op === undefined) return this.#delete(db, resourceType, checkId(id));
        break;
    }
    throw this.#noRoute(request);
  }

  #noRoute(request: FhirRequest): FhirError {
    return new FhirError(
      'ATRIUM_ERR_FHIR_NOT_SUPPORTED',
      `Cannot ${request.method} '${request.path.join('/')}': no such FHIR interaction (see /fhir/metadata)`,
      { httpStatus: request.method === 'GET' ? 404 : 405 },
    );
  }

  // ---- reads ----

  async #read(db: FhirExecutor, type: string, id: string, request: FhirRequest): Promise<FhirResponse> {
    const version = await this.repository.read(db, type, id);
    if (!version) throw notFound(type, id);
    if (version.deleted) {
      throw new FhirError('ATRIUM_ERR_FHIR_GONE', `Cannot read ${type}/${id}: deleted in version ${version.versionId}`, {
        expression: [`${type}/${id}`],
      });
    }
    if (request.ifNoneMatch && versionOfEtag(request.ifNoneMatch) === version.versionId) {
      return { status: 304, etag: weakEtag(version.versionId) };
    }
    if (request.ifModifiedSince && Date.parse(request.ifModifiedSince) >= Math.floor(Date.parse(version.lastUpdated) / 1000) * 1000) {
      return { status: 304, etag: weakEtag(version.versionId) };
    }
    return this.#versionResponse(version, 200);
  }

  async #vread(db: FhirExecutor, type: string, id: string, vid: string): Promise<FhirResponse> {
    if (!/^\d+$/.test(vid)) throw new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot read version '${vid}' of ${type}/${id}: not a version number`);
    const version = await this.repository.vread(db, type, id, Number(vid));
    if (!version) throw new FhirError('ATRIUM_ERR_FHIR_NOT_FOUND', `Cannot find version ${vid} of ${type}/${id}`);
    if (version.deleted) throw new FhirError('ATRIUM_ERR_FHIR_GONE', `Cannot read version ${vid} of ${type}/${id}: it is a deletion`);
    return this.#versionResponse(version, 200);
  }

  #versionResponse(version: FhirResourceVersion, status: number, base?: string): FhirResponse {
    return {
      status,
      ...(version.json !== null ? { body: parseBody(version) } : {}),
      etag: weakEtag(version.versionId),
      lastModified: httpDate(version.lastUpdated),
      ...(base ? { location: `${base}/${version.resourceType}/${version.id}/_history/${version.versionId}` } : {}),
    };
  }

  /** Reads a current, non-deleted resource, or undefined. */
  async get(db: FhirExecutor, type: string, id: string): Promise<FhirResource | undefined> {
    const version = await this.repository.read(db, type, id);
    return version && !version.deleted ? parseBody(version) : undefined;
  }

  /** Runs a search (parameters as in a URL) and returns the matching resources, for internal callers. */
  async find(db: FhirExecutor, type: string, params: Array<[string, string]>, count = MAX_COUNT): Promise<FhirResource[]> {
    const parsed = parseSearch(type, [...params, ['_count', String(count)]]);
    const result = await this.repository.search(db, parsed.query);
    return result.resources.map(parseBody);
  }

  // ---- search and history ----

  async #search(db: FhirExecutor, type: string, params: Array<[string, string]>, request: FhirRequest): Promise<FhirResponse> {
    const lenient = /handling=lenient/.test(request.prefer ?? '');
    const parsed = parseSearch(type, params, { lenient });
    const { resources, total } = await this.repository.search(db, parsed.query);
    const included = await this.#included(db, resources, parsed.includes, parsed.revincludes);
    const seen = new Set(resources.map((r) => `${r.resourceType}/${r.id}`));
    const entries: Array<Record<string, unknown>> = resources.map((r) => ({
      fullUrl: `${request.base}/${r.resourceType}/${r.id}`,
      resource: parseBody(r),
      search: { mode: 'match' },
    }));
    for (const r of included) {
      const key = `${r.resourceType}/${r.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      entries.push({ fullUrl: `${request.base}/${key}`, resource: parseBody(r), search: { mode: 'include' } });
    }
    if (parsed.ignored.length > 0) {
      entries.push({
        resource: operationOutcome(
          parsed.ignored.map((p) => ({ severity: 'warning', code: 'not-supported', diagnostics: `Parameter '${p}' is not supported and was ignored`, expression: [p] })),
        ),
        search: { mode: 'outcome' },
      });
    }
    const count = parsed.query.count;
    const offset = parsed.query.offset ?? 0;
    const link = (relation: string, at: number) => {
      const query = new URLSearchParams([...parsed.selfParams.filter(([k]) => k !== '_count'), ['_count', String(count)], ['_offset', String(at)]]);
      return { relation, url: `${request.base}/${type}?${query.toString()}` };
    };
    const links = [link('self', offset)];
    if (count > 0) {
      if (offset > 0) links.push(link('previous', Math.max(0, offset - count)));
      const more = total !== undefined ? offset + resources.length < total : resources.length === count;
      if (more) links.push(link('next', offset + count));
    }
    return {
      status: 200,
      body: {
        resourceType: 'Bundle',
        id: randomUUID(),
        meta: { lastUpdated: this.now() },
        type: 'searchset',
        ...(total !== undefined ? { total } : {}),
        link: links,
        ...(entries.length > 0 ? { entry: entries } : {}),
      },
    };
  }

  /**
   * `_include` and `_revinclude` of the matches, then the `:iterate` ones again on what was included, until a round
   * adds nothing (search.html#revinclude); at most MAX_INCLUDE_ROUNDS rounds, so a cycle of references ends.
   */
  async #included(db: FhirExecutor, matches: FhirResourceVersion[], includes: IncludeSpec[], revincludes: IncludeSpec[]): Promise<FhirResourceVersion[]> {
    const seen = new Set(matches.map((r) => `${r.resourceType}/${r.id}`));
    const all: FhirResourceVersion[] = [];
    let sources = matches;
    for (let round = 0; round < MAX_INCLUDE_ROUNDS && sources.length > 0; round++) {
      const found: FhirResourceVersion[] = [];
      for (const include of includes) {
        if (round > 0 && !include.iterate) continue;
        const from = include.param === '*' ? sources : sources.filter((r) => r.resourceType === include.sourceType);
        found.push(...(await this.repository.included(db, from, include.param, include.targetType)));
      }
      for (const rev of revincludes) {
        if (round > 0 && !rev.iterate) continue;
        found.push(...(await this.repository.revincluded(db, sources, rev.sourceType, rev.param)));
      }
      sources = [];
      for (const r of found) {
        const key = `${r.resourceType}/${r.id}`;
        if (seen.has(key)) continue;
        seen.add(key);
        sources.push(r);
      }
      all.push(...sources);
    }
    return all;
  }

  async #history(db: FhirExecutor, request: FhirRequest, scope: { resourceType?: string; id?: string }): Promise<FhirResponse> {
    let count = DEFAULT_COUNT;
    let offset = 0;
    let since: string | undefined;
    let at: string | undefined;
    for (const [key, value] of request.query) {
      if (key === '_count' && /^\d+$/.test(value)) count = Math.min(Number(value), MAX_COUNT);
      else if (key === '_offset' && /^\d+$/.test(value)) offset = Number(value);
      else if (key === '_since' || key === '_at') {
        const range = dateRange(value);
        if (!range) throw new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot read history: ${key} '${value}' is not an instant`, { expression: [key] });
        if (key === '_since') since = range.low;
        else at = range.high;
      } else if (key !== '_format' && key !== '_pretty') {
        throw new FhirError('ATRIUM_ERR_FHIR_NOT_SUPPORTED', `Cannot read history with parameter '${key}': only _count, _offset, _since and _at are supported`, {
          expression: [key],
        });
      }
    }
    if (scope.id !== undefined && scope.resourceType !== undefined) {
      const current = await this.repository.read(db, scope.resourceType, scope.id);
      if (!current) throw notFound(scope.resourceType, scope.id);
    }
    const { versions, total } = await this.repository.history(db, {
      ...scope,
      ...(since ? { since } : {}),
      ...(at ? { at } : {}),
      count,
      offset,
    });
    const path = [scope.resourceType, scope.id, '_history'].filter((p) => p !== undefined).join('/');
    const link = (relation: string, o: number) => ({ relation, url: `${request.base}/${path}?_count=${count}&_offset=${o}` });
    const links = [link('self', offset)];
    if (offset + versions.length < total) links.push(link('next', offset + count));
    if (offset > 0) links.push(link('previous', Math.max(0, offset - count)));
    return {
      status: 200,
      body: {
        resourceType: 'Bundle',
        id: randomUUID(),
        meta: { lastUpdated: this.now() },
        type: 'history',
        total,
        link: links,
        ...(versions.length > 0
          ? {
              entry: versions.map((v) => ({
                fullUrl: `${request.base}/${v.resourceType}/${v.id}`,
                ...(v.json !== null ? { resource: parseBody(v) } : {}),
                request: {
                  method: v.method ?? 'PUT',
                  url: v.method === 'POST' ? v.resourceType : `${v.resourceType}/${v.id}`,
                },
                response: {
                  status: v.deleted ? '204' : v.method === 'POST' ? '201' : '200',
                  etag: weakEtag(v.versionId),
                  lastModified: v.lastUpdated,
                },
              })),
            }
          : {}),
      },
    };
  }

  // ---- writes ----

  /** Validates a resource body for `type`; throws an OperationOutcome naming each element at fault. */
  validate(type: string, body: unknown): FhirResource {
    const issues = validateResource(body, ALLOWED_TYPES);
    if (issues.length > 0) {
      throw new FhirError('ATRIUM_ERR_FHIR_INVALID', issues[0]!.diagnostics, { issues });
    }
    const resource = body as FhirResource;
    if (resource.resourceType !== type) {
      throw new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot accept a ${resource.resourceType} at the ${type} endpoint`, { expression: ['resourceType'] });
    }
    return resource;
  }

  #checkWritable(type: string, options: WriteOptions): void {
    if (!options.system && READ_ONLY_RESOURCE_TYPES.has(type)) {
      throw new FhirError(
        'ATRIUM_ERR_FHIR_READ_ONLY',
        `Cannot write ${type}: it is derived from the image archive (send the images instead) and read-only here`,
      );
    }
  }

  /** Writes a version of `resource` (validated by the caller) with the next version number. */
  async write(
    db: FhirExecutor,
    resource: FhirResource,
    method: 'POST' | 'PUT' | 'PATCH',
    current: FhirResourceVersion | undefined,
    options: { relink?: boolean } = {},
  ): Promise<FhirResourceVersion> {
    const { stored, write } = this.#nextVersion(resource, method, current, this.now());
    const version = await this.repository.write(db, write);
    // The derivation's own writes pass relink: false, or deriving a study would re-derive it through its Patient.
    if (options.relink !== false) await relinkImagingStudies(this, db, stored);
    return version;
  }

  /**
   * Writes versions of many resources (validated by the caller, each at most once) with multi-row statements:
   * the creates of a transaction Bundle. Same result as `write` on each in turn.
   */
  async writeMany(
    db: FhirExecutor,
    items: ReadonlyArray<{ resource: FhirResource; method: 'POST' | 'PUT' | 'PATCH'; current?: FhirResourceVersion }>,
    options: { relink?: boolean } = {},
  ): Promise<FhirResourceVersion[]> {
    const lastUpdated = this.now();
    const prepared = items.map((item) => this.#nextVersion(item.resource, item.method, item.current, lastUpdated));
    const versions = await this.repository.writeMany(db, prepared.map((p) => p.write));
    if (options.relink !== false) {
      for (const { stored } of prepared) await relinkImagingStudies(this, db, stored);
    }
    return versions;
  }

  /** The next version of `resource`: its `meta` and the row and index to store. */
  #nextVersion(resource: FhirResource, method: 'POST' | 'PUT' | 'PATCH', current: FhirResourceVersion | undefined, lastUpdated: string) {
    const versionId = (current?.versionId ?? 0) + 1;
    const meta = { ...((resource.meta as Record<string, unknown> | undefined) ?? {}), versionId: String(versionId), lastUpdated };
    const stored = ordered({ ...resource, meta });
    const write: FhirWrite = {
      resourceType: stored.resourceType,
      id: stored.id!,
      versionId,
      lastUpdated,
      method,
      json: JSON.stringify(stored),
      index: indexResource(stored),
    };
    return { stored, write };
  }

  /**
   * Re-derives the search index of every stored resource when it was written by an older `SEARCH_INDEX_VERSION`
   * (versions and history unchanged), in transactions of 500 resources; returns how many were re-indexed. A new
   * store records the current version and has nothing to do.
   */
  async reindexIfStale(): Promise<number> {
    const stored = await this.repository.getState(this.repository.db, INDEX_VERSION_STATE);
    if (stored === String(SEARCH_INDEX_VERSION)) return 0;
    let afterPk = 0;
    let count = 0;
    for (;;) {
      const batch = await this.repository.currentAfter(this.repository.db, afterPk, 500);
      if (batch.length === 0) break;
      await this.repository.transaction((trx) =>
        this.repository.replaceIndexes(trx, batch.map((v) => ({ pk: v.pk, resourceType: v.resourceType, index: indexResource(parseBody(v)) }))),
      );
      afterPk = batch[batch.length - 1]!.pk;
      count += batch.length;
    }
    await this.repository.setState(this.repository.db, INDEX_VERSION_STATE, String(SEARCH_INDEX_VERSION));
    if (count > 0) this.#logger.info({ count, version: SEARCH_INDEX_VERSION }, 'FHIR search index re-derived');
    return count;
  }

  /** Creates or updates a resource as the server itself (derived types included); a no-op when unchanged. */
  async systemPut(db: FhirExecutor, resource: FhirResource): Promise<{ changed: boolean; resource: FhirResource }> {
    const validated = this.validate(resource.resourceType, resource);
    const current = await this.repository.read(db, resource.resourceType, resource.id!);
    if (current && !current.deleted && contentOf(parseBody(current)) === contentOf(validated)) {
      return { changed: false, resource: parseBody(current) };
    }
    const version = await this.write(db, validated, current && !current.deleted ? 'PUT' : 'POST', current, { relink: false });
    return { changed: true, resource: parseBody(version) };
  }

  /** Deletes as the server itself; no-op when absent or already deleted. */
  async systemDelete(db: FhirExecutor, type: string, id: string): Promise<boolean> {
    const current = await this.repository.read(db, type, id);
    if (!current || current.deleted) return false;
    await this.repository.write(db, {
      resourceType: type,
      id,
      versionId: current.versionId + 1,
      lastUpdated: this.now(),
      method: 'DELETE',
      json: null,
      index: indexResource({ resourceType: type }),
    });
    return true;
  }

  async #singleMatch(db: FhirExecutor, type: string, query: Array<[string, string]>, what: string): Promise<FhirResource | undefined> {
    if (query.length === 0) throw new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot ${what} ${type} conditionally without search parameters`);
    const matches = await this.find(db, type, query, 2);
    if (matches.length > 1) {
      throw new FhirError('ATRIUM_ERR_FHIR_MULTIPLE_MATCHES', `Cannot ${what} ${type}: more than one resource matches the conditions`);
    }
    return matches[0];
  }

  async #create(db: FhirExecutor, type: string, body: unknown, request: FhirRequest, options: WriteOptions = {}): Promise<FhirResponse> {
    this.#checkWritable(type, options);
    const resource = this.validate(type, body);
    if (request.ifNoneExist) {
      const existing = await this.#singleMatch(db, type, [...new URLSearchParams(request.ifNoneExist)], 'create');
      if (existing) {
        const version = await this.repository.read(db, type, existing.id!);
        return this.#preferred(this.#versionResponse(version!, 200, request.base), request);
      }
    }
    // The server assigns the id of a create (http.html#create); a client id is ignored.
    const id = randomUUID();
    const version = await this.write(db, { ...resource, id }, 'POST', undefined);
    return this.#preferred(this.#versionResponse(version, 201, request.base), request);
  }

  async #update(
    db: FhirExecutor,
    type: string,
    id: string,
    body: unknown,
    request: FhirRequest,
    method: 'PUT' | 'PATCH',
    options: WriteOptions = {},
  ): Promise<FhirResponse> {
    this.#checkWritable(type, options);
    const resource = this.validate(type, body);
    if (resource.id === undefined) {
      throw new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot update ${type}/${id}: the resource has no id`, { expression: [`${type}.id`] });
    }
    if (resource.id !== id) {
      throw new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot update ${type}/${id}: the resource's id is '${resource.id}'`, { expression: [`${type}.id`] });
    }
    const current = await this.repository.read(db, type, id);
    if (request.ifMatch !== undefined) {
      const expected = versionOfEtag(request.ifMatch);
      if (expected === undefined) {
        throw new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot update ${type}/${id}: If-Match '${request.ifMatch}' is not a version ETag`);
      }
      if (!current || current.versionId !== expected) {
        throw new FhirError(
          'ATRIUM_ERR_FHIR_PRECONDITION_FAILED',
          `Cannot update ${type}/${id}: If-Match expects version ${expected}, the current version is ${current?.versionId ?? 'none'}`,
        );
      }
    }
    const created = !current || current.deleted;
    const version = await this.write(db, resource, method, current);
    return this.#preferred(this.#versionResponse(version, created ? 201 : 200, request.base), request);
  }

  async #conditionalUpdate(db: FhirExecutor, type: string, request: FhirRequest): Promise<FhirResponse> {
    const match = await this.#singleMatch(db, type, request.query, 'update');
    const body = request.body as FhirResource | undefined;
    if (match) {
      if (body?.id !== undefined && body.id !== match.id) {
        throw new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot update ${type}: the match is ${type}/${match.id}, the resource's id is '${String(body.id)}'`, {
          expression: [`${type}.id`],
        });
      }
      return this.#update(db, type, match.id!, { ...(body ?? {}), id: match.id }, request, 'PUT');
    }
    if (body?.id !== undefined) return this.#update(db, type, checkId(String(body.id)), body, request, 'PUT');
    return this.#create(db, type, body, request);
  }

  async #patch(db: FhirExecutor, type: string, id: string, request: FhirRequest): Promise<FhirResponse> {
    this.#checkWritable(type, {});
    const current = await this.repository.read(db, type, id);
    if (!current) throw notFound(type, id);
    if (current.deleted) throw new FhirError('ATRIUM_ERR_FHIR_GONE', `Cannot patch ${type}/${id}: it is deleted`);
    const patched = applyJsonPatch(parseBody(current), request.body) as FhirResource;
    if (patched?.resourceType !== type || patched.id !== id) {
      throw new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot patch ${type}/${id}: a patch cannot change resourceType or id`);
    }
    return this.#update(db, type, id, patched, request, 'PATCH');
  }

  async #delete(db: FhirExecutor, type: string, id: string): Promise<FhirResponse> {
    this.#checkWritable(type, {});
    const current = await this.repository.read(db, type, id);
    if (!current) throw notFound(type, id);
    if (current.deleted) return { status: 204, etag: weakEtag(current.versionId) };
    const previous = parseBody(current);
    const version = await this.repository.write(db, {
      resourceType: type,
      id,
      versionId: current.versionId + 1,
      lastUpdated: this.now(),
      method: 'DELETE',
      json: null,
      index: indexResource({ resourceType: type }),
    });
    // An ImagingStudy must not keep pointing at a deleted order or patient identity.
    await relinkImagingStudies(this, db, previous);
    return { status: 204, etag: weakEtag(version.versionId) };
  }

  /** `Prefer: return=minimal|OperationOutcome` (http.html#return). */
  #preferred(response: FhirResponse, request: FhirRequest): FhirResponse {
    const prefer = request.prefer ?? '';
    if (/return=minimal/.test(prefer)) {
      const { body: _body, ...rest } = response;
      return rest;
    }
    if (/return=OperationOutcome/.test(prefer)) {
      return { ...response, body: operationOutcome([{ severity: 'information', code: 'informational', diagnostics: `${response.status === 201 ? 'Created' : 'Updated'} ${response.location ?? ''}` }]) };
    }
    return response;
  }

  // ---- batch and transaction ----

  async bundle(request: FhirRequest): Promise<FhirResponse> {
    const bundle = request.body as { resourceType?: unknown; type?: unknown; entry?: unknown } | undefined;
    if (!bundle || bundle.resourceType !== 'Bundle') {
      throw new FhirError('ATRIUM_ERR_FHIR_INVALID', 'Cannot process the request: POST to the base takes a batch or transaction Bundle', { expression: ['Bundle'] });
    }
    if (bundle.type !== 'batch' && bundle.type !== 'transaction') {
      throw new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot process a Bundle of type '${String(bundle.type)}': only batch and transaction`, { expression: ['Bundle.type'] });
    }
    const entries = bundle.entry === undefined ? [] : bundle.entry;
    if (!Array.isArray(entries)) throw new FhirError('ATRIUM_ERR_FHIR_INVALID', 'Cannot process the Bundle: entry is not an array', { expression: ['Bundle.entry'] });
    const parsed = entries.map((entry, i) => this.#bundleEntry(entry, i, request));
    if (bundle.type === 'batch') {
      const responses: Array<Record<string, unknown>> = [];
      for (const [i, entry] of parsed.entries()) {
        try {
          const response = await this.handle(entry.request);
          responses.push(this.#entryResponse(response));
        } catch (error) {
          const { status, outcome } = outcomeOfError(this.#atEntry(error, i));
          if (status >= 500) this.#logger.error({ err: error }, 'FHIR batch entry failed');
          responses.push({ response: { status: String(status), outcome } });
        }
      }
      return { status: 200, body: { resourceType: 'Bundle', id: randomUUID(), type: 'batch-response', entry: responses } };
    }
    return this.repository.transaction(async (trx) => {
      // fullUrl -> assigned reference, for `urn:uuid:` references between entries (http.html#trules).
      const assigned = new Map<string, string>();
      for (const entry of parsed) {
        if (entry.request.method === 'POST' && entry.fullUrl) {
          const type = entry.request.path[0]!;
          if (entry.request.ifNoneExist) {
            const existing = await this.#singleMatch(trx, checkType(type), [...new URLSearchParams(entry.request.ifNoneExist)], 'create');
            if (existing) {
              assigned.set(entry.fullUrl, `${type}/${existing.id}`);
              continue;
            }
          }
          entry.assignedId = randomUUID();
          assigned.set(entry.fullUrl, `${type}/${entry.assignedId}`);
        }
      }
      for (const [i, entry] of parsed.entries()) {
        if (entry.request.body === undefined) continue;
        const pending: Array<Promise<void>> = [];
        visitReferences(entry.request.body, (holder) => {
          const reference = holder.reference as string;
          const mapped = assigned.get(reference);
          if (mapped) holder.reference = mapped;
          else if (reference.startsWith('urn:uuid:')) {
            throw this.#atEntry(new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot resolve reference '${reference}': no entry has that fullUrl`), i);
          } else if (/^[A-Z][A-Za-z]+\?/.test(reference)) {
            // Conditional reference (http.html#trules): resolved to the one match.
            const [type, query] = reference.split('?') as [string, string];
            pending.push(
              this.#singleMatch(trx, checkType(type), [...new URLSearchParams(query)], 'resolve a reference to').then((match) => {
                if (!match) throw new FhirError('ATRIUM_ERR_FHIR_NOT_FOUND', `Cannot resolve reference '${reference}': nothing matches`);
                holder.reference = `${type}/${match.id}`;
              }),
            );
          }
        });
        try {
          await Promise.all(pending);
        } catch (error) {
          throw this.#atEntry(error, i);
        }
      }
      const order = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 } as const;
      const sequence = [...parsed.keys()].sort((a, b) => order[parsed[a]!.request.method] - order[parsed[b]!.request.method] || a - b);
      const responses = new Array<Record<string, unknown>>(parsed.length);
      // The plain creates (new ids, nothing to read first) are written together when their turn comes: a few
      // multi-row statements per table instead of a dozen statements per resource.
      const creates = sequence.filter((i) => parsed[i]!.request.method === 'POST' && parsed[i]!.assignedId !== undefined);
      const createSet = new Set(creates);
      const writeCreates = async () => {
        const resources = creates.map((i) => {
          const entry = parsed[i]!;
          try {
            const type = entry.request.path[0]!;
            this.#checkWritable(type, {});
            return { resource: { ...this.validate(type, entry.request.body), id: entry.assignedId! }, method: 'POST' as const };
          } catch (error) {
            throw this.#atEntry(error, i);
          }
        });
        const versions = await this.writeMany(trx, resources);
        creates.forEach((i, k) => {
          const response = this.#preferred(this.#versionResponse(versions[k]!, 201, request.base), parsed[i]!.request);
          responses[i] = this.#entryResponse(response, parsed[i]!.fullUrl);
        });
      };
      for (const i of sequence) {
        const entry = parsed[i]!;
        if (i === creates[0]) await writeCreates();
        if (createSet.has(i)) continue;
        try {
          let response: FhirResponse;
          if (entry.request.method === 'POST' && entry.request.path.length === 1 && entry.fullUrl && assigned.has(entry.fullUrl) && !entry.assignedId) {
            // A conditional create that matched: the existing resource.
            const [type, id] = assigned.get(entry.fullUrl)!.split('/') as [string, string];
            response = this.#versionResponse((await this.repository.read(trx, type, id))!, 200, request.base);
          } else {
            response = await this.interact(trx, entry.request);
          }
          responses[i] = this.#entryResponse(response, entry.fullUrl);
        } catch (error) {
          throw this.#atEntry(error, i);
        }
      }
      return { status: 200, body: { resourceType: 'Bundle', id: randomUUID(), type: 'transaction-response', entry: responses } };
    }, { groupCommit: true });
  }

  #bundleEntry(entry: unknown, i: number, outer: FhirRequest): { request: FhirRequest; fullUrl?: string; assignedId?: string } {
    const at = `Bundle.entry[${i}]`;
    const e = entry as { fullUrl?: unknown; resource?: unknown; request?: Record<string, unknown> } | null;
    const req = e?.request;
    if (!req || typeof req.method !== 'string' || typeof req.url !== 'string') {
      throw new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot process ${at}: request.method and request.url are required`, { expression: [`${at}.request`] });
    }
    const method = req.method as FhirRequest['method'];
    if (!['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) {
      throw new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot process ${at}: method '${method}' is not an HTTP verb of FHIR`, { expression: [`${at}.request.method`] });
    }
    let url = req.url;
    const baseIndex = url.indexOf(outer.base);
    if (baseIndex === 0) url = url.slice(outer.base.length);
    url = url.replace(/^\//, '');
    const [pathPart, queryPart] = url.split('?') as [string, string | undefined];
    let body: unknown = e?.resource;
    if (method === 'PATCH' && body && (body as FhirResource).resourceType === 'Binary') {
      // JSON Patch in a transaction travels as a Binary (http.html#patch): its data is the base64 patch document.
      body = JSON.parse(Buffer.from(String((body as { data?: string }).data ?? ''), 'base64').toString('utf8'));
    }
    if ((method === 'POST' || method === 'PUT') && (body === undefined || body === null)) {
      throw new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot process ${at}: ${method} needs a resource`, { expression: [`${at}.resource`] });
    }
    const request: FhirRequest = {
      method,
      path: pathPart.split('/').filter((p) => p !== ''),
      query: queryPart ? [...new URLSearchParams(queryPart)] : [],
      ...(body !== undefined ? { body: structuredClone(body) } : {}),
      ...(typeof req.ifMatch === 'string' ? { ifMatch: req.ifMatch } : {}),
      ...(typeof req.ifNoneExist === 'string' ? { ifNoneExist: req.ifNoneExist } : {}),
      ...(typeof req.ifNoneMatch === 'string' ? { ifNoneMatch: req.ifNoneMatch } : {}),
      ...(outer.prefer ? { prefer: outer.prefer } : {}),
      base: outer.base,
    };
    return { request, ...(typeof e?.fullUrl === 'string' ? { fullUrl: e.fullUrl } : {}) };
  }

  #entryResponse(response: FhirResponse, fullUrl?: string): Record<string, unknown> {
    const isResource = response.body && response.body.resourceType !== 'OperationOutcome';
    return {
      ...(fullUrl && response.location ? { fullUrl: response.location.replace(/\/_history\/\d+$/, '') } : {}),
      ...(isResource ? { resource: response.body } : {}),
      response: {
        status: String(response.status),
        ...(response.location ? { location: response.location } : {}),
        ...(response.etag ? { etag: response.etag } : {}),
        ...(response.lastModified ? { lastModified: new Date(response.lastModified).toISOString() } : {}),
        ...(response.body && !isResource ? { outcome: response.body } : {}),
      },
    };
  }

  /** Prefixes each issue's element path with the bundle entry it came from. */
  #atEntry(error: unknown, i: number): unknown {
    if (!(error instanceof FhirError)) return error;
    const issues: FhirIssue[] = error.issues.map((issue) => ({
      ...issue,
      expression: (issue.expression ?? ['']).map((e) => {
        if (e.startsWith('Bundle.')) return e;
        if (e === '' || /^[A-Z][A-Za-z]+$/.test(e)) return `Bundle.entry[${i}].resource`;
        return `Bundle.entry[${i}].resource.${e.replace(/^[A-Z][A-Za-z]+\./, '')}`;
      }),
    }));
    return new FhirError(error.code, `Bundle.entry[${i}]: ${error.message}`, { issues, httpStatus: error.httpStatus, cause: error });
  }
}

