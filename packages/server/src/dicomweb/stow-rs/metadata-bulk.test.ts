import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildCtSeries,
  buildUltrasoundClip,
  ExplicitVrLittleEndian,
  readPart10,
  RleLossless,
  type DicomJsonDataset,
} from '@atrium/dicom';
import { writeMultipart, type OutgoingPart } from '../multipart/multipart-writer.js';
import { openTestServer, readMultipartResponse } from '../test-support.js';

const seq = (ds: DicomJsonDataset, tag: string) => (ds[tag]?.Value ?? []) as DicomJsonDataset[];
const str = (ds: DicomJsonDataset | undefined, tag: string) => ds?.[tag]?.Value?.[0];

/** A `multipart/related; type="application/dicom+json"` request body. */
async function metadataBody(parts: OutgoingPart[], boundary = 'stow-json-boundary'): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const chunks: Buffer[] = [];
  for await (const c of writeMultipart(parts, boundary)) chunks.push(Buffer.from(c as Uint8Array));
  return {
    payload: Buffer.concat(chunks),
    headers: { 'content-type': `multipart/related; type="application/dicom+json"; boundary=${boundary}`, accept: 'application/dicom+json' },
  };
}

const json = (datasets: DicomJsonDataset[]): OutgoingPart => ({ headers: { 'Content-Type': 'application/dicom+json' }, body: Buffer.from(JSON.stringify(datasets)) });
const bulk = (location: string, body: Uint8Array, type = 'application/octet-stream'): OutgoingPart => ({
  headers: { 'Content-Type': type, 'Content-Location': location },
  body,
});

/** The top-level attributes of a Part 10 object as DICOM JSON, and its native pixel bytes. */
async function metadataOf(bytes: Uint8Array): Promise<{ dataset: DicomJsonDataset; pixels: Buffer }> {
  const parsed = await readPart10([bytes], { bulkDataThreshold: 1 << 30 });
  const dataset = { ...parsed.dataset };
  delete dataset['7FE00010'];
  const pixels = Buffer.from(bytes.subarray(parsed.pixelData!.offset, parsed.pixelData!.offset + parsed.pixelData!.length));
  return { dataset, pixels };
}

async function retrieve(server: Awaited<ReturnType<typeof openTestServer>>, study: string, series: string, sop: string): Promise<Buffer> {
  const res = await server.app.inject({
    url: `/dicom-web/studies/${study}/series/${series}/instances/${sop}`,
    headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
  });
  assert.equal(res.statusCode, 200, res.body);
  const [part] = await readMultipartResponse(res.headers['content-type'] as string, res.rawPayload);
  return part!.body;
}

test('STOW-RS metadata and bulk data - native pixel data, a nested bulk value and InlineBinary make a Part 10 instance', async () => {
  const server = await openTestServer();
  try {
    const ct = buildCtSeries({ slices: 2, rows: 16, columns: 16, seed: 31 });
    const icon = Buffer.alloc(8 * 8);
    for (let i = 0; i < icon.length; i++) icon[i] = i * 3;
    const privateValue = Buffer.from([1, 2, 3, 4, 5, 6]);
    const datasets: DicomJsonDataset[] = [];
    const parts: OutgoingPart[] = [];
    const pixels: Buffer[] = [];
    for (const [i, instance] of ct.instances.entries()) {
      const { dataset, pixels: px } = await metadataOf(instance.bytes);
      pixels.push(px);
      datasets.push({
        ...dataset,
        '00290010': { vr: 'LO', Value: ['ATRIUM TEST'] },
        '00291000': { vr: 'OB', InlineBinary: privateValue.toString('base64') },
        // Icon Image Sequence: bulk data inside a sequence item.
        '00880200': {
          vr: 'SQ',
          Value: [{
            '00280002': { vr: 'US', Value: [1] }, '00280004': { vr: 'CS', Value: ['MONOCHROME2'] },
            '00280010': { vr: 'US', Value: [8] }, '00280011': { vr: 'US', Value: [8] }, '00280100': { vr: 'US', Value: [8] },
            '00280101': { vr: 'US', Value: [8] }, '00280102': { vr: 'US', Value: [7] }, '00280103': { vr: 'US', Value: [0] },
            '7FE00010': { vr: 'OB', BulkDataURI: `http://client.test/icon/${i}` },
          }],
        },
        '7FE00010': { vr: 'OW', BulkDataURI: `http://client.test/pixels/${i}` },
      });
      parts.push(bulk(`http://client.test/pixels/${i}`, px), bulk(`http://client.test/icon/${i}`, icon));
    }
    const { payload, headers } = await metadataBody([json(datasets), ...parts]);
    const res = await server.app.inject({ method: 'POST', url: `/dicom-web/studies/${ct.studyInstanceUid}`, headers, payload });
    assert.equal(res.statusCode, 200, res.body);
    const answer = JSON.parse(res.body) as DicomJsonDataset;
    assert.deepEqual(seq(answer, '00081199').map((r) => str(r, '00081155')), ct.instances.map((i) => i.sopInstanceUid));

    for (const [i, instance] of ct.instances.entries()) {
      const bytes = await retrieve(server, ct.studyInstanceUid, ct.seriesInstanceUid, instance.sopInstanceUid);
      const parsed = await readPart10([bytes], { bulkDataThreshold: 1 << 30 });
      assert.equal(parsed.transferSyntaxUid, ExplicitVrLittleEndian);
      assert.deepEqual(bytes.subarray(parsed.pixelData!.offset, parsed.pixelData!.offset + parsed.pixelData!.length), pixels[i], 'pixel data from its bulk part');
      assert.deepEqual(parsed.dataset['00100010'], datasets[i]!['00100010'], 'Patient Name as sent');
      assert.equal(parsed.dataset['00291000']?.InlineBinary, privateValue.toString('base64'), 'InlineBinary value written as given');
      const iconRef = parsed.bulkData.find((r) => r.path === '00880200/0/7FE00010');
      assert.ok(iconRef, `icon pixel data recorded: ${parsed.bulkData.map((r) => r.path).join(', ')}`);
      assert.deepEqual(bytes.subarray(iconRef.offset, iconRef.offset + iconRef.length!), icon, 'nested bulk value from its part');
    }
    const spool = join(server.archive.config.dataDir, 'spool');
    assert.deepEqual(existsSync(spool) ? readdirSync(spool) : [], [], 'the spooled bulk data is removed after the request');
  } finally {
    await server.close();
  }
});

test('STOW-RS metadata and bulk data - compressed frames, one part each, stored encapsulated in the media type syntax', async () => {
  const server = await openTestServer();
  try {
    const clip = buildUltrasoundClip({ frames: 3, rows: 16, columns: 24, seed: 8, transferSyntaxUid: RleLossless });
    const chunks: Buffer[] = [];
    for await (const c of clip.chunks()) chunks.push(Buffer.from(c));
    const original = Buffer.concat(chunks);
    const parsed = await readPart10([original], { bulkDataThreshold: 1 << 30 });
    const frames = parsed.frames.map((f) => Buffer.concat(f.fragments.map((g) => original.subarray(g.offset, g.offset + g.length))));
    assert.equal(frames.length, 3);
    const dataset = { ...parsed.dataset, '7FE00010': { vr: 'OB' as const, BulkDataURI: 'frames' } };
    const { payload, headers } = await metadataBody([json([dataset]), ...frames.map((f) => bulk('frames', f, 'image/dicom-rle'))]);
    const res = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers, payload });
    assert.equal(res.statusCode, 200, res.body);
    const base = `/dicom-web/studies/${clip.studyInstanceUid}/series/${clip.seriesInstanceUid}/instances/${clip.sopInstanceUid}`;
    const stored = await server.app.inject({ url: `${base}/frames/3,1`, headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
    const got = await readMultipartResponse(stored.headers['content-type'] as string, stored.rawPayload);
    assert.deepEqual(got.map((p) => p.headers['content-type']), [`application/octet-stream; transfer-syntax=${RleLossless}`, `application/octet-stream; transfer-syntax=${RleLossless}`]);
    assert.deepEqual(got.map((p) => p.body), [frames[2], frames[0]]);
    const decoded = await server.app.inject({ url: `${base}/frames/2`, headers: { accept: 'application/octet-stream' } });
    assert.equal(decoded.statusCode, 200, 'the stored frames decode');
    assert.equal(decoded.rawPayload.length, 16 * 24);

    // Two parts for three frames: the instance fails with the reason.
    const other = { ...dataset, '00080018': { vr: 'UI' as const, Value: [`${clip.sopInstanceUid}.2`] } };
    const short = await metadataBody([json([other]), ...frames.slice(0, 2).map((f) => bulk('frames', f, 'image/dicom-rle'))]);
    const refused = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: short.headers, payload: short.payload });
    assert.equal(refused.statusCode, 409);
    assert.equal(str(seq(JSON.parse(refused.body) as DicomJsonDataset, '00081198')[0], '00081197'), 0xc000);
    assert.match(String(refused.headers.warning), /2 parts for 3 frames/);
  } finally {
    await server.close();
  }
});

test('STOW-RS metadata and bulk data - a large odd-length document streams from its part and is padded', async () => {
  const server = await openTestServer();
  try {
    const pdf = Buffer.alloc(1_500_001);
    for (let i = 0; i < pdf.length; i++) pdf[i] = (i * 7) & 0xff;
    const dataset: DicomJsonDataset = {
      '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.104.1'] },
      '00080018': { vr: 'UI', Value: ['1.2.826.0.1.3680043.8.498.77.3'] },
      '00080060': { vr: 'CS', Value: ['DOC'] },
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Müller^Jürgen' }] },
      '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
      '00100020': { vr: 'LO', Value: ['PDF-1'] },
      '0020000D': { vr: 'UI', Value: ['1.2.826.0.1.3680043.8.498.77.1'] },
      '0020000E': { vr: 'UI', Value: ['1.2.826.0.1.3680043.8.498.77.2'] },
      '00420011': { vr: 'OB', BulkDataURI: 'report.pdf' },
      '00420012': { vr: 'LO', Value: ['application/pdf'] },
    };
    const { payload, headers } = await metadataBody([json([dataset]), bulk('report.pdf', pdf, 'application/pdf')]);
    const res = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers, payload });
    assert.equal(res.statusCode, 200, res.body);
    const bytes = await retrieve(server, '1.2.826.0.1.3680043.8.498.77.1', '1.2.826.0.1.3680043.8.498.77.2', '1.2.826.0.1.3680043.8.498.77.3');
    const parsed = await readPart10([bytes]);
    assert.deepEqual(parsed.dataset['00100010']?.Value, [{ Alphabetic: 'Müller^Jürgen' }], 'text after the streamed value keeps its character set');
    const document = parsed.bulkData.find((r) => r.path === '00420011')!;
    assert.equal(document.length, pdf.length + 1, 'padded to even length');
    assert.deepEqual(bytes.subarray(document.offset, document.offset + pdf.length), pdf);
    assert.equal(bytes[document.offset + pdf.length], 0);
  } finally {
    await server.close();
  }
});

test('STOW-RS metadata and bulk data - failures carry reasons: missing bulk part, no SOP Instance UID, unreadable JSON, part without Content-Location', async () => {
  const server = await openTestServer();
  try {
    const ct = buildCtSeries({ slices: 2, rows: 8, columns: 8, seed: 32 });
    const [first, second] = await Promise.all(ct.instances.map((i) => metadataOf(i.bytes)));
    const withPixels = (m: typeof first, uri: string) => ({ ...m!.dataset, '7FE00010': { vr: 'OW' as const, BulkDataURI: uri } });
    const noUid = { ...first!.dataset };
    delete noUid['00080018'];
    const { payload, headers } = await metadataBody([
      json([withPixels(first, 'px/1'), withPixels(second, 'px/missing')]),
      json([noUid]),
      { headers: { 'Content-Type': 'application/dicom+json' }, body: Buffer.from('{"00080018": ') },
      bulk('px/1', first!.pixels),
      { headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.from([1, 2]) },
    ]);
    const res = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers, payload });
    assert.equal(res.statusCode, 202, res.body);
    const answer = JSON.parse(res.body) as DicomJsonDataset;
    assert.deepEqual(seq(answer, '00081199').map((r) => str(r, '00081155')), [ct.instances[0]!.sopInstanceUid]);
    const failed = seq(answer, '00081198');
    const missing = failed.find((f) => str(f, '00081155') === ct.instances[1]!.sopInstanceUid)!;
    assert.equal(str(missing, '00081197'), 0xc000);
    assert.equal(str(missing, '00081150'), '1.2.840.10008.5.1.4.1.1.2');
    assert.ok(failed.some((f) => str(f, '00081197') === 0xa900), 'metadata without SOP Instance UID: A900');
    assert.equal(failed.length, 4);
    const warning = String(res.headers.warning);
    assert.match(warning, /bulk data 'px\/missing' of 7FE00010 has no part with that Content-Location/);
    assert.match(warning, /has no SOP Instance UID/);
    assert.match(warning, /Cannot read metadata part 3/);
    assert.match(warning, /Cannot use bulk data part 5 .*no Content-Location/);

    const xml = await server.app.inject({
      method: 'POST',
      url: '/dicom-web/studies',
      headers: { 'content-type': 'multipart/related; type="application/dicom+xml"; boundary=x' },
      payload: '--x\r\nContent-Type: application/dicom+xml\r\n\r\n<NativeDicomModel/>\r\n--x--',
    });
    assert.equal(xml.statusCode, 415);
    assert.match(JSON.parse(xml.body).detail, /metadata with bulk data as application\/dicom\+json/);
  } finally {
    await server.close();
  }
});
