import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDeflateRaw } from 'node:zlib';
import type { DataDictionary } from './dictionary.js';
import { defaultDictionary } from './dictionary.js';
import { DicomLimitError, DicomParseError, UnsupportedTransferSyntaxError } from './errors.js';
import { asParseError, RawInflater } from './raw-inflater.js';
import type { Tag } from './tag.js';
import { ItemDelimitationTag, ItemTag, SequenceDelimitationTag, UndefinedLength, tagToHex } from './tag.js';
import {
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from './transfer-syntax.js';
import type { Vr } from './vr.js';
import { VR_INFO, isVr } from './vr.js';
import type { ElementEncoding } from './writer.js';
import { encodeElementHeader } from './writer.js';

/**
 * The native (uncompressed) transfer syntaxes: Implicit VR Little Endian, Explicit VR Little Endian, Deflated
 * Explicit VR Little Endian and Explicit VR Big Endian (PS3.5 §10, §A.1-A.3, §A.5). Between any two of them only
 * the element encoding changes, so a data set converts element by element without decoding pixel data.
 */
export const NATIVE_TRANSFER_SYNTAX_UIDS: readonly string[] = [
  ImplicitVrLittleEndian,
  ExplicitVrLittleEndian,
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
];

export function isNativeTransferSyntax(uid: string): boolean {
  return NATIVE_TRANSFER_SYNTAX_UIDS.includes(uid);
}

export interface NativeTranscodeOptions {
  sourceTransferSyntaxUid: string;
  targetTransferSyntaxUid: string;
  /** VRs of Implicit VR elements (PS3.5 §7.1.3); default: the standard dictionary. */
  dictionary?: DataDictionary;
  /** Deepest nesting of sequences accepted; beyond it `DicomLimitError`. Default 64. */
  maxSequenceDepth?: number;
}

/**
 * Converts a data set (the bytes after the file meta information, or a bare DIMSE data set) between the native
 * transfer syntaxes as a synchronous push parser: feed chunks to `write`, collect the converted bytes it returns,
 * then call `end`. Values are never held: every value, pixel data included, is copied or byte-swapped as it
 * passes, so memory is a 64 KiB output buffer, a 32-byte header carry and one small frame per open sequence or
 * item, whatever the size of the object.
 *
 * What changes (PS3.5 §7.1, §7.5, §6.2.2):
 * - Implicit VR elements get their VR from the dictionary, resolved as PS3.5 Annex A fixes it (Pixel Data and
 *   overlay data OW, "US or SS" by Pixel Representation); unknown and private elements become UN.
 * - A value longer than 0xFFFF whose VR has a 16-bit length field in Explicit VR is written with a long-length
 *   VR the element allows (OW for "US or OW"), else as UN, whose value is little endian in every syntax.
 * - Little/big endian conversions swap each number of the VRs of binary numbers (US, SS, UL, SL, FL, FD, AT as two
 *   16-bit numbers, OW, OL, OF, OD, OV, SV, UV); OB, UN and strings are copied as they are.
 * - Sequences and items are written with undefined length and delimitation items, so no length needs to be
 *   known before the content is written. The content of a UN of undefined length stays Implicit VR Little Endian.
 * - Group length elements (gggg,0000) are retired in data sets (PS3.5 §7.2) and would be wrong after the change
 *   of encoding: they are dropped.
 * String values are never touched (no decimal string is rewritten).
 */
export class NativeDatasetTranscoder {
  private readonly dictionary: DataDictionary;
  private readonly maxSequenceDepth: number;
  private readonly inflater: RawInflater | undefined;
  /** Pieces of input are emitted by reference only when the caller's chunks are not reused (not inflated ones). */
  private readonly zeroCopy: boolean;

  private readonly stack: Frame[] = [];
  private sequenceDepth = 0;
  private state = State.Header;
  /** Offset of the next byte to parse in the (inflated) source data set. */
  private pos = 0;
  private readonly carry = new Uint8Array(CARRY_CAPACITY);
  private carryLength = 0;
  private failure: unknown;
  private ended = false;

  /** The value being passed through: bytes left, its byte-swap unit (1: none), a partial number across chunks. */
  private remaining = 0;
  private swapUnit = 1;
  private readonly partial = new Uint8Array(8);
  private partialLength = 0;
  /** Whether the value is emitted (group lengths are consumed silently) and whether it is Pixel Representation. */
  private emitValue = true;
  private watched = false;
  private watchedValue = 0;
  private watchedBytes = 0;
  private watchedLittleEndian = true;

  private out: Uint8Array = new Uint8Array(OUTPUT_CHUNK);
  private outLength = 0;
  private pieces: Uint8Array[] = [];
  /** Bytes the target data set has so far, counting those handed out and those still buffered. */
  private produced = 0;

  constructor(options: NativeTranscodeOptions) {
    const source = nativeEncoding(options.sourceTransferSyntaxUid);
    const target = nativeEncoding(options.targetTransferSyntaxUid);
    this.dictionary = options.dictionary ?? defaultDictionary();
    this.maxSequenceDepth = options.maxSequenceDepth ?? 64;
    this.stack.push(datasetFrame(source, { explicitVr: target.explicitVr, littleEndian: target.littleEndian }, -1, undefined));
    if (source.deflated) {
      this.zeroCopy = false;
      this.inflater = new RawInflater((bytes) => this.feed(bytes));
    } else {
      this.zeroCopy = true;
    }
  }

  /** Bytes of the converted data set produced so far (before any deflate of the target). */
  get byteLength(): number {
    return this.produced;
  }

  /**
   * Converts one chunk and returns the converted bytes that are ready (possibly none: output is gathered into
   * 64 KiB pieces). Throws `DicomParseError` or `DicomLimitError`, after which it refuses further input. The
   * returned pieces may be views of `chunk`; the chunk is not retained otherwise.
   */
  write(chunk: Uint8Array): Uint8Array[] {
    if (this.failure !== undefined) throw this.failure;
    if (this.ended) throw new TypeError('Cannot write to native transcoder: end() was already called');
    try {
      if (this.inflater) this.inflater.write(chunk);
      else this.feed(chunk);
    } catch (err) {
      this.failure = asParseError(err, this.pos);
      throw this.failure;
    }
    return this.take();
  }

  /** Checks that the data set ended on an element boundary with every sequence closed; returns the last bytes. */
  end(): Uint8Array[] {
    if (this.failure !== undefined) throw this.failure;
    this.ended = true;
    try {
      this.inflater?.end();
      if (this.state === State.Header && this.carryLength === 0) this.closeFinishedContainers();
      if (this.carryLength > 0 || this.state !== State.Header || this.stack.length > 1) {
        const what =
          this.carryLength > 0 ? 'inside an element header' : this.state !== State.Header ? 'inside an element value' : 'inside an unfinished sequence or item';
        throw new DicomParseError(`Cannot convert data set: the stream ends ${what}`, { offset: this.pos }, 'ATRIUM_ERR_DICOM_TRUNCATED');
      }
    } catch (err) {
      this.failure = asParseError(err, this.pos);
      throw this.failure;
    }
    this.flush();
    return this.take();
  }

  /**
   * Bytes of a value being passed through unchanged in length that the next input starts in, or 0. With
   * `skipValue` it lets a caller that can seek in the source measure the converted size without reading bulk
   * values (see `measureNativeTranscode`).
   */
  get pendingValueBytes(): number {
    return this.state === State.Value && this.emitValue && !this.inflater ? this.remaining : 0;
  }

  /** Counts the rest of the current value as produced without reading it; the caller seeks past it. */
  skipValue(): number {
    const n = this.pendingValueBytes;
    if (n === 0) return 0;
    // A number split across the chunk boundary is complete in length terms: its bytes count once either way.
    this.produced += n + this.partialLength;
    this.partialLength = 0;
    this.pos += n;
    this.remaining = 0;
    this.watched = false;
    this.state = State.Header;
    return n;
  }

  // ---- input plumbing (as Part10Reader: a header split across chunks is carried over, nothing else) --------

  private feed(data: Uint8Array): void {
    let offset = 0;
    if (this.carryLength > 0) {
      const take = Math.min(data.length, CARRY_CAPACITY - this.carryLength);
      this.carry.set(data.subarray(0, take), this.carryLength);
      const total = this.carryLength + take;
      // Carried bytes are copies: never emit them by reference.
      const used = this.process(this.carry.subarray(0, total), 0, false);
      if (used < this.carryLength) {
        this.carry.copyWithin(0, used, total);
        this.carryLength = total - used;
        return;
      }
      offset = used - this.carryLength;
      this.carryLength = 0;
    }
    const used = this.process(data, offset, this.zeroCopy);
    const rest = data.length - used;
    if (rest > 0) {
      this.carry.set(data.subarray(used), 0);
      this.carryLength = rest;
    }
  }

  /** Returns the index of the first byte not consumed (the start of a header that needs more bytes). */
  private process(buf: Uint8Array, start: number, byReference: boolean): number {
    let i = start;
    const len = buf.length;
    while (i < len || this.state === State.Header) {
      if (this.state === State.Header) {
        this.closeFinishedContainers();
        if (i >= len) return i;
        const used = this.readHeader(buf, i, len);
        if (used < 0) return i;
        i += used;
      } else {
        const n = Math.min(this.remaining, len - i);
        this.passValue(buf.subarray(i, i + n), byReference);
        i += n;
        this.pos += n;
        this.remaining -= n;
        if (this.remaining === 0) this.endValue();
      }
    }
    return i;
  }

  // ---- headers ----------------------------------------------------------------------------------------------

  /** Pops items and sequences of defined length whose last byte has been read, writing their delimiters. */
  private closeFinishedContainers(): void {
    for (;;) {
      const top = this.stack[this.stack.length - 1]!;
      if (top.end < 0 || this.pos < top.end) return;
      if (this.pos > top.end) {
        throw new DicomParseError(
          `Cannot convert ${top.kind === FrameKind.Sequence ? 'sequence' : 'item'}: its content runs past its defined length`,
          { offset: this.pos, tag: top.kind === FrameKind.Sequence ? top.tag : undefined },
        );
      }
      this.closeFrame();
    }
  }

  /** Closes the innermost sequence or item: both are written with undefined length, so with their delimiter. */
  private closeFrame(): void {
    const frame = this.stack.pop()!;
    const tag = frame.kind === FrameKind.Sequence ? SequenceDelimitationTag : ItemDelimitationTag;
    if (frame.kind === FrameKind.Sequence) this.sequenceDepth--;
    this.emit(encodeElementHeader(tag, undefined, 0, frame.target));
  }

  private readHeader(buf: Uint8Array, i: number, len: number): number {
    if (len - i < 8) return -1;
    const top = this.stack[this.stack.length - 1]!;
    const le = top.source.littleEndian;
    const group = readUint16(buf, i, le);
    const tag = ((group << 16) | readUint16(buf, i + 2, le)) >>> 0;
    const at = this.pos;
    if (top.kind === FrameKind.Sequence) {
      const length = readUint32(buf, i + 4, le);
      this.pos += 8;
      this.sequenceContent(top, tag, length, at);
      return 8;
    }
    if (group === 0xfffe) {
      this.pos += 8;
      this.delimiterInDataset(tag, readUint32(buf, i + 4, le), at);
      return 8;
    }

    let vr: Vr;
    let length: number;
    let headerLength: number;
    if (!top.source.explicitVr) {
      length = readUint32(buf, i + 4, le);
      vr = this.implicitVr(tag, top, length);
      headerLength = 8;
    } else {
      const c0 = buf[i + 4]!;
      const c1 = buf[i + 5]!;
      const text = String.fromCharCode(c0, c1);
      const known = isVr(text);
      if (known) vr = text;
      else if (c0 >= 0x41 && c0 <= 0x5a && c1 >= 0x41 && c1 <= 0x5a) vr = 'UN';
      else throw new DicomParseError(`Cannot convert element: VR bytes '${hex2(c0)}${hex2(c1)}' are not a VR`, { offset: at, tag });
      // VRs not in PS3.5 Table 7.1-1 use the long form: PS3.5 §7.1.2 defines new VRs that way.
      if (VR_INFO[vr].longLength || !known) {
        if (len - i < 12) return -1;
        length = readUint32(buf, i + 8, le);
        headerLength = 12;
      } else {
        length = readUint16(buf, i + 6, le);
        headerLength = 8;
      }
    }
    this.pos += headerLength;
    this.startElement(top, tag, vr, length, at);
    return headerLength;
  }

  /** Items and delimiters inside a sequence (PS3.5 §7.5.1). */
  private sequenceContent(seq: SequenceFrame, tag: Tag, length: number, at: number): void {
    if (tag === ItemTag) {
      const end = length === UndefinedLength ? -1 : this.pos + length;
      this.emit(encodeElementHeader(ItemTag, undefined, UndefinedLength, seq.target));
      this.stack.push(datasetFrame(seq.source, seq.target, end, seq.parent));
      return;
    }
    if (tag === SequenceDelimitationTag && seq.end < 0) {
      this.closeFrame();
      return;
    }
    throw new DicomParseError(`Cannot convert sequence ${tagToHex(seq.tag)}: found tag ${tagToHex(tag)} where an item was expected`, {
      offset: at,
      tag,
    });
  }

  /** Item and sequence delimiters met where a data element is expected (PS3.5 §7.5). */
  private delimiterInDataset(tag: Tag, length: number, at: number): void {
    const root = this.stack.length === 1;
    if (tag === ItemDelimitationTag && !root) {
      this.closeFrame();
      return;
    }
    if (tag === SequenceDelimitationTag && !root) {
      // An item of undefined length left without its delimiter: the sequence delimiter closes both, as the reader
      // accepts it; the output gets both delimiters.
      this.closeFrame();
      const seq = this.stack[this.stack.length - 1]!;
      if (seq.kind === FrameKind.Sequence && seq.end < 0) this.closeFrame();
      return;
    }
    if (root && length === 0) return; // Stray delimiters of old writers carry nothing: dropped.
    throw new DicomParseError(`Cannot convert data set: item tag ${tagToHex(tag)} found outside a sequence`, { offset: at, tag });
  }

  /**
   * The VR of an Implicit VR element from the dictionary (PS3.5 §7.1.3), resolved as Annex A fixes the choices,
   * then widened when the value does not fit the 16-bit length of Explicit VR (PS3.5 §6.2.2, §7.1.2).
   */
  private implicitVr(tag: Tag, frame: DatasetFrame, length: number): Vr {
    const entry = this.dictionary.lookup(tag);
    let vr: Vr;
    if (!entry || entry.vrs.length === 0) vr = this.dictionary.vrOf(tag);
    else {
      const vrs = entry.vrs;
      if (vrs.length === 1) vr = vrs[0]!;
      // PS3.5 §A.1: in Implicit VR, the elements that may be OB or OW (pixel, overlay, waveform data) and LUT Data
      // ("US or OW") are OW.
      else if (vrs.includes('OW')) vr = 'OW';
      // The first and third values of a LUT descriptor are unsigned whatever the Pixel Representation (PS3.3
      // C.11.1.1.1), so descriptors are US, as DCMTK writes them; other "US or SS" follow Pixel Representation.
      else if (vrs.includes('US') && vrs.includes('SS')) vr = entry.keyword.endsWith('LUTDescriptor') || frame.pixelRepresentation !== 1 ? 'US' : 'SS';
      else vr = vrs[0]!;
      if (length !== UndefinedLength && length > 0xffff && !VR_INFO[vr].longLength) {
        vr = vrs.find((v) => VR_INFO[v].longLength && VR_INFO[v].numberSize === VR_INFO[vr].numberSize) ?? 'UN';
      }
    }
    if (length !== UndefinedLength && length > 0xffff && !VR_INFO[vr].longLength) vr = 'UN';
    return vr;
  }

  private startElement(frame: DatasetFrame, tag: Tag, vr: Vr, length: number, at: number): void {
    if (length === UndefinedLength) {
      if (vr === 'SQ') {
        this.openSequence(frame, tag, 'SQ', -1, frame.source, frame.target);
        return;
      }
      if (vr === 'UN') {
        // PS3.5 §6.2.2: a UN of undefined length holds a sequence in Implicit VR Little Endian, in any syntax. A
        // known sequence gets its VR back and its content in the target encoding; anything else stays UN with
        // its content as it was.
        const known = this.dictionary.lookup(tag)?.vrs.includes('SQ') ?? false;
        if (known) this.openSequence(frame, tag, 'SQ', -1, IMPLICIT_LE, frame.target);
        else this.openSequence(frame, tag, 'UN', -1, IMPLICIT_LE, IMPLICIT_LE, frame.target);
        return;
      }
      throw new DicomParseError(
        `Cannot convert element ${tagToHex(tag)}: a ${vr} value of undefined length (encapsulated) has no place in a native transfer syntax`,
        { offset: at, tag },
      );
    }
    if (vr === 'SQ') {
      this.openSequence(frame, tag, 'SQ', this.pos + length, frame.source, frame.target);
      return;
    }
    // Group lengths (gggg,0000) are retired outside command and file meta groups (PS3.5 §7.2) and would be wrong
    // after re-encoding: consumed, not written.
    const groupLength = (tag & 0xffff) === 0;
    this.emitValue = !groupLength;
    if (!groupLength) this.emit(encodeElementHeader(tag, vr, length, frame.target));
    const swap = frame.source.littleEndian !== frame.target.littleEndian && vr !== 'UN';
    this.swapUnit = swap ? (vr === 'AT' ? 2 : Math.max(1, VR_INFO[vr].numberSize)) : 1;
    this.watched = tag === PIXEL_REPRESENTATION;
    this.watchedValue = 0;
    this.watchedBytes = 0;
    this.watchedLittleEndian = frame.source.littleEndian;
    this.partialLength = 0;
    this.remaining = length;
    if (length > 0) this.state = State.Value;
    else this.endValue();
  }

  private openSequence(
    frame: DatasetFrame,
    tag: Tag,
    vr: 'SQ' | 'UN',
    end: number,
    source: Encoding,
    target: ElementEncoding,
    headerEncoding: ElementEncoding = target,
  ): void {
    if (this.sequenceDepth >= this.maxSequenceDepth) {
      throw new DicomLimitError(
        `Cannot convert sequence ${tagToHex(tag)} at offset ${this.pos}: sequences nest deeper than ${this.maxSequenceDepth}`,
      );
    }
    this.sequenceDepth++;
    this.emit(encodeElementHeader(tag, vr, UndefinedLength, headerEncoding));
    this.stack.push({ kind: FrameKind.Sequence, tag, end, source, target, parent: frame });
  }

  // ---- values -------------------------------------------------------------------------------------------------

  private passValue(bytes: Uint8Array, byReference: boolean): void {
    if (this.watched) this.watch(bytes);
    if (!this.emitValue || bytes.length === 0) return;
    const unit = this.swapUnit;
    if (unit === 1) {
      this.emit(bytes, byReference);
      return;
    }
    let i = 0;
    if (this.partialLength > 0) {
      while (this.partialLength < unit && i < bytes.length) this.partial[this.partialLength++] = bytes[i++]!;
      if (this.partialLength < unit) return;
      this.emitSwapped(this.partial, 0, unit, unit);
      this.partialLength = 0;
    }
    const whole = bytes.length - ((bytes.length - i) % unit);
    if (whole > i) this.emitSwapped(bytes, i, whole, unit);
    for (let k = whole; k < bytes.length; k++) this.partial[this.partialLength++] = bytes[k]!;
  }

  private endValue(): void {
    // A value whose length is not a multiple of its numbers' size is malformed; its odd tail goes out unswapped.
    if (this.partialLength > 0) this.emit(this.partial.slice(0, this.partialLength));
    this.partialLength = 0;
    if (this.watched) this.top().pixelRepresentation = this.watchedValue;
    this.watched = false;
    this.emitValue = true;
    this.state = State.Header;
  }

  /** Keeps Pixel Representation (0028,0103), which decides "US or SS" of later Implicit VR elements. */
  private watch(bytes: Uint8Array): void {
    for (let k = 0; k < bytes.length && this.watchedBytes < 2; k++, this.watchedBytes++) {
      const shift = this.watchedLittleEndian ? 8 * this.watchedBytes : 8 * (1 - this.watchedBytes);
      this.watchedValue |= bytes[k]! << shift;
    }
  }

  private top(): DatasetFrame {
    return this.stack[this.stack.length - 1] as DatasetFrame;
  }

  // ---- output -------------------------------------------------------------------------------------------------

  private emit(bytes: Uint8Array, byReference = false): void {
    this.produced += bytes.length;
    if (byReference && bytes.length >= BY_REFERENCE_MIN) {
      this.flush();
      this.pieces.push(bytes);
      return;
    }
    let i = 0;
    while (i < bytes.length) {
      const n = Math.min(bytes.length - i, this.out.length - this.outLength);
      this.out.set(bytes.subarray(i, i + n), this.outLength);
      this.outLength += n;
      i += n;
      if (this.outLength === this.out.length) this.flush();
    }
  }

  /** Writes `src[from..to)` with the bytes of each `unit`-byte number reversed. */
  private emitSwapped(src: Uint8Array, from: number, to: number, unit: number): void {
    this.produced += to - from;
    let i = from;
    while (i < to) {
      const room = this.out.length - this.outLength;
      const n = Math.min(to - i, room - (room % unit));
      const out = this.out;
      let o = this.outLength;
      const stop = i + n;
      if (unit === 2) {
        for (; i < stop; i += 2, o += 2) {
          out[o] = src[i + 1]!;
          out[o + 1] = src[i]!;
        }
      } else {
        for (; i < stop; i += unit, o += unit) for (let b = 0; b < unit; b++) out[o + b] = src[i + unit - 1 - b]!;
      }
      this.outLength = o;
      if (this.out.length - this.outLength < unit) this.flush();
    }
  }

  private flush(): void {
    if (this.outLength === 0) return;
    this.pieces.push(this.out.subarray(0, this.outLength));
    this.out = new Uint8Array(OUTPUT_CHUNK);
    this.outLength = 0;
  }

  private take(): Uint8Array[] {
    const pieces = this.pieces;
    this.pieces = [];
    return pieces;
  }
}

/**
 * Converts a data set between native transfer syntaxes as it is read from `source` (PS3.5 §A.1-A.3, §A.5; see
 * `NativeDatasetTranscoder`). Pull-based: nothing is read from `source` until the converted bytes before it have
 * been taken, so memory stays at a few chunks whatever the object's size. Deflated targets are compressed with
 * zlib as they stream.
 */
export async function* transcodeNativeDataset(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: NativeTranscodeOptions,
): AsyncGenerator<Uint8Array> {
  if (nativeEncoding(options.targetTransferSyntaxUid).deflated) {
    const deflate = createDeflateRaw();
    const plain = Readable.from(convert(source, options), { objectMode: false });
    const done = pipeline(plain, deflate);
    // The pipeline's own rejection is the one to report; reading `deflate` sees the same error.
    done.catch(() => {});
    try {
      for await (const chunk of deflate) yield chunk as Uint8Array;
      await done;
    } finally {
      deflate.destroy();
    }
    return;
  }
  yield* convert(source, options);
}

async function* convert(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: NativeTranscodeOptions): AsyncGenerator<Uint8Array> {
  const transcoder = new NativeDatasetTranscoder(options);
  // An inflated chunk can be a thousand times its input: deflated input goes in small slices so that what one
  // step produces stays small.
  const slice = nativeEncoding(options.sourceTransferSyntaxUid).deflated ? INFLATE_SLICE : Infinity;
  for await (const chunk of source) {
    for (let i = 0; i < chunk.length; i += slice) {
      const part = slice === Infinity ? chunk : chunk.subarray(i, i + slice);
      for (const piece of transcoder.write(part)) yield piece;
    }
  }
  for (const piece of transcoder.end()) yield piece;
}

/**
 * Byte length of the converted data set, computed before converting it: headers are read, long values skipped
 * by reopening `open` at the offset after them, so a 1 GB multi-frame costs a few reads. Undefined when the
 * size is not known without converting everything (a deflated source or target).
 */
export async function measureNativeTranscode(
  open: (offset: number) => Promise<ChunkSource> | ChunkSource,
  options: NativeTranscodeOptions,
): Promise<number | undefined> {
  if (nativeEncoding(options.sourceTransferSyntaxUid).deflated || nativeEncoding(options.targetTransferSyntaxUid).deflated) return undefined;
  const transcoder = new NativeDatasetTranscoder(options);
  let offset = 0;
  let reopen = true;
  while (reopen) {
    reopen = false;
    for await (const chunk of await open(offset)) {
      transcoder.write(chunk);
      offset += chunk.length;
      if (transcoder.pendingValueBytes >= SKIP_MIN) {
        offset += transcoder.skipValue();
        reopen = true;
        break;
      }
    }
  }
  transcoder.end();
  return transcoder.byteLength;
}

type ChunkSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

// ---- internals ------------------------------------------------------------------------------------------------

/** Output is gathered into pieces of this size; a piece of input at least `BY_REFERENCE_MIN` long goes as it is. */
const OUTPUT_CHUNK = 64 * 1024;
const BY_REFERENCE_MIN = 16 * 1024;
const INFLATE_SLICE = 4 * 1024;
/** Values at least this long are skipped, not read, when measuring. */
const SKIP_MIN = 256 * 1024;
/** Longest header is 12 bytes (explicit VR long form); the carry holds a split header plus the bytes to finish it. */
const CARRY_CAPACITY = 32;
const PIXEL_REPRESENTATION: Tag = 0x00280103;

const enum State {
  Header,
  Value,
}

const enum FrameKind {
  Dataset,
  Sequence,
}

interface Encoding {
  readonly explicitVr: boolean;
  readonly littleEndian: boolean;
}

const IMPLICIT_LE: ElementEncoding = { explicitVr: false, littleEndian: true };

interface DatasetFrame {
  readonly kind: FrameKind.Dataset;
  readonly source: Encoding;
  readonly target: ElementEncoding;
  /** Source offset just past the item, or -1 for undefined length (and for the data set itself). */
  readonly end: number;
  pixelRepresentation: number | undefined;
}

interface SequenceFrame {
  readonly kind: FrameKind.Sequence;
  readonly tag: Tag;
  readonly end: number;
  readonly source: Encoding;
  readonly target: ElementEncoding;
  readonly parent: DatasetFrame;
}

type Frame = DatasetFrame | SequenceFrame;

function datasetFrame(source: Encoding, target: ElementEncoding, end: number, parent: DatasetFrame | undefined): DatasetFrame {
  // Items inherit Pixel Representation from the data set that holds them, as the Part 10 reader does.
  return {
    kind: FrameKind.Dataset,
    source: { explicitVr: source.explicitVr, littleEndian: source.littleEndian },
    target,
    end,
    pixelRepresentation: parent?.pixelRepresentation,
  };
}

function nativeEncoding(uid: string): Encoding & { deflated: boolean } {
  switch (uid) {
    case ImplicitVrLittleEndian:
      return { explicitVr: false, littleEndian: true, deflated: false };
    case ExplicitVrLittleEndian:
      return { explicitVr: true, littleEndian: true, deflated: false };
    case DeflatedExplicitVrLittleEndian:
      return { explicitVr: true, littleEndian: true, deflated: true };
    case ExplicitVrBigEndian:
      return { explicitVr: true, littleEndian: false, deflated: false };
    default:
      throw new UnsupportedTransferSyntaxError(uid);
  }
}

function readUint16(buf: Uint8Array, i: number, le: boolean): number {
  return le ? buf[i]! | (buf[i + 1]! << 8) : (buf[i]! << 8) | buf[i + 1]!;
}

function readUint32(buf: Uint8Array, i: number, le: boolean): number {
  return le
    ? (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) >>> 0
    : ((buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!) >>> 0;
}

function hex2(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}
