import { createHash } from 'node:crypto';

/** Prefix of every stored instance: `list('dicom/')` enumerates the archive's objects and nothing else. */
export const INSTANCE_PREFIX = 'dicom/';
/** Objects renamed here are committed blobs whose index rows may not exist yet (see `ingest-pipeline.ts`). */
export const PENDING_PREFIX = 'pending/';

/**
 * UIDs are digits and dots (PS3.5 §9.1); anything else, and runs of dots that could read as `..`, is replaced, so
 * that even a UID that slipped past validation makes a key inside the archive's key space.
 */
function safe(uid: string): string {
  return uid.replace(/[^0-9A-Za-z.]/g, '_').replace(/\.{2,}/g, (dots) => '_'.repeat(dots.length)) || '_';
}

/**
 * The key of a stored instance: grouped by study and series so an administrator can find a study's files, fanned
 * out by a 2-character hash so no directory grows past a few thousand studies, and ending with part of the
 * content digest so that a replacement never overwrites the bytes the index still points to.
 */
export function instanceBlobKey(studyUid: string, seriesUid: string, sopUid: string, digestHex: string): string {
  const fan = createHash('sha1').update(studyUid).digest('hex').slice(0, 2);
  return `${INSTANCE_PREFIX}${fan}/${safe(studyUid)}/${safe(seriesUid)}/${safe(sopUid)}-${digestHex.slice(0, 16)}.dcm`;
}

/**
 * A pending key names the owning process and a hash of the final key: short enough for any file system however
 * long the UIDs (a final key can pass 255 bytes, a file name cannot). Recovery learns the instance from the
 * blob's own header and checks the hash against the key the index holds (see `recover-pending.ts`).
 */
export function pendingBlobKey(finalKey: string, pid: number = process.pid): string {
  return `${PENDING_PREFIX}${pid}-${finalKeyHash(finalKey)}`;
}

export function finalKeyHash(finalKey: string): string {
  return createHash('sha256').update(finalKey).digest('hex').slice(0, 32);
}

export function parsePendingBlobKey(key: string): { pid: number; finalKeyHash: string } | undefined {
  const m = /^pending\/(\d+)-([0-9a-f]{32})$/.exec(key);
  if (!m) return undefined;
  return { pid: Number(m[1]), finalKeyHash: m[2]! };
}
