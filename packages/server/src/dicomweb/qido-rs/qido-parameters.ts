import { parsePersonName, parseTag, tagToHex, type DataDictionary, type DicomJsonAttribute, type DicomJsonDataset, type Vr } from '@atrium/dicom';
import { badRequest, unsupportedParameter } from '../errors.js';

export type QidoLevel = 'STUDY' | 'SERIES' | 'IMAGE';

/** A QIDO-RS search as the query engine takes it (PS3.18 §10.6.1.2, §8.3.4). */
export interface QidoSearch {
  level: QidoLevel;
  keys: DicomJsonDataset;
  includeAllFields: boolean;
  fuzzyMatching: boolean;
  limit: number | undefined;
  offset: number;
}

type Query = Record<string, string | string[] | undefined>;

/** Query parameters of PS3.18 §8.3.4 that are not attributes. */
const SEARCH_PARAMETERS = new Set(['includefield', 'fuzzymatching', 'limit', 'offset', 'accept']);

function values(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function only(query: Query, name: string): string | undefined {
  const all = values(query[name]);
  if (all.length > 1) throw badRequest(`Cannot use query parameter '${name}' more than once`);
  return all[0];
}

function nonNegativeInt(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,9}$/.test(text)) throw badRequest(`Cannot use ${name} '${text}': expected a non-negative integer`);
  return Number(text);
}

/** A tag from a keyword (`PatientName`) or `GGGGEEEE`; a 400 naming the parameter when it is neither. */
function tagOf(dictionary: DataDictionary, id: string, parameter: string): { tag: string; vr: Vr } {
  const tag = /^[0-9A-Fa-f]{8}$/.test(id) ? parseTag(id) : dictionary.tagOf(id);
  if (tag === undefined || (!/^[0-9A-Fa-f]{8}$/.test(id) && dictionary.keywordOf(tag) !== id)) {
    throw unsupportedParameter(
      `Cannot use query parameter '${parameter}': '${id}' is neither a QIDO-RS parameter (${[...SEARCH_PARAMETERS].join(', ')}) nor an attribute keyword or tag`,
    );
  }
  return { tag: tagToHex(tag), vr: dictionary.vrOf(tag) };
}

/** The matching value of one attribute as DICOM JSON: PN as person names, UID lists split, others as given. */
function matchingAttribute(vr: Vr, raw: string[]): DicomJsonAttribute {
  const nonEmpty = raw.filter((r) => r !== '');
  if (nonEmpty.length === 0) return { vr };
  if (vr === 'PN') return { vr, Value: nonEmpty.map((r) => parsePersonName(r)) };
  // UID list matching (PS3.18 §8.3.4.1): a comma- or backslash-separated list matches any of its UIDs.
  if (vr === 'UI') return { vr, Value: nonEmpty.flatMap((r) => r.split(/[,\\]/)).map((s) => s.trim()).filter(Boolean) };
  return { vr, Value: nonEmpty.flatMap((r) => r.split('\\')) };
}

/**
 * Puts a key at an attribute path (`Tag`, or `Sequence.Tag` for sequence matching, PS3.18 §8.3.4.1), merging
 * with keys already there.
 */
function setKey(keys: DicomJsonDataset, path: { tag: string; vr: Vr }[], attribute: DicomJsonAttribute): void {
  const [head, ...rest] = path;
  if (!head) return;
  if (rest.length === 0) {
    const existing = keys[head.tag];
    // An includefield of an attribute that also has a matching value keeps the value.
    if (existing?.Value !== undefined && attribute.Value === undefined) return;
    keys[head.tag] = attribute;
    return;
  }
  if (head.vr !== 'SQ') throw badRequest(`Cannot use attribute path with '${head.tag}': it is not a sequence`);
  const seq = keys[head.tag];
  const item = (seq?.Value?.[0] as DicomJsonDataset | undefined) ?? {};
  setKey(item, rest, attribute);
  keys[head.tag] = { vr: 'SQ', Value: [item] };
}

/**
 * Reads QIDO-RS query parameters into a search (PS3.18 §8.3.4): attribute keywords, tags or sequence paths with
 * matching values (wildcards, ranges and UID lists are passed to the engine as written), `includefield` (repeated
 * or comma-separated; `all`), `fuzzymatching`, `limit`, `offset`. Anything else is a 400 with the reason, never
 * silently ignored. Scope keys from the URL (`/studies/{uid}/series`) are added by the caller.
 */
export function parseQidoParameters(query: Query, level: QidoLevel, dictionary: DataDictionary): QidoSearch {
  const keys: DicomJsonDataset = {};
  let includeAllFields = false;
  for (const [name, raw] of Object.entries(query)) {
    if (SEARCH_PARAMETERS.has(name)) continue;
    const path = name.split('.').map((id) => tagOf(dictionary, id, name));
    setKey(keys, path, matchingAttribute(path[path.length - 1]!.vr, values(raw)));
  }
  for (const field of values(query.includefield).flatMap((v) => v.split(','))) {
    const id = field.trim();
    if (id === '') continue;
    if (id === 'all') {
      includeAllFields = true;
      continue;
    }
    const path = id.split('.').map((part) => tagOf(dictionary, part, `includefield=${id}`));
    setKey(keys, path, { vr: path[path.length - 1]!.vr });
  }
  const fuzzy = only(query, 'fuzzymatching');
  if (fuzzy !== undefined && fuzzy !== 'true' && fuzzy !== 'false') {
    throw badRequest(`Cannot use fuzzymatching '${fuzzy}': expected true or false`);
  }
  const accept = only(query, 'accept');
  if (accept !== undefined && !/^application\/(dicom\+)?json$|^application\/dicom\+xml$/.test(accept)) {
    throw badRequest(`Cannot use accept '${accept}': search results are application/dicom+json or application/dicom+xml`);
  }
  return {
    level,
    keys,
    includeAllFields,
    fuzzyMatching: fuzzy === 'true',
    limit: nonNegativeInt(only(query, 'limit'), 'limit'),
    offset: nonNegativeInt(only(query, 'offset'), 'offset') ?? 0,
  };
}
