import { DataDictionary, Part10Reader, encodeDataset as encodeWithDicom } from '@atrium/dicom';
import type { DicomJsonDataset } from '@atrium/dicom';

/*
 * The data sets DIMSE carries inline (C-FIND/C-MOVE/C-GET identifiers, storage commitment action and event
 * information, failed SOP instance lists) to and from DICOM JSON (PS3.18 Annex F). Both directions are
 * `@atrium/dicom`'s reader and writer, so identifiers get the same character sets, VRs and transfer syntaxes as
 * stored instances. They are small (bounded by `maxIdentifierLength`); stored instances never pass through here.
 */

export interface DatasetCodecOptions {
  dictionary?: DataDictionary;
}

/**
 * Decodes a bare data set (PS3.5 §7) in any transfer syntax the reader can walk into DICOM JSON; binary values
 * come back as `InlineBinary`, never as bulk data references. Throws `DicomParseError` (status C000) on bad bytes.
 */
export function decodeDataset(bytes: Uint8Array, transferSyntaxUid: string, options: DatasetCodecOptions = {}): DicomJsonDataset {
  const reader = new Part10Reader({
    format: 'dataset',
    transferSyntaxUid,
    bulkDataThreshold: Number.MAX_SAFE_INTEGER,
    ...(options.dictionary ? { dictionary: options.dictionary } : {}),
  });
  reader.write(bytes);
  return reader.end().dataset;
}

/**
 * Encodes DICOM JSON in a transfer syntax (elements in ascending tag order, defined lengths; text in the
 * repertoire (0008,0005) names). `BulkDataURI` attributes cannot be encoded and are refused.
 */
export function encodeDataset(dataset: DicomJsonDataset, transferSyntaxUid: string): Buffer {
  const bytes = encodeWithDicom(dataset, transferSyntaxUid);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
