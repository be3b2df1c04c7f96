import { buildCtSeries } from '@atrium/dicom';
import { openTestServer } from '../test-support.js';
import { findInstanceLayout } from '../wado-rs/lookup.js';
import { readFrame } from '../../retrieve/index.js';
const server = await openTestServer();
const ct = buildCtSeries({ slices: 100, rows: 256, columns: 256, seed: 1 });
for (const i of ct.instances) await server.archive.ingest.ingest([i.bytes], { kind: 'import' });
for (let round = 0; round < 2; round++) {
  let t = performance.now();
  const layouts = [];
  for (const i of ct.instances) layouts.push(await findInstanceLayout(server.archive.database, ct.studyInstanceUid, ct.seriesInstanceUid, i.sopInstanceUid));
  console.log('layout', ((performance.now() - t) / 100).toFixed(2));
  t = performance.now();
  for (const l of layouts) await readFrame(server.archive.store, l!, l!.frames[0]!);
  console.log('readFrame', ((performance.now() - t) / 100).toFixed(2));
  t = performance.now();
  for (const i of ct.instances) await server.app.inject({ url: '/healthz' });
  console.log('inject healthz', ((performance.now() - t) / 100).toFixed(2));
  t = performance.now();
  for (const i of ct.instances) await server.app.inject({ url: `/dicom-web/studies/${ct.studyInstanceUid}/series/${ct.seriesInstanceUid}/instances/${i.sopInstanceUid}/frames/1`, headers: { accept: 'application/octet-stream' } });
  console.log('inject bare frame', ((performance.now() - t) / 100).toFixed(2));
}
await server.close();
