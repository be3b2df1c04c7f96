import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DicomWriteError,
  EXPLICIT_VR_LITTLE_ENDIAN_ENCODING,
  ExplicitVrLittleEndian,
  PixelDataTag,
  UndefinedLength,
  VR_INFO,
  encodeElementHeader,
  encodeItemHeader,
  encodePart10Header,
  encodeSequenceDelimitation,
  encodeWithEncoding,
  isVr,
  lookupTransferSyntax,
  tagToHex,
  type DicomJsonAttribute,
  type DicomJsonDataset,
  type WritableAttribute,
  type WritableDataset,
} from '@atrium/dicom';
import { StowMetadataError } from '../errors.js';
import type { MediaType } from '../multipart/media-type.js';
import { PIXEL_MEDIA_TYPES } from '../wado-rs/pixel-media-types.js';

/** PS3.4 Annex B failure reasons a metadata instance can fail with before it reaches the ingest pipeline. */
const CANNOT_UNDERSTAND = 0xc000;
const DATA_SET_DOES_NOT_MATCH = 0xa900;
const OUT_OF_RESOURCES = 0xa700;

/** Bulk values up to this size are read into memory and written by the encoder; larger top-level ones stream. */
const INLINE_BULK_BYTES = 1024 * 1024;
/** Nested bulk values (inside sequences) are always read into memory: at most this many bytes per instance. */
const MAX_NESTED_BULK_BYTES = 64 * 1024 * 1024;

const PIXEL_DATA = tagToHex(PixelDataTag);
const SPECIFIC_CHARACTER_SET = '00080005';
const SOP_CLASS_UID = '00080016';
const SOP_INSTANCE_UID = '00080018';
const NUMBER_OF_FRAMES = '00280008';

/** One bulk data part of the request, spooled to a file until the instances that reference it are assembled. */
export interface SpooledBulkData {
  path: string;
  size: number;
  /** The part's media type, lower-cased, without parameters. */
  mediaType: string;
  /** The `transfer-syntax` parameter of the part's Content-Type, when given. */
  transferSyntaxUid: string | undefined;
}

/**
 * The bulk data parts of a STOW-RS request (PS3.18 §10.5.1.2.2), by Content-Location: each is written to a file in
 * a spool folder of the data directory as it arrives (never held in memory), and the folder is removed with
 * `close`. Several parts may share a Content-Location: they are the frames of compressed pixel data, in order.
 */
export class BulkDataSpool {
  readonly #parts = new Map<string, SpooledBulkData[]>();
  #dir: string | undefined;
  #count = 0;

  constructor(private readonly root: string) {}

  async add(contentLocation: string, mediaType: MediaType, body: AsyncIterable<Buffer>): Promise<SpooledBulkData> {
    if (this.#dir === undefined) {
      await mkdir(this.root, { recursive: true });
      this.#dir = await mkdtemp(join(this.root, 'stow-'));
    }
    const path = join(this.#dir, String(++this.#count));
    let size = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const chunk of body) {
        size += chunk.length;
        yield chunk;
      }
    }
    await pipeline(Readable.from(counted()), createWriteStream(path));
    const spooled = { path, size, mediaType: mediaType.essence, transferSyntaxUid: mediaType.parameters['transfer-syntax'] };
    const list = this.#parts.get(contentLocation) ?? [];
    list.push(spooled);
    this.#parts.set(contentLocation, list);
    return spooled;
  }

  get(bulkDataUri: string): readonly SpooledBulkData[] | undefined {
    return this.#parts.get(bulkDataUri.trim());
  }

  async close(): Promise<void> {
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
  }
}

/** An instance made from metadata and bulk data, ready to be streamed into the ingest pipeline. */
export interface AssembledInstance {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  /** The Part 10 bytes: preamble, file meta information, the data set with the bulk values streamed from the spool. */
  part10(): AsyncGenerator<Uint8Array>;
}

function firstString(attribute: DicomJsonAttribute | undefined): string | undefined {
  const value = attribute?.Value?.[0];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** The UIDs a failure of this metadata names in FailedSOPSequence, as far as the metadata gives them. */
export function identityOf(dataset: DicomJsonDataset): { sopClassUid?: string; sopInstanceUid?: string } {
  const sopClassUid = firstString(dataset[SOP_CLASS_UID]);
  const sopInstanceUid = firstString(dataset[SOP_INSTANCE_UID]);
  return { ...(sopClassUid ? { sopClassUid } : {}), ...(sopInstanceUid ? { sopInstanceUid } : {}) };
}

function isVideo(transferSyntaxUid: string): boolean {
  return Object.entries(PIXEL_MEDIA_TYPES).some(([type, uids]) => type.startsWith('video/') && uids.includes(transferSyntaxUid));
}

type Piece = Uint8Array | { path: string; size: number; padByte: number };

/** How the compressed pixel data of the bulk parts is labelled: their transfer syntax, or undefined when native. */
function encapsulatedSyntaxOf(parts: readonly SpooledBulkData[], sopInstanceUid: string): string | undefined {
  const kinds = new Set(parts.map((p) => `${p.mediaType};${p.transferSyntaxUid ?? ''}`));
  if (kinds.size > 1) {
    throw new StowMetadataError(`Cannot store instance '${sopInstanceUid}': the pixel data parts differ in media type or transfer syntax`, CANNOT_UNDERSTAND);
  }
  const { mediaType, transferSyntaxUid } = parts[0]!;
  if (mediaType === 'application/octet-stream') {
    if (transferSyntaxUid === undefined || !lookupTransferSyntax(transferSyntaxUid)?.encapsulated) return undefined;
    return transferSyntaxUid;
  }
  const syntaxes = PIXEL_MEDIA_TYPES[mediaType];
  if (!syntaxes) {
    throw new StowMetadataError(
      `Cannot store instance '${sopInstanceUid}': pixel data of media type '${mediaType}' is not application/octet-stream or a DICOM pixel data media type`,
      CANNOT_UNDERSTAND,
    );
  }
  const syntax = transferSyntaxUid ?? syntaxes[0]!;
  if (!syntaxes.includes(syntax)) {
    throw new StowMetadataError(`Cannot store instance '${sopInstanceUid}': transfer syntax '${syntax}' is not one of media type '${mediaType}'`, CANNOT_UNDERSTAND);
  }
  return syntax;
}

/**
 * Builds a Part 10 instance from one data set of DICOM JSON metadata and the spooled bulk data its BulkDataURIs
 * name (PS3.18 §10.5.1.2.2; InlineBinary values are little endian, §F.2.7). Native pixel data and other values are
 * written in Explicit VR Little Endian; pixel data sent as a compressed media type (or `application/octet-stream`
 * with an encapsulated `transfer-syntax`) is encapsulated, one fragment per part, in that syntax. Every reference
 * is resolved and every element encoded before the first byte is produced, so a failure is reported with its
 * reason instead of ending the ingest stream half way; large top-level values then stream from their spool files.
 */
export async function assembleInstance(dataset: DicomJsonDataset, spool: BulkDataSpool): Promise<AssembledInstance> {
  const sopClassUid = firstString(dataset[SOP_CLASS_UID]);
  const sopInstanceUid = firstString(dataset[SOP_INSTANCE_UID]);
  if (!sopClassUid || !sopInstanceUid) {
    throw new StowMetadataError(
      `Cannot store metadata: it has no ${sopClassUid ? 'SOP Instance UID (0008,0018)' : 'SOP Class UID (0008,0016)'}`,
      DATA_SET_DOES_NOT_MATCH,
    );
  }
  const resolve = (uri: string, tag: string): readonly SpooledBulkData[] => {
    const parts = spool.get(uri);
    if (!parts) {
      throw new StowMetadataError(
        `Cannot store instance '${sopInstanceUid}': bulk data '${uri}' of ${tag} has no part with that Content-Location`,
        CANNOT_UNDERSTAND,
      );
    }
    return parts;
  };

  const readWhole = async (uri: string, tag: string): Promise<Uint8Array> => {
    const parts = resolve(uri, tag);
    if (parts.length > 1) throw new StowMetadataError(`Cannot store instance '${sopInstanceUid}': bulk data '${uri}' of ${tag} has ${parts.length} parts`, CANNOT_UNDERSTAND);
    return new Uint8Array(await readFile(parts[0]!.path));
  };
  let nestedBytes = 0;
  /** A value inside a sequence, read whole: sequences are written with defined lengths. */
  const inline = async (uri: string, tag: string): Promise<Uint8Array> => {
    const parts = resolve(uri, tag);
    nestedBytes += parts[0]!.size;
    if (nestedBytes > MAX_NESTED_BULK_BYTES) {
      throw new StowMetadataError(
        `Cannot store instance '${sopInstanceUid}': its bulk data inside sequences exceeds ${MAX_NESTED_BULK_BYTES} bytes`,
        OUT_OF_RESOURCES,
      );
    }
    return readWhole(uri, tag);
  };
  const inlineNested = async (attributes: DicomJsonDataset): Promise<WritableDataset> => {
    const out: WritableDataset = {};
    for (const [tag, attribute] of Object.entries(attributes)) {
      if (attribute.vr === 'SQ' && attribute.Value) {
        const items = [];
        for (const item of attribute.Value) items.push(await inlineNested((item ?? {}) as DicomJsonDataset));
        out[tag] = { vr: 'SQ', Value: items };
      } else if (attribute.BulkDataURI !== undefined) {
        out[tag] = { vr: attribute.vr, Bytes: await inline(attribute.BulkDataURI, tag) };
      } else out[tag] = attribute as WritableAttribute;
    }
    return out;
  };

  let transferSyntaxUid = ExplicitVrLittleEndian;
  const pieces: Piece[] = [];
  let run: WritableDataset = {};
  const charset = dataset[SPECIFIC_CHARACTER_SET] as WritableAttribute | undefined;
  const flush = () => {
    if (Object.keys(run).length === 0) return;
    pieces.push(encodeRun(run, charset));
    run = {};
  };
  const encoding = EXPLICIT_VR_LITTLE_ENDIAN_ENCODING;

  try {
    // PS3.5 §7.1: ascending tag order. Group 0002 belongs to the file meta information, which is made here, and
    // group lengths (retired) would be wrong once values are re-encoded.
    const tags = Object.keys(dataset)
      .filter((tag) => /^[0-9A-Fa-f]{8}$/.test(tag) && !tag.startsWith('0002') && !tag.endsWith('0000'))
      .sort((a, b) => parseInt(a, 16) - parseInt(b, 16));
    for (const tag of tags) {
      const attribute = dataset[tag]!;
      if (attribute.vr === 'SQ') {
        run[tag] = { vr: 'SQ', Value: (await inlineNested({ [tag]: attribute }))[tag]!.Value ?? [] };
        continue;
      }
      if (attribute.BulkDataURI === undefined) {
        run[tag] = attribute as WritableAttribute;
        continue;
      }
      const parts = resolve(attribute.BulkDataURI, tag);
      const encapsulated = tag.toUpperCase() === PIXEL_DATA ? encapsulatedSyntaxOf(parts, sopInstanceUid) : undefined;
      if (encapsulated) {
        transferSyntaxUid = encapsulated;
        const frames = Number(dataset[NUMBER_OF_FRAMES]?.Value?.[0] ?? 1);
        // A video stream is one fragment sequence for all its frames; other codecs compress frame by frame.
        if (!isVideo(encapsulated) && parts.length !== frames) {
          throw new StowMetadataError(
            `Cannot store instance '${sopInstanceUid}': its compressed pixel data has ${parts.length} part${parts.length === 1 ? '' : 's'} for ${frames} frame${frames === 1 ? '' : 's'} (one part per frame)`,
            CANNOT_UNDERSTAND,
          );
        }
        flush();
        // Encapsulated Pixel Data (PS3.5 §A.4): an empty Basic Offset Table, one fragment per part.
        pieces.push(encodeElementHeader(PixelDataTag, 'OB', UndefinedLength, encoding), encodeItemHeader(0));
        for (const part of parts) {
          pieces.push(encodeItemHeader(part.size + (part.size % 2)), { path: part.path, size: part.size, padByte: 0 });
        }
        pieces.push(encodeSequenceDelimitation());
        continue;
      }
      if (parts.length > 1) {
        throw new StowMetadataError(`Cannot store instance '${sopInstanceUid}': bulk data '${attribute.BulkDataURI}' of ${tag} has ${parts.length} parts`, CANNOT_UNDERSTAND);
      }
      const part = parts[0]!;
      if (part.size <= INLINE_BULK_BYTES) {
        run[tag] = { vr: attribute.vr, Bytes: await readWhole(attribute.BulkDataURI, tag) };
        continue;
      }
      if (!isVr(attribute.vr)) {
        throw new StowMetadataError(`Cannot store instance '${sopInstanceUid}': attribute ${tag} has VR '${String(attribute.vr)}', which is not a VR`, CANNOT_UNDERSTAND);
      }
      flush();
      const padded = part.size + (part.size % 2);
      pieces.push(encodeElementHeader(parseInt(tag, 16) >>> 0, attribute.vr, padded, encoding), {
        path: part.path,
        size: part.size,
        padByte: VR_INFO[attribute.vr].padByte,
      });
    }
    flush();
    pieces.unshift(encodePart10Header({ dataset: dataset as WritableDataset, transferSyntaxUid }));
  } catch (error) {
    if (error instanceof DicomWriteError) {
      throw new StowMetadataError(`Cannot store instance '${sopInstanceUid}': ${error.message}`, CANNOT_UNDERSTAND, { cause: error });
    }
    throw error;
  }

  return {
    sopClassUid,
    sopInstanceUid,
    transferSyntaxUid,
    async *part10() {
      for (const piece of pieces) {
        if (piece instanceof Uint8Array) {
          yield piece;
          continue;
        }
        for await (const chunk of createReadStream(piece.path)) yield chunk as Buffer;
        if (piece.size % 2 === 1) yield new Uint8Array([piece.padByte]);
      }
    },
  };
}

/**
 * Encodes a run of elements between streamed values. The repertoire of (0008,0005) applies to every run, so it
 * is encoded with each and its bytes cut off again where the run does not hold it: it sorts first in any run,
 * since group 0002 and group lengths are not written here.
 */
function encodeRun(run: WritableDataset, charset: WritableAttribute | undefined): Uint8Array {
  const encoding = EXPLICIT_VR_LITTLE_ENDIAN_ENCODING;
  if (!charset || run[SPECIFIC_CHARACTER_SET]) return encodeWithEncoding(run, encoding);
  const prefix = encodeWithEncoding({ [SPECIFIC_CHARACTER_SET]: charset }, encoding);
  return encodeWithEncoding({ ...run, [SPECIFIC_CHARACTER_SET]: charset }, encoding).subarray(prefix.byteLength);
}
