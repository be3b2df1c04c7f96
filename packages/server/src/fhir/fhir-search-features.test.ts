import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openFhirHarness, type FhirHarness } from './fhir-harness.test-support.js';
import { FhirService } from './fhir-service.js';

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const SNOMED = 'http://snomed.info/sct';

describe('FHIR search - composite parameters, :text, :identifier, :in, :iterate', () => {
  let h: FhirHarness;
  const ids: Record<string, string> = {};
  const matches = (bundle: any): string[] =>
    ((bundle.entry ?? []) as any[]).filter((e) => e.search?.mode === 'match').map((e) => e.resource.id).sort();
  const included = (bundle: any): string[] =>
    ((bundle.entry ?? []) as any[]).filter((e) => e.search?.mode === 'include').map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort();
  const search = async (url: string, status = 200) => {
    const r = await h.call('GET', url);
    assert.equal(r.status, status, `${url}: ${JSON.stringify(r.body).slice(0, 400)}`);
    return r.body;
  };
  const create = async (key: string, resource: Record<string, unknown>) => {
    const r = await h.call('POST', `/fhir/${resource.resourceType}`, resource);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    ids[key] = r.body.id;
  };
  const bp = (systolic: number, diastolic: number) => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel' }] },
    subject: { reference: `Patient/${ids.pat}` },
    component: [
      { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: { value: systolic, unit: 'mm[Hg]', system: UCUM, code: 'mm[Hg]' } },
      { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: diastolic, unit: 'mm[Hg]', system: UCUM, code: 'mm[Hg]' } },
    ],
  });

  before(async () => {
    h = await openFhirHarness();
    await create('org', { resourceType: 'Organization', name: 'Clinic' });
    await create('dr', { resourceType: 'Practitioner', name: [{ family: 'Welby' }] });
    await create('pat', {
      resourceType: 'Patient',
      name: [{ family: 'Composite' }],
      generalPractitioner: [{ reference: `Practitioner/${ids.dr}` }],
      managingOrganization: { reference: `Organization/${ids.org}`, identifier: { system: 'urn:oid:2.16.1', value: 'CLINIC-1' } },
    });
    // Two readings: 150/70 and 120/95. A search for systolic >140 with diastolic >90 must not pair 150 with 95.
    await create('bp1', bp(150, 70));
    await create('bp2', bp(120, 95));
    await create('glucose', {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: LOINC, code: '2345-7' }], text: 'Glucose [Mass/volume] in Serum' },
      subject: { reference: `Patient/${ids.pat}` },
      valueQuantity: { value: 6.3, unit: 'mmol/L', system: UCUM, code: 'mmol/L' },
    });
    await create('smoking', {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: LOINC, code: '72166-2' }] },
      subject: { reference: `Patient/${ids.pat}` },
      valueCodeableConcept: { coding: [{ system: SNOMED, code: '8517006', display: 'Ex-smoker' }] },
    });
    await create('note1', { resourceType: 'DocumentReference', status: 'superseded', subject: { reference: `Patient/${ids.pat}` }, content: [{ attachment: { contentType: 'text/plain', data: 'dg==' } }] });
    await create('note2', {
      resourceType: 'DocumentReference',
      status: 'current',
      subject: { reference: `Patient/${ids.pat}` },
      relatesTo: [{ code: 'replaces', target: { reference: `DocumentReference/${ids.note1}` } }],
      content: [{ attachment: { contentType: 'text/plain', data: 'dw==' } }],
    });
  });
  after(async () => h.close());

  test('composite - code-value-quantity pairs the code with its own value', async () => {
    assert.deepEqual(matches(await search(`/fhir/Observation?code-value-quantity=${LOINC}|2345-7$gt6`)), [ids.glucose]);
    assert.deepEqual(matches(await search(`/fhir/Observation?code-value-quantity=2345-7$lt6`)), []);
    assert.deepEqual(matches(await search(`/fhir/Observation?code-value-quantity=${LOINC}|$6.3|${UCUM}|mmol/L`)), [ids.glucose]);
    assert.deepEqual(matches(await search(`/fhir/Observation?code-value-quantity=|2345-7$6.3`)), []);
    assert.deepEqual(matches(await search(`/fhir/Observation?code-value-quantity=85354-9$gt0,2345-7$ge6`)), [ids.glucose]);
  });

  test('composite - component-code-value-quantity matches within one component (FHIR search.html#composite)', async () => {
    const systolicHigh = `component-code-value-quantity=${LOINC}|8480-6$gt140`;
    const diastolicHigh = `component-code-value-quantity=${LOINC}|8462-4$gt90`;
    assert.deepEqual(matches(await search(`/fhir/Observation?${systolicHigh}`)), [ids.bp1]);
    assert.deepEqual(matches(await search(`/fhir/Observation?${diastolicHigh}`)), [ids.bp2]);
    // AND of two composites: no single reading has both.
    assert.deepEqual(matches(await search(`/fhir/Observation?${systolicHigh}&${diastolicHigh}`)), []);
    // Whereas the plain parameters cannot tell the components apart.
    assert.deepEqual(matches(await search(`/fhir/Observation?component-code=8480-6&component-value-quantity=gt90`)), [ids.bp1, ids.bp2].sort());
    assert.deepEqual(matches(await search(`/fhir/Observation?combo-code-value-quantity=8462-4$95`)), [ids.bp2]);
    assert.deepEqual(matches(await search(`/fhir/Observation?combo-code-value-quantity=2345-7$6.3`)), [ids.glucose]);
  });

  test('composite - code-value-concept, relationship; malformed values name the parameter', async () => {
    assert.deepEqual(matches(await search(`/fhir/Observation?code-value-concept=${LOINC}|72166-2$${SNOMED}|8517006`)), [ids.smoking]);
    assert.deepEqual(matches(await search(`/fhir/Observation?code-value-concept=72166-2$${SNOMED}|77176002`)), []);
    assert.deepEqual(matches(await search(`/fhir/DocumentReference?relationship=DocumentReference/${ids.note1}$replaces`)), [ids.note2]);
    assert.deepEqual(matches(await search(`/fhir/DocumentReference?relationship=${ids.note1}$appends`)), []);
    const bad = await search('/fhir/Observation?code-value-quantity=2345-7', 400);
    assert.deepEqual(bad.issue[0].expression, ['code-value-quantity']);
    const modifier = await search('/fhir/Observation?code-value-quantity:missing=true', 400);
    assert.equal(modifier.issue[0].code, 'not-supported');
  });

  test(':text on tokens - CodeableConcept.text and Coding.display, starts-with, accents and case ignored', async () => {
    assert.deepEqual(matches(await search('/fhir/Observation?code:text=glucose')), [ids.glucose]);
    assert.deepEqual(matches(await search('/fhir/Observation?code:text=BLOOD%20pressure')), [ids.bp1, ids.bp2].sort());
    assert.deepEqual(matches(await search('/fhir/Observation?value-concept:text=ex-smo')), [ids.smoking]);
    assert.deepEqual(matches(await search('/fhir/Observation?code:text=serum')), []);
  });

  test(':identifier on references - Reference.identifier as a token', async () => {
    assert.deepEqual(matches(await search('/fhir/Patient?organization:identifier=urn:oid:2.16.1|CLINIC-1')), [ids.pat]);
    assert.deepEqual(matches(await search('/fhir/Patient?organization:identifier=CLINIC-1')), [ids.pat]);
    assert.deepEqual(matches(await search('/fhir/Patient?organization:identifier=urn:oid:2.16.9|CLINIC-1')), []);
  });

  test(':in and :not-in - refused as not supported (no ValueSets), ignored and reported under handling=lenient', async () => {
    for (const modifier of ['in', 'not-in', 'below', 'above']) {
      const r = await search(`/fhir/Observation?code:${modifier}=http://hl7.org/fhir/ValueSet/observation-vitalsignresult`, 400);
      assert.equal(r.issue[0].code, 'not-supported');
      assert.deepEqual(r.issue[0].expression, [`code:${modifier}`]);
      assert.match(r.issue[0].diagnostics, /terminology service/);
    }
    const lenient = await h.call('GET', `/fhir/Observation?code:in=http://hl7.org/fhir/ValueSet/x&code=2345-7`, undefined, { prefer: 'handling=lenient' });
    assert.deepEqual(matches(lenient.body), [ids.glucose]);
    const capability = (await search('/fhir/metadata')).rest[0];
    assert.match(capability.documentation, /Not supported: token :in, :not-in/);
    assert.match(capability.documentation, /_include:iterate/);
  });

  test('_include:iterate and _revinclude:iterate follow references from included resources', async () => {
    const plain = await search(`/fhir/Observation?_id=${ids.glucose}&_include=Observation:patient`);
    assert.deepEqual(included(plain), [`Patient/${ids.pat}`]);
    // Without :iterate an _include applies to the matches only, so another source type is a mistake.
    const mixed = await search(`/fhir/Observation?_id=${ids.glucose}&_include=Observation:patient&_include=Patient:general-practitioner`, 400);
    assert.deepEqual(mixed.issue[0].expression, ['_include']);
    const iterated = await search(`/fhir/Observation?_id=${ids.glucose}&_include=Observation:patient&_include:iterate=Patient:general-practitioner&_include:iterate=Patient:organization`);
    assert.deepEqual(included(iterated), [`Organization/${ids.org}`, `Patient/${ids.pat}`, `Practitioner/${ids.dr}`].sort());
    // From a practitioner: the patients who name them, then those patients' observations.
    const rev = await search(`/fhir/Practitioner?_id=${ids.dr}&_revinclude=Patient:general-practitioner&_revinclude:iterate=Observation:patient`);
    const revIncluded = included(rev);
    assert.ok(revIncluded.includes(`Patient/${ids.pat}`));
    for (const key of ['bp1', 'bp2', 'glucose', 'smoking']) assert.ok(revIncluded.includes(`Observation/${ids[key]}`), key);
    const notIterated = await search(`/fhir/Practitioner?_id=${ids.dr}&_revinclude=Patient:general-practitioner&_revinclude=Observation:patient`, 400);
    assert.deepEqual(notIterated.issue[0].expression, ['_revinclude']);
  });

  test('reindexIfStale - a store indexed by an older version gets the new rows at start, versions unchanged', async () => {
    const service = new FhirService({ database: h.archive.database, logger: h.archive.logger });
    const db = service.repository.db;
    // As a store written before composite parameters existed: no composite rows, an older index version.
    await db.deleteFrom('fhir_quantity').where('param', 'like', 'code-value-quantity$%').execute();
    await service.repository.setState(db, 'search-index-version', '1');
    const url = `/fhir/Observation?code-value-quantity=${LOINC}|2345-7$gt6`;
    assert.deepEqual(matches(await search(url)), []);
    const count = await service.reindexIfStale();
    assert.ok(count >= 9, String(count));
    assert.deepEqual(matches(await search(url)), [ids.glucose]);
    assert.equal((await search(`/fhir/Observation/${ids.glucose}`)).meta.versionId, '1');
    assert.equal(await service.reindexIfStale(), 0);
  });

  test('CapabilityStatement - lists the composite parameters of each type with their components', async () => {
    const statement = await search('/fhir/metadata');
    const observation = statement.rest[0].resource.find((r: any) => r.type === 'Observation');
    const composites = observation.searchParam.filter((p: any) => p.type === 'composite').map((p: any) => p.name).sort();
    assert.deepEqual(composites, [
      'code-value-concept',
      'code-value-date',
      'code-value-quantity',
      'code-value-string',
      'combo-code-value-concept',
      'combo-code-value-quantity',
      'component-code-value-concept',
      'component-code-value-quantity',
    ]);
    const documentReference = statement.rest[0].resource.find((r: any) => r.type === 'DocumentReference');
    assert.ok(documentReference.searchParam.some((p: any) => p.name === 'relationship' && p.type === 'composite'));
  });
});
