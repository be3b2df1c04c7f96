import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { echoRemote, sendToRemote } from './scu.js';
import { DCMTK_ENV, freePort, runTool as run, smallCtSeries, startTestNode } from './test-support.js';

/*
 * The DICOM TLS profile (PS3.15 Annex B.1) end to end with DCMTK built against OpenSSL: storescu and echoscu
 * reach Atrium's listener over TLS with a client certificate from the configured CA, peers without one are
 * refused, and Atrium sends to a storescp that only speaks TLS, a remote AE marked `tls` in the config file.
 */

const hasTools =
  spawnSync('storescu', ['--version']).status === 0 &&
  spawnSync('storescu', ['--help']).stdout?.toString().includes('--enable-tls') &&
  spawnSync('openssl', ['version']).status === 0;
const skip = !hasTools && 'DCMTK with TLS support, or openssl, not installed';

/** A CA, and key pairs it signs (and one it does not), in PEM files under `dir`. */
function makeCertificates(dir: string) {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Atrium Test CA', '-keyout', 'ca.key', '-out', 'ca.crt');
  const signed = (name: string) => {
    writeFileSync(join(dir, `${name}.ext`), 'subjectAltName=IP:127.0.0.1\n');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  };
  signed('atrium');
  signed('modality');
  signed('workstation');
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=stranger', '-keyout', 'stranger.key', '-out', 'stranger.crt');
  const path = (name: string) => join(dir, name);
  return { path };
}

function startTlsStorescp(dir: string, port: number, certs: { path(name: string): string }): Promise<ChildProcess> {
  const child = spawn(
    'storescp',
    ['-aet', 'TLSSCP', '+tls', certs.path('workstation.key'), certs.path('workstation.crt'), '+cf', certs.path('ca.crt'), '-od', dir, String(port)],
    { env: DCMTK_ENV, stdio: 'ignore' },
  );
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const probe = async () => {
      const echo = await run('echoscu', ['-aec', 'TLSSCP', '+tls', certs.path('modality.key'), certs.path('modality.crt'), '+cf', certs.path('ca.crt'), '127.0.0.1', String(port)]);
      if (echo.code === 0) resolve(child);
      else if (Date.now() - started > 10_000) reject(new Error(`storescp +tls did not start: ${echo.out}`));
      else setTimeout(probe, 100);
    };
    void probe();
  });
}

test('DICOM TLS - DCMTK peers with a CA-signed certificate store, echo and receive from Atrium; others are refused', { skip }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'atrium-tls-'));
  const certs = makeCertificates(work);
  const received = join(work, 'received');
  mkdirSync(received);
  const scpPort = await freePort();
  const storescp = await startTlsStorescp(received, scpPort, certs);
  writeFileSync(
    join(work, 'atrium.config.json'),
    JSON.stringify({ dicom: { remoteAes: [{ aeTitle: 'TLSSCP', host: '127.0.0.1', port: scpPort, tls: true }] } }),
  );
  const node = await startTestNode({
    ATRIUM_CONFIG: join(work, 'atrium.config.json'),
    ATRIUM_ACCEPT_ANY_AE: 'true',
    ATRIUM_DICOM_TLS_KEY: certs.path('atrium.key'),
    ATRIUM_DICOM_TLS_CERT: certs.path('atrium.crt'),
    ATRIUM_DICOM_TLS_CA: certs.path('ca.crt'),
  });
  try {
    const target = ['-aec', 'ATRIUM', '127.0.0.1', String(node.dimse.port)];
    const tlsAs = (name: string) => ['+tls', certs.path(`${name}.key`), certs.path(`${name}.crt`), '+cf', certs.path('ca.crt')];

    const slices = smallCtSeries({ patient: { patientName: 'Tls^Tina', patientId: 'PID-TLS' }, slices: 3 });
    const files = slices.map((s, i) => {
      const path = join(work, `ct-${i}.dcm`);
      writeFileSync(path, s.bytes);
      return path;
    });
    const stored = await run('storescu', ['-v', '-aet', 'MODALITY', ...tlsAs('modality'), ...target, ...files]);
    assert.equal(stored.code, 0, stored.out);
    assert.equal((stored.out.match(/Received Store Response \(Success\)/g) ?? []).length, 3, stored.out);
    for (const slice of slices) assert.ok(await node.archive.archive.findInstance(slice.sopInstanceUid), 'stored over TLS');

    const plain = await run('echoscu', target);
    assert.notEqual(plain.code, 0, 'a plain TCP peer is refused on the TLS port');
    const stranger = await run('echoscu', [...tlsAs('stranger').slice(0, 3), '+cf', certs.path('ca.crt'), ...target]);
    assert.notEqual(stranger.code, 0, 'a certificate the configured CA did not sign is refused');
    const anonymous = await run('echoscu', ['+tla', '+cf', certs.path('ca.crt'), ...target]);
    assert.notEqual(anonymous.code, 0, 'a peer without a client certificate is refused');

    // movescu has no TLS in Debian's DCMTK; Atrium's own SCU does the C-STORE sub-operations a C-MOVE would.
    assert.ok((await echoRemote(node.archive, 'TLSSCP')) > 0);
    let last;
    for await (const progress of sendToRemote(node.archive, 'TLSSCP', { studyInstanceUid: slices[0]!.studyInstanceUid })) last = progress;
    assert.equal(last?.completed, 3, JSON.stringify(last));
    assert.equal(readdirSync(received).length, 3, 'the TLS-only storescp received the study from Atrium');
  } finally {
    storescp.kill();
    await node.close();
    rmSync(work, { recursive: true, force: true });
  }
});
