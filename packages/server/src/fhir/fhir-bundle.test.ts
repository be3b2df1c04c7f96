import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openFhirHarness, type FhirHarness } from './fhir-harness.test-support.js';

describe('FHIR batch and transaction', () => {
  let h: FhirHarness;
  before(async () => {
    h = await openFhirHarness();
  });
  after(async () => h.close());

  test('transaction - creates entries with urn:uuid references resolved, answers in entry order', async () => {
    const r = await h.call('POST', '/fhir', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:2f7a0c5e-0000-4000-8000-000000000002',
          resource: { resourceType: 'Observation', status: 'final', code: { text: 'BP' }, subject: { reference: 'urn:uuid:2f7a0c5e-0000-4000-8000-000000000001' } },
          request: { method: 'POST', url: 'Observation' },
        },
        {
          fullUrl: 'urn:uuid:2f7a0c5e-0000-4000-8000-000000000001',
          resource: { resourceType: 'Patient', identifier: [{ system: 'urn:t', value: 'T1' }], name: [{ family: 'Trans' }] },
          request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:t|T1' },
        },
        { request: { method: 'GET', url: 'Patient?identifier=urn:t|T1' } },
      ],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.type, 'transaction-response');
    const [obs, patient, search] = r.body.entry;
    assert.equal(obs.response.status, '201');
    assert.equal(patient.response.status, '201');
    assert.equal(obs.resource.subject.reference, `Patient/${patient.resource.id}`);
    // GET entries run last: the search sees the patient created in the same transaction.
    assert.equal(search.resource.total, 1);
    assert.equal(search.resource.entry[0].resource.id, patient.resource.id);

    const again = await h.call('POST', '/fhir', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:2f7a0c5e-0000-4000-8000-000000000003',
          resource: { resourceType: 'Patient', identifier: [{ system: 'urn:t', value: 'T1' }] },
          request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:t|T1' },
        },
        {
          resource: { resourceType: 'Observation', status: 'final', code: { text: 'HR' }, subject: { reference: 'urn:uuid:2f7a0c5e-0000-4000-8000-000000000003' } },
          request: { method: 'POST', url: 'Observation' },
        },
        {
          resource: { resourceType: 'Condition', subject: { reference: 'Patient?identifier=urn:t|T1' }, code: { text: 'Asthma' }, clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] } },
          request: { method: 'POST', url: 'Condition' },
        },
      ],
    });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.entry[0].response.status, '200');
    assert.equal(again.body.entry[1].resource.subject.reference, `Patient/${patient.resource.id}`);
    assert.equal(again.body.entry[2].resource.subject.reference, `Patient/${patient.resource.id}`);
  });

  test('transaction - one invalid entry rolls back every entry and names Bundle.entry[n] and the element', async () => {
    const before = (await h.call('GET', '/fhir/Patient?_summary=count')).body.total;
    const r = await h.call('POST', '/fhir', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { resourceType: 'Patient', name: [{ family: 'Rolled' }] }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Observation', status: 'bogus', code: { text: 'x' } }, request: { method: 'POST', url: 'Observation' } },
      ],
    });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.issue[0].expression, ['Bundle.entry[1].resource.status']);
    assert.equal((await h.call('GET', '/fhir/Patient?_summary=count')).body.total, before);
    assert.equal((await h.call('GET', '/fhir/Patient?family=rolled')).body.total, 0);
  });

  test('transaction - PUT with If-Match, PATCH as Binary and DELETE in one bundle', async () => {
    const p = (await h.call('POST', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: 'Mixed' }], gender: 'male' })).body;
    const gone = (await h.call('POST', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: 'Gone' }] })).body;
    const patch = Buffer.from(JSON.stringify([{ op: 'replace', path: '/gender', value: 'female' }])).toString('base64');
    const r = await h.call('POST', '/fhir', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { ...p, birthDate: '1990-01-01' }, request: { method: 'PUT', url: `Patient/${p.id}`, ifMatch: 'W/"1"' } },
        { resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: patch }, request: { method: 'PATCH', url: `Patient/${p.id}` } },
        { request: { method: 'DELETE', url: `Patient/${gone.id}` } },
      ],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.entry.map((e: any) => e.response.status), ['200', '200', '204']);
    const current = (await h.call('GET', `/fhir/Patient/${p.id}`)).body;
    assert.equal(current.meta.versionId, '3');
    assert.equal(current.birthDate, '1990-01-01');
    assert.equal(current.gender, 'female');
    assert.equal((await h.call('GET', `/fhir/Patient/${gone.id}`)).status, 410);
    const stale = await h.call('POST', '/fhir', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: current, request: { method: 'PUT', url: `Patient/${p.id}`, ifMatch: 'W/"1"' } }],
    });
    assert.equal(stale.status, 412);
  });

  test('batch - entries succeed or fail on their own, failures carry an OperationOutcome', async () => {
    const r = await h.call('POST', '/fhir', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: { resourceType: 'Patient', name: [{ family: 'Batch' }] }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Patient', gender: 'sometimes' }, request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
        { request: { method: 'GET', url: 'Patient?family=batch' } },
      ],
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.type, 'batch-response');
    assert.deepEqual(r.body.entry.map((e: any) => e.response.status), ['201', '400', '404', '200']);
    assert.deepEqual(r.body.entry[1].response.outcome.issue[0].expression, ['Bundle.entry[1].resource.gender']);
    assert.equal(r.body.entry[3].resource.total, 1);
  });

  test('bundle - refuses other bundle types and entries without request', async () => {
    const collection = await h.call('POST', '/fhir', { resourceType: 'Bundle', type: 'collection' });
    assert.equal(collection.status, 400);
    assert.deepEqual(collection.body.issue[0].expression, ['Bundle.type']);
    const noRequest = await h.call('POST', '/fhir', { resourceType: 'Bundle', type: 'batch', entry: [{ resource: { resourceType: 'Patient' } }] });
    assert.deepEqual(noRequest.body.issue[0].expression, ['Bundle.entry[0].request']);
  });
  test('transaction - 1,200 creates are written together: every resource, its history and its search index', async () => {
    const patients = 100;
    const entry: unknown[] = [];
    for (let p = 0; p < patients; p++) {
      const fullUrl = `urn:uuid:7d1e0000-0000-4000-8000-${String(p).padStart(12, '0')}`;
      entry.push({ fullUrl, resource: { resourceType: 'Patient', identifier: [{ system: 'urn:bulk', value: `B${p}` }], name: [{ family: `Bulkfam${p % 10}` }] }, request: { method: 'POST', url: 'Patient' } });
      for (let k = 0; k < 11; k++) {
        entry.push({
          fullUrl: `urn:uuid:7d1e0000-0000-4000-9000-${String(p * 100 + k).padStart(12, '0')}`,
          resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: `bulk-${k}` }] }, subject: { reference: fullUrl }, effectiveDateTime: `2024-01-${String(k + 1).padStart(2, '0')}` },
          request: { method: 'POST', url: 'Observation' },
        });
      }
    }
    const r = await h.call('POST', '/fhir', { resourceType: 'Bundle', type: 'transaction', entry }, { prefer: 'return=minimal' });
    assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 400));
    assert.equal(r.body.entry.length, 1200);
    assert.ok(r.body.entry.every((e: any) => e.response.status === '201' && /_history\/1$/.test(e.response.location)));
    const patientId = /Patient\/([^/]+)\//.exec(r.body.entry[12].response.location)![1];
    const identified = await h.call('GET', '/fhir/Patient?identifier=urn:bulk|B1');
    assert.equal(identified.body.entry[0].resource.id, patientId);
    const ofPatient = await h.call('GET', `/fhir/Observation?patient=${patientId}&code=http://loinc.org|bulk-3`);
    assert.equal(ofPatient.body.total, 1);
    assert.equal(ofPatient.body.entry[0].resource.effectiveDateTime, '2024-01-04');
    const family = await h.call('GET', '/fhir/Patient?family=bulkfam3&_summary=count');
    assert.equal(family.body.total, 10);
    const history = await h.call('GET', `/fhir/Patient/${patientId}/_history`);
    assert.equal(history.body.total, 1);
    assert.equal(history.body.entry[0].request.method, 'POST');
  });

  test('transaction - an invalid create among many names its entry and writes nothing', async () => {
    const entry = Array.from({ length: 600 }, (_, i) => ({
      fullUrl: `urn:uuid:7d1e0000-0000-4000-a000-${String(i).padStart(12, '0')}`,
      resource: i === 517 ? { resourceType: 'Patient', gender: 'unknown-gender' } : { resourceType: 'Patient', identifier: [{ system: 'urn:rollback', value: `R${i}` }] },
      request: { method: 'POST', url: 'Patient' },
    }));
    const r = await h.call('POST', '/fhir', { resourceType: 'Bundle', type: 'transaction', entry });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.issue[0].expression, ['Bundle.entry[517].resource.gender']);
    const none = await h.call('GET', '/fhir/Patient?identifier=urn:rollback|&_summary=count');
    assert.equal(none.body.total, 0);
  });
});
