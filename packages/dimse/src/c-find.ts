import type { DicomJsonDataset } from '@atrium/dicom';
import type { Association, IncomingMessage } from './association.js';
import { AsyncQueue } from './async-queue.js';
import type { CommandSet } from './command-set.js';
import { CommandField, Priority } from './command-set.js';
import { decodeDataset, encodeDataset } from './dataset-codec.js';
import type { CFindHandler, DimseStatusResult, QueryRequest } from './handlers.js';
import { assertNotFailure, contextFor, resultFromError, responseTo } from './service-common.js';
import { Status, statusKind } from './status.js';

/** Query/Retrieve information models and worklist (PS3.4 C.6, K.6). */
export const SopClass = {
  PatientRootFind: '1.2.840.10008.5.1.4.1.2.1.1',
  PatientRootMove: '1.2.840.10008.5.1.4.1.2.1.2',
  PatientRootGet: '1.2.840.10008.5.1.4.1.2.1.3',
  StudyRootFind: '1.2.840.10008.5.1.4.1.2.2.1',
  StudyRootMove: '1.2.840.10008.5.1.4.1.2.2.2',
  StudyRootGet: '1.2.840.10008.5.1.4.1.2.2.3',
  ModalityWorklistFind: '1.2.840.10008.5.1.4.31',
  StorageCommitmentPushModel: '1.2.840.10008.1.20.1',
  StorageCommitmentPushModelInstance: '1.2.840.10008.1.20.1.1',
} as const;

/** The request fields every query service shares. */
export interface QueryOptions {
  sopClassUid: string;
  /** Query keys as DICOM JSON, or already encoded bytes in the context's transfer syntax. */
  identifier: DicomJsonDataset | Buffer;
  priority?: number;
  /** Aborting sends C-CANCEL-RQ (PS3.7 §9.3.2.3); the operation then ends with status FE00. */
  signal?: AbortSignal;
}

export type CFindOptions = QueryOptions;

/** Encodes the identifier for a context and returns what `invoke` needs. */
export function prepareQuery(association: Association, options: QueryOptions) {
  const context = contextFor(association, options.sopClassUid);
  const identifier = Buffer.isBuffer(options.identifier)
    ? options.identifier
    : encodeDataset(options.identifier, context.transferSyntaxUid);
  return { context, identifier };
}

/**
 * Sends C-CANCEL-RQ for a request on `contextId` when `signal` aborts; returns the detach function.
 */
export function cancelOnAbort(association: Association, contextId: number, messageId: number, signal?: AbortSignal): () => void {
  if (!signal) return () => undefined;
  const onAbort = () => {
    association.send(contextId, { commandField: CommandField.CCancelRq, messageIdBeingRespondedTo: messageId }).catch(() => undefined);
  };
  if (signal.aborted) {
    queueMicrotask(onAbort);
    return () => undefined;
  }
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/**
 * C-FIND SCU (PS3.7 §9.1.2, PS3.4 C.4.1): yields each pending match as DICOM JSON. Leaving the loop early or
 * aborting `signal` sends C-CANCEL-RQ. Throws `DimseStatusError` when the final status is a failure.
 */
export async function* cFind(association: Association, options: CFindOptions): AsyncGenerator<DicomJsonDataset, DimseStatusResult> {
  const { context, identifier } = prepareQuery(association, options);
  const messageId = association.nextMessageId();
  const queue = new AsyncQueue<DicomJsonDataset>();
  let finalResponse: IncomingMessage | undefined;
  const final = association
    .invoke(
      context.id,
      {
        commandField: CommandField.CFindRq,
        messageId,
        affectedSopClassUid: options.sopClassUid,
        priority: options.priority ?? Priority.Medium,
      },
      identifier,
      (pending) => {
        try {
          if (pending.dataset) queue.push(decodeDataset(pending.dataset, context.transferSyntaxUid));
        } catch (error) {
          queue.fail(error);
        }
      },
    )
    .then(
      (message) => {
        finalResponse = message;
        queue.end();
      },
      (error: unknown) => queue.fail(error),
    );
  const detach = cancelOnAbort(association, context.id, messageId, options.signal);
  try {
    for await (const match of queue) yield match;
  } finally {
    detach();
    if (!finalResponse && association.state === 'established') {
      await association
        .send(context.id, { commandField: CommandField.CCancelRq, messageIdBeingRespondedTo: messageId })
        .catch(() => undefined);
      await final;
    }
  }
  await final;
  return assertNotFailure('C-FIND', finalResponse!);
}

/** Builds the request object for the query handlers, with a signal tied to C-CANCEL and the association. */
export function queryRequest(association: Association, message: IncomingMessage): { request: QueryRequest; detach: () => void } {
  const { command } = message;
  const controller = new AbortController();
  const detach = association.onCancel(command.messageId ?? 0, () => controller.abort());
  const identifierBytes = message.dataset ?? Buffer.alloc(0);
  const request: QueryRequest = {
    association: association.info,
    messageId: command.messageId ?? 0,
    priority: command.priority ?? Priority.Medium,
    affectedSopClassUid: command.affectedSopClassUid ?? '',
    transferSyntaxUid: message.context.transferSyntaxUid,
    identifier: {},
    identifierBytes,
    signal: controller.signal,
  };
  request.identifier = decodeDataset(identifierBytes, message.context.transferSyntaxUid);
  return { request, detach };
}

/**
 * C-FIND SCP: decodes the identifier, iterates the handler's matches sending each as Pending (FF00) and ends
 * with Success, Cancel (FE00) after C-CANCEL-RQ, or the handler's failure status.
 */
export async function serveCFind(association: Association, message: IncomingMessage, handler?: CFindHandler): Promise<void> {
  const { command } = message;
  const respond = (result: DimseStatusResult, identifier?: Buffer) =>
    association.send(message.contextId, responseTo(command, CommandField.CFindRsp, result), identifier);
  if (!handler) {
    await respond({ status: Status.SopClassNotSupported, errorComment: 'This AE does not accept C-FIND' });
    return;
  }
  let prepared: ReturnType<typeof queryRequest>;
  try {
    prepared = queryRequest(association, message);
  } catch (error) {
    await respond(resultFromError(error, Status.IdentifierDoesNotMatchSopClass));
    return;
  }
  const { request, detach } = prepared;
  let final: DimseStatusResult = { status: Status.Success };
  try {
    for await (const match of handler(request)) {
      if (request.signal.aborted) break;
      await respond({ status: Status.Pending }, encodeDataset(match, message.context.transferSyntaxUid));
    }
    if (request.signal.aborted) final = { status: Status.Cancel };
  } catch (error) {
    if (association.state !== 'established') return;
    final = request.signal.aborted ? { status: Status.Cancel } : resultFromError(error, Status.CannotUnderstand);
  } finally {
    detach();
  }
  if (association.state !== 'established') return;
  await respond(final);
}

/** True when a status ends a C-FIND/C-MOVE/C-GET (anything but pending). */
export function isFinal(command: CommandSet): boolean {
  return statusKind(command.status ?? 0) !== 'pending';
}
