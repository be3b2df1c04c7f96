import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { encodeFileMetaInformation, encodePart10, encodePart10Prefix, ExplicitVrLittleEndian, getNumber, getString, ImplicitVrLittleEndian, JpegBaseline8Bit, readPart10, type WritableDataset } from '@atrium/dicom';
import { openTestArchive } from '../test-support.js';
import { pixelModuleOf } from './pixel-module.js';
import { TranscoderPool } from './transcoder.js';

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

/** A frame of `channels` samples with a gradient that differs per frame, JPEG-compressed by sharp (libjpeg-turbo). */
async function jpegFrame(rows: number, columns: number, channels: 1 | 3, seed: number): Promise<{ jpeg: Buffer; decoded: Buffer }> {
  const raw = Buffer.alloc(rows * columns * channels);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * (seed + 3) + seed * 40) & 0xff;
  const image = sharp(raw, { raw: { width: columns, height: rows, channels } });
  const jpeg = await (channels === 1 ? image.toColourspace('b-w') : image).jpeg({ quality: 90 }).toBuffer();
  const decoded = await (channels === 1 ? sharp(jpeg).toColourspace('b-w') : sharp(jpeg)).raw().toBuffer();
  return { jpeg, decoded };
}

function instance(options: { sopInstanceUid: string; photometric: string; samples: number; rows: number; columns: number; fragments: Buffer[]; frames: number }): Uint8Array {
  const dataset: WritableDataset = {
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.3.1'] },
    // A retired group length, stale once Photometric Interpretation is rewritten: it must not be sent.
    '00280000': { vr: 'UL', Value: [9999] },
    '00080018': { vr: 'UI', Value: [options.sopInstanceUid] },
    '00080060': { vr: 'CS', Value: ['US'] },
    '00081140': { vr: 'SQ', Value: [{ '00081150': { vr: 'UI', Value: ['1.2.3'] }, '00081155': { vr: 'UI', Value: ['1.2.3.4'] } }] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Jpeg^Jane' }] },
    '00100020': { vr: 'LO', Value: ['PID-JPEG'] },
    '0020000D': { vr: 'UI', Value: ['1.2.826.0.1.3680043.8.498.77.1'] },
    '0020000E': { vr: 'UI', Value: ['1.2.826.0.1.3680043.8.498.77.2'] },
    '00200013': { vr: 'IS', Value: [1] },
    '00280002': { vr: 'US', Value: [options.samples] },
    '00280004': { vr: 'CS', Value: [options.photometric] },
    ...(options.samples === 3 ? { '00280006': { vr: 'US', Value: [0] } } : {}),
    '00280008': { vr: 'IS', Value: [options.frames] },
    '00280010': { vr: 'US', Value: [options.rows] },
    '00280011': { vr: 'US', Value: [options.columns] },
    '00280100': { vr: 'US', Value: [8] },
    '00280101': { vr: 'US', Value: [8] },
    '00280102': { vr: 'US', Value: [7] },
    '00280103': { vr: 'US', Value: [0] },
    '00282110': { vr: 'CS', Value: ['01'] },
    '7FE00010': { vr: 'OB', Fragments: options.fragments },
    FFFCFFFC: { vr: 'OB', Bytes: new Uint8Array(6) },
  };
  return encodePart10({ transferSyntaxUid: JpegBaseline8Bit, dataset });
}

test('decodeJpegBaselineInstance - a colour multi-frame is sent frame by frame in either native syntax: RGB by pixel, frames in order, trailing elements kept, size known in advance', async () => {
  const archive = await openTestArchive();
  try {
    const rows = 24;
    const columns = 33;
    const frames = await Promise.all([1, 2, 3, 4, 5].map((seed) => jpegFrame(rows, columns, 3, seed)));
    // The third frame in two fragments: frames are found by the offsets the index recorded, not one per fragment.
    const third = frames[2]!.jpeg;
    const fragments = [frames[0]!.jpeg, frames[1]!.jpeg, third.subarray(0, 100), third.subarray(100), frames[3]!.jpeg, frames[4]!.jpeg];
    const bytes = instance({ sopInstanceUid: '1.2.826.0.1.3680043.8.498.77.3', photometric: 'YBR_FULL_422', samples: 3, rows, columns, fragments, frames: 5 });
    await archive.ingest.ingest([bytes], { kind: 'import' });
    const meta = (await archive.archive.getInstanceMetadata('1.2.826.0.1.3680043.8.498.77.3'))!;
    // As the server wires it, and with a read span smaller than two frames and one frame decoded at a time.
    const small = new TranscoderPool({ store: archive.store, maxThreads: 1, pixelLayout: (ref) => archive.retrieve.pixelLayout(ref), jpegBaseline: { maxReadBytes: 600, framesInFlight: 1 } });
    for (const [target, pool] of [
      [ExplicitVrLittleEndian, archive.transcoder],
      [ImplicitVrLittleEndian, archive.transcoder],
      [ExplicitVrLittleEndian, small],
    ] as const) {
      const result = await pool.transcode(meta, [target]);
      assert.equal(result.transferSyntaxUid, target);
      assert.equal(result.transcoded, true);
      const out = await readAll(result.stream);
      assert.equal(result.size, out.length, `${target}: size known in advance`);
      const parsed = await readPart10([out]);
      assert.equal(parsed.transferSyntaxUid, target);
      assert.equal(getString(parsed.dataset, 0x00280004), 'RGB');
      assert.equal(getNumber(parsed.dataset, 0x00280006), 0);
      assert.equal(parsed.dataset['00081140']?.Value?.length, 1, `${target}: the sequence before the pixels is kept`);
      assert.equal(parsed.dataset['00280000'], undefined, `${target}: no group length`);
      assert.equal(parsed.pixelData!.length, rows * columns * 3 * 5);
      const pixels = out.subarray(parsed.pixelData!.offset, parsed.pixelData!.offset + parsed.pixelData!.length);
      assert.deepEqual(pixels, Buffer.concat(frames.map((f) => f.decoded)), `${target}: decoded frames in order`);
      assert.ok(parsed.dataset.FFFCFFFC, `${target}: the element after Pixel Data is kept`);
    }
    await small.close();
  } finally {
    await archive.cleanup();
  }
});

test('decodeJpegBaselineInstance - a MONOCHROME2 frame of odd length is decoded with its padding byte; an RGB-labelled one goes to the codec workers', async () => {
  const archive = await openTestArchive();
  try {
    const mono = await jpegFrame(15, 17, 1, 9);
    await archive.ingest.ingest([instance({ sopInstanceUid: '1.2.826.0.1.3680043.8.498.77.4', photometric: 'MONOCHROME2', samples: 1, rows: 15, columns: 17, fragments: [mono.jpeg], frames: 1 })], {
      kind: 'import',
    });
    const meta = (await archive.archive.getInstanceMetadata('1.2.826.0.1.3680043.8.498.77.4'))!;
    const result = await archive.transcoder.transcode(meta, [ExplicitVrLittleEndian], { form: 'dataset' });
    const out = await readAll(result.stream);
    assert.equal(result.size, out.length);
    // The data set as DIMSE sends it, behind file meta information of our own to read it back.
    const meta10 = encodeFileMetaInformation({ mediaStorageSopClassUid: meta.sopClassUid, mediaStorageSopInstanceUid: meta.sopInstanceUid, transferSyntaxUid: ExplicitVrLittleEndian });
    const part10 = Buffer.concat([encodePart10Prefix(), meta10, out]);
    const parsed = await readPart10([part10]);
    assert.equal(getString(parsed.dataset, 0x00280004), 'MONOCHROME2');
    assert.equal(parsed.pixelData!.length, 15 * 17 + 1, 'odd length padded to even');
    assert.deepEqual(part10.subarray(parsed.pixelData!.offset, parsed.pixelData!.offset + 15 * 17), mono.decoded);

    // PS3.5 §8.2.1 allows RGB in JPEG Baseline; whether the codestream is colour-transformed is not in the data
    // set, so it is left to the whole-instance codec path.
    const rgb = await jpegFrame(8, 8, 3, 2);
    await archive.ingest.ingest([instance({ sopInstanceUid: '1.2.826.0.1.3680043.8.498.77.5', photometric: 'RGB', samples: 3, rows: 8, columns: 8, fragments: [rgb.jpeg], frames: 1 })], {
      kind: 'import',
    });
    const rgbMeta = (await archive.archive.getInstanceMetadata('1.2.826.0.1.3680043.8.498.77.5'))!;
    const viaWorker = await archive.transcoder.transcode(rgbMeta, [ExplicitVrLittleEndian]);
    const parsedRgb = await readPart10([await readAll(viaWorker.stream)]);
    assert.equal(parsedRgb.transferSyntaxUid, ExplicitVrLittleEndian);
    assert.equal(parsedRgb.pixelData!.length, 8 * 8 * 3);
  } finally {
    await archive.cleanup();
  }
});

test('decodeJpegBaselineInstance - frames are read and decoded only a few ahead of what the consumer has taken (bounded memory for any number of frames)', async () => {
  const archive = await openTestArchive();
  try {
    const frameCount = 40;
    const frame = await jpegFrame(64, 64, 3, 5);
    const bytes = instance({
      sopInstanceUid: '1.2.826.0.1.3680043.8.498.77.6',
      photometric: 'YBR_FULL_422',
      samples: 3,
      rows: 64,
      columns: 64,
      fragments: Array.from({ length: frameCount }, () => frame.jpeg),
      frames: frameCount,
    });
    await archive.ingest.ingest([bytes], { kind: 'import' });
    const meta = (await archive.archive.getInstanceMetadata('1.2.826.0.1.3680043.8.498.77.6'))!;
    // Every byte range the decoder reads is counted: with a read span of one frame, ranges read = frames read.
    let spansRead = 0;
    const store = new Proxy(archive.store, {
      get(target, property, receiver) {
        if (property === 'getBytes') {
          return (key: string, range: { start: number; end?: number } | undefined, options: { maxBytes: number }) => {
            spansRead++;
            return target.getBytes(key, range, options);
          };
        }
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const pool = new TranscoderPool({ store, maxThreads: 1, pixelLayout: (ref) => archive.retrieve.pixelLayout(ref), jpegBaseline: { maxReadBytes: frame.jpeg.length, framesInFlight: 2 } });
    try {
      const result = await pool.transcode(meta, [ExplicitVrLittleEndian]);
      const headerReads = spansRead;
      const frameBytes = 64 * 64 * 3;
      // Ahead of the frames taken: the two decoding, and what the stream's buffer holds (its highWaterMark: 16 KiB
      // on Node 20, 64 KiB later): a constant, not a share of the 40 frames.
      const ahead = 2 + Math.ceil(result.stream.readableHighWaterMark / frameBytes) + 1;
      let taken = 0;
      let framesTaken = 0;
      for await (const chunk of result.stream) {
        taken += (chunk as Buffer).length;
        if ((chunk as Buffer).length === frameBytes) {
          framesTaken++;
          assert.ok(spansRead - headerReads <= framesTaken + ahead, `after ${framesTaken} frames taken, ${spansRead - headerReads} read`);
        }
      }
      assert.equal(framesTaken, frameCount);
      assert.ok(ahead < frameCount / 4, `the bound (${ahead} frames ahead) is far below the frame count`);
      assert.equal(taken, result.size);
    } finally {
      await pool.close();
    }
  } finally {
    await archive.cleanup();
  }
});

test('decodeJpegBaselineFrame - WADO-RS frames and rendered images of a JPEG Baseline instance decode as its instance retrieve does: RGB by pixel, not converted twice', async () => {
  const archive = await openTestArchive();
  try {
    const colour = await jpegFrame(20, 26, 3, 4);
    const grey = await jpegFrame(11, 13, 1, 5);
    const base = { photometric: 'YBR_FULL_422', samples: 3, rows: 20, columns: 26, fragments: [colour.jpeg], frames: 1 };
    const colourUid = '1.2.826.0.1.3680043.8.498.77.8';
    const greyUid = '1.2.826.0.1.3680043.8.498.77.9';
    await archive.ingest.ingest([instance({ ...base, sopInstanceUid: colourUid })], { kind: 'import' });
    await archive.ingest.ingest([instance({ sopInstanceUid: greyUid, photometric: 'MONOCHROME2', samples: 1, rows: 11, columns: 13, fragments: [grey.jpeg], frames: 1 })], { kind: 'import' });
    const moduleOf = async (uid: string) => pixelModuleOf(archive.store, (await archive.archive.getInstanceMetadata(uid))!);

    const colourFrames = await archive.transcoder.transcodeFrames(await moduleOf(colourUid), JpegBaseline8Bit, [colour.jpeg], ExplicitVrLittleEndian);
    assert.equal(colourFrames.photometricInterpretation, 'RGB');
    assert.deepEqual(Buffer.from(colourFrames.frames[0]!), colour.decoded, 'the colour frame: libjpeg-turbo pixels, as the instance retrieve sends them');
    const greyFrames = await archive.transcoder.transcodeFrames(await moduleOf(greyUid), JpegBaseline8Bit, [grey.jpeg], ImplicitVrLittleEndian);
    assert.equal(greyFrames.photometricInterpretation, 'MONOCHROME2');
    assert.deepEqual(Buffer.from(greyFrames.frames[0]!), grey.decoded);

    // Rendered: the decoded RGB frame with an opaque alpha, no second YBR to RGB conversion.
    const rendered = await archive.transcoder.render(await moduleOf(colourUid), JpegBaseline8Bit, colour.jpeg);
    assert.equal(rendered.width, 26);
    assert.equal(rendered.height, 20);
    const expected = Buffer.alloc(20 * 26 * 4);
    for (let i = 0; i < 20 * 26; i++) {
      colour.decoded.copy(expected, i * 4, i * 3, i * 3 + 3);
      expected[i * 4 + 3] = 255;
    }
    assert.deepEqual(Buffer.from(rendered.rgba), expected);
  } finally {
    await archive.cleanup();
  }
});
