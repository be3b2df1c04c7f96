import { decodeAssociate } from './a-associate.js';
import { AbortReason, DimseLimitError, DimseProtocolError } from './errors.js';
import type { ControlPdu } from './pdu.js';

/** What the decoder reports; implemented by the association. */
export interface PduSink {
  /** A complete PDU other than P-DATA-TF. */
  onControlPdu(pdu: ControlPdu): void;
  /**
   * A slice of a PDV's payload. `data` is a view into the socket's chunk (no copy): keep it only as long as the
   * chunk may live. `end` is true on the last slice of this PDV; a PDV's slices arrive in order, never interleaved.
   */
  onPdvData(contextId: number, control: number, data: Buffer, end: boolean): void;
}

export interface PduDecoderLimits {
  /** Largest P-DATA-TF variable field accepted: the maximum length this side advertised (0 means no limit). */
  readonly maxPduLength: number;
  /** Largest other PDU (association negotiation can carry user identity tickets). */
  readonly maxControlPduLength: number;
}

const enum Phase {
  PduHeader,
  ControlBody,
  PdvHeader,
  PdvPayload,
}

/**
 * Incremental PDU decoder (PS3.8 §9.3), fed socket chunks of any size. Control PDUs are collected whole (they are
 * small and bounded by `maxControlPduLength`); P-DATA-TF PDUs are never buffered: each PDV payload is handed on
 * in slices as bytes arrive, so memory does not grow with the PDU or the object.
 */
export class PduDecoder {
  private phase = Phase.PduHeader;
  private readonly header = Buffer.alloc(6);
  private headerFill = 0;
  private pduType = 0;
  /** Bytes of the current PDU's variable field still to come. */
  private pduRemaining = 0;
  private control: Buffer | undefined;
  private controlFill = 0;
  private pdvContextId = 0;
  private pdvControl = 0;
  /** Bytes of the current PDV payload still to come. */
  private pdvRemaining = 0;

  constructor(
    private readonly sink: PduSink,
    private readonly limits: PduDecoderLimits,
  ) {}

  /** Feeds a chunk; throws `DimseProtocolError` or `DimseLimitError`, after which the decoder must not be fed. */
  push(chunk: Buffer): void {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      switch (this.phase) {
        case Phase.PduHeader: {
          const take = Math.min(6 - this.headerFill, len - pos);
          chunk.copy(this.header, this.headerFill, pos, pos + take);
          this.headerFill += take;
          pos += take;
          if (this.headerFill === 6) {
            this.headerFill = 0;
            this.startPdu();
          }
          break;
        }
        case Phase.ControlBody: {
          const control = this.control!;
          const take = Math.min(control.length - this.controlFill, len - pos);
          chunk.copy(control, this.controlFill, pos, pos + take);
          this.controlFill += take;
          pos += take;
          if (this.controlFill === control.length) {
            this.control = undefined;
            this.phase = Phase.PduHeader;
            this.sink.onControlPdu(decodeControl(this.pduType, control));
          }
          break;
        }
        case Phase.PdvHeader: {
          const take = Math.min(6 - this.headerFill, len - pos);
          chunk.copy(this.header, this.headerFill, pos, pos + take);
          this.headerFill += take;
          pos += take;
          if (this.headerFill === 6) {
            this.headerFill = 0;
            this.startPdv();
          }
          break;
        }
        case Phase.PdvPayload: {
          const take = Math.min(this.pdvRemaining, len - pos);
          this.pdvRemaining -= take;
          this.pduRemaining -= take;
          const end = this.pdvRemaining === 0;
          const slice = chunk.subarray(pos, pos + take);
          pos += take;
          if (end) this.phase = this.pduRemaining === 0 ? Phase.PduHeader : Phase.PdvHeader;
          // The phase is advanced before calling out, so a sink that throws leaves a consistent decoder.
          this.sink.onPdvData(this.pdvContextId, this.pdvControl, slice, end);
          break;
        }
      }
    }
  }

  /** True between PDUs: a transport close here is orderly, elsewhere it cuts a PDU short. */
  get atPduBoundary(): boolean {
    return this.phase === Phase.PduHeader && this.headerFill === 0;
  }

  private startPdu(): void {
    const type = this.header[0]!;
    const length = this.header.readUInt32BE(2);
    this.pduType = type;
    if (type === 0x04) {
      if (this.limits.maxPduLength > 0 && length > this.limits.maxPduLength) {
        throw new DimseLimitError(
          `Cannot read P-DATA-TF of ${length} bytes: the maximum PDU length is ${this.limits.maxPduLength}`,
        );
      }
      if (length < 6) {
        throw new DimseProtocolError(`Cannot read P-DATA-TF of ${length} bytes: it holds no complete PDV`);
      }
      this.pduRemaining = length;
      this.phase = Phase.PdvHeader;
      return;
    }
    if (type < 0x01 || type > 0x07) {
      throw new DimseProtocolError(`Cannot read PDU of type 0x${type.toString(16)}: the type is not defined`, {
        abortReason: AbortReason.UnrecognizedPdu,
      });
    }
    if (length > this.limits.maxControlPduLength) {
      throw new DimseLimitError(
        `Cannot read PDU of type 0x${type.toString(16)} of ${length} bytes: the limit is ${this.limits.maxControlPduLength}`,
      );
    }
    this.control = Buffer.allocUnsafe(length);
    this.controlFill = 0;
    this.phase = Phase.ControlBody;
    if (length === 0) {
      // A zero-length body cannot be valid for any type; let decodeControl say why.
      this.control = undefined;
      this.phase = Phase.PduHeader;
      this.sink.onControlPdu(decodeControl(type, Buffer.alloc(0)));
    }
  }

  private startPdv(): void {
    const itemLength = this.header.readUInt32BE(0);
    if (itemLength < 2 || itemLength + 4 > this.pduRemaining) {
      throw new DimseProtocolError(
        `Cannot read PDV item of ${itemLength} bytes: ${this.pduRemaining} bytes remain in the P-DATA-TF PDU`,
      );
    }
    this.pdvContextId = this.header[4]!;
    this.pdvControl = this.header[5]!;
    this.pduRemaining -= 6;
    this.pdvRemaining = itemLength - 2;
    if (this.pdvRemaining === 0) {
      this.phase = this.pduRemaining === 0 ? Phase.PduHeader : Phase.PdvHeader;
      this.sink.onPdvData(this.pdvContextId, this.pdvControl, Buffer.alloc(0), true);
      return;
    }
    this.phase = Phase.PdvPayload;
  }
}

function decodeControl(type: number, body: Buffer): ControlPdu {
  switch (type) {
    case 0x01:
    case 0x02:
      return decodeAssociate(type, body);
    case 0x03:
      if (body.length < 4) throw new DimseProtocolError('Cannot read A-ASSOCIATE-RJ: body is shorter than 4 bytes');
      return { type: 'A-ASSOCIATE-RJ', result: body[1]!, source: body[2]!, reason: body[3]! };
    case 0x05:
    case 0x06:
      if (body.length < 4) throw new DimseProtocolError('Cannot read A-RELEASE PDU: body is shorter than 4 bytes');
      return { type: type === 0x05 ? 'A-RELEASE-RQ' : 'A-RELEASE-RP' };
    case 0x07:
      if (body.length < 4) throw new DimseProtocolError('Cannot read A-ABORT: body is shorter than 4 bytes');
      return { type: 'A-ABORT', source: body[2]!, reason: body[3]! };
    default:
      throw new DimseProtocolError(`Cannot read PDU of type 0x${type.toString(16)}: the type is not defined`, {
        abortReason: AbortReason.UnrecognizedPdu,
      });
  }
}
