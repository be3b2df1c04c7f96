// Measures ArchiveRepository.commitInstance throughput: node --import tsx --conditions=source packages/db/scripts/bench-commit-instance.ts
// Environment: N (default 5000), SYNC (NORMAL | FULL, default NORMAL).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/index.ts';
import { syntheticParsed } from '../src/test-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'atrium-bench-'));
const db = await openDatabase({ kind: 'sqlite', path: process.env.MEM ? ':memory:' : join(dir, 'bench.sqlite'), synchronous: (process.env.SYNC as any) ?? 'NORMAL' });
const N = Number(process.env.N ?? 5000);
const inputs = Array.from({ length: N }, (_, i) => {
  const study = Math.floor(i / 500), series = Math.floor(i / 100);
  return syntheticParsed({ sopInstanceUid: `1.2.9.${i}`, studyInstanceUid: `1.2.8.${study}`, seriesInstanceUid: `1.2.7.${series}`, patientId: `P${study % 7}`, instanceNumber: i % 100 });
});
const t0 = performance.now();
// CONCURRENCY > 1 runs that many commits at once, as simultaneous associations would.
const concurrency = Number(process.env.CONCURRENCY ?? 1);
for (let first = 0; first < N; first += concurrency) {
  const batch = [];
  for (let i = first; i < Math.min(N, first + concurrency); i++) {
    batch.push(db.archive.commitInstance({ parsed: inputs[i]!, blobKey: `dicom/${i}.dcm`, size: 525288, digest: `d${i}`, source: { kind: 'import' }, duplicatePolicy: 'keep' }));
  }
  await Promise.all(batch);
}
const ms = performance.now() - t0;
console.log(`${N} commits in ${ms.toFixed(0)} ms: ${(N / (ms / 1000)).toFixed(0)} commits/s (synchronous=${process.env.SYNC ?? 'NORMAL'}, concurrency ${concurrency})`);
console.log(await db.archive.stats());
await db.close();
rmSync(dir, { recursive: true });
