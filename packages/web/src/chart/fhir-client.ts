/**
 * The chart's only door to the record: Atrium's FHIR R4 API under `/fhir` (docs/fhir.md), in
 * `application/fhir+json`. Errors carry the OperationOutcome's text.
 */
import { operationOutcomeMessage, type FhirResource } from './chart-model.js';

const FHIR_JSON = 'application/fhir+json';

/** An error answer of the FHIR API: its HTTP status and the OperationOutcome's message. */
export class FhirError extends Error {
  readonly code = 'ATRIUM_ERR_CHART_FHIR';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'FhirError';
  }
}

async function call<T>(method: string, path: string, init: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<T> {
  const response = await fetch(path ? `/fhir/${path}` : "/fhir", {
    method,
    headers: { accept: FHIR_JSON, ...(init.body !== undefined ? { 'content-type': FHIR_JSON } : {}), ...init.headers },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    throw new FhirError(response.status, `Cannot ${method} /fhir/${path.split('?')[0]}: ${operationOutcomeMessage(json, `HTTP ${response.status}`)}`);
  }
  return json as T;
}

/** Every resource of a search's first page (the chart asks for pages large enough for one patient). */
export async function fhirSearch<T extends FhirResource>(type: string, params: URLSearchParams | Record<string, string>, signal?: AbortSignal): Promise<T[]> {
  const query = new URLSearchParams(params);
  const bundle = await call<{ entry?: { resource?: FhirResource; search?: { mode?: string } }[] }>('GET', `${type}?${query}`, signal ? { signal } : {});
  return (bundle.entry ?? [])
    .filter((e) => e.resource?.resourceType === type && e.search?.mode !== 'outcome')
    .map((e) => e.resource as T);
}

export function fhirRead<T extends FhirResource>(type: string, id: string, signal?: AbortSignal): Promise<T> {
  return call<T>('GET', `${type}/${encodeURIComponent(id)}`, signal ? { signal } : {});
}

export function fhirCreate<T extends FhirResource>(resource: T): Promise<T> {
  return call<T>('POST', resource.resourceType, { body: resource, headers: { prefer: 'return=representation' } });
}

/** An update guarded by the version the person saw (`If-Match`): a concurrent change is a 412, not lost. */
export function fhirUpdate<T extends FhirResource>(resource: T): Promise<T> {
  if (!resource.id) throw new TypeError(`Cannot update a ${resource.resourceType} without an id`);
  const version = resource.meta?.versionId;
  return call<T>('PUT', `${resource.resourceType}/${encodeURIComponent(resource.id)}`, {
    body: resource,
    headers: { prefer: 'return=representation', ...(version ? { 'if-match': `W/"${version}"` } : {}) },
  });
}

/** A transaction Bundle: all of it or nothing. */
export function fhirTransaction(bundle: FhirResource): Promise<FhirResource> {
  return call<FhirResource>('POST', '', { body: bundle });
}
