import { createHash, randomUUID } from 'node:crypto';

/**
 * Implementation Class UID of Atrium (PS3.7 §D.3.3.2, PS3.10 §7.1): written in the file meta information and the
 * A-ASSOCIATE user information. A UUID-derived UID under the `2.25` root (PS3.5 §B.2), made once and fixed, so
 * Atrium needs no registered organisation root.
 */
export const ATRIUM_IMPLEMENTATION_CLASS_UID = '2.25.191626057424157499695998825726230006995';

/** Implementation Version Name (PS3.7 §D.3.3.2.2): SH, at most 16 characters; changes with each release. */
export const ATRIUM_IMPLEMENTATION_VERSION_NAME = 'ATRIUM_0_1';

/** UIDs are at most 64 characters (PS3.5 §9.1). */
export const MAX_UID_LENGTH = 64;

const UID_PATTERN = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

/**
 * True when `text` is a valid UID (PS3.5 §9.1): dot-separated components of digits, no component with a leading
 * zero unless it is the single digit `0`, at most 64 characters. Trailing NUL padding is not part of the UID.
 */
export function isValidUid(text: string): boolean {
  return text.length > 0 && text.length <= MAX_UID_LENGTH && UID_PATTERN.test(text);
}

function uuidBytesToUid(bytes: Uint8Array): string {
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return `2.25.${value.toString()}`;
}

/**
 * A new UID from a random (version 4) UUID: `2.25.` followed by the UUID as one unsigned decimal integer
 * (PS3.5 §B.2). At most 44 characters.
 */
export function generateUid(): string {
  const hex = randomUUID().replace(/-/g, '');
  return `2.25.${BigInt(`0x${hex}`).toString()}`;
}

/**
 * A UID that is a pure function of `name`: a name-based (version 5, SHA-1) UUID as in RFC 4122 §4.3, under the
 * `2.25` root (PS3.5 §B.2). The synthetic-data builders use it so that one seed always yields the same UIDs.
 * Do not use it for real acquisitions: two callers choosing the same name get the same UID.
 */
export function uidFromName(name: string): string {
  // A fixed namespace keeps Atrium's names apart from other v5 UUIDs made from the same strings.
  const namespace = Buffer.from('4d1a0c8e5b7f4e2a9c3d6f1b2a7e9c05', 'hex');
  const hash = createHash('sha1').update(namespace).update(name, 'utf8').digest();
  const bytes = new Uint8Array(hash.subarray(0, 16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return uuidBytesToUid(bytes);
}
