import { TextDecoder } from 'node:util';
import { asciiString, SpecificCharacterSet } from './character-set.js';
import type { DicomJsonAttribute, DicomJsonDataset, DicomJsonValue } from './dicom-json.js';
import type { DataDictionary } from './dictionary.js';
import { defaultDictionary } from './dictionary.js';
import { DicomLimitError, DicomParseError, UnsupportedTransferSyntaxError } from './errors.js';
import { locateFrames } from './frame-locator.js';
import type { BulkDataRef, Fragment, ParsedInstance, PixelDataInfo } from './parsed-instance.js';
import { parsePersonName } from './person-name.js';
import { asParseError, RawInflater } from './raw-inflater.js';
import type { Tag } from './tag.js';
import {
  DoubleFloatPixelDataTag,
  ExtendedOffsetTableLengthsTag,
  ExtendedOffsetTableTag,
  FloatPixelDataTag,
  ItemDelimitationTag,
  ItemTag,
  PixelDataTag,
  SequenceDelimitationTag,
  UndefinedLength,
  tagToHex,
} from './tag.js';
import type { TransferSyntax } from './transfer-syntax.js';
import { ExplicitVrLittleEndian, ImplicitVrLittleEndian, isReadableTransferSyntax, lookupTransferSyntax } from './transfer-syntax.js';
import { decodeBinaryValue, decodeStringValue, inlineBinary } from './value-decoder.js';
import type { Vr, VrInfo } from './vr.js';
import { VR_INFO } from './vr.js';

/** Options of the streaming reader; every field has a default suited to ingest. */
export interface Part10ReaderOptions {
  dictionary?: DataDictionary;
  /** `part10` (default): preamble, `DICM`, file meta information. `dataset`: a bare data set, as DIMSE carries it. */
  format?: 'part10' | 'dataset';
  /** Transfer syntax of a bare data set (`format: 'dataset'`); Implicit VR Little Endian when absent. */
  transferSyntaxUid?: string;
  /** Binary values longer than this many bytes become bulk data references (PS3.18 §F.2.6). Default 1024. */
  bulkDataThreshold?: number;
  /** Bytes of non-bulk values the reader may hold; beyond it `DicomLimitError`. Default 64 MiB. */
  maxHeaderBytes?: number;
  /** Deepest nesting of sequences accepted; beyond it `DicomLimitError`. Default 64. */
  maxSequenceDepth?: number;
  /** The `BulkDataURI` written for a bulk value; default: the reference's path. */
  bulkDataUri?: (ref: BulkDataRef) => string;
}

/**
 * Streaming reader of DICOM objects (PS3.10 §7 file format, PS3.5 §7 data set encoding): feed chunks with `write`,
 * get a `ParsedInstance` from `end`. Memory is bounded by the non-bulk values (`maxHeaderBytes`) whatever the
 * object's size: bulk values (pixel data, waveforms, large binary values) are skipped by length and described by
 * offset, never held, and chunks are never concatenated (only an element header split across two chunks is
 * carried over, at most 12 bytes).
 */
export class Part10Reader {
  private readonly dictionary: DataDictionary;
  private readonly bulkDataThreshold: number;
  private readonly maxHeaderBytes: number;
  private readonly maxSequenceDepth: number;
  private readonly bulkDataUri: (ref: BulkDataRef) => string;

  private state: ReadState;
  /** Absolute offset of the next byte to parse: in the file, or in the inflated data set once deflated. */
  private pos = 0;
  private byteLength = 0;
  /** Made when a header is first split across chunks: an object in one chunk never needs it. */
  private carry: Uint8Array | undefined;
  private carryLength = 0;
  private failure: unknown;
  private ended = false;

  private inMeta: boolean;
  private readonly meta: DicomJsonDataset = {};
  private readonly root: DatasetFrame;
  private readonly stack: Frame[] = [];
  private sequenceDepth = 0;
  private transferSyntax: TransferSyntax | undefined;
  private transferSyntaxUid = '';
  private datasetOffset = 0;
  private firstDatasetElement = true;
  private inflater: RawInflater | undefined;
  private switchToInflate = false;

  private heldBytes = 0;
  private readonly bulkData: BulkDataRef[] = [];
  private readonly warnings: string[] = [];
  private readonly charsets = new Map<string, SpecificCharacterSet>();
  /** Makes the longer strings of 7-bit values, in one call, where `String.fromCharCode` would be given a list. */
  private readonly asciiDecoder = new TextDecoder();

  /** The element whose value is being held or skipped. */
  private element: PendingElement | undefined;
  private remaining = 0;
  private held: Uint8Array | undefined;
  private heldFill = 0;

  private pixelData: PixelDataState | undefined;
  private extendedOffsets: Uint8Array | undefined;
  private extendedLengths: Uint8Array | undefined;
  /** Made at the first fragment of encapsulated pixel data. */
  private fragmentHead: Uint8Array | undefined;
  private fragmentHeadLength = 0;

  constructor(options: Part10ReaderOptions = {}) {
    this.dictionary = options.dictionary ?? defaultDictionary();
    this.bulkDataThreshold = options.bulkDataThreshold ?? 1024;
    this.maxHeaderBytes = options.maxHeaderBytes ?? 64 * 1024 * 1024;
    this.maxSequenceDepth = options.maxSequenceDepth ?? 64;
    this.bulkDataUri = options.bulkDataUri ?? ((ref) => ref.path);
    const defaultCharset = this.charset('');
    if ((options.format ?? 'part10') === 'part10') {
      this.inMeta = true;
      this.state = ReadState.Preamble;
      this.remaining = PREAMBLE_LENGTH;
      this.root = datasetFrame(this.meta, -1, '', defaultCharset, false, true, undefined);
    } else {
      this.inMeta = false;
      this.state = ReadState.Header;
      this.root = datasetFrame({}, -1, '', defaultCharset, false, true, undefined);
      this.useTransferSyntax(options.transferSyntaxUid ?? ImplicitVrLittleEndian);
    }
    this.stack.push(this.root);
  }

  /**
   * Parses one chunk. Synchronous; throws `DicomParseError`, `DicomLimitError` or `UnsupportedTransferSyntaxError`,
   * after which the reader refuses further input. The chunk is not retained after the call returns.
   */
  write(chunk: Uint8Array): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.ended) throw new TypeError('Cannot write to Part 10 reader: end() was already called');
    try {
      this.byteLength += chunk.length;
      if (this.switchToInflate && !this.inflater) this.startInflate(chunk, undefined);
      else if (this.inflater) this.inflater.write(chunk);
      else this.feed(chunk);
    } catch (err) {
      this.failure = asParseError(err, this.pos);
      throw this.failure;
    }
  }

  /** Checks that the object ended on an element boundary and returns what was read (PS3.10 §7). */
  end(): ParsedInstance {
    if (this.failure !== undefined) throw this.failure;
    this.ended = true;
    try {
      if (this.inflater) this.inflater.end();
      return this.finish();
    } catch (err) {
      this.failure = asParseError(err, this.pos);
      throw this.failure;
    }
  }

  // ---- input plumbing -------------------------------------------------------------------------------------

  /** Parses bytes of the (possibly inflated) stream, carrying over a header split across chunks. */
  private feed(data: Uint8Array): void {
    let offset = 0;
    if (this.carryLength > 0) {
      const carry = this.carry!;
      const take = Math.min(data.length, CARRY_CAPACITY - this.carryLength);
      carry.set(data.subarray(0, take), this.carryLength);
      const total = this.carryLength + take;
      const used = this.process(carry.subarray(0, total), 0);
      if (this.switchToInflate) {
        this.startInflate(carry.slice(used, total), data.subarray(take));
        return;
      }
      if (used < this.carryLength) {
        // Still not a whole header: then `take` was all of `data` (a header is smaller than the carry buffer).
        carry.copyWithin(0, used, total);
        this.carryLength = total - used;
        return;
      }
      offset = used - this.carryLength;
      this.carryLength = 0;
    }
    const used = this.process(data, offset);
    if (this.switchToInflate) {
      this.startInflate(data.subarray(used), undefined);
      return;
    }
    const rest = data.length - used;
    if (rest > 0) {
      (this.carry ??= new Uint8Array(CARRY_CAPACITY)).set(data.subarray(used), 0);
      this.carryLength = rest;
    }
  }

  private startInflate(first: Uint8Array, second: Uint8Array | undefined): void {
    this.switchToInflate = false;
    this.carryLength = 0;
    this.datasetOffset = this.pos;
    // Offsets in a deflated data set count inflated bytes from its first byte (see ParsedInstance.deflated).
    this.pos = 0;
    this.inflater = new RawInflater((bytes) => this.feed(bytes));
    this.inflater.write(first);
    if (second && second.length > 0) this.inflater.write(second);
  }

  /**
   * The state machine. Returns the index of the first byte not consumed: everything before it was parsed, and
   * what is left (fewer than 12 bytes) is a header that needs the next chunk.
   */
  private process(buf: Uint8Array, start: number): number {
    let i = start;
    const len = buf.length;
    for (;;) {
      switch (this.state) {
        case ReadState.Header: {
          this.closeFinishedContainers();
          const used = this.readHeader(buf, i, len);
          if (used < 0) return i;
          i += used;
          if (this.switchToInflate) return i;
          break;
        }
        case ReadState.Skip: {
          const n = Math.min(this.remaining, len - i);
          i += n;
          this.pos += n;
          this.remaining -= n;
          if (this.remaining > 0) return i;
          this.state = ReadState.Header;
          break;
        }
        case ReadState.Hold: {
          const held = this.held!;
          const n = Math.min(held.length - this.heldFill, len - i);
          held.set(buf.subarray(i, i + n), this.heldFill);
          this.heldFill += n;
          i += n;
          this.pos += n;
          if (this.heldFill < held.length) return i;
          this.held = undefined;
          this.state = ReadState.Header;
          const el = this.element!;
          this.completeValue(el.frame, el.tag, el.vr, el.bulk, held, 0, held.length);
          break;
        }
        case ReadState.Fragment: {
          while (this.fragmentHeadLength < 4 && this.remaining > 0 && i < len) {
            this.fragmentHead![this.fragmentHeadLength++] = buf[i++]!;
            this.pos++;
            this.remaining--;
          }
          const n = Math.min(this.remaining, len - i);
          i += n;
          this.pos += n;
          this.remaining -= n;
          if (this.remaining > 0) return i;
          this.completeFragment();
          this.state = ReadState.Header;
          break;
        }
        case ReadState.Preamble: {
          const n = Math.min(this.remaining, len - i);
          i += n;
          this.pos += n;
          this.remaining -= n;
          if (this.remaining > 0) return i;
          this.state = ReadState.Prefix;
          break;
        }
        case ReadState.Prefix: {
          if (len - i < 4) return i;
          if (buf[i] !== 0x44 || buf[i + 1] !== 0x49 || buf[i + 2] !== 0x43 || buf[i + 3] !== 0x4d) {
            throw new DicomParseError(
              "Cannot read Part 10 object: the 4 bytes after the 128-byte preamble are not 'DICM'",
              { offset: this.pos },
              'ATRIUM_ERR_DICOM_NOT_PART10',
            );
          }
          i += 4;
          this.pos += 4;
          this.state = ReadState.Header;
          break;
        }
      }
    }
  }

  // ---- element headers ------------------------------------------------------------------------------------

  /** Pops items and sequences of defined length whose last byte has been read. */
  private closeFinishedContainers(): void {
    for (;;) {
      const top = this.stack[this.stack.length - 1]!;
      if (top.kind === FrameKind.Fragments || top.end < 0 || this.pos < top.end) return;
      if (this.pos > top.end) {
        throw new DicomParseError(
          `Cannot read ${top.kind === FrameKind.Sequence ? 'sequence' : 'item'}: its content runs past its defined length`,
          { offset: this.pos, tag: top.kind === FrameKind.Sequence ? top.tag : undefined },
        );
      }
      this.pop();
    }
  }

  private pop(): void {
    const frame = this.stack.pop()!;
    if (frame.kind === FrameKind.Sequence) this.sequenceDepth--;
  }

  /** Reads one header in the context of the innermost frame; -1 when `buf` does not hold all of it. */
  private readHeader(buf: Uint8Array, i: number, len: number): number {
    if (len - i < 8) return -1;
    const top = this.stack[this.stack.length - 1]!;
    const le = top.littleEndian;
    const group = le ? buf[i]! | (buf[i + 1]! << 8) : (buf[i]! << 8) | buf[i + 1]!;
    const elementNumber = le ? buf[i + 2]! | (buf[i + 3]! << 8) : (buf[i + 2]! << 8) | buf[i + 3]!;
    const tag = ((group << 16) | elementNumber) >>> 0;
    const at = this.pos;

    if (top.kind !== FrameKind.Dataset) {
      const length = readUint32(buf, i + 4, le);
      this.advance(8);
      if (top.kind === FrameKind.Sequence) this.sequenceItem(top, tag, length, at);
      else this.fragmentItem(top, tag, length, at);
      return 8;
    }

    if (this.inMeta && group !== 0x0002) {
      this.endFileMetaInformation();
      return 0;
    }
    if (group === 0xfffe) return this.delimiterInDataset(top, tag, readUint32(buf, i + 4, le), at);
    if (this.firstDatasetElement && top === this.root && !this.inMeta) {
      this.firstDatasetElement = false;
      this.checkExplicitness(buf, i, tag);
    }

    let vr: Vr;
    let length: number;
    let headerLength: number;
    if (top.implicitVr) {
      vr = this.implicitVr(tag, top);
      length = readUint32(buf, i + 4, le);
      headerLength = 8;
    } else {
      const c0 = buf[i + 4]!;
      const c1 = buf[i + 5]!;
      const known = vrTraitsOfBytes(c0, c1);
      let longLength: boolean;
      if (known !== undefined) {
        vr = known.vr;
        longLength = known.longLength;
      } else if (c0 >= 0x41 && c0 <= 0x5a && c1 >= 0x41 && c1 <= 0x5a) {
        vr = 'UN';
        // VRs not in PS3.5 Table 7.1-1 use the long form too: PS3.5 §7.1.2 defines new VRs that way.
        longLength = true;
      } else {
        throw new DicomParseError(`Cannot read element: VR bytes '${hex2(c0)}${hex2(c1)}' are not a VR`, { offset: at, tag });
      }
      if (longLength) {
        if (len - i < 12) return -1;
        length = readUint32(buf, i + 8, le);
        headerLength = 12;
      } else {
        length = le ? buf[i + 6]! | (buf[i + 7]! << 8) : (buf[i + 6]! << 8) | buf[i + 7]!;
        headerLength = 8;
      }
    }
    this.advance(headerLength);
    return headerLength + this.startElement(top, tag, vr, length, at, buf, i + headerLength, len);
  }

  private advance(n: number): void {
    this.pos += n;
  }

  /** Item and sequence delimiters met where a data element is expected (PS3.5 §7.5). */
  private delimiterInDataset(top: DatasetFrame, tag: Tag, length: number, at: number): number {
    this.advance(8);
    if (tag === ItemDelimitationTag && top !== this.root) {
      this.pop();
      return 8;
    }
    if (tag === SequenceDelimitationTag && top !== this.root) {
      // An item of undefined length left without its delimiter: the sequence delimiter closes both.
      this.warnings.push(`Item without Item Delimitation Item closed by a Sequence Delimitation Item at offset ${at}`);
      this.pop();
      const seq = this.stack[this.stack.length - 1];
      if (seq && seq.kind === FrameKind.Sequence) this.pop();
      return 8;
    }
    if ((tag === ItemDelimitationTag || tag === SequenceDelimitationTag) && length === 0) {
      // Stray delimiters at the top level are written by some old software; they carry nothing.
      this.warnings.push(`Stray delimiter ${tagToHex(tag)} ignored at offset ${at}`);
      return 8;
    }
    throw new DicomParseError(`Cannot read data set: item tag ${tagToHex(tag)} found outside a sequence`, { offset: at, tag });
  }

  /**
   * The first element of the data set decides between implicit and explicit VR when the transfer syntax says
   * otherwise: writers that mislabel one as the other exist, and the bytes tell which it is.
   */
  private checkExplicitness(buf: Uint8Array, i: number, tag: Tag): void {
    const vr = vrTraitsOfBytes(buf[i + 4]!, buf[i + 5]!)?.vr;
    const looksExplicit = vr !== undefined;
    const frame = this.root;
    if (!frame.implicitVr && !looksExplicit) {
      frame.implicitVr = true;
      this.warnings.push(`Transfer syntax says explicit VR but the data set is implicit VR; read as implicit (tag ${tagToHex(tag)})`);
    } else if (frame.implicitVr && looksExplicit && frame.littleEndian) {
      const dictVr = this.dictionary.vrOf(tag);
      if (dictVr === vr || dictVr === 'UN') {
        frame.implicitVr = false;
        this.warnings.push(`Transfer syntax says implicit VR but the data set is explicit VR; read as explicit (tag ${tagToHex(tag)})`);
      }
    }
  }

  /**
   * The VR of an implicit VR element (PS3.5 §7.1.3) from the dictionary, resolving the choices PS3.5 Annex A
   * fixes: pixel, overlay and waveform data are OW; "US or SS" follows Pixel Representation (0028,0103).
   */
  private implicitVr(tag: Tag, frame: DatasetFrame): Vr {
    const entry = this.dictionary.lookup(tag);
    if (!entry || entry.vrs.length === 0) return this.dictionary.vrOf(tag);
    const vrs = entry.vrs;
    if (vrs.length === 1) return vrs[0]!;
    if (vrs.includes('US') && vrs.includes('SS')) return frame.pixelRepresentation === 1 ? 'SS' : 'US';
    if (vrs.includes('OB') && vrs.includes('OW')) return 'OW';
    if (vrs.includes('US')) return 'US';
    return vrs[0]!;
  }

  /**
   * Starts an element after its header: opens a sequence or encapsulated pixel data, records bulk data, or holds
   * the value. Returns the value bytes consumed from `buf` when the whole value was there (the fast path).
   */
  private startElement(frame: DatasetFrame, tag: Tag, vr: Vr, length: number, at: number, buf: Uint8Array, i: number, len: number): number {
    const valueOffset = this.pos;
    if (length === UndefinedLength) {
      if (vr === 'SQ' || (vr !== 'UN' && !VR_INFO[vr].bulkCapable)) {
        this.openSequence(frame, tag, -1, frame.implicitVr, frame.littleEndian);
      } else if (vr === 'UN' && !isBulkTag(tag)) {
        // PS3.5 §6.2.2: UN of undefined length holds a sequence in Implicit VR Little Endian.
        this.openSequence(frame, tag, -1, true, true);
      } else {
        this.openFragments(frame, tag, vr, valueOffset);
      }
      return 0;
    }
    if (vr === 'UN' && !isBulkTag(tag)) {
      // A UN of a tag the dictionary knows is read as its real VR (as DCMTK and pydicom do), so that queries on it
      // work. Its bytes are little endian implicit VR encoded, per PS3.5 §6.2.2.
      const known = this.dictionary.lookup(tag) ? this.implicitVr(tag, frame) : 'UN';
      if (known === 'SQ') {
        this.openSequence(frame, tag, valueOffset + length, true, true);
        return 0;
      }
      vr = known;
    }
    if (vr === 'SQ') {
      this.openSequence(frame, tag, valueOffset + length, frame.implicitVr, frame.littleEndian);
      return 0;
    }
    // Group lengths (gggg,0000) outside the file meta information are retired (PS3.5 §7.2) and would be wrong
    // after any re-encoding, so they are not kept.
    const groupLength = (tag & 0xffff) === 0 && !this.inMeta;
    const info = vrTraits(vr);
    const bulk = !groupLength && (isBulkTag(tag) || (info.bulkCapable && length > this.bulkDataThreshold));
    const offsetTable = tag === ExtendedOffsetTableTag || tag === ExtendedOffsetTableLengthsTag;
    if (bulk) this.recordBulk(frame, tag, vr, valueOffset, length);
    if (tag === PixelDataTag || tag === FloatPixelDataTag || tag === DoubleFloatPixelDataTag) {
      if (frame === this.root && this.pixelData === undefined) {
        this.pixelData = {
          tag, vr, encapsulated: false, offset: valueOffset, length, fragments: [], fragmentStartsFrame: [], basicOffsetTable: [],
        };
      }
    }
    if ((bulk && !(offsetTable && frame === this.root)) || groupLength) {
      if (length === 0) return 0;
      this.element = { frame, tag, vr, length, offset: at, bulk, groupLength };
      this.remaining = length;
      this.state = ReadState.Skip;
      return 0;
    }
    if (length === 0) {
      frame.dataset[this.dictionary.keyOf(tag)] = { vr };
      return 0;
    }
    this.reserve(length, tag, at);
    if (len - i >= length) {
      // The whole value is in this chunk (nearly every element): decoded where it lies, without a pending element.
      this.advance(length);
      this.completeValue(frame, tag, vr, bulk, buf, i, i + length);
      return length;
    }
    this.element = { frame, tag, vr, length, offset: at, bulk, groupLength };
    this.held = new Uint8Array(length);
    this.heldFill = 0;
    this.state = ReadState.Hold;
    return 0;
  }

  /** Counts held bytes against `maxHeaderBytes` before anything is allocated from a length field. */
  private reserve(length: number, tag: Tag, at: number): void {
    if (length > this.maxHeaderBytes - this.heldBytes) {
      throw new DicomLimitError(
        `Cannot read element ${tagToHex(tag)} at offset ${at}: its ${length}-byte value would exceed the ${this.maxHeaderBytes}-byte limit on non-bulk data`,
      );
    }
    this.heldBytes += length;
  }

  private recordBulk(frame: DatasetFrame, tag: Tag, vr: Vr, offset: number, length: number | undefined): void {
    const key = this.dictionary.keyOf(tag);
    const ref: BulkDataRef = { path: frame.prefix + key, vr, offset, length };
    this.bulkData.push(ref);
    frame.dataset[key] = { vr, BulkDataURI: this.bulkDataUri(ref) };
  }

  /** The whole value is `buf[start, end)`: decode it into the element's data set. */
  private completeValue(frame: DatasetFrame, tag: Tag, vr: Vr, bulk: boolean, buf: Uint8Array, start: number, end: number): void {
    if (tag === BASIC_OFFSET_TABLE) {
      this.completeBasicOffsetTable(buf.subarray(start, end));
      return;
    }
    if (frame === this.root && (tag === ExtendedOffsetTableTag || tag === ExtendedOffsetTableLengthsTag)) {
      // Kept until `end`: a copy, since the chunk it lies in is the caller's.
      const table = buf.slice(start, end);
      if (tag === ExtendedOffsetTableTag) this.extendedOffsets = table;
      else this.extendedLengths = table;
    }
    if (bulk) return;
    const info = vrTraits(vr);
    let attr: DicomJsonAttribute;
    if (info.isString) {
      let v = decodeCharacterString(buf, start, end, info, this.asciiDecoder);
      if (v === null) v = decodeStringValue(buf.subarray(start, end), vr, frame.charset);
      attr = v ? { vr, Value: v } : { vr };
    } else if (info.bulkCapable) {
      attr = { vr, InlineBinary: inlineBinary(buf.subarray(start, end), vr, frame.littleEndian) };
    } else {
      const v = info.integer
        ? decodeIntegers(buf, start, end, vr, frame.littleEndian)
        : decodeBinaryValue(buf.subarray(start, end), vr, frame.littleEndian);
      attr = v ? { vr, Value: v } : { vr };
    }
    frame.dataset[this.dictionary.keyOf(tag)] = attr;
    if (tag === 0x00080005) {
      const terms = (attr.Value ?? []).map((t) => (typeof t === 'string' ? t : '')).join('\\');
      frame.charset = this.charset(terms);
    } else if (tag === 0x00280103 && typeof attr.Value?.[0] === 'number') {
      frame.pixelRepresentation = attr.Value[0];
    }
  }

  private charset(terms: string): SpecificCharacterSet {
    let cs = this.charsets.get(terms);
    if (!cs) {
      cs = new SpecificCharacterSet(terms, (message) => this.warnings.push(message));
      for (const t of cs.unknownTerms) this.warnings.push(`Specific Character Set term '${t}' is not known; ignored`);
      this.charsets.set(terms, cs);
    }
    return cs;
  }

  // ---- sequences and items (PS3.5 §7.5) -------------------------------------------------------------------

  private openSequence(frame: DatasetFrame, tag: Tag, end: number, implicitVr: boolean, littleEndian: boolean): void {
    if (this.sequenceDepth >= this.maxSequenceDepth) {
      throw new DicomLimitError(
        `Cannot read sequence ${tagToHex(tag)} at offset ${this.pos}: sequences nest deeper than ${this.maxSequenceDepth}`,
      );
    }
    const key = this.dictionary.keyOf(tag);
    const attr: DicomJsonAttribute = { vr: 'SQ' };
    frame.dataset[key] = attr;
    this.sequenceDepth++;
    this.stack.push({
      kind: FrameKind.Sequence, tag, end, attr, path: frame.prefix + key, items: 0, implicitVr, littleEndian, parent: frame,
    });
  }

  private sequenceItem(seq: SequenceFrame, tag: Tag, length: number, at: number): void {
    if (tag === ItemTag) {
      const dataset: DicomJsonDataset = {};
      (seq.attr.Value ??= []).push(dataset);
      const end = length === UndefinedLength ? -1 : this.pos + length;
      const parent = seq.parent;
      this.stack.push(
        datasetFrame(dataset, end, `${seq.path}/${seq.items}/`, parent.charset, seq.implicitVr, seq.littleEndian, parent.pixelRepresentation),
      );
      seq.items++;
      return;
    }
    if (tag === SequenceDelimitationTag) {
      this.pop();
      return;
    }
    throw new DicomParseError(`Cannot read sequence ${tagToHex(seq.tag)}: found tag ${tagToHex(tag)} where an item was expected`, {
      offset: at,
      tag,
    });
  }

  // ---- encapsulated pixel data (PS3.5 §A.4) ---------------------------------------------------------------

  private openFragments(frame: DatasetFrame, tag: Tag, vr: Vr, valueOffset: number): void {
    const key = this.dictionary.keyOf(tag);
    const top = frame === this.root && tag === PixelDataTag && this.pixelData === undefined;
    if (top) {
      this.pixelData = {
        tag, vr, encapsulated: true, offset: valueOffset + 8, length: 0, fragments: [], fragmentStartsFrame: [], basicOffsetTable: [],
      };
    }
    this.recordBulk(frame, tag, vr, valueOffset, undefined);
    this.stack.push({ kind: FrameKind.Fragments, tag, path: frame.prefix + key, items: 0, littleEndian: frame.littleEndian, pixelData: top });
  }

  private fragmentItem(frame: FragmentsFrame, tag: Tag, length: number, at: number): void {
    if (tag === SequenceDelimitationTag) {
      this.pop();
      return;
    }
    if (tag !== ItemTag || length === UndefinedLength) {
      throw new DicomParseError(`Cannot read encapsulated ${tagToHex(frame.tag)}: found tag ${tagToHex(tag)} where a fragment was expected`, {
        offset: at,
        tag,
      });
    }
    const index = frame.items++;
    this.element = { frame: this.root, tag: frame.tag, vr: 'OB', length, offset: at, bulk: true, groupLength: false };
    if (index === 0 && frame.pixelData) {
      // The Basic Offset Table: 4 bytes per frame, held because frames are located from it.
      this.reserve(length, frame.tag, at);
      if (length === 0) return;
      this.held = new Uint8Array(length);
      this.heldFill = 0;
      this.element = { ...this.element, bulk: false, tag: BASIC_OFFSET_TABLE };
      this.state = ReadState.Hold;
      return;
    }
    if (index === 0) {
      this.remaining = length;
      if (length > 0) this.state = ReadState.Skip;
      return;
    }
    if (frame.pixelData) {
      const pd = this.pixelData!;
      pd.fragments.push({ offset: this.pos, length });
      pd.length += length;
      this.fragmentHead ??= new Uint8Array(4);
      this.fragmentHeadLength = 0;
      this.remaining = length;
      if (length === 0) this.completeFragment();
      else this.state = ReadState.Fragment;
      return;
    }
    this.remaining = length;
    if (length > 0) this.state = ReadState.Skip;
  }

  private completeFragment(): void {
    const pd = this.pixelData!;
    const h = this.fragmentHead!;
    const n = this.fragmentHeadLength;
    pd.fragmentStartsFrame.push(n >= 2 && h[0] === 0xff && (h[1] === 0xd8 || h[1] === 0x4f || h[1] === 0x0a));
  }

  // ---- file meta information (PS3.10 §7.1) ----------------------------------------------------------------

  private endFileMetaInformation(): void {
    this.inMeta = false;
    const value = this.meta['00020010']?.Value?.[0];
    const uid = typeof value === 'string' ? value : '';
    if (!uid) this.warnings.push('File meta information has no Transfer Syntax UID (0002,0010); reading as Explicit VR Little Endian');
    this.datasetOffset = this.pos;
    const root = this.root;
    root.dataset = {};
    this.useTransferSyntax(uid || ExplicitVrLittleEndian);
    if (this.transferSyntax?.deflated) this.switchToInflate = true;
  }

  private useTransferSyntax(uid: string): void {
    const ts = lookupTransferSyntax(uid);
    if (!ts || !isReadableTransferSyntax(uid)) throw new UnsupportedTransferSyntaxError(uid);
    this.transferSyntax = ts;
    this.transferSyntaxUid = uid;
    this.root.implicitVr = !ts.explicitVr;
    this.root.littleEndian = ts.littleEndian;
    if (ts.deflated && !this.inMeta) this.switchToInflate = true;
  }

  // ---- end of stream --------------------------------------------------------------------------------------

  private finish(): ParsedInstance {
    if (this.state === ReadState.Preamble || this.state === ReadState.Prefix) {
      throw new DicomParseError(
        `Cannot read Part 10 object: the stream ends after ${this.byteLength} bytes, before the 'DICM' prefix`,
        { offset: this.pos },
        'ATRIUM_ERR_DICOM_NOT_PART10',
      );
    }
    if (this.switchToInflate && !this.inflater) {
      // A bare deflated data set set up in the constructor, or meta information with nothing after it.
      this.startInflate(new Uint8Array(0), undefined);
      this.inflater!.end();
    }
    if (this.inMeta && this.carryLength === 0 && this.state === ReadState.Header) this.endFileMetaInformation();
    if (this.state === ReadState.Header) this.closeFinishedContainers();
    if (this.carryLength > 0 || this.state !== ReadState.Header || this.stack.length > 1) {
      const open = this.stack[this.stack.length - 1]!;
      const tag =
        this.state !== ReadState.Header ? this.element?.tag : open.kind === FrameKind.Dataset ? undefined : open.tag;
      const what = this.carryLength > 0 ? 'inside an element header' : this.state !== ReadState.Header ? 'inside an element value' : 'inside an unfinished sequence or item';
      throw new DicomParseError(
        `Cannot read data set: the stream ends ${what}`,
        { offset: this.pos, tag: tag === BASIC_OFFSET_TABLE ? PixelDataTag : tag },
        'ATRIUM_ERR_DICOM_TRUNCATED',
      );
    }
    const pd = this.pixelData;
    const pixelData: PixelDataInfo | undefined = pd && {
      encapsulated: pd.encapsulated,
      offset: pd.offset,
      length: pd.length,
      vr: pd.vr,
      fragments: pd.fragments,
      basicOffsetTable: pd.basicOffsetTable,
    };
    const frames = pd
      ? locateFrames({
          dataset: this.root.dataset,
          pixelDataTag: pd.tag,
          pixelData: pixelData!,
          fragmentStartsFrame: pd.fragmentStartsFrame,
          video: this.transferSyntax?.video ?? false,
          extendedOffsetTable: this.extendedOffsets,
          extendedOffsetTableLengths: this.extendedLengths,
        })
      : [];
    return {
      fileMetaInformation: this.meta,
      dataset: this.root.dataset,
      transferSyntaxUid: this.transferSyntaxUid,
      deflated: this.transferSyntax?.deflated ?? false,
      datasetOffset: this.datasetOffset,
      bulkData: this.bulkData,
      pixelData,
      frames,
      byteLength: this.byteLength,
      warnings: this.warnings,
    };
  }

  /** The Basic Offset Table is a list of 32-bit little endian offsets (PS3.5 §A.4, Table A.4-1). */
  private completeBasicOffsetTable(value: Uint8Array): void {
    const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
    const table = this.pixelData!.basicOffsetTable;
    for (let o = 0; o + 4 <= value.length; o += 4) table.push(view.getUint32(o, true));
  }
}

/** Reads a whole object from an iterable of chunks (a file stream, a request body) with `Part10Reader`. */
export async function readPart10(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options?: Part10ReaderOptions,
): Promise<ParsedInstance> {
  const reader = new Part10Reader(options);
  for await (const chunk of source) reader.write(chunk);
  return reader.end();
}

// ---- internals ------------------------------------------------------------------------------------------------

const PREAMBLE_LENGTH = 128;
/** Longest header (explicit VR long form) is 12 bytes; the carry holds a split header plus new bytes to finish it. */
const CARRY_CAPACITY = 32;
/** A tag no element has, marking the held Basic Offset Table among pending elements. */
const BASIC_OFFSET_TABLE: Tag = 0xfffee0ff;

const enum ReadState {
  Preamble,
  Prefix,
  Header,
  Skip,
  Hold,
  Fragment,
}

const enum FrameKind {
  Dataset,
  Sequence,
  Fragments,
}

interface DatasetFrame {
  readonly kind: FrameKind.Dataset;
  dataset: DicomJsonDataset;
  /** Absolute offset just past the item, or -1 for undefined length (ended by an Item Delimitation Item). */
  readonly end: number;
  /** Path of this item for bulk data references: `''` at the top level, `54000100/0/` inside an item. */
  readonly prefix: string;
  charset: SpecificCharacterSet;
  implicitVr: boolean;
  littleEndian: boolean;
  pixelRepresentation: number | undefined;
}

interface SequenceFrame {
  readonly kind: FrameKind.Sequence;
  readonly tag: Tag;
  readonly end: number;
  readonly attr: DicomJsonAttribute;
  readonly path: string;
  items: number;
  readonly implicitVr: boolean;
  readonly littleEndian: boolean;
  readonly parent: DatasetFrame;
}

interface FragmentsFrame {
  readonly kind: FrameKind.Fragments;
  readonly tag: Tag;
  readonly path: string;
  items: number;
  readonly littleEndian: boolean;
  /** The top-level Pixel Data, whose fragments are recorded; other encapsulated values are only skipped. */
  readonly pixelData: boolean;
}

type Frame = DatasetFrame | SequenceFrame | FragmentsFrame;

interface PendingElement {
  readonly frame: DatasetFrame;
  readonly tag: Tag;
  readonly vr: Vr;
  readonly length: number;
  /** Offset of the element's header, for error messages. */
  readonly offset: number;
  readonly bulk: boolean;
  readonly groupLength: boolean;
}

interface PixelDataState {
  readonly tag: Tag;
  readonly vr: Vr;
  readonly encapsulated: boolean;
  readonly offset: number;
  length: number;
  readonly fragments: Fragment[];
  /** Per fragment: whether its first bytes are a JPEG SOI, a JPEG 2000 SOC or a JPEG XL codestream signature. */
  readonly fragmentStartsFrame: boolean[];
  readonly basicOffsetTable: number[];
}

function datasetFrame(
  dataset: DicomJsonDataset,
  end: number,
  prefix: string,
  charset: SpecificCharacterSet,
  implicitVr: boolean,
  littleEndian: boolean,
  pixelRepresentation: number | undefined,
): DatasetFrame {
  return { kind: FrameKind.Dataset, dataset, end, prefix, charset, implicitVr, littleEndian, pixelRepresentation };
}

function readUint32(buf: Uint8Array, i: number, le: boolean): number {
  return le
    ? (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) >>> 0
    : ((buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!) >>> 0;
}

function hex2(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}

/**
 * Values that are bulk data whatever their size (PS3.18 §F.2.6 lets any binary value be; these are the ones
 * that are large in practice): pixel data, waveform, encapsulated document, overlay, curve and spectroscopy data.
 */
function isBulkTag(tag: Tag): boolean {
  return (
    tag === PixelDataTag ||
    tag === FloatPixelDataTag ||
    tag === DoubleFloatPixelDataTag ||
    tag === 0x54001010 ||
    tag === 0x00420011 ||
    tag === 0x56000020 ||
    ((tag & 0xff01ffff) >>> 0) === 0x60003000 ||
    ((tag & 0xff01ffff) >>> 0) === 0x50003000
  );
}

/** `VR_INFO` of one VR, with its name and what `decodeStringValue` knows of its padding. */
interface VrTraits extends VrInfo {
  readonly vr: Vr;
  /** Leading spaces are padding too (PS3.5 Table 6.2-1); for LT, ST, UT, UC and PN they are content. */
  readonly trimLeading: boolean;
  /** US, SS, UL or SL, which `decodeIntegers` reads. */
  readonly integer: boolean;
}

/** As in `decodeStringValue`. */
const TRIM_LEADING: ReadonlySet<Vr> = new Set<Vr>(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'SH', 'TM', 'UI', 'UR']);

/**
 * Every VR at `(c0 - 0x41) * 26 + (c1 - 0x41)`, its two characters: neither reading a VR from its bytes nor
 * finding what a VR means looks a string up (a keyed lookup in `VR_INFO` cost more than reading the element).
 * A constant: built at load and never written. The array is not frozen because the optimising compiler of Node 20
 * does not inline a load from a frozen array's elements: each was a builtin call.
 */
const VR_TRAITS: readonly (VrTraits | undefined)[] = Array.from({ length: 26 * 26 }, (_, code) => {
  const vr = String.fromCharCode(0x41 + Math.floor(code / 26), 0x41 + (code % 26));
  if (!Object.hasOwn(VR_INFO, vr)) return undefined;
  const info = VR_INFO[vr as Vr];
  // One literal for all, so that every entry has the same hidden class and loads from them stay monomorphic.
  return Object.freeze({
    vr: vr as Vr,
    longLength: info.longLength,
    isString: info.isString,
    charsetDecoded: info.charsetDecoded,
    bulkCapable: info.bulkCapable,
    numberSize: info.numberSize,
    padByte: info.padByte,
    multiValued: info.multiValued,
    trimLeading: TRIM_LEADING.has(vr as Vr),
    integer: vr === 'US' || vr === 'SS' || vr === 'UL' || vr === 'SL',
  });
});

/** The VR whose two characters are these bytes; undefined when they are not one of PS3.5 Table 6.2-1. */
function vrTraitsOfBytes(c0: number, c1: number): VrTraits | undefined {
  const a = c0 - 0x41;
  const b = c1 - 0x41;
  return a >= 0 && a < 26 && b >= 0 && b < 26 ? VR_TRAITS[a * 26 + b] : undefined;
}

function vrTraits(vr: Vr): VrTraits {
  return VR_TRAITS[(vr.charCodeAt(0) - 0x41) * 26 + vr.charCodeAt(1) - 0x41]!;
}

/** Exact powers of ten: a double holds 10^k exactly up to k = 22. Not frozen, as `VR_TRAITS`. */
const POWERS_OF_TEN: readonly number[] = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * `decodeStringValue` for a value whose bytes are its characters one for one, read in place: no subarray, no
 * string to split, no pattern to match. That holds for the VRs (0008,0005) does not apply to (their bytes are read
 * as ISO 8859-1 there too) and for text of 7-bit bytes without ESC, which `SpecificCharacterSet.decode` reads as
 * ASCII in every repertoire. Returns null for any other text: the caller then decodes it with `decodeStringValue`.
 * Padding, splitting and numbers follow `decodeStringValue` exactly; the tests compare the two on every VR.
 */
function decodeCharacterString(
  buf: Uint8Array,
  start: number,
  end: number,
  traits: VrTraits,
  asciiDecoder: TextDecoder,
): DicomJsonValue[] | undefined | null {
  let delimiters = 0;
  let high = false;
  let escape = false;
  for (let k = start; k < end; k++) {
    const b = buf[k]!;
    if (b === 0x5c) delimiters++;
    else if (b >= 0x80) high = true;
    else if (b === 0x1b) escape = true;
  }
  if (traits.charsetDecoded && (high || escape)) return null;
  const ascii = high ? undefined : asciiDecoder;
  if (delimiters === 0 || !traits.multiValued) {
    const v = characterStringValue(buf, start, end, traits, ascii);
    return v === null ? undefined : [v];
  }
  const out = new Array<DicomJsonValue>(delimiters + 1);
  let any = false;
  let valueStart = start;
  for (let n = 0; n <= delimiters; n++) {
    let valueEnd = valueStart;
    while (valueEnd < end && buf[valueEnd] !== 0x5c) valueEnd++;
    const v = characterStringValue(buf, valueStart, valueEnd, traits, ascii);
    out[n] = v;
    if (v !== null) any = true;
    valueStart = valueEnd + 1;
  }
  return any ? out : undefined;
}

/**
 * One value of a character string, padding trimmed; null when nothing is left. `ascii` is given when every byte
 * of the value is below 0x80, for `latin1String`.
 */
function characterStringValue(buf: Uint8Array, start: number, end: number, traits: VrTraits, ascii: TextDecoder | undefined): DicomJsonValue {
  // Trailing spaces and NULs are padding in every string VR; leading spaces only in some.
  let e = end;
  while (e > start && (buf[e - 1] === 0x20 || buf[e - 1] === 0)) e--;
  let s = start;
  if (traits.trimLeading) while (s < e && buf[s] === 0x20) s++;
  if (s === e) return null;
  const vr = traits.vr;
  if (vr === 'IS') return integerString(buf, s, e);
  if (vr === 'DS') return decimalString(buf, s, e);
  if (vr === 'PN') return parsePersonName(latin1String(buf, s, e, ascii));
  return latin1String(buf, s, e, ascii);
}

/** An IS value: the number when it matches `^[+-]?\d+$`, else the text (as `decodeStringValue`). */
function integerString(buf: Uint8Array, start: number, end: number): number | string {
  let k = start;
  const sign = buf[k];
  if (sign === 0x2b || sign === 0x2d) k++;
  const digitsStart = k;
  let n = 0;
  for (; k < end; k++) {
    const d = buf[k]! - 0x30;
    if (d < 0 || d > 9) return latin1String(buf, start, end);
    n = n * 10 + d;
  }
  if (k === digitsStart) return latin1String(buf, start, end);
  // Up to 15 digits the sum is exact; longer, the text is rounded as Number rounds it.
  if (k - digitsStart > 15) return Number(latin1String(buf, start, end));
  return sign === 0x2d ? -n : n;
}

/** A DS value: the number when it matches `^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`, else the text. */
function decimalString(buf: Uint8Array, start: number, end: number): number | string {
  let k = start;
  const sign = buf[k];
  if (sign === 0x2b || sign === 0x2d) k++;
  let digits = 0;
  let n = 0;
  for (; k < end; k++) {
    const d = buf[k]! - 0x30;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
    digits++;
  }
  const integerDigits = digits;
  let fractionDigits = 0;
  if (k < end && buf[k] === 0x2e) {
    for (k++; k < end; k++) {
      const d = buf[k]! - 0x30;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
      digits++;
      fractionDigits++;
    }
  }
  // `\d+\.?\d*` or `\.\d+`: at least one digit on either side of the point.
  if (integerDigits === 0 && fractionDigits === 0) return latin1String(buf, start, end);
  if (k === end && digits <= 15) {
    // Both operands exact, so the quotient is the correctly rounded value Number gives (Clinger's fast path).
    const v = n / POWERS_OF_TEN[fractionDigits]!;
    return sign === 0x2d ? -v : v;
  }
  if (k < end && (buf[k] === 0x45 || buf[k] === 0x65)) {
    k++;
    if (k < end && (buf[k] === 0x2b || buf[k] === 0x2d)) k++;
    const exponentStart = k;
    while (k < end && buf[k]! >= 0x30 && buf[k]! <= 0x39) k++;
    if (k === exponentStart) return latin1String(buf, start, end);
  }
  const text = latin1String(buf, start, end);
  return k === end ? Number(text) : text;
}

/**
 * One character per byte (ISO 8859-1, of which ASCII is the lower half), as `asciiString` reads them. Values of
 * up to 16 bytes (nearly all) are made by one `String.fromCharCode` call with the bytes as arguments, the cheapest
 * way V8 has; longer ones by `ascii` (a UTF-8 decoder, which reads 7-bit bytes as they are) when given, since
 * `String.fromCharCode.apply` copies the bytes into an argument list first.
 */
function latin1String(b: Uint8Array, s: number, e: number, ascii?: TextDecoder): string {
  switch (e - s) {
    case 1: return String.fromCharCode(b[s]!);
    case 2: return String.fromCharCode(b[s]!, b[s + 1]!);
    case 3: return String.fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4: return String.fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5: return String.fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6: return String.fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7: return String.fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    case 8: return String.fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!);
    case 9:
      return String.fromCharCode(
        b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!,
        b[s + 8]!,
      );
    case 10:
      return String.fromCharCode(
        b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!,
        b[s + 8]!, b[s + 9]!,
      );
    case 11:
      return String.fromCharCode(
        b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!,
        b[s + 8]!, b[s + 9]!, b[s + 10]!,
      );
    case 12:
      return String.fromCharCode(
        b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!,
        b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!,
      );
    case 13:
      return String.fromCharCode(
        b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!,
        b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!,
      );
    case 14:
      return String.fromCharCode(
        b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!,
        b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!,
      );
    case 15:
      return String.fromCharCode(
        b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!,
        b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!,
      );
    case 16:
      return String.fromCharCode(
        b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!,
        b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!,
      );
    default: return ascii ? ascii.decode(b.subarray(s, e)) : asciiString(b.subarray(s, e));
  }
}

/** US, SS, UL and SL values, read in place as `decodeBinaryValue` reads them through a DataView. */
function decodeIntegers(buf: Uint8Array, start: number, end: number, vr: Vr, littleEndian: boolean): DicomJsonValue[] | undefined {
  const size = vr === 'US' || vr === 'SS' ? 2 : 4;
  const count = Math.floor((end - start) / size);
  if (count === 0) return undefined;
  const out = new Array<DicomJsonValue>(count);
  for (let k = 0, o = start; k < count; k++, o += size) {
    if (size === 2) {
      const u = littleEndian ? buf[o]! | (buf[o + 1]! << 8) : (buf[o]! << 8) | buf[o + 1]!;
      out[k] = vr === 'SS' ? (u << 16) >> 16 : u;
    } else {
      const u = readUint32(buf, o, littleEndian);
      out[k] = vr === 'SL' ? u | 0 : u;
    }
  }
  return out;
}
