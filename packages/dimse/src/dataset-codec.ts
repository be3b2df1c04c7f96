import { deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  DataDictionary,
  DeflatedExplicitVrLittleEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
  UnsupportedTransferSyntaxError,
  VR_INFO,
  defaultDictionary,
  isVr,
  tagToHex,
} from '@atrium/dicom';
import type { DicomJsonAttribute, DicomJsonDataset, DicomJsonPersonName, DicomJsonValue, Vr } from '@atrium/dicom';
import { DimseProtocolError } from './errors.js';

/*
 * A small reader and writer between little-endian data set bytes and the DICOM JSON model (PS3.18 Annex F), for
 * the data sets DIMSE carries inline: C-FIND/C-MOVE/C-GET identifiers, storage commitment action information,
 * failed SOP instance lists. They are small (bounded by `maxIdentifierLength`), so whole-buffer code is right
 * here; stored instances never pass through it.
 */

const ITEM = 0xfffee000;
const ITEM_DELIMITATION = 0xfffee00d;
const SEQUENCE_DELIMITATION = 0xfffee0dd;
const UNDEFINED = 0xffffffff;

interface Syntax {
  explicit: boolean;
  deflated: boolean;
}

function syntaxOf(transferSyntaxUid: string): Syntax {
  if (transferSyntaxUid === ImplicitVrLittleEndian) return { explicit: false, deflated: false };
  if (transferSyntaxUid === DeflatedExplicitVrLittleEndian) return { explicit: true, deflated: true };
  // Every other little-endian explicit syntax encodes identifiers the same way (only pixel data differs).
  if (transferSyntaxUid === ExplicitVrLittleEndian || transferSyntaxUid.startsWith('1.2.840.10008.1.2.4') ||
    transferSyntaxUid === '1.2.840.10008.1.2.5' || transferSyntaxUid === '1.2.840.10008.1.2.1.98') {
    return { explicit: true, deflated: false };
  }
  throw new UnsupportedTransferSyntaxError(transferSyntaxUid);
}

export interface DatasetCodecOptions {
  dictionary?: DataDictionary;
}

/**
 * Decodes a little-endian data set (Implicit, Explicit or Deflated Explicit VR) into DICOM JSON. Text is read as
 * UTF-8 when (0008,0005) says `ISO_IR 192`, otherwise as Latin-1 (good for the ASCII of nearly every query key).
 */
export function decodeDataset(bytes: Buffer, transferSyntaxUid: string, options: DatasetCodecOptions = {}): DicomJsonDataset {
  const syntax = syntaxOf(transferSyntaxUid);
  const buf = syntax.deflated ? inflateRawSync(bytes) : bytes;
  const reader = new Reader(buf, syntax.explicit, options.dictionary ?? defaultDictionary());
  return reader.dataset(0, buf.length, 0).dataset;
}

class Reader {
  private utf8 = false;
  constructor(
    private readonly buf: Buffer,
    private readonly explicit: boolean,
    private readonly dictionary: DataDictionary,
  ) {}

  private fail(message: string, offset: number): never {
    throw new DimseProtocolError(`Cannot read data set: ${message} at offset ${offset}`, { code: 'ATRIUM_ERR_DIMSE_DATASET' });
  }

  private tagAt(pos: number): number {
    return ((this.buf.readUInt16LE(pos) << 16) | this.buf.readUInt16LE(pos + 2)) >>> 0;
  }

  /** Reads elements from `start` until `end` or, when `end` is undefined-length, until an item delimiter. */
  dataset(start: number, end: number, depth: number): { dataset: DicomJsonDataset; next: number } {
    if (depth > 32) this.fail('sequences nest deeper than 32 levels', start);
    const out: DicomJsonDataset = {};
    let pos = start;
    while (pos < end) {
      if (pos + 8 > this.buf.length) this.fail('element header is truncated', pos);
      const tag = this.tagAt(pos);
      if (tag === ITEM_DELIMITATION) return { dataset: out, next: pos + 8 };
      let vr: Vr;
      let length: number;
      let valueStart: number;
      if (this.explicit && (tag >>> 16) !== 0xfffe) {
        const vrText = this.buf.toString('latin1', pos + 4, pos + 6);
        if (!isVr(vrText)) this.fail(`VR '${vrText}' of ${tagToHex(tag)} is not defined`, pos);
        vr = vrText;
        if (VR_INFO[vr].longLength) {
          if (pos + 12 > this.buf.length) this.fail('element header is truncated', pos);
          length = this.buf.readUInt32LE(pos + 8);
          valueStart = pos + 12;
        } else {
          length = this.buf.readUInt16LE(pos + 6);
          valueStart = pos + 8;
        }
      } else {
        vr = this.dictionary.vrOf(tag);
        length = this.buf.readUInt32LE(pos + 4);
        valueStart = pos + 8;
      }
      if (vr === 'SQ' || (length === UNDEFINED && vr === 'UN')) {
        const seq = this.sequence(valueStart, length, depth);
        out[tagToHex(tag)] = seq.items.length ? { vr: 'SQ', Value: seq.items } : { vr: 'SQ' };
        pos = seq.next;
        continue;
      }
      if (length === UNDEFINED) {
        // Encapsulated pixel data has no place in an identifier; skip its fragments.
        pos = this.skipFragments(valueStart);
        continue;
      }
      const valueEnd = valueStart + length;
      if (valueEnd > this.buf.length) this.fail(`value of ${tagToHex(tag)} (${length} bytes) is truncated`, pos);
      if ((tag & 0xffff) !== 0) {
        const attribute = this.value(vr, valueStart, valueEnd);
        out[tagToHex(tag)] = attribute;
        if (tag === 0x00080005) {
          const charsets = (attribute.Value ?? []) as string[];
          this.utf8 = charsets.some((c) => c === 'ISO_IR 192');
        }
      }
      pos = valueEnd;
    }
    return { dataset: out, next: pos };
  }

  private sequence(start: number, length: number, depth: number): { items: DicomJsonDataset[]; next: number } {
    const items: DicomJsonDataset[] = [];
    const end = length === UNDEFINED ? this.buf.length : start + length;
    if (end > this.buf.length) this.fail('sequence is truncated', start);
    let pos = start;
    while (pos < end) {
      if (pos + 8 > this.buf.length) this.fail('item header is truncated', pos);
      const tag = this.tagAt(pos);
      const itemLength = this.buf.readUInt32LE(pos + 4);
      if (tag === SEQUENCE_DELIMITATION) return { items, next: pos + 8 };
      if (tag !== ITEM) this.fail(`expected an item tag, found ${tagToHex(tag)}`, pos);
      if (itemLength === UNDEFINED) {
        const r = this.dataset(pos + 8, this.buf.length, depth + 1);
        items.push(r.dataset);
        pos = r.next;
      } else {
        const r = this.dataset(pos + 8, pos + 8 + itemLength, depth + 1);
        items.push(r.dataset);
        pos = pos + 8 + itemLength;
      }
    }
    if (length === UNDEFINED) this.fail('sequence has no delimitation item', pos);
    return { items, next: end };
  }

  private skipFragments(start: number): number {
    let pos = start;
    while (pos + 8 <= this.buf.length) {
      const tag = this.tagAt(pos);
      const len = this.buf.readUInt32LE(pos + 4);
      if (tag === SEQUENCE_DELIMITATION) return pos + 8;
      pos += 8 + len;
    }
    this.fail('encapsulated value has no delimitation item', start);
  }

  private value(vr: Vr, start: number, end: number): DicomJsonAttribute {
    if (start === end) return { vr };
    const buf = this.buf;
    const info = VR_INFO[vr];
    if (info.isString) {
      const raw = this.utf8 && info.charsetDecoded ? buf.toString('utf8', start, end) : buf.toString('latin1', start, end);
      const parts = info.multiValued ? raw.split('\\') : [raw];
      const values: DicomJsonValue[] = parts.map((p) => stringValue(vr, p));
      if (values.every((v) => v === null)) return { vr };
      return { vr, Value: values };
    }
    if (vr === 'AT') {
      const values: string[] = [];
      for (let p = start; p + 4 <= end; p += 4) values.push(tagToHex(this.tagAt(p)));
      return { vr, Value: values };
    }
    if (info.bulkCapable) return { vr, InlineBinary: buf.toString('base64', start, end) };
    const values: number[] = [];
    const size = info.numberSize;
    for (let p = start; p + size <= end; p += size) {
      switch (vr) {
        case 'US': values.push(buf.readUInt16LE(p)); break;
        case 'SS': values.push(buf.readInt16LE(p)); break;
        case 'UL': values.push(buf.readUInt32LE(p)); break;
        case 'SL': values.push(buf.readInt32LE(p)); break;
        case 'FL': values.push(buf.readFloatLE(p)); break;
        case 'FD': values.push(buf.readDoubleLE(p)); break;
        case 'SV': values.push(Number(buf.readBigInt64LE(p))); break;
        case 'UV': values.push(Number(buf.readBigUInt64LE(p))); break;
        default: break;
      }
    }
    return { vr, Value: values };
  }
}

function stringValue(vr: Vr, text: string): DicomJsonValue {
  // Trailing padding (space, or NUL for UI) is insignificant; leading spaces are too except in the text VRs.
  let t = text.replace(/[\0 ]+$/, '');
  if (vr !== 'LT' && vr !== 'ST' && vr !== 'UT') t = t.replace(/^ +/, '');
  if (t === '') return null;
  if (vr === 'PN') {
    const [alphabetic, ideographic, phonetic] = t.split('=');
    const pn: DicomJsonPersonName = {};
    if (alphabetic) pn.Alphabetic = alphabetic;
    if (ideographic) pn.Ideographic = ideographic;
    if (phonetic) pn.Phonetic = phonetic;
    return pn;
  }
  if (vr === 'IS' || vr === 'DS') {
    const n = Number(t);
    // Keep strings a number cannot carry (e.g. a range such as "10-20" in a query) as they are.
    return Number.isFinite(n) && /^[+-]?[0-9.eE+-]+$/.test(t) ? n : t;
  }
  return t;
}

/**
 * Encodes DICOM JSON into little-endian bytes (Implicit, Explicit or Deflated Explicit VR), elements in ascending
 * tag order, sequences and items with defined lengths. `BulkDataURI` attributes cannot be encoded and are refused.
 */
export function encodeDataset(dataset: DicomJsonDataset, transferSyntaxUid: string): Buffer {
  const syntax = syntaxOf(transferSyntaxUid);
  const utf8 = ((dataset['00080005']?.Value ?? []) as unknown[]).includes('ISO_IR 192');
  const bytes = Buffer.concat(encodeElements(dataset, syntax.explicit, utf8));
  return syntax.deflated ? deflateRawSync(bytes) : bytes;
}

function encodeElements(dataset: DicomJsonDataset, explicit: boolean, utf8: boolean): Buffer[] {
  const out: Buffer[] = [];
  for (const key of Object.keys(dataset).sort()) {
    const attribute = dataset[key]!;
    const tag = parseInt(key, 16) >>> 0;
    if (!/^[0-9A-Fa-f]{8}$/.test(key)) throw new TypeError(`Cannot encode attribute '${key}': the key is not a GGGGEEEE tag`);
    let value: Buffer;
    if (attribute.vr === 'SQ') {
      const items = ((attribute.Value ?? []) as DicomJsonDataset[]).map((item) => {
        const body = Buffer.concat(encodeElements(item, explicit, utf8));
        const h = Buffer.allocUnsafe(8);
        h.writeUInt16LE(0xfffe, 0);
        h.writeUInt16LE(0xe000, 2);
        h.writeUInt32LE(body.length, 4);
        return Buffer.concat([h, body]);
      });
      value = Buffer.concat(items);
    } else {
      value = encodeValue(key, attribute, utf8);
    }
    out.push(elementHeader(tag, attribute.vr, value.length, explicit), value);
  }
  return out;
}

function elementHeader(tag: number, vr: Vr, length: number, explicit: boolean): Buffer {
  if (!explicit) {
    const h = Buffer.allocUnsafe(8);
    h.writeUInt16LE(tag >>> 16, 0);
    h.writeUInt16LE(tag & 0xffff, 2);
    h.writeUInt32LE(length, 4);
    return h;
  }
  if (VR_INFO[vr].longLength) {
    const h = Buffer.allocUnsafe(12);
    h.writeUInt16LE(tag >>> 16, 0);
    h.writeUInt16LE(tag & 0xffff, 2);
    h.write(vr, 4, 'latin1');
    h.writeUInt16LE(0, 6);
    h.writeUInt32LE(length, 8);
    return h;
  }
  if (length > 0xffff) throw new RangeError(`Cannot encode ${tagToHex(tag)}: ${length} bytes do not fit a ${vr} value`);
  const h = Buffer.allocUnsafe(8);
  h.writeUInt16LE(tag >>> 16, 0);
  h.writeUInt16LE(tag & 0xffff, 2);
  h.write(vr, 4, 'latin1');
  h.writeUInt16LE(length, 6);
  return h;
}

function encodeValue(key: string, attribute: DicomJsonAttribute, utf8: boolean): Buffer {
  const { vr } = attribute;
  const info = VR_INFO[vr];
  if (attribute.BulkDataURI !== undefined) {
    throw new TypeError(`Cannot encode attribute '${key}': a BulkDataURI value is not available inline`);
  }
  if (attribute.InlineBinary !== undefined) return pad(Buffer.from(attribute.InlineBinary, 'base64'), 0);
  const values = attribute.Value ?? [];
  if (info.isString) {
    const text = values
      .map((v) => {
        if (v === null || v === undefined) return '';
        if (vr === 'PN' && typeof v === 'object') {
          const pn = v as DicomJsonPersonName;
          return [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''].join('=').replace(/=+$/, '');
        }
        return String(v);
      })
      .join('\\');
    return pad(Buffer.from(text, utf8 && info.charsetDecoded ? 'utf8' : 'latin1'), info.padByte);
  }
  if (vr === 'AT') {
    const b = Buffer.allocUnsafe(4 * values.length);
    values.forEach((v, i) => {
      const t = parseInt(String(v), 16) >>> 0;
      b.writeUInt16LE(t >>> 16, 4 * i);
      b.writeUInt16LE(t & 0xffff, 4 * i + 2);
    });
    return b;
  }
  const size = info.numberSize || 1;
  const b = Buffer.allocUnsafe(size * values.length);
  values.forEach((raw, i) => {
    const v = Number(raw);
    const p = i * size;
    switch (vr) {
      case 'US': b.writeUInt16LE(v, p); break;
      case 'SS': b.writeInt16LE(v, p); break;
      case 'UL': b.writeUInt32LE(v, p); break;
      case 'SL': b.writeInt32LE(v, p); break;
      case 'FL': b.writeFloatLE(v, p); break;
      case 'FD': b.writeDoubleLE(v, p); break;
      case 'SV': b.writeBigInt64LE(BigInt(Math.trunc(v)), p); break;
      case 'UV': b.writeBigUInt64LE(BigInt(Math.trunc(v)), p); break;
      default: b.writeUInt8(v & 0xff, p); break;
    }
  });
  return b;
}

function pad(buf: Buffer, byte: number): Buffer {
  if (buf.length % 2 === 0) return buf;
  return Buffer.concat([buf, Buffer.from([byte])]);
}
