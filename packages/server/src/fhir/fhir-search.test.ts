import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openFhirHarness, type FhirHarness } from './fhir-harness.test-support.js';

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';

describe('FHIR search', () => {
  let h: FhirHarness;
  const ids: Record<string, string> = {};
  const ids_of = (bundle: any): string[] => ((bundle.entry ?? []) as any[]).filter((e) => e.search?.mode === 'match').map((e) => e.resource.id).sort();
  const search = async (url: string, expectedStatus = 200) => {
    const r = await h.call('GET', url);
    assert.equal(r.status, expectedStatus, `${url}: ${JSON.stringify(r.body).slice(0, 400)}`);
    return r.body;
  };

  before(async () => {
    h = await openFhirHarness();
    const create = async (key: string, resource: Record<string, unknown>) => {
      const r = await h.call('POST', `/fhir/${resource.resourceType}`, resource);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      ids[key] = r.body.id;
      return r.body.id as string;
    };
    await create('org', { resourceType: 'Organization', name: 'Hôpital Général', identifier: [{ system: 'urn:oid:2.16.9', value: 'HG' }] });
    await create('dr', { resourceType: 'Practitioner', name: [{ family: 'House', given: ['Gregory'] }] });
    await create('anna', {
      resourceType: 'Patient',
      identifier: [{ system: 'urn:oid:1.2.3', value: 'MRN-1' }],
      name: [{ family: 'Müller', given: ['Anna', 'Maria'] }],
      gender: 'female',
      birthDate: '1980-02-03',
      telecom: [{ system: 'phone', value: '+41 555 1234' }, { system: 'email', value: 'anna@example.org' }],
      address: [{ city: 'Zürich', postalCode: '8000', country: 'CH' }],
      managingOrganization: { reference: `Organization/${ids.org}` },
      generalPractitioner: [{ reference: `Practitioner/${ids.dr}` }],
    });
    await create('bob', {
      resourceType: 'Patient',
      identifier: [{ system: 'urn:oid:1.2.3', value: 'MRN-2' }, { system: 'urn:other', value: 'X-9' }],
      name: [{ family: 'Mullins', given: ['Bob'] }],
      gender: 'male',
      birthDate: '1975',
      active: true,
    });
    await create('carl', { resourceType: 'Patient', name: [{ family: 'Smith', given: ['Carl'] }], gender: 'male', birthDate: '2001-12-31', active: false });
    const obs = (key: string, patient: string, code: string, value: number, unit: string, when: string) =>
      create(key, {
        resourceType: 'Observation',
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
        code: { coding: [{ system: LOINC, code }] },
        subject: { reference: `Patient/${ids[patient]}` },
        effectiveDateTime: when,
        valueQuantity: { value, unit, system: UCUM, code: unit },
      });
    await obs('hr1', 'anna', '8867-4', 72, '/min', '2024-01-02T10:00:00Z');
    await obs('hr2', 'anna', '8867-4', 110, '/min', '2024-03-05T10:00:00+02:00');
    await obs('wt1', 'anna', '29463-7', 61.5, 'kg', '2024-03-05');
    await obs('hr3', 'bob', '8867-4', 55, '/min', '2023-12-31T23:30:00Z');
    await create('enc', {
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject: { reference: `Patient/${ids.anna}` },
      period: { start: '2024-03-01', end: '2024-03-10' },
      length: { value: 9, unit: 'd', system: UCUM, code: 'd' },
    });
    await create('doc', {
      resourceType: 'DocumentReference',
      status: 'current',
      subject: { reference: `Patient/${ids.anna}` },
      description: 'Discharge letter, cardiology',
      content: [{ attachment: { contentType: 'application/pdf', url: 'https://docs.example/letters/42.pdf' } }],
    });
  });
  after(async () => h.close());

  test('token - code, system|code, |code, system|, identifier, :not, boolean, ContactPoint', async () => {
    assert.deepEqual(ids_of(await search('/fhir/Observation?code=8867-4')), [ids.hr1, ids.hr2, ids.hr3].sort());
    assert.deepEqual(ids_of(await search(`/fhir/Observation?code=${encodeURIComponent(`${LOINC}|29463-7`)}`)), [ids.wt1]);
    assert.deepEqual(ids_of(await search('/fhir/Observation?code=urn:other|8867-4')), []);
    assert.deepEqual(ids_of(await search('/fhir/Patient?gender=|male')), [ids.bob, ids.carl].sort());
    assert.deepEqual(ids_of(await search('/fhir/Patient?identifier=urn:other|')), [ids.bob]);
    assert.deepEqual(ids_of(await search('/fhir/Patient?identifier=urn:oid:1.2.3|MRN-1,urn:oid:1.2.3|MRN-2')), [ids.anna, ids.bob].sort());
    assert.deepEqual(ids_of(await search('/fhir/Patient?gender:not=male')), [ids.anna]);
    assert.deepEqual(ids_of(await search('/fhir/Patient?active=false')), [ids.carl]);
    assert.deepEqual(ids_of(await search(`/fhir/Patient?phone=${encodeURIComponent('+41 555 1234')}`)), [ids.anna]);
    assert.deepEqual(ids_of(await search('/fhir/Patient?email=anna@example.org')), [ids.anna]);
    assert.deepEqual(ids_of(await search('/fhir/Observation?category=vital-signs&code=29463-7')), [ids.wt1]);
  });

  test('string - starts with, case and accent insensitive; :exact; :contains; HumanName and Address parts', async () => {
    assert.deepEqual(ids_of(await search('/fhir/Patient?name=mul')), [ids.anna, ids.bob].sort());
    assert.deepEqual(ids_of(await search('/fhir/Patient?family=MULLER')), [ids.anna]);
    assert.deepEqual(ids_of(await search(`/fhir/Patient?family:exact=${encodeURIComponent('Müller')}`)), [ids.anna]);
    assert.deepEqual(ids_of(await search('/fhir/Patient?family:exact=muller')), []);
    assert.deepEqual(ids_of(await search('/fhir/Patient?given=maria')), [ids.anna]);
    assert.deepEqual(ids_of(await search('/fhir/Patient?name:contains=lin')), [ids.bob]);
    assert.deepEqual(ids_of(await search('/fhir/Patient?address-city=zurich')), [ids.anna]);
    assert.deepEqual(ids_of(await search('/fhir/Organization?name=hopital')), [ids.org]);
    assert.deepEqual(ids_of(await search('/fhir/DocumentReference?description:contains=cardio')), [ids.doc]);
    assert.deepEqual(ids_of(await search('/fhir/Patient?name=100%25')), []);
  });

  test('date - precision ranges and every prefix on dates, dateTimes with zones and periods', async () => {
    assert.deepEqual(ids_of(await search('/fhir/Patient?birthdate=1980')), [ids.anna]);
    assert.deepEqual(ids_of(await search('/fhir/Patient?birthdate=1975-06-01')), []);
    assert.deepEqual(ids_of(await search('/fhir/Patient?birthdate=lt1980-01-01')), [ids.bob]);
    assert.deepEqual(ids_of(await search('/fhir/Patient?birthdate=ge1980-02-03')), [ids.anna, ids.carl].sort());
    assert.deepEqual(ids_of(await search('/fhir/Patient?birthdate=gt1980-02-03')), [ids.carl]);
    assert.deepEqual(ids_of(await search('/fhir/Patient?birthdate=le1975-01-01')), [ids.bob]);
    assert.deepEqual(ids_of(await search('/fhir/Patient?birthdate=ne1980-02-03')), [ids.bob, ids.carl].sort());
    assert.deepEqual(ids_of(await search('/fhir/Patient?birthdate=sa1999')), [ids.carl]);
    assert.deepEqual(ids_of(await search('/fhir/Patient?birthdate=eb1976')), [ids.bob]);
    // 2024-03-05T10:00:00+02:00 is 08:00Z.
    assert.deepEqual(ids_of(await search(`/fhir/Observation?date=${encodeURIComponent('2024-03-05T08:00:00Z')}`)), [ids.hr2]);
    assert.deepEqual(ids_of(await search('/fhir/Observation?date=2024-03-05')), [ids.hr2, ids.wt1].sort());
    assert.deepEqual(ids_of(await search('/fhir/Observation?date=2024')), [ids.hr1, ids.hr2, ids.wt1].sort());
    assert.deepEqual(ids_of(await search('/fhir/Observation?date=ge2024-01-01&date=lt2024-03-01')), [ids.hr1]);
    assert.deepEqual(ids_of(await search('/fhir/Encounter?date=2024-03-05')), []);
    assert.deepEqual(ids_of(await search('/fhir/Encounter?date=ge2024-03-05')), [ids.enc]);
    assert.deepEqual(ids_of(await search('/fhir/Encounter?date=ap2024-03-05')), [ids.enc]);
    const bad = await search('/fhir/Patient?birthdate=yesterday', 400);
    assert.deepEqual(bad.issue[0].expression, ['birthdate']);
  });

  test('quantity - number with implicit precision, prefixes, system and code', async () => {
    assert.deepEqual(ids_of(await search('/fhir/Observation?value-quantity=72')), [ids.hr1]);
    assert.deepEqual(ids_of(await search('/fhir/Observation?value-quantity=61.5')), [ids.wt1]);
    assert.deepEqual(ids_of(await search('/fhir/Observation?value-quantity=62')), [ids.wt1]);
    assert.deepEqual(ids_of(await search('/fhir/Observation?value-quantity=63')), []);
    // 6e1 has one significant figure: [55, 65) (search.html#number).
    assert.deepEqual(ids_of(await search('/fhir/Observation?value-quantity=6e1')), [ids.hr3, ids.wt1].sort());
    assert.deepEqual(ids_of(await search('/fhir/Observation?value-quantity=gt100')), [ids.hr2]);
    assert.deepEqual(ids_of(await search('/fhir/Observation?value-quantity=le61.5')), [ids.hr3, ids.wt1].sort());
    assert.deepEqual(ids_of(await search(`/fhir/Observation?value-quantity=${encodeURIComponent(`lt100|${UCUM}|/min`)}`)), [ids.hr1, ids.hr3].sort());
    assert.deepEqual(ids_of(await search('/fhir/Observation?value-quantity=lt100||kg')), [ids.wt1]);
    assert.deepEqual(ids_of(await search('/fhir/Encounter?length=ge7||d')), [ids.enc]);
  });

  test('reference - Type/id, id with :Type, absolute URL; patient vs subject; missing', async () => {
    assert.deepEqual(ids_of(await search(`/fhir/Observation?subject=Patient/${ids.anna}`)), [ids.hr1, ids.hr2, ids.wt1].sort());
    assert.deepEqual(ids_of(await search(`/fhir/Observation?patient=${ids.bob}`)), [ids.hr3]);
    assert.deepEqual(ids_of(await search(`/fhir/Observation?subject:Patient=${ids.bob}`)), [ids.hr3]);
    assert.deepEqual(ids_of(await search(`/fhir/Patient?organization=Organization/${ids.org}`)), [ids.anna]);
    assert.deepEqual(ids_of(await search('/fhir/Patient?organization:missing=true')), [ids.bob, ids.carl].sort());
    assert.deepEqual(ids_of(await search('/fhir/Patient?birthdate:missing=false&gender=male')), [ids.bob, ids.carl].sort());
  });

  test('uri - exact and :below', async () => {
    assert.deepEqual(ids_of(await search('/fhir/DocumentReference?location=https://docs.example/letters/42.pdf')), [ids.doc]);
    assert.deepEqual(ids_of(await search('/fhir/DocumentReference?location:below=https://docs.example/letters')), [ids.doc]);
    assert.deepEqual(ids_of(await search('/fhir/DocumentReference?location=https://docs.example/letters')), []);
  });

  test('chained and reverse chained - subject:Patient.name, patient.identifier, two levels, _has', async () => {
    assert.deepEqual(ids_of(await search('/fhir/Observation?subject:Patient.name=muller&code=8867-4')), [ids.hr1, ids.hr2].sort());
    assert.deepEqual(ids_of(await search('/fhir/Observation?patient.identifier=urn:oid:1.2.3|MRN-2')), [ids.hr3]);
    assert.deepEqual(ids_of(await search('/fhir/Observation?patient.organization.name=hopital')), [ids.hr1, ids.hr2, ids.wt1].sort());
    // Observation.subject's only supported target with a name is Patient: no type needed.
    assert.deepEqual(ids_of(await search('/fhir/Observation?subject.name=mullins')), [ids.hr3]);
    const ambiguous = await search('/fhir/Procedure?performer.name=house', 400);
    assert.match(ambiguous.issue[0].diagnostics, /performer:Practitioner\.name/);
    assert.deepEqual(ids_of(await search('/fhir/Patient?_has:Observation:patient:value-quantity=gt100')), [ids.anna]);
    assert.deepEqual(ids_of(await search('/fhir/Patient?_has:Observation:subject:code=8867-4')), [ids.anna, ids.bob].sort());
  });

  test('_include and _revinclude - referenced and referring resources marked include', async () => {
    const included = await search(`/fhir/Observation?patient=${ids.bob}&_include=Observation:subject`);
    assert.deepEqual(included.entry.map((e: any) => [e.resource.resourceType, e.search.mode]), [['Observation', 'match'], ['Patient', 'include']]);
    const all = await search(`/fhir/Patient?_id=${ids.anna}&_include=*`);
    assert.deepEqual(all.entry.map((e: any) => e.resource.resourceType).sort(), ['Organization', 'Patient', 'Practitioner']);
    const rev = await search(`/fhir/Patient?_id=${ids.anna}&_revinclude=Observation:subject&_revinclude=Encounter:patient`);
    assert.equal(rev.total, 1);
    assert.deepEqual(
      rev.entry.filter((e: any) => e.search.mode === 'include').map((e: any) => e.resource.id).sort(),
      [ids.hr1, ids.hr2, ids.wt1, ids.enc].sort(),
    );
    await search('/fhir/Patient?_include=Observation:subject', 400);
  });

  test('_id, _lastUpdated, _sort, _count, paging links, _total and _summary=count', async () => {
    assert.deepEqual(ids_of(await search(`/fhir/Patient?_id=${ids.bob},${ids.carl}`)), [ids.bob, ids.carl].sort());
    assert.equal((await search('/fhir/Patient?_lastUpdated=gt2000-01-01')).total, 3);
    assert.equal((await search('/fhir/Patient?_lastUpdated=lt2000-01-01')).total, 0);
    const byBirth = await search('/fhir/Patient?_sort=-birthdate');
    assert.deepEqual(byBirth.entry.map((e: any) => e.resource.id), [ids.carl, ids.anna, ids.bob]);
    const byFamily = await search('/fhir/Patient?_sort=family');
    assert.deepEqual(byFamily.entry.map((e: any) => e.resource.name[0].family), ['Müller', 'Mullins', 'Smith']);
    const byDate = await search(`/fhir/Observation?subject=Patient/${ids.anna}&_sort=date,_id`);
    // hr2 (08:00Z) lies inside wt1's day, whose range starts earlier: wt1 sorts first.
    assert.deepEqual(byDate.entry.map((e: any) => e.resource.id), [ids.hr1, ids.wt1, ids.hr2]);
    const page1 = await search('/fhir/Observation?code=8867-4&_count=2&_sort=date&_total=accurate');
    assert.equal(page1.total, 3);
    assert.deepEqual(page1.entry.map((e: any) => e.resource.id), [ids.hr3, ids.hr1]);
    const next = page1.link.find((l: any) => l.relation === 'next');
    assert.ok(next);
    const page2 = await search(new URL(next.url).pathname + new URL(next.url).search);
    assert.deepEqual(page2.entry.map((e: any) => e.resource.id), [ids.hr2]);
    assert.equal(page2.link.find((l: any) => l.relation === 'next'), undefined);
    const count = await search('/fhir/Observation?_summary=count');
    assert.equal(count.total, 4);
    assert.equal(count.entry, undefined);
    await search('/fhir/Patient?_sort=organization', 400);
  });

  test('POST _search - form parameters search like the URL', async () => {
    const r = await h.app.inject({
      method: 'POST',
      url: '/fhir/Patient/_search',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'family=smith',
    });
    assert.equal(r.statusCode, 200);
    const body = JSON.parse(r.body);
    assert.deepEqual(body.entry.map((e: any) => e.resource.id), [ids.carl]);
  });

  test('unknown parameters - refused naming the parameter, ignored and reported under handling=lenient', async () => {
    const strict = await search('/fhir/Patient?favourite-colour=blue', 400);
    assert.equal(strict.issue[0].code, 'not-supported');
    assert.deepEqual(strict.issue[0].expression, ['favourite-colour']);
    const unsupportedModifier = await search('/fhir/Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|1', 400);
    assert.equal(unsupportedModifier.issue[0].code, 'not-supported');
    assert.deepEqual(unsupportedModifier.issue[0].expression, ['identifier:of-type']);
    const lenient = await h.call('GET', '/fhir/Patient?favourite-colour=blue&family=smith', undefined, { prefer: 'handling=lenient' });
    assert.equal(lenient.status, 200);
    assert.deepEqual(ids_of(lenient.body), [ids.carl]);
    const outcome = lenient.body.entry.find((e: any) => e.search.mode === 'outcome');
    assert.deepEqual(outcome.resource.issue[0].expression, ['favourite-colour']);
  });
});
