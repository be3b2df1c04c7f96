import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExplicitVrLittleEndian } from '@atrium/dicom';
import { DicomApplicationContext, encodeAAssociateRq } from './a-associate.js';
import { VerificationSopClass, cEcho } from './c-echo.js';
import { cStore } from './c-store.js';
import { connect } from './client.js';
import { AssociationAbortedError } from './errors.js';
import type { DimseHandlers } from './handlers.js';
import { PDATA_OVERHEAD, writePDataHeader } from './pdu.js';
import type { DimseServerOptions } from './server.js';
import { DimseServer } from './server.js';
import { CtImageStorage } from './test-support.js';

async function startServer(handlers: DimseHandlers, extra: Partial<DimseServerOptions> = {}) {
  const server = new DimseServer({ policy: { aeTitle: 'ATRIUM' }, handlers, ...extra });
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port };
}

/** A raw peer that reads exact byte counts, to check PDUs as they appear on the wire. */
class RawPeer {
  private buffered = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | undefined;
  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, d]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }
  async read(n: number): Promise<Buffer> {
    while (this.buffered.length < n && !this.closed) await new Promise<void>((r) => (this.wake = r));
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(out.length);
    return out;
  }
  async readPdu(): Promise<Buffer> {
    const header = await this.read(6);
    if (header.length < 6) return header;
    return Buffer.concat([header, await this.read(header.readUInt32BE(2))]);
  }
  get isClosed(): boolean {
    return this.closed;
  }
}

const sampleRq = () =>
  encodeAAssociateRq({
    protocolVersion: 1,
    calledAeTitle: 'ATRIUM',
    callingAeTitle: 'RAW',
    applicationContextName: DicomApplicationContext,
    presentationContexts: [{ id: 1, abstractSyntaxUid: VerificationSopClass, transferSyntaxUids: ['1.2.840.10008.1.2'] }],
    userInformation: { maxPduLength: 16384, implementationClassUid: '1.2.3' },
  });

async function rawAssociation(port: number): Promise<RawPeer> {
  const socket = netConnect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  const peer = new RawPeer(socket);
  socket.write(sampleRq());
  const ac = await peer.readPdu();
  assert.equal(ac[0], 0x02, 'A-ASSOCIATE-AC');
  return peer;
}

test('association - a P-DATA-TF over the advertised maximum is answered with A-ABORT', async () => {
  const { server, port } = await startServer({}, { limits: { maxPduLength: 4096 } });
  try {
    const peer = await rawAssociation(port);
    const pdu = Buffer.alloc(PDATA_OVERHEAD + 5000);
    writePDataHeader(pdu, 1, 3, 5000);
    peer.socket.write(pdu);
    // A-ABORT, source 2 (service provider), reason 6 (invalid PDU parameter value), PS3.8 Table 9-26.
    assert.deepEqual([...(await peer.readPdu())], [0x07, 0, 0, 0, 0, 4, 0, 0, 2, 6]);
    await peer.read(1);
    assert.equal(peer.isClosed, true);
  } finally {
    await server.close();
  }
});

test('association - an unexpected PDU (a second A-ASSOCIATE-RQ) is answered with A-ABORT reason 2', async () => {
  const { server, port } = await startServer({});
  try {
    const peer = await rawAssociation(port);
    peer.socket.write(sampleRq());
    assert.deepEqual([...(await peer.readPdu())], [0x07, 0, 0, 0, 0, 4, 0, 0, 2, 2]);
  } finally {
    await server.close();
  }
});

test('association - ARTIM closes a connection that never sends A-ASSOCIATE-RQ', async () => {
  const { server, port } = await startServer({}, { timeouts: { artimMs: 150 } });
  try {
    const socket = netConnect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    const started = Date.now();
    socket.resume();
    if (!socket.destroyed) await once(socket, 'close');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 100 && elapsed < 2000, `closed after ${elapsed} ms`);
    for (let i = 0; i < 50 && server.associationCount > 0; i++) await sleep(10);
    assert.equal(server.associationCount, 0);
  } finally {
    await server.close();
  }
});

test('association - the idle timeout aborts an association nobody uses', async () => {
  const { server, port } = await startServer({}, { timeouts: { idleMs: 150 } });
  try {
    const a = await connect({ host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'ATRIUM', presentationContexts: [{ abstractSyntaxUid: VerificationSopClass }] });
    await cEcho(a);
    await a.closed;
    assert.ok(a.error instanceof AssociationAbortedError);
    assert.equal(a.error.abortSource, 2);
  } finally {
    await server.close();
  }
});

test('association - the DIMSE timeout aborts a request that gets no response', async () => {
  const { server, port } = await startServer({
    store: async (req) => {
      for await (const _ of req.dataset) void _;
      await sleep(800);
      return { status: 0 };
    },
  });
  try {
    const a = await connect({
      host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'ATRIUM',
      presentationContexts: [{ abstractSyntaxUid: CtImageStorage }], timeouts: { dimseMs: 150 },
    });
    await assert.rejects(
      cStore(a, { sopClassUid: CtImageStorage, sopInstanceUid: '1.2.3', transferSyntaxUid: ExplicitVrLittleEndian, dataset: Buffer.alloc(100) }),
      (e: unknown) => e instanceof AssociationAbortedError && e.code === 'ATRIUM_ERR_DIMSE_TIMEOUT',
    );
    await a.closed;
  } finally {
    await server.close();
  }
});

test('association - an A-ABORT mid data set errors the handler stream and the SCU call', async () => {
  let handlerError: unknown;
  let resolveStarted!: () => void;
  const started = new Promise<void>((r) => (resolveStarted = r));
  const { server, port } = await startServer({
    store: async (req) => {
      resolveStarted();
      try {
        for await (const _ of req.dataset) void _;
      } catch (error) {
        handlerError = error;
      }
      return { status: 0 };
    },
  });
  try {
    const a = await connect({ host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'ATRIUM', presentationContexts: [{ abstractSyntaxUid: CtImageStorage }] });
    // A data set that never ends: the abort has to cut it.
    const endless = new Readable({ read() { this.push(Buffer.alloc(65536)); } });
    const storing = cStore(a, { sopClassUid: CtImageStorage, sopInstanceUid: '1.2.3', transferSyntaxUid: ExplicitVrLittleEndian, dataset: endless });
    await started;
    a.abort();
    await assert.rejects(storing, AssociationAbortedError);
    for (let i = 0; i < 100 && handlerError === undefined; i++) await sleep(10);
    assert.ok(handlerError instanceof AssociationAbortedError, String(handlerError));
    assert.match((handlerError as Error).message, /aborted by the peer/);
  } finally {
    await server.close();
  }
});

test('association - release completes after in-flight work and the server forgets it', async () => {
  const { server, port } = await startServer({});
  try {
    const a = await connect({ host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'ATRIUM', presentationContexts: [{ abstractSyntaxUid: VerificationSopClass }] });
    const echoes = await Promise.all([cEcho(a), cEcho(a), cEcho(a)]);
    assert.deepEqual(echoes.map((e) => e.status), [0, 0, 0]);
    await a.release();
    assert.equal(a.state, 'closed');
    assert.equal(a.error, undefined);
    for (let i = 0; i < 50 && server.associationCount > 0; i++) await sleep(10);
    assert.equal(server.associationCount, 0);
  } finally {
    await server.close();
  }
});
