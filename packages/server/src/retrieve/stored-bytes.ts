import { createInflateRaw } from 'node:zlib';
import { Readable } from 'node:stream';
import type { BlobStore, ByteRange } from '@atrium/store';
import type { FrameRef } from '@atrium/dicom';

/** Where an instance's recorded offsets point: the blob, and whether they count bytes of an inflated data set. */
export interface StoredLayout {
  blobKey: string;
  /** Offsets count bytes of the inflated data set (Deflated Explicit VR Little Endian). */
  deflated: boolean;
  /** Where the data set (the deflate stream, when deflated) starts in the blob. */
  datasetOffset: number;
}

async function collect(stream: Readable, limit = Number.POSITIVE_INFINITY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size >= limit) {
      stream.destroy();
      break;
    }
  }
  return Buffer.concat(chunks);
}

/**
 * Bytes `[offset, offset + length)` as the index recorded them, read as one byte range of the blob. For a deflated
 * data set the stream is inflated from its start and cut, since deflate has no random access.
 */
export async function openRecordedRange(store: BlobStore, layout: StoredLayout, offset: number, length: number): Promise<Readable> {
  if (!layout.deflated) {
    if (length <= 0) return Readable.from([]);
    const range: ByteRange = { start: offset, end: offset + length - 1 };
    return store.get(layout.blobKey, range);
  }
  const source = await store.get(layout.blobKey, { start: layout.datasetOffset });
  const inflate = source.pipe(createInflateRaw());
  async function* cut(): AsyncGenerator<Buffer> {
    let position = 0;
    const end = offset + length;
    try {
      for await (const chunk of inflate) {
        const c = chunk as Buffer;
        const from = Math.max(offset - position, 0);
        const to = Math.min(end - position, c.length);
        if (to > from) yield c.subarray(from, to);
        position += c.length;
        if (position >= end) break;
      }
    } finally {
      source.destroy();
      inflate.destroy();
    }
  }
  return Readable.from(cut());
}

/** Reads a recorded range whole (frames, LUTs: values a codec needs at once). */
export async function readRecordedRange(store: BlobStore, layout: StoredLayout, offset: number, length: number): Promise<Buffer> {
  if (length === 0) return Buffer.alloc(0);
  return collect(await openRecordedRange(store, layout, offset, length), layout.deflated ? length : Number.POSITIVE_INFINITY);
}

/**
 * One frame's bytes as stored (PS3.18 §10.4.1.1.4): the native frame, or its fragments joined without item
 * headers. Fragments are read as one span of the blob: they are adjacent, separated only by 8-byte item headers.
 */
export async function readFrame(store: BlobStore, layout: StoredLayout, frame: FrameRef): Promise<Buffer> {
  const fragments = frame.fragments;
  if (fragments.length === 0) return Buffer.alloc(0);
  if (fragments.length === 1) return readRecordedRange(store, layout, fragments[0]!.offset, fragments[0]!.length);
  const first = fragments[0]!.offset;
  const last = fragments[fragments.length - 1]!;
  const span = await readRecordedRange(store, layout, first, last.offset + last.length - first);
  return Buffer.concat(fragments.map((f) => span.subarray(f.offset - first, f.offset - first + f.length)));
}
