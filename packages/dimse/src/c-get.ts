import type { Association, IncomingMessage } from './association.js';
import { CommandField } from './command-set.js';
import { cStore } from './c-store.js';
import type { CGetHandler, CGetPlan, DimseStatusResult, SubOperationProgress } from './handlers.js';
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
        const dataset = await instance.open();
        const result = await cStore(association, {
          sopClassUid: instance.sopClassUid,
          sopInstanceUid: instance.sopInstanceUid,
          transferSyntaxUid: instance.transferSyntaxUid,
          dataset,
        });
        if (statusKind(result.status) === 'warning') progress.warning++;
        else progress.completed++;
      } catch (error) {
        if (association.state !== 'established') return;
        progress.failed++;
        failedSopInstanceUids.push(instance.sopInstanceUid);
        void error;
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
  const result = failure ?? { status: finalStatus(progress, request.signal.aborted) };
  const identifier = result.status === Status.Success ? undefined : failedListIdentifier(progress, message.context.transferSyntaxUid);
  await association.send(message.contextId, progressResponse(command, CommandField.CGetRsp, result, progress), identifier);
}
