import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { ExplicitVrLittleEndian, ImplicitVrLittleEndian } from '@atrium/dicom';
import type { DicomJsonDataset } from '@atrium/dicom';
import { SopClass } from './c-find.js';
import { cStore } from './c-store.js';
import { connect, withAssociation } from './client.js';
import { decodeDataset } from './dataset-codec.js';
import type { CStoreRequest, DimseHandlers, SubOperationProgress } from './handlers.js';
import { openPart10File } from './part10-source.js';
import { DimseServer } from './server.js';
import { CtImageStorage, part10File, syntheticInstance } from './test-support.js';

const run = promisify(execFile);
const hasDcmtk = ['echoscu', 'storescu', 'findscu', 'storescp', 'getscu', 'movescu'].every((t) => existsSync(`/usr/bin/${t}`));
const skip = !hasDcmtk && 'DCMTK tools absent';
// The shared corpus lives beside the repository (`../shared/testdata/dev`), wherever the clone is.
const corpus = fileURLToPath(new URL('../../../../shared/testdata/dev/pydicom', import.meta.url));
const STUDY_UID = '1.2.826.0.1.3680043.10.1561.9.1';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function startServer(handlers: DimseHandlers) {
  const server = new DimseServer({ policy: { aeTitle: 'ATRIUM' }, handlers });
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port };
}

async function collect(req: CStoreRequest): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req.dataset) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'atrium-dimse-'));
}

function writeSynthetic(dir: string, name: string, uid: string, ts = ExplicitVrLittleEndian): { path: string; dataset: Buffer } {
  const dataset = syntheticInstance(uid, ts, 8192);
  const path = join(dir, name);
  writeFileSync(path, part10File(dataset, CtImageStorage, uid, ts));
  return { path, dataset };
}

/** Starts a DCMTK listener and waits until its port accepts connections. */
async function startTool(cmd: string, args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return child;
    await sleep(50);
  }
  child.kill();
  throw new Error(`Cannot start ${cmd}: port ${port} never opened`);
}

test('echoscu - verifies against the server', { skip }, async () => {
  const { server, port } = await startServer({});
  try {
    const { stderr } = await run('echoscu', ['-v', '-aet', 'ECHOSCU', '-aec', 'ATRIUM', '127.0.0.1', String(port)]);
    assert.match(stderr, /Received Echo Response \(Success\)/);
    await assert.rejects(run('echoscu', ['-aec', 'WRONG', '127.0.0.1', String(port)]), /Called AE Title Not Recognized/i);
  } finally {
    await server.close();
  }
});

test('storescu - a synthetic instance arrives byte for byte, and converted with -xi', { skip }, async () => {
  const dir = tempDir();
  const received: { uid: string; ts: string; bytes: Buffer; calling: string }[] = [];
  const { server, port } = await startServer({
    store: async (req) => {
      received.push({ uid: req.affectedSopInstanceUid, ts: req.transferSyntaxUid, bytes: await collect(req), calling: req.association.callingAeTitle });
      return { status: 0 };
    },
  });
  try {
    const file = writeSynthetic(dir, 'ct.dcm', '1.2.826.0.1.3680043.10.1561.5.1');
    await run('storescu', ['-aet', 'STORESCU', '-aec', 'ATRIUM', '127.0.0.1', String(port), file.path]);
    assert.equal(received.length, 1);
    assert.equal(received[0]!.uid, '1.2.826.0.1.3680043.10.1561.5.1');
    assert.equal(received[0]!.ts, ExplicitVrLittleEndian);
    assert.equal(received[0]!.calling, 'STORESCU');
    assert.ok(received[0]!.bytes.equals(file.dataset), 'data set bytes differ');
    // -xi proposes Implicit VR only: storescu converts and the handler sees what was negotiated.
    await run('storescu', ['-xi', '-aec', 'ATRIUM', '127.0.0.1', String(port), file.path]);
    assert.equal(received[1]!.ts, ImplicitVrLittleEndian);
    const decoded = decodeDataset(received[1]!.bytes, ImplicitVrLittleEndian);
    assert.deepEqual(decoded['00100020'], { vr: 'LO', Value: ['PAT-001'] });
    assert.deepEqual(decoded['00100010'], { vr: 'PN', Value: [{ Alphabetic: 'Doe^Jane' }] });
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('storescu - corpus files in several transfer syntaxes arrive in their own syntax', { skip: skip || (!existsSync(corpus) && 'corpus absent') }, async () => {
  // Each file with the storescu option that proposes its syntax (in a context of its own, beside uncompressed ones).
  const files = (
    [
      ['CT_small.dcm', '-xe'],
      ['MR_small_implicit.dcm', '-xi'],
      ['MR_small_RLE.dcm', '-xr'],
      ['MR_small_jpeg_ls_lossless.dcm', '-xt'],
      ['MR_small_jp2klossless.dcm', '-xv'],
    ] as const
  ).filter(([n]) => existsSync(join(corpus, n)));
  const received: { ts: string; bytes: Buffer }[] = [];
  const { server, port } = await startServer({
    store: async (req) => {
      received.push({ ts: req.transferSyntaxUid, bytes: await collect(req) });
      return { status: 0 };
    },
  });
  try {
    for (const [name, option] of files) await run('storescu', [option, '-aec', 'ATRIUM', '127.0.0.1', String(port), join(corpus, name)]);
    assert.equal(received.length, files.length);
    for (const [i, [name]] of files.entries()) {
      const source = await openPart10File(join(corpus, name));
      assert.equal(received[i]!.ts, source.transferSyntaxUid, name);
      const original = readFileSync(join(corpus, name)).subarray(source.datasetOffset);
      const got = decodeDataset(received[i]!.bytes, received[i]!.ts);
      const want = decodeDataset(original, source.transferSyntaxUid);
      assert.deepEqual(got['00080018'], want['00080018'], name);
      assert.deepEqual(got['00280010'], want['00280010'], name);
    }
  } finally {
    await server.close();
  }
});

test('findscu - prints the matches the handler yields', { skip }, async () => {
  let query: DicomJsonDataset | undefined;
  const { server, port } = await startServer({
    find: async function* (req) {
      query = req.identifier;
      yield { '00080052': { vr: 'CS', Value: ['STUDY'] }, '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^Jane' }] }, '0020000D': { vr: 'UI', Value: ['1.2.3.4'] } };
      yield { '00080052': { vr: 'CS', Value: ['STUDY'] }, '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Roe^Rick' }] }, '0020000D': { vr: 'UI', Value: ['1.2.3.5'] } };
    },
  });
  try {
    const { stdout, stderr } = await run('findscu', ['-S', '-aec', 'ATRIUM', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientName=D*', '-k', 'StudyInstanceUID', '127.0.0.1', String(port)]);
    const out = stdout + stderr;
    assert.match(out, /Find Response: 1 \(Pending\)/);
    assert.match(out, /Find Response: 2 \(Pending\)/);
    assert.match(out, /\(0010,0010\) PN \[Doe\^Jane\]/);
    assert.match(out, /\(0010,0010\) PN \[Roe\^Rick\]/);
    assert.match(out, /\(0020,000d\) UI \[1\.2\.3\.5\x00?\]/);
    assert.deepEqual(query?.['00100010'], { vr: 'PN', Value: [{ Alphabetic: 'D*' }] });
    assert.deepEqual(query?.['0020000D'], { vr: 'UI' });
  } finally {
    await server.close();
  }
});

test('storescp - receives what the C-STORE SCU sends from a Part 10 file', { skip }, async () => {
  const dir = tempDir();
  const out = join(dir, 'out');
  const port = await freePort();
  mkdirSync(out);
  const storescp = await startTool('storescp', ['-aet', 'STORESCP', '-od', out, String(port)], port);
  try {
    const file = writeSynthetic(dir, 'ct.dcm', '1.2.826.0.1.3680043.10.1561.5.2');
    const source = await openPart10File(file.path);
    assert.equal(source.sopInstanceUid, '1.2.826.0.1.3680043.10.1561.5.2');
    const result = await withAssociation(
      {
        host: '127.0.0.1', port, callingAeTitle: 'ATRIUM', calledAeTitle: 'STORESCP',
        presentationContexts: [{ abstractSyntaxUid: source.sopClassUid, transferSyntaxUids: [source.transferSyntaxUid] }],
        limits: { maxPduLength: 16384 },
      },
      (a) => cStore(a, { sopClassUid: source.sopClassUid, sopInstanceUid: source.sopInstanceUid, transferSyntaxUid: source.transferSyntaxUid, dataset: source.open() }),
    );
    assert.equal(result.status, 0);
    let files: string[] = [];
    for (let i = 0; i < 50 && files.length === 0; i++) {
      files = readdirSync(out);
      if (files.length === 0) await sleep(20);
    }
    assert.equal(files.length, 1);
    const { stdout } = await run('dcmdump', [join(out, files[0]!)]);
    assert.match(stdout, /\(0010,0020\) LO \[PAT-001\]/);
    assert.match(stdout, /\(0008,0018\) UI \[1\.2\.826\.0\.1\.3680043\.10\.1561\.5\.2\]/);
  } finally {
    storescp.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('getscu - C-GET returns the handler instances on the same association', { skip }, async () => {
  const dir = tempDir();
  const instances = [1, 2].map((i) => {
    const uid = `1.2.826.0.1.3680043.10.1561.6.${i}`;
    return { uid, bytes: syntheticInstance(uid, ExplicitVrLittleEndian, 4096) };
  });
  let level: unknown;
  const { server, port } = await startServer({
    get: (req) => {
      level = req.identifier['00080052']?.Value?.[0];
      return {
        count: instances.length,
        instances: instances.map((i) => ({ sopClassUid: CtImageStorage, sopInstanceUid: i.uid, transferSyntaxUid: ExplicitVrLittleEndian, open: () => i.bytes })),
      };
    },
  });
  try {
    const { stdout, stderr } = await run('getscu', ['-v', '-S', '-aec', 'ATRIUM', '-od', dir, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${STUDY_UID}`, '127.0.0.1', String(port)]);
    assert.equal(level, 'STUDY');
    const files = readdirSync(dir).sort();
    assert.equal(files.length, 2, stdout + stderr);
    const { stdout: dump } = await run('dcmdump', [join(dir, files[0]!)]);
    assert.match(dump, /\(0010,0010\) PN \[Doe\^Jane\]/);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('movescu - C-MOVE sub-operations reach the move destination with the originator', { skip }, async () => {
  const dir = tempDir();
  const destinationPort = await freePort();
  const uid = '1.2.826.0.1.3680043.10.1561.6.9';
  const bytes = syntheticInstance(uid, ExplicitVrLittleEndian, 4096);
  const { server, port } = await startServer({
    move: async function* (req): AsyncIterable<SubOperationProgress> {
      assert.equal(req.moveDestination, 'MOVESCU');
      const a = await connect({
        host: '127.0.0.1', port: destinationPort, callingAeTitle: 'ATRIUM', calledAeTitle: req.moveDestination,
        presentationContexts: [{ abstractSyntaxUid: CtImageStorage, transferSyntaxUids: [ExplicitVrLittleEndian] }],
      });
      try {
        await cStore(a, {
          sopClassUid: CtImageStorage, sopInstanceUid: uid, transferSyntaxUid: ExplicitVrLittleEndian, dataset: bytes,
          moveOriginator: { aeTitle: req.association.callingAeTitle, messageId: req.messageId },
        });
        yield { remaining: 0, completed: 1, failed: 0, warning: 0 };
      } finally {
        await a.release();
      }
    },
  });
  try {
    const { stdout, stderr } = await run('movescu', [
      '-v', '-S', '-aet', 'MOVESCU', '-aec', 'ATRIUM', '-aem', 'MOVESCU', '--port', String(destinationPort), '-od', dir,
      '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${STUDY_UID}`, '127.0.0.1', String(port),
    ]);
    const files = readdirSync(dir);
    assert.equal(files.length, 1, stdout + stderr);
    assert.match(stdout + stderr, /Move Response/);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
