import { Readable } from 'node:stream';
import type { Association, IncomingMessage } from './association.js';
import { CommandField, Priority } from './command-set.js';
import type { CStoreHandler, DimseStatusResult, MoveOriginator } from './handlers.js';
import { assertNotFailure, contextFor, resultFromError, responseTo } from './service-common.js';
import { Status } from './status.js';

/** What the C-STORE SCU sends. */
export interface CStoreOptions {
  sopClassUid: string;
  sopInstanceUid: string;
  /** Transfer syntax of `dataset`; a context for the SOP class with exactly this syntax must be accepted. */
  transferSyntaxUid: string;
  /**
   * The data set without preamble or file meta: bytes, or a stream (a `Readable` from a stored file, read
   * lazily and fragmented into PDVs as the socket drains).
   */
  dataset: Buffer | AsyncIterable<Buffer>;
  priority?: number;
  /** Set when this store is a C-MOVE sub-operation (PS3.7 §9.1.1.1.7). */
  moveOriginator?: MoveOriginator;
}

/**
 * C-STORE SCU (PS3.7 §9.1.1, PS3.4 Annex B). Resolves with the response status (success or warning); throws
 * `DimseStatusError` on a failure status and a `DimseStateError` when no matching context was accepted.
 */
export async function cStore(association: Association, options: CStoreOptions): Promise<DimseStatusResult> {
  const context = contextFor(association, options.sopClassUid, [options.transferSyntaxUid]);
  const response = await association.invoke(
    context.id,
    {
      commandField: CommandField.CStoreRq,
      affectedSopClassUid: options.sopClassUid,
      affectedSopInstanceUid: options.sopInstanceUid,
      priority: options.priority ?? Priority.Medium,
      moveOriginatorApplicationEntityTitle: options.moveOriginator?.aeTitle,
      moveOriginatorMessageId: options.moveOriginator?.messageId,
    },
    options.dataset,
  );
  return assertNotFailure(`C-STORE of '${options.sopInstanceUid}'`, response);
}

/**
 * C-STORE SCP: hands the data set to the handler (collected whole, or streamed when long), waits for both the
 * handler and the last PDV, then answers. Whatever the handler leaves unread is drained, so the association stays
 * usable.
 */
export async function serveCStore(association: Association, message: IncomingMessage, handler?: CStoreHandler): Promise<void> {
  const { command } = message;
  const chunks = message.datasetChunks;
  const streamed = message.datasetStream;
  let result: DimseStatusResult;
  if (!handler) {
    result = { status: Status.SopClassNotSupported, errorComment: 'This AE does not accept C-STORE' };
  } else {
    let made: Readable | undefined;
    try {
      result = await handler({
        association: association.info,
        messageId: command.messageId ?? 0,
        priority: command.priority ?? Priority.Medium,
        affectedSopClassUid: command.affectedSopClassUid ?? '',
        affectedSopInstanceUid: command.affectedSopInstanceUid ?? '',
        transferSyntaxUid: message.context.transferSyntaxUid,
        moveOriginator:
          command.moveOriginatorApplicationEntityTitle !== undefined
            ? { aeTitle: command.moveOriginatorApplicationEntityTitle, messageId: command.moveOriginatorMessageId ?? 0 }
            : undefined,
        datasetChunks: chunks,
        // Handlers that take the collected chunks never pay for a stream.
        get dataset(): Readable {
          return streamed ?? (made ??= Readable.from(chunks ?? [], { objectMode: false }));
        },
      });
    } catch (error) {
      result = resultFromError(error, Status.OutOfResources);
    }
  }
  if (streamed && !streamed.readableEnded && !streamed.destroyed) streamed.resume();
  try {
    await message.datasetReceived;
  } catch {
    // The data set did not arrive whole: the association is ending and no response can be sent.
    return;
  }
  await association.send(message.contextId, responseTo(command, CommandField.CStoreRsp, result));
}
