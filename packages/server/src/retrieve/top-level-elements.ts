import { ItemDelimitationTag, ItemTag, SequenceDelimitationTag, UndefinedLength, VR_INFO, isVr } from '@atrium/dicom';

/** One element of a data set's top level, as stored: where its bytes are and, for short values, what they are. */
export interface TopLevelElement {
  tag: number;
  vr: string;
  /** Offset of the element's first header byte in the buffer walked. */
  start: number;
  /** Offset just past the element (past its delimitation item when of undefined length). */
  end: number;
  /** The value's bytes when of defined length. */
  value: Buffer | undefined;
}

function tagAt(bytes: Buffer, at: number): number {
  return ((bytes.readUInt16LE(at) << 16) | bytes.readUInt16LE(at + 2)) >>> 0;
}

function fail(message: string, at: number): never {
  throw new SyntaxError(`Cannot walk data set: ${message} at offset ${at}`);
}

/**
 * The top-level elements of an Explicit VR Little Endian data set held in `bytes` (PS3.5 §7.1.2), in order, with
 * their spans: what a retrieve needs to copy a stored header while replacing a few of its attributes. Nested
 * sequences are skipped, not read (their content is Explicit VR Little Endian, or Implicit VR Little Endian inside
 * a UN of undefined length, PS3.5 §6.2.2). Throws a `SyntaxError` when the bytes do not parse to their end.
 */
export function topLevelElements(bytes: Buffer): TopLevelElement[] {
  const out: TopLevelElement[] = [];
  let at = 0;
  while (at < bytes.length) {
    const element = readElement(bytes, at, true);
    out.push(element);
    at = element.end;
  }
  return out;
}

function readElement(bytes: Buffer, at: number, explicit: boolean): TopLevelElement {
  if (at + 8 > bytes.length) fail('truncated element header', at);
  const tag = tagAt(bytes, at);
  let vr = '';
  let length: number;
  let valueStart: number;
  if (explicit && tag !== ItemTag && tag !== ItemDelimitationTag && tag !== SequenceDelimitationTag) {
    vr = bytes.toString('latin1', at + 4, at + 6);
    if (!/^[A-Z]{2}$/.test(vr)) fail(`'${vr}' is not a VR`, at);
    if (isVr(vr) && VR_INFO[vr].longLength) {
      if (at + 12 > bytes.length) fail('truncated element header', at);
      length = bytes.readUInt32LE(at + 8);
      valueStart = at + 12;
    } else {
      length = bytes.readUInt16LE(at + 6);
      valueStart = at + 8;
    }
  } else {
    length = bytes.readUInt32LE(at + 4);
    valueStart = at + 8;
  }
  if (length !== UndefinedLength) {
    const end = valueStart + length;
    if (end > bytes.length) fail(`value of ${length} bytes runs past the end`, at);
    return { tag, vr, start: at, end, value: bytes.subarray(valueStart, end) };
  }
  // Undefined length: a sequence (or a UN holding one, whose content is Implicit VR Little Endian).
  const nestedExplicit = explicit && vr !== 'UN';
  let position = valueStart;
  for (;;) {
    if (position + 8 > bytes.length) fail('sequence without a Sequence Delimitation Item', at);
    const itemTag = tagAt(bytes, position);
    const itemLength = bytes.readUInt32LE(position + 4);
    if (itemTag === SequenceDelimitationTag) return { tag, vr, start: at, end: position + 8, value: undefined };
    if (itemTag !== ItemTag) fail(`expected an item, found tag ${itemTag.toString(16).padStart(8, '0')}`, position);
    position += 8;
    if (itemLength !== UndefinedLength) {
      position += itemLength;
      continue;
    }
    for (;;) {
      if (position + 8 > bytes.length) fail('item without an Item Delimitation Item', position);
      if (tagAt(bytes, position) === ItemDelimitationTag) {
        position += 8;
        break;
      }
      position = readElement(bytes, position, nestedExplicit).end;
    }
  }
}
