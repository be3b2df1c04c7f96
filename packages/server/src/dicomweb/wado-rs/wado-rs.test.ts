import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import {
  buildCtSeries,
  buildEcg12Lead,
  buildUltrasoundClip,
  encodePart10,
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  readPart10,
  RleLossless,
  type DicomJsonDataset,
} from '@atrium/dicom';
import { openTestServer, readMultipartResponse, readStoredZip } from '../test-support.js';

async function nativePixels(bytes: Uint8Array): Promise<Buffer> {
  const parsed = await readPart10([bytes]);
  const px = parsed.pixelData!;
  return Buffer.from(bytes.subarray(px.offset, px.offset + px.length));
}

async function bytesOf(object: { chunks(): AsyncIterable<Uint8Array> }): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of object.chunks()) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** A server holding a 3-slice CT (explicit LE), a 2-slice RLE CT in another series of the same study, a 4-frame
 * US clip and an ECG. */
async function fixture() {
  const server = await openTestServer();
  const ct = buildCtSeries({ slices: 3, rows: 32, columns: 32, seed: 21 });
  const rle = buildCtSeries({
    slices: 2, rows: 32, columns: 32, seed: 21, transferSyntaxUid: RleLossless,
    study: { studyInstanceUid: ct.studyInstanceUid }, series: { seriesInstanceUid: `${ct.seriesInstanceUid}.2`, seriesNumber: 2 },
  });
  const us = buildUltrasoundClip({ frames: 4, rows: 24, columns: 32, seed: 5 });
  const ecg = buildEcg12Lead({ seed: 3 });
  for (const i of [...ct.instances, ...rle.instances]) await server.archive.ingest.ingest([i.bytes], { kind: 'import' });
  const usBytes = await bytesOf(us);
  await server.archive.ingest.ingest([usBytes], { kind: 'import' });
  await server.archive.ingest.ingest([ecg.bytes], { kind: 'import' });
  return { server, ct, rle, us, usBytes, ecg };
}

test('WADO-RS - study, series and instance retrieve as multipart/related application/dicom', async () => {
  const { server, ct, rle } = await fixture();
  try {
    const study = ct.studyInstanceUid;
    const all = await server.app.inject({ url: `/dicom-web/studies/${study}`, headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
    assert.equal(all.statusCode, 200);
    assert.match(all.headers['content-type'] as string, /^multipart\/related; type="application\/dicom"; boundary=/);
    const parts = await readMultipartResponse(all.headers['content-type'] as string, all.rawPayload);
    assert.equal(parts.length, 5);
    const originals = new Map([...ct.instances, ...rle.instances].map((i) => [i.sopInstanceUid, i.bytes]));
    for (const part of parts) {
      const sop = part.headers['content-location']!.split('/').pop()!;
      assert.deepEqual(new Uint8Array(part.body), originals.get(sop), `part ${sop} is the stored object, byte for byte`);
      assert.match(part.headers['content-type']!, /^application\/dicom; transfer-syntax=1\.2\.840\.10008\.1\.2\.(1|5)$/);
      assert.equal(Number(part.headers['content-length']), part.body.length);
    }

    // No transfer-syntax parameter: Explicit VR Little Endian (PS3.18 §8.7.3.5.2), so the RLE series is decoded.
    const series = await server.app.inject({ url: `/dicom-web/studies/${study}/series/${rle.seriesInstanceUid}`, headers: { accept: 'multipart/related; type="application/dicom"' } });
    assert.equal(series.statusCode, 200);
    const decoded = await readMultipartResponse(series.headers['content-type'] as string, series.rawPayload);
    assert.equal(decoded.length, 2);
    for (const part of decoded) {
      assert.equal(part.headers['content-type'], `application/dicom; transfer-syntax=${ExplicitVrLittleEndian}`);
      const parsed = await readPart10([part.body]);
      assert.equal(parsed.transferSyntaxUid, ExplicitVrLittleEndian);
      const sop = String(parsed.dataset['00080018']!.Value![0]);
      const twin = ct.instances.find((i) => i.instanceNumber === rle.instances.find((r) => r.sopInstanceUid === sop)!.instanceNumber)!;
      assert.deepEqual(await nativePixels(part.body), await nativePixels(twin.bytes), 'decoded pixels equal the native twin');
    }

    const one = ct.instances[1]!;
    const single = await server.app.inject({ url: `/dicom-web/studies/${study}/series/${ct.seriesInstanceUid}/instances/${one.sopInstanceUid}`, headers: { accept: 'application/dicom' } });
    assert.equal(single.statusCode, 200);
    assert.equal(single.headers['content-type'], `application/dicom; transfer-syntax=${ExplicitVrLittleEndian}`);
    assert.deepEqual(new Uint8Array(single.rawPayload), one.bytes);

    // Native to native (here big endian, for an old workstation) streams without a codec; pixels are swapped.
    const big = await server.app.inject({ url: `/dicom-web/studies/${study}/series/${ct.seriesInstanceUid}/instances/${one.sopInstanceUid}`, headers: { accept: `application/dicom; transfer-syntax=${ExplicitVrBigEndian}` } });
    assert.equal(big.statusCode, 200);
    assert.equal(big.headers['content-type'], `application/dicom; transfer-syntax=${ExplicitVrBigEndian}`);
    const bigParsed = await readPart10([big.rawPayload]);
    assert.equal(bigParsed.transferSyntaxUid, ExplicitVrBigEndian);
    assert.equal(bigParsed.dataset['00080018']!.Value![0], one.sopInstanceUid);
    assert.deepEqual(await nativePixels(big.rawPayload), (await nativePixels(one.bytes)).swap16(), 'the pixel words, byte-swapped');

    const missing = await server.app.inject({ url: '/dicom-web/studies/1.2.3.4.5.6.7.8.9.404', headers: { accept: 'multipart/related; type="application/dicom"' } });
    assert.equal(missing.statusCode, 404);
    const video = await server.app.inject({ url: `/dicom-web/studies/${study}`, headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.100' } });
    assert.equal(video.statusCode, 406);
    assert.match(JSON.parse(video.body).detail, /cannot be converted/);
    const pdf = await server.app.inject({ url: `/dicom-web/studies/${study}`, headers: { accept: 'application/pdf' } });
    assert.equal(pdf.statusCode, 406);
  } finally {
    await server.close();
  }
});

test('WADO-RS metadata - series document from ingest, absolute BulkDataURIs, ETag and 304, gzip, XML', async () => {
  const { server, ct, ecg } = await fixture();
  try {
    const url = `/dicom-web/studies/${ct.studyInstanceUid}/series/${ct.seriesInstanceUid}/metadata`;
    const res = await server.app.inject({ url, headers: { accept: 'application/dicom+json', host: 'viewer.test' } });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^application\/dicom\+json/);
    const instances = JSON.parse(res.body) as DicomJsonDataset[];
    assert.deepEqual(instances.map((i) => i['00080018']!.Value![0]), ct.instances.map((i) => i.sopInstanceUid), 'Instance Number order');
    assert.equal(instances[0]!['00100010']!.vr, 'PN');
    const pixel = instances[0]!['7FE00010']!;
    assert.equal(pixel.BulkDataURI, `http://viewer.test/dicom-web/studies/${ct.studyInstanceUid}/series/${ct.seriesInstanceUid}/instances/${ct.instances[0]!.sopInstanceUid}/bulk/7FE00010`);
    const etag = res.headers.etag as string;
    assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
    const again = await server.app.inject({ url, headers: { accept: 'application/dicom+json', host: 'viewer.test', 'if-none-match': etag } });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, '');
    const zipped = await server.app.inject({ url, headers: { accept: 'application/dicom+json', host: 'viewer.test', 'accept-encoding': 'gzip' } });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(zipped.rawPayload).toString(), res.body);
    assert.equal(zipped.headers.etag, etag);

    // A new instance changes the document and its validator.
    const more = buildCtSeries({ slices: 4, rows: 32, columns: 32, seed: 21 });
    await server.archive.ingest.ingest([more.instances[3]!.bytes], { kind: 'import' });
    const changed = await server.app.inject({ url, headers: { accept: 'application/dicom+json', host: 'viewer.test', 'if-none-match': etag } });
    assert.equal(changed.statusCode, 200);
    assert.equal((JSON.parse(changed.body) as unknown[]).length, 4);
    assert.notEqual(changed.headers.etag, etag);

    const study = await server.app.inject({ url: `/dicom-web/studies/${ct.studyInstanceUid}/metadata` });
    assert.equal((JSON.parse(study.body) as unknown[]).length, 6, 'both series of the study');
    const inst = await server.app.inject({ url: `/dicom-web/studies/${ecg.studyInstanceUid}/series/${ecg.seriesInstanceUid}/instances/${ecg.sopInstanceUid}/metadata` });
    const ecgMeta = (JSON.parse(inst.body) as DicomJsonDataset[])[0]!;
    const waveform = (ecgMeta['54000100']!.Value![0] as DicomJsonDataset)['54001010']!;
    assert.match(waveform.BulkDataURI!, /\/instances\/[0-9.]+\/bulk\/54000100\/0\/54001010$/);
    const xml = await server.app.inject({ url, headers: { accept: 'multipart/related; type="application/dicom+xml"' } });
    assert.equal(xml.statusCode, 200);
    const xmlParts = await readMultipartResponse(xml.headers['content-type'] as string, xml.rawPayload);
    assert.equal(xmlParts.length, 4);
    assert.match(xmlParts[0]!.body.toString(), /<DicomAttribute tag="00100010" vr="PN" keyword="PatientName"><PersonName number="1"><Alphabetic><FamilyName>/);
    const wrongSeries = await server.app.inject({ url: `/dicom-web/studies/1.2.3/series/${ct.seriesInstanceUid}/metadata` });
    assert.equal(wrongSeries.statusCode, 404);
  } finally {
    await server.close();
  }
});

test('WADO-RS frames - native by offset, lists, RLE as stored or decoded, image media types, 404/400/406', async () => {
  const { server, ct, rle, us, usBytes } = await fixture();
  try {
    const ctUrl = (i: number) => `/dicom-web/studies/${ct.studyInstanceUid}/series/${ct.seriesInstanceUid}/instances/${ct.instances[i]!.sopInstanceUid}`;
    // OHIF's request.
    const res = await server.app.inject({ url: `${ctUrl(0)}/frames/1`, headers: { accept: 'multipart/related; type=application/octet-stream; transfer-syntax=*' } });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^multipart\/related; type="application\/octet-stream"; transfer-syntax=1\.2\.840\.10008\.1\.2\.1; boundary=/);
    const [frame] = await readMultipartResponse(res.headers['content-type'] as string, res.rawPayload);
    assert.equal(frame!.headers['content-type'], 'application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1');
    assert.deepEqual(frame!.body, await nativePixels(ct.instances[0]!.bytes));

    const usUrl = `/dicom-web/studies/${us.studyInstanceUid}/series/${us.seriesInstanceUid}/instances/${us.sopInstanceUid}`;
    const list = await server.app.inject({ url: `${usUrl}/frames/3,1`, headers: { accept: 'multipart/related; type="application/octet-stream"' } });
    const frames = await readMultipartResponse(list.headers['content-type'] as string, list.rawPayload);
    const usPixels = await nativePixels(usBytes);
    const frameSize = 24 * 32;
    assert.deepEqual(frames.map((f) => f.body), [usPixels.subarray(2 * frameSize, 3 * frameSize), usPixels.subarray(0, frameSize)]);

    const rleUrl = `/dicom-web/studies/${ct.studyInstanceUid}/series/${rle.seriesInstanceUid}/instances/${rle.instances[0]!.sopInstanceUid}`;
    const asStored = await server.app.inject({ url: `${rleUrl}/frames/1`, headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
    const [rleFrame] = await readMultipartResponse(asStored.headers['content-type'] as string, asStored.rawPayload);
    assert.equal(rleFrame!.headers['content-type'], 'application/octet-stream; transfer-syntax=1.2.840.10008.1.2.5');
    assert.equal(rleFrame!.body.readUInt32LE(0), 2, 'RLE header: two segments');
    const rleImage = await server.app.inject({ url: `${rleUrl}/frames/1`, headers: { accept: 'multipart/related; type="image/dicom-rle"' } });
    const [rleTyped] = await readMultipartResponse(rleImage.headers['content-type'] as string, rleImage.rawPayload);
    assert.equal(rleTyped!.headers['content-type'], 'image/dicom-rle; transfer-syntax=1.2.840.10008.1.2.5');
    assert.deepEqual(rleTyped!.body, rleFrame!.body);
    const decoded = await server.app.inject({ url: `${rleUrl}/frames/1`, headers: { accept: 'multipart/related; type="application/octet-stream"' } });
    const [native] = await readMultipartResponse(decoded.headers['content-type'] as string, decoded.rawPayload);
    const twin = ct.instances.find((i) => i.instanceNumber === rle.instances[0]!.instanceNumber)!;
    assert.deepEqual(native!.body, await nativePixels(twin.bytes), 'decoded in a worker to the native pixels');
    const bare = await server.app.inject({ url: `${ctUrl(1)}/frames/1`, headers: { accept: 'application/octet-stream' } });
    assert.equal(bare.headers['content-type'], 'application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1');
    assert.deepEqual(bare.rawPayload, await nativePixels(ct.instances[1]!.bytes));

    assert.equal((await server.app.inject({ url: `${ctUrl(0)}/frames/2` })).statusCode, 404);
    assert.equal((await server.app.inject({ url: `${ctUrl(0)}/frames/0` })).statusCode, 400);
    assert.equal((await server.app.inject({ url: `${ctUrl(0)}/frames/1`, headers: { accept: 'multipart/related; type="video/mp4"' } })).statusCode, 406);
  } finally {
    await server.close();
  }
});

test('WADO-RS bulk data - values by recorded offsets, byte ranges (206), unknown paths 404', async () => {
  const { server, ecg, ct } = await fixture();
  try {
    const base = `/dicom-web/studies/${ecg.studyInstanceUid}/series/${ecg.seriesInstanceUid}/instances/${ecg.sopInstanceUid}`;
    const parsed = await readPart10([ecg.bytes], { bulkDataThreshold: 1024 });
    const ref = parsed.bulkData.find((r) => r.path === '54000100/0/54001010')!;
    const expected = Buffer.from(ecg.bytes.subarray(ref.offset, ref.offset + ref.length!));
    const whole = await server.app.inject({ url: `${base}/bulk/54000100/0/54001010` });
    assert.equal(whole.statusCode, 200);
    const [part] = await readMultipartResponse(whole.headers['content-type'] as string, whole.rawPayload);
    assert.deepEqual(part!.body, expected);
    const range = await server.app.inject({ url: `${base}/bulk/54000100/0/54001010`, headers: { accept: 'application/octet-stream', range: 'bytes=10-29' } });
    assert.equal(range.statusCode, 206);
    assert.equal(range.headers['content-range'], `bytes 10-29/${expected.length}`);
    assert.deepEqual(range.rawPayload, expected.subarray(10, 30));
    const suffix = await server.app.inject({ url: `${base}/bulk/54000100/0/54001010`, headers: { accept: 'application/octet-stream', range: 'bytes=-4' } });
    assert.deepEqual(suffix.rawPayload, expected.subarray(expected.length - 4));
    const bad = await server.app.inject({ url: `${base}/bulk/54000100/0/54001010`, headers: { range: `bytes=${expected.length + 5}-` } });
    assert.equal(bad.statusCode, 416);
    assert.equal((await server.app.inject({ url: `${base}/bulk/00100010` })).statusCode, 404);
    const pixels = await server.app.inject({ url: `/dicom-web/studies/${ct.studyInstanceUid}/series/${ct.seriesInstanceUid}/instances/${ct.instances[0]!.sopInstanceUid}/bulk/7FE00010`, headers: { accept: 'application/octet-stream' } });
    assert.deepEqual(pixels.rawPayload, await nativePixels(ct.instances[0]!.bytes));
  } finally {
    await server.close();
  }
});

test('WADO-RS rendered and thumbnail - JPEG/PNG of an instance, a frame, a series; parameters checked', async () => {
  const { server, ct, us } = await fixture();
  try {
    const inst = `/dicom-web/studies/${ct.studyInstanceUid}/series/${ct.seriesInstanceUid}/instances/${ct.instances[0]!.sopInstanceUid}`;
    const jpeg = await server.app.inject({ url: `${inst}/rendered`, headers: { accept: 'image/jpeg' } });
    assert.equal(jpeg.statusCode, 200);
    assert.equal(jpeg.headers['content-type'], 'image/jpeg');
    assert.deepEqual([...jpeg.rawPayload.subarray(0, 2)], [0xff, 0xd8]);
    const png = await server.app.inject({ url: `${inst}/rendered?viewport=16,16&window=40,400`, headers: { accept: 'image/png' } });
    const meta = await sharp(png.rawPayload).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 16, 16]);
    const viaParam = await server.app.inject({ url: `${inst}/rendered?accept=image/png&quality=50` });
    assert.equal(viaParam.headers['content-type'], 'image/png');

    const usFrame = `/dicom-web/studies/${us.studyInstanceUid}/series/${us.seriesInstanceUid}/instances/${us.sopInstanceUid}/frames/2/rendered`;
    const frame = await server.app.inject({ url: usFrame, headers: { accept: 'image/png' } });
    const frameInfo = await sharp(frame.rawPayload).metadata();
    assert.deepEqual([frameInfo.width, frameInfo.height], [32, 24]);

    const thumb = await server.app.inject({ url: `/dicom-web/studies/${ct.studyInstanceUid}/thumbnail`, headers: { accept: 'image/jpeg' } });
    assert.equal(thumb.statusCode, 200);
    const thumbInfo = await sharp(thumb.rawPayload).metadata();
    assert.ok(thumbInfo.width! <= 128 && thumbInfo.height! <= 128);
    const seriesThumb = await server.app.inject({ url: `/dicom-web/studies/${ct.studyInstanceUid}/series/${ct.seriesInstanceUid}/thumbnail?viewport=8,8` });
    assert.equal((await sharp(seriesThumb.rawPayload).metadata()).width, 8);

    const instThumb = await server.app.inject({ url: `${inst}/thumbnail`, headers: { accept: 'image/png' } });
    assert.deepEqual(await sharp(instThumb.rawPayload).metadata().then((m) => [m.format, m.width]), ['png', 32]);
    const frameThumb = await server.app.inject({ url: `${inst}/frames/1/thumbnail?viewport=10,10` });
    assert.equal((await sharp(frameThumb.rawPayload).metadata()).width, 10);
    const studyRendered = await server.app.inject({ url: `/dicom-web/studies/${ct.studyInstanceUid}/rendered`, headers: { accept: 'multipart/related; type="image/jpeg"' } });
    assert.equal((await readMultipartResponse(studyRendered.headers['content-type'] as string, studyRendered.rawPayload)).length, 5, 'both series of the study');

    const seriesRendered = await server.app.inject({ url: `/dicom-web/studies/${ct.studyInstanceUid}/series/${ct.seriesInstanceUid}/rendered`, headers: { accept: 'multipart/related; type="image/png"' } });
    const renderedParts = await readMultipartResponse(seriesRendered.headers['content-type'] as string, seriesRendered.rawPayload);
    assert.equal(renderedParts.length, 3);
    for (const p of renderedParts) assert.equal((await sharp(p.body).metadata()).format, 'png');

    const unknown = await server.app.inject({ url: `${inst}/rendered?zoom=2` });
    assert.equal(unknown.statusCode, 400);
    assert.match(JSON.parse(unknown.body).detail, /Cannot use parameter 'zoom'/);
    assert.equal((await server.app.inject({ url: `${inst}/rendered?annotation=patient` })).statusCode, 400);
    assert.equal((await server.app.inject({ url: `${inst}/rendered?quality=500` })).statusCode, 400);
    assert.equal((await server.app.inject({ url: `${inst}/rendered`, headers: { accept: 'image/tiff' } })).statusCode, 406);
  } finally {
    await server.close();
  }
});

test('WADO-RS rendered frames - /frames/{n}/rendered shows frame n, /rendered of a multi-frame instance frame 1; native and RLE colour clips', async () => {
  const server = await openTestServer();
  try {
    const native = buildUltrasoundClip({ frames: 4, rows: 24, columns: 32, seed: 9, photometricInterpretation: 'RGB' });
    const rle = buildUltrasoundClip({ frames: 4, rows: 24, columns: 32, seed: 9, photometricInterpretation: 'RGB', transferSyntaxUid: RleLossless });
    const nativeBytes = await bytesOf(native);
    await server.archive.ingest.ingest([nativeBytes], { kind: 'import' });
    await server.archive.ingest.ingest([await bytesOf(rle)], { kind: 'import' });
    const pixels = await nativePixels(nativeBytes);
    const frameSize = 24 * 32 * 3;
    const frame = (n: number) => pixels.subarray((n - 1) * frameSize, n * frameSize);
    /** The RGB samples of a rendered PNG (RGB without a VOI transform renders as stored). */
    const rgbOf = async (png: Buffer) => {
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      assert.deepEqual([info.width, info.height], [32, 24]);
      const out = Buffer.alloc(info.width * info.height * 3);
      for (let i = 0; i < info.width * info.height; i++) data.copy(out, i * 3, i * info.channels, i * info.channels + 3);
      return out;
    };
    for (const clip of [native, rle]) {
      const base = `/dicom-web/studies/${clip.studyInstanceUid}/series/${clip.seriesInstanceUid}/instances/${clip.sopInstanceUid}`;
      for (const n of [1, 2, 4]) {
        const res = await server.app.inject({ url: `${base}/frames/${n}/rendered`, headers: { accept: 'image/png' } });
        assert.equal(res.statusCode, 200);
        assert.deepEqual(await rgbOf(res.rawPayload), frame(n), `frame ${n} of the ${clip === rle ? 'RLE' : 'native'} clip`);
      }
      assert.notDeepEqual(frame(2), frame(4), 'the frames differ, so the comparison above tells them apart');
      const whole = await server.app.inject({ url: `${base}/rendered`, headers: { accept: 'image/png' } });
      assert.deepEqual(await rgbOf(whole.rawPayload), frame(1), 'a rendered multi-frame instance is its first frame');
      const list = await server.app.inject({ url: `${base}/frames/3,1/rendered`, headers: { accept: 'multipart/related; type="image/png"' } });
      const parts = await readMultipartResponse(list.headers['content-type'] as string, list.rawPayload);
      assert.deepEqual(await Promise.all(parts.map((p) => rgbOf(p.body))), [frame(3), frame(1)]);
      assert.equal((await server.app.inject({ url: `${base}/frames/5/rendered` })).statusCode, 404);
    }
  } finally {
    await server.close();
  }
});

test('WADO-RS rendered frames - window, viewport and quality apply to the frame asked', async () => {
  const { server, us } = await fixture();
  try {
    const base = `/dicom-web/studies/${us.studyInstanceUid}/series/${us.seriesInstanceUid}/instances/${us.sopInstanceUid}/frames/3`;
    const grey = async (url: string) => (await sharp((await server.app.inject({ url, headers: { accept: 'image/png' } })).rawPayload).raw().toBuffer({ resolveWithObject: true }));
    const plain = await grey(`${base}/rendered`);
    assert.ok(Math.max(...plain.data.filter((_, i) => i % plain.info.channels === 0)) > 0, 'frame 3 has signal');
    const black = await grey(`${base}/rendered?window=10000,10`);
    assert.equal(Math.max(...black.data.filter((_, i) => i % black.info.channels === 0)), 0, 'a window above every value renders black');
    const white = await grey(`${base}/rendered?window=-10000,10`);
    assert.equal(Math.min(...white.data.filter((_, i) => i % white.info.channels === 0)), 255, 'a window below every value renders white');
    const small = await grey(`${base}/rendered?viewport=16,16`);
    assert.deepEqual([small.info.width, small.info.height], [16, 12], 'fit inside 16x16, aspect kept');
    const region = await grey(`${base}/rendered?viewport=8,8,0,0,16,16`);
    assert.deepEqual([region.info.width, region.info.height], [8, 8], 'a 16x16 source region scaled to 8x8');
    const low = await server.app.inject({ url: `${base}/rendered?quality=5`, headers: { accept: 'image/jpeg' } });
    const high = await server.app.inject({ url: `${base}/rendered?quality=100`, headers: { accept: 'image/jpeg' } });
    assert.ok(low.rawPayload.length < high.rawPayload.length, `quality 5 (${low.rawPayload.length} bytes) smaller than 100 (${high.rawPayload.length})`);
    assert.equal((await server.app.inject({ url: `${base}/rendered?window=40` })).statusCode, 400);
    assert.equal((await server.app.inject({ url: `${base}/rendered?viewport=0,10` })).statusCode, 400);
  } finally {
    await server.close();
  }
});

test('WADO-RS bulk data of a big endian instance - little endian by default, as stored on request, the syntax in the part header', async () => {
  const server = await openTestServer();
  try {
    const ct = buildCtSeries({ slices: 1, rows: 16, columns: 16, seed: 4 });
    const source = ct.instances[0]!;
    const parsed = await readPart10([source.bytes]);
    const littleEndianPixels = await nativePixels(source.bytes);
    const points = Buffer.alloc(2048);
    for (let i = 0; i < points.length / 4; i++) points.writeFloatLE(i * 0.5 - 100, i * 4);
    const bigEndian = encodePart10({
      transferSyntaxUid: ExplicitVrBigEndian,
      // Point Coordinates Data (OF): a float value large enough to be bulk data. The writer swaps to big endian.
      dataset: { ...parsed.dataset, '00660016': { vr: 'OF', Bytes: points }, '7FE00010': { vr: 'OW', Bytes: littleEndianPixels } },
    });
    await server.archive.ingest.ingest([bigEndian], { kind: 'import' });
    const base = `/dicom-web/studies/${source.studyInstanceUid}/series/${source.seriesInstanceUid}/instances/${source.sopInstanceUid}`;
    const swapped16 = Buffer.from(littleEndianPixels).swap16();
    assert.notDeepEqual(swapped16, littleEndianPixels);

    const byDefault = await server.app.inject({ url: `${base}/bulk/7FE00010` });
    assert.equal(byDefault.statusCode, 200);
    const [part] = await readMultipartResponse(byDefault.headers['content-type'] as string, byDefault.rawPayload);
    assert.equal(part!.headers['content-type'], `application/octet-stream; transfer-syntax=${ExplicitVrLittleEndian}`);
    assert.deepEqual(part!.body, littleEndianPixels, 'swapped back to little endian');

    const asStored = await server.app.inject({ url: `${base}/bulk/7FE00010`, headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
    const [stored] = await readMultipartResponse(asStored.headers['content-type'] as string, asStored.rawPayload);
    assert.equal(stored!.headers['content-type'], `application/octet-stream; transfer-syntax=${ExplicitVrBigEndian}`);
    assert.deepEqual(stored!.body, swapped16, 'the stored big endian bytes');
    const explicitBig = await server.app.inject({ url: `${base}/bulk/7FE00010`, headers: { accept: `application/octet-stream; transfer-syntax=${ExplicitVrBigEndian}` } });
    assert.equal(explicitBig.headers['content-type'], `application/octet-stream; transfer-syntax=${ExplicitVrBigEndian}`);
    assert.deepEqual(explicitBig.rawPayload, swapped16);

    // A range on an odd byte boundary of the little endian value.
    const range = await server.app.inject({ url: `${base}/bulk/7FE00010`, headers: { accept: 'application/octet-stream', range: 'bytes=3-10' } });
    assert.equal(range.statusCode, 206);
    assert.equal(range.headers['content-range'], `bytes 3-10/${littleEndianPixels.length}`);
    assert.equal(range.headers['content-type'], `application/octet-stream; transfer-syntax=${ExplicitVrLittleEndian}`);
    assert.deepEqual(range.rawPayload, littleEndianPixels.subarray(3, 11));

    const floats = await server.app.inject({ url: `${base}/bulk/00660016`, headers: { accept: 'application/octet-stream' } });
    assert.deepEqual(floats.rawPayload, points, '32-bit floats swapped four bytes at a time');
    const floatRange = await server.app.inject({ url: `${base}/bulk/00660016`, headers: { accept: 'application/octet-stream', range: 'bytes=-6' } });
    assert.deepEqual(floatRange.rawPayload, points.subarray(points.length - 6));

    const jpeg = await server.app.inject({ url: `${base}/bulk/7FE00010`, headers: { accept: 'application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.50' } });
    assert.equal(jpeg.statusCode, 406);
    // Frames: converted to little endian by default too.
    const frame = await server.app.inject({ url: `${base}/frames/1`, headers: { accept: 'application/octet-stream' } });
    assert.equal(frame.headers['content-type'], `application/octet-stream; transfer-syntax=${ExplicitVrLittleEndian}`);
    assert.deepEqual(frame.rawPayload, littleEndianPixels);
  } finally {
    await server.close();
  }
});

test('WADO-RS retrieve as application/zip - Part 10 files of a study or series, as stored or in the syntax asked', async () => {
  const { server, ct, rle } = await fixture();
  try {
    const study = ct.studyInstanceUid;
    const originals = new Map([...ct.instances, ...rle.instances].map((i) => [`${i.seriesInstanceUid}/${i.sopInstanceUid}.dcm`, i.bytes]));
    const asStored = await server.app.inject({ url: `/dicom-web/studies/${study}`, headers: { accept: 'application/zip; transfer-syntax=*' } });
    assert.equal(asStored.statusCode, 200);
    assert.equal(asStored.headers['content-type'], 'application/zip');
    const entries = readStoredZip(asStored.rawPayload);
    assert.deepEqual([...entries.keys()].sort(), [...originals.keys()].sort());
    for (const [name, bytes] of entries) assert.deepEqual(new Uint8Array(bytes), originals.get(name), `${name} byte for byte`);

    // No transfer-syntax parameter: Explicit VR Little Endian, so the RLE series is decoded (PS3.18 §8.7.3.5.2).
    const series = await server.app.inject({ url: `/dicom-web/studies/${study}/series/${rle.seriesInstanceUid}`, headers: { accept: 'application/zip' } });
    const decoded = readStoredZip(series.rawPayload);
    assert.equal(decoded.size, 2);
    for (const bytes of decoded.values()) assert.equal((await readPart10([bytes])).transferSyntaxUid, ExplicitVrLittleEndian);

    // The client's order decides the form: multipart first, then zip.
    const preferred = await server.app.inject({ url: `/dicom-web/studies/${study}`, headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*, application/zip' } });
    assert.match(preferred.headers['content-type'] as string, /^multipart\/related/);
    const instance = await server.app.inject({
      url: `/dicom-web/studies/${study}/series/${ct.seriesInstanceUid}/instances/${ct.instances[0]!.sopInstanceUid}`,
      headers: { accept: 'application/zip; q=0.9, application/pdf' },
    });
    assert.equal(readStoredZip(instance.rawPayload).size, 1);
    const video = await server.app.inject({ url: `/dicom-web/studies/${study}`, headers: { accept: 'application/zip; transfer-syntax=1.2.840.10008.1.2.4.100' } });
    assert.equal(video.statusCode, 406);
  } finally {
    await server.close();
  }
});

test('WADO-RS - a study retrieve over a socket gives every pooled buffer back to the store once written, and sends the stored bytes (small and chunked large instances)', async () => {
  const server = await openTestServer();
  try {
    const ct = buildCtSeries({ slices: 20, rows: 64, columns: 64, seed: 41 });
    const large = buildCtSeries({ slices: 1, rows: 1024, columns: 700, seed: 42, study: { studyInstanceUid: ct.studyInstanceUid }, series: { seriesInstanceUid: `${ct.seriesInstanceUid}.9`, seriesNumber: 9 } });
    const instances = [...ct.instances, ...large.instances];
    for (const instance of instances) await server.archive.ingest.ingest([instance.bytes], { kind: 'import' });
    assert.ok(large.instances[0]!.bytes.length > 1024 * 1024, 'the large one is read in chunks');
    const store = server.archive.store;
    let lent = 0;
    let givenBack = 0;
    const getBytes = store.getBytes.bind(store);
    const recycle = store.recycle!.bind(store);
    store.getBytes = (key, range, options) => {
      if (options.reusable) lent++;
      return getBytes(key, range, options);
    };
    store.recycle = (bytes) => {
      givenBack++;
      recycle(bytes);
    };
    await server.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = server.app.server.address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}/dicom-web/studies/${ct.studyInstanceUid}`, {
      headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
    });
    assert.equal(res.status, 200);
    const parts = await readMultipartResponse(res.headers.get('content-type')!, Buffer.from(await res.arrayBuffer()));
    const expected = new Map(instances.map((i) => [i.sopInstanceUid, Buffer.from(i.bytes)]));
    assert.equal(parts.length, instances.length);
    for (const part of parts) {
      const sop = /instances\/([0-9.]+)/.exec(part.headers['content-location']!)![1]!;
      assert.deepEqual(part.body, expected.get(sop), `part of ${sop}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(lent >= instances.length, `${lent} pooled reads`);
    assert.equal(givenBack, lent, 'every pooled buffer given back');
  } finally {
    await server.close();
  }
});
