/** DIMSE status values used by the services here (PS3.7 Annex C, PS3.4 Annexes B, C, J). */
export const Status = {
  Success: 0x0000,
  Cancel: 0xfe00,
  Pending: 0xff00,
  /** C-FIND pending: one or more optional keys were not supported (PS3.4 C.4.1.1.4). */
  PendingWarning: 0xff01,
  /** Sub-operations complete, one or more failures or warnings (PS3.4 C.4.2.1.5, C.4.3.1.4). */
  SubOperationsWarning: 0xb000,
  /** C-STORE warnings (PS3.4 B.2.3). */
  CoercionOfDataElements: 0xb000,
  ElementsDiscarded: 0xb006,
  DataSetDoesNotMatchSopClassWarning: 0xb007,
  OutOfResources: 0xa700,
  /** C-MOVE/C-GET: unable to calculate number of matches. */
  OutOfResourcesNumberOfMatches: 0xa701,
  /** C-MOVE/C-GET: unable to perform sub-operations. */
  OutOfResourcesSubOperations: 0xa702,
  MoveDestinationUnknown: 0xa801,
  DataSetDoesNotMatchSopClass: 0xa900,
  IdentifierDoesNotMatchSopClass: 0xa900,
  CannotUnderstand: 0xc000,
  UnableToProcess: 0xc001,
  SopClassNotSupported: 0x0122,
  DuplicateInvocation: 0x0210,
  UnrecognizedOperation: 0x0211,
  MistypedArgument: 0x0212,
  ProcessingFailure: 0x0110,
  NoSuchSopClass: 0x0118,
  ClassInstanceConflict: 0x0119,
} as const;

/** The status class a value falls into (PS3.7 Annex C). */
export type StatusKind = 'success' | 'pending' | 'cancel' | 'warning' | 'failure';

export function statusKind(status: number): StatusKind {
  if (status === 0x0000) return 'success';
  if (status === 0xff00 || status === 0xff01) return 'pending';
  if (status === 0xfe00) return 'cancel';
  if (status === 0x0001 || status === 0x0107 || status === 0x0116 || (status & 0xf000) === 0xb000) return 'warning';
  return 'failure';
}

export function statusHex(status: number): string {
  return `0x${status.toString(16).toUpperCase().padStart(4, '0')}`;
}
