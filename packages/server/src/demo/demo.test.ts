import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openTestArchive } from '../test-support.js';
import { loadDemo } from './demo.js';

test('loadDemo - stores a CT study and every cardiology study (echo, ECG, stress echo, XA with hemodynamics); a second run stores nothing', async () => {
  const archive = await openTestArchive({ ATRIUM_DURABILITY: 'process-crash' });
  try {
    const first = await loadDemo(archive.ingest);
    assert.deepEqual(
      first.map((r) => [r.instances, r.outcome]),
      [
        [12, '12 stored'],
        [1, '1 stored'],
        [1, '1 stored'],
        [16, '16 stored'],
        [2, '2 stored'],
      ],
    );
    const stats = await archive.archive.stats();
    assert.deepEqual([stats.patients, stats.studies, stats.instances], [4, 5, 32]);
    assert.deepEqual(
      Object.fromEntries(Object.entries(stats.byModality).map(([m, s]) => [m, s?.instances])),
      { CT: 12, US: 17, ECG: 1, XA: 1, HD: 1 },
    );
    const again = await loadDemo(archive.ingest);
    assert.ok(again.every((r) => r.outcome === `${r.instances} already stored`), JSON.stringify(again));
  } finally {
    await archive.cleanup();
  }
});
