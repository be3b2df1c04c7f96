import type { FhirIndexRows } from '@atrium/db';
import { FHIR_MODEL } from './fhir-model.generated.js';
import { dateRange, DATE_MAX, DATE_MIN } from './fhir-primitives.js';
import { COMPOSITE_PARAMETERS, SEARCH_PARAMETERS, type CompositeParamDefinition, type SearchParamDefinition } from './search-parameters.js';

/**
 * The version of what `indexResource` writes. Raise it with every change to the rows a resource gets (a new
 * parameter, a new modifier's rows): at start the store re-derives the rows of every resource stored under an
 * older version (`FhirService.reindexIfStale`). 2: composite parameters, `:text`, `:identifier`.
 */
export const SEARCH_INDEX_VERSION = 2;

/** A value found at a path, with its FHIR datatype. */
export interface TypedValue {
  value: unknown;
  type: string;
}

const SEGMENT = /^([A-Za-z]+)(\[x\])?(?:\((\w+)=([\w-]+)\))?$/;

/** The element values at a search parameter path (see `search-parameters.ts` for the path syntax). */
export function valuesAt(resource: Record<string, unknown>, path: string): TypedValue[] {
  return valuesFrom({ value: resource, type: String(resource.resourceType) }, path);
}

/** The values at `path` below one element (`''` is the element itself). */
function valuesFrom(start: TypedValue, path: string): TypedValue[] {
  let current: TypedValue[] = [start];
  if (path === '') return current;
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

/**
 * The key under which a composite's second value is indexed: the parameter and its first value, as JSON so that
 * no value can be taken for another (`code-value-quantity$["http://loinc.org","8480-6"]`). A token is indexed
 * with its system (`[null, code]` without one) and without (`[code]`, for a search that names no system); a
 * reference as `[type, id]` or `[url]`. A search for `system|` (any code) matches the keys starting `[system,`.
 */
export function compositeKey(name: string, first: ReadonlyArray<string | null>): string {
  return `${name}$${JSON.stringify(first)}`;
}

/** The parameter a token's `:text` is indexed under (search.html#token, modifier text), in the string table. */
export const textParam = (name: string) => `${name}:text`;
/** The parameter a reference's `:identifier` is indexed under (search.html#reference), in the token table. */
export const identifierParam = (name: string) => `${name}:identifier`;

/** The codes of a token value: CodeableConcept codings, a Coding, an Identifier, a code or boolean. */
function tokensOf({ value, type }: TypedValue): Array<{ system: string | null; code: string }> {
  const codings = type === 'CodeableConcept' ? (((value as { coding?: unknown[] }).coding ?? []) as Array<{ system?: string; code?: string }>) : type === 'Coding' ? [value as { system?: string; code?: string }] : [];
  if (type === 'CodeableConcept' || type === 'Coding') {
    return codings.filter((c) => c.code !== undefined).map((c) => ({ system: c.system ?? null, code: c.code! }));
  }
  if (type === 'Identifier') {
    const identifier = value as { system?: string; value?: string };
    return identifier.value !== undefined ? [{ system: identifier.system ?? null, code: identifier.value }] : [];
  }
  // The token's system is not used for ContactPoint (search.html#token): the value alone is the code.
  if (type === 'ContactPoint') {
    const contact = value as { value?: string };
    return contact.value !== undefined ? [{ system: null, code: contact.value }] : [];
  }
  if (typeof value === 'string' || typeof value === 'boolean') return [{ system: null, code: String(value) }];
  return [];
}

/** The text a token's `:text` matches: CodeableConcept.text and the codings' display; an Identifier's type. */
function textsOf({ value, type }: TypedValue): string[] {
  const concept = type === 'Identifier' ? (value as { type?: unknown }).type : type === 'CodeableConcept' || type === 'Coding' ? value : undefined;
  if (!concept || typeof concept !== 'object') return [];
  const c = concept as { text?: string; display?: string; coding?: Array<{ display?: string }> };
  return [c.text, c.display, ...(c.coding ?? []).map((coding) => coding.display)].filter((t): t is string => typeof t === 'string');
}

function addValue(rows: FhirIndexRows, def: SearchParamDefinition, typed: TypedValue): void {
  const { value, type } = typed;
  const param = def.name;
  switch (def.type) {
    case 'token': {
      for (const text of textsOf(typed)) rows.string.push({ param: textParam(param), value: normaliseString(text), exact: text });
      for (const token of tokensOf(typed)) rows.token.push({ param, ...token });
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
      const identifier = (value as { identifier?: unknown }).identifier;
      if (identifier && typeof identifier === 'object') {
        for (const t of tokensOf({ value: identifier, type: 'Identifier' })) rows.token.push({ param: identifierParam(param), ...t });
      }
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

/** The first values of a composite at one instance, as key parts (see `compositeKey`). */
function compositeFirsts(def: CompositeParamDefinition, instance: TypedValue): Array<Array<string | null>> {
  const keys: Array<Array<string | null>> = [];
  for (const typed of valuesFrom(instance, def.first.path)) {
    if (def.first.type === 'token') {
      for (const { system, code } of tokensOf(typed)) keys.push([system, code], [code]);
    } else {
      const reference = (typed.value as { reference?: string }).reference;
      const target = typeof reference === 'string' ? parseReference(reference) : undefined;
      if (target?.targetType && target.targetId) {
        if (!def.first.targets || def.first.targets.includes(target.targetType)) keys.push([target.targetType, target.targetId]);
      } else if (target?.url) keys.push([target.url]);
    }
  }
  return keys;
}

function addComposite(rows: FhirIndexRows, def: CompositeParamDefinition, resource: Record<string, unknown>): void {
  for (const base of def.bases) {
    for (const instance of valuesAt(resource, base)) {
      const firsts = compositeFirsts(def, instance);
      if (firsts.length === 0) continue;
      // The second value's rows as a plain parameter would have them, then one copy per first value's key.
      const second = emptyRows();
      const secondDef: SearchParamDefinition = { name: def.name, type: def.second.type, paths: def.second.paths };
      for (const path of def.second.paths) for (const typed of valuesFrom(instance, path)) addValue(second, secondDef, typed);
      for (const first of firsts) {
        const param = compositeKey(def.name, first);
        rows.token.push(...second.token.filter((r) => r.param === def.name).map((r) => ({ ...r, param })));
        rows.string.push(...second.string.filter((r) => r.param === def.name).map((r) => ({ ...r, param })));
        rows.date.push(...second.date.map((r) => ({ ...r, param })));
        rows.quantity.push(...second.quantity.map((r) => ({ ...r, param })));
      }
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
  for (const def of COMPOSITE_PARAMETERS.get(String(resource.resourceType))?.values() ?? []) addComposite(rows, def, resource);
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
