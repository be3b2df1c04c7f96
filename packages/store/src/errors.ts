/**
 * Coded errors of the `store` package (house style: `ATRIUM_ERR_<AREA>_<PROBLEM>`). Each extends the built-in
 * class that fits and carries the HTTP status (and, where it matters, the DICOM status) the edge should answer with.
 */
export type StoreErrorCode =
  | 'ATRIUM_ERR_STORE_NOT_FOUND'
  | 'ATRIUM_ERR_STORE_INVALID_KEY'
  | 'ATRIUM_ERR_STORE_TOO_LARGE'
  | 'ATRIUM_ERR_STORE_RANGE_NOT_SATISFIABLE'
  | 'ATRIUM_ERR_STORE_STAGED_STATE'
  | 'ATRIUM_ERR_STORE_IO';

/** Refused: out of resources (PS3.4 Annex B.2.3, A700): the C-STORE answer when an object exceeds the limit. */
const STATUS_OUT_OF_RESOURCES = 0xa700;
/** Processing failure (PS3.7 Annex C, 0110). */
const STATUS_PROCESSING_FAILURE = 0x0110;

/** No object is stored under the key. */
export class BlobNotFoundError extends Error {
  readonly code: StoreErrorCode = 'ATRIUM_ERR_STORE_NOT_FOUND';
  readonly httpStatus = 404;
  constructor(
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(`Cannot read blob '${key}': no object is stored under this key`, options);
    this.name = 'BlobNotFoundError';
  }
}

/** A key that is not a safe relative path (see `validateBlobKey`). */
export class InvalidBlobKeyError extends TypeError {
  readonly code: StoreErrorCode = 'ATRIUM_ERR_STORE_INVALID_KEY';
  readonly httpStatus = 400;
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`Cannot use blob key '${key}': ${reason}`);
    this.name = 'InvalidBlobKeyError';
  }
}

/**
 * The object grew past `maxBytes`; nothing was stored. Also thrown by `BlobStore.getBytes` when the bytes asked
 * for are more than its `maxBytes` (then `read` says which); nothing was read.
 */
export class BlobTooLargeError extends RangeError {
  readonly code: StoreErrorCode = 'ATRIUM_ERR_STORE_TOO_LARGE';
  readonly httpStatus = 413;
  readonly dicomStatus = STATUS_OUT_OF_RESOURCES;
  constructor(
    readonly maxBytes: number,
    read?: { key: string; length: number },
  ) {
    super(
      read
        ? `Cannot read blob '${read.key}' whole: its ${read.length} bytes are more than the limit of ${maxBytes} bytes`
        : `Cannot store blob: it is larger than the limit of ${maxBytes} bytes`,
    );
    this.name = 'BlobTooLargeError';
  }
}

/** A byte range that starts past the end of the object (HTTP 416, RFC 9110 §15.5.17). */
export class BlobRangeError extends RangeError {
  readonly code: StoreErrorCode = 'ATRIUM_ERR_STORE_RANGE_NOT_SATISFIABLE';
  readonly httpStatus = 416;
  constructor(
    readonly key: string,
    readonly start: number,
    readonly end: number | undefined,
    readonly size: number,
  ) {
    super(`Cannot read blob '${key}' range ${start}-${end ?? ''}: the object has ${size} bytes`);
    this.name = 'BlobRangeError';
  }
}

/** A staged blob used after it was committed or discarded. */
export class StagedBlobStateError extends Error {
  readonly code: StoreErrorCode = 'ATRIUM_ERR_STORE_STAGED_STATE';
  readonly httpStatus = 500;
  readonly dicomStatus = STATUS_PROCESSING_FAILURE;
  constructor(action: string, state: string) {
    super(`Cannot ${action} staged blob: it was already ${state}`);
    this.name = 'StagedBlobStateError';
  }
}

/** An I/O failure of the backing store (disk full, permissions...); the cause is kept. */
export class BlobStoreIoError extends Error {
  readonly code: StoreErrorCode = 'ATRIUM_ERR_STORE_IO';
  readonly httpStatus = 500;
  readonly dicomStatus = STATUS_OUT_OF_RESOURCES;
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'BlobStoreIoError';
  }
}
