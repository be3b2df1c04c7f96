import { defaultDictionary } from '../dictionary.js';
import { tagToHex } from '../tag.js';
import type { Vr } from '../vr.js';
import type { WritableAttribute, WritableDataset, WritableValue } from '../writer.js';

/** `[vr, ...values]`, or a full attribute when it carries bytes. An empty tuple value writes a Type 2 empty value. */
export type Field = readonly [Vr, ...WritableValue[]] | WritableAttribute;

/**
 * A data set from keywords, so the builders read like the module tables of PS3.3. Keywords are checked against
 * the dictionary: a misspelt keyword is a programming error and throws at once.
 */
export function keywordDataset(fields: Record<string, Field | undefined>): WritableDataset {
  const dictionary = defaultDictionary();
  const out: WritableDataset = {};
  for (const [keyword, field] of Object.entries(fields)) {
    if (field === undefined) continue;
    const tag = dictionary.tagOf(keyword);
    if (tag === undefined) throw new TypeError(`Cannot build attribute '${keyword}': not a keyword of PS3.6`);
    out[tagToHex(tag)] = Array.isArray(field)
      ? { vr: field[0] as Vr, Value: field.slice(1) as WritableValue[] }
      : (field as WritableAttribute);
  }
  return out;
}

/** A code sequence item (PS3.3 §8.8). */
export function code(codeValue: string, codingSchemeDesignator: string, codeMeaning: string): WritableDataset {
  return keywordDataset({
    CodeValue: ['SH', codeValue],
    CodingSchemeDesignator: ['SH', codingSchemeDesignator],
    CodeMeaning: ['LO', codeMeaning],
  });
}

export function sequence(...items: WritableDataset[]): WritableAttribute {
  return { vr: 'SQ', Value: items };
}
