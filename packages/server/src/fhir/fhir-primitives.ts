/**
 * Lexical forms of the FHIR R4 primitive types (datatypes.html#primitive), and the date ranges search compares.
 */
const YEAR = '([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)';
const MONTH = '(0[1-9]|1[0-2])';
const DAY = '(0[1-9]|[1-2][0-9]|3[0-1])';
const TIME = '([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?';
const ZONE = '(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))';

/** The regular expressions of FHIR R4's primitive types, anchored. */
export const PRIMITIVE_PATTERNS: Readonly<Record<string, RegExp>> = {
  id: /^[A-Za-z0-9\-.]{1,64}$/,
  code: /^[^\s]+( [^\s]+)*$/,
  string: /^[\s\S]+$/,
  markdown: /^[\s\S]+$/,
  uri: /^\S*$/,
  url: /^\S*$/,
  canonical: /^\S*$/,
  oid: /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/,
  uuid: /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  base64Binary: /^(\s*([0-9a-zA-Z+/=]){4}\s*)+$/,
  date: new RegExp(`^${YEAR}(-${MONTH}(-${DAY})?)?$`),
  dateTime: new RegExp(`^${YEAR}(-${MONTH}(-${DAY}(T${TIME}${ZONE})?)?)?$`),
  instant: new RegExp(`^${YEAR}-${MONTH}-${DAY}T${TIME}${ZONE}$`),
  time: new RegExp(`^${TIME}$`),
  xhtml: /^<div[\s>][\s\S]*<\/div>$/,
};

/** JSON number primitives and their bounds. */
export const NUMBER_TYPES: Readonly<Record<string, { integer: boolean; min?: number; max?: number }>> = {
  decimal: { integer: false },
  integer: { integer: true, min: -2147483648, max: 2147483647 },
  unsignedInt: { integer: true, min: 0, max: 2147483647 },
  positiveInt: { integer: true, min: 1, max: 2147483647 },
};

/** Whether `type` is a FHIR primitive (lower-case first letter, per the spec's naming). */
export function isPrimitiveType(type: string): boolean {
  return type === 'boolean' || type in PRIMITIVE_PATTERNS || type in NUMBER_TYPES;
}

export const DATE_MIN = '0001-01-01T00:00:00.000Z';
export const DATE_MAX = '9999-12-31T23:59:59.999Z';

const DATE_FORM =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * The range of instants a date, dateTime or instant stands for, as ISO 8601 UTC text with milliseconds: `2020`
 * is the whole year, `2020-03-01T10:00` the whole minute (search.html#date: every date is a range, precision
 * implicit). Values without a time zone are taken as UTC. Undefined when `value` is not such a form.
 */
export function dateRange(value: string): { low: string; high: string } | undefined {
  const m = DATE_FORM.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = mo === undefined ? undefined : Number(mo);
  const day = d === undefined ? undefined : Number(d);
  if (month !== undefined && (month < 1 || month > 12)) return undefined;
  if (day !== undefined && (day < 1 || day > 31)) return undefined;
  let offsetMs = 0;
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    offsetMs = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  const start = Date.UTC(
    year,
    (month ?? 1) - 1,
    day ?? 1,
    h === undefined ? 0 : Number(h),
    mi === undefined ? 0 : Number(mi),
    s === undefined ? 0 : Number(s),
    frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000),
  );
  let end: number;
  if (month === undefined) end = Date.UTC(year + 1, 0, 1);
  else if (day === undefined) end = Date.UTC(year, month, 1);
  else if (h === undefined) end = Date.UTC(year, month - 1, day + 1);
  else if (s === undefined) end = start + 60_000;
  else if (frac === undefined) end = start + 1000;
  else end = start + 1;
  const low = new Date(start - offsetMs);
  const high = new Date(end - 1 - offsetMs);
  if (Number.isNaN(low.getTime()) || year < 1) return undefined;
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear puts them back.
  if (year < 100) {
    low.setUTCFullYear(low.getUTCFullYear() - 1900);
    high.setUTCFullYear(high.getUTCFullYear() - 1900);
  }
  return { low: low.toISOString(), high: high.toISOString() };
}
