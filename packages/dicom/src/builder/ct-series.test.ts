import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImplicitVrLittleEndian, RleLossless } from '../transfer-syntax.js';
import { isValidUid } from '../uid.js';
import { CT_IMAGE_STORAGE, CT_RESCALE_INTERCEPT, buildCtSeries } from './ct-series.js';
import { PHANTOM_HU, PHANTOM_LESION } from './phantom.js';
import { decodeRleFrame, encapsulatedItems, readWithDcmjs } from './test-support.js';

const small = { slices: 3, rows: 128, columns: 128, sliceThickness: 5 };

test('buildCtSeries - the same options give the same bytes, another seed other pixels and UIDs', () => {
  const a = buildCtSeries(small);
  const b = buildCtSeries(small);
  const c = buildCtSeries({ ...small, seed: 2 });
  assert.equal(a.instances.length, 3);
  a.instances.forEach((inst, i) => assert.deepEqual(inst.bytes, b.instances[i]!.bytes));
  assert.notEqual(a.studyInstanceUid, c.studyInstanceUid);
  assert.notDeepEqual(a.instances[1]!.bytes, c.instances[1]!.bytes);
  const uids = new Set([a.studyInstanceUid, a.seriesInstanceUid, a.frameOfReferenceUid, ...a.instances.map((i) => i.sopInstanceUid)]);
  assert.equal(uids.size, 6);
  for (const uid of uids) assert.ok(isValidUid(uid), uid);
});

test('buildCtSeries - patient and study overrides give another patient and study', async () => {
  const series = buildCtSeries({
    ...small,
    slices: 1,
    patient: { patientName: 'Test^Zoë', patientId: 'P-42', patientSex: 'O' },
    study: { accessionNumber: 'A-42', studyDescription: 'Second study' },
  });
  assert.notEqual(series.studyInstanceUid, buildCtSeries({ ...small, slices: 1 }).studyInstanceUid);
  const { dict } = await readWithDcmjs(series.instances[0]!.bytes);
  assert.equal(dict['00100010']!.Value![0].Alphabetic, 'Test^Zoë');
  assert.equal(dict['00100020']!.Value![0], 'P-42');
  assert.equal(dict['00100040']!.Value![0], 'O');
  assert.equal(dict['00080050']!.Value![0], 'A-42');
  assert.equal(dict['00081030']!.Value![0], 'Second study');
  assert.equal(dict['0020000D']!.Value![0], series.studyInstanceUid);
  assert.equal(dict['00100021']!.Value![0], 'ATRIUM');
});

test('buildCtSeries - slices step along z with position, instance number and CT image attributes', async () => {
  const series = buildCtSeries(small);
  const parsed = await Promise.all(series.instances.map((i) => readWithDcmjs(i.bytes)));
  const z = parsed.map((p) => Number(p.dict['00200032']!.Value![2]));
  assert.deepEqual(z, [5, 0, -5]);
  assert.deepEqual(series.instances.map((i) => i.sliceLocation), [5, 0, -5]);
  assert.deepEqual(parsed.map((p) => Number(p.dict['00200013']!.Value![0])), [1, 2, 3]);
  const { meta, dict } = parsed[0]!;
  assert.equal(meta['00020002']!.Value![0], CT_IMAGE_STORAGE);
  assert.equal(dict['00080016']!.Value![0], CT_IMAGE_STORAGE);
  assert.equal(dict['00080060']!.Value![0], 'CT');
  assert.deepEqual(dict['00280030']!.Value!.map(Number), [2.8125, 2.8125]);
  assert.deepEqual(dict['00200037']!.Value!.map(Number), [1, 0, 0, 0, 1, 0]);
  assert.equal(Number(dict['00281052']!.Value![0]), CT_RESCALE_INTERCEPT);
  assert.equal(Number(dict['00281053']!.Value![0]), 1);
  assert.deepEqual(dict['00281050']!.Value!.map(Number), [40, -600]);
  assert.deepEqual(dict['00281051']!.Value!.map(Number), [400, 1500]);
  assert.equal(dict['00280103']!.Value![0], 1);
  assert.equal(dict['00100010']!.Value![0].Alphabetic, 'Demo^Ct');
  for (const key of ['00080020', '00080030', '00080050', '00200010', '00081030', '00080090', '0008103E', '00180015', '00100030']) {
    assert.ok(dict[key], `missing ${key}`);
  }
});

/** HU of the pixel nearest patient point (x, y) of a 128x128 slice, from native pixel bytes. */
function huAt(pixels: Int16Array, x: number, y: number): number {
  const spacing = 360 / 128;
  const column = Math.round(x / spacing + 64 - 0.5);
  const row = Math.round(y / spacing + 64 - 0.5);
  return pixels[row * 128 + column]! + CT_RESCALE_INTERCEPT;
}

test('buildCtSeries - pixels hold the phantom anatomy in HU after rescale', async () => {
  const series = buildCtSeries(small);
  const middle = await readWithDcmjs(series.instances[1]!.bytes);
  const pixels = new Int16Array(middle.dict['7FE00010']!.Value![0] as ArrayBuffer);
  assert.equal(pixels.length, 128 * 128);
  assert.equal(huAt(pixels, -178, -178), PHANTOM_HU.outsideFov);
  assert.equal(huAt(pixels, 0, -160), PHANTOM_HU.air);
  assert.ok(Math.abs(huAt(pixels, 75, 20) - PHANTOM_HU.lung) < 40, 'left lung');
  assert.ok(Math.abs(huAt(pixels, 0, 75) - PHANTOM_HU.cancellousBone) < 40, 'vertebral body');
  assert.ok(Math.abs(huAt(pixels, PHANTOM_LESION.x, PHANTOM_LESION.y) - PHANTOM_HU.lesion) < 40, 'lesion at z = 0');
  const edge = await readWithDcmjs(series.instances[0]!.bytes);
  const edgePixels = new Int16Array(edge.dict['7FE00010']!.Value![0] as ArrayBuffer);
  // At z = 5 mm the sphere of radius 10 mm is still cut; at z = 20 mm it is not, and the lung shows.
  assert.ok(Math.abs(huAt(edgePixels, PHANTOM_LESION.x, PHANTOM_LESION.y) - PHANTOM_HU.lesion) < 40);
  const far = buildCtSeries({ ...small, slices: 2, sliceThickness: 40 });
  assert.equal(far.instances[0]!.sliceLocation, 20);
  const farPixels = new Int16Array((await readWithDcmjs(far.instances[0]!.bytes)).dict['7FE00010']!.Value![0] as ArrayBuffer);
  assert.ok(Math.abs(huAt(farPixels, PHANTOM_LESION.x, PHANTOM_LESION.y) - PHANTOM_HU.lung) < 40);
});

test('buildCtSeries - RLE Lossless slices decode to the native pixels, implicit VR holds the same values', async () => {
  const native = buildCtSeries({ ...small, slices: 1 });
  const rle = buildCtSeries({ ...small, slices: 1, transferSyntaxUid: RleLossless });
  const implicit = buildCtSeries({ ...small, slices: 1, transferSyntaxUid: ImplicitVrLittleEndian });
  assert.equal(rle.instances[0]!.sopInstanceUid, native.instances[0]!.sopInstanceUid);
  const nativePixels = new Uint8Array((await readWithDcmjs(native.instances[0]!.bytes)).dict['7FE00010']!.Value![0]);
  const bytes = rle.instances[0]!.bytes;
  const items = encapsulatedItems(bytes);
  assert.equal(items.length, 2);
  assert.equal(items[0]!.length, 4);
  assert.equal(new DataView(bytes.buffer, items[0]!.offset, 4).getUint32(0, true), 0);
  const fragment = bytes.subarray(items[1]!.offset, items[1]!.offset + items[1]!.length);
  assert.ok(fragment.byteLength < nativePixels.byteLength);
  assert.deepEqual(decodeRleFrame(fragment, { rows: 128, columns: 128, samplesPerPixel: 1, bitsAllocated: 16 }), nativePixels);
  const implicitParsed = await readWithDcmjs(implicit.instances[0]!.bytes);
  assert.equal(implicitParsed.meta['00020010']!.Value![0], ImplicitVrLittleEndian);
  assert.deepEqual(new Uint8Array(implicitParsed.dict['7FE00010']!.Value![0]), nativePixels);
});
