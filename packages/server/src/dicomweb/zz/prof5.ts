import { buildCtSeries } from '@atrium/dicom';
import { openTestServer } from '../test-support.js';
import { request } from 'node:http';
const server = await openTestServer();
const big = buildCtSeries({ slices: 1000, rows: 8, columns: 8, seed: 2 });
for (const i of big.instances) await server.archive.ingest.ingest([i.bytes], { kind: 'import' });
await server.app.listen({ port: 0, host: '127.0.0.1' });
const addr = server.app.server.address() as { port: number };
const path = `/dicom-web/studies/${big.studyInstanceUid}/series/${big.seriesInstanceUid}/metadata`;
const url = `http://127.0.0.1:${addr.port}${path}`;
for (let round = 0; round < 4; round++) {
  let t = performance.now();
  const r = await fetch(url, { headers: { accept: 'application/dicom+json' } });
  const b = await r.arrayBuffer();
  const fetchMs = performance.now() - t;
  t = performance.now();
  const size = await new Promise<number>((resolve) => request({ host: '127.0.0.1', port: addr.port, path, headers: { accept: 'application/dicom+json' } }, (res) => { let n = 0; res.on('data', (c) => (n += c.length)); res.on('end', () => resolve(n)); }).end());
  const httpMs = performance.now() - t;
  t = performance.now();
  const sizeGz = await new Promise<number>((resolve) => request({ host: '127.0.0.1', port: addr.port, path, headers: { accept: 'application/dicom+json', 'accept-encoding': 'gzip' } }, (res) => { let n = 0; res.on('data', (c) => (n += c.length)); res.on('end', () => resolve(n)); }).end());
  console.log(`fetch ${fetchMs.toFixed(1)} ms (${b.byteLength}, ${r.headers.get('content-encoding')}), http identity ${httpMs.toFixed(1)} ms (${size}), http gzip ${(performance.now() - t).toFixed(1)} ms (${sizeGz})`);
}
await server.close();
