import type { Generated, Selectable } from 'kysely';

/**
 * Tables of the FHIR R4 store (migration `0004-fhir`), merged into the Kysely database type by the FHIR
 * repository (`Kysely<AtriumSchema & FhirSchema>`). Resources are kept as JSON text with every version; search
 * runs on per-parameter-type index tables written in the same transaction as the resource (the HAPI / Medplum
 * approach), so a query never parses JSON.
 */
export interface FhirSchema {
  fhir_resource: FhirResourceTable;
  fhir_resource_history: FhirResourceHistoryTable;
  fhir_token: FhirTokenTable;
  fhir_string: FhirStringTable;
  fhir_date: FhirDateTable;
  fhir_reference: FhirReferenceTable;
  fhir_quantity: FhirQuantityTable;
  fhir_uri: FhirUriTable;
  fhir_sync_state: FhirSyncStateTable;
}

/** The current version of each resource; a deleted resource keeps its row (`deleted = 1`, `json` null). */
export interface FhirResourceTable {
  /** Surrogate key the index tables point at: integer joins instead of (type, id) text pairs. */
  pk: Generated<number>;
  resource_type: string;
  /** The logical id, `[A-Za-z0-9\-\.]{1,64}` (FHIR R4 id datatype). */
  id: string;
  version_id: number;
  /** ISO 8601 UTC instant with milliseconds; sorts as text. */
  last_updated: string;
  deleted: number;
  json: string | null;
}

/** Every version, the current one included (FHIR R4 http.html#history). */
export interface FhirResourceHistoryTable {
  resource_pk: number;
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: string;
  deleted: number;
  /** POST, PUT, PATCH or DELETE: the Bundle.entry.request.method history answers with. */
  method: string;
  json: string | null;
}

interface IndexRow {
  id: Generated<number>;
  resource_pk: number;
  resource_type: string;
  /** The search parameter's code, e.g. `identifier`. */
  param: string;
}

/** token: Coding, CodeableConcept, Identifier, ContactPoint, code, boolean, id (FHIR R4 search.html#token). */
export interface FhirTokenTable extends IndexRow {
  system: string | null;
  code: string;
}

/** string: normalised (accents removed, lower-case) for the default starts-with match, raw for `:exact`. */
export interface FhirStringTable extends IndexRow {
  value: string;
  exact: string;
}

/** date: every value is a range [low, high] of ISO 8601 UTC instants (FHIR R4 search.html#date). */
export interface FhirDateTable extends IndexRow {
  low: string;
  high: string;
}

/** reference: local references as type + id; absolute and canonical ones as `url`. */
export interface FhirReferenceTable extends IndexRow {
  target_type: string | null;
  target_id: string | null;
  url: string | null;
}

/** quantity: the decimal value with its unit system and code (FHIR R4 search.html#quantity). */
export interface FhirQuantityTable extends IndexRow {
  value: number;
  system: string | null;
  code: string | null;
}

export interface FhirUriTable extends IndexRow {
  value: string;
}

/** Small named state of the FHIR services, e.g. the change-feed cursor of the ImagingStudy sync. */
export interface FhirSyncStateTable {
  name: string;
  value: string;
  updated_at: string;
}

export type FhirResourceRow = Selectable<FhirResourceTable>;
export type FhirHistoryRow = Selectable<FhirResourceHistoryTable>;
