import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type AtriumDatabase } from '@atrium/db';
import { createLogger } from '../logger.js';
import { FhirService } from './fhir-service.js';
import { parseSearch } from './search-query.js';

const LOINC = 'http://loinc.org';
const MRN = 'urn:oid:1.2.840.555';
const PATIENTS = 400;

/** A plan step that reads a whole table (or every row of a type) instead of seeking the few rows it needs. */
function broadSteps(plan: string[]): string[] {
  return plan.filter((line) => /^SCAN /.test(line) || /fhir_resource_type_updated_idx/.test(line) || /\(resource_type=\? AND param=\?\)$/.test(line));
}

// The benchmark's queries (scripts/bench-fhir.ts) must each be driven by the index of their most selective
// parameter: a regression test for the date-sorted search that walked every Observation (32 ms at 100,000).
describe('FHIR search query plans', () => {
  let database: AtriumDatabase;
  let service: FhirService;

  before(async () => {
    database = await openDatabase({ kind: 'sqlite', path: ':memory:' });
    service = new FhirService({ database, logger: createLogger({ log: { level: 'silent' } } as never) });
    await service.repository.transaction(async (trx) => {
      for (let i = 0; i < PATIENTS; i++) {
        const patient = { resourceType: 'Patient', id: `p${i}`, identifier: [{ system: MRN, value: `MRN${i}` }], name: [{ family: `Fam${i % 40}son`, given: [`Given${i}`] }] };
        await service.write(trx, service.validate('Patient', patient), 'POST', undefined, { relink: false });
        for (let k = 0; k < 10; k++) {
          const observation = {
            resourceType: 'Observation',
            id: `o${i}-${k}`,
            status: 'final',
            code: { coding: [{ system: LOINC, code: `${1000 + ((i + k) % 20)}-0` }] },
            subject: { reference: `Patient/p${i}` },
            effectiveDateTime: `${2021 + (k % 4)}-0${1 + (k % 9)}-15T10:00:00Z`,
          };
          await service.write(trx, service.validate('Observation', observation), 'POST', undefined, { relink: false });
        }
      }
    });
  });
  after(async () => database.close());

  const cases: Array<[string, string, RegExp, (ids: string[]) => void]> = [
    ['Patient by name', 'Patient?name=fam7son&_count=20', /fhir_string_search_idx \(resource_type=\? AND param=\? AND value>\? AND value<\?\)/, (ids) => {
      assert.equal(ids.length, 10);
      for (const id of ids) assert.equal(Number(id.slice(1)) % 40, 7);
    }],
    ['Patient by identifier', `Patient?identifier=${encodeURIComponent(`${MRN}|MRN123`)}`, /fhir_token_search_idx \(resource_type=\? AND param=\? AND code=\? AND system=\?\)/, (ids) => assert.deepEqual(ids, ['p123'])],
    ['Observations of a patient by code', `Observation?patient=p12&code=${encodeURIComponent(`${LOINC}|1015-0`)}`, /fhir_reference_search_idx \(resource_type=\? AND param=\? AND target_id=\?/, (ids) => assert.deepEqual(ids, ['o12-3'])],
    ['Observations of a patient by date, sorted', 'Observation?patient=p12&date=ge2023-01-01&_sort=-date', /fhir_reference_search_idx \(resource_type=\? AND param=\? AND target_id=\?/, (ids) => {
      assert.deepEqual(ids, ['o12-7', 'o12-3', 'o12-6', 'o12-2']);
    }],
    ['chained search on the subject', 'Observation?subject:Patient.identifier=' + encodeURIComponent(`${MRN}|MRN5`), /fhir_token_search_idx \(resource_type=\? AND param=\? AND code=\? AND system=\?\)/, (ids) => assert.equal(ids.length, 10)],
  ];

  for (const [name, url, index, check] of cases) {
    test(`query plan - ${name} seeks the most selective index, no walk over the type`, async () => {
      const [type, query] = url.split('?') as [string, string];
      const parsed = parseSearch(type, [...new URLSearchParams(query)]);
      const plan = await service.repository.explain(service.repository.db, parsed.query);
      assert.deepEqual(broadSteps(plan), [], plan.join('\n'));
      assert.match(plan[0] ?? '', /^SEARCH r USING INTEGER PRIMARY KEY/, plan.join('\n'));
      assert.match(plan.join('\n'), index, plan.join('\n'));
      const { resources } = await service.repository.search(service.repository.db, parsed.query);
      check(resources.map((r) => r.id));
    });
  }
});
