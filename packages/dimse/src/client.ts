import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { ExplicitVrLittleEndian, ImplicitVrLittleEndian } from '@atrium/dicom';
import type { ExtendedNegotiation, RoleSelection, UserIdentity } from './a-associate.js';
import { DicomApplicationContext } from './a-associate.js';
import type { AssociationLimits, AssociationTimeouts } from './association.js';
import { ATRIUM_IMPLEMENTATION_CLASS_UID, ATRIUM_IMPLEMENTATION_VERSION_NAME, Association } from './association.js';
import { createDispatcher } from './dispatcher.js';
import { AssociationAbortedError } from './errors.js';
import type { DimseHandlers } from './handlers.js';

/** A presentation context to propose; transfer syntaxes default to Explicit then Implicit VR Little Endian. */
export interface ProposedContext {
  abstractSyntaxUid: string;
  transferSyntaxUids?: readonly string[];
}

/** How the requestor opens an association (PS3.8 §7.1, A-ASSOCIATE request primitive). */
export interface ConnectOptions {
  host: string;
  port: number;
  callingAeTitle: string;
  calledAeTitle: string;
  presentationContexts: readonly ProposedContext[];
  /** SCP/SCU role selection, e.g. `{ sopClassUid, scuRole: false, scpRole: true }` for C-GET storage classes. */
  roleSelections?: readonly RoleSelection[];
  extendedNegotiations?: readonly ExtendedNegotiation[];
  userIdentity?: UserIdentity;
  asyncOperations?: { maxInvoked: number; maxPerformed: number };
  limits?: AssociationLimits;
  timeouts?: AssociationTimeouts;
  /** When set, the transport is TLS with these options (certificates, `servername`, `rejectUnauthorized`...). */
  tls?: ConnectionOptions;
  /** Handlers for requests the peer sends on this association (the C-STOREs of a C-GET). */
  handlers?: DimseHandlers;
  onError?: (error: unknown) => void;
}

const DEFAULT_TRANSFER_SYNTAXES = [ExplicitVrLittleEndian, ImplicitVrLittleEndian];

function openTransport(options: ConnectOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket: Socket = options.tls
      ? tlsConnect({ ...options.tls, host: options.host, port: options.port })
      : netConnect({ host: options.host, port: options.port });
    const artim = options.timeouts?.artimMs ?? 30_000;
    const timer = artim
      ? setTimeout(() => {
          socket.destroy();
          reject(new AssociationAbortedError(`Cannot connect to ${options.host}:${options.port}: no connection within ${artim} ms`, {
            code: 'ATRIUM_ERR_DIMSE_TIMEOUT',
          }));
        }, artim)
      : undefined;
    const onError = (error: Error) => {
      if (timer) clearTimeout(timer);
      reject(new AssociationAbortedError(`Cannot connect to ${options.host}:${options.port}: ${error.message}`, {
        code: 'ATRIUM_ERR_DIMSE_CLOSED',
        cause: error,
      }));
    };
    socket.once('error', onError);
    socket.once(options.tls ? 'secureConnect' : 'connect', () => {
      if (timer) clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/**
 * Opens an association as requestor: connects (TCP or TLS), proposes the contexts (IDs 1, 3, 5...), and resolves
 * once the acceptor answers A-ASSOCIATE-AC. Rejects with `AssociationRejectedError` on A-ASSOCIATE-RJ.
 */
export async function connect(options: ConnectOptions): Promise<Association> {
  if (options.presentationContexts.length === 0 || options.presentationContexts.length > 128) {
    throw new TypeError(`Cannot propose ${options.presentationContexts.length} presentation contexts: 1 to 128 are allowed`);
  }
  const socket = await openTransport(options);
  const association = new Association({
    socket,
    role: 'requestor',
    limits: options.limits,
    timeouts: options.timeouts,
    tls: options.tls !== undefined,
    onRequest: options.handlers ? createDispatcher(options.handlers, (e) => options.onError?.(e)) : undefined,
  });
  const maxPduLength = options.limits?.maxPduLength ?? 262144;
  await association.requestAssociation({
    protocolVersion: 1,
    calledAeTitle: options.calledAeTitle,
    callingAeTitle: options.callingAeTitle,
    applicationContextName: DicomApplicationContext,
    presentationContexts: options.presentationContexts.map((pc, i) => ({
      id: 2 * i + 1,
      abstractSyntaxUid: pc.abstractSyntaxUid,
      transferSyntaxUids: pc.transferSyntaxUids ?? DEFAULT_TRANSFER_SYNTAXES,
    })),
    userInformation: {
      maxPduLength,
      implementationClassUid: ATRIUM_IMPLEMENTATION_CLASS_UID,
      implementationVersionName: ATRIUM_IMPLEMENTATION_VERSION_NAME,
      asyncOperations: options.asyncOperations,
      roleSelections: options.roleSelections,
      extendedNegotiations: options.extendedNegotiations,
      userIdentity: options.userIdentity,
    },
  });
  return association;
}

/**
 * Opens an association, runs `work`, then releases it; aborts it instead when `work` throws, and rethrows.
 */
export async function withAssociation<T>(options: ConnectOptions, work: (association: Association) => Promise<T>): Promise<T> {
  const association = await connect(options);
  let result: T;
  try {
    result = await work(association);
  } catch (error) {
    association.abort();
    await association.closed;
    throw error;
  }
  await association.release();
  return result;
}
