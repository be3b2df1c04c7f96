import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DicomJsonDataset } from '@atrium/dicom';
import { openDatabase, type AtriumDatabase } from '@atrium/db';
import { QueryEngine, type QueryRequest } from './query-engine.js';
import { bulkInsertArchive } from './query-test-support.js';

const study = (keys: DicomJsonDataset, extra: Partial<QueryRequest> = {}): QueryRequest => ({
  level: 'STUDY',
  model: 'STUDY_ROOT',
  keys: { '0020000D': { vr: 'UI' }, '00100010': { vr: 'PN' }, '00080061': { vr: 'CS' }, ...keys },
  limit: 50,
  ...extra,
});

/** A plan line that reads a whole table of the searched levels instead of seeking an index. */
function fullScans(plan: string[]): string[] {
  return plan.filter((line) => /^SCAN (st|p|se|i)\b/.test(line) && !/USING (COVERING )?INDEX/.test(line));
}

describe('QueryEngine on 20,000 instances', () => {
  let database: AtriumDatabase;
  let engine: QueryEngine;

  before(async () => {
    database = await openDatabase({ kind: 'sqlite', path: ':memory:' });
    // 1,000 patients × 2 studies × 2 series × 5 instances.
    const { instances } = await bulkInsertArchive(database, { patients: 1000, studiesPerPatient: 2, seriesPerStudy: 2, instancesPerSeries: 5 });
    assert.equal(instances, 20_000);
    engine = new QueryEngine({ database, retrieveAeTitle: 'ATRIUM' });
  });
  after(async () => database.close());

  const cases: Array<[string, QueryRequest, RegExp]> = [
    ['date range', study({ '00080020': { vr: 'DA', Value: ['20200101-20200131'] } }), /study_date_time_idx/],
    ['date range with time range', study({ '00080020': { vr: 'DA', Value: ['20200101-20200131'] }, '00080030': { vr: 'TM', Value: ['0800-1200'] } }), /study_date_time_idx/],
    ['patient name prefix', study({ '00100010': { vr: 'PN', Value: [{ Alphabetic: 'smith1*' }] } }), /patient_name_search_idx/],
    ['accession number', study({ '00080050': { vr: 'SH', Value: ['A1234'] } }), /study_accession_number_idx/],
    ['patient id', study({ '00100020': { vr: 'LO', Value: ['PID77'] } }), /patient_identity_unique|autoindex_patient/],
    ['study instance uid', study({ '0020000D': { vr: 'UI', Value: ['1.2.826.0.1.3680043.10.1.99'] } }), /autoindex_study/],
    ['modality with date range', study({ '00080061': { vr: 'CS', Value: ['MR'] }, '00080020': { vr: 'DA', Value: ['20200101-20200331'] } }), /study_date_time_idx|series_modality_study_idx/],
  ];

  for (const [name, request, index] of cases) {
    test(`query plan - ${name} seeks an index, no full scan`, async () => {
      const plan = await engine.explain(request);
      assert.deepEqual(fullScans(plan), [], plan.join('\n'));
      assert.match(plan.join('\n'), index, plan.join('\n'));
    });
  }

  test('query results - a date range answers the studies of that range only', async () => {
    const request = study({ '00080020': { vr: 'DA', Value: ['20200101-20200131'] } }, { limit: 1000 });
    let n = 0;
    for await (const result of engine.find(request)) {
      const date = String(result['00080020']?.Value?.[0]);
      assert.ok(date >= '20200101' && date <= '20200131', date);
      n++;
    }
    assert.ok(n > 0);
    assert.equal(await engine.count(request), n);
  });

  test('query results - a name prefix search is fast and correct', async () => {
    const request = study({ '00100010': { vr: 'PN', Value: [{ Alphabetic: 'smith1*' }] } });
    const started = performance.now();
    const results = [];
    for await (const result of engine.find(request)) results.push(result);
    const elapsed = performance.now() - started;
    assert.ok(results.length > 0 && results.length <= 50);
    for (const r of results) assert.match(String((r['00100010']?.Value?.[0] as { Alphabetic: string }).Alphabetic), /^SMITH1/);
    // Generous: guards against a full scan slipping in, not a benchmark (see scripts/bench-query.ts).
    assert.ok(elapsed < 500, `took ${elapsed} ms`);
  });
});
