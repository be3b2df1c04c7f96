import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeRleFrame } from './rle.js';
import { seededRandom } from './random.js';
import { decodeRleFrame } from './test-support.js';

test('encodeRleFrame - header lists one segment per sample byte, most significant first', () => {
  // One 16-bit pixel 0x1234 and one 0xABCD, little endian.
  const frame = new Uint8Array([0x34, 0x12, 0xcd, 0xab]);
  const out = encodeRleFrame(frame, { rows: 1, columns: 2, samplesPerPixel: 1, bitsAllocated: 16 });
  const view = new DataView(out.buffer);
  assert.equal(view.getUint32(0, true), 2);
  assert.equal(view.getUint32(4, true), 64);
  // Segment 1 (high bytes): a literal run of 2 bytes: header 1, then 12 AB; padded to even.
  assert.deepEqual([...out.subarray(64, 68)], [1, 0x12, 0xab, 0]);
  assert.equal(view.getUint32(8, true), 68);
  assert.deepEqual([...out.subarray(68, 71)], [1, 0x34, 0xcd]);
  assert.equal(out.byteLength % 2, 0);
});

test('encodeRleFrame - replicate runs are split at 128 bytes and at row ends', () => {
  const frame = new Uint8Array(300).fill(7);
  const out = encodeRleFrame(frame, { rows: 2, columns: 150, samplesPerPixel: 1, bitsAllocated: 8 });
  // Each row: 128 (header 257-128=129) and 22 (header 235).
  assert.deepEqual([...out.subarray(64)], [129, 7, 235, 7, 129, 7, 235, 7]);
  assert.deepEqual(decodeRleFrame(out, { rows: 2, columns: 150, samplesPerPixel: 1, bitsAllocated: 8 }), frame);
});

test('encodeRleFrame - round-trips noise, ramps and runs for 8-bit, 16-bit and RGB frames', () => {
  const random = seededRandom(5);
  const layouts = [
    { rows: 17, columns: 33, samplesPerPixel: 1, bitsAllocated: 8 },
    { rows: 16, columns: 300, samplesPerPixel: 1, bitsAllocated: 16 },
    { rows: 9, columns: 129, samplesPerPixel: 3, bitsAllocated: 8 },
  ];
  for (const layout of layouts) {
    const size = layout.rows * layout.columns * layout.samplesPerPixel * (layout.bitsAllocated / 8);
    const frame = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      const zone = Math.floor(i / 97) % 3;
      frame[i] = zone === 0 ? random.int(256) : zone === 1 ? 200 : i & 0xff;
    }
    const encoded = encodeRleFrame(frame, layout);
    assert.equal(encoded.byteLength % 2, 0);
    assert.deepEqual(decodeRleFrame(encoded, layout), frame, JSON.stringify(layout));
  }
});

test('encodeRleFrame - refuses layouts over 15 segments and short frames', () => {
  assert.throws(() => encodeRleFrame(new Uint8Array(64), { rows: 1, columns: 1, samplesPerPixel: 4, bitsAllocated: 32 }), RangeError);
  assert.throws(() => encodeRleFrame(new Uint8Array(3), { rows: 2, columns: 2, samplesPerPixel: 1, bitsAllocated: 8 }), RangeError);
});
