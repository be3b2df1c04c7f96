import type { SpecificCharacterSet } from './character-set.js';
import { asciiString } from './character-set.js';
import type { DicomJsonValue } from './dicom-json.js';
import { parsePersonName } from './person-name.js';
import type { Vr } from './vr.js';
import { VR_INFO } from './vr.js';

/**
 * Decoding of element values into DICOM JSON values (PS3.18 Annex F) from their encoded bytes (PS3.5 §6.2).
 */

/**
 * VRs whose leading spaces are padding too (PS3.5 Table 6.2-1); for LT, ST, UT and PN they are content. The Part 10
 * reader applies the same rules itself to the values it reads in place (`decodeCharacterString`): change both, or
 * its tests, which compare the two on every VR, fail.
 */
const TRIM_LEADING: ReadonlySet<Vr> = new Set<Vr>(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'SH', 'TM', 'UI', 'UR']);

const IS_PATTERN = /^[+-]?\d+$/;
const DS_PATTERN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Decodes a character string value into DICOM JSON values: split on `\` where the VR is multi-valued, padding
 * trimmed, IS and DS as numbers (the original text is kept when it is not a valid number), PN as component
 * groups. Returns undefined for an empty value; an empty value among several becomes null (PS3.18 §F.2.5).
 */
export function decodeStringValue(bytes: Uint8Array, vr: Vr, charset: SpecificCharacterSet): DicomJsonValue[] | undefined {
  const info = VR_INFO[vr];
  const text = info.charsetDecoded ? charset.decode(bytes, vr) : asciiString(bytes);
  const parts = info.multiValued ? text.split('\\') : [text];
  const leading = TRIM_LEADING.has(vr);
  const out: DicomJsonValue[] = [];
  let any = false;
  for (const part of parts) {
    const v = trimValue(part, leading);
    if (v === '') {
      out.push(null);
      continue;
    }
    any = true;
    if (vr === 'IS') out.push(IS_PATTERN.test(v) ? Number(v) : v);
    else if (vr === 'DS') out.push(DS_PATTERN.test(v) ? Number(v) : v);
    else if (vr === 'PN') out.push(parsePersonName(v));
    else out.push(v);
  }
  return any ? out : undefined;
}

/** Trailing spaces and NULs are padding in every string VR (UI pads with NUL; some writers pad others with it). */
function trimValue(s: string, leading: boolean): string {
  let end = s.length;
  while (end > 0) {
    const c = s.charCodeAt(end - 1);
    if (c !== 0x20 && c !== 0) break;
    end--;
  }
  let start = 0;
  if (leading) while (start < end && s.charCodeAt(start) === 0x20) start++;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * Decodes binary numbers (US, SS, UL, SL, FL, FD, SV, UV) and AT. SV and UV outside the safe integer range become
 * decimal strings, since a JSON number would lose digits. Trailing bytes that do not make a whole number are ignored.
 */
export function decodeBinaryValue(bytes: Uint8Array, vr: Vr, littleEndian: boolean): DicomJsonValue[] | undefined {
  const size = VR_INFO[vr].numberSize;
  if (size === 0) return undefined;
  const count = Math.floor(bytes.length / size);
  if (count === 0) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: DicomJsonValue[] = new Array<DicomJsonValue>(count);
  for (let i = 0, o = 0; i < count; i++, o += size) {
    switch (vr) {
      case 'US': out[i] = view.getUint16(o, littleEndian); break;
      case 'SS': out[i] = view.getInt16(o, littleEndian); break;
      case 'UL': out[i] = view.getUint32(o, littleEndian); break;
      case 'SL': out[i] = view.getInt32(o, littleEndian); break;
      case 'FL': out[i] = view.getFloat32(o, littleEndian); break;
      case 'FD': out[i] = view.getFloat64(o, littleEndian); break;
      case 'SV': out[i] = bigToJson(view.getBigInt64(o, littleEndian)); break;
      case 'UV': out[i] = bigToJson(view.getBigUint64(o, littleEndian)); break;
      case 'AT': {
        const group = view.getUint16(o, littleEndian);
        const element = view.getUint16(o + 2, littleEndian);
        out[i] = (group.toString(16).padStart(4, '0') + element.toString(16).padStart(4, '0')).toUpperCase();
        break;
      }
      default:
        return undefined;
    }
  }
  return out;
}

function bigToJson(v: bigint): number | string {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

/**
 * Base64 of an opaque binary value, little endian as PS3.18 §F.2.7 requires: words of OW, OF, OL, OD and OV read
 * from a big endian data set are swapped first.
 */
export function inlineBinary(bytes: Uint8Array, vr: Vr, littleEndian: boolean): string {
  const size = VR_INFO[vr].numberSize;
  if (littleEndian || size <= 1 || vr === 'UN') return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  const swapped = Buffer.from(bytes);
  const whole = swapped.length - (swapped.length % size);
  if (size === 2) swapped.subarray(0, whole).swap16();
  else if (size === 4) swapped.subarray(0, whole).swap32();
  else swapped.subarray(0, whole).swap64();
  return swapped.toString('base64');
}
