import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCtSeries, readPart10 } from '@atrium/dicom';
import { openTestArchive } from '../test-support.js';
import { RetrieveService } from './retrieve-service.js';

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  // Copied: a pooled chunk may be given back once the next is asked for.
  for await (const c of stream) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

test('RetrieveService - resolves a study, a series and listed instances, and opens their bytes', async () => {
  const archive = await openTestArchive();
  try {
    const a = buildCtSeries({ slices: 3, rows: 16, columns: 16, seed: 1 });
    const b = buildCtSeries({ slices: 2, rows: 16, columns: 16, seed: 2, patient: { patientId: 'OTHER' } });
    for (const s of [...a.instances, ...b.instances]) await archive.ingest.ingest([s.bytes], { kind: 'import' });
    const retrieve = new RetrieveService(archive);

    const study = [];
    for await (const r of retrieve.instances({ studyInstanceUid: a.studyInstanceUid }, 2)) study.push(r.sopInstanceUid);
    assert.deepEqual(study.sort(), a.instances.map((i) => i.sopInstanceUid).sort(), 'paging returns each once');
    assert.equal(await retrieve.count({ seriesInstanceUid: b.seriesInstanceUid }), 2);
    assert.equal(await retrieve.count({ studyInstanceUid: a.studyInstanceUid, seriesInstanceUid: b.seriesInstanceUid }), 0);
    assert.equal(await retrieve.count({ sopInstanceUids: [] }), 0);

    for await (const r of retrieve.instances({ sopInstanceUids: [a.instances[1]!.sopInstanceUid] })) {
      const whole = await readAll(await retrieve.openPart10(r));
      assert.deepEqual(new Uint8Array(whole), a.instances[1]!.bytes);
      const dataset = await readAll(await retrieve.streamDataset(r));
      const parsed = await readPart10([a.instances[1]!.bytes]);
      assert.equal(r.datasetOffset, parsed.datasetOffset);
      assert.deepEqual(new Uint8Array(dataset), a.instances[1]!.bytes.subarray(parsed.datasetOffset));
      assert.equal(r.transferSyntaxUid, parsed.transferSyntaxUid);
    }
  } finally {
    await archive.cleanup();
  }
});

test('RetrieveService - layout, stored syntaxes in scope and the representative image of a series or study', async () => {
  const archive = await openTestArchive();
  try {
    const series = buildCtSeries({ slices: 5, rows: 16, columns: 16, seed: 3 });
    for (const s of series.instances) await archive.ingest.ingest([s.bytes], { kind: 'import' });
    const retrieve = new RetrieveService(archive);
    const [first] = series.instances;
    const layout = await retrieve.layout(series.studyInstanceUid, series.seriesInstanceUid, first!.sopInstanceUid);
    assert.ok(layout);
    assert.equal(layout.frames.length, 1);
    assert.equal(layout.deflated, false);
    const parsed = await readPart10([first!.bytes]);
    assert.equal(layout.frames[0]!.fragments[0]!.offset, parsed.pixelData!.offset, 'frame offsets recorded at ingest');
    assert.equal(await retrieve.layout('9.9.9', series.seriesInstanceUid, first!.sopInstanceUid), undefined, 'a wrong study UID is not found');
    assert.deepEqual(await retrieve.transferSyntaxes({ studyInstanceUid: series.studyInstanceUid }), [parsed.transferSyntaxUid]);
    const middle = series.instances[2]!.sopInstanceUid;
    assert.deepEqual(await retrieve.representative(series.studyInstanceUid), { seriesInstanceUid: series.seriesInstanceUid, sopInstanceUid: middle });
    assert.equal(await retrieve.representative('9.9.9'), undefined);
  } finally {
    await archive.cleanup();
  }
});
