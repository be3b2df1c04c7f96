import { deflateRawSync } from 'node:zlib';
import type { DicomJsonDataset, DicomJsonPersonName } from './dicom-json.js';
import { UnsupportedTransferSyntaxError } from './errors.js';
import type { Tag } from './tag.js';
import {
  ItemTag,
  PixelDataTag,
  SequenceDelimitationTag,
  UndefinedLength,
  tagGroup,
  tagToHex,
  tagToString,
} from './tag.js';
import { ExplicitVrLittleEndian, isReadableTransferSyntax, lookupTransferSyntax } from './transfer-syntax.js';
import { ATRIUM_IMPLEMENTATION_CLASS_UID, ATRIUM_IMPLEMENTATION_VERSION_NAME } from './uid.js';
import type { Vr } from './vr.js';
import { VR_INFO } from './vr.js';

/** A value the writer accepts: the DICOM JSON values plus `bigint` for SV and UV. */
export type WritableValue = string | number | bigint | DicomJsonPersonName | WritableDataset | null;

/**
 * An attribute to write: a `DicomJsonAttribute` (PS3.18 Annex F) with two Atrium extensions, so that builders
 * can hand over large binary values without a base64 round trip:
 *
 * - `Bytes`: the value bytes as they are, little endian like `InlineBinary` (swapped per VR for Big Endian),
 *   padded to even length with the VR's pad byte.
 * - `Fragments`: encapsulated pixel data (PS3.5 §A.4): written with undefined length as a Basic Offset Table item,
 *   one item per fragment and a Sequence Delimitation item. `BasicOffsetTable` gives the table; when absent, one
 *   fragment per frame is assumed and the table is computed; an empty array writes an empty table.
 *
 * A `DicomJsonDataset` is a `WritableDataset`, so anything read as DICOM JSON can be written back.
 */
export interface WritableAttribute {
  vr: Vr;
  Value?: readonly WritableValue[];
  InlineBinary?: string;
  BulkDataURI?: string;
  Bytes?: Uint8Array;
  Fragments?: readonly Uint8Array[];
  BasicOffsetTable?: readonly number[];
}

export type WritableDataset = { [tag: string]: WritableAttribute };

/** How a data set is laid out: the two properties of a transfer syntax the element encoding depends on. */
export interface ElementEncoding {
  readonly explicitVr: boolean;
  readonly littleEndian: boolean;
}

export type DicomWriteErrorCode = 'ATRIUM_ERR_DICOM_WRITE' | 'ATRIUM_ERR_DICOM_CHARSET';

/**
 * A data set that cannot be encoded: a value of the wrong shape for its VR, a character outside the repertoire of
 * (0008,0005), a value too long for its length field. A `TypeError`, because the input has the wrong shape.
 */
export class DicomWriteError extends TypeError {
  readonly code: DicomWriteErrorCode;
  readonly tag: Tag | undefined;
  constructor(message: string, tag?: Tag, code: DicomWriteErrorCode = 'ATRIUM_ERR_DICOM_WRITE') {
    super(message);
    this.name = 'DicomWriteError';
    this.code = code;
    this.tag = tag;
  }
}

type Repertoire = 'ascii' | 'latin1' | 'utf8';

interface Context extends ElementEncoding {
  readonly repertoire: Repertoire;
  /** The (0008,0005) value as written, for error messages. */
  readonly charsetName: string;
}

const EXPLICIT_LE: ElementEncoding = { explicitVr: true, littleEndian: true };
const IMPLICIT_LE: ElementEncoding = { explicitVr: false, littleEndian: true };

const SpecificCharacterSetKey = '00080005';

function concat(chunks: readonly Uint8Array[], total?: number): Uint8Array {
  const length = total ?? chunks.reduce((n, c) => n + c.byteLength, 0);
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * The header of one data element (PS3.5 §7.1): tag, VR (explicit VR only) and value length. Item, Item
 * Delimitation and Sequence Delimitation tags (group FFFE) never carry a VR (PS3.5 §7.5). Pass `UndefinedLength`
 * for sequences and encapsulated pixel data written with delimiters.
 */
export function encodeElementHeader(tag: Tag, vr: Vr | undefined, length: number, encoding: ElementEncoding): Uint8Array {
  const { explicitVr, littleEndian } = encoding;
  const isDelimiter = tagGroup(tag) === 0xfffe;
  const long = isDelimiter || !explicitVr || vr === undefined || VR_INFO[vr].longLength;
  if (explicitVr && !isDelimiter && vr === undefined) {
    throw new DicomWriteError(`Cannot write element ${tagToString(tag)}: explicit VR encoding needs a VR`, tag);
  }
  if (!Number.isInteger(length) || length < 0 || length > UndefinedLength) {
    throw new DicomWriteError(`Cannot write element ${tagToString(tag)}: length '${length}' is out of range`, tag);
  }
  if (!long && length > 0xffff) {
    throw new DicomWriteError(
      `Cannot write element ${tagToString(tag)}: value length ${length} does not fit the 16-bit length of VR ${vr}`,
      tag,
    );
  }
  const withVr = explicitVr && !isDelimiter;
  const size = withVr ? (long ? 12 : 8) : 8;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint16(0, tagGroup(tag), littleEndian);
  view.setUint16(2, tag & 0xffff, littleEndian);
  if (withVr) {
    out[4] = vr!.charCodeAt(0);
    out[5] = vr!.charCodeAt(1);
    if (long) view.setUint32(8, length, littleEndian);
    else view.setUint16(6, length, littleEndian);
  } else {
    view.setUint32(4, length, littleEndian);
  }
  return out;
}

function repertoireOf(dataset: WritableDataset, inherited: Context | undefined, encoding: ElementEncoding): Context {
  const attribute = dataset[SpecificCharacterSetKey];
  if (!attribute) {
    return inherited ?? { ...encoding, repertoire: 'ascii', charsetName: 'ISO_IR 6' };
  }
  const terms = (attribute.Value ?? []).map((v) => (typeof v === 'string' ? v.trim() : ''));
  const charsetName = terms.join('\\');
  // PS3.5 §6.1.2.5.3: a single value names the one repertoire of the whole data set; only the first value may
  // be empty (the default repertoire). Code extension (ISO 2022) is decoded by the reader but not produced here,
  // so such data sets may hold ASCII only.
  let repertoire: Repertoire = 'ascii';
  if (terms.length === 1 && terms[0] === 'ISO_IR 192') repertoire = 'utf8';
  else if (terms.length === 1 && terms[0] === 'ISO_IR 100') repertoire = 'latin1';
  return { ...encoding, repertoire, charsetName: charsetName || 'ISO_IR 6' };
}

function encodeText(text: string, tag: Tag, vr: Vr, ctx: Context): Uint8Array {
  const repertoire: Repertoire = VR_INFO[vr].charsetDecoded ? ctx.repertoire : 'ascii';
  if (repertoire === 'utf8') return new TextEncoder().encode(text);
  const limit = repertoire === 'latin1' ? 0xff : 0x7f;
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > limit) {
      const where = VR_INFO[vr].charsetDecoded ? `the character repertoire '${ctx.charsetName}'` : `VR ${vr}`;
      throw new DicomWriteError(
        `Cannot write attribute ${tagToString(tag)} '${text}': character '${text[i]}' is not in ${where}`,
        tag,
        'ATRIUM_ERR_DICOM_CHARSET',
      );
    }
    out[i] = code;
  }
  return out;
}

/**
 * Decimal String (PS3.5 §6.2): at most 16 characters. JavaScript prints some doubles with 17 significant digits,
 * so the precision is lowered until the text fits.
 */
export function formatDecimalString(value: number): string {
  if (!Number.isFinite(value)) throw new DicomWriteError(`Cannot write DS value '${value}': not a finite number`);
  const plain = String(value);
  if (plain.length <= 16) return plain;
  for (let precision = 15; precision >= 1; precision--) {
    const text = value.toPrecision(precision).replace(/\.?0+(e|$)/, '$1').replace('e+', 'e');
    if (text.length <= 16) return text;
  }
  throw new DicomWriteError(`Cannot write DS value '${value}': does not fit in 16 characters`);
}

function personNameText(value: DicomJsonPersonName): string {
  const groups = [value.Alphabetic ?? '', value.Ideographic ?? '', value.Phonetic ?? ''];
  while (groups.length > 0 && groups[groups.length - 1] === '') groups.pop();
  return groups.join('=');
}

function stringValueText(value: WritableValue, tag: Tag, vr: Vr): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (vr === 'DS') return formatDecimalString(value);
    if (vr === 'IS') {
      if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) {
        throw new DicomWriteError(`Cannot write attribute ${tagToString(tag)} '${value}': not an IS integer`, tag);
      }
      return String(value);
    }
    return String(value);
  }
  if (typeof value === 'object' && vr === 'PN') return personNameText(value as DicomJsonPersonName);
  throw new DicomWriteError(`Cannot write attribute ${tagToString(tag)}: a ${vr} value must be a string`, tag);
}

function encodeStrings(values: readonly WritableValue[], tag: Tag, vr: Vr, ctx: Context): Uint8Array {
  const texts = values.map((v) => stringValueText(v, tag, vr));
  if (!VR_INFO[vr].multiValued && texts.length > 1) {
    throw new DicomWriteError(`Cannot write attribute ${tagToString(tag)}: VR ${vr} holds a single value`, tag);
  }
  if (VR_INFO[vr].multiValued) {
    const bad = texts.find((t) => t.includes('\\'));
    if (bad !== undefined) {
      throw new DicomWriteError(
        `Cannot write attribute ${tagToString(tag)} '${bad}': a backslash would split the value`,
        tag,
      );
    }
  }
  return encodeText(texts.join('\\'), tag, vr, ctx);
}

function integerRange(vr: Vr): [number, number] | undefined {
  switch (vr) {
    case 'US':
    case 'OW':
      return [0, 0xffff];
    case 'SS':
      return [-0x8000, 0x7fff];
    case 'UL':
    case 'OL':
      return [0, 0xffffffff];
    case 'SL':
      return [-0x80000000, 0x7fffffff];
    case 'OB':
    case 'UN':
      return [0, 0xff];
    default:
      return undefined;
  }
}

function encodeNumbers(values: readonly WritableValue[], tag: Tag, vr: Vr, littleEndian: boolean): Uint8Array {
  const size = VR_INFO[vr].numberSize;
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((value, i) => {
    const at = i * size;
    if (vr === 'AT') {
      const t = typeof value === 'string' ? parseInt(value, 16) : value;
      if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > 0xffffffff || (typeof value === 'string' && !/^[0-9A-Fa-f]{8}$/.test(value))) {
        throw new DicomWriteError(`Cannot write attribute ${tagToString(tag)} '${String(value)}': not a tag`, tag);
      }
      view.setUint16(at, t >>> 16, littleEndian);
      view.setUint16(at + 2, t & 0xffff, littleEndian);
      return;
    }
    if (vr === 'SV' || vr === 'UV' || vr === 'OV') {
      let big: bigint;
      try {
        big = typeof value === 'bigint' ? value : BigInt(value as number | string);
      } catch {
        throw new DicomWriteError(`Cannot write attribute ${tagToString(tag)} '${String(value)}': not a ${vr} integer`, tag);
      }
      // DataView wraps silently; an out-of-range value must fail instead.
      const fits = vr === 'SV' ? BigInt.asIntN(64, big) === big : BigInt.asUintN(64, big) === big;
      if (!fits) {
        throw new DicomWriteError(`Cannot write attribute ${tagToString(tag)} '${big}': out of range for VR ${vr}`, tag);
      }
      if (vr === 'SV') view.setBigInt64(at, big, littleEndian);
      else view.setBigUint64(at, big, littleEndian);
      return;
    }
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof n !== 'number' || Number.isNaN(n)) {
      throw new DicomWriteError(`Cannot write attribute ${tagToString(tag)} '${String(value)}': not a number`, tag);
    }
    const range = integerRange(vr);
    if (range && (!Number.isInteger(n) || n < range[0] || n > range[1])) {
      throw new DicomWriteError(`Cannot write attribute ${tagToString(tag)} '${n}': out of range for VR ${vr}`, tag);
    }
    switch (vr) {
      case 'US':
      case 'OW':
        view.setUint16(at, n, littleEndian);
        break;
      case 'SS':
        view.setInt16(at, n, littleEndian);
        break;
      case 'UL':
      case 'OL':
        view.setUint32(at, n, littleEndian);
        break;
      case 'SL':
        view.setInt32(at, n, littleEndian);
        break;
      case 'FL':
      case 'OF':
        view.setFloat32(at, n, littleEndian);
        break;
      case 'FD':
      case 'OD':
        view.setFloat64(at, n, littleEndian);
        break;
      case 'OB':
      case 'UN':
        out[at] = n;
        break;
      default:
        throw new DicomWriteError(`Cannot write attribute ${tagToString(tag)}: VR ${vr} takes no numbers`, tag);
    }
  });
  return out;
}

/** Little-endian value bytes to the target byte order: binary VRs swap per number, OB and UN never. */
function toByteOrder(bytes: Uint8Array, vr: Vr, littleEndian: boolean): Uint8Array {
  const info = VR_INFO[vr];
  const size = vr === 'AT' ? 2 : info.numberSize;
  if (littleEndian || info.isString || size <= 1) return bytes;
  const out = new Uint8Array(bytes.byteLength);
  for (let i = 0; i + size <= bytes.byteLength; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = bytes[i + size - 1 - j]!;
  }
  return out;
}

function padToEven(bytes: Uint8Array, padByte: number): Uint8Array {
  if (bytes.byteLength % 2 === 0) return bytes;
  const out = new Uint8Array(bytes.byteLength + 1);
  out.set(bytes);
  out[bytes.byteLength] = padByte;
  return out;
}

function sortedEntries(dataset: WritableDataset): [Tag, WritableAttribute][] {
  const entries: [Tag, WritableAttribute][] = [];
  for (const [key, attribute] of Object.entries(dataset)) {
    if (!/^[0-9A-Fa-f]{8}$/.test(key)) {
      throw new DicomWriteError(`Cannot write attribute '${key}': the key is not a GGGGEEEE tag`);
    }
    entries.push([parseInt(key, 16) >>> 0, attribute]);
  }
  // PS3.5 §7.1: data elements in a data set are in ascending tag order.
  return entries.sort((a, b) => a[0] - b[0]);
}

/** Appends the encoded data set to `out` and returns its length. */
function encodeInto(dataset: WritableDataset, ctx: Context, out: Uint8Array[]): number {
  let total = 0;
  for (const [tag, attribute] of sortedEntries(dataset)) total += encodeAttribute(tag, attribute, ctx, out);
  return total;
}

function encodeAttribute(tag: Tag, attribute: WritableAttribute, ctx: Context, out: Uint8Array[]): number {
  const { vr } = attribute;
  if (!Object.hasOwn(VR_INFO, vr)) {
    throw new DicomWriteError(`Cannot write attribute ${tagToString(tag)}: '${String(vr)}' is not a VR`, tag);
  }
  if (attribute.BulkDataURI !== undefined) {
    throw new DicomWriteError(
      `Cannot write attribute ${tagToString(tag)}: bulk data '${attribute.BulkDataURI}' must be resolved to bytes first`,
      tag,
    );
  }
  if (attribute.Fragments) return encodeEncapsulated(tag, attribute, ctx, out);
  if (vr === 'SQ') {
    const items: Uint8Array[] = [];
    let length = 0;
    for (const item of attribute.Value ?? []) {
      if (item === null || typeof item !== 'object' || Array.isArray(item)) {
        throw new DicomWriteError(`Cannot write sequence ${tagToString(tag)}: an item is not a data set`, tag);
      }
      const itemChunks: Uint8Array[] = [];
      const itemCtx = repertoireOf(item as WritableDataset, ctx, ctx);
      const itemLength = encodeInto(item as WritableDataset, itemCtx, itemChunks);
      items.push(encodeElementHeader(ItemTag, undefined, itemLength, ctx), ...itemChunks);
      length += 8 + itemLength;
    }
    const header = encodeElementHeader(tag, 'SQ', length, ctx);
    out.push(header, ...items);
    return header.byteLength + length;
  }
  const value = padToEven(encodeValue(tag, attribute, ctx), VR_INFO[vr].padByte);
  const header = encodeElementHeader(tag, vr, value.byteLength, ctx);
  out.push(header, value);
  return header.byteLength + value.byteLength;
}

function encodeValue(tag: Tag, attribute: WritableAttribute, ctx: Context): Uint8Array {
  const { vr } = attribute;
  const info = VR_INFO[vr];
  if (attribute.Bytes) return toByteOrder(attribute.Bytes, vr, ctx.littleEndian);
  if (attribute.InlineBinary !== undefined) {
    if (info.isString) {
      throw new DicomWriteError(`Cannot write attribute ${tagToString(tag)}: VR ${vr} takes no InlineBinary`, tag);
    }
    return toByteOrder(new Uint8Array(Buffer.from(attribute.InlineBinary, 'base64')), vr, ctx.littleEndian);
  }
  const values = attribute.Value ?? [];
  if (values.length === 0) return new Uint8Array(0);
  if (info.isString) return encodeStrings(values, tag, vr, ctx);
  return encodeNumbers(values, tag, vr, ctx.littleEndian);
}

function encodeEncapsulated(tag: Tag, attribute: WritableAttribute, ctx: Context, out: Uint8Array[]): number {
  if (!ctx.explicitVr || !ctx.littleEndian) {
    throw new DicomWriteError(
      `Cannot write attribute ${tagToString(tag)}: encapsulated values need an explicit VR little endian syntax`,
      tag,
    );
  }
  const fragments = (attribute.Fragments ?? []).map((f) => padToEven(f, 0));
  const table = attribute.BasicOffsetTable ?? basicOffsetTable(fragments.map((f) => f.byteLength));
  const tableBytes = encodeNumbers(table, tag, 'UL', true);
  const chunks = [
    encodeElementHeader(tag, attribute.vr, UndefinedLength, ctx),
    encodeElementHeader(ItemTag, undefined, tableBytes.byteLength, ctx),
    tableBytes,
  ];
  for (const f of fragments) chunks.push(encodeElementHeader(ItemTag, undefined, f.byteLength, ctx), f);
  chunks.push(encodeElementHeader(SequenceDelimitationTag, undefined, 0, ctx));
  out.push(...chunks);
  return chunks.reduce((n, c) => n + c.byteLength, 0);
}

/**
 * Basic Offset Table entries (PS3.5 §A.4) for one fragment per frame: the offset of each frame's item tag,
 * counted from the first byte of the first fragment item, so each fragment adds its length plus an 8-byte header.
 */
export function basicOffsetTable(fragmentLengths: readonly number[]): number[] {
  const table: number[] = [];
  let offset = 0;
  for (const length of fragmentLengths) {
    table.push(offset);
    offset += 8 + length + (length % 2);
  }
  return table;
}

/**
 * Encodes a data set (PS3.5 §7) in a transfer syntax: Implicit or Explicit VR Little Endian, Explicit VR Big Endian
 * (retired), Deflated Explicit VR Little Endian (the encoded data set is deflated, PS3.5 §A.5), or an
 * encapsulated syntax (then top-level Pixel Data must be given as `Fragments`, already compressed). Elements are
 * written in ascending tag order with defined lengths; strings use the repertoire named by (0008,0005): UTF-8
 * for `ISO_IR 192`, Latin-1 for `ISO_IR 100`, ASCII otherwise.
 */
export function encodeDataset(dataset: WritableDataset, transferSyntaxUid: string = ExplicitVrLittleEndian): Uint8Array {
  const ts = lookupTransferSyntax(transferSyntaxUid);
  if (!ts || !isReadableTransferSyntax(transferSyntaxUid)) {
    throw new UnsupportedTransferSyntaxError(transferSyntaxUid);
  }
  const pixelData = dataset[tagToHex(PixelDataTag)];
  if (pixelData && ts.encapsulated && !pixelData.Fragments) {
    throw new DicomWriteError(
      `Cannot write pixel data in transfer syntax '${transferSyntaxUid}': an encapsulated syntax needs Fragments`,
      PixelDataTag,
    );
  }
  if (pixelData?.Fragments && !ts.encapsulated) {
    throw new DicomWriteError(
      `Cannot write pixel data in transfer syntax '${transferSyntaxUid}': a native syntax takes no Fragments`,
      PixelDataTag,
    );
  }
  const bytes = encodeWithEncoding(dataset, ts);
  return ts.deflated ? new Uint8Array(deflateRawSync(bytes)) : bytes;
}

/**
 * Encodes a data set with an element encoding rather than a transfer syntax: the core of `encodeDataset`, for
 * callers that know the layout only (for example a DIMSE data set in the accepted presentation context).
 */
export function encodeWithEncoding(dataset: WritableDataset, encoding: ElementEncoding): Uint8Array {
  const ctx = repertoireOf(dataset, undefined, { explicitVr: encoding.explicitVr, littleEndian: encoding.littleEndian });
  const chunks: Uint8Array[] = [];
  const total = encodeInto(dataset, ctx, chunks);
  return concat(chunks, total);
}

/**
 * Encodes a DIMSE command set (PS3.7 §6.3.1, §9.3): group 0000 in Implicit VR Little Endian, with (0000,0000)
 * Command Group Length computed and written first, whatever the caller passed for it.
 */
export function encodeCommandSet(command: WritableDataset): Uint8Array {
  const rest: WritableDataset = {};
  for (const [key, attribute] of Object.entries(command)) {
    if (!/^0000[0-9A-Fa-f]{4}$/.test(key)) {
      throw new DicomWriteError(`Cannot write command element '${key}': a command set holds group 0000 only`);
    }
    if (key !== '00000000') rest[key] = attribute;
  }
  const body = encodeWithEncoding(rest, IMPLICIT_LE);
  const length = encodeWithEncoding({ '00000000': { vr: 'UL', Value: [body.byteLength] } }, IMPLICIT_LE);
  return concat([length, body]);
}

/** What `encodeFileMetaInformation` needs; the rest of group 0002 is filled in (PS3.10 §7.1). */
export interface FileMetaInformationOptions {
  mediaStorageSopClassUid: string;
  mediaStorageSopInstanceUid: string;
  transferSyntaxUid: string;
  sourceApplicationEntityTitle?: string;
  /** Further group 0002 attributes, or replacements of the defaults (implementation class UID, version name). */
  attributes?: DicomJsonDataset;
}

/**
 * The File Meta Information (PS3.10 §7.1): group 0002 in Explicit VR Little Endian, with (0002,0000) File Meta
 * Information Group Length, (0002,0001) version 00\01 and Atrium's Implementation Class UID and Version Name.
 * Without the 128-byte preamble and `DICM` prefix (see `encodePart10`).
 */
export function encodeFileMetaInformation(options: FileMetaInformationOptions): Uint8Array {
  if (options.attributes === undefined) {
    const fast = encodePlainFileMeta(options);
    if (fast) return fast;
  }
  const meta: WritableDataset = {
    '00020001': { vr: 'OB', Bytes: new Uint8Array([0, 1]) },
    '00020002': { vr: 'UI', Value: [options.mediaStorageSopClassUid] },
    '00020003': { vr: 'UI', Value: [options.mediaStorageSopInstanceUid] },
    '00020010': { vr: 'UI', Value: [options.transferSyntaxUid] },
    '00020012': { vr: 'UI', Value: [ATRIUM_IMPLEMENTATION_CLASS_UID] },
    '00020013': { vr: 'SH', Value: [ATRIUM_IMPLEMENTATION_VERSION_NAME] },
  };
  if (options.sourceApplicationEntityTitle !== undefined) {
    meta['00020016'] = { vr: 'AE', Value: [options.sourceApplicationEntityTitle] };
  }
  for (const [key, attribute] of Object.entries(options.attributes ?? {})) {
    if (!/^0002[0-9A-Fa-f]{4}$/.test(key)) {
      throw new DicomWriteError(`Cannot write file meta element '${key}': file meta information holds group 0002 only`);
    }
    if (key === '00020000' || key.toUpperCase() === '00020010') continue;
    meta[key.toUpperCase()] = attribute;
  }
  for (const key of ['00020002', '00020003'] as const) {
    const uid = meta[key]?.Value?.[0];
    if (typeof uid !== 'string' || uid === '') {
      throw new DicomWriteError(`Cannot write file meta information: ${tagToString(parseInt(key, 16))} is empty`);
    }
  }
  const body = encodeWithEncoding(meta, EXPLICIT_LE);
  const length = encodeWithEncoding({ '00020000': { vr: 'UL', Value: [body.byteLength] } }, EXPLICIT_LE);
  return concat([length, body]);
}

/**
 * The file meta information of a C-STORE (SOP class, instance, transfer syntax, sender), which every received
 * instance needs: laid out directly in Explicit VR Little Endian (PS3.10 §7.1) rather than through the general
 * writer, whose per-data-set set-up costs more than the 200 bytes it produces. Anything but plain ASCII values
 * (undefined then) goes through the general writer, which checks and reports it.
 */
function encodePlainFileMeta(options: FileMetaInformationOptions): Uint8Array | undefined {
  const sopClassUid = options.mediaStorageSopClassUid;
  const sopInstanceUid = options.mediaStorageSopInstanceUid;
  const transferSyntaxUid = options.transferSyntaxUid;
  const aeTitle = options.sourceApplicationEntityTitle;
  if (sopClassUid === '' || sopInstanceUid === '') return undefined;
  if (sopClassUid.length > 64 || sopInstanceUid.length > 64 || transferSyntaxUid.length > 64) return undefined;
  if (aeTitle !== undefined && aeTitle.length > 16) return undefined;
  // (0002,0001) OB: a 12-byte header and 2 value bytes; every other element an 8-byte header and its padded value.
  let bodyLength =
    14 +
    shortElementLength(sopClassUid) +
    shortElementLength(sopInstanceUid) +
    shortElementLength(transferSyntaxUid) +
    shortElementLength(ATRIUM_IMPLEMENTATION_CLASS_UID) +
    shortElementLength(ATRIUM_IMPLEMENTATION_VERSION_NAME);
  if (aeTitle !== undefined) bodyLength += shortElementLength(aeTitle);
  const out = new Uint8Array(12 + bodyLength);
  let at = putShortHeader(out, 0, 0x0000, 0x55, 0x4c, 4); // UL
  out[at] = bodyLength & 0xff;
  out[at + 1] = (bodyLength >>> 8) & 0xff;
  out[at + 2] = (bodyLength >>> 16) & 0xff;
  out[at + 3] = bodyLength >>> 24;
  at += 4;
  // (0002,0001) OB, long form: 2 reserved bytes, a 32-bit length of 2, and the version 00\01.
  out[at] = 0x02;
  out[at + 2] = 0x01;
  out[at + 4] = 0x4f;
  out[at + 5] = 0x42;
  out[at + 8] = 2;
  out[at + 13] = 1;
  at += 14;
  // UI pads with NUL, the text VRs with a space (PS3.5 §6.2).
  at = putPlainText(out, at, 0x0002, 0x55, 0x49, sopClassUid, 0);
  if (at >= 0) at = putPlainText(out, at, 0x0003, 0x55, 0x49, sopInstanceUid, 0);
  if (at >= 0) at = putPlainText(out, at, 0x0010, 0x55, 0x49, transferSyntaxUid, 0);
  if (at >= 0) at = putPlainText(out, at, 0x0012, 0x55, 0x49, ATRIUM_IMPLEMENTATION_CLASS_UID, 0);
  if (at >= 0) at = putPlainText(out, at, 0x0013, 0x53, 0x48, ATRIUM_IMPLEMENTATION_VERSION_NAME, 0x20);
  if (at >= 0 && aeTitle !== undefined) at = putPlainText(out, at, 0x0016, 0x41, 0x45, aeTitle, 0x20);
  return at < 0 ? undefined : out;
}

/** Bytes of a group 0002 element with a 16-bit length whose value is `value`, padded to even length. */
function shortElementLength(value: string): number {
  return 8 + value.length + (value.length % 2);
}

/** Writes the 8-byte header of a group 0002 element with a 16-bit length; returns the offset of its value. */
function putShortHeader(out: Uint8Array, at: number, element: number, vr0: number, vr1: number, length: number): number {
  out[at] = 0x02;
  out[at + 2] = element & 0xff;
  out[at + 3] = element >>> 8;
  out[at + 4] = vr0;
  out[at + 5] = vr1;
  out[at + 6] = length & 0xff;
  out[at + 7] = length >>> 8;
  return at + 8;
}

/**
 * Writes an element whose value is printable ASCII without the value delimiter (what the general writer would
 * encode byte for byte), padded with `pad`; returns the offset after it, or -1 at the first other character.
 */
function putPlainText(out: Uint8Array, at: number, element: number, vr0: number, vr1: number, value: string, pad: number): number {
  const padded = value.length + (value.length % 2);
  let k = putShortHeader(out, at, element, vr0, vr1, padded);
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x5c) return -1;
    out[k++] = c;
  }
  if (padded !== value.length) out[k++] = pad;
  return k;
}

export interface Part10Options {
  dataset: WritableDataset;
  transferSyntaxUid: string;
  /** Group 0002 attributes to add or replace; Media Storage SOP Class/Instance UID default to the data set's. */
  fileMetaInformation?: DicomJsonDataset;
}

/** The 128-byte preamble and `DICM` prefix of a DICOM file (PS3.10 §7.1). */
export function encodePart10Prefix(): Uint8Array {
  const out = new Uint8Array(132);
  out[128] = 0x44;
  out[129] = 0x49;
  out[130] = 0x43;
  out[131] = 0x4d;
  return out;
}

function firstString(attribute: WritableAttribute | undefined): string | undefined {
  const v = attribute?.Value?.[0];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * The header of a Part 10 file up to the data set: preamble, `DICM`, file meta information. Media Storage SOP
 * Class and Instance UID come from (0008,0016) and (0008,0018) of `dataset` unless `fileMetaInformation` gives them.
 * Streaming writers use it to emit the header before producing the data set lazily.
 */
export function encodePart10Header(options: Part10Options): Uint8Array {
  const { dataset, transferSyntaxUid, fileMetaInformation = {} } = options;
  const sopClassUid = firstString(fileMetaInformation['00020002']) ?? firstString(dataset['00080016']);
  const sopInstanceUid = firstString(fileMetaInformation['00020003']) ?? firstString(dataset['00080018']);
  if (!sopClassUid || !sopInstanceUid) {
    throw new DicomWriteError(
      'Cannot write Part 10 file: the data set has no SOP Class UID (0008,0016) or SOP Instance UID (0008,0018)',
    );
  }
  const meta = encodeFileMetaInformation({
    mediaStorageSopClassUid: sopClassUid,
    mediaStorageSopInstanceUid: sopInstanceUid,
    transferSyntaxUid,
    attributes: fileMetaInformation,
  });
  return concat([encodePart10Prefix(), meta]);
}

/**
 * A complete DICOM file (PS3.10 §7): preamble, `DICM`, file meta information, then the data set encoded in
 * `transferSyntaxUid` (see `encodeDataset`). Group 0002 elements in `dataset` are ignored: they belong to the
 * file meta information.
 */
export function encodePart10(options: Part10Options): Uint8Array {
  const body: WritableDataset = {};
  for (const [key, attribute] of Object.entries(options.dataset)) {
    if (!key.startsWith('0002')) body[key] = attribute;
  }
  return concat([encodePart10Header(options), encodeDataset(body, options.transferSyntaxUid)]);
}

/** Implicit VR Little Endian, the default transfer syntax and the one of command sets (PS3.5 §10.1). */
export const IMPLICIT_VR_LITTLE_ENDIAN_ENCODING: ElementEncoding = IMPLICIT_LE;
/** Explicit VR Little Endian: file meta information and most stored objects. */
export const EXPLICIT_VR_LITTLE_ENDIAN_ENCODING: ElementEncoding = EXPLICIT_LE;

/** The Item header of an item of a sequence or of encapsulated pixel data (PS3.5 §7.5, §A.4). */
export function encodeItemHeader(length: number): Uint8Array {
  return encodeElementHeader(ItemTag, undefined, length, EXPLICIT_LE);
}

/** The Sequence Delimitation Item that closes an undefined-length sequence or encapsulated pixel data. */
export function encodeSequenceDelimitation(): Uint8Array {
  return encodeElementHeader(SequenceDelimitationTag, undefined, 0, EXPLICIT_LE);
}
