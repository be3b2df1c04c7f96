import { DicomLimitError } from '../errors.js';
import { ItemTag, PixelDataTag, SequenceDelimitationTag, UndefinedLength } from '../tag.js';
import { ExplicitVrLittleEndian, ImplicitVrLittleEndian, RleLossless, lookupTransferSyntax } from '../transfer-syntax.js';
import { basicOffsetTable, encodeDataset, encodeElementHeader, encodePart10Header } from '../writer.js';
import type { WritableDataset } from '../writer.js';
import { keywordDataset } from './attributes.js';
import type { SyntheticObject } from './common.js';
import { encodeRleFrame } from './rle.js';

export interface MultiframeOptions {
  /** Every attribute but Pixel Data, Number of Frames and the Image Pixel layout, which are added here. */
  dataset: WritableDataset;
  frames: number;
  rows: number;
  columns: number;
  samplesPerPixel: 1 | 3;
  bitsAllocated: 8 | 16;
  /**
   * Fills `target` (a fresh buffer of one frame, native layout: little endian, samples interleaved) with frame
   * `index`. Must be a pure function of `index`: the frames are made twice for RLE (once to size, once to send).
   */
  frame(index: number, target: Uint8Array): void;
  /** Explicit VR LE (default), Implicit VR LE or RLE Lossless (one fragment per frame, with a Basic Offset Table). */
  transferSyntaxUid?: string;
  /** Extra data for the `SyntheticObject`. */
  identity: Omit<SyntheticObject, 'byteLength' | 'chunks' | 'transferSyntaxUid' | 'sopClassUid' | 'sopInstanceUid'>;
}

/** A native value length must fit 32 bits and not be the undefined length (PS3.5 §7.1.1). */
const MAX_NATIVE_LENGTH = 0xfffffffe;

/**
 * A multi-frame image written lazily (PS3.3 §C.7.6.6): the header is encoded up front, each frame is made only
 * when `chunks()` reaches it and is yielded as its own buffer, so memory stays at a few frames whatever the
 * object's size. For RLE the frames are compressed once beforehand to learn the fragment lengths that the Basic
 * Offset Table and `byteLength` need, keeping only the lengths.
 */
export function buildMultiframe(options: MultiframeOptions): SyntheticObject {
  const transferSyntaxUid = options.transferSyntaxUid ?? ExplicitVrLittleEndian;
  const ts = lookupTransferSyntax(transferSyntaxUid);
  if (!ts || ![ExplicitVrLittleEndian, ImplicitVrLittleEndian, RleLossless].includes(transferSyntaxUid)) {
    throw new TypeError(`Cannot build multi-frame object: transfer syntax '${transferSyntaxUid}' is not one the builder writes`);
  }
  const { frames, rows, columns, samplesPerPixel, bitsAllocated } = options;
  if (!Number.isInteger(frames) || frames < 1) {
    throw new RangeError(`Cannot build multi-frame object: frame count '${frames}' is not a positive integer`);
  }
  const frameBytes = rows * columns * samplesPerPixel * (bitsAllocated / 8);
  const layout = { rows, columns, samplesPerPixel, bitsAllocated };
  const dataset: WritableDataset = {
    ...options.dataset,
    ...keywordDataset({
      SamplesPerPixel: ['US', samplesPerPixel],
      PlanarConfiguration: samplesPerPixel > 1 ? ['US', 0] : undefined,
      NumberOfFrames: ['IS', frames],
      Rows: ['US', rows],
      Columns: ['US', columns],
      BitsAllocated: ['US', bitsAllocated],
      BitsStored: ['US', bitsAllocated],
      HighBit: ['US', bitsAllocated - 1],
    }),
  };
  const sopClassUid = dataset['00080016']?.Value?.[0];
  const sopInstanceUid = dataset['00080018']?.Value?.[0];
  if (typeof sopClassUid !== 'string' || typeof sopInstanceUid !== 'string') {
    throw new TypeError('Cannot build multi-frame object: the data set has no SOP Class UID or SOP Instance UID');
  }
  const header = concat(encodePart10Header({ dataset, transferSyntaxUid }), encodeDataset(dataset, transferSyntaxUid));
  const encoding = { explicitVr: ts.explicitVr, littleEndian: true };
  const vr = bitsAllocated === 8 ? 'OB' : 'OW';

  let pixelLength: number;
  let pixelHeader: Uint8Array;
  const fragmentLengths: number[] = [];
  if (transferSyntaxUid === RleLossless) {
    for (let i = 0; i < frames; i++) {
      const frame = new Uint8Array(frameBytes);
      options.frame(i, frame);
      fragmentLengths.push(encodeRleFrame(frame, layout).byteLength);
    }
    const table = basicOffsetTable(fragmentLengths);
    const tableBytes = new Uint8Array(table.length * 4);
    const view = new DataView(tableBytes.buffer);
    table.forEach((offset, i) => view.setUint32(i * 4, offset, true));
    pixelHeader = concat(
      concat(
        encodeElementHeader(PixelDataTag, 'OB', UndefinedLength, encoding),
        encodeElementHeader(ItemTag, undefined, tableBytes.byteLength, encoding),
      ),
      tableBytes,
    );
    pixelLength = fragmentLengths.reduce((n, l) => n + 8 + l, 0) + 8;
  } else {
    const valueLength = frames * frameBytes + ((frames * frameBytes) % 2);
    if (valueLength > MAX_NATIVE_LENGTH) {
      throw new DicomLimitError(`Cannot build multi-frame object: pixel data of ${valueLength} bytes exceeds a 32-bit length`);
    }
    pixelHeader = encodeElementHeader(PixelDataTag, vr, valueLength, encoding);
    pixelLength = valueLength;
  }
  const byteLength = header.byteLength + pixelHeader.byteLength + pixelLength;
  const rle = transferSyntaxUid === RleLossless;
  const makeFrame = options.frame;

  return {
    ...options.identity,
    sopClassUid,
    sopInstanceUid,
    transferSyntaxUid,
    byteLength,
    async *chunks() {
      yield header;
      yield pixelHeader;
      for (let i = 0; i < frames; i++) {
        // A fresh buffer per frame: a consumer may still hold the previous one (a stream's write queue).
        const frame = new Uint8Array(frameBytes);
        makeFrame(i, frame);
        if (rle) {
          const fragment = encodeRleFrame(frame, layout);
          if (fragment.byteLength !== fragmentLengths[i]) {
            throw new Error(`Cannot build multi-frame object: frame ${i} changed between passes (frame() is not pure)`);
          }
          yield concat(encodeElementHeader(ItemTag, undefined, fragment.byteLength, encoding), fragment);
        } else {
          yield frame;
        }
      }
      if (rle) yield encodeElementHeader(SequenceDelimitationTag, undefined, 0, encoding);
      else if ((frames * frameBytes) % 2 === 1) yield new Uint8Array(1);
    },
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

/** Collects a synthetic object's chunks into one buffer: for tests and small objects only. */
export async function synthesizeBytes(object: SyntheticObject): Promise<Uint8Array> {
  const out = new Uint8Array(object.byteLength);
  let at = 0;
  for await (const chunk of object.chunks()) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  if (at !== object.byteLength) {
    throw new Error(`Cannot collect synthetic object: ${at} bytes produced, ${object.byteLength} announced`);
  }
  return out;
}
