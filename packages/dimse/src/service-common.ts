import type { Association, IncomingMessage } from './association.js';
import type { CommandSet } from './command-set.js';
import { commandName } from './command-set.js';
import { DimseStateError, DimseStatusError } from './errors.js';
import type { DimseStatusResult } from './handlers.js';
import { statusHex, statusKind } from './status.js';

/** The status fields of a response. */
export function resultOf(command: CommandSet): DimseStatusResult {
  const result: DimseStatusResult = { status: command.status ?? 0 };
  if (command.errorComment) result.errorComment = command.errorComment;
  if (command.offendingElement) result.offendingElement = command.offendingElement;
  return result;
}

/** Throws `DimseStatusError` when a final response carries a failure status. */
export function assertNotFailure(what: string, message: IncomingMessage): DimseStatusResult {
  const result = resultOf(message.command);
  if (statusKind(result.status) === 'failure') {
    throw new DimseStatusError(
      `Cannot complete ${what}: the peer answered ${statusHex(result.status)}${result.errorComment ? ` (${result.errorComment})` : ''}`,
      result.status,
      { errorComment: result.errorComment, offendingElement: result.offendingElement },
    );
  }
  return result;
}

/** The accepted context to use for a SOP class, or a coded error naming what was not negotiated. */
export function contextFor(association: Association, sopClassUid: string, transferSyntaxUids?: readonly string[]) {
  const context = association.findContext(sopClassUid, transferSyntaxUids);
  if (!context) {
    const ts = transferSyntaxUids ? ` with transfer syntax '${transferSyntaxUids.join("' or '")}'` : '';
    throw new DimseStateError(
      `Cannot use SOP class '${sopClassUid}': no presentation context${ts} was accepted`,
      'ATRIUM_ERR_DIMSE_NO_PRESENTATION_CONTEXT',
    );
  }
  return context;
}

/**
 * The answer for a handler that threw: its own DICOM status when it carries one (`DimseStatusError`,
 * `DicomParseError`, `DimseLimitError`), otherwise `fallback`. The message becomes the error comment (LO: 64 chars).
 */
export function resultFromError(error: unknown, fallback: number): DimseStatusResult {
  const e = error as { dicomStatus?: unknown; message?: unknown; errorComment?: unknown; offendingElement?: unknown };
  const status = typeof e?.dicomStatus === 'number' ? e.dicomStatus : fallback;
  const comment = typeof e?.errorComment === 'string' ? e.errorComment : typeof e?.message === 'string' ? e.message : String(error);
  const result: DimseStatusResult = { status, errorComment: comment.slice(0, 64) };
  if (Array.isArray(e?.offendingElement)) result.offendingElement = e.offendingElement as number[];
  return result;
}

/** A response command for a request, carrying the request's IDs. */
export function responseTo(request: CommandSet, commandField: number, result: DimseStatusResult): Omit<CommandSet, 'hasDataset'> {
  return {
    commandField,
    messageIdBeingRespondedTo: request.messageId,
    affectedSopClassUid: request.affectedSopClassUid ?? request.requestedSopClassUid,
    affectedSopInstanceUid: request.affectedSopInstanceUid ?? request.requestedSopInstanceUid,
    status: result.status,
    errorComment: result.errorComment || undefined,
    offendingElement: result.offendingElement,
  };
}

export function describe(command: CommandSet): string {
  return commandName(command.commandField);
}
