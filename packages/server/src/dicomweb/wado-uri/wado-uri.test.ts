import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { buildCtSeries, buildEcg12Lead, ExplicitVrLittleEndian, ImplicitVrLittleEndian, readPart10, RleLossless } from '@atrium/dicom';
import { openTestServer } from '../test-support.js';

test('WADO-URI - the object as application/dicom, in Explicit VR LE by default or the syntax asked', async () => {
  const server = await openTestServer();
  try {
    const ct = buildCtSeries({ slices: 1, rows: 16, columns: 16, seed: 41, transferSyntaxUid: RleLossless });
    const i = ct.instances[0]!;
    await server.archive.ingest.ingest([i.bytes], { kind: 'import' });
    const q = `requestType=WADO&studyUID=${ct.studyInstanceUid}&seriesUID=${ct.seriesInstanceUid}&objectUID=${i.sopInstanceUid}`;
    const asIs = await server.app.inject({ url: `/wado?${q}&contentType=application%2Fdicom&transferSyntax=${RleLossless}` });
    assert.equal(asIs.statusCode, 200);
    assert.equal(asIs.headers['content-type'], `application/dicom; transfer-syntax=${RleLossless}`);
    assert.deepEqual(new Uint8Array(asIs.rawPayload), i.bytes);
    const byDefault = await server.app.inject({ url: `/wado?${q}&contentType=application/dicom` });
    assert.equal((await readPart10([byDefault.rawPayload])).transferSyntaxUid, ExplicitVrLittleEndian);
    const implicit = await server.app.inject({ url: `/wado?${q}&contentType=application/dicom&transferSyntax=${ImplicitVrLittleEndian}` });
    assert.equal((await readPart10([implicit.rawPayload])).transferSyntaxUid, ImplicitVrLittleEndian);
  } finally {
    await server.close();
  }
});

test('WADO-URI - rendered JPEG by default for images, rows/columns/region/window/quality, 400 on unknown parameters', async () => {
  const server = await openTestServer();
  try {
    const ct = buildCtSeries({ slices: 1, rows: 32, columns: 32, seed: 42 });
    const ecg = buildEcg12Lead({ seed: 43 });
    const i = ct.instances[0]!;
    for (const o of [i, ecg]) await server.archive.ingest.ingest([o.bytes], { kind: 'import' });
    const q = `requestType=WADO&studyUID=${ct.studyInstanceUid}&seriesUID=${ct.seriesInstanceUid}&objectUID=${i.sopInstanceUid}`;
    const jpeg = await server.app.inject({ url: `/wado?${q}` });
    assert.equal(jpeg.statusCode, 200);
    assert.equal(jpeg.headers['content-type'], 'image/jpeg');
    assert.deepEqual((await sharp(jpeg.rawPayload).metadata()).width, 32);
    const small = await server.app.inject({ url: `/wado?${q}&contentType=image/png&rows=8&windowCenter=40&windowWidth=400&imageQuality=80` });
    const info = await sharp(small.rawPayload).metadata();
    assert.deepEqual([info.format, info.width, info.height], ['png', 8, 8]);
    const region = await server.app.inject({ url: `/wado?${q}&contentType=image/png&region=0,0,0.5,0.25` });
    const regionInfo = await sharp(region.rawPayload).metadata();
    assert.deepEqual([regionInfo.width, regionInfo.height], [16, 8]);

    const ecgUri = `/wado?requestType=WADO&studyUID=${ecg.studyInstanceUid}&seriesUID=${ecg.seriesInstanceUid}&objectUID=${ecg.sopInstanceUid}`;
    const nonImage = await server.app.inject({ url: ecgUri });
    assert.equal(nonImage.headers['content-type'], `application/dicom; transfer-syntax=${ExplicitVrLittleEndian}`, 'non-images default to the object');
    assert.equal((await server.app.inject({ url: `${ecgUri}&contentType=image/jpeg` })).statusCode, 406);

    for (const [url, pattern] of [
      [`/wado?${q}&zoom=2`, /parameter 'zoom'/],
      [`/wado?${q}&anonymize=yes`, /anonymize/],
      [`/wado?requestType=WADO&studyUID=${ct.studyInstanceUid}`, /without studyUID, seriesUID and objectUID/],
      [`/wado?${q.replace('WADO', 'XYZ')}`, /requestType 'XYZ'/],
      [`/wado?${q}&contentType=application/dicom&rows=3`, /applies to rendered images/],
      [`/wado?${q}&windowCenter=3`, /windowCenter without windowWidth/],
    ] as const) {
      const res = await server.app.inject({ url });
      assert.equal(res.statusCode, 400, url);
      assert.match(JSON.parse(res.body).detail, pattern);
    }
    assert.equal((await server.app.inject({ url: `/wado?${q.replace(i.sopInstanceUid, '1.2.3')}` })).statusCode, 404);
  } finally {
    await server.close();
  }
});

test('DICOMweb - CORS for browser viewers, capabilities document', async () => {
  const server = await openTestServer();
  try {
    const preflight = await server.app.inject({
      method: 'OPTIONS',
      url: '/dicom-web/studies',
      headers: { origin: 'http://viewer.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'accept' },
    });
    assert.equal(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], '*');
    assert.match(String(preflight.headers['access-control-allow-methods']), /GET/);
    const get = await server.app.inject({ url: '/dicom-web/studies', headers: { origin: 'http://viewer.example' } });
    assert.equal(get.headers['access-control-allow-origin'], '*');
    assert.match(String(get.headers['access-control-expose-headers']), /ETag/);
    const wadl = await server.app.inject({ url: '/dicom-web/' });
    assert.equal(wadl.headers['content-type'], 'application/vnd.sun.wadl+xml');
    assert.match(wadl.body, /<resource path="studies\/\{study\}\/series\/\{series\}\/instances\/\{instance\}\/frames\/\{frames\}">/);
    const caps = await server.app.inject({ url: '/dicom-web', headers: { accept: 'application/json' } });
    const doc = JSON.parse(caps.body) as { services: string[]; transferSyntaxes: { decodes: { uid: string }[] } };
    assert.deepEqual(doc.services, ['QIDO-RS', 'WADO-RS', 'STOW-RS', 'WADO-URI']);
    assert.ok(doc.transferSyntaxes.decodes.some((t) => t.uid === '1.2.840.10008.1.2.4.50'));
    const compressed = await server.app.inject({ url: '/dicom-web/', headers: { accept: 'application/json', 'accept-encoding': 'gzip' } });
    assert.equal(compressed.headers['content-encoding'], 'gzip');
  } finally {
    await server.close();
  }
});
