// Study-level query latency of the query engine on a large index:
//   node --import tsx --conditions=source packages/server/scripts/bench-query.ts
// Environment: PATIENTS (default 5000; × 2 studies × 2 series × 5 instances = 100,000 instances), RUNS (default 50),
// FILE=1 to use a database file (WAL, as served) instead of memory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DicomJsonDataset } from '@atrium/dicom';
import { openDatabase } from '@atrium/db';
import { QueryEngine, type QueryRequest } from '../src/query/query-engine.ts';
import { bulkInsertArchive } from '../src/query/query-test-support.ts';

const patients = Number(process.env.PATIENTS ?? 5000);
const runs = Number(process.env.RUNS ?? 50);
const dir = mkdtempSync(join(tmpdir(), 'atrium-bench-query-'));
const database = await openDatabase({ kind: 'sqlite', path: process.env.FILE ? join(dir, 'index.sqlite') : ':memory:', synchronous: 'NORMAL' });
const t0 = performance.now();
const { instances } = await bulkInsertArchive(database, { patients, studiesPerPatient: 2, seriesPerStudy: 2, instancesPerSeries: 5 });
console.log(`${instances} instances indexed in ${(performance.now() - t0).toFixed(0)} ms`);
const engine = new QueryEngine({ database, retrieveAeTitle: 'ATRIUM' });

// The return keys a viewer's study list asks for (close to QIDO-RS defaults), plus one from the stored document.
const returnKeys: DicomJsonDataset = Object.fromEntries(
  ['0020000D', '00100010', '00100020', '00100030', '00100040', '00080020', '00080030', '00080050', '00081030', '00080061', '00201206', '00201208', '00080056'].map(
    (t) => [t, { vr: 'UN' as const }],
  ),
);
const study = (keys: DicomJsonDataset, extra: Partial<QueryRequest> = {}): QueryRequest => ({
  level: 'STUDY',
  model: 'STUDY_ROOT',
  keys: { ...returnKeys, ...keys },
  limit: 100,
  ...extra,
});
const searches: Array<[string, QueryRequest]> = [
  ['all studies, first 100', study({})],
  ['patient id', study({ '00100020': { vr: 'LO', Value: [`PID${Math.floor(patients / 2)}`] } })],
  ['patient name prefix', study({ '00100010': { vr: 'PN', Value: [{ Alphabetic: 'smith1*' }] } })],
  ['patient name fuzzy', study({ '00100010': { vr: 'PN', Value: [{ Alphabetic: 'muller lena' }] } }, { fuzzyMatching: true })],
  ['accession number', study({ '00080050': { vr: 'SH', Value: ['A4242'] } })],
  ['date range (1 month)', study({ '00080020': { vr: 'DA', Value: ['20200101-20200131'] } })],
  ['date range + modality', study({ '00080020': { vr: 'DA', Value: ['20200101-20201231'] }, '00080061': { vr: 'CS', Value: ['MR'] } })],
  ['description wildcard', study({ '00081030': { vr: 'LO', Value: ['*42'] } })],
  ['with PatientAge (document)', study({ '00080020': { vr: 'DA', Value: ['20200101-20200131'] }, '00101010': { vr: 'AS' } })],
];

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
console.log(`search                          results   median ms   p95 ms   count ms`);
for (const [name, request] of searches) {
  const times: number[] = [];
  let results = 0;
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    results = 0;
    for await (const _ of engine.find(request)) results++;
    times.push(performance.now() - started);
  }
  const countStarted = performance.now();
  await engine.count(request);
  const countMs = performance.now() - countStarted;
  times.sort((a, b) => a - b);
  console.log(
    `${name.padEnd(32)}${String(results).padStart(7)}${quantile(times, 0.5).toFixed(2).padStart(12)}${quantile(times, 0.95).toFixed(2).padStart(9)}${countMs.toFixed(2).padStart(11)}`,
  );
}
await database.close();
rmSync(dir, { recursive: true, force: true });
