/**
 * Coded errors of the `dimse` package (house style: `ATRIUM_ERR_<AREA>_<PROBLEM>`). Each extends the built-in
 * class that fits and carries the protocol's own answer: the A-ABORT source/reason for protocol faults, the
 * A-ASSOCIATE-RJ triple for rejections, the DIMSE status for failed operations.
 */
export type DimseErrorCode =
  | 'ATRIUM_ERR_DIMSE_PDU'
  | 'ATRIUM_ERR_DIMSE_PDU_LIMIT'
  | 'ATRIUM_ERR_DIMSE_COMMAND'
  | 'ATRIUM_ERR_DIMSE_DATASET'
  | 'ATRIUM_ERR_DIMSE_UNEXPECTED_PDU'
  | 'ATRIUM_ERR_DIMSE_REJECTED'
  | 'ATRIUM_ERR_DIMSE_ABORTED'
  | 'ATRIUM_ERR_DIMSE_CLOSED'
  | 'ATRIUM_ERR_DIMSE_TIMEOUT'
  | 'ATRIUM_ERR_DIMSE_NO_PRESENTATION_CONTEXT'
  | 'ATRIUM_ERR_DIMSE_STATUS'
  | 'ATRIUM_ERR_DIMSE_STATE';

/** A-ABORT reasons when the source is the service provider (PS3.8 Table 9-26). */
export const AbortReason = {
  NotSpecified: 0,
  UnrecognizedPdu: 1,
  UnexpectedPdu: 2,
  UnrecognizedPduParameter: 4,
  UnexpectedPduParameter: 5,
  InvalidPduParameterValue: 6,
} as const;

/** A-ABORT source (PS3.8 Table 9-26): 0 service user, 2 service provider. */
export const AbortSource = { ServiceUser: 0, ServiceProvider: 2 } as const;

/**
 * Bytes on the wire that break PS3.8 §9.3 (bad PDU type, lengths that do not add up) or a command set that does
 * not decode. The association answers it with an A-ABORT carrying `abortReason`.
 */
export class DimseProtocolError extends SyntaxError {
  readonly code: DimseErrorCode;
  readonly abortReason: number;
  constructor(message: string, options: { code?: DimseErrorCode; abortReason?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'DimseProtocolError';
    this.code = options.code ?? 'ATRIUM_ERR_DIMSE_PDU';
    this.abortReason = options.abortReason ?? AbortReason.InvalidPduParameterValue;
  }
}

/** A configured limit was exceeded (PDU length, command or identifier size, concurrent associations). */
export class DimseLimitError extends RangeError {
  readonly code: DimseErrorCode = 'ATRIUM_ERR_DIMSE_PDU_LIMIT';
  readonly abortReason: number = AbortReason.InvalidPduParameterValue;
  /** Refused: out of resources (PS3.4 Annex C/B status A700). */
  readonly dicomStatus = 0xa700;
  constructor(message: string) {
    super(message);
    this.name = 'DimseLimitError';
  }
}

/** The acceptor answered A-ASSOCIATE-RJ (PS3.8 Table 9-21). */
export class AssociationRejectedError extends Error {
  readonly code: DimseErrorCode = 'ATRIUM_ERR_DIMSE_REJECTED';
  constructor(
    message: string,
    readonly result: number,
    readonly source: number,
    readonly reason: number,
  ) {
    super(message);
    this.name = 'AssociationRejectedError';
  }
}

/**
 * The association ended before the operation finished: an A-ABORT from either side, a timeout, or the transport
 * closing. `abortSource`/`abortReason` are set when an A-ABORT PDU was received.
 */
export class AssociationAbortedError extends Error {
  readonly code: DimseErrorCode;
  constructor(
    message: string,
    options: { code?: DimseErrorCode; abortSource?: number; abortReason?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AssociationAbortedError';
    this.code = options.code ?? 'ATRIUM_ERR_DIMSE_ABORTED';
    this.abortSource = options.abortSource;
    this.abortReason = options.abortReason;
  }
  readonly abortSource: number | undefined;
  readonly abortReason: number | undefined;
}

/** An operation was attempted in a state that does not allow it, or with a context that was not accepted. */
export class DimseStateError extends TypeError {
  readonly code: DimseErrorCode;
  constructor(message: string, code: DimseErrorCode = 'ATRIUM_ERR_DIMSE_STATE') {
    super(message);
    this.name = 'DimseStateError';
    this.code = code;
  }
}

/**
 * A DIMSE operation ended with a failure status (PS3.7 Annex C). Handlers throw it to answer with a given status
 * (for example `0xA801` move destination unknown); SCU functions throw it when the peer answered with a failure.
 */
export class DimseStatusError extends Error {
  readonly code: DimseErrorCode = 'ATRIUM_ERR_DIMSE_STATUS';
  readonly errorComment: string | undefined;
  readonly offendingElement: readonly number[] | undefined;
  constructor(
    message: string,
    readonly dicomStatus: number,
    options: { errorComment?: string; offendingElement?: readonly number[]; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'DimseStatusError';
    this.errorComment = options.errorComment;
    this.offendingElement = options.offendingElement;
  }
}
