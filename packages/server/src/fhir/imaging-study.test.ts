import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildCtSeries, type CtSeriesOptions } from '@atrium/dicom';
import { FhirService } from './fhir-service.js';
import { openFhirHarness, type FhirHarness } from './fhir-harness.test-support.js';
import { ImagingStudySync } from './imaging-study-sync.js';
import { RECONCILIATION_TAG } from './imaging-study.js';

const ACSN = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] };

describe('ImagingStudy derived from the archive', () => {
  let h: FhirHarness;
  let sync: ImagingStudySync;
  const ingest = async (options: CtSeriesOptions) => {
    const series = buildCtSeries({ slices: 2, rows: 16, columns: 16, ...options });
    for (const slice of series.instances) {
      const result = await h.archive.ingest.ingest([slice.bytes], { kind: 'import' });
      assert.equal(result.outcome, 'stored');
    }
    return series;
  };
  const newSync = () =>
    new ImagingStudySync(new FhirService({ database: h.archive.database, logger: h.archive.logger }), h.archive.archive, h.archive.logger, {
      dicomwebAddress: 'http://127.0.0.1:8080/dicomweb',
      batchSize: 3,
    });

  before(async () => {
    h = await openFhirHarness();
    sync = newSync();
  });
  after(async () => {
    await sync.stop();
    await h.close();
  });

  test('unknown patient - the study creates the Patient from its demographics and an ImagingStudy of the index', async () => {
    const ct = await ingest({ seed: 11 });
    assert.ok((await sync.drain()) > 0);
    const study = await h.call('GET', `/fhir/ImagingStudy/${ct.studyInstanceUid}`);
    assert.equal(study.status, 200);
    const s = study.body;
    assert.equal(s.status, 'available');
    assert.deepEqual(s.identifier[0], { system: 'urn:dicom:uid', value: `urn:oid:${ct.studyInstanceUid}` });
    assert.equal(s.identifier[1].value, 'ACC-CT-0001');
    assert.deepEqual(s.modality, [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' }]);
    assert.equal(s.started, '2024-03-15T09:30:00Z');
    assert.equal(s.numberOfSeries, 1);
    assert.equal(s.numberOfInstances, 2);
    assert.equal(s.description, 'CT Chest with contrast');
    assert.deepEqual(s.endpoint, [{ reference: 'Endpoint/atrium-dicomweb' }]);
    assert.equal(s.series[0].uid, ct.seriesInstanceUid);
    assert.deepEqual(s.series[0].instance.map((i: any) => i.uid), ct.instances.map((i) => i.sopInstanceUid));
    assert.equal(s.series[0].instance[0].sopClass.code, 'urn:oid:1.2.840.10008.5.1.4.1.1.2');
    assert.equal(s.meta.tag, undefined);

    const patients = await h.call('GET', '/fhir/Patient?identifier=urn:atrium:issuer:ATRIUM|ATR-CT-0001');
    assert.equal(patients.body.total, 1);
    const patient = patients.body.entry[0].resource;
    assert.equal(s.subject.reference, `Patient/${patient.id}`);
    assert.equal(patient.name[0].family, 'Demo');
    assert.deepEqual(patient.name[0].given, ['Ct']);
    assert.equal(patient.birthDate, '1962-03-14');
    assert.equal(patient.gender, 'female');

    const endpoint = await h.call('GET', '/fhir/Endpoint/atrium-dicomweb');
    assert.equal(endpoint.body.address, 'http://127.0.0.1:8080/dicomweb');

    const bySearch = await h.call('GET', `/fhir/ImagingStudy?patient=${patient.id}&modality=CT&_include=ImagingStudy:patient`);
    assert.deepEqual(bySearch.body.entry.map((e: any) => e.resource.resourceType), ['ImagingStudy', 'Patient']);
    const byUid = await h.call('GET', `/fhir/ImagingStudy?identifier=${encodeURIComponent(`urn:dicom:uid|urn:oid:${ct.studyInstanceUid}`)}&series=${ct.seriesInstanceUid}`);
    assert.equal(byUid.body.total, 1);
    const rev = await h.call('GET', `/fhir/Patient?_id=${patient.id}&_revinclude=ImagingStudy:subject`);
    assert.equal(rev.body.entry.length, 2);
  });

  test('re-deriving - more images update the study; an unchanged study writes no version; the cursor survives', async () => {
    const ct = await ingest({ seed: 12, patient: { patientId: 'P-12', issuerOfPatientId: '1.2.840.99' } });
    await sync.drain();
    const first = (await h.call('GET', `/fhir/ImagingStudy/${ct.studyInstanceUid}`)).body;
    await ingest({ seed: 13, patient: { patientId: 'P-12', issuerOfPatientId: '1.2.840.99' }, study: { studyInstanceUid: ct.studyInstanceUid }, series: { seriesNumber: 3 } });
    await sync.drain();
    const second = (await h.call('GET', `/fhir/ImagingStudy/${ct.studyInstanceUid}`)).body;
    assert.equal(second.numberOfSeries, 2);
    assert.equal(second.numberOfInstances, 4);
    assert.equal(Number(second.meta.versionId), Number(first.meta.versionId) + 1);
    // The OID issuer maps to urn:oid:.
    assert.equal((await h.call('GET', '/fhir/Patient?identifier=urn:oid:1.2.840.99|P-12')).body.total, 1);
    // A second sync (another node, or after a restart) starts from the stored cursor: nothing to do.
    assert.equal(await newSync().drain(), 0);
    assert.equal((await h.call('GET', `/fhir/ImagingStudy/${ct.studyInstanceUid}`)).body.meta.versionId, second.meta.versionId);
  });

  test('orders - linked by accession number, whether the ServiceRequest comes before or after the images', async () => {
    const before = await h.call('POST', '/fhir/ServiceRequest', {
      resourceType: 'ServiceRequest',
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/unknown' },
      code: { text: 'CT abdomen' },
      identifier: [{ type: ACSN, value: 'ACC-ORDER-1' }],
    });
    const ct = await ingest({ seed: 21, patient: { patientId: 'P-21' }, study: { accessionNumber: 'ACC-ORDER-1' } });
    await sync.drain();
    const linked = (await h.call('GET', `/fhir/ImagingStudy/${ct.studyInstanceUid}`)).body;
    assert.deepEqual(linked.basedOn, [{ reference: `ServiceRequest/${before.body.id}` }]);

    const late = await ingest({ seed: 22, patient: { patientId: 'P-22' }, study: { accessionNumber: 'ACC-LATE' } });
    await sync.drain();
    assert.equal((await h.call('GET', `/fhir/ImagingStudy/${late.studyInstanceUid}`)).body.basedOn, undefined);
    const order = await h.call('POST', '/fhir/ServiceRequest', {
      resourceType: 'ServiceRequest',
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/unknown' },
      identifier: [{ type: ACSN, value: 'ACC-LATE' }],
    });
    // Linked in the same transaction as the order's create: no wait for the feed.
    const now = (await h.call('GET', `/fhir/ImagingStudy/${late.studyInstanceUid}`)).body;
    assert.deepEqual(now.basedOn, [{ reference: `ServiceRequest/${order.body.id}` }]);
    const byOrder = await h.call('GET', `/fhir/ImagingStudy?basedon=ServiceRequest/${order.body.id}`);
    assert.equal(byOrder.body.total, 1);
    await h.call('DELETE', `/fhir/ServiceRequest/${order.body.id}`);
    assert.equal((await h.call('GET', `/fhir/ImagingStudy/${late.studyInstanceUid}`)).body.basedOn, undefined);
  });

  test('identity - a matching identifier with another name or birth date is flagged for reconciliation, never merged', async () => {
    const existing = await h.call('POST', '/fhir/Patient', {
      resourceType: 'Patient',
      identifier: [{ system: 'urn:atrium:issuer:HIS', value: 'P-31' }],
      name: [{ family: 'Jansen', given: ['Eva'] }],
      birthDate: '1950-01-01',
    });
    const ct = await ingest({ seed: 31, patient: { patientId: 'P-31', issuerOfPatientId: 'HIS', patientName: 'Janssen^Eva', patientBirthDate: '19510101' } });
    await sync.drain();
    const s = (await h.call('GET', `/fhir/ImagingStudy/${ct.studyInstanceUid}`)).body;
    assert.equal(s.subject.reference, `Patient/${existing.body.id}`);
    assert.deepEqual(s.meta.tag.map((t: any) => [t.system, t.code]), [[RECONCILIATION_TAG.system, RECONCILIATION_TAG.code]]);
    assert.equal(s.note.length, 2);
    assert.match(s.note.map((n: any) => n.text).join(' '), /Janssen\^Eva.*differs|birth date '1951-01-01'/);
    const patient = (await h.call('GET', `/fhir/Patient/${existing.body.id}`)).body;
    assert.equal(patient.meta.versionId, '1');
    assert.equal(patient.birthDate, '1950-01-01');
    const flagged = await h.call('GET', `/fhir/ImagingStudy?_tag=${encodeURIComponent(`${RECONCILIATION_TAG.system}|${RECONCILIATION_TAG.code}`)}`);
    assert.deepEqual(flagged.body.entry.map((e: any) => e.resource.id), [ct.studyInstanceUid]);

    // Correcting the Patient clears the flag at once (the Patient's studies are re-derived with it).
    await h.call('PUT', `/fhir/Patient/${existing.body.id}`, { ...patient, name: [{ family: 'Janssen', given: ['Eva'] }], birthDate: '1951-01-01' });
    const cleared = (await h.call('GET', `/fhir/ImagingStudy/${ct.studyInstanceUid}`)).body;
    assert.equal(cleared.meta.tag, undefined);
    assert.equal(cleared.note, undefined);
  });

  test('deletion - a study whose instances are all deleted from the archive is deleted in FHIR', async () => {
    const ct = await ingest({ seed: 41, patient: { patientId: 'P-41' } });
    await sync.drain();
    assert.equal((await h.call('GET', `/fhir/ImagingStudy/${ct.studyInstanceUid}`)).status, 200);
    await h.archive.archive.deleteInstance(ct.instances[0]!.sopInstanceUid);
    await sync.drain();
    assert.equal((await h.call('GET', `/fhir/ImagingStudy/${ct.studyInstanceUid}`)).body.numberOfInstances, 1);
    await h.archive.archive.deleteInstance(ct.instances[1]!.sopInstanceUid);
    await sync.drain();
    const gone = await h.call('GET', `/fhir/ImagingStudy/${ct.studyInstanceUid}`);
    assert.equal(gone.status, 410);
  });

  test('settle - in the background a study still arriving waits for a quiet feed, or for the longest delay', async () => {
    await sync.drain();
    const options = { dicomwebAddress: 'http://127.0.0.1:8080/dicomweb' };
    const service = new FhirService({ database: h.archive.database, logger: h.archive.logger });
    const waiting = new ImagingStudySync(service, h.archive.archive, h.archive.logger, { ...options, settleMs: 60_000 });
    const ct = await ingest({ seed: 53, patient: { patientId: 'P-53' } });
    assert.equal(await waiting.runOnce({ settle: true }), 0, 'changes younger than the settle time wait');
    assert.equal((await h.call('GET', `/fhir/ImagingStudy/${ct.studyInstanceUid}`)).status, 404);
    const overdue = new ImagingStudySync(service, h.archive.archive, h.archive.logger, { ...options, settleMs: 60_000, maxDelayMs: 0 });
    assert.ok((await overdue.runOnce({ settle: true })) > 0, 'a change that waited the longest delay goes through');
    assert.equal((await h.call('GET', `/fhir/ImagingStudy/${ct.studyInstanceUid}`)).body.numberOfInstances, 2);
    const more = await ingest({ seed: 54, patient: { patientId: 'P-54' } });
    const quiet = new ImagingStudySync(service, h.archive.archive, h.archive.logger, { ...options, settleMs: 0 });
    assert.ok((await quiet.runOnce({ settle: true })) > 0, 'a quiet feed goes through');
    assert.equal((await h.call('GET', `/fhir/ImagingStudy/${more.studyInstanceUid}`)).status, 200);
  });

  test('background - started, the sync picks up new images without being asked', async () => {
    const running = newSync();
    const bg = new ImagingStudySync(new FhirService({ database: h.archive.database, logger: h.archive.logger }), h.archive.archive, h.archive.logger, {
      dicomwebAddress: 'http://127.0.0.1:8080/dicomweb',
      intervalMs: 20,
    }).start();
    try {
      const ct = await ingest({ seed: 51, patient: { patientId: 'P-51' } });
      const deadline = Date.now() + 10_000;
      let status = 0;
      while (Date.now() < deadline) {
        status = (await h.call('GET', `/fhir/ImagingStudy/${ct.studyInstanceUid}`)).status;
        if (status === 200) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      assert.equal(status, 200);
    } finally {
      await bg.stop();
      await running.stop();
    }
  });
});
