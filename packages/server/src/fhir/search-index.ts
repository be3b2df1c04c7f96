import type { FhirIndexRows } from '@atrium/db';
import { FHIR_MODEL } from './fhir-model.generated.js';
import { dateRange, DATE_MAX, DATE_MIN } from './fhir-primitives.js';
import { SEARCH_PARAMETERS, type SearchParamDefinition } from './search-parameters.js';

/** A value found at a path, with its FHIR datatype. */
export interface TypedValue {
  value: unknown;
  type: string;
}

const SEGMENT = /^([A-Za-z]+)(\[x\])?(?:\((\w+)=([\w-]+)\))?$/;

/** The element values at a search parameter path (see `search-parameters.ts` for the path syntax). */
export function valuesAt(resource: Record<string, unknown>, path: string): TypedValue[] {
  let current: TypedValue[] = [{ value: resource, type: String(resource.resourceType) }];
  for (const segment of path.split('.')) {
    const m = SEGMENT.exec(segment);
    if (!m) throw new TypeError(`Cannot read search path '${path}': segment '${segment}' is malformed`);
    const [, name, choice, filterKey, filterValue] = m as unknown as [string, string, string | undefined, string | undefined, string | undefined];
    const next: TypedValue[] = [];
    for (const { value, type } of current) {
      if (value === null || typeof value !== 'object') continue;
      const node = value as Record<string, unknown>;
      const specs = FHIR_MODEL[type] ?? {};
      const found: Array<[unknown, string]> = [];
      if (choice) {
        for (const [key, spec] of Object.entries(specs)) {
          if (spec.choice === name && node[key] !== undefined && spec.type !== '[x]') found.push([node[key], spec.type]);
        }
      } else if (node[name] !== undefined) {
        found.push([node[name], specs[name]?.type ?? (name === 'extension' ? 'Extension' : 'string')]);
      }
      for (const [item, itemType] of found) {
        for (const v of Array.isArray(item) ? item : [item]) {
          if (filterKey && (v as Record<string, unknown> | null)?.[filterKey] !== filterValue) continue;
          next.push({ value: v, type: itemType });
        }
      }
    }
    current = next;
  }
  return current;
}

/** Search normalisation of strings (search.html#string): accents removed, case folded, spaces collapsed. */
export function normaliseString(value: string): string {
  return value
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

const QUANTITY_TYPES = new Set(['Quantity', 'Age', 'Duration', 'Distance', 'Count', 'SimpleQuantity', 'MoneyQuantity']);

/** A reference's target as the index keeps it: local `Type/id`, or an absolute/canonical URL. */
export function parseReference(reference: string): { targetType: string | null; targetId: string | null; url: string | null } | undefined {
  if (reference.startsWith('#')) return undefined;
  const local = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(reference);
  if (local) return { targetType: local[1]!, targetId: local[2]!, url: null };
  return { targetType: null, targetId: null, url: reference };
}

function emptyRows(): FhirIndexRows {
  return { token: [], string: [], date: [], reference: [], quantity: [], uri: [] };
}

function addValue(rows: FhirIndexRows, def: SearchParamDefinition, { value, type }: TypedValue): void {
  const param = def.name;
  switch (def.type) {
    case 'token': {
      if (type === 'CodeableConcept') {
        for (const coding of ((value as { coding?: unknown[] }).coding ?? []) as Array<{ system?: string; code?: string }>) {
          if (coding.code !== undefined) rows.token.push({ param, system: coding.system ?? null, code: coding.code });
        }
      } else if (type === 'Coding') {
        const coding = value as { system?: string; code?: string };
        if (coding.code !== undefined) rows.token.push({ param, system: coding.system ?? null, code: coding.code });
      } else if (type === 'Identifier') {
        const identifier = value as { system?: string; value?: string };
        if (identifier.value !== undefined) rows.token.push({ param, system: identifier.system ?? null, code: identifier.value });
      } else if (type === 'ContactPoint') {
        // The token's system is not used for ContactPoint (search.html#token): the value alone is the code.
        const contact = value as { value?: string };
        if (contact.value !== undefined) rows.token.push({ param, system: null, code: contact.value });
      } else if (typeof value === 'string' || typeof value === 'boolean') {
        rows.token.push({ param, system: null, code: String(value) });
      }
      return;
    }
    case 'string': {
      const texts: string[] = [];
      if (typeof value === 'string') texts.push(value);
      else if (type === 'HumanName') {
        const n = value as { text?: string; family?: string; given?: string[]; prefix?: string[]; suffix?: string[] };
        texts.push(...[n.text, n.family, ...(n.given ?? []), ...(n.prefix ?? []), ...(n.suffix ?? [])].filter((s): s is string => typeof s === 'string'));
      } else if (type === 'Address') {
        const a = value as Record<string, unknown>;
        for (const key of ['text', 'line', 'city', 'district', 'state', 'postalCode', 'country']) {
          const v = a[key];
          for (const s of Array.isArray(v) ? v : [v]) if (typeof s === 'string') texts.push(s);
        }
      }
      for (const text of texts) rows.string.push({ param, value: normaliseString(text), exact: text });
      return;
    }
    case 'date': {
      if (typeof value === 'string') {
        const range = dateRange(value);
        if (range) rows.date.push({ param, ...range });
      } else if (type === 'Period') {
        const p = value as { start?: string; end?: string };
        const low = p.start !== undefined ? dateRange(p.start)?.low : DATE_MIN;
        const high = p.end !== undefined ? dateRange(p.end)?.high : DATE_MAX;
        if (low && high) rows.date.push({ param, low, high });
      } else if (type === 'Timing') {
        for (const event of ((value as { event?: string[] }).event ?? [])) {
          const range = dateRange(event);
          if (range) rows.date.push({ param, ...range });
        }
      }
      return;
    }
    case 'reference': {
      const reference = (value as { reference?: string }).reference;
      if (typeof reference !== 'string') return;
      const target = parseReference(reference);
      if (!target) return;
      // `patient` is `subject.where(resolve() is Patient)`: only references to the listed types are indexed.
      if (def.targets && target.targetType !== null && !def.targets.includes(target.targetType)) return;
      rows.reference.push({ param, ...target });
      return;
    }
    case 'quantity': {
      if (!QUANTITY_TYPES.has(type)) return;
      const q = value as { value?: number; system?: string; code?: string; unit?: string };
      if (typeof q.value !== 'number') return;
      rows.quantity.push({ param, value: q.value, system: q.system ?? null, code: q.code ?? q.unit ?? null });
      return;
    }
    case 'uri': {
      if (typeof value === 'string') rows.uri.push({ param, value });
      return;
    }
  }
}

/** The index rows of a resource for every search parameter of its type, without duplicates. */
export function indexResource(resource: Record<string, unknown>): FhirIndexRows {
  const rows = emptyRows();
  const definitions = SEARCH_PARAMETERS.get(String(resource.resourceType));
  if (!definitions) return rows;
  for (const def of definitions.values()) {
    for (const path of def.paths) {
      for (const typed of valuesAt(resource, path)) addValue(rows, def, typed);
    }
  }
  const unique = <T>(list: T[]): T[] => {
    const seen = new Set<string>();
    return list.filter((row) => {
      const key = JSON.stringify(row);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  };
  return {
    token: unique(rows.token),
    string: unique(rows.string),
    date: unique(rows.date),
    reference: unique(rows.reference),
    quantity: unique(rows.quantity),
    uri: unique(rows.uri),
  };
}
