import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryRemote, retrieveRemote, sendToRemote } from './scu.js';
import { freePort, smallCtSeries, startTestNode, type TestNode } from './test-support.js';

/*
 * Orthanc (Debian package) as the peer PACS: Atrium sends a study to it, queries it, retrieves from it by C-GET and
 * has it C-MOVE a study to Atrium. Orthanc runs on ports chosen here, with its own temporary storage, and is
 * stopped by its PID at the end.
 */

const hasOrthanc = spawnSync('Orthanc', ['--version']).status === 0 && spawnSync('storescu', ['--version']).status === 0;
const skip = !hasOrthanc && 'Orthanc or DCMTK not installed';
const SHIM = new URL('../../../../../shared/tools/lib/bind-loopback.so', import.meta.url).pathname;

interface OrthancPeer {
  dicomPort: number;
  httpPort: number;
  rest(path: string, init?: RequestInit): Promise<unknown>;
  stop(): Promise<void>;
}

async function startOrthanc(atriumPort: number): Promise<OrthancPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'atrium-orthanc-'));
  const [dicomPort, httpPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      Name: 'atrium-test-peer',
      StorageDirectory: join(dir, 'storage'),
      IndexDirectory: join(dir, 'storage'),
      HttpPort: httpPort,
      RemoteAccessAllowed: false,
      AuthenticationEnabled: false,
      DicomAet: 'ORTHANC',
      DicomPort: dicomPort,
      DicomCheckCalledAet: false,
      DefaultEncoding: 'Utf8',
      DicomAlwaysAllowEcho: true,
      DicomAlwaysAllowStore: true,
      DicomAlwaysAllowFind: true,
      DicomAlwaysAllowGet: true,
      DicomAlwaysAllowMove: true,
      DicomModalities: { ATRIUM: ['ATRIUM', '127.0.0.1', atriumPort] },
      Plugins: [],
      StableAge: 1,
    }),
  );
  const env = { ...process.env, TCP_NODELAY: '1', ...(existsSync(SHIM) ? { LD_PRELOAD: SHIM } : {}) };
  const child: ChildProcess = spawn('Orthanc', [`--logdir=${dir}`, join(dir, 'config.json')], { env, stdio: 'ignore' });
  const base = `http://127.0.0.1:${httpPort}`;
  const rest = async (path: string, init?: RequestInit) => {
    const response = await fetch(base + path, init);
    if (!response.ok) throw new Error(`Orthanc ${path}: HTTP ${response.status} ${await response.text()}`);
    return response.json();
  };
  const started = Date.now();
  for (;;) {
    try {
      await rest('/system');
      break;
    } catch (error) {
      if (Date.now() - started > 30_000 || child.exitCode !== null) {
        child.kill();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return {
    dicomPort,
    httpPort,
    rest,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('Orthanc peer - Atrium sends a study to it, finds it there, retrieves one by C-GET and receives one by C-MOVE', { skip, timeout: 120_000 }, async () => {
  let node: TestNode | undefined;
  let orthanc: OrthancPeer | undefined;
  try {
    const atriumPort = await freePort();
    orthanc = await startOrthanc(atriumPort);
    node = await startTestNode({ ATRIUM_DICOM_PORT: String(atriumPort), ATRIUM_REMOTE_AES: `ORTHANC@127.0.0.1:${orthanc.dicomPort}` });

    // 1. Send: a study stored in Atrium goes to Orthanc.
    const sent = smallCtSeries({ patient: { patientName: 'Send^Sam', patientId: 'PID-SEND' }, study: { accessionNumber: 'ACC-SEND' } });
    for (const slice of sent) await node.archive.ingest.ingest([slice.bytes], { kind: 'import' });
    let last;
    for await (const progress of sendToRemote(node.archive, 'ORTHANC', { studyInstanceUid: sent[0]!.studyInstanceUid })) last = progress;
    assert.equal(last?.completed, 3);
    assert.equal(last?.failed, 0);
    const inOrthanc = (await orthanc.rest('/tools/find', {
      method: 'POST',
      body: JSON.stringify({ Level: 'Instance', Query: { StudyInstanceUID: sent[0]!.studyInstanceUid }, Expand: true }),
    })) as { MainDicomTags: { SOPInstanceUID: string } }[];
    assert.deepEqual(inOrthanc.map((i) => i.MainDicomTags.SOPInstanceUID).sort(), sent.map((s) => s.sopInstanceUid).sort());

    // 2. Query Orthanc from Atrium.
    const studies = [];
    for await (const match of queryRemote(node.archive, 'ORTHANC', { model: 'STUDY', level: 'STUDY', keys: { '00100020': { vr: 'LO', Value: ['PID-SEND'] }, '0020000D': { vr: 'UI' }, '00080050': { vr: 'SH' } } })) {
      studies.push(match);
    }
    assert.deepEqual(studies.map((s) => s['00080050']?.Value?.[0]), ['ACC-SEND']);

    // 3. C-GET from Orthanc into Atrium: a study only Orthanc has (uploaded through its REST API).
    const remote = smallCtSeries({ patient: { patientName: 'Get^Gina', patientId: 'PID-GET' }, study: { accessionNumber: 'ACC-GET' } });
    for (const slice of remote) await orthanc.rest('/instances', { method: 'POST', body: Buffer.from(slice.bytes) });
    const got = await retrieveRemote(node.archive, 'ORTHANC', {
      model: 'STUDY',
      level: 'STUDY',
      keys: { '0020000D': { vr: 'UI', Value: [remote[0]!.studyInstanceUid] } },
    });
    assert.equal(got.completed, 3, JSON.stringify(got));
    assert.deepEqual(got.stored.map((s) => s.outcome), ['stored', 'stored', 'stored']);
    for (const slice of remote) assert.equal((await node.archive.archive.findInstance(slice.sopInstanceUid))?.studyInstanceUid, slice.studyInstanceUid);

    // 4. C-MOVE: Orthanc sends a study to Atrium's storage SCP (Atrium's own AE is the destination).
    const moved = smallCtSeries({ patient: { patientName: 'Move^Mo', patientId: 'PID-MOVE' }, study: { accessionNumber: 'ACC-MOVE' } });
    for (const slice of moved) await orthanc.rest('/instances', { method: 'POST', body: Buffer.from(slice.bytes) });
    const result = await retrieveRemote(node.archive, 'ORTHANC', {
      model: 'STUDY',
      level: 'STUDY',
      keys: { '0020000D': { vr: 'UI', Value: [moved[0]!.studyInstanceUid] } },
      method: 'move',
    });
    assert.equal(result.completed, 3, JSON.stringify(result));
    for (const slice of moved) assert.equal((await node.archive.archive.findInstance(slice.sopInstanceUid))?.sopClassUid, slice.sopClassUid);

    // 5. Storage commitment with Orthanc as the SCU: one stored instance, one Atrium never received.
    const job = (await orthanc.rest('/modalities/ATRIUM/storage-commitment', {
      method: 'POST',
      body: JSON.stringify({ DicomInstances: [[moved[0]!.sopClassUid, moved[0]!.sopInstanceUid], [moved[0]!.sopClassUid, '1.2.3.4.404']], Timeout: 20 }),
    })) as { ID: string };
    let report: { Status: string; Failures?: { SOPInstanceUID: string; FailureReason: number }[]; Success?: { SOPInstanceUID: string }[] } | undefined;
    for (let i = 0; i < 100; i++) {
      report = (await orthanc.rest(`/storage-commitment/${job.ID}`)) as typeof report;
      if (report?.Status !== 'Pending') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(report?.Status, 'Failure', JSON.stringify(report));
    assert.deepEqual(report?.Success?.map((s) => s.SOPInstanceUID), [moved[0]!.sopInstanceUid]);
    assert.deepEqual(report?.Failures?.map((f) => [f.SOPInstanceUID, f.FailureReason]), [['1.2.3.4.404', 0x0112]]);
  } finally {
    await node?.close();
    await orthanc?.stop();
  }
});
