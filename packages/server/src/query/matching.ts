import type { DicomJsonPersonName } from '@atrium/dicom';
import { normalizeDate, normalizeTime } from '@atrium/db';
import { QueryError } from './errors.js';

/**
 * Matching values of PS3.4 C.2.2.2, parsed from a key's values before any SQL is written. Pure functions, so
 * each rule is tested without a database.
 */

/** One alternative of a key: a key with several values (`\`) matches when any alternative does (C.2.2.2.2, C.2.2.2.8). */
export type MatchTerm =
  | { readonly type: 'equal'; readonly value: string }
  | { readonly type: 'wildcard'; readonly pattern: string }
  | { readonly type: 'range'; readonly lower: string | undefined; readonly upper: string | undefined };

/** True when the text holds a PS3.4 C.2.2.2.4 wildcard (`*` any sequence, `?` any one character). */
export function hasWildcard(text: string): boolean {
  return text.includes('*') || text.includes('?');
}

/** A value made only of `*` is universal matching (PS3.4 C.2.2.2.4). */
export function isUniversalWildcard(text: string): boolean {
  return /^\*+$/.test(text);
}

/** The characters before the first wildcard: the part an index can seek on. */
export function literalPrefix(pattern: string): string {
  const at = pattern.search(/[*?]/);
  return at < 0 ? pattern : pattern.slice(0, at);
}

/**
 * A DICOM wildcard pattern as an SQLite GLOB pattern. GLOB is case-sensitive (as PS3.4 asks for every VR but
 * PN, whose case-insensitivity comes from the upper-cased search column) and treats `%` and `_` as plain
 * characters; its own specials `[` and `]` are escaped as one-character classes.
 */
export function wildcardToGlob(pattern: string): string {
  let out = '';
  for (const ch of pattern) {
    if (ch === '[') out += '[[]';
    else if (ch === ']') out += '[]]';
    else out += ch;
  }
  return out;
}

/** A literal value as a GLOB pattern that matches exactly that value (for embedding between wildcards). */
export function globLiteral(value: string): string {
  let out = '';
  for (const ch of value) out += ch === '*' || ch === '?' || ch === '[' || ch === ']' ? `[${ch}]` : ch;
  return out;
}

/**
 * A DICOM wildcard pattern as a LIKE pattern with `\` as the escape character: `%`, `_` and `\` of the value are
 * escaped so they match themselves (for engines where GLOB does not exist).
 */
export function wildcardToLike(pattern: string): string {
  let out = '';
  for (const ch of pattern) {
    if (ch === '\\' || ch === '%' || ch === '_') out += `\\${ch}`;
    else if (ch === '*') out += '%';
    else if (ch === '?') out += '_';
    else out += ch;
  }
  return out;
}

/**
 * The smallest string greater than every string starting with `prefix`, for an index range seek
 * (`col >= prefix AND col < upper`). Text compares by code point in SQLite's BINARY collation (UTF-8 bytes);
 * U+10FFFF is the last code point, so only values continuing with it are missed, and it is a noncharacter.
 */
export function prefixUpperBound(prefix: string): string {
  return `${prefix}\u{10FFFF}`;
}

function invalid(keyword: string, value: string, reason: string): QueryError {
  return new QueryError('ATRIUM_ERR_QUERY_INVALID_VALUE', `Cannot match ${keyword} '${value}': ${reason}`, {
    key: keyword,
  });
}

/** Text values (CS, SH, LO, LT, AE, ...): single value or wildcard per value (PS3.4 C.2.2.2.1, C.2.2.2.4). */
export function parseTextTerm(value: string): MatchTerm {
  return hasWildcard(value) ? { type: 'wildcard', pattern: value } : { type: 'equal', value };
}

/** UI values: single value or list of UIDs; wildcards are not allowed on UIDs (PS3.4 C.2.2.2.2, C.2.2.2.4). */
export function parseUidTerm(keyword: string, value: string): MatchTerm {
  if (hasWildcard(value)) throw invalid(keyword, value, 'wildcards are not allowed in UID matching');
  return { type: 'equal', value };
}

/** IS/US values: an integer. */
export function parseIntegerTerm(keyword: string, value: string | number): MatchTerm {
  const text = String(value).trim();
  if (!/^[+-]?\d+$/.test(text)) throw invalid(keyword, text, 'not an integer');
  return { type: 'equal', value: String(Number.parseInt(text, 10)) };
}

function rangeParts(keyword: string, value: string): [string, string] | undefined {
  const dashes = value.split('-').length - 1;
  if (dashes === 0) return undefined;
  if (dashes > 1) throw invalid(keyword, value, 'a range has one dash');
  const at = value.indexOf('-');
  return [value.slice(0, at).trim(), value.slice(at + 1).trim()];
}

/** DA values: single date, or range `A-B`, `-B`, `A-` (PS3.4 C.2.2.2.5); normalised to `YYYYMMDD`. */
export function parseDateTerm(keyword: string, value: string): MatchTerm {
  const date = (text: string): string => {
    const d = normalizeDate(text);
    if (d === null) throw invalid(keyword, value, `'${text}' is not a date YYYYMMDD`);
    return d;
  };
  const parts = rangeParts(keyword, value);
  if (parts === undefined) return { type: 'equal', value: date(value.trim()) };
  const [a, b] = parts;
  if (a === '' && b === '') throw invalid(keyword, value, 'a range needs at least one end');
  const lower = a === '' ? undefined : date(a);
  const upper = b === '' ? undefined : date(b);
  if (lower !== undefined && upper !== undefined && lower > upper) throw invalid(keyword, value, 'the range ends before it starts');
  return { type: 'range', lower, upper };
}

/**
 * A TM bound normalised to `HHMMSS.ffffff`. An upper bound fills the components it lacks with their maximum, so
 * `-1015` includes 10:15:59 (the value names the whole minute); a lower bound fills them with zeros.
 */
export function timeBound(text: string, side: 'lower' | 'upper'): string | null {
  const compact = text.replaceAll(':', '');
  const normal = normalizeTime(compact);
  if (normal === null || side === 'lower') return normal;
  const m = /^(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?$/.exec(compact);
  if (!m) return normal;
  const [, hh, mm, ss, fraction] = m;
  if (mm === undefined) return `${hh}5959.999999`;
  if (ss === undefined) return `${hh}${mm}59.999999`;
  return `${hh}${mm}${ss}.${(fraction ?? '').padEnd(6, '9')}`;
}

/**
 * TM values: single time or range (PS3.4 C.2.2.2.5). A single time is the span it names (`1015` is 10:15:00 to
 * 10:15:59.999999), because stored times are more precise than the ones people type.
 */
export function parseTimeTerm(keyword: string, value: string): MatchTerm {
  const bound = (text: string, side: 'lower' | 'upper'): string => {
    const t = timeBound(text, side);
    if (t === null) throw invalid(keyword, value, `'${text}' is not a time HHMMSS.FFFFFF`);
    return t;
  };
  const parts = rangeParts(keyword, value);
  if (parts === undefined) return { type: 'range', lower: bound(value.trim(), 'lower'), upper: bound(value.trim(), 'upper') };
  const [a, b] = parts;
  if (a === '' && b === '') throw invalid(keyword, value, 'a range needs at least one end');
  return { type: 'range', lower: a === '' ? undefined : bound(a, 'lower'), upper: b === '' ? undefined : bound(b, 'upper') };
}

/** True when a DA or TM key's value is a range (has a dash), as C.2.2.2.5.1 combined date-time matching needs. */
export function isRangeValue(value: string): boolean {
  return value.includes('-');
}

/** Bounds of a combined date-time range (PS3.4 C.2.2.2.5.1) as `YYYYMMDD` + `HHMMSS.ffffff` pairs. */
export interface DateTimeRange {
  lower: { date: string; time: string } | undefined;
  upper: { date: string; time: string } | undefined;
}

/**
 * StudyDate `A-B` with StudyTime `C-D` means from date A time C to date B time D (PS3.4 C.2.2.2.5.1), not "any
 * day in A-B at a time of day in C-D". A missing time bound is the start or end of the day.
 */
export function combineDateTimeRange(date: MatchTerm, time: MatchTerm): DateTimeRange {
  if (date.type !== 'range' || time.type !== 'range') throw new TypeError('Cannot combine date and time: both must be ranges');
  return {
    lower: date.lower === undefined ? undefined : { date: date.lower, time: time.lower ?? '000000.000000' },
    upper: date.upper === undefined ? undefined : { date: date.upper, time: time.upper ?? '235959.999999' },
  };
}

/** A PN key value split in its component groups, each trimmed of trailing empty components (PS3.5 §6.2.1). */
export interface PersonNameQuery {
  alphabetic: string;
  ideographic: string;
  phonetic: string;
}

function trimComponents(group: string | undefined): string {
  if (group === undefined) return '';
  const parts = group.normalize('NFC').split('^').map((p) => p.trim());
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.join('^');
}

/** The groups of a PN key value as received (DICOM JSON object or `A=I=P` text). */
export function personNameQuery(value: DicomJsonPersonName | string): PersonNameQuery {
  const pn: DicomJsonPersonName =
    typeof value === 'string'
      ? (() => {
          const [a, i, p] = value.split('=');
          return { Alphabetic: a, Ideographic: i, Phonetic: p };
        })()
      : value;
  return {
    alphabetic: trimComponents(pn.Alphabetic),
    ideographic: trimComponents(pn.Ideographic),
    phonetic: trimComponents(pn.Phonetic),
  };
}

/**
 * The form fuzzy PN matching compares: decomposed, combining marks removed, upper-cased, recomposed; so 'Müller'
 * and 'MULLER' fold alike, as do 'José' and 'JOSE'. `ß` upper-cases to `SS`.
 */
export function foldForFuzzy(text: string): string {
  return text.normalize('NFD').replace(/\p{M}+/gu, '').toUpperCase().normalize('NFC');
}

/** The words of a name as fuzzy matching compares them: folded, split on component and word separators. */
export function fuzzyTokens(text: string): string[] {
  return foldForFuzzy(text)
    .split(/[\s^,.\-'=]+/u)
    .filter((t) => t.length > 0);
}

function tokenMatches(queryToken: string, component: string): boolean {
  if (!hasWildcard(queryToken)) return component.startsWith(queryToken);
  // A wildcard token is anchored at the start and open at the end, like the plain prefix it generalises.
  const source = [...queryToken]
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}`, 'u').test(component);
}

/**
 * Atrium's fuzzy PN matching (PS3.4 C.2.2.2.1.1 leaves the rules to the SCP): every word of the query must be a
 * prefix of a different component of one of the stored names, ignoring case, accents and component order; so
 * 'john do', 'DOE^J' and 'Jöhn' all match 'Doe^John'. `stored` is a PN value in DICOM text form (values joined by
 * `\`, groups by `=`); every group is searched.
 */
export function fuzzyPersonNameMatches(query: string, stored: string | null): boolean {
  if (stored === null) return false;
  const wanted = fuzzyTokens(query);
  if (wanted.length === 0) return true;
  for (const value of stored.split('\\')) {
    for (const group of value.split('=')) {
      const components = fuzzyTokens(group);
      const used = new Set<number>();
      const all = wanted.every((token) => {
        const at = components.findIndex((c, i) => !used.has(i) && tokenMatches(token, c));
        if (at < 0) return false;
        used.add(at);
        return true;
      });
      if (all) return true;
    }
  }
  return false;
}

/**
 * Every letter of Latin-1 Supplement, Latin Extended-A/B and Latin Extended Additional, grouped by the single
 * letter it folds to: the GLOB character classes of `fuzzyPrefilterGlob`. Built once; never changed.
 */
const FOLD_CLASSES: ReadonlyMap<string, string> = (() => {
  const classes = new Map<string, string>();
  const ranges: Array<[number, number]> = [[0x41, 0x5a], [0x61, 0x7a], [0xc0, 0x24f], [0x1e00, 0x1eff]];
  for (const [from, to] of ranges) {
    for (let cp = from; cp <= to; cp++) {
      const ch = String.fromCodePoint(cp);
      const folded = foldForFuzzy(ch);
      if ([...folded].length !== 1 || !/\p{L}/u.test(ch)) continue;
      classes.set(folded, (classes.get(folded) ?? '') + ch);
    }
  }
  return classes;
})();

/**
 * A GLOB pattern that every stored PN value whose words fuzzy-match `token` (one folded word of the query)
 * matches, so SQLite discards most rows before `fuzzyPersonNameMatches` decides: each letter becomes the class of
 * its accented and lower-case variants (`U` → `[UuÙùÚú...]`). A coarse superset, not the rule: it looks for the
 * word anywhere in the value. A letter folding to two (`ß` → `SS`) is the one case it cannot follow.
 */
export function fuzzyPrefilterGlob(token: string): string {
  let out = '*';
  for (const ch of token) {
    if (ch === '*' || ch === '?') out += ch;
    else {
      const variants = FOLD_CLASSES.get(ch);
      out += variants === undefined ? globLiteral(ch) : `[${variants}]`;
    }
  }
  return `${out}*`;
}
