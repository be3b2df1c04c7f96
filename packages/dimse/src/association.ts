import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type {
  AAssociateAc,
  AAssociateRj,
  AAssociateRq,
  ExtendedNegotiation,
  RoleSelection,
  UserIdentity,
} from './a-associate.js';
import { describeReject, encodeAAssociateAc, encodeAAssociateRj, encodeAAssociateRq } from './a-associate.js';
import type { CommandSet } from './command-set.js';
import { CommandField, commandName, decodeCommandSet, encodeCommandSet } from './command-set.js';
import {
  AbortReason,
  AbortSource,
  AssociationAbortedError,
  AssociationRejectedError,
  DimseLimitError,
  DimseProtocolError,
  DimseStateError,
} from './errors.js';
import type { ControlPdu } from './pdu.js';
import { PDATA_OVERHEAD, PdvControl, encodeAAbort, encodeAReleaseRp, encodeAReleaseRq, writePDataHeader } from './pdu.js';
import { PduDecoder } from './pdu-decoder.js';
import { statusKind } from './status.js';

/** Atrium's Implementation Class UID and Version Name (PS3.7 Annex D.3.3.2), sent in every negotiation. */
export const ATRIUM_IMPLEMENTATION_CLASS_UID = '1.2.826.0.1.3680043.10.1561.1.1';
export const ATRIUM_IMPLEMENTATION_VERSION_NAME = 'ATRIUM_010';

/** A presentation context both sides agreed on. */
export interface AcceptedPresentationContext {
  readonly id: number;
  readonly abstractSyntaxUid: string;
  readonly transferSyntaxUid: string;
}

/** Who the peer is, as handlers see it. */
export interface AssociationInfo {
  readonly callingAeTitle: string;
  readonly calledAeTitle: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly peerImplementationClassUid: string;
  readonly peerImplementationVersionName: string | undefined;
  /** The user identity the requestor sent (PS3.7 Annex D.3.3.7), if any. */
  readonly userIdentity: UserIdentity | undefined;
  /** SOP Class Extended Negotiation items the requestor sent (e.g. relational queries, fuzzy matching). */
  readonly extendedNegotiations: readonly ExtendedNegotiation[];
  /** Whether the transport is TLS. */
  readonly tls: boolean;
}

/** Size limits of one association. */
export interface AssociationLimits {
  /** Maximum P-DATA-TF length this side advertises and enforces on receipt (default 262144; 0 = none). */
  maxPduLength?: number;
  /** Upper bound on the PDUs this side sends, whatever the peer allows (default 1 MiB). */
  maxSendPduLength?: number;
  /** Largest non-P-DATA PDU accepted (default 1 MiB). */
  maxControlPduLength?: number;
  /** Largest command set accepted (default 64 KiB). */
  maxCommandLength?: number;
  /** Largest data set collected in memory: identifiers, event information (default 16 MiB). */
  maxIdentifierLength?: number;
  /**
   * C-STORE data sets up to this many bytes are collected whole before the handler runs, which then gets them in
   * one call (`datasetChunks`); longer ones are streamed to it as they arrive (default 1 MiB; 0 streams every one).
   * A CT or MR slice fits; what is held is bounded by this per association.
   */
  maxCollectedDatasetLength?: number;
}

/** Timeouts of one association, in milliseconds; 0 disables one. */
export interface AssociationTimeouts {
  /** ARTIM (PS3.8 §9.1.5): waiting for the A-ASSOCIATE-RQ, the -AC, the A-RELEASE-RP, or the peer to close. */
  artimMs?: number;
  /** No bytes from the peer while nothing of ours is outstanding (default 300000). */
  idleMs?: number;
  /** Waiting for a response to a request this side sent, reset by each pending response (default 0: none). */
  dimseMs?: number;
}

const DEFAULT_LIMITS: Required<AssociationLimits> = {
  maxPduLength: 262144,
  maxSendPduLength: 1 << 20,
  maxControlPduLength: 1 << 20,
  maxCommandLength: 64 << 10,
  maxIdentifierLength: 16 << 20,
  maxCollectedDatasetLength: 1 << 20,
};

/** Payload bytes of a data set already in memory queued for one system call. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/** The 12-byte headers of a batch's P-DATA-TF PDUs, cut from one allocation (`writePDataHeader`). */
class PduHeaders {
  readonly #bytes: Buffer;
  #used = 0;
  constructor(count: number) {
    this.#bytes = Buffer.allocUnsafe(count * PDATA_OVERHEAD);
  }
  next(contextId: number, control: number, payloadLength: number): Buffer {
    const header = this.#bytes.subarray(this.#used, this.#used + PDATA_OVERHEAD);
    this.#used += PDATA_OVERHEAD;
    writePDataHeader(header, contextId, control, payloadLength);
    return header;
  }
}

const DEFAULT_TIMEOUTS: Required<AssociationTimeouts> = { artimMs: 30_000, idleMs: 300_000, dimseMs: 0 };

/** A message received: a command with its data set, buffered or streamed (C-STORE-RQ only). */
export interface IncomingMessage {
  readonly contextId: number;
  readonly context: AcceptedPresentationContext;
  readonly command: CommandSet;
  /** Collected data set bytes, for every message with a data set except C-STORE-RQ. */
  readonly dataset?: Buffer | undefined;
  /**
   * C-STORE-RQ data set received whole before the message was delivered (up to `maxCollectedDatasetLength`): views
   * of the socket's chunks, in order.
   */
  readonly datasetChunks?: readonly Buffer[] | undefined;
  /** C-STORE-RQ data set too long to collect, fed from PDVs as they arrive; reading it paces the socket. */
  readonly datasetStream?: Readable | undefined;
  /** With a C-STORE data set: settles when the last PDV arrived (even if the stream was destroyed unread). */
  readonly datasetReceived?: Promise<void> | undefined;
}

/** What an association calls for incoming requests (an SCP dispatcher, or the C-GET SCU's store handler). */
export type RequestListener = (association: Association, message: IncomingMessage) => void;

/** PS3.8 §9.2 states, reduced to those an implementation can tell apart. */
export type AssociationState =
  | 'awaiting-associate-rq' // Sta2
  | 'awaiting-local-response' // Sta3
  | 'awaiting-associate-ac' // Sta5
  | 'established' // Sta6
  | 'awaiting-release-rp' // Sta7 (and the release collision states)
  | 'awaiting-close' // Sta13
  | 'closed'; // Sta1

export interface AssociationOptions {
  socket: Socket;
  role: 'requestor' | 'acceptor';
  limits?: AssociationLimits | undefined;
  timeouts?: AssociationTimeouts | undefined;
  onRequest?: RequestListener | undefined;
  tls?: boolean | undefined;
}

interface PendingRequest {
  readonly messageId: number;
  readonly onResponse: (message: IncomingMessage) => void;
  readonly onError: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/** The incoming message whose command arrived and whose data set is still coming. */
interface IncomingInProgress {
  readonly contextId: number;
  readonly context: AcceptedPresentationContext;
  readonly command: CommandSet;
  /** A C-STORE data set: collected up to `maxCollectedDatasetLength`, then streamed. */
  readonly store: boolean;
  stream: DatasetStream | undefined;
  parts: Buffer[];
  length: number;
  received?: { resolve: () => void; reject: (error: Error) => void };
}

/**
 * A C-STORE data set as it arrives. `_read` is the consumer asking for more: it resumes the socket that
 * `push() === false` paused, so a slow consumer slows the sender through TCP flow control.
 */
class DatasetStream extends Readable {
  constructor(private readonly onDemand: () => void) {
    super({ highWaterMark: 256 << 10 });
  }
  override _read(): void {
    this.onDemand();
  }
}

/**
 * One DICOM association over a socket: the PS3.8 §9.2 state machine with its ARTIM timer, the PDV assembly of
 * DIMSE messages (PS3.7 §6.3, PS3.8 Annex E) and the writing of messages as P-DATA-TF PDUs with backpressure.
 * Built by `connect()` (requestor) or by `DimseServer` (acceptor); services are functions over it.
 */
export class Association {
  readonly role: 'requestor' | 'acceptor';
  private stateValue: AssociationState;
  private readonly socket: Socket;
  private readonly limits: Required<AssociationLimits>;
  private readonly timeouts: Required<AssociationTimeouts>;
  private readonly decoder: PduDecoder;
  private readonly onRequest: RequestListener | undefined;
  private infoValue: AssociationInfo | undefined;
  private readonly contexts = new Map<number, AcceptedPresentationContext>();
  private readonly roles = new Map<string, RoleSelection>();
  private peerMaxLength = 0;
  private artim: NodeJS.Timeout | undefined;
  private idle: NodeJS.Timeout | undefined;
  private messageIdCounter = 0;
  private readonly pending = new Map<number, PendingRequest>();
  private commandParts: Buffer[] = [];
  private commandLength = 0;
  private commandContextId = -1;
  private incoming: IncomingInProgress | undefined;
  private readPaused = false;
  private writeChain: Promise<void> = Promise.resolve();
  private operationsInFlight = 0;
  private closeError: Error | undefined;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;
  private negotiationSettled = false;
  private onNegotiated: ((error?: Error) => void) | undefined;
  private onAssociateRq: ((rq: AAssociateRq) => void) | undefined;
  private releaseWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private readonly cancelListeners = new Map<number, () => void>();

  constructor(options: AssociationOptions) {
    this.role = options.role;
    this.socket = options.socket;
    this.limits = { ...DEFAULT_LIMITS, ...stripUndefined(options.limits ?? {}) };
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...stripUndefined(options.timeouts ?? {}) };
    this.onRequest = options.onRequest;
    this.stateValue = this.role === 'acceptor' ? 'awaiting-associate-rq' : 'awaiting-associate-ac';
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.tlsValue = options.tls ?? false;
    this.decoder = new PduDecoder(
      {
        onControlPdu: (pdu) => this.onControlPdu(pdu),
        onPdvData: (contextId, control, data, end) => this.onPdvData(contextId, control, data, end),
      },
      { maxPduLength: this.limits.maxPduLength, maxControlPduLength: this.limits.maxControlPduLength },
    );
    // DCMTK peers wait for a full segment before sending the next PDU; Nagle would add 40 ms per message.
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (error) => this.onTransportClosed(error));
    this.socket.on('close', () => this.onTransportClosed());
    this.socket.on('end', () => {
      // A half-close from the peer ends the association; finish our side as well.
      this.socket.end();
    });
    if (this.role === 'acceptor') this.startArtim();
  }

  private readonly tlsValue: boolean;

  get state(): AssociationState {
    return this.stateValue;
  }

  /** Calling/called AE titles and the peer; available once the association is negotiated. */
  get info(): AssociationInfo {
    if (!this.infoValue) throw new DimseStateError('Cannot read association info: the association is not negotiated');
    return this.infoValue;
  }

  /** Accepted presentation contexts by ID. */
  get presentationContexts(): ReadonlyMap<number, AcceptedPresentationContext> {
    return this.contexts;
  }

  /** Role selections agreed for this association (PS3.7 Annex D.3.3.4), by SOP class UID. */
  get roleSelections(): ReadonlyMap<string, RoleSelection> {
    return this.roles;
  }

  /** Maximum P-DATA-TF length the peer accepts (0: no limit). */
  get peerMaxPduLength(): number {
    return this.peerMaxLength;
  }

  /** Settles when the transport has closed, whatever the reason. */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  /** The first accepted context for an abstract syntax, preferring the given transfer syntaxes in order. */
  findContext(abstractSyntaxUid: string, transferSyntaxUids?: readonly string[]): AcceptedPresentationContext | undefined {
    const candidates = [...this.contexts.values()].filter((c) => c.abstractSyntaxUid === abstractSyntaxUid);
    if (!transferSyntaxUids) return candidates[0];
    for (const ts of transferSyntaxUids) {
      const c = candidates.find((x) => x.transferSyntaxUid === ts);
      if (c) return c;
    }
    return undefined;
  }

  /** Next Message ID (PS3.7 §9.1.1.1.1): unique among this side's outstanding requests, 1..65535. */
  nextMessageId(): number {
    for (let i = 0; i < 0x10000; i++) {
      this.messageIdCounter = (this.messageIdCounter % 0xffff) + 1;
      if (!this.pending.has(this.messageIdCounter)) return this.messageIdCounter;
    }
    throw new DimseStateError('Cannot allocate a message ID: 65535 requests are outstanding');
  }

  // -------------------------------------------------------------------------------------------------------------
  // Negotiation

  /** Requestor: sends the A-ASSOCIATE-RQ and settles on the AC, RJ or abort. */
  async requestAssociation(rq: Omit<AAssociateRq, 'type'>): Promise<void> {
    const proposed = new Map(rq.presentationContexts.map((pc) => [pc.id, pc]));
    const done = new Promise<void>((resolve, reject) => {
      this.onNegotiated = (error) => (error ? reject(error) : resolve());
    });
    this.pendingRq = { rq, proposed };
    this.startArtim();
    this.socket.write(encodeAAssociateRq(rq));
    return done;
  }

  private pendingRq: { rq: Omit<AAssociateRq, 'type'>; proposed: Map<number, AAssociateRq['presentationContexts'][number]> } | undefined;

  /** Acceptor: calls `listener` with the A-ASSOCIATE-RQ once it arrives (the policy then calls accept or reject). */
  onAssociationRequest(listener: (rq: AAssociateRq) => void): void {
    this.onAssociateRq = listener;
  }

  /** Acceptor: answers A-ASSOCIATE-AC and enters the established state. */
  acceptAssociation(rq: AAssociateRq, ac: Omit<AAssociateAc, 'type'>, info: AssociationInfo): void {
    if (this.stateValue !== 'awaiting-local-response') return;
    for (const answer of ac.presentationContexts) {
      const proposed = rq.presentationContexts.find((p) => p.id === answer.id);
      if (answer.result === 0 && proposed) {
        this.contexts.set(answer.id, {
          id: answer.id,
          abstractSyntaxUid: proposed.abstractSyntaxUid,
          transferSyntaxUid: answer.transferSyntaxUid,
        });
      }
    }
    for (const r of ac.userInformation.roleSelections ?? []) this.roles.set(r.sopClassUid, r);
    this.peerMaxLength = rq.userInformation.maxPduLength;
    this.infoValue = info;
    this.stateValue = 'established';
    this.socket.write(encodeAAssociateAc(ac));
    this.touchIdle();
  }

  /** Acceptor: answers A-ASSOCIATE-RJ (PS3.8 Table 9-21) and waits for the peer to close. */
  rejectAssociation(rj: { result: number; source: number; reason: number }): void {
    if (this.stateValue !== 'awaiting-local-response' && this.stateValue !== 'awaiting-associate-rq') return;
    this.socket.write(encodeAAssociateRj(rj));
    this.closeError = new AssociationRejectedError(`Association rejected: ${describeReject(rj)}`, rj.result, rj.source, rj.reason);
    this.enterAwaitingClose();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Release and abort

  /** Orderly release (A-RELEASE-RQ/RP, PS3.8 §7.2): waits for outstanding writes, then for the peer's RP. */
  async release(): Promise<void> {
    if (this.stateValue === 'closed' || this.stateValue === 'awaiting-close') return this.closed;
    if (this.stateValue !== 'established') {
      throw new DimseStateError(`Cannot release the association: it is ${this.stateValue}`);
    }
    await this.writeChain.catch(() => undefined);
    if (this.stateValue !== 'established') return this.closed;
    this.stateValue = 'awaiting-release-rp';
    const done = new Promise<void>((resolve, reject) => {
      this.releaseWaiter = { resolve, reject };
    });
    this.socket.write(encodeAReleaseRq());
    this.startArtim();
    await done;
    await this.closed;
  }

  /** A-ABORT (PS3.8 §7.3.1 A-ABORT by the service user, or §7.4 by the provider): ends everything at once. */
  abort(source: number = AbortSource.ServiceUser, reason: number = AbortReason.NotSpecified, error?: Error): void {
    if (this.stateValue === 'closed' || this.stateValue === 'awaiting-close') return;
    this.closeError ??= error ?? new AssociationAbortedError('Association aborted by this side', { abortSource: source, abortReason: reason });
    if (this.socket.writable) this.socket.write(encodeAAbort(source, reason));
    this.failEverything(this.closeError);
    this.enterAwaitingClose();
  }

  private enterAwaitingClose(): void {
    this.stateValue = 'awaiting-close';
    this.clearIdle();
    this.socket.end();
    this.startArtim(() => this.socket.destroy());
    if (this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Timers

  private startArtim(onExpiry?: () => void): void {
    this.stopArtim();
    if (!this.timeouts.artimMs) return;
    this.artim = setTimeout(() => {
      this.artim = undefined;
      if (onExpiry) return onExpiry();
      const what = this.stateValue;
      const error = new AssociationAbortedError(`Association timed out: ARTIM expired while ${what}`, {
        code: 'ATRIUM_ERR_DIMSE_TIMEOUT',
      });
      this.abort(AbortSource.ServiceProvider, AbortReason.NotSpecified, error);
    }, this.timeouts.artimMs);
    this.artim.unref?.();
  }

  private stopArtim(): void {
    if (this.artim) clearTimeout(this.artim);
    this.artim = undefined;
  }

  private touchIdle(): void {
    if (!this.timeouts.idleMs || this.stateValue !== 'established') return;
    if (this.idle) {
      this.idle.refresh();
      return;
    }
    this.idle = setTimeout(() => this.onIdle(), this.timeouts.idleMs);
    this.idle.unref?.();
  }

  private clearIdle(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = undefined;
  }

  private onIdle(): void {
    this.idle = undefined;
    // Waiting on ourselves (a slow consumer, a handler computing a response, a request the peer owes an answer
    // that the DIMSE timeout covers) is not the peer being idle.
    const waitingOnUs =
      this.readPaused || this.pending.size > 0 || (this.operationsInFlight > 0 && this.incoming === undefined);
    if (waitingOnUs) return this.touchIdle();
    this.abort(
      AbortSource.ServiceProvider,
      AbortReason.NotSpecified,
      new AssociationAbortedError(`Association timed out: no data from the peer for ${this.timeouts.idleMs} ms`, {
        code: 'ATRIUM_ERR_DIMSE_TIMEOUT',
      }),
    );
  }

  /**
   * Marks a handler as running until `work` settles, so the idle timer does not fire while this side is the one
   * being waited on.
   */
  track<T>(work: Promise<T>): Promise<T> {
    this.operationsInFlight++;
    const done = () => {
      this.operationsInFlight--;
      this.touchIdle();
    };
    work.then(done, done);
    return work;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Receiving

  private onData(chunk: Buffer): void {
    if (this.stateValue === 'closed') return;
    this.touchIdle();
    try {
      this.decoder.push(chunk);
    } catch (error) {
      this.onProtocolError(error as Error);
    }
  }

  private onProtocolError(error: Error): void {
    if (this.stateValue === 'awaiting-close' || this.stateValue === 'closed') return;
    const reason = (error as { abortReason?: number }).abortReason ?? AbortReason.NotSpecified;
    this.abort(AbortSource.ServiceProvider, reason, error);
    // Bytes after the fault are meaningless; stop feeding the decoder.
    this.socket.removeAllListeners('data');
    this.socket.on('data', () => undefined);
  }

  private unexpected(what: string): never {
    throw new DimseProtocolError(`Cannot accept ${what}: the association is ${this.stateValue}`, {
      code: 'ATRIUM_ERR_DIMSE_UNEXPECTED_PDU',
      abortReason: AbortReason.UnexpectedPdu,
    });
  }

  private onControlPdu(pdu: ControlPdu): void {
    switch (pdu.type) {
      case 'A-ASSOCIATE-RQ':
        if (this.stateValue !== 'awaiting-associate-rq') this.unexpected(pdu.type);
        this.stopArtim();
        this.stateValue = 'awaiting-local-response';
        if (!this.onAssociateRq) throw new DimseStateError('Cannot answer A-ASSOCIATE-RQ: no acceptor policy is attached');
        this.onAssociateRq(pdu);
        return;
      case 'A-ASSOCIATE-AC':
        if (this.stateValue !== 'awaiting-associate-ac') this.unexpected(pdu.type);
        this.stopArtim();
        this.onAssociateAc(pdu);
        return;
      case 'A-ASSOCIATE-RJ':
        if (this.stateValue !== 'awaiting-associate-ac') this.unexpected(pdu.type);
        this.stopArtim();
        this.onAssociateRj(pdu);
        return;
      case 'A-RELEASE-RQ':
        if (this.stateValue === 'established' || this.stateValue === 'awaiting-release-rp') {
          // Release collision (Sta9-Sta12) is resolved by answering and still waiting for our own RP.
          this.socket.write(encodeAReleaseRp());
          if (this.stateValue === 'established') {
            this.failEverything(new AssociationAbortedError('Association released by the peer', { code: 'ATRIUM_ERR_DIMSE_CLOSED' }));
            this.enterAwaitingClose();
          }
          return;
        }
        this.unexpected(pdu.type);
        return;
      case 'A-RELEASE-RP':
        if (this.stateValue !== 'awaiting-release-rp') this.unexpected(pdu.type);
        this.stopArtim();
        this.releaseWaiter?.resolve();
        this.releaseWaiter = undefined;
        this.failEverything(new AssociationAbortedError('Association released', { code: 'ATRIUM_ERR_DIMSE_CLOSED' }));
        // PS3.8 §9.2 AR-3: the requestor closes the transport on A-RELEASE-RP.
        this.stateValue = 'awaiting-close';
        this.socket.end();
        this.startArtim(() => this.socket.destroy());
        return;
      case 'A-ABORT': {
        const error = new AssociationAbortedError(
          `Association aborted by the peer (source ${pdu.source}, reason ${pdu.reason})`,
          { abortSource: pdu.source, abortReason: pdu.reason },
        );
        this.closeError ??= error;
        this.failEverything(error);
        this.stateValue = 'awaiting-close';
        this.clearIdle();
        this.socket.destroy();
        return;
      }
    }
  }

  private onAssociateAc(ac: AAssociateAc): void {
    const pending = this.pendingRq!;
    for (const answer of ac.presentationContexts) {
      const proposed = pending.proposed.get(answer.id);
      if (answer.result === 0 && proposed) {
        this.contexts.set(answer.id, {
          id: answer.id,
          abstractSyntaxUid: proposed.abstractSyntaxUid,
          transferSyntaxUid: answer.transferSyntaxUid,
        });
      }
    }
    // A role the acceptor did not answer stays the default (requestor SCU only), PS3.7 Annex D.3.3.4.
    for (const r of ac.userInformation.roleSelections ?? []) this.roles.set(r.sopClassUid, r);
    this.peerMaxLength = ac.userInformation.maxPduLength;
    this.infoValue = {
      callingAeTitle: pending.rq.callingAeTitle,
      calledAeTitle: pending.rq.calledAeTitle,
      remoteAddress: this.socket.remoteAddress ?? '',
      remotePort: this.socket.remotePort ?? 0,
      peerImplementationClassUid: ac.userInformation.implementationClassUid,
      peerImplementationVersionName: ac.userInformation.implementationVersionName,
      userIdentity: undefined,
      extendedNegotiations: ac.userInformation.extendedNegotiations ?? [],
      tls: this.tlsValue,
    };
    this.stateValue = 'established';
    this.touchIdle();
    this.settleNegotiation();
  }

  private onAssociateRj(rj: AAssociateRj): void {
    const error = new AssociationRejectedError(
      `Cannot open association to '${this.pendingRq?.rq.calledAeTitle}': rejected, ${describeReject(rj)}`,
      rj.result,
      rj.source,
      rj.reason,
    );
    this.closeError = error;
    this.stateValue = 'awaiting-close';
    this.socket.end();
    this.startArtim(() => this.socket.destroy());
    this.settleNegotiation(error);
  }

  private settleNegotiation(error?: Error): void {
    if (this.negotiationSettled) return;
    this.negotiationSettled = true;
    this.onNegotiated?.(error);
  }

  private onPdvData(contextId: number, control: number, data: Buffer, end: boolean): void {
    if (this.stateValue !== 'established' && this.stateValue !== 'awaiting-release-rp') {
      if (this.stateValue === 'awaiting-close') return;
      this.unexpected('P-DATA-TF');
    }
    const context = this.contexts.get(contextId);
    if (!context) {
      throw new DimseProtocolError(`Cannot read PDV: presentation context ${contextId} was not accepted`, {
        abortReason: AbortReason.InvalidPduParameterValue,
      });
    }
    const last = end && (control & PdvControl.Last) !== 0;
    if (control & PdvControl.Command) {
      if (this.incoming) {
        throw new DimseProtocolError(
          `Cannot read command PDV: the data set of ${commandName(this.incoming.command.commandField)} is incomplete`,
        );
      }
      if (this.commandContextId !== -1 && this.commandContextId !== contextId) {
        throw new DimseProtocolError(`Cannot read command PDV: context ${contextId} interleaves context ${this.commandContextId}`);
      }
      this.commandContextId = contextId;
      this.commandLength += data.length;
      if (this.commandLength > this.limits.maxCommandLength) {
        throw new DimseLimitError(`Cannot read command set of ${this.commandLength} bytes: the limit is ${this.limits.maxCommandLength}`);
      }
      this.commandParts.push(data);
      if (!last) return;
      const bytes = this.commandParts.length === 1 ? this.commandParts[0]! : Buffer.concat(this.commandParts);
      this.commandParts = [];
      this.commandLength = 0;
      this.commandContextId = -1;
      const command = decodeCommandSet(bytes);
      this.onCommand(contextId, context, command);
      return;
    }
    const incoming = this.incoming;
    if (!incoming || incoming.contextId !== contextId) {
      throw new DimseProtocolError(`Cannot read data set PDV on context ${contextId}: no command announced it`);
    }
    if (incoming.stream) {
      this.pushToStream(incoming.stream, data);
      if (last) {
        this.incoming = undefined;
        if (!incoming.stream.destroyed) incoming.stream.push(null);
        incoming.received?.resolve();
      }
      return;
    }
    if (incoming.store) {
      if (data.length > 0) incoming.parts.push(data);
      incoming.length += data.length;
      if (last) {
        this.incoming = undefined;
        this.deliver({ contextId, context, command: incoming.command, datasetChunks: incoming.parts, datasetReceived: RECEIVED });
      } else if (incoming.length > this.limits.maxCollectedDatasetLength) {
        this.streamStoreDataset(incoming);
      }
      return;
    }
    incoming.length += data.length;
    if (incoming.length > this.limits.maxIdentifierLength) {
      throw new DimseLimitError(
        `Cannot read data set of ${commandName(incoming.command.commandField)}: more than ${this.limits.maxIdentifierLength} bytes`,
      );
    }
    // The slice views the socket chunk, which is not reused; keep it as is and concatenate once.
    incoming.parts.push(data);
    if (!last) return;
    this.incoming = undefined;
    this.deliver({
      contextId,
      context,
      command: incoming.command,
      dataset: Buffer.concat(incoming.parts, incoming.length),
    });
  }

  private onCommand(contextId: number, context: AcceptedPresentationContext, command: CommandSet): void {
    if (!command.hasDataset) {
      this.deliver({ contextId, context, command });
      return;
    }
    const store = command.commandField === CommandField.CStoreRq;
    const incoming: IncomingInProgress = { contextId, context, command, store, stream: undefined, parts: [], length: 0 };
    this.incoming = incoming;
    if (store && this.limits.maxCollectedDatasetLength === 0) this.streamStoreDataset(incoming);
  }

  /**
   * Switches a C-STORE data set from collecting to streaming: the handler is called now with a stream holding
   * what arrived so far, and the rest follows as it arrives.
   */
  private streamStoreDataset(incoming: IncomingInProgress): void {
    const resumeReading = () => {
      if (this.readPaused && this.stateValue !== 'closed') {
        this.readPaused = false;
        this.socket.resume();
      }
    };
    const stream = new DatasetStream(resumeReading);
    stream.on('close', resumeReading);
    incoming.stream = stream;
    const datasetReceived = new Promise<void>((resolve, reject) => {
      incoming.received = { resolve, reject };
    });
    // Observed by the C-STORE plumbing; a rejection nobody awaits must not crash the process.
    datasetReceived.catch(() => undefined);
    for (const part of incoming.parts) this.pushToStream(stream, part);
    incoming.parts = [];
    this.deliver({ contextId: incoming.contextId, context: incoming.context, command: incoming.command, datasetStream: stream, datasetReceived });
  }

  /** Feeds a streamed data set; a full buffer pauses the socket until the consumer reads (TCP flow control). */
  private pushToStream(stream: DatasetStream, data: Buffer): void {
    // A consumer that destroyed the stream has given up on the data: discard the rest and keep reading.
    if (!stream.destroyed && data.length > 0 && !stream.push(data) && !this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    }
  }

  private deliver(message: IncomingMessage): void {
    const { command } = message;
    if (command.commandField === CommandField.CCancelRq) {
      const id = command.messageIdBeingRespondedTo;
      if (id !== undefined) this.cancelListeners.get(id)?.();
      return;
    }
    if (command.commandField & 0x8000) {
      const id = command.messageIdBeingRespondedTo ?? -1;
      const pending = this.pending.get(id);
      // A response nobody waits for (a late answer after a local timeout) is dropped, not fatal.
      if (!pending) return;
      if (pending.timer) pending.timer.refresh();
      if (statusKind(command.status ?? 0) !== 'pending') {
        if (pending.timer) clearTimeout(pending.timer);
        this.pending.delete(id);
      }
      pending.onResponse(message);
      return;
    }
    if (!this.onRequest) {
      message.datasetStream?.resume();
      throw new DimseProtocolError(`Cannot serve ${commandName(command.commandField)}: this side accepts no requests`, {
        abortReason: AbortReason.UnexpectedPduParameter,
      });
    }
    this.onRequest(this, message);
  }

  /** Calls `listener` when a C-CANCEL-RQ for `messageId` arrives (PS3.7 §9.3.2.3); returns the unsubscribe. */
  onCancel(messageId: number, listener: () => void): () => void {
    this.cancelListeners.set(messageId, listener);
    return () => {
      if (this.cancelListeners.get(messageId) === listener) this.cancelListeners.delete(messageId);
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Sending

  /**
   * Sends a request and calls `onResponse` for each response (pending ones included). Resolves with the final
   * response; rejects when the association ends first or the DIMSE timeout expires.
   */
  async invoke(
    contextId: number,
    command: Omit<CommandSet, 'hasDataset'>,
    dataset?: Buffer | AsyncIterable<Buffer>,
    onResponse?: (message: IncomingMessage) => void,
  ): Promise<IncomingMessage> {
    const messageId = command.messageId ?? this.nextMessageId();
    const final = new Promise<IncomingMessage>((resolve, reject) => {
      const entry: PendingRequest = {
        messageId,
        timer: undefined,
        onError: reject,
        onResponse: (message) => {
          if (statusKind(message.command.status ?? 0) === 'pending') onResponse?.(message);
          else resolve(message);
        },
      };
      this.pending.set(messageId, entry);
    });
    // The association may end while the request is still being written; the write's error is the one reported.
    final.catch(() => undefined);
    try {
      await this.send(contextId, { ...command, messageId }, dataset);
    } catch (error) {
      this.pending.delete(messageId);
      throw error;
    }
    const entry = this.pending.get(messageId);
    if (entry && this.timeouts.dimseMs) {
      entry.timer = setTimeout(() => {
        this.abort(
          AbortSource.ServiceUser,
          AbortReason.NotSpecified,
          new AssociationAbortedError(
            `Cannot complete ${commandName(command.commandField)}: no response within ${this.timeouts.dimseMs} ms`,
            { code: 'ATRIUM_ERR_DIMSE_TIMEOUT' },
          ),
        );
      }, this.timeouts.dimseMs);
    }
    return final;
  }

  /**
   * Writes one message: the command set, then the data set (bytes or a stream) fragmented into PDVs that fit the
   * peer's maximum PDU length. Messages are serialised: PS3.8 Annex E forbids interleaving PDVs of two messages.
   */
  send(contextId: number, command: Omit<CommandSet, 'hasDataset'>, dataset?: Buffer | AsyncIterable<Buffer>): Promise<void> {
    const run = () => this.writeMessage(contextId, command, dataset);
    const result = this.writeChain.then(run, run);
    this.writeChain = result.catch(() => undefined);
    return result;
  }

  private assertWritable(): void {
    if (this.stateValue !== 'established' && this.stateValue !== 'awaiting-release-rp') {
      throw this.closeError ?? new DimseStateError(`Cannot send a message: the association is ${this.stateValue}`);
    }
  }

  private async writeMessage(
    contextId: number,
    command: Omit<CommandSet, 'hasDataset'>,
    dataset: Buffer | AsyncIterable<Buffer> | undefined,
  ): Promise<void> {
    this.assertWritable();
    if (!this.contexts.has(contextId)) {
      throw new DimseStateError(`Cannot send ${commandName(command.commandField)}: presentation context ${contextId} is not accepted`,
        'ATRIUM_ERR_DIMSE_NO_PRESENTATION_CONTEXT');
    }
    const payloadMax = this.maxPayload();
    const commandBytes = encodeCommandSet({ ...command, hasDataset: dataset !== undefined });
    if (Buffer.isBuffer(dataset) && commandBytes.length + dataset.length + 6 <= payloadMax) {
      // Both PDVs in one P-DATA-TF (PS3.8 §9.3.5 allows several PDVs per PDU). A peer that acts on the command
      // before reading its data set — DCMTK getscu releases after a final C-GET response, whose Failed SOP Instance
      // UID List follows as a data set — then finds the data set already there instead of a P-DATA PDU arriving in
      // the middle of its release (which it answers with an abort).
      await this.writeRaw(encodeCommandAndDataset(contextId, commandBytes, dataset));
      return;
    }
    if (dataset === undefined || Buffer.isBuffer(dataset)) {
      // The command and a data set in memory in the same system call: on loopback each write also runs the
      // peer's receive path, so one write fewer per C-STORE sub-operation shows in a C-MOVE of many instances.
      const parts: Array<{ control: number; bytes: Buffer }> = [{ control: PdvControl.Command, bytes: commandBytes }];
      if (dataset) parts.push({ control: 0, bytes: dataset });
      await this.writeFragments(contextId, parts, payloadMax);
      return;
    }
    await this.writeFragments(contextId, [{ control: PdvControl.Command, bytes: commandBytes }], payloadMax);
    await this.writeStream(contextId, dataset, payloadMax);
  }

  /**
   * A streamed data set. A PDU's payload is a view of the chunk it comes from, not a copy: the data sets that
   * stream are the large ones, and copying them into fresh PDU buffers cost more in garbage collection than in
   * copying (the 53 MB study of the shared harness: a full collection every 35 ms, the event loop 40% idle for
   * it). What is left of a chunk, up to one PDU's payload, is copied into `carry` and goes out when more bytes
   * arrive, so the last PDV can always carry the "last" bit, even when the stream ends on a PDU boundary. Each
   * chunk's PDUs reach the socket before the next chunk is asked for, so a source may reuse a chunk's buffer once
   * asked for the next (`writeFragments` gives the same promise for a buffer in memory).
   */
  private async writeStream(contextId: number, dataset: AsyncIterable<Buffer>, payloadMax: number): Promise<void> {
    // Two, used in turn: one may be in a write still while the other takes the next chunk's tail.
    const carries = [Buffer.allocUnsafe(PDATA_OVERHEAD + payloadMax), Buffer.allocUnsafe(PDATA_OVERHEAD + payloadMax)];
    let carry = carries[0]!;
    let fill = 0;
    for await (const raw of dataset) {
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
      const out: Buffer[] = [];
      const headers = new PduHeaders(Math.ceil(chunk.length / payloadMax) + 1);
      let pos = 0;
      while (pos < chunk.length) {
        if (fill === payloadMax) {
          writePDataHeader(carry, contextId, 0, fill);
          out.push(carry);
          carry = carry === carries[0] ? carries[1]! : carries[0]!;
          fill = 0;
        }
        if (fill > 0 || chunk.length - pos <= payloadMax) {
          const take = Math.min(payloadMax - fill, chunk.length - pos);
          chunk.copy(carry, PDATA_OVERHEAD + fill, pos, pos + take);
          fill += take;
          pos += take;
        } else {
          out.push(headers.next(contextId, 0, payloadMax), chunk.subarray(pos, pos + payloadMax));
          pos += payloadMax;
        }
      }
      if (out.length > 0) await this.writeVectors(out);
    }
    writePDataHeader(carry, contextId, PdvControl.Last, fill);
    await this.writeVectors([carry.subarray(0, PDATA_OVERHEAD + fill)]);
  }

  private maxPayload(): number {
    const peer = this.peerMaxLength > 0 ? this.peerMaxLength : Number.MAX_SAFE_INTEGER;
    const pduLength = Math.min(peer, this.limits.maxSendPduLength);
    // The PDU length counts the PDV item header (4 length + context + control) in front of the payload.
    return Math.max(pduLength - 6, 2);
  }

  /**
   * Message parts already in memory (the command, then the data set) as PDUs whose payloads are views of their
   * bytes (no copy), the last PDV of each part with the "last" bit, up to `WRITE_BATCH_BYTES` of payload per system
   * call. Resolves once all of it has reached the socket: the caller may reuse the bytes then.
   */
  private async writeFragments(contextId: number, parts: ReadonlyArray<{ control: number; bytes: Buffer }>, payloadMax: number): Promise<void> {
    let pdus = 0;
    for (const { bytes } of parts) pdus += Math.max(1, Math.ceil(bytes.length / payloadMax));
    const headers = new PduHeaders(pdus);
    let out: Buffer[] = [];
    let batched = 0;
    for (const { control, bytes } of parts) {
      let pos = 0;
      do {
        const take = Math.min(payloadMax, bytes.length - pos);
        const last = pos + take === bytes.length;
        out.push(headers.next(contextId, control | (last ? PdvControl.Last : 0), take));
        if (take > 0) out.push(bytes.subarray(pos, pos + take));
        pos += take;
        batched += take;
        if (batched >= WRITE_BATCH_BYTES) {
          await this.writeVectors(out);
          out = [];
          batched = 0;
        }
      } while (pos < bytes.length);
    }
    if (out.length > 0) await this.writeVectors(out);
  }

  /**
   * Buffers in one system call (the socket corked while they are queued); resolves once the socket has taken
   * them all, so none of them is referenced any more, and rejects if the connection ends first.
   */
  private writeVectors(buffers: readonly Buffer[]): Promise<void> {
    this.assertWritable();
    return new Promise<void>((resolve, reject) => {
      const last = buffers.length - 1;
      this.socket.cork();
      for (let i = 0; i < last; i++) this.socket.write(buffers[i]!);
      this.socket.write(buffers[last]!, (error) => {
        if (!error) resolve();
        else reject(this.closeError ?? new AssociationAbortedError(`Cannot send: ${error.message}`, { code: 'ATRIUM_ERR_DIMSE_CLOSED', cause: error }));
      });
      this.socket.uncork();
    });
  }

  private writeRaw(buf: Buffer): Promise<void> | void {
    this.assertWritable();
    if (this.socket.write(buf)) return;
    return this.drained();
  }

  /** Resolves once the socket has drained what was written; rejects if it closes first. */
  private drained(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        this.socket.off('drain', onDrain);
        this.socket.off('close', onClose);
      };
      const onDrain = () => {
        cleanup();
        resolve();
      };
      const onClose = () => {
        cleanup();
        reject(this.closeError ?? new AssociationAbortedError('Cannot send: the connection closed', { code: 'ATRIUM_ERR_DIMSE_CLOSED' }));
      };
      this.socket.on('drain', onDrain);
      this.socket.on('close', onClose);
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Ending

  private failEverything(error: Error): void {
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.onError(error);
    }
    this.pending.clear();
    for (const listener of this.cancelListeners.values()) listener();
    this.cancelListeners.clear();
    const incoming = this.incoming;
    this.incoming = undefined;
    incoming?.received?.reject(error);
    incoming?.stream?.destroy(error);
  }

  private onTransportClosed(error?: Error): void {
    if (this.stateValue === 'closed') return;
    const wasState = this.stateValue;
    this.stopArtim();
    this.clearIdle();
    if (wasState !== 'awaiting-close') {
      this.closeError ??= new AssociationAbortedError(
        `Association ended: the connection closed while ${wasState}${error ? ` (${error.message})` : ''}`,
        { code: 'ATRIUM_ERR_DIMSE_CLOSED', cause: error },
      );
    }
    const finalError = this.closeError ?? new AssociationAbortedError('Association closed', { code: 'ATRIUM_ERR_DIMSE_CLOSED' });
    this.stateValue = 'closed';
    this.failEverything(finalError);
    this.settleNegotiation(finalError);
    this.releaseWaiter?.resolve();
    this.releaseWaiter = undefined;
    if (!this.socket.destroyed) this.socket.destroy();
    this.resolveClosed();
  }

  /** Why the association ended (undefined while it is open or after an orderly release by this side). */
  get error(): Error | undefined {
    return this.closeError;
  }
}

/** `datasetReceived` of a data set that was collected whole. */
const RECEIVED: Promise<void> = Promise.resolve();

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** One P-DATA-TF PDU holding a whole command set and a whole data set, each its last fragment (PS3.8 Annex E). */
function encodeCommandAndDataset(contextId: number, command: Buffer, dataset: Buffer): Buffer {
  const pdu = Buffer.allocUnsafe(6 + 6 + command.length + 6 + dataset.length);
  pdu[0] = 0x04;
  pdu[1] = 0;
  pdu.writeUInt32BE(12 + command.length + dataset.length, 2);
  pdu.writeUInt32BE(command.length + 2, 6);
  pdu[10] = contextId;
  pdu[11] = PdvControl.Command | PdvControl.Last;
  command.copy(pdu, 12);
  const at = 12 + command.length;
  pdu.writeUInt32BE(dataset.length + 2, at);
  pdu[at + 4] = contextId;
  pdu[at + 5] = PdvControl.Last;
  dataset.copy(pdu, at + 6);
  return pdu;
}
