import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AAssociateRq } from './a-associate.js';
import { DicomApplicationContext, decodeAssociate, encodeAAssociateAc, encodeAAssociateRj, encodeAAssociateRq } from './a-associate.js';
import { AbortReason, DimseLimitError, DimseProtocolError } from './errors.js';
import type { ControlPdu } from './pdu.js';
import { PDATA_OVERHEAD, encodeAAbort, encodeAReleaseRp, encodeAReleaseRq, writePDataHeader } from './pdu.js';
import { PduDecoder } from './pdu-decoder.js';

const request: Omit<AAssociateRq, 'type'> = {
  protocolVersion: 1,
  calledAeTitle: 'ATRIUM',
  callingAeTitle: 'MODALITY_CT_01',
  applicationContextName: DicomApplicationContext,
  presentationContexts: [
    { id: 1, abstractSyntaxUid: '1.2.840.10008.1.1', transferSyntaxUids: ['1.2.840.10008.1.2'] },
    { id: 3, abstractSyntaxUid: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxUids: ['1.2.840.10008.1.2.1', '1.2.840.10008.1.2.4.70'] },
  ],
  userInformation: {
    maxPduLength: 16384,
    implementationClassUid: '1.2.3.4',
    implementationVersionName: 'TEST_1',
    asyncOperations: { maxInvoked: 4, maxPerformed: 2 },
    roleSelections: [{ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', scuRole: false, scpRole: true }],
    extendedNegotiations: [{ sopClassUid: '1.2.840.10008.5.1.4.1.2.2.1', serviceClassApplicationInformation: Buffer.from([1, 1, 0]) }],
    commonExtendedNegotiations: [{ sopClassUid: '1.2.3', serviceClassUid: '1.2.840.10008.4.2', relatedGeneralSopClassUids: ['1.2.4', '1.2.5'] }],
    userIdentity: { type: 2, positiveResponseRequested: true, primaryField: Buffer.from('alice'), secondaryField: Buffer.from('s3cret') },
  },
};

function pData(contextId: number, control: number, payload: Buffer): Buffer {
  const pdu = Buffer.alloc(PDATA_OVERHEAD + payload.length);
  payload.copy(pdu, PDATA_OVERHEAD);
  writePDataHeader(pdu, contextId, control, payload.length);
  return pdu;
}

/** Two PDVs in one P-DATA-TF PDU, as DCMTK sometimes sends command and data together. */
function pDataTwo(a: Buffer, b: Buffer): Buffer {
  const body = Buffer.alloc(12 + a.length + b.length);
  body.writeUInt32BE(a.length + 2, 0);
  body[4] = 1;
  body[5] = 3;
  a.copy(body, 6);
  body.writeUInt32BE(b.length + 2, 6 + a.length);
  body[10 + a.length] = 1;
  body[11 + a.length] = 0;
  b.copy(body, 12 + a.length);
  const header = Buffer.from([4, 0, 0, 0, 0, 0]);
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

interface Event {
  kind: string;
  detail: unknown;
}

function decodeAll(stream: Buffer, splits: number[], maxPduLength = 1 << 20): Event[] {
  const events: Event[] = [];
  let pdv: Buffer[] = [];
  const decoder = new PduDecoder(
    {
      onControlPdu: (pdu: ControlPdu) => events.push({ kind: pdu.type, detail: pdu }),
      onPdvData: (contextId, control, data, end) => {
        pdv.push(Buffer.from(data));
        if (end) {
          events.push({ kind: 'PDV', detail: { contextId, control, data: Buffer.concat(pdv).toString('hex') } });
          pdv = [];
        }
      },
    },
    { maxPduLength, maxControlPduLength: 1 << 20 },
  );
  let pos = 0;
  for (const s of [...splits, stream.length]) {
    decoder.push(stream.subarray(pos, s));
    pos = s;
  }
  return events;
}

test('A-ASSOCIATE-RQ - round trips every user information sub-item', () => {
  const bytes = encodeAAssociateRq(request);
  assert.equal(bytes[0], 1);
  assert.equal(bytes.readUInt32BE(2), bytes.length - 6);
  assert.equal(bytes.toString('latin1', 10, 26), 'ATRIUM          ');
  const decoded = decodeAssociate(1, bytes.subarray(6));
  assert.deepEqual(decoded, { type: 'A-ASSOCIATE-RQ', ...request, userInformation: { ...request.userInformation, userIdentityServerResponse: undefined } });
});

test('A-ASSOCIATE-AC - round trips answers and the user identity response', () => {
  const ac = {
    protocolVersion: 1,
    calledAeTitle: 'ATRIUM',
    callingAeTitle: 'CT',
    applicationContextName: DicomApplicationContext,
    presentationContexts: [
      { id: 1, result: 0, transferSyntaxUid: '1.2.840.10008.1.2' },
      { id: 3, result: 3, transferSyntaxUid: '1.2.840.10008.1.2' },
    ],
    userInformation: { maxPduLength: 0, implementationClassUid: '1.2.3', userIdentityServerResponse: Buffer.from('ok') },
  };
  const decoded = decodeAssociate(2, encodeAAssociateAc(ac).subarray(6));
  assert.equal(decoded.type, 'A-ASSOCIATE-AC');
  assert.deepEqual(decoded.presentationContexts, ac.presentationContexts);
  assert.equal(decoded.userInformation.maxPduLength, 0);
  assert.deepEqual(decoded.userInformation.userIdentityServerResponse, Buffer.from('ok'));
});

test('A-ASSOCIATE-RQ - an AE title longer than 16 characters is refused', () => {
  assert.throws(() => encodeAAssociateRq({ ...request, callingAeTitle: 'X'.repeat(17) }), /1 to 16 characters/);
});

test('PDU decoder - events are the same whatever the chunking, at every boundary', () => {
  const command = Buffer.from('0123456789abcdef', 'hex');
  const data = Buffer.alloc(300, 7);
  data[0] = 1;
  data[299] = 2;
  const stream = Buffer.concat([
    encodeAAssociateRq(request),
    encodeAAssociateRj({ result: 2, source: 3, reason: 1 }),
    pData(1, 3, command),
    pData(1, 0, data.subarray(0, 100)),
    pData(1, 2, data.subarray(100)),
    pDataTwo(command, data.subarray(0, 5)),
    pData(1, 2, Buffer.alloc(0)),
    encodeAReleaseRq(),
    encodeAReleaseRp(),
    encodeAAbort(2, 6),
  ]);
  const whole = decodeAll(stream, []);
  assert.deepEqual(whole.map((e) => e.kind), [
    'A-ASSOCIATE-RQ', 'A-ASSOCIATE-RJ', 'PDV', 'PDV', 'PDV', 'PDV', 'PDV', 'PDV', 'A-RELEASE-RQ', 'A-RELEASE-RP', 'A-ABORT',
  ]);
  assert.deepEqual(whole[1]!.detail, { type: 'A-ASSOCIATE-RJ', result: 2, source: 3, reason: 1 });
  assert.deepEqual(whole[3]!.detail, { contextId: 1, control: 0, data: data.subarray(0, 100).toString('hex') });
  assert.deepEqual(whole[10]!.detail, { type: 'A-ABORT', source: 2, reason: 6 });
  for (let i = 1; i < stream.length; i++) assert.deepEqual(decodeAll(stream, [i]), whole, `split at ${i}`);
  const bytewise = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(decodeAll(stream, bytewise), whole);
});

test('PDU decoder - PDV payload slices are views of the chunk, not copies', () => {
  const payload = Buffer.alloc(1000, 9);
  const chunk = pData(1, 2, payload);
  const slices: Buffer[] = [];
  new PduDecoder({ onControlPdu: () => undefined, onPdvData: (_c, _k, d) => slices.push(d) }, { maxPduLength: 0, maxControlPduLength: 100 }).push(chunk);
  assert.equal(slices.length, 1);
  assert.equal(slices[0]!.buffer, chunk.buffer);
  assert.equal(slices[0]!.byteOffset, chunk.byteOffset + PDATA_OVERHEAD);
});

test('PDU decoder - a P-DATA-TF over the maximum length is a limit error before any payload', () => {
  let pdvs = 0;
  const decoder = new PduDecoder({ onControlPdu: () => undefined, onPdvData: () => pdvs++ }, { maxPduLength: 1024, maxControlPduLength: 1024 });
  assert.throws(() => decoder.push(pData(1, 2, Buffer.alloc(1025)).subarray(0, 20)), DimseLimitError);
  assert.equal(pdvs, 0);
});

test('PDU decoder - unknown PDU types and inconsistent PDV lengths are protocol errors', () => {
  const sink = { onControlPdu: () => undefined, onPdvData: () => undefined };
  const limits = { maxPduLength: 0, maxControlPduLength: 1024 };
  assert.throws(
    () => new PduDecoder(sink, limits).push(Buffer.from([0x09, 0, 0, 0, 0, 4, 0, 0, 0, 0])),
    (e: unknown) => e instanceof DimseProtocolError && e.abortReason === AbortReason.UnrecognizedPdu,
  );
  const bad = pData(1, 2, Buffer.alloc(10));
  bad.writeUInt32BE(50, 6);
  assert.throws(() => new PduDecoder(sink, limits).push(bad), /PDV item of 50 bytes/);
  assert.throws(() => new PduDecoder(sink, limits).push(Buffer.from([0x02, 0, 0, 0, 0, 68, ...Buffer.alloc(68)])), /no application context/);
  assert.throws(() => new PduDecoder(sink, { maxPduLength: 0, maxControlPduLength: 64 }).push(encodeAAssociateRq(request)), DimseLimitError);
});
