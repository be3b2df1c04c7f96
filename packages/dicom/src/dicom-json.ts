import type { Vr } from './vr.js';

/**
 * The DICOM JSON model (PS3.18 Annex F): Atrium's in-memory form of a data set everywhere above the byte level.
 * Keys are `GGGGEEEE` upper-case hex tags.
 */
export type DicomJsonDataset = { [tag: string]: DicomJsonAttribute };

/** PS3.18 §F.2.2: a person name value with its three component groups. */
export interface DicomJsonPersonName {
  Alphabetic?: string;
  Ideographic?: string;
  Phonetic?: string;
}

export type DicomJsonValue = string | number | DicomJsonPersonName | DicomJsonDataset | null;

export interface DicomJsonAttribute {
  vr: Vr;
  Value?: DicomJsonValue[];
  /** Base64 of the value bytes, little endian (PS3.18 §F.2.7). */
  InlineBinary?: string;
  /** Where the value can be retrieved (PS3.18 §F.2.6); see `BulkDataRef`. */
  BulkDataURI?: string;
}
