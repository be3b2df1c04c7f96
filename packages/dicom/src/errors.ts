import type { Tag } from './tag.js';
import { tagToString } from './tag.js';

/**
 * Coded errors of the `dicom` package (house style: `ATRIUM_ERR_<AREA>_<PROBLEM>`). Each extends the built-in
 * class that fits, so callers can still catch by kind, and carries the DICOM status an SCP should answer with.
 */
export type DicomErrorCode =
  | 'ATRIUM_ERR_DICOM_PARSE'
  | 'ATRIUM_ERR_DICOM_TRUNCATED'
  | 'ATRIUM_ERR_DICOM_NOT_PART10'
  | 'ATRIUM_ERR_DICOM_LIMIT'
  | 'ATRIUM_ERR_DICOM_UNSUPPORTED_TRANSFER_SYNTAX'
  | 'ATRIUM_ERR_DICOM_CHARSET';

/** Cannot understand (PS3.4 Annex B.2.3: C000-CFFF) is the C-STORE answer for bytes that do not parse. */
export const STATUS_CANNOT_UNDERSTAND = 0xc000;
/** Refused: out of resources (A700). */
export const STATUS_OUT_OF_RESOURCES = 0xa700;
/** Error: data set does not match SOP class (A900). */
export const STATUS_DATASET_MISMATCH = 0xa900;

export interface DicomErrorDetails {
  /** Byte offset in the stream where the problem was found. */
  offset?: number;
  tag?: Tag;
  cause?: unknown;
}

/** Bytes that cannot be parsed as DICOM: a `SyntaxError` with the offset and tag where parsing stopped. */
export class DicomParseError extends SyntaxError {
  readonly code: DicomErrorCode;
  readonly offset: number | undefined;
  readonly tag: Tag | undefined;
  readonly dicomStatus: number = STATUS_CANNOT_UNDERSTAND;

  constructor(message: string, details: DicomErrorDetails = {}, code: DicomErrorCode = 'ATRIUM_ERR_DICOM_PARSE') {
    const where = [
      details.tag !== undefined ? `at tag ${tagToString(details.tag)}` : '',
      details.offset !== undefined ? `at offset ${details.offset}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    super(where ? `${message} (${where})` : message, { cause: details.cause });
    this.name = 'DicomParseError';
    this.code = code;
    this.offset = details.offset;
    this.tag = details.tag;
  }
}

/** A size limit was exceeded: a `RangeError`, answered with A700 (out of resources). */
export class DicomLimitError extends RangeError {
  readonly code: DicomErrorCode = 'ATRIUM_ERR_DICOM_LIMIT';
  readonly dicomStatus: number = STATUS_OUT_OF_RESOURCES;
  constructor(message: string) {
    super(message);
    this.name = 'DicomLimitError';
  }
}

/** A transfer syntax the reader cannot walk (for example JPIP or XML encodings). */
export class UnsupportedTransferSyntaxError extends TypeError {
  readonly code: DicomErrorCode = 'ATRIUM_ERR_DICOM_UNSUPPORTED_TRANSFER_SYNTAX';
  readonly dicomStatus: number = STATUS_CANNOT_UNDERSTAND;
  constructor(readonly transferSyntaxUid: string) {
    super(`Cannot read data set: transfer syntax '${transferSyntaxUid}' is not supported`);
    this.name = 'UnsupportedTransferSyntaxError';
  }
}
