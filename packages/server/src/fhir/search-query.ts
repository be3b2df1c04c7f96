import type { FhirCondition, FhirPrefix, FhirSearchQuery, FhirSortKey, FhirValueCondition } from '@atrium/db';
import { FhirError } from './fhir-error.js';
import { dateRange } from './fhir-primitives.js';
import { compositeKey, identifierParam, normaliseString, textParam } from './search-index.js';
import { COMPOSITE_PARAMETERS, SEARCH_PARAMETERS, type CompositeParamDefinition, type SearchParamDefinition } from './search-parameters.js';

/** A parsed search request (FHIR R4 search.html). */
export interface ParsedSearch {
  query: FhirSearchQuery;
  /** `_include` and `_revinclude`; `iterate` ones apply to included resources too (search.html#revinclude). */
  includes: IncludeSpec[];
  revincludes: IncludeSpec[];
  summaryCount: boolean;
  /** Parameters ignored under `Prefer: handling=lenient`, reported in an OperationOutcome entry. */
  ignored: string[];
  /** The parameters as understood, for the Bundle's self link. */
  selfParams: Array<[string, string]>;
}

export interface IncludeSpec {
  sourceType: string;
  param: string;
  targetType?: string;
  iterate?: boolean;
}

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;
const PREFIXES = new Set(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap']);
/** Parameters that shape the result rather than filter it. */
const RESULT_PARAMS = new Set([
  '_count',
  '_offset',
  '_sort',
  '_include',
  '_include:iterate',
  '_revinclude',
  '_revinclude:iterate',
  '_total',
  '_summary',
  '_format',
  '_pretty',
]);

/** Token modifiers that need a terminology service (ValueSets, code system hierarchies): none here. */
const TERMINOLOGY_MODIFIERS = new Set(['in', 'not-in', 'below', 'above']);

/** Splits on unescaped `sep` and unescapes `\,` `\|` `\$` `\\` (search.html#escaping). */
export function splitEscaped(value: string, sep: string): string[] {
  return splitOn(value, sep, false);
}

/** Splits on the first unescaped `|`, keeping other escapes for the caller. */
function splitSystem(value: string): [string | undefined, string] {
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === '|') return [value.slice(0, i), value.slice(i + 1)];
  }
  return [undefined, value];
}

const unescape = (v: string) => splitEscaped(v, '\u0000')[0]!;

function invalid(param: string, message: string): FhirError {
  return new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot search on '${param}': ${message}`, { expression: [param] });
}

function notSupported(param: string, message: string): FhirError {
  return new FhirError('ATRIUM_ERR_FHIR_NOT_SUPPORTED', `Cannot search on '${param}': ${message}`, { expression: [param] });
}

/** Splits on unescaped `sep`, keeping every escape for the parser of each part. */
function splitRaw(value: string, sep: string): string[] {
  return splitOn(value, sep, true);
}

function splitOn(value: string, sep: string, keepEscapes: boolean): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length) {
      current += keepEscapes ? c + value[i + 1] : value[i + 1];
      i++;
    } else if (c === sep) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out;
}

function prefixOf(value: string): [FhirPrefix, string] {
  const p = value.slice(0, 2);
  if (PREFIXES.has(p) && value.length > 2 && !/^[a-z]/.test(value.slice(2))) return [p as FhirPrefix, value.slice(2)];
  return ['eq', value];
}

function dateValue(param: string, raw: string): { prefix: FhirPrefix; low: string; high: string } {
  const [prefix, rest] = prefixOf(raw);
  const range = dateRange(rest);
  if (!range) throw invalid(param, `'${raw}' is not a date, dateTime or instant`);
  if (prefix === 'ap') {
    // ap: within 10% of the distance from now, the spec's suggestion (search.html#prefix).
    const now = Date.now();
    const low = Date.parse(range.low);
    const high = Date.parse(range.high);
    const margin = Math.max(Math.abs(now - low), Math.abs(now - high)) * 0.1;
    return { prefix, low: new Date(low - margin).toISOString(), high: new Date(high + margin).toISOString() };
  }
  return { prefix, ...range };
}

/** The implicit range of a decimal: 5.4 stands for [5.35, 5.45) (search.html#number). */
function numberRange(param: string, text: string): { value: number; low: number; high: number } {
  if (!/^[+-]?(\d+(\.\d+)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw invalid(param, `'${text}' is not a number`);
  const value = Number(text);
  const mantissa = text.split(/[eE]/)[0]!;
  const decimals = mantissa.includes('.') ? mantissa.split('.')[1]!.length : 0;
  const exponent = text.match(/[eE]([+-]?\d+)/)?.[1];
  const half = 0.5 * 10 ** (-decimals + (exponent ? Number(exponent) : 0));
  return { value, low: value - half, high: value + half };
}

function condition(resourceType: string, def: SearchParamDefinition, modifier: string | undefined, raw: string, param: string): FhirCondition {
  if (modifier === 'missing') {
    if (raw !== 'true' && raw !== 'false') throw invalid(param, `':missing' takes true or false, not '${raw}'`);
    return { kind: 'missing', param: def.name, index: def.type, missing: raw === 'true' };
  }
  const values = splitEscaped(raw.replace(/\\\|/g, '\u0001'), ',').map((v) => v.replace(/\u0001/g, '\\|'));
  if (values.some((v) => v === '')) throw invalid(param, 'empty value');
  switch (def.type) {
    case 'token': {
      if (modifier === 'text') {
        return { kind: 'string', param: textParam(def.name), match: 'start', values: values.map((v) => normaliseString(unescape(v))) };
      }
      if (modifier !== undefined && TERMINOLOGY_MODIFIERS.has(modifier)) {
        throw notSupported(
          param,
          `modifier ':${modifier}' needs a ValueSet or code system hierarchy, and this server has no terminology service (token modifiers supported: :not, :text, :missing)`,
        );
      }
      if (modifier !== undefined && modifier !== 'not') throw notSupported(param, `modifier ':${modifier}' is not supported on token parameters`);
      return {
        kind: 'token',
        param: def.name,
        ...(modifier === 'not' ? { not: true } : {}),
        values: values.map((v) => {
          const [system, code] = splitSystem(v);
          if (system === undefined) return { code: unescape(code) };
          return { system: system === '' ? null : unescape(system), ...(code === '' ? {} : { code: unescape(code) }) };
        }),
      };
    }
    case 'string': {
      if (modifier !== undefined && modifier !== 'exact' && modifier !== 'contains') {
        throw invalid(param, `modifier ':${modifier}' is not supported on string parameters`);
      }
      const match = modifier === 'exact' ? 'exact' : modifier === 'contains' ? 'contains' : 'start';
      return { kind: 'string', param: def.name, match, values: values.map((v) => (match === 'exact' ? unescape(v) : normaliseString(unescape(v)))) };
    }
    case 'date':
      if (modifier !== undefined) throw invalid(param, `modifier ':${modifier}' is not supported on date parameters`);
      return { kind: 'date', param: def.name, values: values.map((v) => dateValue(param, v)) };
    case 'quantity':
      if (modifier !== undefined) throw invalid(param, `modifier ':${modifier}' is not supported on quantity parameters`);
      return {
        kind: 'quantity',
        param: def.name,
        values: values.map((v) => {
          const [prefix, rest] = prefixOf(v);
          const [number, system, code] = splitEscaped(rest, '|');
          return {
            prefix,
            ...numberRange(param, number ?? ''),
            ...(system !== undefined && system !== '' ? { system } : {}),
            ...(code !== undefined && code !== '' ? { code } : {}),
          };
        }),
      };
    case 'uri': {
      if (modifier !== undefined && modifier !== 'below' && modifier !== 'above') {
        throw invalid(param, `modifier ':${modifier}' is not supported on uri parameters`);
      }
      return { kind: 'uri', param: def.name, match: modifier ?? 'exact', values: values.map(unescape) } as FhirCondition;
    }
    case 'reference': {
      if (modifier === 'identifier') {
        // `:identifier` matches Reference.identifier, a token (search.html#reference).
        return condition(resourceType, { name: identifierParam(def.name), type: 'token', paths: [] }, undefined, raw, param);
      }
      if (modifier !== undefined && !/^[A-Z][A-Za-z]+$/.test(modifier)) {
        throw invalid(param, `modifier ':${modifier}' is not supported on reference parameters`);
      }
      if (modifier !== undefined && def.targets && !def.targets.includes(modifier)) {
        throw invalid(param, `'${modifier}' is not a target type of ${resourceType}.${def.name}`);
      }
      return {
        kind: 'reference',
        param: def.name,
        values: values.map((v) => {
          const value = unescape(v);
          const local = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(value);
          if (local) return { targetType: local[1]!, targetId: local[2]! };
          if (/^[A-Za-z0-9\-.]{1,64}$/.test(value)) {
            const only = modifier ?? (def.targets?.length === 1 ? def.targets[0] : undefined);
            return { ...(only ? { targetType: only } : {}), targetId: value };
          }
          return { url: value };
        }),
      };
    }
  }
}

/** A composite parameter's values, `first$second` OR-ed by commas (search.html#composite). */
function composite(resourceType: string, def: CompositeParamDefinition, modifier: string | undefined, raw: string, param: string): FhirCondition {
  if (modifier !== undefined) throw notSupported(param, `modifier ':${modifier}' is not supported on composite parameters`);
  const values = splitRaw(raw, ',').map((value) => {
    const parts = splitRaw(value, '$');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') throw invalid(param, `'${value}' is not '<${def.components[0]}>$<${def.components[1]}>'`);
    const [first, second] = parts as [string, string];
    const where = condition(resourceType, { name: def.name, type: def.second.type, paths: def.second.paths }, undefined, second, param) as FhirValueCondition;
    if (def.first.type === 'reference') {
      const target = unescape(first);
      const local = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(target);
      const only = def.first.targets?.length === 1 ? def.first.targets[0] : undefined;
      const key = local ? [local[1]!, local[2]!] : only && /^[A-Za-z0-9\-.]{1,64}$/.test(target) ? [only, target] : [target];
      return { param: compositeKey(def.name, key), where };
    }
    const [system, code] = splitSystem(first);
    if (system === undefined) return { param: compositeKey(def.name, [unescape(code)]), where };
    if (code === '') {
      // `system|`: any code of the system, every key that starts `["system",`.
      return { paramPrefix: `${compositeKey(def.name, [unescape(system)]).slice(0, -1)},`, where };
    }
    return { param: compositeKey(def.name, [system === '' ? null : unescape(system), unescape(code)]), where };
  });
  return { kind: 'composite', values };
}

/**
 * One filter parameter: `name[:modifier]=value`, chained `ref[:Type].name=value` (search.html#chaining) or
 * reverse chained `_has:Type:ref:name=value` (search.html#has).
 */
function filter(resourceType: string, key: string, raw: string): FhirCondition {
  if (key.startsWith('_has:')) {
    const [, sourceType, refParam, ...rest] = key.split(':');
    const inner = rest.join(':');
    const source = sourceType ? SEARCH_PARAMETERS.get(sourceType) : undefined;
    const refDef = source?.get(refParam ?? '');
    if (!source || !refDef || refDef.type !== 'reference' || !inner) throw invalid(key, `'_has' needs a supported type, one of its reference parameters and a parameter`);
    if (refDef.targets && !refDef.targets.includes(resourceType)) throw invalid(key, `${sourceType}.${refParam} does not refer to ${resourceType}`);
    return { kind: 'has', sourceType: sourceType!, param: refDef.name, where: filter(sourceType!, inner, raw) };
  }
  const dot = key.indexOf('.');
  if (dot > 0) {
    const [name, typeModifier] = key.slice(0, dot).split(':') as [string, string | undefined];
    const def = SEARCH_PARAMETERS.get(resourceType)?.get(name);
    if (!def) throw new FhirError('ATRIUM_ERR_FHIR_NOT_SUPPORTED', `Cannot search ${resourceType} on '${key}': parameter '${name}' is not supported`, { expression: [key] });
    if (def.type !== 'reference') throw invalid(key, `only reference parameters can be chained, '${name}' is a ${def.type}`);
    const targets = (typeModifier ? [typeModifier] : (def.targets ?? [])).filter((t) => SEARCH_PARAMETERS.has(t));
    const rest = key.slice(dot + 1);
    const restName = rest.split(/[:.]/)[0]!;
    const usable = targets.filter((t) => SEARCH_PARAMETERS.get(t)?.has(restName) || restName === '_id');
    if (usable.length === 0) throw invalid(key, `no supported target of '${name}' has a parameter '${restName}'`);
    if (usable.length > 1) {
      throw invalid(key, `'${name}' may refer to ${usable.join(', ')}: name the type, e.g. '${name}:${usable[0]}.${rest}'`);
    }
    return { kind: 'chain', param: def.name, targetTypes: usable, where: filter(usable[0]!, rest, raw) };
  }
  const [name, modifier] = key.split(':') as [string, string | undefined];
  if (name === '_id') {
    if (modifier !== undefined) throw invalid(key, `modifier ':${modifier}' is not supported on _id`);
    return { kind: 'id', ids: splitEscaped(raw, ',') };
  }
  if (name === '_lastUpdated') {
    return { kind: 'lastUpdated', values: splitEscaped(raw, ',').map((v) => dateValue(key, v)) };
  }
  const compositeDef = COMPOSITE_PARAMETERS.get(resourceType)?.get(name);
  if (compositeDef) return composite(resourceType, compositeDef, modifier, raw, key);
  const def = SEARCH_PARAMETERS.get(resourceType)?.get(name);
  if (!def) {
    throw new FhirError('ATRIUM_ERR_FHIR_NOT_SUPPORTED', `Cannot search ${resourceType} on '${key}': parameter '${name}' is not supported (see /fhir/metadata)`, {
      expression: [key],
    });
  }
  return condition(resourceType, def, modifier, raw, key);
}

function includeSpec(resourceType: string, key: string, value: string, reverse: boolean): IncludeSpec {
  // `:iterate` applies to included resources too, so its source (or target) may be another type.
  const iterate = key.endsWith(':iterate');
  if (value === '*' && !reverse) return { sourceType: resourceType, param: '*', ...(iterate ? { iterate } : {}) };
  const [sourceType, param, targetType] = value.split(':');
  if (!sourceType || !param) throw invalid(key, `'${value}' is not Type:parameter[:targetType]`);
  if (!SEARCH_PARAMETERS.has(sourceType)) throw invalid(key, `'${sourceType}' is not a supported resource type`);
  if (!reverse && !iterate && sourceType !== resourceType) throw invalid(key, `'${value}' does not start with ${resourceType}`);
  const def = SEARCH_PARAMETERS.get(sourceType)?.get(param);
  if (param !== '*' && (!def || def.type !== 'reference')) throw invalid(key, `'${sourceType}:${param}' is not a supported reference parameter`);
  if (reverse && !iterate && def?.targets && !def.targets.includes(resourceType)) throw invalid(key, `${sourceType}.${param} does not refer to ${resourceType}`);
  return { sourceType, param, ...(targetType ? { targetType } : {}), ...(iterate ? { iterate } : {}) };
}

/**
 * Parses a search request's parameters (repeated names AND-ed, comma-separated values OR-ed). An unknown
 * parameter is an error unless `lenient` (`Prefer: handling=lenient`): a filter is never silently ignored.
 */
export function parseSearch(resourceType: string, params: Array<[string, string]>, options: { lenient?: boolean } = {}): ParsedSearch {
  const conditions: FhirCondition[] = [];
  const includes: ParsedSearch['includes'] = [];
  const revincludes: ParsedSearch['revincludes'] = [];
  const ignored: string[] = [];
  const selfParams: Array<[string, string]> = [];
  let count = DEFAULT_COUNT;
  let offset = 0;
  let sort: FhirSortKey[] | undefined;
  let total = false;
  let summaryCount = false;
  for (const [key, value] of params) {
    if (RESULT_PARAMS.has(key)) {
      switch (key) {
        case '_count':
          if (!/^\d+$/.test(value)) throw invalid(key, `'${value}' is not a non-negative integer`);
          count = Math.min(Number(value), MAX_COUNT);
          break;
        case '_offset':
          if (!/^\d+$/.test(value)) throw invalid(key, `'${value}' is not a non-negative integer`);
          offset = Number(value);
          break;
        case '_sort':
          sort = value.split(',').map((s) => {
            const descending = s.startsWith('-');
            const name = descending ? s.slice(1) : s;
            if (name === '_id' || name === '_lastUpdated') return { key: name, descending };
            const def = SEARCH_PARAMETERS.get(resourceType)?.get(name);
            if (!def || def.type === 'reference') throw invalid(key, `cannot sort ${resourceType} by '${name}'`);
            return { key: { param: def.name, index: def.type }, descending } as FhirSortKey;
          });
          break;
        case '_include':
        case '_include:iterate':
          includes.push(includeSpec(resourceType, key, value, false));
          break;
        case '_revinclude':
        case '_revinclude:iterate':
          revincludes.push(includeSpec(resourceType, key, value, true));
          break;
        case '_total':
          if (!['none', 'estimate', 'accurate'].includes(value)) throw invalid(key, `'${value}' is not none, estimate or accurate`);
          total = value !== 'none';
          break;
        case '_summary':
          if (value === 'count') summaryCount = true;
          else if (value !== 'false') throw invalid(key, `only _summary=count and _summary=false are supported`);
          break;
      }
      if (key !== '_format' && key !== '_pretty' && key !== '_offset') selfParams.push([key, value]);
      continue;
    }
    try {
      conditions.push(filter(resourceType, key, value));
      selfParams.push([key, value]);
    } catch (error) {
      if (options.lenient && error instanceof FhirError && error.code === 'ATRIUM_ERR_FHIR_NOT_SUPPORTED') ignored.push(key);
      else throw error;
    }
  }
  if (summaryCount) {
    count = 0;
    total = true;
  }
  return {
    query: { resourceType, conditions, ...(sort ? { sort } : {}), count, offset, total },
    includes,
    revincludes,
    summaryCount,
    ignored,
    selfParams,
  };
}
