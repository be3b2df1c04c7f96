import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { transcodeNativeDataset } from './native-transcoder.js';
import { ExplicitVrBigEndian, ImplicitVrLittleEndian } from './transfer-syntax.js';
import { encodeDataset } from './writer.js';

const FRAME = 512 * 512 * 2;
const FRAMES = 400;
const CHUNK = 64 * 1024;

// Live memory, not garbage waiting for the collector, is what is bounded: samples are taken after two full GCs
// (the second frees the buffer backing stores the first one queued).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * A 200 MB Implicit VR Little Endian multi-frame made on the fly: the header, then pixel data generated chunk by
 * chunk (frame f, word w holds (f + w) & 0xFFFF), so the object never exists in memory as a whole.
 */
async function* syntheticMultiframe(header: Uint8Array): AsyncGenerator<Uint8Array> {
  yield header;
  // Odd-sized chunks, so that 16-bit words are split across chunk boundaries all along.
  const total = FRAME * FRAMES;
  for (let at = 0; at < total; at += CHUNK + 1) {
    const n = Math.min(CHUNK + 1, total - at);
    const chunk = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const byte = at + i;
      const word = ((byte >>> 1) % (FRAME / 2)) + Math.floor(byte / FRAME);
      chunk[i] = byte & 1 ? (word >>> 8) & 0xff : word & 0xff;
    }
    yield chunk;
  }
}

test('transcodeNativeDataset - a 200 MB multi-frame goes from Implicit VR Little Endian to Explicit VR Big Endian with memory bounded by a few chunks', async () => {
  const pixelLength = FRAME * FRAMES;
  const elements = encodeDataset(
    {
      '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.7.3'] },
      '00080018': { vr: 'UI', Value: ['1.2.826.0.1.3680043.2.1125.99.2'] },
      '00280002': { vr: 'US', Value: [1] },
      '00280008': { vr: 'IS', Value: [String(FRAMES)] },
      '00280010': { vr: 'US', Value: [512] },
      '00280011': { vr: 'US', Value: [512] },
      '00280100': { vr: 'US', Value: [16] },
      '00280103': { vr: 'US', Value: [0] },
    },
    ImplicitVrLittleEndian,
  );
  // Pixel Data header, Implicit VR: tag then 32-bit length; the value follows from the generator.
  const pixelHeader = new Uint8Array(8);
  const view = new DataView(pixelHeader.buffer);
  view.setUint16(0, 0x7fe0, true);
  view.setUint16(2, 0x0010, true);
  view.setUint32(4, pixelLength, true);
  const header = Buffer.concat([elements, pixelHeader]);

  gc();
  gc();
  const baseline = process.memoryUsage();
  let peakHeap = baseline.heapUsed;
  let peakExternal = baseline.external + baseline.arrayBuffers;
  let total = 0;
  let head: Buffer | undefined;
  let checked = 0;
  let pixelStart = -1;
  for await (const piece of transcodeNativeDataset(syntheticMultiframe(header), {
    sourceTransferSyntaxUid: ImplicitVrLittleEndian,
    targetTransferSyntaxUid: ExplicitVrBigEndian,
  })) {
    if (head === undefined) {
      head = Buffer.from(piece);
      pixelStart = head.indexOf(Buffer.from([0x7f, 0xe0, 0x00, 0x10, 0x4f, 0x57])) + 12;
      assert.ok(pixelStart > 12, 'Pixel Data header written as OW in big endian');
      assert.equal(head.readUInt32BE(pixelStart - 4), pixelLength);
    }
    // Spot-check words in big endian against the generator's formula as they stream past.
    for (let i = 0; i < piece.length; i += 4099) {
      const byte = total + i - pixelStart;
      if (byte < 0 || byte + 1 >= pixelLength || (byte & 1) !== 0 || i + 1 >= piece.length) continue;
      const word = (((byte >>> 1) % (FRAME / 2)) + Math.floor(byte / FRAME)) & 0xffff;
      assert.equal((piece[i]! << 8) | piece[i + 1]!, word, `word at pixel byte ${byte}`);
      checked++;
    }
    total += piece.length;
    if ((total & 0x7fffff) < piece.length) {
      gc();
      gc();
      const m = process.memoryUsage();
      peakHeap = Math.max(peakHeap, m.heapUsed);
      peakExternal = Math.max(peakExternal, m.external + m.arrayBuffers);
    }
  }
  assert.equal(total, pixelStart + pixelLength);
  assert.ok(checked > 10_000, `${checked} words checked`);
  const heapGrowth = peakHeap - baseline.heapUsed;
  const externalGrowth = peakExternal - baseline.external - baseline.arrayBuffers;
  const limit = 8 * 1024 * 1024;
  assert.ok(heapGrowth < limit, `heap grew ${(heapGrowth / 2 ** 20).toFixed(1)} MiB for a ${(pixelLength / 2 ** 20).toFixed(0)} MiB object`);
  assert.ok(externalGrowth < limit, `buffers grew ${(externalGrowth / 2 ** 20).toFixed(1)} MiB for a ${(pixelLength / 2 ** 20).toFixed(0)} MiB object`);
  console.log(`peak growth: heap ${(heapGrowth / 2 ** 20).toFixed(1)} MiB, buffers ${(externalGrowth / 2 ** 20).toFixed(1)} MiB, ${checked} words checked`);
});
