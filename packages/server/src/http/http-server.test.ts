import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCtSeries } from '@atrium/dicom';
import { openTestArchive } from '../test-support.js';
import { buildHttpServer } from './http-server.js';

test('http - /api/stats reports what was ingested', async () => {
  const archive = await openTestArchive();
  try {
    for (const slice of buildCtSeries({ slices: 2, rows: 32, columns: 32 }).instances) {
      await archive.ingest.ingest([slice.bytes], { kind: 'import' });
    }
    const app = await buildHttpServer(archive);
    const res = await app.inject({ method: 'GET', url: '/api/stats' });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.instances, 2);
    assert.equal(body.studies, 1);
    assert.equal(body.byModality.CT.instances, 2);
    await app.close();
  } finally {
    await archive.cleanup();
  }
});

test('http - the web app page carries the AE title and port that its empty state shows', async () => {
  const archive = await openTestArchive();
  try {
    const app = await buildHttpServer(archive);
    const page = await app.inject({ method: 'GET', url: '/' });
    assert.match(page.headers['content-type'] as string, /text\/html/);
    const boot = /<script id="atrium-config" type="application\/json">(.*?)<\/script>/.exec(page.body);
    assert.ok(boot, 'the page inlines its boot configuration');
    assert.equal(JSON.parse(boot[1]!).aeTitle, 'ATRIUM');
    await app.close();
  } finally {
    await archive.cleanup();
  }
});

test('http - unknown routes answer a problem document with the reason', async () => {
  const archive = await openTestArchive();
  try {
    const app = await buildHttpServer(archive);
    const res = await app.inject({ method: 'GET', url: '/nowhere?x=1' });
    assert.equal(res.statusCode, 404);
    assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
    assert.equal(res.json().detail, "No route for GET '/nowhere'");
    await app.close();
  } finally {
    await archive.cleanup();
  }
});

test('http - every route passes the authorization policy, and a denial is a 403 with its reason', async () => {
  const archive = await openTestArchive();
  try {
    const seen: string[] = [];
    archive.policy = {
      name: 'test',
      authorize(request) {
        if (request.kind !== 'http') return { allow: false, reason: 'wrong kind' };
        seen.push(`${request.method} ${request.route ?? request.url}`);
        return request.url.startsWith('/api/')
          ? { allow: false, reason: 'Access to the admin API needs the admin role' }
          : { allow: true, subject: 'test' };
      },
    };
    const app = await buildHttpServer(archive);
    const denied = await app.inject({ method: 'GET', url: '/api/stats' });
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.json().detail, 'Access to the admin API needs the admin role');
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/missing' })).statusCode, 404);
    assert.deepEqual(seen, ['GET /api/stats', 'GET /healthz', 'GET /missing']);
    await app.close();
  } finally {
    await archive.cleanup();
  }
});

test('http - a problem document is titled by its status, with the reason as detail', async () => {
  const archive = await openTestArchive();
  try {
    const app = await buildHttpServer(archive);
    const cases: [string, number, string][] = [
      ['/dicom-web/studies/9.9.9/metadata', 404, 'Not Found'],
      ['/dicom-web/studies?NoSuchParameter=1', 400, 'Bad Request'],
      ['/no/such/route', 404, 'Not Found'],
    ];
    for (const [url, status, title] of cases) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, status, url);
      assert.match(String(res.headers['content-type']), /application\/problem\+json/);
      const problem = res.json();
      assert.equal(problem.title, title, url);
      assert.equal(problem.status, status);
      assert.ok(problem.detail.length > 10, problem.detail);
    }
    await app.close();
  } finally {
    await archive.cleanup();
  }
});
