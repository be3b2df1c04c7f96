import type { DicomJsonDataset } from '@atrium/dicom';
import type { Association, IncomingMessage } from './association.js';
import type { CommandSet } from './command-set.js';
import { CommandField, Priority } from './command-set.js';
import { decodeDataset, encodeDataset } from './dataset-codec.js';
import type { DimseStatusResult, QueryRequest, SubOperationProgress } from './handlers.js';
import type { QueryOptions } from './c-find.js';
import { cancelOnAbort, prepareQuery } from './c-find.js';
import { assertNotFailure, responseTo } from './service-common.js';
import { Status } from './status.js';

/*
 * What C-MOVE and C-GET share (PS3.4 C.4.2, C.4.3): sub-operation counts in pending and final responses, the
 * Failed SOP Instance UID List in the final identifier, cancellation.
 */

/** Final outcome of a C-MOVE or C-GET at the SCU. */
export interface SubOperationResult extends DimseStatusResult {
  remaining: number | undefined;
  completed: number;
  failed: number;
  warning: number;
  failedSopInstanceUids: string[];
}

export interface RetrieveOptions extends QueryOptions {
  /** Called with the counts of each pending response. */
  onProgress?: (progress: SubOperationProgress) => void;
}

export const FailedSopInstanceUidListTag = '00080058';

function countsOf(command: CommandSet): SubOperationProgress {
  return {
    remaining: command.numberOfRemainingSuboperations ?? 0,
    completed: command.numberOfCompletedSuboperations ?? 0,
    failed: command.numberOfFailedSuboperations ?? 0,
    warning: command.numberOfWarningSuboperations ?? 0,
  };
}

function failedUids(message: IncomingMessage): string[] {
  if (!message.dataset || message.dataset.length === 0) return [];
  try {
    const ds = decodeDataset(message.dataset, message.context.transferSyntaxUid);
    return ((ds[FailedSopInstanceUidListTag]?.Value ?? []) as unknown[]).map(String);
  } catch {
    return [];
  }
}

/** Sends a C-MOVE-RQ or C-GET-RQ and follows its pending responses to the final one. */
export async function retrieve(
  association: Association,
  commandField: number,
  options: RetrieveOptions & { moveDestination?: string },
): Promise<SubOperationResult> {
  const { context, identifier } = prepareQuery(association, options);
  const messageId = association.nextMessageId();
  const detach = cancelOnAbort(association, context.id, messageId, options.signal);
  try {
    const final = await association.invoke(
      context.id,
      {
        commandField,
        messageId,
        affectedSopClassUid: options.sopClassUid,
        priority: options.priority ?? Priority.Medium,
        moveDestination: options.moveDestination,
      },
      identifier,
      (pending) => options.onProgress?.(countsOf(pending.command)),
    );
    const what = commandField === CommandField.CMoveRq ? 'C-MOVE' : 'C-GET';
    const status = assertNotFailure(what, final);
    const counts = countsOf(final.command);
    return {
      ...status,
      remaining: final.command.numberOfRemainingSuboperations,
      completed: counts.completed,
      failed: counts.failed,
      warning: counts.warning,
      failedSopInstanceUids: failedUids(final),
    };
  } finally {
    detach();
  }
}

/** A response with sub-operation counts; `remaining` only where PS3.4 C.4.2.1.6 allows it (pending, cancel). */
export function progressResponse(
  request: CommandSet,
  commandField: number,
  result: DimseStatusResult,
  progress: SubOperationProgress,
): Omit<CommandSet, 'hasDataset'> {
  const withRemaining = result.status === Status.Pending || result.status === Status.Cancel;
  return {
    ...responseTo(request, commandField, result),
    affectedSopInstanceUid: undefined,
    numberOfRemainingSuboperations: withRemaining ? progress.remaining : undefined,
    numberOfCompletedSuboperations: progress.completed,
    numberOfFailedSuboperations: progress.failed,
    numberOfWarningSuboperations: progress.warning,
  };
}

/** The final status of a finished retrieve from its counts (PS3.4 C.4.2.1.5). */
export function finalStatus(progress: SubOperationProgress, cancelled: boolean): number {
  if (cancelled) return Status.Cancel;
  if (progress.failed > 0 || progress.warning > 0) return Status.SubOperationsWarning;
  return Status.Success;
}

/** The final identifier: the Failed SOP Instance UID List, when there is anything to list. */
export function failedListIdentifier(progress: SubOperationProgress, transferSyntaxUid: string): Buffer | undefined {
  const uids = progress.failedSopInstanceUids ?? [];
  if (uids.length === 0) return undefined;
  const ds: DicomJsonDataset = { [FailedSopInstanceUidListTag]: { vr: 'UI', Value: [...uids] } };
  return encodeDataset(ds, transferSyntaxUid);
}

