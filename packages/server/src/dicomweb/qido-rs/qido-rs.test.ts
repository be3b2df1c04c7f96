import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCtSeries, buildEcg12Lead, defaultDictionary, type DicomJsonDataset } from '@atrium/dicom';
import { openTestServer, readMultipartResponse } from '../test-support.js';
import { parseQidoParameters } from './qido-parameters.js';

const v = (ds: DicomJsonDataset | undefined, tag: string) => ds?.[tag]?.Value?.[0];

async function fixture() {
  const server = await openTestServer();
  const a = buildCtSeries({ slices: 3, rows: 8, columns: 8, seed: 31, patient: { patientId: 'QIDO-A', patientName: 'Müller^Anna' }, study: { studyDate: '20240110', accessionNumber: 'ACC-1' } });
  const b = buildCtSeries({ slices: 2, rows: 8, columns: 8, seed: 32, patient: { patientId: 'QIDO-B', patientName: 'Smith^John' }, study: { studyDate: '20240315', accessionNumber: 'ACC-2' } });
  const ecg = buildEcg12Lead({ seed: 33, patient: { patientId: 'QIDO-A', patientName: 'Müller^Anna' }, study: { studyDate: '20231201' } });
  for (const i of [...a.instances, ...b.instances, ecg]) await server.archive.ingest.ingest([i.bytes], { kind: 'import' });
  return { server, a, b, ecg };
}

async function json(server: Awaited<ReturnType<typeof openTestServer>>, url: string, headers: Record<string, string> = {}) {
  const res = await server.app.inject({ url, headers: { accept: 'application/dicom+json', host: 'qido.test', ...headers } });
  return { res, body: res.statusCode === 200 ? (JSON.parse(res.body) as DicomJsonDataset[]) : [] };
}

test('parseQidoParameters - keywords, tags, sequence paths, UID lists, includefield, paging; unknown names refused', () => {
  const dict = defaultDictionary();
  const s = parseQidoParameters(
    {
      PatientName: 'Mül*',
      '00080020': '20240101-20241231',
      StudyInstanceUID: '1.2.3,1.2.4\\1.2.5',
      'RequestAttributesSequence.AccessionNumber': 'ACC*',
      includefield: ['00081030,PatientAge', 'all'],
      fuzzymatching: 'true',
      limit: '10',
      offset: '5',
    },
    'STUDY',
    dict,
  );
  assert.deepEqual(s.keys['00100010'], { vr: 'PN', Value: [{ Alphabetic: 'Mül*' }] });
  assert.deepEqual(s.keys['00080020'], { vr: 'DA', Value: ['20240101-20241231'] });
  assert.deepEqual(s.keys['0020000D']!.Value, ['1.2.3', '1.2.4', '1.2.5']);
  assert.deepEqual(s.keys['00400275'], { vr: 'SQ', Value: [{ '00080050': { vr: 'SH', Value: ['ACC*'] } }] });
  assert.deepEqual(s.keys['00081030'], { vr: 'LO' });
  assert.deepEqual(s.keys['00101010'], { vr: 'AS' });
  assert.equal(s.includeAllFields, true);
  assert.equal(s.fuzzyMatching, true);
  assert.deepEqual([s.limit, s.offset], [10, 5]);
  assert.throws(() => parseQidoParameters({ PatientNam: 'x' }, 'STUDY', dict), /'PatientNam' is neither a QIDO-RS parameter/);
  assert.throws(() => parseQidoParameters({ includefield: 'Nope' }, 'STUDY', dict), /includefield=Nope/);
  assert.throws(() => parseQidoParameters({ limit: '-1' }, 'STUDY', dict), /Cannot use limit '-1'/);
  assert.throws(() => parseQidoParameters({ fuzzymatching: 'yes' }, 'STUDY', dict), /fuzzymatching 'yes'/);
  assert.throws(() => parseQidoParameters({ offset: ['1', '2'] }, 'STUDY', dict), /more than once/);
});

test('QIDO-RS - studies by patient, wildcard, date range, UID list; default and included fields; RetrieveURL', async () => {
  const { server, a, b } = await fixture();
  try {
    const byId = await json(server, '/dicom-web/studies?PatientID=QIDO-A');
    assert.equal(byId.res.statusCode, 200);
    assert.match(byId.res.headers['content-type'] as string, /^application\/dicom\+json/);
    assert.equal(byId.body.length, 2, 'the CT study and the ECG study');
    const ctStudy = byId.body.find((d) => v(d, '0020000D') === a.studyInstanceUid)!;
    assert.deepEqual(v(ctStudy, '00100010'), { Alphabetic: 'Müller^Anna' });
    assert.equal(v(ctStudy, '00080020'), '20240110');
    assert.equal(v(ctStudy, '00201208'), 3, 'NumberOfStudyRelatedInstances');
    assert.equal(v(ctStudy, '00081190'), `http://qido.test/dicom-web/studies/${a.studyInstanceUid}`);

    assert.equal((await json(server, '/dicom-web/studies?PatientName=Sm*')).body.length, 1);
    assert.equal((await json(server, `/dicom-web/studies?PatientName=${encodeURIComponent('M?ller*')}`)).body.length, 2);
    assert.equal((await json(server, '/dicom-web/studies?StudyDate=20240301-20240331')).body.length, 1);
    assert.equal((await json(server, `/dicom-web/studies?StudyInstanceUID=${a.studyInstanceUid},${b.studyInstanceUid}`)).body.length, 2);
    assert.equal((await json(server, '/dicom-web/studies?ModalitiesInStudy=CT')).body.length, 2);
    const fuzzy = await json(server, '/dicom-web/studies?PatientName=muller&fuzzymatching=true');
    assert.equal(fuzzy.body.length, 2, 'fuzzy matching folds case and accents');

    const incl = await json(server, `/dicom-web/studies?StudyInstanceUID=${a.studyInstanceUid}&includefield=00081030&includefield=PatientBirthDate`);
    assert.ok('00081030' in incl.body[0]! && '00100030' in incl.body[0]!, 'included fields are returned');
    const all = await json(server, `/dicom-web/studies?StudyInstanceUID=${a.studyInstanceUid}&includefield=all`);
    assert.ok(Object.keys(all.body[0]!).length >= Object.keys(incl.body[0]!).length);

    const none = await json(server, '/dicom-web/studies?PatientID=NO-SUCH-PATIENT');
    assert.equal(none.res.statusCode, 200);
    assert.deepEqual(none.body, []);
  } finally {
    await server.close();
  }
});

test('QIDO-RS - series and instances at every resource path of PS3.18 Table 10.6.1-2', async () => {
  const { server, a, ecg } = await fixture();
  try {
    const series = await json(server, `/dicom-web/studies/${a.studyInstanceUid}/series`);
    assert.equal(series.body.length, 1);
    assert.equal(v(series.body[0], '00080060'), 'CT');
    assert.equal(v(series.body[0], '00201209'), 3);
    assert.equal(v(series.body[0], '00081190'), `http://qido.test/dicom-web/studies/${a.studyInstanceUid}/series/${a.seriesInstanceUid}`);
    const allSeries = await json(server, '/dicom-web/series?Modality=ECG');
    assert.equal(allSeries.body.length, 1);
    assert.equal(v(allSeries.body[0], '0020000D'), ecg.studyInstanceUid, 'unscoped series searches carry the study UID');
    assert.deepEqual(v(allSeries.body[0], '00100010'), { Alphabetic: 'Müller^Anna' }, 'and the study-level defaults');

    const inst = await json(server, `/dicom-web/studies/${a.studyInstanceUid}/series/${a.seriesInstanceUid}/instances`);
    assert.equal(inst.body.length, 3);
    for (const d of inst.body) {
      assert.equal(v(d, '00080016'), '1.2.840.10008.5.1.4.1.1.2');
      assert.equal(v(d, '00280010'), 8);
      assert.equal(v(d, '00081190'), `http://qido.test/dicom-web/studies/${a.studyInstanceUid}/series/${a.seriesInstanceUid}/instances/${v(d, '00080018')}`);
    }
    assert.equal((await json(server, `/dicom-web/studies/${a.studyInstanceUid}/instances?InstanceNumber=2`)).body.length, 1);
    const one = await json(server, `/dicom-web/instances?SOPInstanceUID=${a.instances[0]!.sopInstanceUid}`);
    assert.equal(one.body.length, 1);
    assert.equal(v(one.body[0], '0020000E'), a.seriesInstanceUid);
  } finally {
    await server.close();
  }
});

test('QIDO-RS - limit and offset page results, a cut result carries Warning 299', async () => {
  const { server, a } = await fixture();
  try {
    const url = `/dicom-web/studies/${a.studyInstanceUid}/series/${a.seriesInstanceUid}/instances`;
    const first = await json(server, `${url}?limit=2`);
    assert.equal(first.body.length, 2);
    assert.match(String(first.res.headers.warning), /^299 atrium "There are additional results that can be requested/);
    const rest = await json(server, `${url}?limit=2&offset=2`);
    assert.equal(rest.body.length, 1);
    assert.equal(rest.res.headers.warning, undefined, 'the last page is not cut');
    const uids = [...first.body, ...rest.body].map((d) => v(d, '00080018'));
    assert.equal(new Set(uids).size, 3);
  } finally {
    await server.close();
  }
});

test('QIDO-RS - unknown or unsupported parameters are a 400 with the reason; XML on request', async () => {
  const { server, a } = await fixture();
  try {
    const unknown = await server.app.inject({ url: '/dicom-web/studies?PatientNmae=x' });
    assert.equal(unknown.statusCode, 400);
    assert.match(JSON.parse(unknown.body).detail, /'PatientNmae' is neither a QIDO-RS parameter/);
    const unsupported = await server.app.inject({ url: '/dicom-web/studies?ImageComments=x' });
    assert.equal(unsupported.statusCode, 400);
    assert.match(JSON.parse(unsupported.body).detail, /Cannot match on ImageComments/);
    const badDate = await server.app.inject({ url: '/dicom-web/studies?StudyDate=2024-01-01-2' });
    assert.equal(badDate.statusCode, 400);
    const xml = await server.app.inject({ url: `/dicom-web/studies?StudyInstanceUID=${a.studyInstanceUid}`, headers: { accept: 'multipart/related; type="application/dicom+xml"' } });
    assert.equal(xml.statusCode, 200);
    const parts = await readMultipartResponse(xml.headers['content-type'] as string, xml.rawPayload);
    assert.equal(parts.length, 1);
    assert.match(parts[0]!.body.toString(), new RegExp(`<DicomAttribute tag="0020000D" vr="UI" keyword="StudyInstanceUID"><Value number="1">${a.studyInstanceUid.replace(/\./g, '\\.')}</Value>`));
    assert.equal((await server.app.inject({ url: '/dicom-web/studies', headers: { accept: 'text/csv' } })).statusCode, 406);
    const viaParameter = await server.app.inject({ url: `/dicom-web/studies?StudyInstanceUID=${a.studyInstanceUid}&accept=application/dicom%2Bxml` });
    assert.match(viaParameter.headers['content-type'] as string, /^multipart\/related; type="application\/dicom\+xml"/);
  } finally {
    await server.close();
  }
});
