import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { buildCtSeries, ExplicitVrLittleEndian, ImplicitVrLittleEndian, readPart10, RleLossless } from '@atrium/dicom';
import { openTestArchive } from '../test-support.js';
import { TranscoderPool } from './transcoder.js';
import { readFrame } from './stored-bytes.js';
import { pixelModuleOf } from './pixel-module.js';
import { renderFrame } from './render.js';
import { chooseTransferSyntax } from './transfer-syntax-support.js';
import { TranscodeError } from './errors.js';
import { buildBinarySegmentation } from './test-support.js';

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

/** Native pixel bytes of a Part 10 object, located by Atrium's reader. */
async function nativePixels(bytes: Uint8Array): Promise<Buffer> {
  const parsed = await readPart10([bytes]);
  const px = parsed.pixelData!;
  return Buffer.from(bytes.subarray(px.offset, px.offset + px.length));
}

test('chooseTransferSyntax - stored syntax wins when acceptable, else the first convertible one', () => {
  assert.equal(chooseTransferSyntax(RleLossless, ['*'], true), RleLossless);
  assert.equal(chooseTransferSyntax(RleLossless, [ExplicitVrLittleEndian, RleLossless], true), RleLossless);
  assert.equal(chooseTransferSyntax(RleLossless, ['1.2.840.10008.1.2.4.100', ExplicitVrLittleEndian], true), ExplicitVrLittleEndian);
  assert.equal(chooseTransferSyntax('1.2.840.10008.1.2.4.100', [ExplicitVrLittleEndian], true), undefined);
  assert.equal(chooseTransferSyntax(ExplicitVrLittleEndian, [ImplicitVrLittleEndian], false), ImplicitVrLittleEndian);
});

test('TranscoderPool - frames read by recorded offsets; RLE frames decoded in a worker equal the native pixels', async () => {
  const archive = await openTestArchive();
  const pool = new TranscoderPool({ store: archive.store, maxThreads: 1 });
  try {
    const native = buildCtSeries({ slices: 1, rows: 32, columns: 32, seed: 7 });
    const rle = buildCtSeries({ slices: 1, rows: 32, columns: 32, seed: 7, transferSyntaxUid: RleLossless, series: { seriesInstanceUid: '1.2.3.999.1' } });
    for (const s of [...native.instances, ...rle.instances]) await archive.ingest.ingest([s.bytes], { kind: 'import' });
    const expected = await nativePixels(native.instances[0]!.bytes);
    assert.equal(expected.length, 32 * 32 * 2);

    const nativeMeta = (await archive.archive.getInstanceMetadata(native.instances[0]!.sopInstanceUid))!;
    const frame = await readFrame(archive.store, nativeMeta, nativeMeta.frames[0]!);
    assert.deepEqual(frame, expected, 'native frame read by offset');

    const rleMeta = (await archive.archive.getInstanceMetadata(rle.instances[0]!.sopInstanceUid))!;
    const rleFrame = await readFrame(archive.store, rleMeta, rleMeta.frames[0]!);
    assert.equal(rleFrame.readUInt32LE(0), 2, 'an RLE frame starts with its segment count (PS3.5 §G.3.1): 2 for 16-bit');
    const module = await pixelModuleOf(archive.store, rleMeta);
    assert.equal(module.dataset['00280010']?.Value?.[0], 32);
    assert.equal(module.dataset['00100010'], undefined, 'only the pixel module goes to the worker');
    const decoded = await pool.transcodeFrames(module, RleLossless, [rleFrame], ExplicitVrLittleEndian);
    assert.deepEqual(Buffer.from(decoded.frames[0]!), expected, 'decoded RLE frame equals the native pixels');

    const ref = { ...rleMeta, size: rleMeta.size };
    const whole = await pool.transcode(ref, [ExplicitVrLittleEndian]);
    assert.equal(whole.transferSyntaxUid, ExplicitVrLittleEndian);
    assert.equal(whole.transcoded, true);
    const bytes = await readAll(whole.stream);
    assert.equal(bytes.length, whole.size);
    const parsed = await readPart10([bytes]);
    assert.equal(parsed.transferSyntaxUid, ExplicitVrLittleEndian);
    assert.equal(parsed.dataset['00080018']?.Value?.[0], rle.instances[0]!.sopInstanceUid);
    assert.deepEqual(await nativePixels(bytes), expected, 'transcoded instance has the same pixels');

    const asStored = await pool.transcode(ref, ['*'], { form: 'dataset' });
    assert.equal(asStored.transcoded, false);
    assert.deepEqual(new Uint8Array(await readAll(asStored.stream)), rle.instances[0]!.bytes.subarray(rleMeta.datasetOffset));

    await assert.rejects(pool.transcode(ref, ['1.2.840.10008.1.2.4.100']), (e: unknown) => {
      assert.ok(e instanceof TranscodeError);
      assert.equal(e.httpStatus, 406);
      assert.match(e.message, /Cannot send instance '.*' in '1\.2\.840\.10008\.1\.2\.4\.100'/);
      return true;
    });
  } finally {
    await pool.close();
    await archive.cleanup();
  }
});

test('renderFrame - renders a CT slice with a window to PNG and JPEG of the viewport size', async () => {
  const archive = await openTestArchive();
  const pool = new TranscoderPool({ store: archive.store, maxThreads: 1 });
  try {
    const ct = buildCtSeries({ slices: 1, rows: 64, columns: 64, seed: 3, transferSyntaxUid: RleLossless });
    await archive.ingest.ingest([ct.instances[0]!.bytes], { kind: 'import' });
    const meta = (await archive.archive.getInstanceMetadata(ct.instances[0]!.sopInstanceUid))!;
    const png = await renderFrame(pool, archive.store, meta, 0, { mediaType: 'image/png' });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, 64);
    assert.equal(info.height, 64);
    const corner = data[0]!;
    const centre = data[(32 * 64 + 32) * info.channels]!;
    assert.ok(centre > corner, `body (${centre}) brighter than air (${corner}) in the soft-tissue window`);
    // A window far above every value renders black everywhere.
    const black = await renderFrame(pool, archive.store, meta, 0, { mediaType: 'image/png', window: { center: 30000, width: 10 } });
    const blackPixels = (await sharp(black).raw().toBuffer({ resolveWithObject: true })).data;
    assert.equal(Math.max(...blackPixels.filter((_, i) => i % 4 !== 3)), 0);
    const jpeg = await renderFrame(pool, archive.store, meta, 0, { mediaType: 'image/jpeg', viewport: { width: 32, height: 16 }, quality: 50 });
    assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    const jpegInfo = await sharp(jpeg).metadata();
    assert.equal(jpegInfo.width, 16);
    assert.equal(jpegInfo.height, 16);
    await assert.rejects(renderFrame(pool, archive.store, meta, 1, { mediaType: 'image/png' }), /it has 1 frames/);
  } finally {
    await pool.close();
    await archive.cleanup();
  }
});

test('TranscoderPool - a 1-bit Segmentation in Implicit VR Little Endian is sent in Explicit VR Little Endian, pixel bytes unchanged (regression: C-GET conformance H1)', async () => {
  // dcmjs-codecs refuses to re-encode native pixel data of Bits Allocated 1, so a getscu that accepted only Explicit
  // VR Little Endian for Segmentation Storage received every instance of the study but the SEG.
  const archive = await openTestArchive();
  const pool = new TranscoderPool({ store: archive.store, maxThreads: 1 });
  try {
    const seg = buildBinarySegmentation({ rows: 10, columns: 12, frames: 3 });
    await archive.ingest.ingest([seg.bytes], { kind: 'import' });
    const meta = (await archive.archive.getInstanceMetadata(seg.sopInstanceUid))!;
    assert.equal(meta.transferSyntaxUid, ImplicitVrLittleEndian);
    for (const form of ['part10', 'dataset'] as const) {
      const out = await pool.transcode(meta, [ExplicitVrLittleEndian], { form });
      assert.equal(out.transferSyntaxUid, ExplicitVrLittleEndian);
      assert.equal(out.transcoded, true);
      const bytes = await readAll(out.stream);
      assert.equal(bytes.length, out.size);
      const parsed = form === 'part10' ? await readPart10([bytes]) : await readPart10([bytes], { format: 'dataset', transferSyntaxUid: ExplicitVrLittleEndian });
      assert.equal(parsed.dataset['00080018']?.Value?.[0], seg.sopInstanceUid);
      assert.equal(parsed.dataset['00280100']?.Value?.[0], 1);
      assert.equal(parsed.dataset['00620001']?.Value?.[0], 'BINARY');
      assert.equal(parsed.pixelData?.encapsulated, false);
      assert.deepEqual(bytes.subarray(parsed.pixelData!.offset, parsed.pixelData!.offset + parsed.pixelData!.length), Buffer.from(seg.pixelData));
      if (form === 'part10') assert.equal(parsed.transferSyntaxUid, ExplicitVrLittleEndian);
    }
    // And back: Explicit to Implicit keeps the bytes too.
    const explicit = buildBinarySegmentation({ transferSyntaxUid: ExplicitVrLittleEndian, seed: 2 });
    await archive.ingest.ingest([explicit.bytes], { kind: 'import' });
    const explicitMeta = (await archive.archive.getInstanceMetadata(explicit.sopInstanceUid))!;
    const implicit = await readAll((await pool.transcode(explicitMeta, [ImplicitVrLittleEndian])).stream);
    const parsed = await readPart10([implicit]);
    assert.equal(parsed.transferSyntaxUid, ImplicitVrLittleEndian);
    assert.deepEqual(implicit.subarray(parsed.pixelData!.offset, parsed.pixelData!.offset + parsed.pixelData!.length), Buffer.from(explicit.pixelData));
  } finally {
    await pool.close();
    await archive.cleanup();
  }
});
