// Helpers shared by the builder's tests: an independent RLE decoder and a dcmjs-based Part 10 parser, so the
// builder is checked against code that did not write it. Not exported from the package.

/** Decodes one RLE Lossless fragment (PS3.5 Annex G) back to the native little-endian interleaved frame. */
export function decodeRleFrame(
  fragment: Uint8Array,
  layout: { rows: number; columns: number; samplesPerPixel: number; bitsAllocated: number },
): Uint8Array {
  const view = new DataView(fragment.buffer, fragment.byteOffset, fragment.byteLength);
  const segments = view.getUint32(0, true);
  const bytesPerSample = layout.bitsAllocated / 8;
  const pixels = layout.rows * layout.columns;
  const stride = layout.samplesPerPixel * bytesPerSample;
  if (segments !== stride) throw new Error(`RLE header says ${segments} segments, layout needs ${stride}`);
  const out = new Uint8Array(pixels * stride);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + s * 4, true);
    const end = s + 1 < segments ? view.getUint32(8 + s * 4, true) : fragment.byteLength;
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
    let pos = start;
    let produced = 0;
    const put = (b: number): void => {
      out[produced * stride + sample * bytesPerSample + byteInSample] = b;
      produced++;
    };
    while (produced < pixels && pos < end) {
      const n = fragment[pos++]!;
      if (n < 128) {
        for (let k = 0; k <= n; k++) put(fragment[pos++]!);
      } else if (n > 128) {
        const b = fragment[pos++]!;
        for (let k = 0; k < 257 - n; k++) put(b);
      }
    }
    if (produced !== pixels) throw new Error(`RLE segment ${s} decoded to ${produced} bytes, expected ${pixels}`);
  }
  return out;
}

// dcmjs ships no types; it serves only as an independent parser.
const dcmjsName: string = 'dcmjs';

export interface DcmjsFile {
  meta: Record<string, { vr: string; Value?: any[]; InlineBinary?: string }>;
  dict: Record<string, { vr: string; Value?: any[] }>;
}

export async function readWithDcmjs(bytes: Uint8Array): Promise<DcmjsFile> {
  const dcmjs = (await import(dcmjsName)).default;
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const message = dcmjs.data.DicomMessage.readFile(buffer);
  return { meta: message.meta, dict: message.dict };
}

/** Value offset and length of each encapsulated item of a Part 10 buffer's top-level Pixel Data, BOT first. */
export function encapsulatedItems(bytes: Uint8Array): { offset: number; length: number }[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const marker = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff]);
  let at = buf.lastIndexOf(marker);
  if (at < 0) throw new Error('no encapsulated pixel data');
  at += marker.length;
  const items: { offset: number; length: number }[] = [];
  while (at + 8 <= buf.length) {
    const tag = buf.readUInt32LE(at);
    const length = buf.readUInt32LE(at + 4);
    if (tag === 0xe0ddfffe) return items;
    if (tag !== 0xe000fffe) throw new Error(`unexpected tag ${tag.toString(16)} at ${at}`);
    items.push({ offset: at + 8, length });
    at += 8 + length;
  }
  throw new Error('no sequence delimitation');
}
