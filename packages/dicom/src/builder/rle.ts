/**
 * RLE Lossless encoding of one frame (PS3.5 Annex G). The frame is split into byte segments (one per byte of each
 * sample, most significant byte first, PS3.5 §G.2), each segment compressed with the PackBits scheme (§G.3.1)
 * row by row, and prefixed by the 64-byte RLE header of segment offsets (§G.5).
 */
export interface RleFrameLayout {
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: number;
  /** 8 or 16 (32 works the same way but is not used by the builders). */
  readonly bitsAllocated: number;
}

/** At most 15 segments fit the header (§G.5): 3 samples of 32 bits is 12. */
const MAX_SEGMENTS = 15;

/**
 * Encodes one native frame, given in the native little-endian, sample-interleaved layout (Planar Configuration 0),
 * into one RLE fragment. The result has even length, as every fragment must (PS3.5 §A.4).
 */
export function encodeRleFrame(frame: Uint8Array, layout: RleFrameLayout): Uint8Array {
  const { rows, columns, samplesPerPixel } = layout;
  const bytesPerSample = layout.bitsAllocated / 8;
  const segmentCount = samplesPerPixel * bytesPerSample;
  const pixelStride = segmentCount;
  if (!Number.isInteger(bytesPerSample) || segmentCount > MAX_SEGMENTS || segmentCount < 1) {
    throw new RangeError(`Cannot encode RLE frame: ${samplesPerPixel} samples of ${layout.bitsAllocated} bits do not fit 15 segments`);
  }
  const pixels = rows * columns;
  if (frame.byteLength < pixels * pixelStride) {
    throw new RangeError(`Cannot encode RLE frame: ${frame.byteLength} bytes is less than ${pixels * pixelStride}`);
  }
  // Worst case PackBits growth is one header byte per 128 literals, plus one per row, plus the even pad.
  const worstSegment = pixels + Math.ceil(pixels / 128) + rows + 1;
  const out = new Uint8Array(64 + segmentCount * worstSegment);
  const header = new DataView(out.buffer);
  header.setUint32(0, segmentCount, true);
  const row = new Uint8Array(columns);
  let at = 64;
  for (let segment = 0; segment < segmentCount; segment++) {
    header.setUint32(4 + segment * 4, at, true);
    const sample = Math.floor(segment / bytesPerSample);
    // Segment order within a sample is most significant byte first (§G.2); the frame is little endian.
    const byteInSample = bytesPerSample - 1 - (segment % bytesPerSample);
    const offset = sample * bytesPerSample + byteInSample;
    for (let r = 0; r < rows; r++) {
      let src = r * columns * pixelStride + offset;
      for (let c = 0; c < columns; c++, src += pixelStride) row[c] = frame[src]!;
      at = packBitsRow(row, out, at);
    }
    if (at % 2 === 1) out[at++] = 0;
  }
  return out.slice(0, at);
}

/** PackBits of one row (§G.3.1): runs of 2..128 equal bytes as replicate runs, the rest as literal runs. */
function packBitsRow(row: Uint8Array, out: Uint8Array, at: number): number {
  const n = row.length;
  let i = 0;
  while (i < n) {
    let run = 1;
    while (i + run < n && run < 128 && row[i + run] === row[i]) run++;
    if (run >= 2) {
      out[at++] = 257 - run;
      out[at++] = row[i]!;
      i += run;
      continue;
    }
    // A literal run ends where a replicate run of at least 2 starts, or at 128 bytes.
    const start = i;
    i++;
    while (i < n && i - start < 128 && !(i + 1 < n && row[i] === row[i + 1])) i++;
    out[at++] = i - start - 1;
    out.set(row.subarray(start, i), at);
    at += i - start;
  }
  return at;
}
