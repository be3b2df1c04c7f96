import type { Association, IncomingMessage } from './association.js';
import { CommandField } from './command-set.js';
import type { CMoveHandler, DimseStatusResult, SubOperationProgress } from './handlers.js';
import { queryRequest } from './c-find.js';
import type { RetrieveOptions, SubOperationResult } from './retrieve.js';
import { failedListIdentifier, finalStatus, progressResponse, retrieve } from './retrieve.js';
import { resultFromError, responseTo } from './service-common.js';
import { Status } from './status.js';

export interface CMoveOptions extends RetrieveOptions {
  /** AE title the SCP sends the instances to (it must know its address). */
  moveDestination: string;
}

/**
 * C-MOVE SCU (PS3.7 §9.1.4, PS3.4 C.4.2). Resolves with the final counts (success, warning B000 or cancel);
 * throws `DimseStatusError` on a failure status (e.g. A801 unknown destination).
 */
export function cMove(association: Association, options: CMoveOptions): Promise<SubOperationResult> {
  return retrieve(association, CommandField.CMoveRq, options);
}

/** C-MOVE SCP: relays the handler's progress as pending responses and ends with the status its counts imply. */
export async function serveCMove(association: Association, message: IncomingMessage, handler?: CMoveHandler): Promise<void> {
  const { command } = message;
  if (!handler) {
    await association.send(
      message.contextId,
      responseTo(command, CommandField.CMoveRsp, { status: Status.SopClassNotSupported, errorComment: 'This AE does not accept C-MOVE' }),
    );
    return;
  }
  let prepared: ReturnType<typeof queryRequest>;
  try {
    prepared = queryRequest(association, message);
  } catch (error) {
    await association.send(message.contextId, responseTo(command, CommandField.CMoveRsp, resultFromError(error, Status.IdentifierDoesNotMatchSopClass)));
    return;
  }
  const { request, detach } = prepared;
  let progress: SubOperationProgress = { remaining: 0, completed: 0, failed: 0, warning: 0 };
  let failure: DimseStatusResult | undefined;
  try {
    for await (const p of handler({ ...request, moveDestination: command.moveDestination ?? '' })) {
      progress = p;
      if (request.signal.aborted) break;
      if (p.remaining > 0) {
        await association.send(message.contextId, progressResponse(command, CommandField.CMoveRsp, { status: Status.Pending }, p));
      }
    }
  } catch (error) {
    if (association.state !== 'established') return;
    if (!request.signal.aborted) failure = resultFromError(error, Status.OutOfResourcesSubOperations);
  } finally {
    detach();
  }
  if (association.state !== 'established') return;
  const status = finalStatus(progress, request.signal.aborted);
  const result = failure ?? {
    status,
    errorComment: status === Status.SubOperationsWarning ? progress.errorComment?.slice(0, 64) : undefined,
  };
  const identifier = result.status === Status.Success ? undefined : failedListIdentifier(progress, message.context.transferSyntaxUid);
  await association.send(message.contextId, progressResponse(command, CommandField.CMoveRsp, result, progress), identifier);
}
