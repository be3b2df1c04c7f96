/** Coded errors of the retrieve path beyond the plain store reads. */
export type RetrieveErrorCode = 'ATRIUM_ERR_RETRIEVE_TRANSCODE' | 'ATRIUM_ERR_RETRIEVE_TOO_LARGE' | 'ATRIUM_ERR_RETRIEVE_RENDER';

/**
 * An instance cannot be sent in any transfer syntax the requester accepts: 406 for DICOMweb (PS3.18 §8.7.4), and
 * for DIMSE the C-STORE sub-operation fails with A702-style "unable to perform" semantics, decided by the caller.
 */
export class TranscodeError extends TypeError {
  readonly code: RetrieveErrorCode;
  readonly httpStatus: number;
  readonly dicomStatus = 0xa702;

  constructor(message: string, options: { code?: RetrieveErrorCode; httpStatus?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'TranscodeError';
    this.code = options.code ?? 'ATRIUM_ERR_RETRIEVE_TRANSCODE';
    this.httpStatus = options.httpStatus ?? 406;
  }
}
