import { createHash } from 'node:crypto';

// PS3.10 §7.1: a 128-byte preamble, 'DICM', then the file meta elements, always Explicit VR Little Endian.
const META_START = 132;
// Explicit VR elements whose length is 4 bytes after two reserved ones (PS3.5 §7.1.2).
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
// Far more than any real file meta group; a longer one is not a Part 10 header this needs to understand.
const MAX_META_BYTES = 64 * 1024;

/** Where the data set starts in a Part 10 file whose first bytes are `head`; undefined when `head` is too short. */
function datasetOffsetIn(head: Buffer): number | undefined {
  let pos = META_START;
  for (;;) {
    if (pos + 8 > head.length) return undefined;
    if (head.readUInt16LE(pos) !== 0x0002) return pos;
    const vr = head.toString('latin1', pos + 4, pos + 6);
    if (LONG_VRS.has(vr)) {
      if (pos + 12 > head.length) return undefined;
      pos += 12 + head.readUInt32LE(pos + 8);
    } else {
      pos += 8 + head.readUInt16LE(pos + 6);
    }
  }
}

/**
 * SHA-256 of a Part 10 file's data set: the bytes after its file meta information. Two copies of one instance
 * that differ only in their meta information (the sending AE, the implementation that wrote the file) have the
 * same data set digest. Undefined when the file meta cannot be walked within the first 64 KiB.
 */
export async function datasetDigest(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, datasetOffset?: number): Promise<string | undefined> {
  const hash = createHash('sha256');
  let offset = datasetOffset;
  let head: Buffer[] = [];
  let headBytes = 0;
  let position = 0;
  for await (const chunk of source) {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (offset === undefined) {
      head.push(bytes);
      headBytes += bytes.length;
      const joined = Buffer.concat(head);
      offset = datasetOffsetIn(joined);
      if (offset === undefined) {
        if (headBytes > MAX_META_BYTES) return undefined;
        continue;
      }
      head = [];
      if (offset < joined.length) hash.update(joined.subarray(offset));
      position = joined.length;
      continue;
    }
    const start = position;
    position += bytes.length;
    if (position <= offset) continue;
    hash.update(start >= offset ? bytes : bytes.subarray(offset - start));
  }
  return offset === undefined ? undefined : hash.digest('hex');
}
