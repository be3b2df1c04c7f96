/// <reference types="node" />
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ageInYears,
  amendNoteBundle,
  buildAllergy,
  buildNoteDraft,
  buildObservation,
  buildOrder,
  buildPatient,
  chartSectionOf,
  editNoteDraft,
  formatHumanName,
  imagingTimeline,
  noteState,
  noteText,
  observationTrends,
  operationOutcomeMessage,
  patientSearches,
  replacedNoteId,
  resolveProblem,
  stopMedication,
  buildProblem,
  buildMedication,
  signNote,
  buildPractitioner,
  noteSigner,
  practitionerReference,
  rememberedSigner,
  trendGeometry,
  uniqueById,
  type DocumentReference,
  type FhirResource,
  type ImagingStudy,
  type Observation,
} from './chart-model.js';

const now = new Date('2026-03-15T10:00:00Z');

test('formatHumanName - official name as Family, Given with the letters as stored; falls back to given and text', () => {
  assert.equal(formatHumanName([{ use: 'usual', given: ['Al'] }, { use: 'official', family: 'Lovelace', given: ['Ada', 'King'] }]), 'Lovelace, Ada King');
  assert.equal(formatHumanName([{ family: 'DOE', given: ['JANE'], prefix: ['Dr'], suffix: ['Jr'] }]), 'DOE, Dr JANE Jr');
  assert.equal(formatHumanName([{ given: ['Cher'] }]), 'Cher');
  assert.equal(formatHumanName([{ text: 'Baby boy' }]), 'Baby boy');
  assert.equal(formatHumanName(undefined), '(no name)');
});

test('ageInYears - counts whole years, before and after the birthday', () => {
  assert.equal(ageInYears('1980-03-15', now), 46);
  assert.equal(ageInYears('1980-03-16', now), 45);
  assert.equal(ageInYears('1980', now), undefined);
});

test('chartSectionOf - no section is the summary, unknown sections are undefined', () => {
  assert.equal(chartSectionOf(undefined), 'summary');
  assert.equal(chartSectionOf('notes'), 'notes');
  assert.equal(chartSectionOf('billing'), undefined);
});

test('buildPatient - name, local MRN, gender and birth date; rejects a missing family name and a bad date', () => {
  const p = buildPatient({ family: ' Curie ', given: 'Marie  Salomea', birthDate: '1867-11-07', gender: 'female', mrn: 'MRN-7' });
  assert.deepEqual(p, {
    resourceType: 'Patient',
    name: [{ use: 'official', family: 'Curie', given: ['Marie', 'Salomea'] }],
    identifier: [{ system: 'urn:atrium:issuer:local', value: 'MRN-7' }],
    gender: 'female',
    birthDate: '1867-11-07',
  });
  assert.throws(() => buildPatient({ family: ' ', given: 'X', birthDate: '', gender: '', mrn: '' }), /family name is required/);
  assert.throws(() => buildPatient({ family: 'A', given: '', birthDate: '07/11/1867', gender: '', mrn: '' }), /YYYY-MM-DD/);
});

test('patientSearches - every word as an ANDed name, and the text as an identifier', () => {
  const [byName, byId] = patientSearches(' ada  love ');
  assert.deepEqual(byName?.getAll('name'), ['ada', 'love']);
  assert.equal(byId?.get('identifier'), 'ada  love');
  assert.equal(patientSearches('').length, 1);
});

test('uniqueById - keeps the first of each id across lists', () => {
  const a: FhirResource = { resourceType: 'Patient', id: '1', n: 'a' };
  const b: FhirResource = { resourceType: 'Patient', id: '2' };
  assert.deepEqual(uniqueById([[a, b], [{ resourceType: 'Patient', id: '1', n: 'later' }]]), [a, b]);
});

test('buildAllergy and buildOrder - coded statuses, patient reference and the accession identifier', () => {
  const allergy = buildAllergy('p1', 'Penicillin', 'high', now);
  assert.equal((allergy.patient as { reference: string }).reference, 'Patient/p1');
  assert.deepEqual(allergy.code, { text: 'Penicillin' });
  assert.equal(allergy.criticality, 'high');
  const order = buildOrder('p1', 'CT chest', 'ACC9', now);
  assert.deepEqual(order.identifier, [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] }, value: 'ACC9' }]);
  assert.throws(() => buildAllergy('p1', ' ', 'low', now), /substance is required/);
});

test('notes - a draft carries its UTF-8 text, is edited, signed, then amended by a transaction', () => {
  const draft = { ...buildNoteDraft('p1', 'Visit', 'Fièvre 38,5 °C — 発熱', now), id: 'n1', meta: { versionId: '2' } };
  assert.equal(noteState(draft), 'draft');
  assert.equal(noteText(draft), 'Fièvre 38,5 °C — 発熱');
  const edited = editNoteDraft(draft, 'Visit', 'Better now', now);
  assert.equal(noteText(edited), 'Better now');
  const house = practitionerReference({ ...buildPractitioner('House', 'Gregory'), id: 'dr1' });
  assert.deepEqual(house, { reference: 'Practitioner/dr1', display: 'House, Gregory' });
  assert.throws(() => signNote(edited, now, undefined), /choose who is signing/);
  const signed = signNote(edited, now, house);
  assert.equal(signed.docStatus, 'final');
  assert.equal(noteState(signed), 'signed');
  assert.deepEqual(signed.authenticator, house);
  assert.deepEqual(signed.author, [house]);
  assert.equal(noteSigner(signed), 'House, Gregory');
  assert.deepEqual(signNote({ ...edited, author: [house] }, now, house).author, [house], 'the signer is not listed twice');
  assert.throws(() => signNote(signed, now, house), /not a draft/);
  assert.throws(() => editNoteDraft(signed, '', 'x', now), /amend it instead/);
  const wilson = { reference: 'Practitioner/dr2', display: 'WILSON, James' };
  assert.throws(() => amendNoteBundle(signed, '', 'x', now, undefined), /choose who is signing/);
  const bundle = amendNoteBundle(signed, '', 'Correction: 37,5 °C', now, wilson) as unknown as { type: string; entry: { resource: DocumentReference; request: { method: string; url: string; ifMatch?: string } }[] };
  assert.equal(bundle.type, 'transaction');
  const [create, supersede] = bundle.entry;
  assert.equal(create?.request.method, 'POST');
  assert.equal(create?.resource.docStatus, 'amended');
  assert.equal(noteState(create!.resource), 'amendment');
  assert.equal(replacedNoteId(create!.resource), 'n1');
  assert.equal(noteText(create!.resource), 'Correction: 37,5 °C');
  assert.deepEqual(create?.resource.authenticator, wilson, 'the amendment is signed by who amends');
  assert.deepEqual(create?.resource.author, [wilson]);
  assert.deepEqual(supersede?.request, { method: 'PUT', url: 'DocumentReference/n1', ifMatch: 'W/"2"' });
  assert.equal(supersede?.resource.status, 'superseded');
  assert.equal(noteText(supersede!.resource), 'Better now', 'the signed text is kept');
  assert.deepEqual(supersede?.resource.authenticator, house, 'and so is its signer');
  assert.throws(() => amendNoteBundle(draft, '', 'x', now, wilson), /only a signed note/);
});

test('rememberedSigner - the remembered practitioner if still on the server', () => {
  const list = [{ ...buildPractitioner('A', ''), id: 'a' }, { ...buildPractitioner('B', 'b'), id: 'b' }];
  assert.equal(rememberedSigner(list, 'b')?.id, 'b');
  assert.equal(rememberedSigner(list, 'gone'), undefined);
  assert.equal(rememberedSigner(list, null), undefined);
  assert.throws(() => buildPractitioner(' ', 'x'), /family name is empty/);
});

test('observationTrends - numeric values grouped by code, in time order; others skipped', () => {
  const obs = (code: string, value: number | undefined, when: string, status = 'final'): Observation => ({
    ...buildObservation('p1', code, value ?? 0, when),
    status,
    ...(value === undefined ? { valueQuantity: undefined } : {}),
  });
  const trends = observationTrends([
    obs('8867-4', 80, '2026-03-02T00:00:00Z'),
    obs('8867-4', 70, '2026-03-01T00:00:00Z'),
    obs('29463-7', 71.5, '2026-03-01T00:00:00Z'),
    obs('8867-4', 999, '2026-03-03T00:00:00Z', 'entered-in-error'),
    obs('8867-4', undefined, '2026-03-04T00:00:00Z'),
  ]);
  assert.deepEqual(trends.map((t) => [t.label, t.unit, t.points.map((p) => p.value)]), [
    ['Body weight', 'kg', [71.5]],
    ['Heart rate', '/min', [70, 80]],
  ]);
});

test('trendGeometry - time left to right, higher values higher; a flat series sits in the middle', () => {
  const g = trendGeometry([{ time: 0, value: 10 }, { time: 50, value: 20 }, { time: 100, value: 15 }], 110, 50, 5);
  assert.equal(g.polyline, '5,45 55,5 105,25');
  assert.deepEqual([g.min, g.max], [10, 20]);
  const flat = trendGeometry([{ time: 1, value: 3 }], 100, 40);
  assert.deepEqual(flat.dots.map((d) => [d.x, d.y]), [[50, 20]]);
  assert.equal(trendGeometry([], 10, 10).polyline, '');
});

test('imagingTimeline - study UID from the DICOM identifier, newest first, thumbnail and viewer addresses', () => {
  const studies: ImagingStudy[] = [
    { resourceType: 'ImagingStudy', id: '1.2.3', identifier: [{ system: 'urn:dicom:uid', value: 'urn:oid:1.2.3' }], started: '2024-01-01T00:00:00Z', modality: [{ code: 'CT' }], numberOfSeries: 2, numberOfInstances: 40, description: 'CT chest' },
    { resourceType: 'ImagingStudy', id: '1.2.4', started: '2025-06-01T00:00:00Z', series: [{ uid: '9', modality: { code: 'US' } }] },
    { resourceType: 'ImagingStudy', id: '1.2.5' },
    { resourceType: 'ImagingStudy', id: '1.2.6', started: '2023-01-01T00:00:00Z', modality: [{ code: 'ECG' }] },
  ];
  const timeline = imagingTimeline(studies);
  assert.deepEqual(timeline.map((s) => s.studyInstanceUid), ['1.2.4', '1.2.3', '1.2.6', '1.2.5']);
  assert.deepEqual(timeline[0]?.modalities, ['US']);
  assert.equal(timeline[0]?.numberOfSeries, 1);
  assert.equal(timeline[1]?.thumbnailUrl, '/dicom-web/studies/1.2.3/thumbnail');
  assert.equal(timeline[1]?.viewerUrl, '/studies/1.2.3/view');
  // A resting ECG: no thumbnail to ask for (it would 404), and its view is the waveform view.
  assert.equal(timeline[2]?.thumbnailUrl, undefined);
  assert.equal(timeline[2]?.viewerUrl, '/cardio/1.2.6');
});

test('operationOutcomeMessage - joins the issues with the elements they name', () => {
  const outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'required', diagnostics: 'missing status', expression: ['Observation.status'] }] };
  assert.equal(operationOutcomeMessage(outcome, 'x'), 'missing status (Observation.status)');
  assert.equal(operationOutcomeMessage('nope', 'HTTP 500'), 'HTTP 500');
});

test('resolveProblem and stopMedication - new versions with the status changed and everything else kept', () => {
  const problem = { ...buildProblem('p1', 'Asthma', '2020-01-01', now), id: 'c1', meta: { versionId: '3' } };
  const resolved = resolveProblem(problem, now);
  assert.deepEqual(resolved.clinicalStatus, { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'resolved' }] });
  assert.equal(resolved.abatementDateTime, now.toISOString());
  assert.deepEqual([resolved.id, resolved.meta, resolved.code], ['c1', { versionId: '3' }, { text: 'Asthma' }]);
  const stopped = stopMedication({ ...buildMedication('p1', 'Salbutamol', '2 puffs', now), id: 'm1' });
  assert.equal(stopped.status, 'stopped');
  assert.deepEqual(stopped.dosageInstruction, [{ text: '2 puffs' }]);
  assert.throws(() => stopMedication(problem), /Cannot stop a Condition/);
});
