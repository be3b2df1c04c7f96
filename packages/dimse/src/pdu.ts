import type { AAssociateAc, AAssociateRj, AAssociateRq } from './a-associate.js';

/** PDU types (PS3.8 §9.3.1). */
export const PduType = {
  AAssociateRq: 0x01,
  AAssociateAc: 0x02,
  AAssociateRj: 0x03,
  PDataTf: 0x04,
  AReleaseRq: 0x05,
  AReleaseRp: 0x06,
  AAbort: 0x07,
} as const;

/** A-RELEASE-RQ / A-RELEASE-RP (PS3.8 §9.3.6, §9.3.7). */
export interface AReleasePdu {
  readonly type: 'A-RELEASE-RQ' | 'A-RELEASE-RP';
}

/** A-ABORT (PS3.8 §9.3.8): source 0 service user, 2 service provider; reason only meaningful for source 2. */
export interface AAbortPdu {
  readonly type: 'A-ABORT';
  readonly source: number;
  readonly reason: number;
}

/** Every PDU except P-DATA-TF, whose PDVs are streamed rather than collected. */
export type ControlPdu = AAssociateRq | AAssociateAc | AAssociateRj | AReleasePdu | AAbortPdu;

/** Message control header bits of a PDV (PS3.8 Annex E.2). */
export const PdvControl = { Command: 0x01, Last: 0x02 } as const;

export function encodeAReleaseRq(): Buffer {
  return Buffer.from([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
}

export function encodeAReleaseRp(): Buffer {
  return Buffer.from([0x06, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
}

export function encodeAAbort(source: number, reason: number): Buffer {
  return Buffer.from([0x07, 0, 0, 0, 0, 4, 0, 0, source, reason]);
}

/** Bytes of P-DATA-TF header (6) plus one PDV item header (4 length + context ID + control) in front of a payload. */
export const PDATA_OVERHEAD = 12;

/**
 * Writes the headers of a P-DATA-TF PDU holding exactly one PDV into the first 12 bytes of `pdu`, whose tail
 * from offset 12 already holds the `payloadLength` bytes of the fragment (PS3.8 §9.3.5, Annex E).
 */
export function writePDataHeader(pdu: Buffer, contextId: number, control: number, payloadLength: number): void {
  pdu[0] = 0x04;
  pdu[1] = 0;
  pdu.writeUInt32BE(payloadLength + 6, 2);
  pdu.writeUInt32BE(payloadLength + 2, 6);
  pdu[10] = contextId;
  pdu[11] = control;
}
