import type { Readable } from 'node:stream';
import type { DicomJsonDataset } from '@atrium/dicom';
import type { AssociationInfo } from './association.js';
import type { NEventReportOptions } from './storage-commitment.js';

/** What a handler answers for a single operation (PS3.7 §9.1, Annex C). */
export interface DimseStatusResult {
  status: number;
  errorComment?: string | undefined;
  offendingElement?: readonly number[] | undefined;
}

/** PS3.7 §9.3.1.1: the C-MOVE that caused a C-STORE sub-operation. */
export interface MoveOriginator {
  aeTitle: string;
  messageId: number;
}

/** A C-STORE-RQ as the SCP handler sees it (PS3.7 §9.1.1, PS3.4 Annex B). */
export interface CStoreRequest {
  association: AssociationInfo;
  messageId: number;
  priority: number;
  affectedSopClassUid: string;
  affectedSopInstanceUid: string;
  /** Transfer syntax of the presentation context, i.e. of the data set bytes. */
  transferSyntaxUid: string;
  moveOriginator?: MoveOriginator | undefined;
  /**
   * The data set (no preamble, no file meta) fed from PDVs as they arrive. Reading it slowly slows the sender:
   * the socket is paused while this stream's buffer is full. Consume it fully (or let it be drained after the
   * handler settles); it errors if the association ends before the last PDV. When `datasetChunks` is set, it is
   * made from them on first use.
   */
  readonly dataset: Readable;
  /**
   * The whole data set, when it arrived before the handler was called (up to the association's
   * `maxCollectedDatasetLength`): its bytes in order, to consume without a stream.
   */
  readonly datasetChunks?: readonly Buffer[] | undefined;
}

/**
 * C-STORE SCP handler. The C-STORE-RSP is sent only once it settles and the data set has been fully received; a
 * thrown error answers with its `dicomStatus` (or A700) and its message as the error comment.
 */
export type CStoreHandler = (request: CStoreRequest) => Promise<DimseStatusResult>;

/** C-ECHO SCP handler (PS3.7 §9.1.5); the built-in one answers success. */
export type CEchoHandler = (request: { association: AssociationInfo; messageId: number }) => Promise<DimseStatusResult>;

/** Common fields of a C-FIND, C-MOVE or C-GET request (PS3.7 §9.1.2-9.1.4). */
export interface QueryRequest {
  association: AssociationInfo;
  messageId: number;
  priority: number;
  affectedSopClassUid: string;
  transferSyntaxUid: string;
  /** The identifier decoded into DICOM JSON. */
  identifier: DicomJsonDataset;
  /** The identifier's bytes as received, in `transferSyntaxUid`. */
  identifierBytes: Buffer;
  /** Aborts on C-CANCEL-RQ or when the association ends: stop iterating. */
  signal: AbortSignal;
}

export type CFindRequest = QueryRequest;

/**
 * C-FIND SCP handler (PS3.4 C.4.1): each match is sent as a Pending response (FF00), then Success. A thrown
 * error answers with its `dicomStatus` (or C000, unable to process).
 */
export type CFindHandler = (request: CFindRequest) => AsyncIterable<DicomJsonDataset> | Iterable<DicomJsonDataset>;

/** Counts of sub-operations (PS3.4 C.4.2.1.x, C.4.3.1.x). */
export interface SubOperationProgress {
  remaining: number;
  completed: number;
  failed: number;
  warning: number;
  /** SOP Instance UIDs of failed sub-operations, sent as (0008,0058) in the final response. */
  failedSopInstanceUids?: readonly string[] | undefined;
  /** Why sub-operations failed, sent as (0000,0902) Error Comment with a final warning status. */
  errorComment?: string | undefined;
}

export interface CMoveRequest extends QueryRequest {
  /** (0000,0600) Move Destination: the AE to send the C-STOREs to. */
  moveDestination: string;
}

/**
 * C-MOVE SCP handler (PS3.4 C.4.2): performs the sub-operations itself (opening an association to the
 * destination, e.g. with `connect` and `cStore` passing `moveOriginator`) and yields progress after each one; each
 * yield with `remaining > 0` becomes a Pending response. The last progress yielded decides the final status:
 * Success, or B000 when any failed or warned. Throw a `DimseStatusError` for A801 (unknown destination) and the like.
 */
export type CMoveHandler = (request: CMoveRequest) => AsyncIterable<SubOperationProgress>;

/** One instance a C-GET SCP sends back on the same association. */
export interface CGetInstance {
  sopClassUid: string;
  sopInstanceUid: string;
  /** Transfer syntax of the bytes `open` gives; a context for this class with this syntax must be accepted. */
  transferSyntaxUid: string;
  /** The data set bytes (no file meta), opened only when the sub-operation starts. */
  open: () => Buffer | AsyncIterable<Buffer> | Promise<Buffer | AsyncIterable<Buffer>>;
  /**
   * Called instead of `open` when the requestor accepted no context for this class with `transferSyntaxUid`:
   * the data set converted to one of the syntaxes it did accept for the class. Without it such an instance is a
   * failed sub-operation.
   */
  transcodeTo?: (acceptedTransferSyntaxUids: readonly string[]) => Promise<{ transferSyntaxUid: string; dataset: Buffer | AsyncIterable<Buffer> }>;
}

export type CGetRequest = QueryRequest;

/** What a C-GET handler plans: the number of instances (for the remaining count) and the instances. */
export interface CGetPlan {
  count: number;
  instances: AsyncIterable<CGetInstance> | Iterable<CGetInstance>;
}

/**
 * C-GET SCP handler (PS3.4 C.4.3): returns the matching instances; the plumbing sends each as a C-STORE
 * sub-operation on the same association (the requestor took the SCP role for the storage class) and answers
 * Pending after each, then the final status.
 */
export type CGetHandler = (request: CGetRequest) => CGetPlan | Promise<CGetPlan>;

/** Storage Commitment N-ACTION-RQ (PS3.4 J.3.2): the SCU asks to commit the referenced instances. */
export interface StorageCommitmentRequest {
  association: AssociationInfo;
  messageId: number;
  /** (0000,1001) Requested SOP Instance UID: the well-known 1.2.840.10008.1.20.1.1. */
  requestedSopInstanceUid: string;
  actionTypeId: number;
  transactionUid: string;
  /** Each item of (0008,1199) Referenced SOP Sequence. */
  referencedSops: { sopClassUid: string; sopInstanceUid: string }[];
  actionInformation: DicomJsonDataset;
  /** Whether the association the N-ACTION came on is still established. */
  isAssociationOpen: () => boolean;
  /**
   * Sends the result as N-EVENT-REPORT on that same association (PS3.4 J.3.3), once the N-ACTION-RSP has been
   * written; rejects when the association has ended, so the caller can open a new one to the requestor instead.
   */
  reportOnSameAssociation: (options: NEventReportOptions) => Promise<DimseStatusResult>;
}

/**
 * Storage Commitment N-ACTION SCP handler: answers the N-ACTION-RSP. The commitment result is sent later, by the
 * server, with `nEventReport` on this or a new association (PS3.4 J.3.3).
 */
export type StorageCommitmentHandler = (request: StorageCommitmentRequest) => Promise<DimseStatusResult>;

/** N-EVENT-REPORT-RQ as received (PS3.7 §10.1.1), e.g. a storage commitment result at the SCU. */
export interface NEventReportRequest {
  association: AssociationInfo;
  messageId: number;
  affectedSopClassUid: string;
  affectedSopInstanceUid: string;
  eventTypeId: number;
  eventInformation: DicomJsonDataset | undefined;
}

export type NEventReportHandler = (request: NEventReportRequest) => Promise<DimseStatusResult>;

/** The service handlers an SCP (a server, or an SCU that receives C-GET stores) offers. */
export interface DimseHandlers {
  echo?: CEchoHandler | undefined;
  store?: CStoreHandler | undefined;
  find?: CFindHandler | undefined;
  move?: CMoveHandler | undefined;
  get?: CGetHandler | undefined;
  storageCommitment?: StorageCommitmentHandler | undefined;
  eventReport?: NEventReportHandler | undefined;
}
