/**
 * Coded errors of the server (house style: `ATRIUM_ERR_<AREA>_<PROBLEM>`). Each carries the answer every edge
 * needs: the DICOM status for DIMSE, the HTTP status for DICOMweb and the admin API. Edges translate once.
 */
export type ServerErrorCode =
  | 'ATRIUM_ERR_CONFIG_INVALID'
  | 'ATRIUM_ERR_INGEST_INVALID'
  | 'ATRIUM_ERR_INGEST_TOO_LARGE'
  | 'ATRIUM_ERR_INGEST_DUPLICATE_REJECTED'
  | 'ATRIUM_ERR_INGEST_STUDY_MISMATCH'
  | 'ATRIUM_ERR_INGEST_UNSUPPORTED';

export interface ProtocolAnswer {
  /** PS3.4 status for a C-STORE response. */
  dicomStatus: number;
  /** HTTP status for STOW-RS and the admin API. */
  httpStatus: number;
}

/** The data set was read but cannot be archived (missing or malformed required attributes): A900 / 409. */
export class IngestRejectedError extends TypeError implements ProtocolAnswer {
  readonly code: ServerErrorCode;
  readonly dicomStatus: number;
  readonly httpStatus: number;
  /** The refused instance, when its data set was read far enough to name it (STOW-RS reports it). */
  readonly instance: { sopClassUid: string; sopInstanceUid: string } | undefined;

  constructor(
    message: string,
    opts: {
      code?: ServerErrorCode;
      dicomStatus?: number;
      httpStatus?: number;
      cause?: unknown;
      instance?: { sopClassUid: string; sopInstanceUid: string };
    } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'IngestRejectedError';
    this.code = opts.code ?? 'ATRIUM_ERR_INGEST_INVALID';
    this.dicomStatus = opts.dicomStatus ?? 0xa900;
    this.httpStatus = opts.httpStatus ?? 409;
    this.instance = opts.instance;
  }
}

/** A configuration value that cannot be used: start-up fails loudly with the setting's name. */
export class ConfigError extends TypeError {
  readonly code: ServerErrorCode = 'ATRIUM_ERR_CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The most useful one-line reason of any error, for summaries and protocol error comments. */
export function reasonOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The protocol answers carried by an error from any package, with defaults for unexpected failures. */
export function protocolAnswerOf(error: unknown): ProtocolAnswer {
  const e = error as Partial<ProtocolAnswer> | undefined;
  return {
    dicomStatus: typeof e?.dicomStatus === 'number' ? e.dicomStatus : 0xa700,
    httpStatus: typeof e?.httpStatus === 'number' ? e.httpStatus : 500,
  };
}
