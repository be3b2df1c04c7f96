/**
 * Value representations (PS3.5 §6.2, Table 6.2-1).
 */
export type Vr =
  | 'AE' | 'AS' | 'AT' | 'CS' | 'DA' | 'DS' | 'DT' | 'FD' | 'FL' | 'IS' | 'LO' | 'LT' | 'OB' | 'OD' | 'OF' | 'OL'
  | 'OV' | 'OW' | 'PN' | 'SH' | 'SL' | 'SQ' | 'SS' | 'ST' | 'SV' | 'TM' | 'UC' | 'UI' | 'UL' | 'UN' | 'UR' | 'US'
  | 'UT' | 'UV';

export interface VrInfo {
  /** Explicit VR encodings use 2 reserved bytes and a 32-bit length for these (PS3.5 §7.1.2). */
  readonly longLength: boolean;
  /** Character string VRs, decoded with the Specific Character Set when `charsetDecoded` is set. */
  readonly isString: boolean;
  /** Only these VRs are affected by (0008,0005) Specific Character Set (PS3.5 §6.1.2.3). */
  readonly charsetDecoded: boolean;
  /** Binary VRs that may be replaced by a BulkDataURI in DICOM JSON (PS3.18 §F.2.7). */
  readonly bulkCapable: boolean;
  /** Byte size of one binary number; 0 for strings and opaque bytes. */
  readonly numberSize: 0 | 1 | 2 | 4 | 8;
  /** Values of string VRs are padded to even length with this byte (PS3.5 §6.2). */
  readonly padByte: 0x20 | 0x00;
  /** Multiple values are separated by backslash (not for LT, ST, UT, UR, which are single-valued text). */
  readonly multiValued: boolean;
}

const info = (
  longLength: boolean,
  isString: boolean,
  charsetDecoded: boolean,
  bulkCapable: boolean,
  numberSize: VrInfo['numberSize'],
  padByte: VrInfo['padByte'],
  multiValued: boolean,
): VrInfo => ({ longLength, isString, charsetDecoded, bulkCapable, numberSize, padByte, multiValued });

export const VR_INFO: Readonly<Record<Vr, VrInfo>> = {
  AE: info(false, true, false, false, 0, 0x20, true),
  AS: info(false, true, false, false, 0, 0x20, true),
  AT: info(false, false, false, false, 4, 0x00, true),
  CS: info(false, true, false, false, 0, 0x20, true),
  DA: info(false, true, false, false, 0, 0x20, true),
  DS: info(false, true, false, false, 0, 0x20, true),
  DT: info(false, true, false, false, 0, 0x20, true),
  FD: info(false, false, false, false, 8, 0x00, true),
  FL: info(false, false, false, false, 4, 0x00, true),
  IS: info(false, true, false, false, 0, 0x20, true),
  LO: info(false, true, true, false, 0, 0x20, true),
  LT: info(false, true, true, false, 0, 0x20, false),
  OB: info(true, false, false, true, 1, 0x00, false),
  OD: info(true, false, false, true, 8, 0x00, false),
  OF: info(true, false, false, true, 4, 0x00, false),
  OL: info(true, false, false, true, 4, 0x00, false),
  OV: info(true, false, false, true, 8, 0x00, false),
  OW: info(true, false, false, true, 2, 0x00, false),
  PN: info(false, true, true, false, 0, 0x20, true),
  SH: info(false, true, true, false, 0, 0x20, true),
  SL: info(false, false, false, false, 4, 0x00, true),
  SQ: info(true, false, false, false, 0, 0x00, false),
  SS: info(false, false, false, false, 2, 0x00, true),
  ST: info(false, true, true, false, 0, 0x20, false),
  SV: info(true, false, false, false, 8, 0x00, true),
  TM: info(false, true, false, false, 0, 0x20, true),
  UC: info(true, true, true, false, 0, 0x20, true),
  UI: info(false, true, false, false, 0, 0x00, true),
  UL: info(false, false, false, false, 4, 0x00, true),
  UN: info(true, false, false, true, 1, 0x00, false),
  UR: info(true, true, false, false, 0, 0x20, false),
  US: info(false, false, false, false, 2, 0x00, true),
  UT: info(true, true, true, false, 0, 0x20, false),
  UV: info(true, false, false, false, 8, 0x00, true),
};

export function isVr(text: string): text is Vr {
  return Object.hasOwn(VR_INFO, text);
}
