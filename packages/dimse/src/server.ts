import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { TlsOptions } from 'node:tls';
import {
  DataDictionary,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
  TRANSFER_SYNTAXES,
  defaultDictionary,
  isReadableTransferSyntax,
} from '@atrium/dicom';
import type {
  AAssociateRq,
  ExtendedNegotiation,
  PresentationContextAnswer,
  RoleSelection,
  UserIdentity,
} from './a-associate.js';
import { DicomApplicationContext, PresentationContextResult, RejectReason } from './a-associate.js';
import type { AssociationInfo, AssociationLimits, AssociationTimeouts } from './association.js';
import { ATRIUM_IMPLEMENTATION_CLASS_UID, ATRIUM_IMPLEMENTATION_VERSION_NAME, Association } from './association.js';
import { VerificationSopClass } from './c-echo.js';
import { SopClass } from './c-find.js';
import { createDispatcher } from './dispatcher.js';
import type { DimseHandlers } from './handlers.js';

export interface PeerAddress {
  address: string;
  port: number;
}

/**
 * What the acceptor agrees to (PS3.8 §7.1.1, PS3.7 Annex D.3.3). Every hook is optional; the defaults accept
 * the SOP classes the configured handlers serve, with this AE's transfer syntax preference order.
 */
export interface AcceptorPolicy {
  /** This AE's title: the called AE title must match it (reject reason 7 otherwise). */
  aeTitle: string;
  /** Accept any called AE title (a promiscuous test or routing node). */
  acceptAnyCalledAeTitle?: boolean;
  /** Calling AE allow-list hook: false rejects with reason 3 (calling AE title not recognized). */
  isCallingAeTitleAllowed?: (callingAeTitle: string, peer: PeerAddress) => boolean | Promise<boolean>;
  /** User identity check (PS3.7 D.3.3.7): false rejects; a Buffer accepts and is sent as the server response. */
  authenticate?: (identity: UserIdentity | undefined, callingAeTitle: string, peer: PeerAddress) =>
    boolean | Buffer | Promise<boolean | Buffer>;
  /** Which abstract syntaxes to accept (default: Verification and the classes of the configured handlers). */
  isAbstractSyntaxAccepted?: (abstractSyntaxUid: string) => boolean;
  /**
   * Transfer syntaxes in this acceptor's order of preference: for each proposed context the first of these the
   * requestor also proposed wins. Default: Explicit VR LE, Implicit VR LE, then (for storage) every other
   * little-endian syntax, so instances are stored as sent.
   */
  transferSyntaxes?: readonly string[];
  /** Per abstract syntax preference list; undefined falls back to `transferSyntaxes`. */
  transferSyntaxesFor?: (abstractSyntaxUid: string) => readonly string[] | undefined;
  /**
   * Full control of the choice for one proposed context (PS3.8 §9.3.2.2): given the syntaxes in the requestor's
   * order, return the one to accept or undefined to refuse the context (result 4). Takes precedence over the
   * preference lists, e.g. to keep the requestor's order so that instances are stored as they were sent.
   * `roles` is the requestor's SCP/SCU role proposal for the abstract syntax (PS3.7 D.3.3.4), if it made one: a
   * requestor taking the SCP role of a storage class (C-GET) will receive instances over the context, not send
   * them.
   */
  chooseTransferSyntax?: (
    abstractSyntaxUid: string,
    proposedTransferSyntaxUids: readonly string[],
    roles?: RoleSelection,
  ) => string | undefined;
  /** Answer to an SCP/SCU role proposal; default grants what was proposed. Undefined leaves it unanswered. */
  acceptRoleSelection?: (proposal: RoleSelection) => RoleSelection | undefined;
  /** Answer to a SOP Class Extended Negotiation item; default: none (the SOP class's default behaviour). */
  answerExtendedNegotiation?: (item: ExtendedNegotiation) => ExtendedNegotiation | undefined;
}

export interface DimseServerOptions {
  policy: AcceptorPolicy;
  handlers?: DimseHandlers;
  limits?: AssociationLimits & {
    /** Concurrent associations; more are rejected transiently with "local limit exceeded" (default 64). */
    maxAssociations?: number;
  };
  timeouts?: AssociationTimeouts;
  /** When set, the server speaks TLS (PS3.15 Annex B.1) with these `node:tls` options. */
  tls?: TlsOptions;
  onAssociation?: (info: AssociationInfo) => void;
  onAssociationEnd?: (info: AssociationInfo | undefined, error: Error | undefined) => void;
  /** Errors that are not the peer's fault and reached no one else (a handler bug, a failed response write). */
  onError?: (error: unknown, info: AssociationInfo | undefined) => void;
}

const UNCOMPRESSED = [ExplicitVrLittleEndian, ImplicitVrLittleEndian];

/**
 * A DIMSE acceptor: listens, negotiates each association with the policy, and serves the handlers. One object
 * per listening AE; `close()` stops listening and aborts what is still open.
 */
export class DimseServer {
  private readonly server: Server;
  private readonly associations = new Set<Association>();
  private readonly dispatcher;
  private readonly storageClasses: ReadonlySet<string>;
  private readonly findClasses: ReadonlySet<string>;
  private readonly moveClasses: ReadonlySet<string>;
  private readonly getClasses: ReadonlySet<string>;
  private readonly storageTransferSyntaxes: readonly string[];

  constructor(
    private readonly options: DimseServerOptions,
    dictionary: DataDictionary = defaultDictionary(),
  ) {
    const sopClasses = dictionary.uidsOfType('SOP Class');
    const named = (test: (name: string) => boolean) => new Set(sopClasses.filter((u) => test(u.name)).map((u) => u.uid));
    this.storageClasses = named((n) => /Storage/.test(n) && !/Commitment/.test(n));
    this.findClasses = named((n) => /- FIND$|Worklist/.test(n));
    this.moveClasses = named((n) => /- MOVE$/.test(n));
    this.getClasses = named((n) => /- GET$/.test(n));
    this.storageTransferSyntaxes = [
      ...UNCOMPRESSED,
      ...TRANSFER_SYNTAXES.filter((t) => t.littleEndian && !UNCOMPRESSED.includes(t.uid) && isReadableTransferSyntax(t.uid)).map(
        (t) => t.uid,
      ),
    ];
    this.dispatcher = createDispatcher(options.handlers ?? {}, (error, association) =>
      options.onError?.(error, association.state === 'established' ? association.info : undefined),
    );
    const onSocket = (socket: Socket) => this.onConnection(socket);
    this.server = options.tls ? createTlsServer(options.tls, onSocket) : createNetServer(onSocket);
    this.server.on('error', (error) => options.onError?.(error, undefined));
  }

  /** Starts listening (default 127.0.0.1:11112; port 0 picks a free one) and resolves with the bound address. */
  listen(port = 11112, host = '127.0.0.1'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Number of associations currently open (negotiating or established). */
  get associationCount(): number {
    return this.associations.size;
  }

  /**
   * Stops accepting connections; waits up to `graceMs` for open associations to be released by their peers,
   * then aborts the rest (an acceptor cannot ask for release, PS3.8 §7.2).
   */
  async close(graceMs = 0): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (graceMs > 0 && this.associations.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.associations].map((a) => a.closed)),
        new Promise((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    for (const association of this.associations) association.abort();
    await Promise.all([...this.associations].map((a) => a.closed));
    await stopped;
  }

  private onConnection(socket: Socket): void {
    const association = new Association({
      socket,
      role: 'acceptor',
      limits: this.options.limits,
      timeouts: this.options.timeouts,
      tls: this.options.tls !== undefined,
      onRequest: this.dispatcher,
    });
    this.associations.add(association);
    const peer: PeerAddress = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    association.onAssociationRequest((rq) => {
      this.negotiate(association, rq, peer).catch((error: unknown) => {
        this.options.onError?.(error, undefined);
        association.rejectAssociation(RejectReason.NoReasonGiven);
      });
    });
    void association.closed.then(() => {
      this.associations.delete(association);
      const negotiated = association.state !== 'awaiting-associate-rq';
      let info: AssociationInfo | undefined;
      try {
        info = association.info;
      } catch {
        info = undefined;
      }
      if (negotiated) this.options.onAssociationEnd?.(info, association.error);
    });
  }

  private defaultAccepts(uid: string): boolean {
    const h = this.options.handlers ?? {};
    if (uid === VerificationSopClass) return true;
    // A C-GET SCP sends its instances back over storage contexts the requestor proposes (with SCP role).
    if ((h.store || h.get) && this.storageClasses.has(uid)) return true;
    if (h.find && this.findClasses.has(uid)) return true;
    if (h.move && this.moveClasses.has(uid)) return true;
    if (h.get && this.getClasses.has(uid)) return true;
    if (h.storageCommitment && uid === SopClass.StorageCommitmentPushModel) return true;
    return false;
  }

  private preferences(uid: string): readonly string[] {
    const policy = this.options.policy;
    return (
      policy.transferSyntaxesFor?.(uid) ??
      policy.transferSyntaxes ??
      (this.storageClasses.has(uid) ? this.storageTransferSyntaxes : UNCOMPRESSED)
    );
  }

  /** PS3.8 §9.2 AE-6: decide accept or reject, with the Table 9-21 reason. */
  private async negotiate(association: Association, rq: AAssociateRq, peer: PeerAddress): Promise<void> {
    const policy = this.options.policy;
    if ((rq.protocolVersion & 1) === 0) return association.rejectAssociation(RejectReason.ProtocolVersionNotSupported);
    if (rq.applicationContextName !== DicomApplicationContext) {
      return association.rejectAssociation(RejectReason.ApplicationContextNotSupported);
    }
    if (!policy.acceptAnyCalledAeTitle && rq.calledAeTitle !== policy.aeTitle) {
      return association.rejectAssociation(RejectReason.CalledAeTitleNotRecognized);
    }
    if (policy.isCallingAeTitleAllowed && !(await policy.isCallingAeTitleAllowed(rq.callingAeTitle, peer))) {
      return association.rejectAssociation(RejectReason.CallingAeTitleNotRecognized);
    }
    let identityResponse: Buffer | undefined;
    if (policy.authenticate) {
      const verdict = await policy.authenticate(rq.userInformation.userIdentity, rq.callingAeTitle, peer);
      if (verdict === false) return association.rejectAssociation(RejectReason.NoReasonGiven);
      if (Buffer.isBuffer(verdict) && rq.userInformation.userIdentity?.positiveResponseRequested) identityResponse = verdict;
    }
    const maxAssociations = this.options.limits?.maxAssociations ?? 64;
    const open = [...this.associations].filter((a) => a.state === 'established').length;
    if (open >= maxAssociations) return association.rejectAssociation(RejectReason.LocalLimitExceeded);

    const accepts = policy.isAbstractSyntaxAccepted ?? ((uid: string) => this.defaultAccepts(uid));
    const proposedRoles = new Map((rq.userInformation.roleSelections ?? []).map((r) => [r.sopClassUid, r]));
    const answers: PresentationContextAnswer[] = rq.presentationContexts.map((pc) => {
      if (!accepts(pc.abstractSyntaxUid)) {
        return { id: pc.id, result: PresentationContextResult.AbstractSyntaxNotSupported, transferSyntaxUid: ImplicitVrLittleEndian };
      }
      const chosen = policy.chooseTransferSyntax
        ? policy.chooseTransferSyntax(pc.abstractSyntaxUid, pc.transferSyntaxUids, proposedRoles.get(pc.abstractSyntaxUid))
        : this.preferences(pc.abstractSyntaxUid).find((ts) => pc.transferSyntaxUids.includes(ts));
      if (!chosen) {
        return { id: pc.id, result: PresentationContextResult.TransferSyntaxesNotSupported, transferSyntaxUid: ImplicitVrLittleEndian };
      }
      return { id: pc.id, result: PresentationContextResult.Acceptance, transferSyntaxUid: chosen };
    });
    const acceptedClasses = new Set(
      answers.filter((a) => a.result === 0).map((a) => rq.presentationContexts.find((p) => p.id === a.id)!.abstractSyntaxUid),
    );
    const roleSelections = (rq.userInformation.roleSelections ?? [])
      .filter((r) => acceptedClasses.has(r.sopClassUid))
      .map((r) => (policy.acceptRoleSelection ? policy.acceptRoleSelection(r) : r))
      .filter((r): r is RoleSelection => r !== undefined);
    const extendedNegotiations = policy.answerExtendedNegotiation
      ? (rq.userInformation.extendedNegotiations ?? [])
          .map((e) => policy.answerExtendedNegotiation!(e))
          .filter((e): e is ExtendedNegotiation => e !== undefined)
      : [];
    const maxPduLength = this.options.limits?.maxPduLength ?? 262144;
    const info: AssociationInfo = {
      callingAeTitle: rq.callingAeTitle,
      calledAeTitle: rq.calledAeTitle,
      remoteAddress: peer.address,
      remotePort: peer.port,
      peerImplementationClassUid: rq.userInformation.implementationClassUid,
      peerImplementationVersionName: rq.userInformation.implementationVersionName,
      userIdentity: rq.userInformation.userIdentity,
      extendedNegotiations: rq.userInformation.extendedNegotiations ?? [],
      tls: this.options.tls !== undefined,
    };
    association.acceptAssociation(
      rq,
      {
        protocolVersion: 1,
        calledAeTitle: rq.calledAeTitle,
        callingAeTitle: rq.callingAeTitle,
        applicationContextName: DicomApplicationContext,
        presentationContexts: answers,
        userInformation: {
          maxPduLength,
          implementationClassUid: ATRIUM_IMPLEMENTATION_CLASS_UID,
          implementationVersionName: ATRIUM_IMPLEMENTATION_VERSION_NAME,
          // Operations are performed one at a time per association; say so rather than leave it implied.
          asyncOperations: rq.userInformation.asyncOperations ? { maxInvoked: 1, maxPerformed: 1 } : undefined,
          roleSelections,
          extendedNegotiations,
          userIdentityServerResponse: identityResponse,
        },
      },
      info,
    );
    if (association.state === 'established') this.options.onAssociation?.(info);
  }
}
