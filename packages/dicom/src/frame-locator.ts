import { getNumber, getString } from './attribute-value.js';
import type { DicomJsonDataset } from './dicom-json.js';
import type { Fragment, FrameRef, PixelDataInfo } from './parsed-instance.js';
import type { Tag } from './tag.js';
import { DoubleFloatPixelDataTag, FloatPixelDataTag } from './tag.js';

/** What the frame locator needs from a read object. */
export interface FrameLocatorInput {
  readonly dataset: DicomJsonDataset;
  readonly pixelDataTag: Tag;
  readonly pixelData: PixelDataInfo;
  /** Per fragment, whether it starts with a codestream marker (JPEG SOI, JPEG 2000 SOC, JPEG XL signature). */
  readonly fragmentStartsFrame: readonly boolean[];
  /** Video transfer syntaxes: the whole stream is one frame entry. */
  readonly video: boolean;
  readonly extendedOffsetTable?: Uint8Array | undefined;
  readonly extendedOffsetTableLengths?: Uint8Array | undefined;
}

/**
 * Locates every frame of the pixel data. Native (PS3.5 §8.1.1): frames follow each other, each Rows x Columns x
 * Samples per Pixel x Bits Allocated bits long (1-bit frames are not byte aligned: a frame is given by the bytes
 * that hold its bits). Encapsulated (PS3.5 §A.4), in order of trust: one frame takes every fragment; as many
 * fragments as frames map one to one; else the Basic Offset Table; else the Extended Offset Table; else the
 * fragments whose first bytes open a codestream start frames.
 */
export function locateFrames(input: FrameLocatorInput): FrameRef[] {
  const { dataset, pixelData } = input;
  const declared = getNumber(dataset, 0x00280008);
  const numberOfFrames = declared !== undefined && Number.isInteger(declared) && declared > 0 ? declared : 1;
  return pixelData.encapsulated ? encapsulatedFrames(input, numberOfFrames) : nativeFrames(input, numberOfFrames);
}

function nativeFrames(input: FrameLocatorInput, numberOfFrames: number): FrameRef[] {
  const { dataset, pixelData } = input;
  const rows = getNumber(dataset, 0x00280010);
  const columns = getNumber(dataset, 0x00280011);
  const samples = getNumber(dataset, 0x00280002) ?? 1;
  const defaultBits = input.pixelDataTag === FloatPixelDataTag ? 32 : input.pixelDataTag === DoubleFloatPixelDataTag ? 64 : 8;
  const bits = getNumber(dataset, 0x00280100) ?? defaultBits;
  if (!rows || !columns || !samples || !bits) return [{ fragments: [{ offset: pixelData.offset, length: pixelData.length }] }];
  // YBR_FULL_422 stores two luminance samples per chroma pair: two samples per pixel on average (PS3.3 §C.7.6.3.1.2).
  const perPixel = getString(dataset, 0x00280004) === 'YBR_FULL_422' ? 2 : samples;
  const frameBits = rows * columns * perPixel * bits;
  const totalBits = pixelData.length * 8;
  const frames: FrameRef[] = [];
  for (let k = 0; k < numberOfFrames && (k + 1) * frameBits <= totalBits; k++) {
    const start = Math.floor((k * frameBits) / 8);
    const end = Math.ceil(((k + 1) * frameBits) / 8);
    frames.push({ fragments: [{ offset: pixelData.offset + start, length: end - start }] });
  }
  return frames;
}

function encapsulatedFrames(input: FrameLocatorInput, numberOfFrames: number): FrameRef[] {
  const fragments = input.pixelData.fragments;
  if (fragments.length === 0) return [];
  if (input.video || numberOfFrames === 1) return [{ fragments }];
  if (fragments.length === numberOfFrames) return fragments.map((f) => ({ fragments: [f] }));
  // Offset tables count from the first byte of the first fragment's item tag, 8 bytes before its value.
  const firstItem = fragments[0]!.offset - 8;
  const itemStarts = fragments.map((f) => f.offset - 8 - firstItem);
  const bot = input.pixelData.basicOffsetTable;
  if (bot.length === numberOfFrames) {
    const groups = groupByOffsets(fragments, itemStarts, bot);
    if (groups) return groups;
  }
  const eot = input.extendedOffsetTable;
  if (eot && eot.length === numberOfFrames * 8) {
    const view = new DataView(eot.buffer, eot.byteOffset, eot.byteLength);
    const offsets: number[] = [];
    for (let k = 0; k < numberOfFrames; k++) offsets.push(Number(view.getBigUint64(k * 8, true)));
    const groups = groupByOffsets(fragments, itemStarts, offsets);
    if (groups) return groups;
  }
  const starts: number[] = [0];
  for (let j = 1; j < fragments.length; j++) if (input.fragmentStartsFrame[j]) starts.push(j);
  return starts.map((s, k) => ({ fragments: fragments.slice(s, starts[k + 1] ?? fragments.length) }));
}

/** Groups fragments by frame start offsets; undefined when an offset is not the start of a fragment. */
function groupByOffsets(fragments: readonly Fragment[], itemStarts: readonly number[], offsets: readonly number[]): FrameRef[] | undefined {
  const startIndex: number[] = [];
  let j = 0;
  for (const offset of offsets) {
    while (j < itemStarts.length && itemStarts[j]! < offset) j++;
    if (itemStarts[j] !== offset) return undefined;
    if (startIndex.length > 0 && j <= startIndex[startIndex.length - 1]!) return undefined;
    startIndex.push(j);
  }
  if (startIndex[0] !== 0) return undefined;
  return startIndex.map((s, k) => ({ fragments: fragments.slice(s, startIndex[k + 1] ?? fragments.length) }));
}
