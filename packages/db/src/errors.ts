/**
 * Coded errors of the `db` package (house style: `ATRIUM_ERR_<AREA>_<PROBLEM>`), each carrying the DICOM status
 * and HTTP status the edge answers with. The ingest codes live here because the index transaction is where the
 * decision is taken.
 */
export type DbErrorCode =
  | 'ATRIUM_ERR_DB_OPEN'
  | 'ATRIUM_ERR_DB_MIGRATION'
  | 'ATRIUM_ERR_DB_MISSING_ATTRIBUTE'
  | 'ATRIUM_ERR_DB_NOT_FOUND'
  | 'ATRIUM_ERR_DB_COMMIT_THREAD'
  | 'ATRIUM_ERR_INGEST_CONFLICT'
  | 'ATRIUM_ERR_INGEST_DUPLICATE_REJECTED';

/** Processing failure (PS3.7 Annex C). */
const STATUS_PROCESSING_FAILURE = 0x0110;
/** Error: data set does not match SOP class (PS3.4 Annex B.2.3, A900). */
const STATUS_DATASET_MISMATCH = 0xa900;
/** Duplicate SOP Instance (PS3.7 Annex C, 0111). */
const STATUS_DUPLICATE_SOP_INSTANCE = 0x0111;

/**
 * The database cannot be opened or migrated, a row the index must hold is missing, or its commit thread failed or
 * was closed under a commit; the cause is kept.
 */
export class DatabaseError extends Error {
  readonly dicomStatus = STATUS_PROCESSING_FAILURE;
  readonly httpStatus = 500;
  constructor(
    readonly code: 'ATRIUM_ERR_DB_OPEN' | 'ATRIUM_ERR_DB_MIGRATION' | 'ATRIUM_ERR_DB_NOT_FOUND' | 'ATRIUM_ERR_DB_COMMIT_THREAD',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DatabaseError';
  }
}

/** A data set without an attribute the index cannot do without (the four UIDs). */
export class MissingAttributeError extends TypeError {
  readonly code: DbErrorCode = 'ATRIUM_ERR_DB_MISSING_ATTRIBUTE';
  readonly dicomStatus = STATUS_DATASET_MISMATCH;
  readonly httpStatus = 409;
  constructor(readonly keyword: string) {
    super(`Cannot index data set: required attribute ${keyword} is missing or empty`);
    this.name = 'MissingAttributeError';
  }
}

/**
 * An instance that contradicts the archive's hierarchy: a study already filed under another patient, or a series
 * under another study. Refused rather than silently moved (PS3.4 Annex B.2.3: A900).
 */
export class IngestConflictError extends Error {
  readonly code: DbErrorCode = 'ATRIUM_ERR_INGEST_CONFLICT';
  readonly dicomStatus = STATUS_DATASET_MISMATCH;
  readonly httpStatus = 409;
  constructor(message: string) {
    super(message);
    this.name = 'IngestConflictError';
  }
}

/** An instance already stored with other content while the duplicate policy is 'reject'. */
export class DuplicateInstanceError extends Error {
  readonly code: DbErrorCode = 'ATRIUM_ERR_INGEST_DUPLICATE_REJECTED';
  readonly dicomStatus = STATUS_DUPLICATE_SOP_INSTANCE;
  readonly httpStatus = 409;
  constructor(
    readonly sopInstanceUid: string,
    /** Key of the stored copy, for a caller that tells copies differing only in their file meta information apart. */
    readonly storedBlobKey?: string,
  ) {
    super(
      `Cannot store instance '${sopInstanceUid}': it is already stored with other content and the duplicate policy is 'reject'`,
    );
    this.name = 'DuplicateInstanceError';
  }
}
