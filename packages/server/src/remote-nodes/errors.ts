/** Coded errors of the remote AE registry; each carries its HTTP status and, where DIMSE needs one, its status. */
export type RemoteAeErrorCode =
  | 'ATRIUM_ERR_REMOTE_AE_INVALID'
  | 'ATRIUM_ERR_REMOTE_AE_UNKNOWN'
  | 'ATRIUM_ERR_REMOTE_AE_READ_ONLY';

export class RemoteAeError extends TypeError {
  constructor(
    message: string,
    readonly code: RemoteAeErrorCode,
    readonly httpStatus: number,
    /** A801 (move destination unknown) when the AE was named as a C-MOVE destination. */
    readonly dicomStatus: number = 0xc000,
  ) {
    super(message);
    this.name = 'RemoteAeError';
  }

  /** The HTTP status under the name fastify's default error handler reads. */
  get statusCode(): number {
    return this.httpStatus;
  }
}
