import {
  DimseServer,
  DimseStatusError,
  Status,
  type AssociationInfo,
  type CFindHandler,
  type CGetHandler,
  type CGetInstance,
  type CMoveHandler,
  type CStoreHandler,
  type DimseStatusResult,
} from '@atrium/dimse';
import type { Archive } from '../main.js';
import type { DimseServiceName } from '../config/config.js';
import { RemoteAeRegistry } from '../remote-nodes/remote-ae-registry.js';
import { GET_MODELS, MOVE_MODELS, SopClassCatalogue } from './sop-classes.js';
import { resolveRetrieve } from './retrieve-scope.js';
import { sendInstances, storedInOrder } from './send-instances.js';
import type { StoredInstanceRef } from '../retrieve/index.js';
import { StorageCommitmentScp, type CommitmentOutcome } from './storage-commitment-scp.js';
import { serverTlsOptions } from './tls.js';
import { answerFindExtendedNegotiation, createFindHandler } from './c-find-scp.js';
import { createQueryEngine } from '../query/index.js';
import type { DimseTranscoder } from './transcoding.js';

export type { DimseTranscoder } from './transcoding.js';
export type { CommitmentOutcome } from './storage-commitment-scp.js';

export interface DimseListener {
  /** The port the DIMSE server listens on (useful when configured as 0). */
  port: number;
  close(): Promise<void>;
}

export interface DimseServicesOptions {
  /** Converts stored instances a peer cannot take as stored (C-MOVE, C-GET); without it such a transfer fails. */
  transcoder?: DimseTranscoder | undefined;
  /** C-FIND handler; default: the archive's query engine (the one QIDO-RS uses). */
  find?: CFindHandler | undefined;
  /** Told each storage commitment result once it was reported (or could not be): for tests and audit. */
  onCommitment?: (outcome: CommitmentOutcome) => void;
}

/**
 * Starts Atrium's DIMSE services (PS3.4, PS3.7) on the configured port; undefined when disabled.
 *
 * - Verification (Annex A); Storage SCP for every storage class of Annex B straight into the ingest pipeline,
 *   answered only after the instance is committed; Query/Retrieve (Annex C) C-FIND over the query engine, C-MOVE to
 *   configured AEs and C-GET on the same association, Patient Root and Study Root; Storage Commitment Push Model
 *   (Annex J).
 * - Calling AEs must be known remote AEs (or `acceptAnyAe`), and each operation must be among the services that
 *   AE is allowed and pass the archive's authorization policy: refused operations answer 0124 (not authorized).
 */
export async function startDimse(archive: Archive, options: DimseServicesOptions = {}): Promise<DimseListener | undefined> {
  const dicom = archive.config.dicom;
  if (!dicom.enabled) return undefined;
  const logger = archive.logger.child({ component: 'dimse' });
  const registry = new RemoteAeRegistry(archive);
  const catalogue = new SopClassCatalogue(archive.dictionary);
  const transcoder = options.transcoder ?? (archive as Archive & { transcoder?: DimseTranscoder }).transcoder;
  const commitment = new StorageCommitmentScp({ ...archive, logger }, registry, options.onCommitment);

  // Decided once per association and service: a modality sending a series asks the same question per instance.
  const decisions = new WeakMap<AssociationInfo, Map<DimseServiceName, Promise<void>>>();
  function authorize(association: AssociationInfo, service: DimseServiceName): Promise<void> {
    let byService = decisions.get(association);
    if (!byService) decisions.set(association, (byService = new Map()));
    let decision = byService.get(service);
    if (!decision) byService.set(service, (decision = decide(association, service)));
    return decision;
  }

  /** PS3.7 C.5: 0124 "Refused: not authorized" unless the AE may use the service and the policy allows it. */
  async function decide(association: AssociationInfo, service: DimseServiceName): Promise<void> {
    if (!(await registry.allows(association.callingAeTitle, service))) {
      throw new DimseStatusError(
        `Cannot serve ${service} for '${association.callingAeTitle}': this AE is not allowed the service`,
        0x0124,
        { errorComment: `AE ${association.callingAeTitle} may not use ${service}` },
      );
    }
    const decision = await archive.policy.authorize({
      kind: 'dimse',
      service,
      callingAeTitle: association.callingAeTitle,
      calledAeTitle: association.calledAeTitle,
      remoteAddress: association.remoteAddress,
    });
    if (!decision.allow) {
      throw new DimseStatusError(`Cannot serve ${service} for '${association.callingAeTitle}': ${decision.reason}`, 0x0124, {
        errorComment: decision.reason.slice(0, 64),
      });
    }
  }

  const store: CStoreHandler = async (request) => {
    await authorize(request.association, 'store');
    const { association } = request;
    const result = await archive.ingest.ingestDataset(
      request.datasetChunks ?? request.dataset,
      {
        transferSyntaxUid: request.transferSyntaxUid,
        sopClassUid: request.affectedSopClassUid,
        sopInstanceUid: request.affectedSopInstanceUid,
      },
      { kind: 'dimse', callingAeTitle: association.callingAeTitle, origin: `${association.remoteAddress}:${association.remotePort}` },
    );
    if (result.warnings.length > 0) logger.warn({ sopInstanceUid: result.sopInstanceUid, warnings: result.warnings }, 'Stored with warnings');
    // PS3.4 B.2.3: B007 when the data set does not say what the request said (the index keeps the data set's UIDs).
    if (result.sopClassUid !== request.affectedSopClassUid || result.sopInstanceUid !== request.affectedSopInstanceUid) {
      return {
        status: Status.DataSetDoesNotMatchSopClassWarning,
        errorComment: result.sopClassUid !== request.affectedSopClassUid ? 'SOP Class UID differs from the request' : 'SOP Instance UID differs from the request',
      } satisfies DimseStatusResult;
    }
    return { status: Status.Success };
  };

  const move: CMoveHandler = async function* (request) {
    await authorize(request.association, 'move');
    const destination = await registry.get(request.moveDestination);
    if (!destination) {
      throw new DimseStatusError(`Cannot move to '${request.moveDestination}': it is not a configured remote AE`, Status.MoveDestinationUnknown, {
        errorComment: `Unknown move destination ${request.moveDestination}`.slice(0, 64),
      });
    }
    const refs = await resolveRetrieve(archive, MOVE_MODELS.get(request.affectedSopClassUid) ?? 'STUDY', request.identifier);
    logger.info({ callingAeTitle: request.association.callingAeTitle, destination: destination.aeTitle, instances: refs.length }, 'C-MOVE');
    yield* sendInstances(archive, destination, refs, {
      moveOriginator: { aeTitle: request.association.callingAeTitle, messageId: request.messageId },
      signal: request.signal,
      transcoder,
    });
  };

  const get: CGetHandler = async (request) => {
    await authorize(request.association, 'get');
    const refs = await resolveRetrieve(archive, GET_MODELS.get(request.affectedSopClassUid) ?? 'STUDY', request.identifier);
    return { count: refs.length, instances: getInstances(refs) };
  };

  /**
   * The instances of a C-GET, small ones read ahead (`storedInOrder`). The plumbing asks for the next instance only
   * once the C-STORE of the previous one has been answered or failed on a live association, so its pooled buffer is
   * written and goes back to the store then; one the plumbing abandons (association gone, C-CANCEL) is left to the
   * collector. Which contexts the requestor accepted is not known here: a small instance it needs converted is read
   * ahead all the same, and its buffer given back unused.
   */
  async function* getInstances(refs: readonly StoredInstanceRef[]): AsyncGenerator<CGetInstance> {
    for await (const { ref, bytes, error } of storedInOrder(archive, refs, () => true, { reusable: true })) {
      yield {
        sopClassUid: ref.sopClassUid,
        sopInstanceUid: ref.sopInstanceUid,
        transferSyntaxUid: ref.transferSyntaxUid,
        open: () => {
          if (error) throw error;
          return bytes ?? archive.retrieve.streamDataset(ref);
        },
        ...(transcoder
          ? {
              transcodeTo: async (accepted: readonly string[]) => {
                const converted = await transcoder.transcode(ref, accepted, { form: 'dataset', measure: false });
                return { transferSyntaxUid: converted.transferSyntaxUid, dataset: converted.stream };
              },
            }
          : {}),
      };
      if (bytes) archive.store.recycle?.(bytes);
    }
  }

  const findMatches = options.find ?? createFindHandler(createQueryEngine(archive));
  const find: CFindHandler = async function* (request) {
    await authorize(request.association, 'find');
    yield* findMatches(request);
  };

  const server = new DimseServer(
    {
      policy: {
        aeTitle: dicom.aeTitle,
        isCallingAeTitleAllowed: async (callingAeTitle, peer) => {
          const allowed = await registry.allows(callingAeTitle, 'association');
          if (!allowed) logger.warn({ callingAeTitle, peer }, 'Association rejected: unknown calling AE title');
          if (!allowed) return false;
          if (!(await registry.comesFrom(callingAeTitle, peer.address))) {
            logger.warn({ callingAeTitle, peer }, 'Association rejected: the calling AE title is configured for another host');
            return false;
          }
          const decision = await archive.policy.authorize({
            kind: 'dimse',
            service: 'association',
            callingAeTitle,
            calledAeTitle: dicom.aeTitle,
            remoteAddress: peer.address,
          });
          return decision.allow;
        },
        isAbstractSyntaxAccepted: (uid) => catalogue.isServed(uid, { find: true, acceptUnknown: dicom.acceptUnknownSopClasses }),
        answerExtendedNegotiation: answerFindExtendedNegotiation,
        chooseTransferSyntax: (uid, proposed, roles) => catalogue.chooseTransferSyntax(uid, proposed, dicom.acceptUnknownSopClasses, roles),
      },
      handlers: {
        echo: async (request) => {
          await authorize(request.association, 'echo');
          return { status: Status.Success };
        },
        store,
        find,
        move,
        get,
        storageCommitment: async (request) => {
          await authorize(request.association, 'commitment');
          return commitment.handle(request);
        },
      },
      limits: { maxAssociations: dicom.maxAssociations, maxPduLength: dicom.maxPduLength, maxSendPduLength: dicom.maxPduLength },
      timeouts: { artimMs: dicom.timeouts.artimMs, idleMs: dicom.timeouts.idleMs },
      tls: serverTlsOptions(dicom),
      onAssociation: (info) => logger.debug({ callingAeTitle: info.callingAeTitle, peer: info.remoteAddress }, 'Association accepted'),
      onAssociationEnd: (info, error) => {
        if (error) logger.debug({ callingAeTitle: info?.callingAeTitle, err: error }, 'Association ended abnormally');
      },
      onError: (error, info) => logger.error({ err: error, callingAeTitle: info?.callingAeTitle }, 'DIMSE error'),
    },
    archive.dictionary,
  );
  const address = await server.listen(dicom.port, dicom.host);
  logger.info({ aeTitle: dicom.aeTitle, host: dicom.host, port: address.port, tls: dicom.tls !== undefined }, 'DIMSE listening');
  return {
    port: address.port,
    async close() {
      await server.close(2_000);
      await commitment.drain();
    },
  };
}

