import { Readable } from 'node:stream';
import sharp from 'sharp';
import {
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
  JpegBaseline8Bit,
  isGroupLength,
  measureNativeTranscode,
  transcodeNativeDataset,
  type FrameRef,
  type PixelDataInfo,
} from '@atrium/dicom';
import type { BlobStore } from '@atrium/store';
import type { PixelModule } from './codec-tasks.js';
import { topLevelElements, type TopLevelElement } from './top-level-elements.js';

/** What decoding an encapsulated instance needs from the index: where its pixel data and frames are. */
export interface EncapsulatedLayout {
  blobKey: string;
  datasetOffset: number;
  size: number;
  pixelData: PixelDataInfo;
  frames: readonly FrameRef[];
}

/** The stored syntaxes `decodeJpegBaselineInstance` reads, and what it writes. */
export const JPEG_BASELINE_DECODE_SOURCES: ReadonlySet<string> = new Set([JpegBaseline8Bit]);
export const JPEG_BASELINE_DECODE_TARGETS: ReadonlySet<string> = new Set([ExplicitVrLittleEndian, ImplicitVrLittleEndian]);

/** Limits of the decoder: the stored header read whole, and frames decoded at once. */
export interface JpegBaselineDecodeOptions {
  /** Largest header (the data set before Pixel Data) read whole; default 16 MiB. */
  maxHeaderBytes?: number;
  /** Frames decoded at the same time, each holding its compressed and decoded bytes; default 2. */
  framesInFlight?: number;
  /** Compressed bytes of adjacent frames read at once (default 1 MiB; a larger frame is read alone). */
  maxReadBytes?: number;
}

/** A decoded instance: its size, known in advance, and its bytes as they are decoded. */
export interface DecodedInstance {
  size: number;
  body: () => AsyncGenerator<Uint8Array>;
}

const PHOTOMETRIC_INTERPRETATION = 0x00280004;
const PLANAR_CONFIGURATION = 0x00280006;
const COLOUR_PHOTOMETRICS = new Set(['YBR_FULL_422', 'YBR_FULL']);
const MONOCHROME_PHOTOMETRICS = new Set(['MONOCHROME1', 'MONOCHROME2']);

function explicitElement(tag: number, vr: string, value: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  header.write(vr, 4, 'latin1');
  header.writeUInt16LE(value.length, 6);
  return Buffer.concat([header, value]);
}

function numberOf(elements: readonly TopLevelElement[], tag: number): number | undefined {
  const element = elements.find((e) => e.tag === tag);
  const value = element?.value;
  if (!value) return undefined;
  if (element.vr === 'US') return value.length >= 2 ? value.readUInt16LE(0) : undefined;
  const text = value.toString('latin1').trim();
  return text === '' ? undefined : Number(text);
}

function textOf(elements: readonly TopLevelElement[], tag: number): string | undefined {
  return elements
    .find((e) => e.tag === tag)
    ?.value?.toString('latin1')
    .replace(/[\0 ]+$/, '')
    .trim();
}

/**
 * An instance stored in JPEG Baseline (PS3.5 §A.4.1, 8 bits, one or three samples) decoded into Explicit or
 * Implicit VR Little Endian as it is sent, frame by frame: the stored header is copied (converted to Implicit VR
 * when asked) with Photometric Interpretation RGB and Planar Configuration 0 for colour, the decoded frames follow
 * in a Pixel Data element of the length known in advance, then whatever the stored data set had after its pixel
 * data. Memory is the header and `framesInFlight` frames, whatever the number of frames. The frames are decoded
 * by libjpeg-turbo through sharp, in libuv's thread pool, never on the event loop; the output was checked pixel
 * for pixel against DCMTK's dcmdjpeg (transcoder.int.test.ts).
 *
 * Undefined when the instance is not one this decoder handles (another photometric interpretation, more than 8
 * bits, a layout the index does not confirm): the caller falls back to the codec workers, which decode whole.
 */
export async function decodeJpegBaselineInstance(
  store: BlobStore,
  layout: EncapsulatedLayout,
  target: string,
  form: 'part10' | 'dataset',
  part10Header: readonly Uint8Array[],
  options: JpegBaselineDecodeOptions = {},
): Promise<DecodedInstance | undefined> {
  if (!JPEG_BASELINE_DECODE_TARGETS.has(target) || !layout.pixelData.encapsulated || layout.frames.length === 0) return undefined;
  const maxHeaderBytes = options.maxHeaderBytes ?? 16 * 1024 * 1024;
  const framesInFlight = Math.max(1, options.framesInFlight ?? 2);
  const maxReadBytes = options.maxReadBytes ?? 1024 * 1024;
  // The Pixel Data element: its 12-byte header, then the Basic Offset Table item (8-byte header), whose value the
  // index records the offset of.
  const pixelStart = layout.pixelData.offset - 20;
  if (pixelStart < layout.datasetOffset || pixelStart - layout.datasetOffset > maxHeaderBytes) return undefined;
  const stored = await store.getBytes(layout.blobKey, { start: layout.datasetOffset, end: pixelStart + 11 }, { maxBytes: maxHeaderBytes + 12 });
  const headerLength = pixelStart - layout.datasetOffset;
  const pixelHeader = stored.subarray(headerLength);
  if (pixelHeader.length !== 12 || pixelHeader.readUInt32LE(0) !== 0x0010_7fe0 || pixelHeader.readUInt32LE(8) !== 0xffffffff) return undefined;
  let elements: TopLevelElement[];
  try {
    elements = topLevelElements(stored.subarray(0, headerLength));
  } catch {
    return undefined;
  }
  const shape = decodableFrame({
    rows: numberOf(elements, 0x00280010),
    columns: numberOf(elements, 0x00280011),
    samples: numberOf(elements, 0x00280002),
    bitsAllocated: numberOf(elements, 0x00280100),
    bitsStored: numberOf(elements, 0x00280101),
    photometric: textOf(elements, PHOTOMETRIC_INTERPRETATION),
  });
  if (!shape || (numberOf(elements, 0x00280008) ?? 1) !== layout.frames.length) return undefined;
  const { rows, columns, samples, colour } = shape;
  const frameBytes = rows * columns * samples;
  const pixelLength = frameBytes * layout.frames.length;
  const padded = pixelLength + (pixelLength & 1);
  if (padded > 0xfffffffe) return undefined;

  // The stored header with the attributes that decoding changes (PS3.5 §8.2.1: decompressed YBR_FULL(_422) is RGB,
  // and the decoder writes colour by pixel).
  const header: Buffer[] = [];
  let planarWritten = !colour;
  for (const element of elements) {
    // Group lengths are retired in data sets (PS3.5 §7.2) and would be wrong once a value changes length.
    if (isGroupLength(element.tag)) continue;
    if (colour && !planarWritten && element.tag > PLANAR_CONFIGURATION) {
      header.push(explicitElement(PLANAR_CONFIGURATION, 'US', Buffer.from([0, 0])));
      planarWritten = true;
    }
    if (colour && element.tag === PHOTOMETRIC_INTERPRETATION) header.push(explicitElement(element.tag, 'CS', Buffer.from('RGB ', 'latin1')));
    else if (colour && element.tag === PLANAR_CONFIGURATION) {
      header.push(explicitElement(element.tag, 'US', Buffer.from([0, 0])));
      planarWritten = true;
    } else header.push(stored.subarray(element.start, element.end));
  }
  if (!planarWritten) header.push(explicitElement(PLANAR_CONFIGURATION, 'US', Buffer.from([0, 0])));

  const implicit = target === ImplicitVrLittleEndian;
  const pixelElement = Buffer.alloc(implicit ? 8 : 12);
  pixelElement.writeUInt32LE(0x0010_7fe0, 0);
  if (implicit) pixelElement.writeUInt32LE(padded, 4);
  else {
    pixelElement.write('OB', 4, 'latin1');
    pixelElement.writeUInt32LE(padded, 8);
  }

  // After the last fragment comes the Sequence Delimitation Item, then any elements that follow Pixel Data.
  const fragments = layout.pixelData.fragments;
  const last = fragments[fragments.length - 1];
  if (!last) return undefined;
  const trailerStart = last.offset + last.length + 8;
  const trailerLength = Math.max(0, layout.size - trailerStart);
  const convert = { sourceTransferSyntaxUid: ExplicitVrLittleEndian, targetTransferSyntaxUid: target };
  const openTrailer = async (offset: number): Promise<AsyncIterable<Uint8Array>> =>
    trailerStart + offset >= layout.size ? Readable.from([]) : await store.get(layout.blobKey, { start: trailerStart + offset });
  const headerBytes = Buffer.concat(header);
  let headerSize = headerBytes.length;
  let trailerSize = trailerLength;
  if (implicit) {
    headerSize = (await measureNativeTranscode(async (offset) => [headerBytes.subarray(offset)], convert)) ?? -1;
    trailerSize = trailerLength === 0 ? 0 : ((await measureNativeTranscode(openTrailer, convert)) ?? -1);
    if (headerSize < 0 || trailerSize < 0) return undefined;
  }
  const prefixSize = form === 'part10' ? part10Header.reduce((n, p) => n + p.byteLength, 0) : 0;

  async function* body(): AsyncGenerator<Uint8Array> {
    if (form === 'part10') yield* part10Header;
    if (implicit) yield* transcodeNativeDataset([headerBytes], convert);
    else yield headerBytes;
    yield pixelElement;
    // Frames decoded in order, `framesInFlight` at a time: the next ones decode while this one is sent. Their
    // codestreams are read a span of adjacent frames at a time (one read instead of one per frame).
    const codestreams = new FrameReader(store, layout.blobKey, layout.frames, maxReadBytes);
    const decoding: Array<Promise<Buffer>> = [];
    let next = 0;
    const start = () => {
      const decoded = codestreams.read(next++).then((jpeg) => decodeFrame(jpeg, rows!, columns!, samples, frameBytes));
      decoded.catch(() => {});
      decoding.push(decoded);
    };
    while (next < layout.frames.length && decoding.length < framesInFlight) start();
    while (decoding.length > 0) {
      const frame = await decoding.shift()!;
      if (next < layout.frames.length) start();
      yield frame;
    }
    if (padded !== pixelLength) yield Buffer.alloc(1);
    if (trailerLength > 0) {
      const trailer = await openTrailer(0);
      if (implicit) yield* transcodeNativeDataset(trailer, convert);
      else yield* trailer;
    }
  }
  return { size: prefixSize + headerSize + pixelElement.length + padded + trailerSize, body };
}

/**
 * The codestreams of an instance's frames, asked for in order: adjacent frames are read as one span of the blob
 * of at most `maxReadBytes` (fragments are adjacent but for 8-byte item headers), and a span is dropped once a
 * later one is asked for, so at most two spans are held.
 */
class FrameReader {
  readonly #spans: Array<{ first: number; last: number; start: number; end: number }> = [];
  readonly #held = new Map<number, Promise<Buffer>>();
  readonly #spanOfFrame: number[] = [];

  constructor(
    private readonly store: BlobStore,
    private readonly blobKey: string,
    private readonly frames: readonly FrameRef[],
    maxReadBytes: number,
  ) {
    frames.forEach((frame, index) => {
      const fragments = frame.fragments;
      if (fragments.length === 0) throw new RangeError(`Cannot decode JPEG frame ${index + 1}: it has no fragments`);
      const start = fragments[0]!.offset;
      const end = fragments[fragments.length - 1]!.offset + fragments[fragments.length - 1]!.length;
      const current = this.#spans[this.#spans.length - 1];
      if (current && start >= current.end && end - current.start <= maxReadBytes) {
        current.last = index;
        current.end = end;
      } else this.#spans.push({ first: index, last: index, start, end });
      this.#spanOfFrame.push(this.#spans.length - 1);
    });
  }

  async read(index: number): Promise<Buffer> {
    const spanIndex = this.#spanOfFrame[index]!;
    for (const held of this.#held.keys()) if (held < spanIndex) this.#held.delete(held);
    let bytes = this.#held.get(spanIndex);
    if (!bytes) {
      const span = this.#spans[spanIndex]!;
      bytes = this.store.getBytes(this.blobKey, { start: span.start, end: span.end - 1 }, { maxBytes: span.end - span.start });
      bytes.catch(() => {});
      this.#held.set(spanIndex, bytes);
    }
    const span = this.#spans[spanIndex]!;
    const buffer = await bytes;
    const fragments = this.frames[index]!.fragments;
    const pieces = fragments.map((f) => buffer.subarray(f.offset - span.start, f.offset - span.start + f.length));
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
  }
}

/**
 * One JPEG Baseline frame decoded by libjpeg-turbo, as `decodeJpegBaselineInstance` decodes each frame (WADO-RS
 * frames and rendered images, so that a frame decodes to the same pixels whichever way it is asked for), with the
 * Photometric Interpretation of the result: RGB for colour (PS3.5 §8.2.1), by pixel. Undefined for what that
 * decoder leaves to the codec workers (another photometric interpretation, more than 8 bits).
 */
export function decodeJpegBaselineFrame(module: PixelModule, jpeg: Uint8Array): Promise<{ frame: Buffer; photometricInterpretation: string }> | undefined {
  const { dataset } = module;
  const number = (tag: string) => {
    const value = dataset[tag]?.Value?.[0];
    return typeof value === 'number' ? value : undefined;
  };
  const photometric = String(dataset['00280004']?.Value?.[0] ?? '').trim();
  const shape = decodableFrame({
    rows: number('00280010'),
    columns: number('00280011'),
    samples: number('00280002'),
    bitsAllocated: number('00280100'),
    bitsStored: number('00280101'),
    photometric,
  });
  if (!shape) return undefined;
  const { rows, columns, samples, colour } = shape;
  const bytes = Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength);
  return decodeFrame(bytes, rows, columns, samples, rows * columns * samples).then((frame) => ({
    frame,
    photometricInterpretation: colour ? 'RGB' : photometric,
  }));
}

/**
 * The frames this decoder takes, from their Image Pixel module: 8 bits allocated and stored, one sample of
 * MONOCHROME1/2 or three of YBR_FULL(_422). RGB-labelled JPEG is left to the codec workers: whether its codestream
 * is colour-transformed is not in the data set. Undefined for what the workers decode.
 */
function decodableFrame(pixel: {
  rows: number | undefined;
  columns: number | undefined;
  samples: number | undefined;
  bitsAllocated: number | undefined;
  bitsStored: number | undefined;
  photometric: string | undefined;
}): { rows: number; columns: number; samples: number; colour: boolean } | undefined {
  const { rows, columns, bitsAllocated, bitsStored } = pixel;
  const samples = pixel.samples ?? 1;
  const photometric = pixel.photometric ?? '';
  const colour = samples === 3 && COLOUR_PHOTOMETRICS.has(photometric);
  if (!rows || !columns || bitsAllocated !== 8 || bitsStored !== 8) return undefined;
  if (!(colour || (samples === 1 && MONOCHROME_PHOTOMETRICS.has(photometric)))) return undefined;
  return { rows, columns, samples, colour };
}

async function decodeFrame(jpeg: Buffer, rows: number, columns: number, samples: number, frameBytes: number): Promise<Buffer> {
  // failOn 'error': a corrupt codestream fails the retrieve rather than sending grey; warnings (a missing EOI)
  // decode as DCMTK decodes them.
  const image = sharp(jpeg, { failOn: 'error' });
  // sharp writes sRGB unless told: a greyscale codestream stays one sample.
  const { data, info } = await (samples === 1 ? image.toColourspace('b-w') : image).raw().toBuffer({ resolveWithObject: true });
  if (info.width !== columns || info.height !== rows || info.channels !== samples || data.length !== frameBytes) {
    throw new RangeError(
      `Cannot decode JPEG frame: it decodes to ${info.width}x${info.height} with ${info.channels} samples, the data set says ${columns}x${rows} with ${samples}`,
    );
  }
  return data;
}
