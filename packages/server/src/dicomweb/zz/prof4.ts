import { buildCtSeries } from '@atrium/dicom';
import { openTestServer, stowBody } from '../test-support.js';
const server = await openTestServer(process.argv[2] === 'normal' ? { ATRIUM_DB_SYNCHRONOUS: 'NORMAL' } : {});
const batches = [];
for (let s = 0; s < 5; s++) batches.push(buildCtSeries({ slices: 20, rows: 256, columns: 256, seed: 100 + s, patient: { patientId: `P${s}` } }));
let t = performance.now();
for (const b of batches.slice(0, 2)) {
  const { body, contentType } = await stowBody(b.instances.map((i) => i.bytes));
  const r = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': contentType }, payload: body });
  if (r.statusCode !== 200) throw new Error(r.body);
}
console.log('stow sequential', ((performance.now() - t) / 40).toFixed(2), 'ms/instance');
t = performance.now();
for (const i of batches[2]!.instances) await server.archive.ingest.ingest([i.bytes], { kind: 'import' });
console.log('ingest direct', ((performance.now() - t) / 20).toFixed(2), 'ms/instance');
t = performance.now();
await Promise.all(batches.slice(3).map(async (b) => {
  const { body, contentType } = await stowBody(b.instances.map((i) => i.bytes), `bb${b.patientId}`);
  const r = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': contentType }, payload: body });
  if (r.statusCode !== 200) throw new Error(r.body);
}));
console.log('stow 2 parallel', ((performance.now() - t) / 40).toFixed(2), 'ms/instance');
await server.close();
