import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCtSeries, type DicomJsonDataset } from '@atrium/dicom';
import { openTestServer, stowBody } from '../test-support.js';

const seq = (ds: DicomJsonDataset, tag: string) => (ds[tag]?.Value ?? []) as DicomJsonDataset[];
const str = (ds: DicomJsonDataset | undefined, tag: string) => ds?.[tag]?.Value?.[0];

test('STOW-RS - stores every part and answers 200 with ReferencedSOPSequence and RetrieveURLs', async () => {
  const server = await openTestServer();
  try {
    const ct = buildCtSeries({ slices: 3, rows: 16, columns: 16, seed: 11 });
    const { body, contentType } = await stowBody(ct.instances.map((i) => i.bytes));
    const res = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': contentType, accept: 'application/dicom+json', host: 'pacs.test:8080' }, payload: body });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(res.headers['content-type'] as string, /^application\/dicom\+json/);
    const answer = JSON.parse(res.body) as DicomJsonDataset;
    assert.equal(str(answer, '00081190'), `http://pacs.test:8080/dicom-web/studies/${ct.studyInstanceUid}`);
    assert.equal(answer['00081198'], undefined, 'no FailedSOPSequence');
    const referenced = seq(answer, '00081199');
    assert.deepEqual(referenced.map((r) => str(r, '00081155')).sort(), ct.instances.map((i) => i.sopInstanceUid).sort());
    for (const r of referenced) {
      assert.equal(str(r, '00081150'), '1.2.840.10008.5.1.4.1.1.2');
      assert.equal(str(r, '00081190'), `http://pacs.test:8080/dicom-web/studies/${ct.studyInstanceUid}/series/${ct.seriesInstanceUid}/instances/${str(r, '00081155')}`);
    }
    assert.equal((await server.archive.archive.stats()).instances, 3);
  } finally {
    await server.close();
  }
});

test('STOW-RS - instances of another study than the target fail with A900 and are not kept (409)', async () => {
  const server = await openTestServer();
  try {
    const ct = buildCtSeries({ slices: 2, rows: 16, columns: 16, seed: 12 });
    const { body, contentType } = await stowBody(ct.instances.map((i) => i.bytes));
    const res = await server.app.inject({ method: 'POST', url: '/dicom-web/studies/1.2.3.4.5.6.7.8.9.999', headers: { 'content-type': contentType }, payload: body });
    assert.equal(res.statusCode, 409, res.body);
    const failed = seq(JSON.parse(res.body) as DicomJsonDataset, '00081198');
    assert.equal(failed.length, 2);
    for (const f of failed) assert.equal(str(f, '00081197'), 0xa900);
    assert.deepEqual(failed.map((f) => str(f, '00081155')).sort(), ct.instances.map((i) => i.sopInstanceUid).sort());
    assert.match(String(res.headers.warning), /belongs to study/);
    assert.equal((await server.archive.archive.stats()).instances, 0, 'refused instances are not stored');
    assert.deepEqual(await server.archive.archive.readChangeFeed(), [], 'refused before the commit: nothing was stored, then removed');

    // A copy of a stored instance sent under another study is refused too, and the stored one stays as it was.
    const stored = await server.archive.ingest.ingest([ct.instances[0]!.bytes], { kind: 'import' });
    const again = await server.app.inject({ method: 'POST', url: '/dicom-web/studies/1.2.3.4.5.6.7.8.9.999', headers: { 'content-type': contentType }, payload: body });
    assert.equal(again.statusCode, 409, again.body);
    const kept = await server.archive.archive.findInstance(ct.instances[0]!.sopInstanceUid);
    assert.equal(kept?.digest, stored.digest);
    assert.equal(kept?.studyInstanceUid, ct.studyInstanceUid);
  } finally {
    await server.close();
  }
});

test('STOW-RS - a part that is not DICOM fails with a reason while the others are stored (202)', async () => {
  const server = await openTestServer();
  try {
    const ct = buildCtSeries({ slices: 1, rows: 16, columns: 16, seed: 13 });
    const { body, contentType } = await stowBody([ct.instances[0]!.bytes, new TextEncoder().encode('not a DICOM file at all, just text')]);
    const res = await server.app.inject({ method: 'POST', url: `/dicom-web/studies/${ct.studyInstanceUid}`, headers: { 'content-type': contentType }, payload: body });
    assert.equal(res.statusCode, 202, res.body);
    const answer = JSON.parse(res.body) as DicomJsonDataset;
    assert.equal(seq(answer, '00081199').length, 1);
    const failed = seq(answer, '00081198');
    assert.equal(failed.length, 1);
    assert.equal(typeof str(failed[0], '00081197'), 'number');
    assert.match(String(res.headers.warning), /Cannot store part 2/);
  } finally {
    await server.close();
  }
});

test('STOW-RS - refuses other media types (415), a body without boundary or parts (400), and answers XML when asked', async () => {
  const server = await openTestServer();
  try {
    const json = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': 'application/json' }, payload: '[]' });
    assert.equal(json.statusCode, 415);
    assert.match(JSON.parse(json.body).detail, /STOW-RS takes multipart\/related/);
    const xml = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': 'multipart/related; type="application/dicom+xml"; boundary=x' }, payload: '--x--' });
    assert.equal(xml.statusCode, 415);
    const pdf = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': 'multipart/related; type="application/pdf"; boundary=x' }, payload: '--x--' });
    assert.equal(pdf.statusCode, 415);
    assert.match(JSON.parse(pdf.body).detail, /multipart\/related of 'application\/pdf'/);
    const emptyMetadata = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': 'multipart/related; type="application/dicom+json"; boundary=x' }, payload: '--x--' });
    assert.equal(emptyMetadata.statusCode, 400, 'a metadata body without parts');
    const noBoundary = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': 'multipart/related; type="application/dicom"' }, payload: 'x' });
    assert.equal(noBoundary.statusCode, 400);
    assert.match(JSON.parse(noBoundary.body).detail, /no boundary/);
    const truncated = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=b' }, payload: '--b\r\n\r\nDICM' });
    assert.equal(truncated.statusCode, 409, 'the broken part is reported as failed');

    const ct = buildCtSeries({ slices: 1, rows: 16, columns: 16, seed: 14 });
    const { body, contentType } = await stowBody([ct.instances[0]!.bytes]);
    const answerXml = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': contentType, accept: 'application/dicom+xml' }, payload: body });
    assert.equal(answerXml.statusCode, 200);
    assert.match(answerXml.headers['content-type'] as string, /^application\/dicom\+xml/);
    assert.match(answerXml.body, /<NativeDicomModel xmlns="http:\/\/dicom.nema.org\/PS3.19\/models\/NativeDICOM">/);
    assert.ok(answerXml.body.includes(`<DicomAttribute tag="00081155" vr="UI" keyword="ReferencedSOPInstanceUID"><Value number="1">${ct.instances[0]!.sopInstanceUid}</Value>`));
  } finally {
    await server.close();
  }
});

test('STOW-RS - ingest warnings with non-ASCII text reach the Warning header as printable ASCII (regression: a CJK name failed the response)', async () => {
  const server = await openTestServer();
  try {
    const first = buildCtSeries({ slices: 1, rows: 8, columns: 8, seed: 15, patient: { patientId: 'WARN-1', patientName: 'Yamada^Tarou' } });
    const second = buildCtSeries({ slices: 1, rows: 8, columns: 8, seed: 16, patient: { patientId: 'WARN-1', patientName: '山田^太郎' }, study: { accessionNumber: 'OTHER' } });
    for (const series of [first, second]) {
      const { body, contentType } = await stowBody([series.instances[0]!.bytes]);
      const res = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': contentType }, payload: body });
      assert.equal(res.statusCode, 200, res.body);
      if (series === second) {
        const warning = String(res.headers.warning ?? '');
        assert.match(warning, /^299 atrium "Instance '/);
        assert.match(warning, /^[\x20-\x7e]+$/);
      }
    }
  } finally {
    await server.close();
  }
});
