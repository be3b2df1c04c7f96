import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { buildCtSeries, buildUltrasoundClip, synthesizeBytes } from '@atrium/dicom';
import { openTestArchive } from '../test-support.js';
import { registerWebApp } from './index.js';

type TestArchive = Awaited<ReturnType<typeof openTestArchive>>;

/** Three patients, four studies, CT and US, different dates, accessions and descriptions. */
async function loadStudies(archive: TestArchive): Promise<Record<string, string>> {
  const uids: Record<string, string> = {};
  const ct = (key: string, patientName: string, patientId: string, studyDate: string, accessionNumber: string, studyDescription: string, slices: number) => {
    const series = buildCtSeries({ slices, rows: 16, columns: 16, patient: { patientName, patientId }, study: { studyDate, accessionNumber, studyDescription } });
    uids[key] = series.studyInstanceUid;
    return series.instances;
  };
  const objects = [
    ...ct('doe1', 'DOE^JANE', 'PID-001', '20240105', 'ACC100', 'CT THORAX', 3),
    ...ct('doe2', 'DOE^JANE', 'PID-001', '20240610', 'ACC200', 'CT ABDOMEN', 2),
    ...ct('roe', 'ROE^RICHARD', 'PID-002', '20231120', 'ACC300', 'CT HEAD 50%', 1),
  ];
  for (const o of objects) await archive.ingest.ingest([o.bytes], { kind: 'import' });
  const clip = buildUltrasoundClip({ frames: 2, rows: 32, columns: 32, patient: { patientName: 'MÜLLER^ÄNNE', patientId: 'PID-003' }, study: { studyDate: '20240301', accessionNumber: 'ACC400', studyDescription: 'ECHO' } });
  await archive.ingest.ingest([await synthesizeBytes(clip)], { kind: 'import' });
  uids.echo = clip.studyInstanceUid;
  return uids;
}

async function withApp(fn: (app: ReturnType<typeof Fastify>, archive: TestArchive, dirs: { web: string; ohif: string }) => Promise<void>, setup?: (dirs: { web: string; ohif: string }) => void) {
  const archive = await openTestArchive();
  const root = mkdtempSync(join(tmpdir(), 'atrium-web-'));
  const dirs = { web: join(root, 'web'), ohif: join(root, 'ohif') };
  setup?.(dirs);
  const app = Fastify();
  try {
    await registerWebApp(app, archive, { webDist: dirs.web, ohifDist: dirs.ohif, events: { pollMs: 50 } });
    await fn(app, archive, dirs);
  } finally {
    await app.close();
    await archive.cleanup();
    rmSync(root, { recursive: true, force: true });
  }
}

test('worklist - each filter finds exactly its studies', async () => {
  await withApp(async (app, archive) => {
    const uids = await loadStudies(archive);
    const search = async (query: string) => {
      const res = await app.inject({ method: 'GET', url: `/api/worklist?${query}` });
      assert.equal(res.statusCode, 200, res.body);
      return (res.json().studies as { studyInstanceUid: string }[]).map((s) => s.studyInstanceUid).sort();
    };
    assert.deepEqual(await search('patient=doe'), [uids.doe1, uids.doe2].sort());
    assert.deepEqual(await search('patient=jane%20doe'), [uids.doe1, uids.doe2].sort(), 'words in any order');
    assert.deepEqual(await search('patient=pid-002'), [uids.roe]);
    assert.deepEqual(await search('patient=m%C3%BCller'), [uids.echo], 'non-ASCII names match case-insensitively');
    assert.deepEqual(await search('accessionNumber=ACC2'), [uids.doe2]);
    assert.deepEqual(await search('studyDescription=thorax'), [uids.doe1]);
    assert.deepEqual(await search('studyDescription=50%25'), [uids.roe], '% is literal, not a wildcard');
    assert.deepEqual(await search('modality=US'), [uids.echo]);
    assert.deepEqual(await search('modality=C'), [], 'a modality matches whole values only');
    assert.deepEqual(await search('dateFrom=2024-01-01&dateTo=2024-03-31'), [uids.doe1, uids.echo].sort());
    assert.deepEqual(await search('dateFrom=20240601'), [uids.doe2]);
    assert.deepEqual(await search('patient=doe&modality=CT&dateTo=2024-02-01'), [uids.doe1]);
  });
});

test('worklist - sorts, pages and reports series and instance counts', async () => {
  await withApp(async (app, archive) => {
    const uids = await loadStudies(archive);
    const byDate = (await app.inject({ method: 'GET', url: '/api/worklist' })).json();
    assert.equal(byDate.total, 4);
    assert.deepEqual(
      byDate.studies.map((s: { studyDate: string }) => s.studyDate),
      ['20240610', '20240301', '20240105', '20231120'],
      'newest first by default',
    );
    const doe1 = byDate.studies.find((s: { studyInstanceUid: string }) => s.studyInstanceUid === uids.doe1);
    assert.equal(doe1.numberOfSeries, 1);
    assert.equal(doe1.numberOfInstances, 3);
    assert.deepEqual(doe1.modalities, ['CT']);
    assert.equal(doe1.patientName, 'DOE^JANE');
    assert.equal(doe1.accessionNumber, 'ACC100');

    const page1 = (await app.inject({ method: 'GET', url: '/api/worklist?sort=patientName&order=asc&limit=2' })).json();
    const page2 = (await app.inject({ method: 'GET', url: '/api/worklist?sort=patientName&order=asc&limit=2&offset=2' })).json();
    assert.equal(page1.total, 4);
    const names = [...page1.studies, ...page2.studies].map((s: { patientName: string }) => s.patientName);
    assert.deepEqual(names, ['DOE^JANE', 'DOE^JANE', 'MÜLLER^ÄNNE', 'ROE^RICHARD']);
    const instances = (await app.inject({ method: 'GET', url: '/api/worklist?sort=numberOfInstances&order=desc&limit=1' })).json();
    assert.equal(instances.studies[0].studyInstanceUid, uids.doe1);
  });
});

test('worklist - a bad sort key or date is a 400 with the reason', async () => {
  await withApp(async (app) => {
    const sort = await app.inject({ method: 'GET', url: '/api/worklist?sort=drop' });
    assert.equal(sort.statusCode, 400);
    assert.match(sort.json().message ?? sort.json().detail, /Cannot sort by 'drop'/);
    const date = await app.inject({ method: 'GET', url: '/api/worklist?dateFrom=yesterday' });
    assert.equal(date.statusCode, 400);
    assert.match(date.body, /Cannot search by date from 'yesterday'/);
  });
});

test('web app - index.html carries the boot configuration for every app route; assets are cross-origin isolated', async () => {
  await withApp(
    async (app) => {
      for (const url of ['/', '/upload', '/studies/1.2.3', '/studies/1.2.3/series/4.5.6']) {
        const res = await app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 200, url);
        assert.match(res.body, /<div id="root"><\/div>/);
        const boot = JSON.parse(/<script id="atrium-config" type="application\/json">(.*?)<\/script>/.exec(res.body)![1]!);
        assert.equal(boot.aeTitle, 'ATRIUM');
        assert.equal(boot.ohifPath, null, 'no OHIF in this folder');
        assert.equal(res.headers['cross-origin-embedder-policy'], 'require-corp');
      }
      const asset = await app.inject({ method: 'GET', url: '/assets/app-1234.js' });
      assert.equal(asset.body, 'console.log(1)');
      assert.equal(asset.headers['cross-origin-opener-policy'], 'same-origin');
      assert.match(String(asset.headers['cache-control']), /immutable/);
      const ohif = await app.inject({ method: 'GET', url: '/ohif/' });
      assert.equal(ohif.statusCode, 503);
      assert.match(ohif.json().detail, /npm run build -w @atrium\/web/);
    },
    (dirs) => {
      mkdirSync(join(dirs.web, 'assets'), { recursive: true });
      writeFileSync(join(dirs.web, 'index.html'), '<!doctype html><html><head><title>Atrium</title></head><body><div id="root"></div></body></html>');
      writeFileSync(join(dirs.web, 'assets', 'app-1234.js'), 'console.log(1)');
    },
  );
});

test('ohif - app-config.js is generated for the same-origin DICOMweb; viewer routes fall back to index.html', async () => {
  await withApp(
    async (app) => {
      const config = await app.inject({ method: 'GET', url: '/ohif/app-config.js' });
      assert.equal(config.statusCode, 200);
      assert.match(String(config.headers['content-type']), /javascript/);
      const window: { config?: { dataSources: { configuration: Record<string, unknown> }[]; routerBasename: string; defaultDataSourceName: string } } = {};
      new Function('window', config.body)(window);
      assert.equal(window.config!.routerBasename, '/ohif');
      assert.equal(window.config!.defaultDataSourceName, 'atrium');
      const source = window.config!.dataSources[0]!.configuration;
      assert.equal(source.qidoRoot, '/dicom-web');
      assert.equal(source.wadoRoot, '/dicom-web');
      assert.doesNotMatch(config.body, /https?:\/\//, 'nothing points outside the origin');
      const viewer = await app.inject({ method: 'GET', url: '/ohif/viewer?StudyInstanceUIDs=1.2.3' });
      assert.equal(viewer.statusCode, 200);
      assert.match(viewer.body, /OHIF index/);
      assert.equal(viewer.headers['cross-origin-embedder-policy'], 'require-corp');
      const bundle = await app.inject({ method: 'GET', url: '/ohif/app.bundle.js' });
      assert.equal(bundle.body, 'ohif()');
      assert.equal(bundle.headers['cross-origin-opener-policy'], 'same-origin');
      const missing = await app.inject({ method: 'GET', url: '/ohif/missing.js' });
      assert.equal(missing.statusCode, 404);
      const page = await app.inject({ method: 'GET', url: '/' });
      assert.equal(JSON.parse(/<script id="atrium-config" type="application\/json">(.*?)<\/script>/.exec(page.body)![1]!).ohifPath, '/ohif/');
      assert.match(page.body, /not built/, 'without a web build, / says how to build it');
    },
    (dirs) => {
      mkdirSync(dirs.ohif, { recursive: true });
      writeFileSync(join(dirs.ohif, 'index.html'), '<html>OHIF index</html>');
      writeFileSync(join(dirs.ohif, 'app.bundle.js'), 'ohif()');
      writeFileSync(join(dirs.ohif, 'app-config.js'), 'window.config = { packaged: true }');
      writeFileSync(join(dirs.ohif, '.atrium-ohif'), '3.13.2 sha512-x /ohif/\n');
    },
  );
});

test('ohif - a site relocated to another path is refused at start-up', async () => {
  const archive = await openTestArchive();
  const dir = mkdtempSync(join(tmpdir(), 'atrium-ohif-'));
  try {
    writeFileSync(join(dir, 'index.html'), '<html></html>');
    writeFileSync(join(dir, '.atrium-ohif'), '3.13.2 sha512-x /viewer/\n');
    await assert.rejects(registerWebApp(Fastify(), archive, { ohifDist: dir, webDist: dir }), /relocated to '\/viewer\/', not '\/ohif\/'/);
  } finally {
    await archive.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('events - a study stored after a client connects arrives as a study event', async () => {
  await withApp(async (app, archive) => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port, path: '/api/events' }, resolve).on('error', reject).end();
    });
    assert.equal(response.headers['content-type'], 'text/event-stream; charset=utf-8');
    response.setEncoding('utf8');
    // One listener for the whole test: a chunk that arrives between two waits must not be lost.
    let text = '';
    response.on('data', (chunk: string) => (text += chunk));
    const waitFor = async (pattern: RegExp) => {
      for (let i = 0; i < 100; i++) {
        const m = pattern.exec(text);
        if (m) return m;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`No ${pattern} in ${text}`);
    };
    await waitFor(/event: ready\ndata: \{"seq":0\}/);
    const series = buildCtSeries({ slices: 2, rows: 16, columns: 16 });
    for (const slice of series.instances) await archive.ingest.ingest([slice.bytes], { kind: 'import' });
    const match = await waitFor(/event: study\ndata: (.*)\n\n/);
    const event = JSON.parse(match[1]!);
    assert.equal(event.studyInstanceUid, series.studyInstanceUid);
    assert.equal(event.action, 'created');
    response.destroy();
  });
});
