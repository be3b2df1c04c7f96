import type { DicomJsonDataset } from '@atrium/dicom';
import type { Association, IncomingMessage } from './association.js';
import { CommandField } from './command-set.js';
import { decodeDataset, encodeDataset } from './dataset-codec.js';
import type { DimseStatusResult, NEventReportHandler, StorageCommitmentHandler } from './handlers.js';
import { assertNotFailure, contextFor, resultFromError, responseTo } from './service-common.js';
import { Status } from './status.js';
import { SopClass } from './c-find.js';

/** Storage Commitment action and event types (PS3.4 J.3.2, J.3.3). */
export const StorageCommitment = {
  ActionRequest: 1,
  EventSuccess: 1,
  EventFailures: 2,
} as const;

export interface NActionOptions {
  sopClassUid: string;
  sopInstanceUid: string;
  actionTypeId: number;
  actionInformation?: DicomJsonDataset;
}

/** N-ACTION SCU (PS3.7 §10.1.4); throws `DimseStatusError` on a failure status. */
export async function nAction(association: Association, options: NActionOptions): Promise<DimseStatusResult> {
  const context = contextFor(association, options.sopClassUid);
  const response = await association.invoke(
    context.id,
    {
      commandField: CommandField.NActionRq,
      requestedSopClassUid: options.sopClassUid,
      requestedSopInstanceUid: options.sopInstanceUid,
      actionTypeId: options.actionTypeId,
    },
    options.actionInformation ? encodeDataset(options.actionInformation, context.transferSyntaxUid) : undefined,
  );
  return assertNotFailure('N-ACTION', response);
}

export interface NEventReportOptions {
  sopClassUid: string;
  sopInstanceUid: string;
  eventTypeId: number;
  eventInformation?: DicomJsonDataset;
}

/** N-EVENT-REPORT SCU (PS3.7 §10.1.1), e.g. the storage commitment result; throws on a failure status. */
export async function nEventReport(association: Association, options: NEventReportOptions): Promise<DimseStatusResult> {
  const context = contextFor(association, options.sopClassUid);
  const response = await association.invoke(
    context.id,
    {
      commandField: CommandField.NEventReportRq,
      affectedSopClassUid: options.sopClassUid,
      affectedSopInstanceUid: options.sopInstanceUid,
      eventTypeId: options.eventTypeId,
    },
    options.eventInformation ? encodeDataset(options.eventInformation, context.transferSyntaxUid) : undefined,
  );
  return assertNotFailure('N-EVENT-REPORT', response);
}

function text(ds: DicomJsonDataset | undefined, tag: string): string {
  const v = ds?.[tag]?.Value?.[0];
  return typeof v === 'string' ? v : '';
}

/** N-ACTION SCP for Storage Commitment Push Model (PS3.4 J.3.2); other N-ACTIONs answer "no such SOP class". */
export async function serveNAction(association: Association, message: IncomingMessage, handler?: StorageCommitmentHandler): Promise<void> {
  const { command } = message;
  const respond = (result: DimseStatusResult) =>
    association.send(message.contextId, {
      ...responseTo(command, CommandField.NActionRsp, result),
      actionTypeId: command.actionTypeId,
    });
  if (!handler || command.requestedSopClassUid !== SopClass.StorageCommitmentPushModel) {
    await respond({ status: Status.NoSuchSopClass });
    return;
  }
  let result: DimseStatusResult;
  // The event report may only follow the N-ACTION-RSP: whatever the handler starts waits for this to settle.
  let responded!: () => void;
  const responseWritten = new Promise<void>((resolve) => {
    responded = resolve;
  });
  try {
    const actionInformation = message.dataset ? decodeDataset(message.dataset, message.context.transferSyntaxUid) : {};
    const items = (actionInformation['00081199']?.Value ?? []) as DicomJsonDataset[];
    result = await handler({
      association: association.info,
      messageId: command.messageId ?? 0,
      requestedSopInstanceUid: command.requestedSopInstanceUid ?? '',
      actionTypeId: command.actionTypeId ?? 0,
      transactionUid: text(actionInformation, '00081195'),
      referencedSops: items.map((item) => ({ sopClassUid: text(item, '00081150'), sopInstanceUid: text(item, '00081155') })),
      actionInformation,
      isAssociationOpen: () => association.state === 'established',
      reportOnSameAssociation: async (options) => {
        await responseWritten;
        return nEventReport(association, options);
      },
    });
  } catch (error) {
    result = resultFromError(error, Status.ProcessingFailure);
  }
  try {
    await respond(result);
  } finally {
    responded();
  }
}

/** N-EVENT-REPORT SCP: hands the event to the handler and answers its status. */
export async function serveNEventReport(association: Association, message: IncomingMessage, handler?: NEventReportHandler): Promise<void> {
  const { command } = message;
  let result: DimseStatusResult;
  if (!handler) {
    result = { status: Status.NoSuchSopClass };
  } else {
    try {
      result = await handler({
        association: association.info,
        messageId: command.messageId ?? 0,
        affectedSopClassUid: command.affectedSopClassUid ?? '',
        affectedSopInstanceUid: command.affectedSopInstanceUid ?? '',
        eventTypeId: command.eventTypeId ?? 0,
        eventInformation: message.dataset ? decodeDataset(message.dataset, message.context.transferSyntaxUid) : undefined,
      });
    } catch (error) {
      result = resultFromError(error, Status.ProcessingFailure);
    }
  }
  await association.send(message.contextId, { ...responseTo(command, CommandField.NEventReportRsp, result), eventTypeId: command.eventTypeId });
}
