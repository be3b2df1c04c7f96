import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
  RleLossless,
  readPart10,
  type DicomJsonDataset,
} from '@atrium/dicom';
import {
  AssociationRejectedError,
  DimseServer,
  DimseStatusError,
  SopClass,
  StorageCommitment,
  VerificationSopClass,
  cEcho,
  cGet,
  cMove,
  cStore,
  connect,
  nAction,
  withAssociation,
  type CStoreRequest,
  type NEventReportRequest,
} from '@atrium/dimse';
import { datasetOf, smallCtSeries, startTestNode } from './test-support.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

function storeContexts(transferSyntaxUids: readonly string[] = [ExplicitVrLittleEndian]) {
  return [{ abstractSyntaxUid: CT, transferSyntaxUids }, { abstractSyntaxUid: VerificationSopClass }];
}

test('C-ECHO - a configured calling AE is accepted, an unknown one is rejected with reason 3', async () => {
  const node = await startTestNode({ ATRIUM_REMOTE_AES: 'MODALITY1@127.0.0.1:104' });
  try {
    const port = node.dimse.port;
    const ok = await withAssociation(
      { host: '127.0.0.1', port, callingAeTitle: 'MODALITY1', calledAeTitle: 'ATRIUM', presentationContexts: [{ abstractSyntaxUid: VerificationSopClass }] },
      (a) => cEcho(a),
    );
    assert.equal(ok.status, 0);
    await assert.rejects(
      connect({ host: '127.0.0.1', port, callingAeTitle: 'STRANGER', calledAeTitle: 'ATRIUM', presentationContexts: [{ abstractSyntaxUid: VerificationSopClass }] }),
      (error: unknown) => error instanceof AssociationRejectedError && error.reason === 3,
    );
    await assert.rejects(
      connect({ host: '127.0.0.1', port, callingAeTitle: 'MODALITY1', calledAeTitle: 'OTHER', presentationContexts: [{ abstractSyntaxUid: VerificationSopClass }] }),
      (error: unknown) => error instanceof AssociationRejectedError && error.reason === 7,
    );
  } finally {
    await node.close();
  }
});

test('C-ECHO - with ATRIUM_CHECK_CALLING_HOST a configured AE is accepted only from its own host', async () => {
  const node = await startTestNode({
    ATRIUM_CHECK_CALLING_HOST: 'true',
    ATRIUM_ACCEPT_ANY_AE: 'true',
    ATRIUM_REMOTE_AES: 'CT01@10.0.0.21:104,WS1@127.0.0.1:104,WS2@localhost:104',
  });
  try {
    const echoAs = (callingAeTitle: string) =>
      withAssociation(
        { host: '127.0.0.1', port: node.dimse.port, callingAeTitle, calledAeTitle: 'ATRIUM', presentationContexts: [{ abstractSyntaxUid: VerificationSopClass }] },
        (a) => cEcho(a),
      );
    await assert.rejects(echoAs('CT01'), (error: unknown) => error instanceof AssociationRejectedError && error.reason === 3, 'CT01 is configured at 10.0.0.21');
    assert.equal((await echoAs('WS1')).status, 0, 'an address');
    assert.equal((await echoAs('WS2')).status, 0, 'a host name that resolves to the peer');
    assert.equal((await echoAs('UNLISTED')).status, 0, 'unknown AEs are left to ATRIUM_ACCEPT_ANY_AE');
  } finally {
    await node.close();
  }
});

test('C-ECHO - ATRIUM_ACCEPT_ANY_AE accepts an unknown calling AE; a remote AE added through the registry is known at once', async () => {
  const node = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true' });
  try {
    const result = await withAssociation(
      { host: '127.0.0.1', port: node.dimse.port, callingAeTitle: 'ANYONE', calledAeTitle: 'ATRIUM', presentationContexts: [{ abstractSyntaxUid: VerificationSopClass }] },
      (a) => cEcho(a),
    );
    assert.equal(result.status, 0);
  } finally {
    await node.close();
  }
});

for (const commitThread of [false, true]) {
  test(`C-STORE - instances go through ingest and are in the index when the response arrives${commitThread ? ' (index commit thread)' : ''}`, async () => {
    const node = await startTestNode({ ATRIUM_REMOTE_AES: 'CT01@127.0.0.1:104', ATRIUM_DB_COMMIT_THREAD: String(commitThread) });
    assert.equal(node.archive.database.commitThread !== undefined, commitThread);
    try {
      const slices = smallCtSeries();
      await withAssociation(
        { host: '127.0.0.1', port: node.dimse.port, callingAeTitle: 'CT01', calledAeTitle: 'ATRIUM', presentationContexts: storeContexts() },
        async (a) => {
          for (const slice of slices) {
            const result = await cStore(a, { sopClassUid: CT, sopInstanceUid: slice.sopInstanceUid, transferSyntaxUid: ExplicitVrLittleEndian, dataset: datasetOf(slice.bytes) });
            assert.equal(result.status, 0);
            // Durable before the answer: the index already holds it.
            const stored = await node.archive.archive.findInstance(slice.sopInstanceUid);
            assert.equal(stored?.sopClassUid, CT);
            assert.equal(stored?.studyInstanceUid, slice.studyInstanceUid);
          }
        },
      );
      const stats = await node.archive.archive.stats();
      assert.equal(stats.instances, 3);
      const ref = (await node.archive.archive.findInstance(slices[0]!.sopInstanceUid))!;
      const part10 = await collect(await node.archive.store.get(ref.blobKey));
      const parsed = await readPart10([part10]);
      assert.equal(parsed.fileMetaInformation['00020002']?.Value?.[0], CT);
      assert.equal(parsed.fileMetaInformation['00020010']?.Value?.[0], ExplicitVrLittleEndian);
      assert.equal(parsed.fileMetaInformation['00020016']?.Value?.[0], 'CT01', 'Source Application Entity Title');
      assert.deepEqual(datasetOf(part10), datasetOf(slices[0]!.bytes), 'the data set is stored byte for byte');
    } finally {
      await node.close();
    }
  });
}

test('C-STORE - failures answer their status with a reason: C000 for bytes that are not a data set, B007 for a UID mismatch', async () => {
  const node = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true' });
  try {
    const [slice] = smallCtSeries();
    await withAssociation(
      { host: '127.0.0.1', port: node.dimse.port, callingAeTitle: 'CT01', calledAeTitle: 'ATRIUM', presentationContexts: storeContexts() },
      async (a) => {
        const garbage = Buffer.from([0x08, 0x00, 0x16, 0x00, 0x55, 0x49, 0xff, 0xff, 1, 2, 3]);
        const error = await cStore(a, { sopClassUid: CT, sopInstanceUid: '1.2.3.4', transferSyntaxUid: ExplicitVrLittleEndian, dataset: garbage }).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(error instanceof DimseStatusError);
        assert.equal((error.dicomStatus & 0xf000), 0xc000, `status ${error.dicomStatus.toString(16)}`);
        assert.match(error.errorComment ?? '', /\S/);
        // The association is still usable after a refused instance.
        const mismatch = await cStore(a, { sopClassUid: CT, sopInstanceUid: '1.2.3.999', transferSyntaxUid: ExplicitVrLittleEndian, dataset: datasetOf(slice!.bytes) });
        assert.equal(mismatch.status, 0xb007);
        assert.match(mismatch.errorComment ?? '', /SOP Instance UID differs/);
      },
    );
    assert.equal((await node.archive.archive.stats()).instances, 1);
  } finally {
    await node.close();
  }
});

test('C-STORE - the requestor order decides among storable syntaxes; unstorable ones are refused', async () => {
  const node = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true' });
  try {
    const association = await connect({
      host: '127.0.0.1',
      port: node.dimse.port,
      callingAeTitle: 'US01',
      calledAeTitle: 'ATRIUM',
      presentationContexts: [
        { abstractSyntaxUid: CT, transferSyntaxUids: [RleLossless, ExplicitVrLittleEndian] },
        { abstractSyntaxUid: CT, transferSyntaxUids: ['1.2.840.10008.1.2.4.94'] },
        { abstractSyntaxUid: SopClass.StudyRootMove, transferSyntaxUids: [ImplicitVrLittleEndian, ExplicitVrLittleEndian] },
        { abstractSyntaxUid: '1.2.3.4.5.6.7' },
      ],
    });
    try {
      const contexts = [...association.presentationContexts.values()];
      assert.deepEqual(
        contexts.map((c) => [c.abstractSyntaxUid, c.transferSyntaxUid]),
        [
          [CT, RleLossless],
          [SopClass.StudyRootMove, ExplicitVrLittleEndian],
        ],
      );
    } finally {
      await association.release();
    }
  } finally {
    await node.close();
  }
});

test('C-GET negotiation - a requestor taking the SCP role of a storage class gets its first lossless syntax rather than a lossy one Atrium would encode into; without the role, its first storable one', async () => {
  const MR = '1.2.840.10008.5.1.4.1.1.4';
  const US = '1.2.840.10008.5.1.4.1.1.6.1';
  const VideoEndoscopic = '1.2.840.10008.5.1.4.1.1.77.1.1.1';
  const JpegBaseline = '1.2.840.10008.1.2.4.50';
  const H264 = '1.2.840.10008.1.2.4.102';
  const node = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true' });
  try {
    const association = await connect({
      host: '127.0.0.1',
      port: node.dimse.port,
      callingAeTitle: 'WS1',
      calledAeTitle: 'ATRIUM',
      presentationContexts: [
        { abstractSyntaxUid: SopClass.StudyRootGet },
        // As getscu +xy proposes: JPEG Baseline first. A 16-bit image cannot travel in it.
        { abstractSyntaxUid: CT, transferSyntaxUids: [JpegBaseline, RleLossless, ExplicitVrLittleEndian] },
        { abstractSyntaxUid: US, transferSyntaxUids: [JpegBaseline] },
        { abstractSyntaxUid: MR, transferSyntaxUids: [JpegBaseline, ExplicitVrLittleEndian] },
        // Clips are only ever sent as stored: asking for H.264 first is asking for them as they are.
        { abstractSyntaxUid: VideoEndoscopic, transferSyntaxUids: [H264, ExplicitVrLittleEndian] },
      ],
      roleSelections: [
        { sopClassUid: CT, scuRole: false, scpRole: true },
        { sopClassUid: US, scuRole: false, scpRole: true },
        { sopClassUid: VideoEndoscopic, scuRole: false, scpRole: true },
      ],
    });
    try {
      assert.deepEqual(
        [...association.presentationContexts.values()].map((c) => [c.abstractSyntaxUid, c.transferSyntaxUid]),
        [
          [SopClass.StudyRootGet, ExplicitVrLittleEndian],
          [CT, RleLossless],
          [US, JpegBaseline],
          [MR, JpegBaseline],
          [VideoEndoscopic, H264],
        ],
      );
    } finally {
      await association.release();
    }
  } finally {
    await node.close();
  }
});

test('C-STORE - a service the calling AE is not allowed answers 0124', async () => {
  const node = await startTestNode({}, {});
  try {
    const { RemoteAeRegistry } = await import('../remote-nodes/remote-ae-registry.js');
    await new RemoteAeRegistry(node.archive).put({ aeTitle: 'VIEWER', host: '127.0.0.1', port: 104, services: ['echo', 'find'] });
    await withAssociation(
      { host: '127.0.0.1', port: node.dimse.port, callingAeTitle: 'VIEWER', calledAeTitle: 'ATRIUM', presentationContexts: storeContexts() },
      async (a) => {
        assert.equal((await cEcho(a)).status, 0);
        const [slice] = smallCtSeries();
        await assert.rejects(
          cStore(a, { sopClassUid: CT, sopInstanceUid: slice!.sopInstanceUid, transferSyntaxUid: ExplicitVrLittleEndian, dataset: datasetOf(slice!.bytes) }),
          (e: unknown) => e instanceof DimseStatusError && e.dicomStatus === 0x0124 && /may not use store/.test(e.errorComment ?? ''),
        );
      },
    );
    assert.equal((await node.archive.archive.stats()).instances, 0);
  } finally {
    await node.close();
  }
});

async function seed(node: Awaited<ReturnType<typeof startTestNode>>, options: Parameters<typeof smallCtSeries>[0] = {}) {
  const slices = smallCtSeries(options);
  for (const slice of slices) await node.archive.ingest.ingest([slice.bytes], { kind: 'import' });
  return slices;
}

test('C-GET - a study comes back as C-STOREs on the same association, byte for byte, with counts', async () => {
  const node = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true' });
  try {
    const slices = await seed(node);
    const received = new Map<string, Buffer>();
    const store = async (request: CStoreRequest) => {
      received.set(request.affectedSopInstanceUid, await collect(request.dataset));
      return { status: 0 };
    };
    const pending: number[] = [];
    const result = await withAssociation(
      {
        host: '127.0.0.1',
        port: node.dimse.port,
        callingAeTitle: 'WS1',
        calledAeTitle: 'ATRIUM',
        presentationContexts: [{ abstractSyntaxUid: SopClass.StudyRootGet }, { abstractSyntaxUid: CT, transferSyntaxUids: [ExplicitVrLittleEndian] }],
        roleSelections: [{ sopClassUid: CT, scuRole: false, scpRole: true }],
        handlers: { store },
      },
      (a) =>
        cGet(a, {
          sopClassUid: SopClass.StudyRootGet,
          identifier: { '00080052': { vr: 'CS', Value: ['STUDY'] }, '0020000D': { vr: 'UI', Value: [slices[0]!.studyInstanceUid] } },
          onProgress: (p) => pending.push(p.remaining),
        }),
    );
    assert.equal(result.status, 0);
    assert.equal(result.completed, 3);
    assert.equal(result.failed, 0);
    assert.deepEqual(pending, [2, 1]);
    for (const slice of slices) assert.deepEqual(received.get(slice.sopInstanceUid), datasetOf(slice.bytes));
  } finally {
    await node.close();
  }
});

test('C-GET - an instance stored in a syntax the requestor refused is transcoded to one it accepts', async () => {
  const node = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true' });
  try {
    const slices = await seed(node, { transferSyntaxUid: RleLossless });
    const native = smallCtSeries({ transferSyntaxUid: ExplicitVrLittleEndian });
    const received = new Map<string, { transferSyntaxUid: string; bytes: Buffer }>();
    const result = await withAssociation(
      {
        host: '127.0.0.1',
        port: node.dimse.port,
        callingAeTitle: 'WS1',
        calledAeTitle: 'ATRIUM',
        presentationContexts: [{ abstractSyntaxUid: SopClass.StudyRootGet }, { abstractSyntaxUid: CT, transferSyntaxUids: [ExplicitVrLittleEndian] }],
        roleSelections: [{ sopClassUid: CT, scuRole: false, scpRole: true }],
        handlers: {
          store: async (request: CStoreRequest) => {
            received.set(request.affectedSopInstanceUid, { transferSyntaxUid: request.transferSyntaxUid, bytes: await collect(request.dataset) });
            return { status: 0 };
          },
        },
      },
      (a) =>
        cGet(a, {
          sopClassUid: SopClass.StudyRootGet,
          identifier: { '00080052': { vr: 'CS', Value: ['SERIES'] }, '0020000E': { vr: 'UI', Value: [slices[0]!.seriesInstanceUid] } },
        }),
    );
    assert.equal(result.status, 0);
    assert.equal(result.completed, 3);
    assert.equal(result.failed, 0);
    for (const [i, slice] of slices.entries()) {
      const got = received.get(slice.sopInstanceUid);
      assert.ok(got, `instance ${i} received`);
      assert.equal(got.transferSyntaxUid, ExplicitVrLittleEndian);
      // RLE is lossless: the converted pixel data equals the same slice built uncompressed.
      const parsed = await readPart10([got.bytes], { format: 'dataset', transferSyntaxUid: ExplicitVrLittleEndian });
      const expected = await readPart10([native[i]!.bytes]);
      const pixels = (p: typeof parsed, bytes: Uint8Array) => Buffer.from(bytes.subarray(p.pixelData!.offset, p.pixelData!.offset + p.pixelData!.length));
      assert.ok(pixels(parsed, got.bytes).equals(pixels(expected, native[i]!.bytes)), `pixels of instance ${i}`);
    }
  } finally {
    await node.close();
  }
});

test('C-GET - an identifier without the unique key of its level answers A900 naming the element', async () => {
  const node = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true' });
  try {
    await withAssociation(
      { host: '127.0.0.1', port: node.dimse.port, callingAeTitle: 'WS1', calledAeTitle: 'ATRIUM', presentationContexts: [{ abstractSyntaxUid: SopClass.StudyRootGet }] },
      async (a) => {
        await assert.rejects(
          cGet(a, { sopClassUid: SopClass.StudyRootGet, identifier: { '00080052': { vr: 'CS', Value: ['STUDY'] }, '0020000D': { vr: 'UI' } } }),
          (e: unknown) => e instanceof DimseStatusError && e.dicomStatus === 0xa900 && /Study Instance UID missing/.test(e.errorComment ?? ''),
        );
      },
    );
  } finally {
    await node.close();
  }
});

test('C-MOVE - a study goes to a configured destination with pending counts and the move originator; unknown destinations answer A801', async () => {
  const received: CStoreRequest[] = [];
  const bytes = new Map<string, Buffer>();
  const destination = new DimseServer({
    policy: { aeTitle: 'DEST' },
    handlers: {
      store: async (request) => {
        received.push(request);
        bytes.set(request.affectedSopInstanceUid, await collect(request.dataset));
        return { status: 0 };
      },
    },
  });
  const { port: destPort } = await destination.listen(0, '127.0.0.1');
  const node = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true', ATRIUM_REMOTE_AES: `DEST@127.0.0.1:${destPort}` });
  try {
    const slices = await seed(node);
    const progress: number[] = [];
    await withAssociation(
      { host: '127.0.0.1', port: node.dimse.port, callingAeTitle: 'WS1', calledAeTitle: 'ATRIUM', presentationContexts: [{ abstractSyntaxUid: SopClass.PatientRootMove }] },
      async (a) => {
        const result = await cMove(a, {
          sopClassUid: SopClass.PatientRootMove,
          moveDestination: 'DEST',
          identifier: { '00080052': { vr: 'CS', Value: ['PATIENT'] }, '00100020': { vr: 'LO', Value: [slices[0]!.patientId] } },
          onProgress: (p) => progress.push(p.completed),
        });
        assert.equal(result.status, 0);
        assert.equal(result.completed, 3);
        await assert.rejects(
          cMove(a, {
            sopClassUid: SopClass.PatientRootMove,
            moveDestination: 'NOWHERE',
            identifier: { '00080052': { vr: 'CS', Value: ['PATIENT'] }, '00100020': { vr: 'LO', Value: [slices[0]!.patientId] } },
          }),
          (e: unknown) => e instanceof DimseStatusError && e.dicomStatus === 0xa801,
        );
      },
    );
    assert.deepEqual(progress, [0, 1, 2]);
    assert.equal(received.length, 3);
    assert.equal(received[0]!.moveOriginator?.aeTitle, 'WS1');
    assert.equal(received[0]!.association.callingAeTitle, 'ATRIUM');
    for (const slice of slices) assert.deepEqual(bytes.get(slice.sopInstanceUid), datasetOf(slice.bytes));
  } finally {
    await node.close();
    await destination.close();
  }
});

function commitmentRequest(transactionUid: string, sops: { sopClassUid: string; sopInstanceUid: string }[]): DicomJsonDataset {
  return {
    '00081195': { vr: 'UI', Value: [transactionUid] },
    '00081199': {
      vr: 'SQ',
      Value: sops.map((s) => ({ '00081150': { vr: 'UI', Value: [s.sopClassUid] }, '00081155': { vr: 'UI', Value: [s.sopInstanceUid] } })),
    },
  };
}

test('Storage commitment - the result comes on the same association: stored instances committed, others failed with 0112', async () => {
  const node = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true' });
  try {
    const slices = await seed(node);
    const events: NEventReportRequest[] = [];
    let gotEvent!: () => void;
    const eventArrived = new Promise<void>((resolve) => (gotEvent = resolve));
    await withAssociation(
      {
        host: '127.0.0.1',
        port: node.dimse.port,
        callingAeTitle: 'CT01',
        calledAeTitle: 'ATRIUM',
        presentationContexts: [{ abstractSyntaxUid: SopClass.StorageCommitmentPushModel }],
        handlers: {
          eventReport: async (request) => {
            events.push(request);
            gotEvent();
            return { status: 0 };
          },
        },
      },
      async (a) => {
        const result = await nAction(a, {
          sopClassUid: SopClass.StorageCommitmentPushModel,
          sopInstanceUid: SopClass.StorageCommitmentPushModelInstance,
          actionTypeId: StorageCommitment.ActionRequest,
          actionInformation: commitmentRequest('2.25.1001', [
            { sopClassUid: CT, sopInstanceUid: slices[0]!.sopInstanceUid },
            { sopClassUid: CT, sopInstanceUid: '1.2.3.404' },
          ]),
        });
        assert.equal(result.status, 0);
        await eventArrived;
      },
    );
    assert.equal(events.length, 1);
    const info = events[0]!.eventInformation!;
    assert.equal(events[0]!.eventTypeId, StorageCommitment.EventFailures);
    assert.equal(info['00081195']?.Value?.[0], '2.25.1001');
    const committed = info['00081199']?.Value as DicomJsonDataset[];
    const failed = info['00081198']?.Value as DicomJsonDataset[];
    assert.deepEqual(committed.map((i) => i['00081155']?.Value?.[0]), [slices[0]!.sopInstanceUid]);
    assert.deepEqual(failed.map((i) => [i['00081155']?.Value?.[0], i['00081197']?.Value?.[0]]), [['1.2.3.404', 0x0112]]);
  } finally {
    await node.close();
  }
});

test('Storage commitment - after the requestor released, the result goes on a new association to its configured AE', async () => {
  const events: NEventReportRequest[] = [];
  let gotEvent!: () => void;
  const eventArrived = new Promise<void>((resolve) => (gotEvent = resolve));
  const requestor = new DimseServer({
    policy: { aeTitle: 'CT01', isAbstractSyntaxAccepted: (uid) => uid === SopClass.StorageCommitmentPushModel },
    handlers: {
      eventReport: async (request) => {
        events.push(request);
        gotEvent();
        return { status: 0 };
      },
    },
  });
  const { port: requestorPort } = await requestor.listen(0, '127.0.0.1');
  const node = await startTestNode({ ATRIUM_REMOTE_AES: `CT01@127.0.0.1:${requestorPort}` });
  try {
    const slices = await seed(node);
    await withAssociation(
      { host: '127.0.0.1', port: node.dimse.port, callingAeTitle: 'CT01', calledAeTitle: 'ATRIUM', presentationContexts: [{ abstractSyntaxUid: SopClass.StorageCommitmentPushModel }] },
      (a) =>
        nAction(a, {
          sopClassUid: SopClass.StorageCommitmentPushModel,
          sopInstanceUid: SopClass.StorageCommitmentPushModelInstance,
          actionTypeId: StorageCommitment.ActionRequest,
          actionInformation: commitmentRequest('2.25.1002', slices.map((s) => ({ sopClassUid: CT, sopInstanceUid: s.sopInstanceUid }))),
        }),
    );
    await eventArrived;
    assert.equal(events[0]!.eventTypeId, StorageCommitment.EventSuccess);
    assert.equal(events[0]!.association.callingAeTitle, 'ATRIUM');
    const committed = events[0]!.eventInformation!['00081199']?.Value as DicomJsonDataset[];
    assert.equal(committed.length, 3);
  } finally {
    await node.close();
    await requestor.close();
  }
});

/** A C-STORE SCP that keeps what it receives in arrival order. */
function receiver() {
  const received: { sopInstanceUid: string; bytes: Buffer }[] = [];
  const store = async (request: CStoreRequest) => {
    received.push({ sopInstanceUid: request.affectedSopInstanceUid, bytes: await collect(request.dataset) });
    return { status: 0 };
  };
  return { received, store };
}

/** C-MOVE to a DIMSE server of its own, then C-GET, of one identifier: each one's result and what it received. */
async function moveAndGet(
  node: Awaited<ReturnType<typeof startTestNode>>,
  destination: ReturnType<typeof receiver>,
  identifier: DicomJsonDataset,
  getReceiver: () => ReturnType<typeof receiver> = receiver,
) {
  const moved = await withAssociation(
    { host: '127.0.0.1', port: node.dimse.port, callingAeTitle: 'WS1', calledAeTitle: 'ATRIUM', presentationContexts: [{ abstractSyntaxUid: SopClass.PatientRootMove }] },
    (a) => cMove(a, { sopClassUid: SopClass.PatientRootMove, moveDestination: 'DEST', identifier }),
  );
  const got = getReceiver();
  const fetched = await withAssociation(
    {
      host: '127.0.0.1',
      port: node.dimse.port,
      callingAeTitle: 'WS1',
      calledAeTitle: 'ATRIUM',
      presentationContexts: [{ abstractSyntaxUid: SopClass.PatientRootGet }, { abstractSyntaxUid: CT, transferSyntaxUids: [ExplicitVrLittleEndian] }],
      roleSelections: [{ sopClassUid: CT, scuRole: false, scpRole: true }],
      handlers: { store: got.store },
    },
    (a) => cGet(a, { sopClassUid: SopClass.PatientRootGet, identifier }),
  );
  return { moved, movedReceived: destination.received, fetched, fetchedReceived: got.received };
}

test('C-MOVE and C-GET - more instances than the read-ahead window, two over its per-instance limit, arrive byte for byte in order; each read-ahead buffer and each streamed chunk goes back to the pool', async () => {
  const destination = receiver();
  const server = new DimseServer({ policy: { aeTitle: 'DEST' }, handlers: { store: destination.store } });
  const { port: destPort } = await server.listen(0, '127.0.0.1');
  const node = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true', ATRIUM_REMOTE_AES: `DEST@127.0.0.1:${destPort}` });
  try {
    // 40 small ones (the window holds 16), then two of 1.2 MB that are streamed rather than read ahead.
    const small = await seed(node, { slices: 40 });
    const large = await seed(node, { slices: 2, rows: 768, columns: 768, seed: 2 });
    assert.ok(datasetOf(large[0]!.bytes).length > 1024 * 1024);
    const identifier: DicomJsonDataset = { '00080052': { vr: 'CS', Value: ['PATIENT'] }, '00100020': { vr: 'LO', Value: [small[0]!.patientId] } };
    const { resolveRetrieve } = await import('./retrieve-scope.js');
    const order = (await resolveRetrieve(node.archive, 'PATIENT', identifier)).map((r) => r.sopInstanceUid);
    assert.equal(order.length, 42);
    const bytesOf = new Map([...small, ...large].map((s) => [s.sopInstanceUid, datasetOf(s.bytes)]));
    // Each read-ahead buffer goes back to the store's pool once sent: the 40 small ones, by each of the two; so
    // does each 1 MiB chunk the two large ones stream in.
    const store = node.archive.store;
    const recycle = store.recycle?.bind(store);
    let recycled = 0;
    store.recycle = (bytes) => {
      recycled++;
      recycle?.(bytes);
    };
    const { moved, movedReceived, fetched, fetchedReceived } = await moveAndGet(node, destination, identifier);
    for (const [what, result, received] of [['C-MOVE', moved, movedReceived], ['C-GET', fetched, fetchedReceived]] as const) {
      assert.equal(result.status, 0, what);
      assert.equal(result.completed, 42, what);
      assert.equal(result.failed, 0, what);
      assert.deepEqual(received.map((r) => r.sopInstanceUid), order, `${what} order`);
      for (const r of received) assert.ok(r.bytes.equals(bytesOf.get(r.sopInstanceUid)!), `${what} bytes of ${r.sopInstanceUid}`);
    }
    const streamedChunks = large.reduce((n, l) => n + Math.ceil(datasetOf(l.bytes).length / (1024 * 1024)), 0);
    assert.equal(streamedChunks, 4);
    assert.equal(recycled, 2 * (40 + streamedChunks));
  } finally {
    await node.close();
    await server.close();
  }
});

test('C-MOVE and C-GET - an instance of 8 MiB streams to a slow peer with at most two pooled chunks out at once, each given back, every byte in order', async () => {
  // The destination reads slowly, so the socket backs up and writes finish long after the call that made them.
  const slow = () => {
    const received: { sopInstanceUid: string; bytes: Buffer }[] = [];
    const store = async (request: CStoreRequest) => {
      const parts: Buffer[] = [];
      for await (const chunk of request.dataset) {
        parts.push(Buffer.from(chunk as Buffer));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      received.push({ sopInstanceUid: request.affectedSopInstanceUid, bytes: Buffer.concat(parts) });
      return { status: 0 };
    };
    return { received, store };
  };
  const destination = slow();
  const server = new DimseServer({ policy: { aeTitle: 'DEST' }, handlers: { store: destination.store } });
  const { port: destPort } = await server.listen(0, '127.0.0.1');
  const node = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true', ATRIUM_REMOTE_AES: `DEST@127.0.0.1:${destPort}` });
  try {
    const [large] = await seed(node, { slices: 1, rows: 2048, columns: 2048, seed: 7 });
    const dataset = datasetOf(large!.bytes);
    assert.ok(dataset.length > 8 * 1024 * 1024);
    const store = node.archive.store;
    const getBytes = store.getBytes.bind(store);
    const recycle = store.recycle?.bind(store);
    let out = 0;
    let most = 0;
    let recycled = 0;
    store.getBytes = async (key, range, options) => {
      const bytes = await getBytes(key, range, options);
      if (options.reusable) most = Math.max(most, ++out);
      return bytes;
    };
    store.recycle = (bytes) => {
      out--;
      recycled++;
      recycle?.(bytes);
    };
    const identifier: DicomJsonDataset = { '00080052': { vr: 'CS', Value: ['PATIENT'] }, '00100020': { vr: 'LO', Value: [large!.patientId] } };
    const { moved, movedReceived, fetched, fetchedReceived } = await moveAndGet(node, destination, identifier, slow);
    for (const [what, result, received] of [['C-MOVE', moved, movedReceived], ['C-GET', fetched, fetchedReceived]] as const) {
      assert.equal(result.completed, 1, what);
      assert.equal(received.length, 1, what);
      assert.ok(received[0]!.bytes.equals(dataset), `${what}: every byte in order`);
    }
    // The chunk being written and the one read ahead: memory does not grow with the object.
    assert.ok(most <= 2, `at most two pooled chunks out at once, saw ${most}`);
    assert.equal(recycled, 2 * Math.ceil(dataset.length / (1024 * 1024)), 'every chunk given back, by each of the two');
    assert.equal(out, 0);
  } finally {
    await node.close();
    await server.close();
  }
});

test('C-MOVE and C-GET - an instance whose blob is gone fails its sub-operation alone: counted, listed, the rest sent in order', async () => {
  const destination = receiver();
  const server = new DimseServer({ policy: { aeTitle: 'DEST' }, handlers: { store: destination.store } });
  const { port: destPort } = await server.listen(0, '127.0.0.1');
  const node = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true', ATRIUM_REMOTE_AES: `DEST@127.0.0.1:${destPort}` });
  try {
    const slices = await seed(node, { slices: 30 });
    const identifier: DicomJsonDataset = { '00080052': { vr: 'CS', Value: ['PATIENT'] }, '00100020': { vr: 'LO', Value: [slices[0]!.patientId] } };
    const { resolveRetrieve } = await import('./retrieve-scope.js');
    const refs = await resolveRetrieve(node.archive, 'PATIENT', identifier);
    // In the middle of the first read-ahead window, with instances read ahead behind it.
    const gone = refs[5]!;
    assert.equal(await node.archive.store.delete(gone.blobKey), true);
    const expected = refs.filter((r) => r !== gone).map((r) => r.sopInstanceUid);
    const bytesOf = new Map(slices.map((s) => [s.sopInstanceUid, datasetOf(s.bytes)]));
    const { moved, movedReceived, fetched, fetchedReceived } = await moveAndGet(node, destination, identifier);
    for (const [what, result, received] of [['C-MOVE', moved, movedReceived], ['C-GET', fetched, fetchedReceived]] as const) {
      assert.equal(result.status, 0xb000, what);
      assert.equal(result.completed, 29, what);
      assert.equal(result.failed, 1, what);
      assert.deepEqual(result.failedSopInstanceUids, [gone.sopInstanceUid], what);
      assert.deepEqual(received.map((r) => r.sopInstanceUid), expected, `${what} order`);
      for (const r of received) assert.ok(r.bytes.equals(bytesOf.get(r.sopInstanceUid)!), `${what} bytes of ${r.sopInstanceUid}`);
    }
  } finally {
    await node.close();
    await server.close();
  }
});
