import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { buildCtSeries } from '@atrium/dicom';
import { openTestArchive } from '../test-support.js';
import { registerWebApp } from './index.js';

const PYTHON = '/usr/bin/python3';
const STORESCP = '/usr/bin/storescp';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

test('study zip - Python\'s zipfile reads every stored instance back byte for byte', { skip: !existsSync(PYTHON) && 'python3 absent' }, async () => {
  const archive = await openTestArchive();
  const dir = mkdtempSync(join(tmpdir(), 'atrium-zip-'));
  const app = Fastify();
  try {
    const series = buildCtSeries({ slices: 3, rows: 32, columns: 32, patient: { patientId: 'PID/7' }, study: { studyDate: '20240105', accessionNumber: 'A1' } });
    for (const slice of series.instances) await archive.ingest.ingest([slice.bytes], { kind: 'import' });
    await registerWebApp(app, archive, { webDist: dir, ohifDist: dir });
    const res = await app.inject({ method: 'GET', url: `/api/studies/${series.studyInstanceUid}/zip` });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/zip');
    assert.equal(res.headers['content-disposition'], 'attachment; filename="PID_7_20240105_A1.zip"');
    const zipPath = join(dir, 'study.zip');
    writeFileSync(zipPath, res.rawPayload);
    const listing = JSON.parse(
      execFileSync(PYTHON, ['-c', `
import zipfile, json, sys, hashlib
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
print(json.dumps({i.filename: hashlib.sha256(z.read(i)).hexdigest() for i in z.infolist()}))
`, zipPath], { encoding: 'utf8' }),
    ) as Record<string, string>;
    const { createHash } = await import('node:crypto');
    const expected = Object.fromEntries(
      series.instances.map((s) => [`${series.seriesInstanceUid}/${s.sopInstanceUid}.dcm`, createHash('sha256').update(s.bytes).digest('hex')]),
    );
    assert.deepEqual(listing, expected);
    const missing = await app.inject({ method: 'GET', url: '/api/studies/1.2.3/zip' });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.json().detail, /Cannot zip study '1.2.3': it is not stored/);
  } finally {
    await app.close();
    await archive.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('study send - every instance reaches DCMTK storescp; an unknown node is a 404', { skip: !existsSync(STORESCP) && 'storescp absent' }, async () => {
  const port = await freePort();
  const archive = await openTestArchive({ ATRIUM_REMOTE_AES: `STORESCP@127.0.0.1:${port}` });
  const dir = mkdtempSync(join(tmpdir(), 'atrium-send-'));
  const scp = spawn(STORESCP, ['--aetitle', 'STORESCP', '--output-directory', dir, String(port)], { stdio: 'ignore' });
  const app = Fastify();
  try {
    const series = buildCtSeries({ slices: 3, rows: 32, columns: 32 });
    for (const slice of series.instances) await archive.ingest.ingest([slice.bytes], { kind: 'import' });
    await registerWebApp(app, archive, { webDist: dir, ohifDist: dir });
    // storescp needs a moment to listen.
    let result: { completed: number; failed: number; aeTitle: string } | undefined;
    for (let attempt = 0; attempt < 20 && !result; attempt++) {
      const res = await app.inject({ method: 'POST', url: `/api/studies/${series.studyInstanceUid}/send`, payload: { aeTitle: 'STORESCP' } });
      if (res.statusCode === 200) result = res.json();
      else await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(result, 'the send succeeded');
    assert.equal(result.aeTitle, 'STORESCP');
    assert.equal(result.completed, 3);
    assert.equal(result.failed, 0);
    const received = readdirSync(dir).filter((f) => f.startsWith('CT'));
    assert.equal(received.length, 3);
    const sizes = received.map((f) => readFileSync(join(dir, f)).length).sort();
    assert.ok(sizes.every((s) => s > 32 * 32 * 2), 'pixel data arrived');
    const unknown = await app.inject({ method: 'POST', url: `/api/studies/${series.studyInstanceUid}/send`, payload: { aeTitle: 'NOWHERE' } });
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.body, /Cannot use remote AE 'NOWHERE'/);
  } finally {
    scp.kill();
    await app.close();
    await archive.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
