import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openDatabase } from './database.js';
import { syntheticParsed } from './test-support.js';

test('listInstanceBlobs - pages through 20,000 instances without holding the database between pages', async (t) => {
  const db = await openDatabase({ kind: 'sqlite', path: ':memory:' });
  t.after(() => db.close());
  const total = 20_000;
  const batch = 500;
  const started = performance.now();
  for (let first = 0; first < total; first += batch) {
    // Concurrent calls: each is its own transaction, serialised by the connection.
    await Promise.all(
      Array.from({ length: batch }, (_, k) => {
        const i = first + k;
        return db.archive.commitInstance({
          parsed: syntheticParsed({
            sopInstanceUid: `2.25.${i}`,
            studyInstanceUid: `2.25.9.${Math.floor(i / 1000)}`,
            seriesInstanceUid: `2.25.8.${Math.floor(i / 250)}`,
            patientId: `P${Math.floor(i / 2000)}`,
            instanceNumber: i % 250,
          }),
          blobKey: `dicom/${i}.dcm`,
          size: 100 + (i % 7),
          digest: `digest-${i}`,
          source: { kind: 'import' },
          duplicatePolicy: 'keep',
        });
      }),
    );
  }
  // Slower than scripts/bench-commit-instance.ts: node:test tracks every promise with async hooks.
  t.diagnostic(`${total} commits in ${(performance.now() - started).toFixed(0)} ms`);
  const stats = await db.archive.stats();
  assert.deepEqual([stats.patients, stats.studies, stats.series, stats.instances], [10, 20, 80, total]);

  const seen = new Set<string>();
  let bytes = 0;
  let interleaved = false;
  for await (const blob of db.archive.listInstanceBlobs({ pageSize: 1000 })) {
    seen.add(blob.sopInstanceUid);
    bytes += blob.size;
    assert.equal(blob.blobKey, `dicom/${blob.sopInstanceUid.slice('2.25.'.length)}.dcm`);
    if (seen.size === total / 2 && !interleaved) {
      interleaved = true;
      // Would never settle if the iteration held the (single) SQLite connection across pages.
      const write = db.archive.commitInstance({
        parsed: syntheticParsed({
          sopInstanceUid: '2.25.late',
          studyInstanceUid: '2.25.9.0',
          seriesInstanceUid: '2.25.8.0',
          patientId: 'P0',
        }),
        blobKey: 'dicom/late.dcm',
        size: 1,
        digest: 'late',
        source: { kind: 'import' },
        duplicatePolicy: 'keep',
      });
      const timeout = new Promise<never>((_, reject) => {
        const timer = setTimeout(() => reject(new Error('a write waited on the listing')), 5000);
        write.finally(() => clearTimeout(timer)).catch(() => undefined);
      });
      assert.equal((await Promise.race([write, timeout])).outcome, 'stored');
    }
  }
  assert.equal(seen.size, total + 1, 'the instance committed mid-listing comes in a later page');
  assert.ok(seen.has('2.25.late'));
  assert.equal(bytes, stats.bytes + 1);
});
