import type { Association, IncomingMessage } from './association.js';
import { CommandField } from './command-set.js';
import { cStore } from './c-store.js';
import type { CGetHandler, CGetInstance, CGetPlan, DimseStatusResult, SubOperationProgress } from './handlers.js';
import { DimseStatusError } from './errors.js';
import { queryRequest } from './c-find.js';
import type { RetrieveOptions, SubOperationResult } from './retrieve.js';
import { failedListIdentifier, finalStatus, progressResponse, retrieve } from './retrieve.js';
import { resultFromError, responseTo } from './service-common.js';
import { Status, statusKind } from './status.js';

export type CGetOptions = RetrieveOptions;

/**
 * C-GET SCU (PS3.7 §9.1.3, PS3.4 C.4.3). The instances arrive as C-STORE-RQs on the same association and go to
 * the `store` handler given to `connect`; propose the storage classes with `scpRole: true` role selection.
 */
export function cGet(association: Association, options: CGetOptions): Promise<SubOperationResult> {
  return retrieve(association, CommandField.CGetRq, options);
}

/**
 * C-GET SCP: sends each planned instance as a C-STORE sub-operation on this association, a pending response
 * after each, then the final status with the failed SOP instance list.
 */
export async function serveCGet(association: Association, message: IncomingMessage, handler?: CGetHandler): Promise<void> {
  const { command } = message;
  const fail = (result: DimseStatusResult) =>
    association.send(message.contextId, responseTo(command, CommandField.CGetRsp, result));
  if (!handler) {
    await fail({ status: Status.SopClassNotSupported, errorComment: 'This AE does not accept C-GET' });
    return;
  }
  let prepared: ReturnType<typeof queryRequest>;
  try {
    prepared = queryRequest(association, message);
  } catch (error) {
    await fail(resultFromError(error, Status.IdentifierDoesNotMatchSopClass));
    return;
  }
  const { request, detach } = prepared;
  const failedSopInstanceUids: string[] = [];
  const progress: SubOperationProgress = { remaining: 0, completed: 0, failed: 0, warning: 0, failedSopInstanceUids };
  let failure: DimseStatusResult | undefined;
  try {
    const plan: CGetPlan = await handler(request);
    progress.remaining = plan.count;
    for await (const instance of plan.instances) {
      if (request.signal.aborted) break;
      try {
        const { transferSyntaxUid, dataset } = await openForContexts(association, instance);
        const result = await cStore(association, {
          sopClassUid: instance.sopClassUid,
          sopInstanceUid: instance.sopInstanceUid,
          transferSyntaxUid,
          dataset,
        });
        if (statusKind(result.status) === 'warning') progress.warning++;
        else progress.completed++;
      } catch (error) {
        if (association.state !== 'established') return;
        progress.failed++;
        failedSopInstanceUids.push(instance.sopInstanceUid);
        // The first reason is the one worth reading (often: no context with the stored transfer syntax).
        progress.errorComment ??= resultFromError(error, Status.UnableToProcess).errorComment;
      }
      progress.remaining = Math.max(0, progress.remaining - 1);
      if (progress.remaining > 0 && !request.signal.aborted) {
        await association.send(message.contextId, progressResponse(command, CommandField.CGetRsp, { status: Status.Pending }, progress));
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
    errorComment: status === Status.SubOperationsWarning ? progress.errorComment : undefined,
  };
  const identifier = result.status === Status.Success ? undefined : failedListIdentifier(progress, message.context.transferSyntaxUid);
  await association.send(message.contextId, progressResponse(command, CommandField.CGetRsp, result, progress), identifier);
}

/**
 * The instance's bytes in a syntax the requestor accepted for its class: as stored when a context has that syntax,
 * else through `transcodeTo`; otherwise the sub-operation fails with a comment naming the syntaxes (PS3.4 C.4.3.3).
 */
async function openForContexts(
  association: Association,
  instance: CGetInstance,
): Promise<{ transferSyntaxUid: string; dataset: Buffer | AsyncIterable<Buffer> }> {
  if (association.findContext(instance.sopClassUid, [instance.transferSyntaxUid])) {
    return { transferSyntaxUid: instance.transferSyntaxUid, dataset: await instance.open() };
  }
  const accepted = [...association.presentationContexts.values()]
    .filter((c) => c.abstractSyntaxUid === instance.sopClassUid)
    .map((c) => c.transferSyntaxUid);
  if (accepted.length === 0) {
    throw new DimseStatusError(
      `Cannot send instance '${instance.sopInstanceUid}': no presentation context for SOP class '${instance.sopClassUid}' was accepted`,
      Status.UnableToProcess,
      { errorComment: `No context for SOP class ${instance.sopClassUid}` },
    );
  }
  if (!instance.transcodeTo) {
    throw new DimseStatusError(
      `Cannot send instance '${instance.sopInstanceUid}': it is stored as '${instance.transferSyntaxUid}' and the requestor accepted only '${accepted.join("', '")}'`,
      Status.UnableToProcess,
      { errorComment: `Stored syntax ${instance.transferSyntaxUid} not accepted` },
    );
  }
  return instance.transcodeTo(accepted);
}
