import { buildCtSeries } from '@atrium/dicom';
import { openTestServer } from '../test-support.js';
const server = await openTestServer();
const ct = buildCtSeries({ slices: 100, rows: 256, columns: 256, seed: 1 });
for (const i of ct.instances) await server.archive.ingest.ingest([i.bytes], { kind: 'import' });
await server.app.listen({ port: 0, host: '127.0.0.1' });
const addr = server.app.server.address() as { port: number };
const urls = ct.instances.map((i) => `http://127.0.0.1:${addr.port}/dicom-web/studies/${ct.studyInstanceUid}/series/${ct.seriesInstanceUid}/instances/${i.sopInstanceUid}/frames/1`);
for (let round = 0; round < 3; round++) {
  const t = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < urls.length * 3) {
      const u = urls[next++ % urls.length]!;
      const r = await fetch(u, { headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
      await r.arrayBuffer();
    }
  }));
  console.log('frames/s over HTTP', (300 / ((performance.now() - t) / 1000)).toFixed(0));
}
await server.close();
