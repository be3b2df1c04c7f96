import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { smallCtSeries, startTestNode } from './test-support.js';

const execFileAsync = promisify(execFile);
const cli = fileURLToPath(new URL('../cli.ts', import.meta.url));

async function atrium(dataDir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['--import', 'tsx', '--conditions=source', cli, ...args], {
      env: { ...process.env, ATRIUM_DATA_DIR: dataDir, ATRIUM_LOG_LEVEL: 'error', ATRIUM_AE_TITLE: 'CLI' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('atrium echo, query, retrieve, send - against another Atrium node over loopback', async () => {
  const work = mkdtempSync(join(tmpdir(), 'atrium-scu-cli-'));
  const peer = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true', ATRIUM_AE_TITLE: 'PEER' });
  const target = await startTestNode({ ATRIUM_ACCEPT_ANY_AE: 'true', ATRIUM_AE_TITLE: 'TARGET' });
  try {
    const slices = smallCtSeries({ patient: { patientName: 'Roe^Rita', patientId: 'PID-CLI' } });
    for (const slice of slices) await peer.archive.ingest.ingest([slice.bytes], { kind: 'import' });
    const peerAe = `PEER@127.0.0.1:${peer.dimse.port}`;
    const dataDir = join(work, 'data');

    const echo = await atrium(dataDir, 'echo', peerAe);
    assert.equal(echo.code, 0, echo.stderr);
    assert.match(echo.stdout, /C-ECHO PEER@127\.0\.0\.1:\d+: success in \d+ ms/);

    const query = await atrium(dataDir, 'query', peerAe, '-k', 'PatientName=roe*', '-k', 'StudyInstanceUID', '-k', 'NumberOfStudyRelatedInstances');
    assert.equal(query.code, 0, query.stderr);
    assert.match(query.stdout, new RegExp(`StudyInstanceUID=${slices[0]!.studyInstanceUid.replace(/\./g, '\\.')}`));
    assert.match(query.stdout, /NumberOfStudyRelatedInstances=3/);
    assert.match(query.stdout, /1 match\(es\)/);

    const retrieved = await atrium(dataDir, 'retrieve', peerAe, '--study', slices[0]!.studyInstanceUid);
    assert.equal(retrieved.code, 0, retrieved.stderr + retrieved.stdout);
    assert.match(retrieved.stdout, /Retrieved: 3 completed, 0 warning, 0 failed/);
    assert.match(retrieved.stdout, /stored: 3/);
    const stats = await atrium(dataDir, 'stats', '--json');
    assert.equal(JSON.parse(stats.stdout).instances, 3);

    const sent = await atrium(dataDir, 'send', `TARGET@127.0.0.1:${target.dimse.port}`, '--series', slices[0]!.seriesInstanceUid);
    assert.equal(sent.code, 0, sent.stderr + sent.stdout);
    assert.match(sent.stdout, /Sent 3 instance\(s\) to TARGET@127\.0\.0\.1:\d+, 0 failed/);
    for (const slice of slices) {
      const stored = await target.archive.archive.findInstance(slice.sopInstanceUid);
      assert.equal(stored?.seriesInstanceUid, slice.seriesInstanceUid);
    }

    const unknown = await atrium(dataDir, 'echo', 'NOBODY');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Cannot use remote AE 'NOBODY': it is not configured/);
  } finally {
    await peer.close();
    await target.close();
    rmSync(work, { recursive: true, force: true });
  }
});
