import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { expressionsOf, openFhirHarness, type FhirHarness } from './fhir-harness.test-support.js';

const patient = (family: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Patient',
  identifier: [{ system: 'urn:oid:1.2.3.4', value: `MRN-${family}` }],
  name: [{ family, given: ['Anna'] }],
  gender: 'female',
  birthDate: '1980-02-03',
  ...extra,
});

describe('FHIR API', () => {
  let h: FhirHarness;
  before(async () => {
    h = await openFhirHarness();
  });
  after(async () => h.close());

  test('create - assigns an id and version 1, answers 201 with Location, ETag and the resource', async () => {
    const r = await h.call('POST', '/fhir/Patient', { ...patient('Create'), id: 'client-id' });
    assert.equal(r.status, 201);
    assert.notEqual(r.body.id, 'client-id');
    assert.match(r.body.id, /^[0-9a-f-]{36}$/);
    assert.equal(r.body.meta.versionId, '1');
    assert.equal(r.headers.etag, 'W/"1"');
    assert.equal(r.headers.location, `http://localhost:80/fhir/Patient/${r.body.id}/_history/1`);
    assert.equal(r.body.name[0].family, 'Create');
    const read = await h.call('GET', `/fhir/Patient/${r.body.id}`);
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, r.body);
    assert.ok(read.headers['last-modified']);
  });

  test('read - unknown id is 404 and unknown type 404, both OperationOutcome', async () => {
    const missing = await h.call('GET', '/fhir/Patient/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.issue[0].code, 'not-found');
    const type = await h.call('GET', '/fhir/Medication/1');
    assert.equal(type.status, 404);
    assert.equal(type.body.issue[0].code, 'not-supported');
    const bad = await h.call('GET', '/fhir/Patient/bad$id');
    assert.equal(bad.status, 400);
  });

  test('update - increments the version, vread returns each version, history lists them newest first', async () => {
    const created = (await h.call('POST', '/fhir/Patient', patient('Versions'))).body;
    const v2 = await h.call('PUT', `/fhir/Patient/${created.id}`, { ...created, gender: 'other' });
    assert.equal(v2.status, 200);
    assert.equal(v2.body.meta.versionId, '2');
    assert.equal(v2.body.gender, 'other');
    const v1 = await h.call('GET', `/fhir/Patient/${created.id}/_history/1`);
    assert.equal(v1.body.gender, 'female');
    const history = await h.call('GET', `/fhir/Patient/${created.id}/_history`);
    assert.equal(history.body.type, 'history');
    assert.equal(history.body.total, 2);
    assert.deepEqual(history.body.entry.map((e: any) => e.resource.meta.versionId), ['2', '1']);
    assert.deepEqual(history.body.entry.map((e: any) => e.request.method), ['PUT', 'POST']);
    const typeHistory = await h.call('GET', '/fhir/Patient/_history?_count=1');
    assert.equal(typeHistory.body.entry.length, 1);
    assert.ok(typeHistory.body.link.some((l: any) => l.relation === 'next'));
    const system = await h.call('GET', '/fhir/_history?_count=500');
    assert.ok(system.body.entry.some((e: any) => e.resource?.id === created.id));
  });

  test('update - an unknown id creates the resource (update as create) with 201', async () => {
    const r = await h.call('PUT', '/fhir/Practitioner/dr-who', { resourceType: 'Practitioner', id: 'dr-who', name: [{ family: 'Who' }] });
    assert.equal(r.status, 201);
    assert.equal(r.body.meta.versionId, '1');
  });

  test('update - an id in the body that differs from the URL is refused naming Patient.id', async () => {
    const created = (await h.call('POST', '/fhir/Patient', patient('Mismatch'))).body;
    const r = await h.call('PUT', `/fhir/Patient/${created.id}`, { ...created, id: 'other' });
    assert.equal(r.status, 400);
    assert.deepEqual(expressionsOf(r), ['Patient.id']);
  });

  test('If-Match - a stale version is 412; of two concurrent updates with the same If-Match exactly one wins', async () => {
    const created = (await h.call('POST', '/fhir/Patient', patient('Concurrent'))).body;
    const stale = await h.call('PUT', `/fhir/Patient/${created.id}`, created, { 'if-match': 'W/"7"' });
    assert.equal(stale.status, 412);
    const updates = await Promise.all(
      ['male', 'other', 'unknown'].map((gender) =>
        h.call('PUT', `/fhir/Patient/${created.id}`, { ...created, gender }, { 'if-match': 'W/"1"' }),
      ),
    );
    assert.deepEqual(updates.map((u) => u.status).sort(), [200, 412, 412]);
    const winner = updates.find((u) => u.status === 200)!;
    const current = await h.call('GET', `/fhir/Patient/${created.id}`);
    assert.equal(current.body.meta.versionId, '2');
    assert.equal(current.body.gender, winner.body.gender);
  });

  test('conditional create - If-None-Exist returns the existing match, creates when none, 412 when several', async () => {
    const first = await h.call('POST', '/fhir/Patient', patient('Cond'), { 'if-none-exist': 'identifier=urn:oid:1.2.3.4|MRN-Cond' });
    assert.equal(first.status, 201);
    const again = await h.call('POST', '/fhir/Patient', patient('Cond'), { 'if-none-exist': 'identifier=urn:oid:1.2.3.4|MRN-Cond' });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    await h.call('POST', '/fhir/Patient', patient('Twin', { identifier: [{ value: 'TWIN' }] }));
    await h.call('POST', '/fhir/Patient', patient('Twin', { identifier: [{ value: 'TWIN' }] }));
    const many = await h.call('POST', '/fhir/Patient', patient('Twin'), { 'if-none-exist': 'identifier=TWIN' });
    assert.equal(many.status, 412);
    assert.equal(many.body.issue[0].code, 'multiple-matches');
  });

  test('conditional update - updates the single match, creates when none', async () => {
    const created = (await h.call('POST', '/fhir/Patient', patient('CondUpd'))).body;
    const updated = await h.call('PUT', '/fhir/Patient?identifier=urn:oid:1.2.3.4|MRN-CondUpd', { ...patient('CondUpd'), gender: 'male' });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.id, created.id);
    assert.equal(updated.body.meta.versionId, '2');
    const fresh = await h.call('PUT', '/fhir/Patient?identifier=urn:oid:1.2.3.4|MRN-Nobody', patient('Nobody'));
    assert.equal(fresh.status, 201);
  });

  test('patch - applies JSON Patch, refuses a failed test op and an invalid result naming the element', async () => {
    const created = (await h.call('POST', '/fhir/Patient', patient('Patch'))).body;
    const ok = await h.call(
      'PATCH',
      `/fhir/Patient/${created.id}`,
      [
        { op: 'test', path: '/gender', value: 'female' },
        { op: 'replace', path: '/gender', value: 'male' },
        { op: 'add', path: '/name/0/given/-', value: 'Maria' },
      ],
      { 'content-type': 'application/json-patch+json' },
    );
    assert.equal(ok.status, 200);
    assert.equal(ok.body.gender, 'male');
    assert.deepEqual(ok.body.name[0].given, ['Anna', 'Maria']);
    assert.equal(ok.body.meta.versionId, '2');
    const failedTest = await h.call('PATCH', `/fhir/Patient/${created.id}`, [{ op: 'test', path: '/gender', value: 'female' }], {
      'content-type': 'application/json-patch+json',
    });
    assert.equal(failedTest.status, 400);
    const invalid = await h.call('PATCH', `/fhir/Patient/${created.id}`, [{ op: 'replace', path: '/birthDate', value: '3 May' }], {
      'content-type': 'application/json-patch+json',
    });
    assert.equal(invalid.status, 400);
    assert.deepEqual(expressionsOf(invalid), ['Patient.birthDate']);
    const history = await h.call('GET', `/fhir/Patient/${created.id}/_history`);
    assert.equal(history.body.entry[0].request.method, 'PATCH');
  });

  test('delete - 204, then read is 410 Gone, history shows the deletion, search no longer finds it', async () => {
    const created = (await h.call('POST', '/fhir/Patient', patient('Deleted'))).body;
    const deleted = await h.call('DELETE', `/fhir/Patient/${created.id}`);
    assert.equal(deleted.status, 204);
    const read = await h.call('GET', `/fhir/Patient/${created.id}`);
    assert.equal(read.status, 410);
    assert.equal(read.body.issue[0].code, 'deleted');
    const history = await h.call('GET', `/fhir/Patient/${created.id}/_history`);
    assert.equal(history.body.entry[0].request.method, 'DELETE');
    assert.equal(history.body.entry[0].resource, undefined);
    const search = await h.call('GET', '/fhir/Patient?family=Deleted');
    assert.equal(search.body.total, 0);
    const vread = await h.call('GET', `/fhir/Patient/${created.id}/_history/1`);
    assert.equal(vread.body.name[0].family, 'Deleted');
  });

  test('validation - invalid input is refused with an OperationOutcome naming each element', async () => {
    const r = await h.call('POST', '/fhir/Observation', {
      resourceType: 'Observation',
      status: 'done',
      code: { coding: [{ system: 'http://loinc.org', code: 8867 }] },
      valueQuantity: { value: '72' },
      valueString: 'seventy-two',
      effectiveDateTime: '2024-13-01',
      colour: 'blue',
    });
    assert.equal(r.status, 400);
    assert.deepEqual(expressionsOf(r).sort(), [
      'Observation.code.coding[0].code',
      'Observation.colour',
      'Observation.effectiveDateTime',
      'Observation.status',
      'Observation.valueQuantity.value',
      'Observation.valueString',
    ]);
    const missing = await h.call('POST', '/fhir/Observation', { resourceType: 'Observation', status: 'final' });
    assert.deepEqual(expressionsOf(missing), ['Observation.code']);
    const wrongType = await h.call('POST', '/fhir/Observation', patient('Wrong'));
    assert.equal(wrongType.status, 400);
    assert.deepEqual(expressionsOf(wrongType), ['resourceType']);
    const notJson = await h.call('POST', '/fhir/Patient', '{"resourceType": "Patient",');
    assert.equal(notJson.status, 400);
    assert.match(notJson.body.issue[0].diagnostics, /Cannot parse the request body as JSON/);
  });

  test('validation - FHIRPath invariants of the profile are enforced, naming the element', async () => {
    const obs6 = await h.call('POST', '/fhir/Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Heart rate' },
      valueQuantity: { value: 72 },
      dataAbsentReason: { text: 'not measured' },
      referenceRange: [{ text: 'normal' }, { appliesTo: [{ text: 'adults' }] }],
      effectivePeriod: { start: '2024-02-01', end: '2024-01-01' },
    });
    assert.equal(obs6.status, 400);
    assert.deepEqual(expressionsOf(obs6).sort(), ['Observation', 'Observation.effectivePeriod', 'Observation.referenceRange[1]']);
    assert.match(JSON.stringify(obs6.body), /obs-6 failed/);
    assert.match(JSON.stringify(obs6.body), /obs-3 failed/);
    assert.match(JSON.stringify(obs6.body), /per-1 failed/);
    const allergy = await h.call('POST', '/fhir/AllergyIntolerance', { resourceType: 'AllergyIntolerance', patient: { reference: 'Patient/x' } });
    assert.match(allergy.body.issue[0].diagnostics, /ait-1 failed/);
    const empty = await h.call('POST', '/fhir/Patient', { resourceType: 'Patient', name: [{}] });
    assert.deepEqual(expressionsOf(empty), ['Patient.name[0]']);
    const organization = await h.call('POST', '/fhir/Organization', { resourceType: 'Organization', active: true });
    assert.match(organization.body.issue[0].diagnostics, /org-1 failed/);
  });

  test('ImagingStudy - clients cannot write it: it is derived from the archive', async () => {
    const r = await h.call('POST', '/fhir/ImagingStudy', { resourceType: 'ImagingStudy', status: 'available', subject: { reference: 'Patient/x' } });
    assert.equal(r.status, 405);
    assert.match(r.body.issue[0].diagnostics, /derived from the image archive/);
  });

  test('every resource type - a typical resource round-trips through create and read', async () => {
    const p = (await h.call('POST', '/fhir/Patient', patient('Types'))).body;
    const subject = { reference: `Patient/${p.id}` };
    const resources = [
      { resourceType: 'Organization', name: 'General Hospital', identifier: [{ system: 'urn:oid:2.16.1', value: 'GH' }] },
      { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject, period: { start: '2024-01-02T08:00:00Z', end: '2024-01-02T09:00:00Z' } },
      { resourceType: 'Condition', subject, code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003' }] }, clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] } },
      { resourceType: 'AllergyIntolerance', patient: subject, code: { text: 'Penicillin' }, criticality: 'high', clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] } },
      { resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject, medicationCodeableConcept: { text: 'Aspirin 100 mg' } },
      { resourceType: 'MedicationStatement', status: 'active', subject, medicationCodeableConcept: { text: 'Metformin' } },
      { resourceType: 'Procedure', status: 'completed', subject, code: { text: 'Coronary angiography' }, performedDateTime: '2024-01-03' },
      { resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject, code: { text: 'CT chest' }, identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] }, value: 'ACC-TYPES' }] },
      { resourceType: 'DiagnosticReport', status: 'final', code: { text: 'CT chest report' }, subject, conclusion: 'No acute findings' },
      { resourceType: 'DocumentReference', status: 'current', subject, content: [{ attachment: { contentType: 'application/pdf', data: 'JVBERi0xLjQK', title: 'Scan' } }] },
      { resourceType: 'Endpoint', status: 'active', connectionType: { code: 'dicom-wado-rs' }, payloadType: [{ text: 'DICOM' }], address: 'https://pacs.example/dicomweb' },
    ];
    for (const resource of resources) {
      const created = await h.call('POST', `/fhir/${resource.resourceType}`, resource);
      assert.equal(created.status, 201, `${resource.resourceType}: ${JSON.stringify(created.body)}`);
      const read = await h.call('GET', `/fhir/${resource.resourceType}/${created.body.id}`);
      const { id: _id, meta: _meta, ...content } = read.body;
      assert.deepEqual(content, resource);
    }
  });

  test('metadata - the CapabilityStatement lists every type, its interactions and search parameters', async () => {
    const r = await h.call('GET', '/fhir/metadata');
    assert.equal(r.body.resourceType, 'CapabilityStatement');
    assert.equal(r.body.fhirVersion, '4.0.1');
    const resources = r.body.rest[0].resource as Array<any>;
    assert.equal(resources.length, 15);
    const obs = resources.find((x) => x.type === 'Observation');
    assert.ok(obs.searchParam.some((p: any) => p.name === 'value-quantity' && p.type === 'quantity'));
    assert.ok(obs.searchInclude.includes('Observation:subject'));
    const imaging = resources.find((x) => x.type === 'ImagingStudy');
    assert.deepEqual(imaging.interaction.map((i: any) => i.code), ['read', 'vread', 'history-instance', 'history-type', 'search-type']);
    const patientCap = resources.find((x) => x.type === 'Patient');
    assert.ok(patientCap.searchRevInclude.includes('Observation:patient'));
    assert.deepEqual(r.body.rest[0].interaction.map((i: any) => i.code), ['transaction', 'batch', 'history-system']);
  });

  test('content negotiation - XML only is 406, an unknown body type 415, unknown routes OperationOutcome', async () => {
    const xml = await h.call('GET', '/fhir/metadata', undefined, { accept: 'application/fhir+xml' });
    assert.equal(xml.status, 406);
    const form = await h.app.inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'text/plain' }, payload: 'x' });
    assert.equal(form.statusCode, 415);
    assert.equal(JSON.parse(form.body).resourceType, 'OperationOutcome');
    const deep = await h.call('GET', '/fhir/Patient/1/_history/1/extra');
    assert.equal(deep.status, 404);
  });
});
