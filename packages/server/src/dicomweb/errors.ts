/**
 * Coded errors of the DICOMweb edge. Each carries the HTTP status PS3.18 gives it; `sendDicomwebError` turns any
 * of them (or any error with `httpStatus`) into a problem document once, at the edge.
 */
export type DicomwebErrorCode =
  | 'ATRIUM_ERR_DICOMWEB_BAD_REQUEST'
  | 'ATRIUM_ERR_DICOMWEB_MULTIPART'
  | 'ATRIUM_ERR_DICOMWEB_TOO_LARGE'
  | 'ATRIUM_ERR_DICOMWEB_NOT_ACCEPTABLE'
  | 'ATRIUM_ERR_DICOMWEB_UNSUPPORTED_MEDIA_TYPE'
  | 'ATRIUM_ERR_DICOMWEB_NOT_FOUND'
  | 'ATRIUM_ERR_DICOMWEB_UNSUPPORTED_PARAMETER'
  | 'ATRIUM_ERR_DICOMWEB_RANGE'
  | 'ATRIUM_ERR_DICOMWEB_STOW_METADATA';

/** A request PS3.18 says the origin server refuses: the message is the reason sent to the client. */
export class DicomwebError extends TypeError {
  readonly code: DicomwebErrorCode;
  readonly httpStatus: number;

  constructor(message: string, code: DicomwebErrorCode, httpStatus: number, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'DicomwebError';
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

/** Unparsable multipart bytes (RFC 2046 §5.1): the body is not what its Content-Type says. */
export class MultipartError extends SyntaxError {
  readonly code: DicomwebErrorCode = 'ATRIUM_ERR_DICOMWEB_MULTIPART';
  readonly httpStatus = 400;
  constructor(message: string) {
    super(message);
    this.name = 'MultipartError';
  }
}

/** A limit of the multipart reader or writer was passed (part size, part count, header size). */
export class MultipartLimitError extends RangeError {
  readonly code: DicomwebErrorCode = 'ATRIUM_ERR_DICOMWEB_TOO_LARGE';
  readonly httpStatus = 413;
  constructor(message: string) {
    super(message);
    this.name = 'MultipartLimitError';
  }
}

/**
 * STOW-RS metadata that cannot be made into an instance (a BulkDataURI without its part, a missing UID, a value
 * the encoder refuses): the instance fails with this PS3.4 failure reason in FailedSOPSequence, the others go on.
 */
export class StowMetadataError extends TypeError {
  readonly code: DicomwebErrorCode = 'ATRIUM_ERR_DICOMWEB_STOW_METADATA';
  readonly httpStatus = 409;
  readonly dicomStatus: number;
  constructor(message: string, dicomStatus: number, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'StowMetadataError';
    this.dicomStatus = dicomStatus;
  }
}

export const badRequest = (message: string): DicomwebError =>
  new DicomwebError(message, 'ATRIUM_ERR_DICOMWEB_BAD_REQUEST', 400);
export const notFound = (message: string): DicomwebError =>
  new DicomwebError(message, 'ATRIUM_ERR_DICOMWEB_NOT_FOUND', 404);
export const notAcceptable = (message: string): DicomwebError =>
  new DicomwebError(message, 'ATRIUM_ERR_DICOMWEB_NOT_ACCEPTABLE', 406);
export const unsupportedMediaType = (message: string): DicomwebError =>
  new DicomwebError(message, 'ATRIUM_ERR_DICOMWEB_UNSUPPORTED_MEDIA_TYPE', 415);
export const unsupportedParameter = (message: string): DicomwebError =>
  new DicomwebError(message, 'ATRIUM_ERR_DICOMWEB_UNSUPPORTED_PARAMETER', 400);
