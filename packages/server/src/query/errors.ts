/** Coded errors of the query engine; each carries the C-FIND status and the QIDO-RS HTTP status it maps to. */
export type QueryErrorCode =
  | 'ATRIUM_ERR_QUERY_UNSUPPORTED_KEY'
  | 'ATRIUM_ERR_QUERY_INVALID_VALUE'
  | 'ATRIUM_ERR_QUERY_MISSING_UNIQUE_KEY'
  | 'ATRIUM_ERR_QUERY_INVALID_REQUEST';

/**
 * A query the index cannot answer as asked. Raised before any row is read, so a C-FIND SCP answers with one
 * failure response and QIDO-RS with one 400.
 *
 * - `ATRIUM_ERR_QUERY_UNSUPPORTED_KEY`: matching on an attribute the index cannot match on (never a silent
 *   universal match, architecture.md, shared paths). A900 "Identifier does not match SOP Class" (PS3.4 C.4.1.1.4): the
 *   identifier asks for something this SCP's query model does not hold.
 * - `ATRIUM_ERR_QUERY_INVALID_VALUE`: a malformed matching value (a date range with three dashes, a wildcard in
 *   a UID). A900 as well: the identifier is not a valid one for the SOP class.
 * - `ATRIUM_ERR_QUERY_MISSING_UNIQUE_KEY`: a hierarchical query below the top level without the unique key of a
 *   level above (PS3.4 C.4.1.2.2.1). A900.
 * - `ATRIUM_ERR_QUERY_INVALID_REQUEST`: an unknown level or model, a negative limit. C000 "Unable to process".
 */
export class QueryError extends TypeError {
  readonly code: QueryErrorCode;
  readonly dicomStatus: number;
  readonly httpStatus: number;
  /** The keyword (or `GGGGEEEE` tag) of the offending key, when one is to blame. */
  readonly key: string | undefined;

  constructor(
    code: QueryErrorCode,
    message: string,
    options: { key?: string; dicomStatus?: number; httpStatus?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'QueryError';
    this.code = code;
    this.key = options.key;
    this.dicomStatus = options.dicomStatus ?? (code === 'ATRIUM_ERR_QUERY_INVALID_REQUEST' ? 0xc000 : 0xa900);
    this.httpStatus = options.httpStatus ?? 400;
  }
}
