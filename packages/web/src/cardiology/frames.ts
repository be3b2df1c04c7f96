/** Frame bytes from WADO-RS (PS3.18 §8.7.3.3 multipart) to RGBA pixels for a canvas. Pure: used by the frame worker. */

/** The body of the first part of a `multipart/related` answer, or the bytes themselves for a bare body. */
export function firstPartBody(bytes: Uint8Array, contentType: string): Uint8Array {
  const match = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!/^multipart\//i.test(contentType) || !match) return bytes;
  const boundary = new TextEncoder().encode(`--${match[1]}`);
  const start = indexOf(bytes, boundary, 0);
  if (start < 0) throw new Error(`Cannot read multipart frame: boundary '${match[1]}' not found`);
  const headersEnd = indexOf(bytes, new Uint8Array([13, 10, 13, 10]), start);
  if (headersEnd < 0) throw new Error('Cannot read multipart frame: the part has no end of headers');
  const bodyStart = headersEnd + 4;
  const next = indexOf(bytes, new Uint8Array([13, 10, ...boundary]), bodyStart);
  return bytes.subarray(bodyStart, next < 0 ? bytes.byteLength : next);
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  outer: for (let i = haystack.indexOf(first!, from); i >= 0 && i <= haystack.length - needle.length; i = haystack.indexOf(first!, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

export interface PixelLayout {
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: number;
  readonly bitsAllocated: number;
  readonly pixelRepresentation: number;
  readonly photometricInterpretation: string;
  readonly planarConfiguration: number;
}

/**
 * Native (uncompressed, little endian) frame bytes to RGBA. Monochrome frames are scaled from their own min-max
 * when deeper than 8 bits (cine has no window per frame worth honouring), inverted for MONOCHROME1; RGB keeps its
 * samples, interleaved or planar.
 */
export function toRgba(raw: Uint8Array, layout: PixelLayout, out = new Uint8ClampedArray(layout.rows * layout.columns * 4)): Uint8ClampedArray {
  const pixels = layout.rows * layout.columns;
  if (layout.samplesPerPixel === 3) {
    const planar = layout.planarConfiguration === 1;
    for (let p = 0; p < pixels; p++) {
      const o = p * 4;
      out[o] = planar ? raw[p]! : raw[p * 3]!;
      out[o + 1] = planar ? raw[pixels + p]! : raw[p * 3 + 1]!;
      out[o + 2] = planar ? raw[2 * pixels + p]! : raw[p * 3 + 2]!;
      out[o + 3] = 255;
    }
    return out;
  }
  const invert = layout.photometricInterpretation === 'MONOCHROME1';
  if (layout.bitsAllocated === 8) {
    for (let p = 0; p < pixels; p++) {
      const v = invert ? 255 - raw[p]! : raw[p]!;
      const o = p * 4;
      out[o] = v;
      out[o + 1] = v;
      out[o + 2] = v;
      out[o + 3] = 255;
    }
    return out;
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const read = layout.pixelRepresentation === 1 ? (p: number) => view.getInt16(p * 2, true) : (p: number) => view.getUint16(p * 2, true);
  let min = Infinity;
  let max = -Infinity;
  for (let p = 0; p < pixels; p++) {
    const v = read(p);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const scale = max > min ? 255 / (max - min) : 0;
  for (let p = 0; p < pixels; p++) {
    const g = (read(p) - min) * scale;
    const v = invert ? 255 - g : g;
    const o = p * 4;
    out[o] = v;
    out[o + 1] = v;
    out[o + 2] = v;
    out[o + 3] = 255;
  }
  return out;
}
