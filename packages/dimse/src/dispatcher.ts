import type { Association, IncomingMessage, RequestListener } from './association.js';
import { CommandField } from './command-set.js';
import { serveCEcho } from './c-echo.js';
import { serveCFind } from './c-find.js';
import { serveCGet } from './c-get.js';
import { serveCMove } from './c-move.js';
import { serveCStore } from './c-store.js';
import type { DimseHandlers } from './handlers.js';
import { serveNAction, serveNEventReport } from './storage-commitment.js';
import { responseTo } from './service-common.js';
import { Status } from './status.js';

/**
 * Routes incoming requests to the service plumbing (PS3.7 §9, §10). Each request runs concurrently with the
 * reading of the socket, which is what lets a C-CANCEL-RQ reach a C-FIND in progress.
 */
export function createDispatcher(handlers: DimseHandlers, onError?: (error: unknown, association: Association) => void): RequestListener {
  return (association: Association, message: IncomingMessage) => {
    const work = route(association, message, handlers).catch((error: unknown) => {
      // Failures to answer because the association ended are expected; anything else is a bug to report.
      if (association.state === 'established' || association.state === 'awaiting-release-rp') onError?.(error, association);
    });
    void association.track(work);
  };
}

async function route(association: Association, message: IncomingMessage, handlers: DimseHandlers): Promise<void> {
  switch (message.command.commandField) {
    case CommandField.CEchoRq:
      return serveCEcho(association, message, handlers.echo);
    case CommandField.CStoreRq:
      return serveCStore(association, message, handlers.store);
    case CommandField.CFindRq:
      return serveCFind(association, message, handlers.find);
    case CommandField.CMoveRq:
      return serveCMove(association, message, handlers.move);
    case CommandField.CGetRq:
      return serveCGet(association, message, handlers.get);
    case CommandField.NActionRq:
      return serveNAction(association, message, handlers.storageCommitment);
    case CommandField.NEventReportRq:
      return serveNEventReport(association, message, handlers.eventReport);
    default:
      message.datasetStream?.resume();
      await association.send(
        message.contextId,
        responseTo(message.command, message.command.commandField | 0x8000, {
          status: Status.UnrecognizedOperation,
          errorComment: 'Operation not supported by this AE',
        }),
      );
  }
}
