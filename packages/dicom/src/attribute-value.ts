import type { DicomJsonDataset, DicomJsonPersonName, DicomJsonValue } from './dicom-json.js';
import { formatPersonName } from './person-name.js';
import type { Tag } from './tag.js';
import { tagToHex } from './tag.js';

/**
 * Convenient reads of DICOM JSON attribute values (PS3.18 Annex F). A tag is a number or a `GGGGEEEE` string.
 * Missing attributes, missing values and values of the wrong kind read as undefined, never throw.
 */

function key(tag: Tag | string): string {
  return typeof tag === 'number' ? tagToHex(tag) : tag.toUpperCase();
}

/** The `Value` array of an attribute, or undefined when it is absent or bulk/inline binary. */
export function getValues(ds: DicomJsonDataset, tag: Tag | string): DicomJsonValue[] | undefined {
  return ds[key(tag)]?.Value;
}

function valueToString(v: DicomJsonValue | undefined): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if ('Alphabetic' in v || 'Ideographic' in v || 'Phonetic' in v) return formatPersonName(v as DicomJsonPersonName);
  return undefined;
}

/** One value as text: strings as they are, numbers in JavaScript's form, person names in their DICOM form. */
export function getString(ds: DicomJsonDataset, tag: Tag | string, index = 0): string | undefined {
  return valueToString(getValues(ds, tag)?.[index]);
}

/** Every value as text; an empty value is `''`. */
export function getStrings(ds: DicomJsonDataset, tag: Tag | string): string[] {
  return (getValues(ds, tag) ?? []).map((v) => valueToString(v) ?? '');
}

/** One value as a number: numbers as they are, numeric strings (an IS or DS kept as text) parsed. */
export function getNumber(ds: DicomJsonDataset, tag: Tag | string, index = 0): number | undefined {
  const v = getValues(ds, tag)?.[index];
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** Every value that reads as a number. */
export function getNumbers(ds: DicomJsonDataset, tag: Tag | string): number[] {
  const values = getValues(ds, tag) ?? [];
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const n = getNumber(ds, tag, i);
    if (n !== undefined) out.push(n);
  }
  return out;
}

/** One person name value (PS3.18 §F.2.2). */
export function getPersonName(ds: DicomJsonDataset, tag: Tag | string, index = 0): DicomJsonPersonName | undefined {
  const v = getValues(ds, tag)?.[index];
  return v !== null && typeof v === 'object' ? (v as DicomJsonPersonName) : undefined;
}

/** The items of a sequence; empty when absent. */
export function getItems(ds: DicomJsonDataset, tag: Tag | string): DicomJsonDataset[] {
  return (getValues(ds, tag) ?? []).filter((v): v is DicomJsonDataset => v !== null && typeof v === 'object');
}
