import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readPart10 } from '../part10-reader.js';
import { RleLossless } from '../transfer-syntax.js';
import { synthesizeBytes } from './multiframe.js';
import { US_MULTIFRAME_IMAGE_STORAGE, buildUltrasoundClip } from './ultrasound-clip.js';
import type { UltrasoundClipOptions } from './ultrasound-clip.js';
import { decodeRleFrame, readWithDcmjs } from './test-support.js';

const small = { frames: 6, rows: 96, columns: 128 };

test('buildUltrasoundClip - streams exactly byteLength bytes, the same on every call', async () => {
  const cases: UltrasoundClipOptions[] = [small, { ...small, photometricInterpretation: 'RGB' }, { ...small, transferSyntaxUid: RleLossless }];
  for (const options of cases) {
    const clip = buildUltrasoundClip(options);
    let count = 0;
    for await (const chunk of clip.chunks()) count += chunk.byteLength;
    assert.equal(count, clip.byteLength);
    assert.deepEqual(await synthesizeBytes(clip), await synthesizeBytes(buildUltrasoundClip(options)));
  }
});

test('buildUltrasoundClip - cine, multi-frame and region calibration attributes follow the options', async () => {
  const clip = buildUltrasoundClip({ ...small, frameRate: 50, depthCm: 12 });
  const { meta, dict } = await readWithDcmjs(await synthesizeBytes(clip));
  assert.equal(meta['00020002']!.Value![0], US_MULTIFRAME_IMAGE_STORAGE);
  assert.equal(dict['00080060']!.Value![0], 'US');
  assert.equal(Number(dict['00280008']!.Value![0]), 6);
  assert.equal(Number(dict['00181063']!.Value![0]), 20);
  assert.equal(dict['00181065'], undefined);
  assert.equal(Number(dict['00180040']!.Value![0]), 50);
  assert.equal(Number(dict['00082144']!.Value![0]), 50);
  assert.equal(dict['00280009']!.Value![0], 0x00181063);
  assert.equal(dict['00280004']!.Value![0], 'MONOCHROME2');
  const region = dict['00186011']!.Value![0];
  assert.equal(region['00186024'].Value[0], 3);
  assert.equal(region['0018602C'].Value[0], clip.region.physicalDeltaX);
  assert.ok(Math.abs(clip.region.physicalDeltaY * (clip.region.maxY1 - clip.region.minY0) - 12) < 1e-9);
  assert.equal(region['0018601A'].Value[0], clip.region.minY0);
  assert.equal(region['0018601E'].Value[0], clip.region.maxY1);
  assert.equal(clip.frameTime, 20);

  const byVector = await readWithDcmjs(await synthesizeBytes(buildUltrasoundClip({ ...small, frameIncrement: 'FrameTimeVector' })));
  const vector = byVector.dict['00181065']!.Value!.map(Number);
  assert.equal(vector.length, 6);
  assert.equal(vector[0], 0);
  for (const v of vector.slice(1)) assert.ok(Math.abs(v - 1000 / 60) < 1e-9);
  assert.equal(byVector.dict['00181063'], undefined);
  assert.equal(byVector.dict['00280009']!.Value![0], 0x00181065);
});

test('buildUltrasoundClip - frames differ as the heart beats, and the sector is dark outside', async () => {
  const clip = buildUltrasoundClip({ ...small, frames: 30 });
  const bytes = await synthesizeBytes(clip);
  const parsed = await readPart10([bytes]);
  assert.equal(parsed.frames.length, 30);
  const frameAt = (i: number): Uint8Array => {
    const f = parsed.frames[i]!.fragments[0]!;
    return bytes.subarray(f.offset, f.offset + f.length);
  };
  assert.equal(frameAt(0).byteLength, 96 * 128);
  assert.notDeepEqual(frameAt(0), frameAt(10));
  assert.equal(frameAt(0)[0], 0, 'top-left corner is outside the sector');
  const mean = frameAt(0).reduce((n, v) => n + v, 0) / frameAt(0).byteLength;
  assert.ok(mean > 5 && mean < 120, `mean ${mean}`);
});

test('buildUltrasoundClip - RLE clip has one fragment per frame, a Basic Offset Table, and decodes to the native frames', async () => {
  const native = await synthesizeBytes(buildUltrasoundClip({ ...small, photometricInterpretation: 'RGB' }));
  const rleClip = buildUltrasoundClip({ ...small, photometricInterpretation: 'RGB', transferSyntaxUid: RleLossless });
  const rle = await synthesizeBytes(rleClip);
  const nativeParsed = await readPart10([native]);
  const rleParsed = await readPart10(rleClip.chunks());
  assert.equal(rleParsed.transferSyntaxUid, RleLossless);
  assert.equal(rleParsed.pixelData?.encapsulated, true);
  assert.equal(rleParsed.frames.length, 6);
  assert.equal(rleParsed.pixelData!.basicOffsetTable.length, 6);
  assert.equal(rleParsed.pixelData!.basicOffsetTable[0], 0);
  for (let i = 0; i < 6; i++) {
    const fragment = rleParsed.frames[i]!.fragments;
    assert.equal(fragment.length, 1);
    const encoded = rle.subarray(fragment[0]!.offset, fragment[0]!.offset + fragment[0]!.length);
    const n = nativeParsed.frames[i]!.fragments[0]!;
    assert.deepEqual(
      decodeRleFrame(encoded, { rows: 96, columns: 128, samplesPerPixel: 3, bitsAllocated: 8 }),
      native.subarray(n.offset, n.offset + n.length),
    );
  }
});

const large = process.env.ATRIUM_TEST_LARGE === '1';

test(`buildUltrasoundClip - a ${large ? '1 GB' : '64 MB'} clip streams with bounded memory`, async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // 512x512 RGB frames are 768 KiB: 86 make 64 MiB, 1,400 make 1.1 GB.
  const clip = buildUltrasoundClip({ rows: 512, columns: 512, photometricInterpretation: 'RGB', frames: large ? 1400 : 86 });
  // What the builder still holds, not the garbage waiting for the collector: uncollected frames alone grew the heap
  // by 53 MiB of a 65 MiB clip on a loaded CI machine. Collected twice because from Node 24 the first collection frees
  // array buffers on a background thread and the second waits for it.
  const live = (): number => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const before = live();
  let peak = before;
  let count = 0;
  let chunks = 0;
  for await (const chunk of clip.chunks()) {
    count += chunk.byteLength;
    if (++chunks % 8 === 0) peak = Math.max(peak, live());
  }
  assert.equal(count, clip.byteLength);
  assert.ok(clip.byteLength > (large ? 1e9 : 64e6));
  assert.ok(chunks >= 16, `only ${chunks} chunks, too few to sample`);
  const grown = (peak - before) / 2 ** 20;
  t.diagnostic(`${(clip.byteLength / 2 ** 20).toFixed(0)} MiB streamed in ${chunks} chunks, peak live growth ${grown.toFixed(1)} MiB`);
  // A builder that held the object would grow by its full size; one streaming frame by frame holds about one frame.
  const limit = 8;
  assert.ok(grown < limit, `live heap and array buffers grew by ${grown.toFixed(1)} MiB, limit ${limit} MiB`);
});
