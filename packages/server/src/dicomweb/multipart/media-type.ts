/** A media type with its parameters (RFC 9110 §8.3.1): type and subtype lower-cased, parameter names too. */
export interface MediaType {
  type: string;
  subtype: string;
  /** `type/subtype`, lower-cased. */
  essence: string;
  parameters: Record<string, string>;
}

/** One media range of an Accept header, with its weight (RFC 9110 §12.5.1). */
export interface MediaRange extends MediaType {
  q: number;
}

/** Splits on `sep` outside double quotes. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    if (c === sep && !quoted) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out;
}

function unquote(value: string): string {
  const v = value.trim();
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
}

/** Parses `type/subtype; name=value; ...`; undefined when there is no `/`. */
export function parseMediaType(text: string): MediaType | undefined {
  const [head, ...params] = splitOutsideQuotes(text, ';');
  const essence = (head ?? '').trim().toLowerCase();
  const slash = essence.indexOf('/');
  if (slash <= 0 || slash === essence.length - 1) return undefined;
  const parameters: Record<string, string> = {};
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const name = p.slice(0, eq).trim().toLowerCase();
    if (name) parameters[name] = unquote(p.slice(eq + 1));
  }
  return { type: essence.slice(0, slash), subtype: essence.slice(slash + 1), essence, parameters };
}

/**
 * The ranges of an Accept header, highest weight first (ties keep the client's order, which PS3.18 §8.7.1 uses as
 * its preference). A missing or empty header accepts anything. Ranges with q=0 are dropped.
 */
export function parseAccept(header: string | string[] | undefined): MediaRange[] {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  if (text.trim() === '') return [{ type: '*', subtype: '*', essence: '*/*', parameters: {}, q: 1 }];
  const ranges: MediaRange[] = [];
  for (const item of splitOutsideQuotes(text, ',')) {
    const media = parseMediaType(item);
    if (!media) continue;
    const { q: qText, ...parameters } = media.parameters;
    const q = qText === undefined ? 1 : Number(qText);
    if (!Number.isFinite(q) || q <= 0) continue;
    ranges.push({ ...media, parameters, q: Math.min(q, 1) });
  }
  return ranges.map((r, i) => ({ r, i })).sort((a, b) => b.r.q - a.r.q || a.i - b.i).map(({ r }) => r);
}

/** Whether a range admits `type/subtype` (wildcards included). */
export function rangeMatches(range: MediaType, essence: string): boolean {
  if (range.essence === '*/*') return true;
  const [type, subtype] = essence.split('/');
  if (range.subtype === '*') return range.type === type;
  return range.type === type && range.subtype === subtype;
}

/** Formats a media type with parameters, quoting values that need it. */
export function formatMediaType(essence: string, parameters: Record<string, string | undefined> = {}): string {
  let out = essence;
  for (const [name, value] of Object.entries(parameters)) {
    if (value === undefined) continue;
    out += /^[A-Za-z0-9!#$&^_.+\-*]+$/.test(value) ? `; ${name}=${value}` : `; ${name}="${value.replace(/["\\]/g, '\\$&')}"`;
  }
  return out;
}
