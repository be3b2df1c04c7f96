import type { DicomJsonPersonName } from './dicom-json.js';

/**
 * Person Name values (PS3.5 §6.2.1): up to three component groups separated by `=` (alphabetic, ideographic,
 * phonetic), each of up to five `^`-separated components. DICOM JSON keeps the groups apart (PS3.18 §F.2.2).
 */
export function parsePersonName(text: string): DicomJsonPersonName {
  const [alphabetic = '', ideographic = '', phonetic = ''] = text.split('=');
  const pn: DicomJsonPersonName = {};
  // Trailing spaces of each group are padding; an empty group is left out of the object (PS3.18 §F.2.2).
  const a = alphabetic.trimEnd();
  const i = ideographic.trimEnd();
  const p = phonetic.trimEnd();
  if (a) pn.Alphabetic = a;
  if (i) pn.Ideographic = i;
  if (p) pn.Phonetic = p;
  return pn;
}

/** The DICOM encoding of a person name: groups joined by `=`, trailing empty groups dropped. */
export function formatPersonName(pn: DicomJsonPersonName): string {
  const groups = [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''];
  while (groups.length > 0 && groups[groups.length - 1] === '') groups.pop();
  return groups.join('=');
}
