/**
 * Data element tags (PS3.5 §7.1) as unsigned 32-bit numbers: group in the high 16 bits, element in the low 16.
 * A number compares and hashes cheaply, which matters in the reader's inner loop.
 */
export type Tag = number;

export function makeTag(group: number, element: number): Tag {
  return ((group << 16) | element) >>> 0;
}

export function tagGroup(tag: Tag): number {
  return tag >>> 16;
}

export function tagElement(tag: Tag): number {
  return tag & 0xffff;
}

/** `GGGGEEEE`, upper-case hex: the form DICOM JSON uses for attribute keys (PS3.18 §F.2.1.1). */
export function tagToHex(tag: Tag): string {
  // One string made from the eight digits, instead of the three that toString, toUpperCase and padStart make;
  // anything but an unsigned 32-bit integer is spelt as those spell it.
  if (tag >>> 0 !== tag) return tag.toString(16).toUpperCase().padStart(8, '0');
  return String.fromCharCode(
    hexDigit(tag >>> 28), hexDigit((tag >>> 24) & 15), hexDigit((tag >>> 20) & 15), hexDigit((tag >>> 16) & 15),
    hexDigit((tag >>> 12) & 15), hexDigit((tag >>> 8) & 15), hexDigit((tag >>> 4) & 15), hexDigit(tag & 15),
  );
}

/** The character code of an upper-case hex digit. */
function hexDigit(n: number): number {
  return n < 10 ? 0x30 + n : 0x37 + n;
}

/** `(GGGG,EEEE)`, the form PS3.6 and dcmdump print. */
export function tagToString(tag: Tag): string {
  const hex = tagToHex(tag);
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

/**
 * Parses `GGGGEEEE`, `GGGG,EEEE` or `(GGGG,EEEE)`. Returns undefined for anything else, so callers decide
 * whether an unknown spelling is an error (query parameters) or a keyword to look up.
 */
export function parseTag(text: string): Tag | undefined {
  const m = /^\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?$/.exec(text.trim());
  if (!m) return undefined;
  return makeTag(parseInt(m[1]!, 16), parseInt(m[2]!, 16));
}

/** Private tags live in odd groups (PS3.5 §7.8.1); groups 0001, 0003, 0005 and 0007 are not allowed. */
export function isPrivateTag(tag: Tag): boolean {
  return (tagGroup(tag) & 1) === 1;
}

/** Private creator elements (gggg,0010-00FF) reserve a block of private elements (PS3.5 §7.8.1). */
export function isPrivateCreator(tag: Tag): boolean {
  const element = tagElement(tag);
  return isPrivateTag(tag) && element >= 0x0010 && element <= 0x00ff;
}

/** Group length elements (gggg,0000) are retired outside the command and file meta groups (PS3.5 §7.2). */
export function isGroupLength(tag: Tag): boolean {
  return tagElement(tag) === 0;
}

/** Item, Item Delimitation and Sequence Delimitation tags (PS3.5 §7.5). */
export const ItemTag: Tag = 0xfffee000;
export const ItemDelimitationTag: Tag = 0xfffee00d;
export const SequenceDelimitationTag: Tag = 0xfffee0dd;

/** Pixel Data (7FE0,0010) and its float variants, whose values are never held in memory by the reader. */
export const PixelDataTag: Tag = 0x7fe00010;
export const FloatPixelDataTag: Tag = 0x7fe00008;
export const DoubleFloatPixelDataTag: Tag = 0x7fe00009;
export const ExtendedOffsetTableTag: Tag = 0x7fe00001;
export const ExtendedOffsetTableLengthsTag: Tag = 0x7fe00002;

/** A 32-bit length of all ones means "undefined length" (PS3.5 §7.1.1). */
export const UndefinedLength = 0xffffffff;
