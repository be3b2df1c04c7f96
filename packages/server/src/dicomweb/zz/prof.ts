import { buildCtSeries } from '@atrium/dicom';
import { openTestServer } from '../test-support.js';
const server = await openTestServer();
const ct = buildCtSeries({ slices: 100, rows: 256, columns: 256, seed: 1 });
let t = performance.now();
for (const i of ct.instances) await server.archive.ingest.ingest([i.bytes], { kind: 'import' });
console.log('ingest 100 x 128KB sequential', ((performance.now() - t) / 100).toFixed(2), 'ms each');
const urls = ct.instances.map((i) => `/dicom-web/studies/${ct.studyInstanceUid}/series/${ct.seriesInstanceUid}/instances/${i.sopInstanceUid}/frames/1`);
for (let round = 0; round < 3; round++) {
  t = performance.now();
  for (const url of urls) {
    const r = await server.app.inject({ url, headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
    if (r.statusCode !== 200) throw new Error(r.body);
  }
  console.log('frames', ((performance.now() - t) / urls.length).toFixed(2), 'ms each');
}
const big = buildCtSeries({ slices: 1000, rows: 8, columns: 8, seed: 2 });
t = performance.now();
for (const i of big.instances) await server.archive.ingest.ingest([i.bytes], { kind: 'import' });
console.log('ingest 1000 small', ((performance.now() - t) / 1000).toFixed(2), 'ms each');
const meta = `/dicom-web/studies/${big.studyInstanceUid}/series/${big.seriesInstanceUid}/metadata`;
for (let round = 0; round < 5; round++) {
  t = performance.now();
  const r = await server.app.inject({ url: meta });
  console.log('metadata', (performance.now() - t).toFixed(1), 'ms', r.rawPayload.length, r.headers.etag);
}
t = performance.now();
await server.archive.archive.getSeriesMetadata(big.seriesInstanceUid);
console.log('getSeriesMetadata', (performance.now() - t).toFixed(1));
await server.close();
