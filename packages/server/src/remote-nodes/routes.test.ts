import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { DimseServer } from '@atrium/dimse';
import { openTestArchive } from '../test-support.js';
import { registerRemoteAes } from './routes.js';
import { RemoteAeRegistry } from './remote-ae-registry.js';

async function setUp(env: Record<string, string> = {}) {
  const archive = await openTestArchive(env);
  const app = Fastify();
  await registerRemoteAes(app, archive);
  return {
    archive,
    app,
    async close() {
      await app.close();
      await archive.cleanup();
    },
  };
}

test('remote AE API - add, read, change, list with configured entries, delete', async () => {
  const { app, close } = await setUp({ ATRIUM_REMOTE_AES: 'PACS2@127.0.0.1:11113' });
  try {
    const created = await app.inject({ method: 'PUT', url: '/api/remote-aes/WS1', payload: { host: '10.0.0.5', port: 104, services: ['echo', 'find'] } });
    assert.equal(created.statusCode, 201);
    assert.deepEqual(created.json(), { aeTitle: 'WS1', host: '10.0.0.5', port: 104, services: ['echo', 'find'], tls: false, source: 'database' });
    const changed = await app.inject({ method: 'PUT', url: '/api/remote-aes/WS1', payload: { host: '10.0.0.6', port: 11112, description: 'Reading room 2' } });
    assert.equal(changed.statusCode, 200);
    assert.equal(changed.json().host, '10.0.0.6');
    assert.deepEqual(changed.json().services, ['echo', 'store', 'find', 'move', 'get', 'commitment']);
    const list = await app.inject({ method: 'GET', url: '/api/remote-aes' });
    assert.deepEqual(
      list.json().map((ae: { aeTitle: string; source: string; port: number }) => [ae.aeTitle, ae.source, ae.port]),
      [
        ['PACS2', 'config', 11113],
        ['WS1', 'database', 11112],
      ],
    );
    assert.equal((await app.inject({ method: 'GET', url: '/api/remote-aes/WS1' })).json().description, 'Reading room 2');
    assert.equal((await app.inject({ method: 'DELETE', url: '/api/remote-aes/WS1' })).statusCode, 204);
    const gone = await app.inject({ method: 'GET', url: '/api/remote-aes/WS1' });
    assert.equal(gone.statusCode, 404);
    assert.match(gone.json().message ?? gone.json().detail, /not configured/);
  } finally {
    await close();
  }
});

test('remote AE API - invalid entries are refused with the reason; configured entries are read-only', async () => {
  const { app, close } = await setUp({ ATRIUM_REMOTE_AES: 'PACS2@127.0.0.1:11113' });
  try {
    const tooLong = await app.inject({ method: 'PUT', url: '/api/remote-aes/A_TITLE_THAT_IS_TOO_LONG', payload: { host: 'h', port: 104 } });
    assert.equal(tooLong.statusCode, 400);
    assert.match(tooLong.body, /1 to 16 printable characters/);
    const badPort = await app.inject({ method: 'PUT', url: '/api/remote-aes/WS2', payload: { host: 'h', port: 70000 } });
    assert.equal(badPort.statusCode, 400);
    assert.match(badPort.body, /port/);
    const badService = await app.inject({ method: 'PUT', url: '/api/remote-aes/WS2', payload: { host: 'h', port: 104, services: ['print'] } });
    assert.equal(badService.statusCode, 400);
    assert.match(badService.body, /expected one of echo, store/);
    const readOnly = await app.inject({ method: 'PUT', url: '/api/remote-aes/PACS2', payload: { host: 'h', port: 104 } });
    assert.equal(readOnly.statusCode, 409);
    assert.equal((await app.inject({ method: 'DELETE', url: '/api/remote-aes/PACS2' })).statusCode, 409);
  } finally {
    await close();
  }
});

test('remote AE API - echo reaches a live node and reports an unreachable one as 502', async () => {
  const peer = new DimseServer({ policy: { aeTitle: 'PEER' } });
  const { port } = await peer.listen(0, '127.0.0.1');
  const { app, archive, close } = await setUp();
  try {
    await new RemoteAeRegistry(archive).put({ aeTitle: 'PEER', host: '127.0.0.1', port });
    const ok = await app.inject({ method: 'POST', url: '/api/remote-aes/PEER/echo' });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().status, 'success');
    await peer.close();
    const down = await app.inject({ method: 'POST', url: '/api/remote-aes/PEER/echo' });
    assert.equal(down.statusCode, 502);
    assert.match(down.json().detail, /Cannot echo 'PEER' at 127\.0\.0\.1/);
  } finally {
    await close();
    await peer.close();
  }
});

test('RemoteAeRegistry - allows known AEs their services, unknown ones only with acceptAnyAe', async () => {
  const strict = await openTestArchive({ ATRIUM_REMOTE_AES: 'CT01@127.0.0.1:104' });
  const open = await openTestArchive({ ATRIUM_ACCEPT_ANY_AE: 'true' });
  try {
    const registry = new RemoteAeRegistry(strict);
    await registry.put({ aeTitle: 'VIEWER', host: 'h', port: 104, services: ['find'] });
    assert.equal(await registry.allows('CT01', 'store'), true);
    assert.equal(await registry.allows('VIEWER', 'find'), true);
    assert.equal(await registry.allows('VIEWER', 'store'), false);
    assert.equal(await registry.allows('VIEWER', 'association'), true);
    assert.equal(await registry.allows('STRANGER', 'association'), false);
    assert.equal(await new RemoteAeRegistry(open).allows('STRANGER', 'store'), true);
  } finally {
    await strict.cleanup();
    await open.cleanup();
  }
});
