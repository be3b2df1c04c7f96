import { getString, type DataDictionary, type ParsedInstance } from '@atrium/dicom';
import { IngestRejectedError } from '../errors.js';

export interface InstanceIdentity {
  uids: { sopInstanceUid: string; sopClassUid: string; studyInstanceUid: string; seriesInstanceUid: string };
  warnings: string[];
}

/** Media Storage Directory Storage: a DICOMDIR describes files on a medium, it is not an instance to archive. */
const MEDIA_STORAGE_DIRECTORY = '1.2.840.10008.1.3.10';

/** PS3.5 §9.1: digits and dots, at most 64 characters. Leading zeros are tolerated with a warning (common in the wild). */
function checkUid(name: string, value: string | undefined, warnings: string[]): string {
  if (value === undefined || value === '') {
    throw new IngestRejectedError(`Cannot store instance: ${name} is missing`);
  }
  if (value.length > 64 || !/^[0-9]+(\.[0-9]+)*$/.test(value)) {
    throw new IngestRejectedError(`Cannot store instance: ${name} '${value}' is not a valid UID`);
  }
  if (/(^|\.)0[0-9]/.test(value)) warnings.push(`${name} '${value}' has a component with a leading zero`);
  return value;
}

/**
 * Checks what the archive needs to file an instance: its four UIDs, and that it is an instance at all. Other
 * attribute problems are warnings: a PACS that refuses a study for a missing Patient ID loses the images.
 */
export function validateInstance(parsed: ParsedInstance, dictionary: DataDictionary): InstanceIdentity {
  const warnings: string[] = [];
  const ds = parsed.dataset;
  const meta = parsed.fileMetaInformation;
  const sopClassUid = checkUid('SOP Class UID (0008,0016)', getString(ds, 0x00080016), warnings);
  if (sopClassUid === MEDIA_STORAGE_DIRECTORY) {
    throw new IngestRejectedError('Cannot store object: it is a DICOMDIR (media directory), not an instance');
  }
  const sopInstanceUid = checkUid('SOP Instance UID (0008,0018)', getString(ds, 0x00080018), warnings);
  const studyInstanceUid = checkUid('Study Instance UID (0020,000D)', getString(ds, 0x0020000d), warnings);
  const seriesInstanceUid = checkUid('Series Instance UID (0020,000E)', getString(ds, 0x0020000e), warnings);

  const metaSop = getString(meta, 0x00020003);
  if (metaSop !== undefined && metaSop !== sopInstanceUid) {
    warnings.push(
      `Media Storage SOP Instance UID '${metaSop}' differs from SOP Instance UID '${sopInstanceUid}': filed under the latter`,
    );
  }
  const metaClass = getString(meta, 0x00020002);
  if (metaClass !== undefined && metaClass !== sopClassUid) {
    warnings.push(`Media Storage SOP Class UID '${metaClass}' differs from SOP Class UID '${sopClassUid}'`);
  }
  if (!dictionary.uid(sopClassUid)) warnings.push(`SOP Class UID '${sopClassUid}' is not in the standard's registry`);
  if (!getString(ds, 0x00100020)) warnings.push('Patient ID (0010,0020) is empty: filed under an empty Patient ID');
  if (!getString(ds, 0x00080060)) warnings.push('Modality (0008,0060) is empty');
  return { uids: { sopInstanceUid, sopClassUid, studyInstanceUid, seriesInstanceUid }, warnings };
}
