import type { Association, IncomingMessage } from './association.js';
import { CommandField } from './command-set.js';
import type { CEchoHandler, DimseStatusResult } from './handlers.js';
import { assertNotFailure, contextFor, resultFromError, responseTo } from './service-common.js';
import { Status } from './status.js';

/** Verification SOP Class (PS3.4 Annex A). */
export const VerificationSopClass = '1.2.840.10008.1.1';

/** C-ECHO SCU (PS3.7 §9.1.5): resolves with the status, throws `DimseStatusError` on a failure status. */
export async function cEcho(association: Association): Promise<DimseStatusResult> {
  const context = contextFor(association, VerificationSopClass);
  const response = await association.invoke(context.id, {
    commandField: CommandField.CEchoRq,
    affectedSopClassUid: VerificationSopClass,
  });
  return assertNotFailure('C-ECHO', response);
}

/** C-ECHO SCP: answers success unless a handler says otherwise. */
export async function serveCEcho(association: Association, message: IncomingMessage, handler?: CEchoHandler): Promise<void> {
  let result: DimseStatusResult = { status: Status.Success };
  if (handler) {
    try {
      result = await handler({ association: association.info, messageId: message.command.messageId ?? 0 });
    } catch (error) {
      result = resultFromError(error, Status.UnableToProcess);
    }
  }
  await association.send(message.contextId, responseTo(message.command, CommandField.CEchoRsp, result));
}
