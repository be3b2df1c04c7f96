import { ExplicitVrLittleEndian, ImplicitVrLittleEndian, lookupTransferSyntax } from '@atrium/dicom';

/** Transfer syntaxes whose pixel data the codec workers (dcmjs-codecs) decode. */
export const DECODABLE_TRANSFER_SYNTAXES: ReadonlySet<string> = new Set([
  ImplicitVrLittleEndian,
  ExplicitVrLittleEndian,
  '1.2.840.10008.1.2.2',
  '1.2.840.10008.1.2.5',
  '1.2.840.10008.1.2.4.50',
  '1.2.840.10008.1.2.4.51',
  '1.2.840.10008.1.2.4.57',
  '1.2.840.10008.1.2.4.70',
  '1.2.840.10008.1.2.4.80',
  '1.2.840.10008.1.2.4.81',
  '1.2.840.10008.1.2.4.90',
  '1.2.840.10008.1.2.4.91',
  '1.2.840.10008.1.2.4.110',
  '1.2.840.10008.1.2.4.111',
  '1.2.840.10008.1.2.4.112',
  '1.2.840.10008.1.2.4.201',
  '1.2.840.10008.1.2.4.202',
  '1.2.840.10008.1.2.4.203',
]);

/** Transfer syntaxes the codec workers encode to (JPEG baseline only for 8-bit images, checked when encoding). */
export const ENCODABLE_TRANSFER_SYNTAXES: ReadonlySet<string> = new Set([
  ImplicitVrLittleEndian,
  ExplicitVrLittleEndian,
  '1.2.840.10008.1.2.5',
  '1.2.840.10008.1.2.4.50',
  '1.2.840.10008.1.2.4.70',
  '1.2.840.10008.1.2.4.80',
  '1.2.840.10008.1.2.4.81',
  '1.2.840.10008.1.2.4.90',
  '1.2.840.10008.1.2.4.91',
  '1.2.840.10008.1.2.4.110',
  '1.2.840.10008.1.2.4.112',
  '1.2.840.10008.1.2.4.201',
  '1.2.840.10008.1.2.4.202',
  '1.2.840.10008.1.2.4.203',
]);

/** Native (uncompressed) syntaxes: any object without pixel data can be re-encoded between them. */
export const NATIVE_TRANSFER_SYNTAXES: ReadonlySet<string> = new Set([
  ImplicitVrLittleEndian,
  ExplicitVrLittleEndian,
  '1.2.840.10008.1.2.1.99',
  '1.2.840.10008.1.2.2',
]);

/** Whether an instance stored in `from` can be sent in `to`. */
export function canTranscode(from: string, to: string, hasPixelData: boolean): boolean {
  if (from === to) return true;
  // Between native syntaxes the data set is re-encoded as it streams, pixel data included (no codec).
  if (NATIVE_TRANSFER_SYNTAXES.has(from) && NATIVE_TRANSFER_SYNTAXES.has(to)) return true;
  if (!hasPixelData) {
    // Without pixel data only the data set encoding changes: any readable syntax to either little endian one.
    return (NATIVE_TRANSFER_SYNTAXES.has(from) || lookupTransferSyntax(from) !== undefined) && (to === ImplicitVrLittleEndian || to === ExplicitVrLittleEndian);
  }
  return DECODABLE_TRANSFER_SYNTAXES.has(from) && ENCODABLE_TRANSFER_SYNTAXES.has(to);
}

/**
 * The transfer syntax to send an instance in, given what the client accepts in order of preference (`*` accepts
 * the stored one, PS3.18 §8.7.3.5). The stored syntax wins whenever it is acceptable: sending bytes as stored
 * costs nothing and loses nothing. Undefined when nothing acceptable can be produced (406).
 */
export function chooseTransferSyntax(
  stored: string,
  acceptable: readonly string[],
  hasPixelData: boolean,
): string | undefined {
  if (acceptable.includes('*') || acceptable.includes(stored)) return stored;
  return acceptable.find((to) => canTranscode(stored, to, hasPixelData));
}
