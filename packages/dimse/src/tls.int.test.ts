import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { VerificationSopClass, cEcho } from './c-echo.js';
import { withAssociation } from './client.js';
import { DimseServer } from './server.js';

const skip = !existsSync('/usr/bin/openssl') && 'openssl absent';

test('TLS - an association over TLS echoes and reports the transport', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atrium-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const key = readFileSync(join(dir, 'key.pem'));
    const cert = readFileSync(join(dir, 'cert.pem'));
    let serverSawTls = false;
    const server = new DimseServer({ policy: { aeTitle: 'ATRIUM' }, tls: { key, cert }, onAssociation: (info) => (serverSawTls = info.tls) });
    const { port } = await server.listen(0);
    try {
      const status = await withAssociation(
        {
          host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'ATRIUM',
          presentationContexts: [{ abstractSyntaxUid: VerificationSopClass }],
          tls: { ca: cert, servername: 'localhost' },
        },
        async (a) => {
          assert.equal(a.info.tls, true);
          return (await cEcho(a)).status;
        },
      );
      assert.equal(status, 0);
      assert.equal(serverSawTls, true);
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
