import { createHash } from 'node:crypto';

/** Prefix of every stored instance: `list('dicom/')` enumerates the archive's objects and nothing else. */
export const INSTANCE_PREFIX = 'dicom/';
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
