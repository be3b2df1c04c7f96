import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { Piscina } from 'piscina';
import { encodeFileMetaInformation, encodePart10Prefix, ExplicitVrLittleEndian, measureNativeTranscode, transcodeNativeDataset, type DicomJsonDataset } from '@atrium/dicom';
import type { BlobStore } from '@atrium/store';
import type { CodecResult, CodecTask, PixelModule } from './codec-tasks.js';
import { TranscodeError } from './errors.js';
import { DECODABLE_TRANSFER_SYNTAXES, ENCODABLE_TRANSFER_SYNTAXES, NATIVE_TRANSFER_SYNTAXES } from './transfer-syntax-support.js';
import type { StoredInstanceRef } from './retrieve-service.js';
import {
  decodeJpegBaselineFrame,
  decodeJpegBaselineInstance,
  JPEG_BASELINE_DECODE_SOURCES,
  JPEG_BASELINE_DECODE_TARGETS,
  type EncapsulatedLayout,
  type JpegBaselineDecodeOptions,
} from './jpeg-baseline-decoder.js';

export interface TranscoderOptions {
  store: BlobStore;
  /** Worker threads (default: cores - 1, at least 1): codecs never run on the event loop. */
  maxThreads?: number;
  /**
   * Largest object transcoded whole, in bytes (default 1 GiB): a codec needs the pixel data in memory. Conversions
   * between native syntaxes stream and have no such limit.
   */
  maxInstanceBytes?: number;
  /** Idle workers exit after this many ms (default 30 s): each holds the codecs' WebAssembly memory. */
  idleTimeout?: number;
  /**
   * Where an instance's pixel data and frames are (`RetrieveService.pixelLayout`). With it, instances stored in
   * JPEG Baseline are decoded frame by frame as they are sent (`decodeJpegBaselineInstance`) instead of whole in
   * a worker.
   */
  pixelLayout?: (ref: Ref) => Promise<Pick<EncapsulatedLayout, 'pixelData' | 'frames'> | undefined>;
  /** Limits of the frame-by-frame JPEG Baseline decoder. */
  jpegBaseline?: JpegBaselineDecodeOptions;
}

/** What `transcode` gives: the bytes to send and the syntax they are in. */
export interface TranscodeResult {
  transferSyntaxUid: string;
  /** False when the stored bytes are sent as they are. */
  transcoded: boolean;
  /** The object (Part 10, or the bare data set when `form: 'dataset'`), streamed. */
  stream: Readable;
  /** Byte length when known in advance. */
  size?: number;
}

type Ref = Pick<StoredInstanceRef, 'blobKey' | 'transferSyntaxUid' | 'sopClassUid' | 'sopInstanceUid' | 'datasetOffset' | 'size'>;

/**
 * Transcoding and rendering in a pool of worker threads (piscina + dcmjs-codecs / dcmjs-imaging). Shared by
 * WADO-RS, WADO-URI and the DIMSE C-MOVE / C-GET SCPs: one `transcode(ref, targets)` for whole instances, and
 * frame-level `transcodeFrames` / `render` for frames and rendered images, which need only the frame asked.
 */
export class TranscoderPool {
  readonly #pool: Piscina<CodecTask, CodecResult>;
  readonly #store: BlobStore;
  readonly #maxInstanceBytes: number;
  readonly #pixelLayout: TranscoderOptions['pixelLayout'];
  readonly #jpegBaseline: JpegBaselineDecodeOptions;

  constructor(options: TranscoderOptions) {
    this.#store = options.store;
    this.#pixelLayout = options.pixelLayout;
    this.#jpegBaseline = options.jpegBaseline ?? {};
    this.#maxInstanceBytes = options.maxInstanceBytes ?? 1024 ** 3;
    const maxThreads = options.maxThreads ?? Math.max(1, availableParallelism() - 1);
    // Under tsx (tests, development) the worker is the TypeScript source; built, it is the emitted .js beside this.
    const workerFile = import.meta.url.endsWith('.ts') ? './codec-worker.ts' : './codec-worker.js';
    this.#pool = new Piscina<CodecTask, CodecResult>({
      filename: new URL(workerFile, import.meta.url).href,
      minThreads: 0,
      maxThreads,
      idleTimeout: options.idleTimeout ?? 30_000,
    });
  }

  /**
   * The instance in the first of `targets` (in the caller's order of preference) that it can be sent in: as
   * stored when that is acceptable (`*` accepts anything); between native syntaxes (Implicit, Explicit, Deflated
   * Explicit VR Little Endian, Explicit VR Big Endian) converted as it streams, on the event loop with memory of a
   * few chunks (`transcodeNativeDataset`); otherwise transcoded whole in a worker. `form: 'dataset'`
   * drops preamble and file meta information, as DIMSE sends it (PS3.7 §9.3.1). `measure: false` skips working out
   * a streamed conversion's size in advance (a second read of its headers), for callers that send no length.
   * Throws `TranscodeError` (406 / A702) when no target can be produced.
   */
  async transcode(
    ref: Ref,
    targets: readonly string[],
    options: { form?: 'part10' | 'dataset'; measure?: boolean } = {},
  ): Promise<TranscodeResult> {
    const form = options.form ?? 'part10';
    const measure = options.measure ?? true;
    const stored = ref.transferSyntaxUid;
    if (targets.includes('*') || targets.includes(stored)) {
      const start = form === 'dataset' ? ref.datasetOffset : 0;
      return { transferSyntaxUid: stored, transcoded: false, stream: await this.#store.get(ref.blobKey, { start }), size: ref.size - start };
    }
    const storedNative = NATIVE_TRANSFER_SYNTAXES.has(stored);
    const candidates = targets.filter(
      (t) =>
        (storedNative && NATIVE_TRANSFER_SYNTAXES.has(t)) ||
        (ENCODABLE_TRANSFER_SYNTAXES.has(t) && (DECODABLE_TRANSFER_SYNTAXES.has(stored) || storedNative)),
    );
    if (candidates.length === 0) {
      throw new TranscodeError(
        `Cannot send instance '${ref.sopInstanceUid}' in ${targets.map((t) => `'${t}'`).join(', ')}: it is stored in '${stored}' and no codec converts between them`,
      );
    }
    if (storedNative && NATIVE_TRANSFER_SYNTAXES.has(candidates[0]!)) return this.#transcodeNative(ref, candidates[0]!, form, measure);
    if (this.#pixelLayout && JPEG_BASELINE_DECODE_SOURCES.has(stored) && JPEG_BASELINE_DECODE_TARGETS.has(candidates[0]!)) {
      const decoded = await this.#decodeJpegBaseline(ref, candidates[0]!, form);
      if (decoded) return decoded;
    }
    if (ref.size > this.#maxInstanceBytes) {
      throw new TranscodeError(
        `Cannot transcode instance '${ref.sopInstanceUid}': its ${ref.size} bytes exceed the transcoding limit of ${this.#maxInstanceBytes} bytes`,
        { code: 'ATRIUM_ERR_RETRIEVE_TOO_LARGE' },
      );
    }
    const chunks: Buffer[] = [];
    for await (const chunk of await this.#store.get(ref.blobKey)) chunks.push(chunk as Buffer);
    const part10 = Buffer.concat(chunks);
    let lastError: unknown;
    for (const target of candidates) {
      // Reached after a codec failed on an earlier target: a native one streams without the codecs.
      if (storedNative && NATIVE_TRANSFER_SYNTAXES.has(target)) return this.#transcodeNative(ref, target, form, measure);
      try {
        const result = await this.#pool.run({ kind: 'transcode-instance', part10, targetTransferSyntaxUid: target });
        if (result.kind !== 'transcode-instance') throw new TypeError('Unexpected codec result');
        const parts: Uint8Array[] = [];
        if (form === 'part10') {
          parts.push(
            encodePart10Prefix(),
            encodeFileMetaInformation({
              mediaStorageSopClassUid: ref.sopClassUid,
              mediaStorageSopInstanceUid: ref.sopInstanceUid,
              transferSyntaxUid: target,
            }),
          );
        }
        parts.push(result.dataset);
        const size = parts.reduce((n, p) => n + p.byteLength, 0);
        return { transferSyntaxUid: target, transcoded: true, stream: Readable.from(parts), size };
      } catch (error) {
        lastError = error;
      }
    }
    throw new TranscodeError(
      `Cannot transcode instance '${ref.sopInstanceUid}' from '${stored}' to ${candidates.map((t) => `'${t}'`).join(', ')}: ${(lastError as Error)?.message ?? lastError}`,
      { cause: lastError },
    );
  }

  /** The instance decoded frame by frame as it streams; undefined when the decoder does not take it. */
  async #decodeJpegBaseline(ref: Ref, target: string, form: 'part10' | 'dataset'): Promise<TranscodeResult | undefined> {
    const pixels = await this.#pixelLayout!(ref);
    if (!pixels) return undefined;
    const prefix = [
      encodePart10Prefix(),
      encodeFileMetaInformation({ mediaStorageSopClassUid: ref.sopClassUid, mediaStorageSopInstanceUid: ref.sopInstanceUid, transferSyntaxUid: target }),
    ];
    let decoded;
    try {
      decoded = await decodeJpegBaselineInstance(this.#store, { ...ref, ...pixels }, target, form, prefix, this.#jpegBaseline);
    } catch (error) {
      throw new TranscodeError(`Cannot decode instance '${ref.sopInstanceUid}' from '${ref.transferSyntaxUid}' to '${target}': ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (!decoded) return undefined;
    return { transferSyntaxUid: target, transcoded: true, stream: Readable.from(decoded.body(), { objectMode: false }), size: decoded.size };
  }

  /**
   * A native data set re-encoded in another native syntax as it is read from the store (PS3.5 §A.1-A.3, §A.5):
   * nothing is held beyond a few chunks, so a 1 GB multi-frame costs what a small one does. The size is measured
   * first by reading the headers and seeking past long values (a few reads), except for a deflated source or
   * target, whose size is known only at the end.
   */
  async #transcodeNative(ref: Ref, target: string, form: 'part10' | 'dataset', measure: boolean): Promise<TranscodeResult> {
    const options = { sourceTransferSyntaxUid: ref.transferSyntaxUid, targetTransferSyntaxUid: target };
    // The store refuses a range that starts at the end of the object (416): a data set ending in a skipped value.
    const open = async (offset: number): Promise<AsyncIterable<Uint8Array>> =>
      ref.datasetOffset + offset >= ref.size ? Readable.from([]) : await this.#store.get(ref.blobKey, { start: ref.datasetOffset + offset });
    let datasetSize: number | undefined;
    try {
      if (measure) datasetSize = await measureNativeTranscode(open, options);
    } catch (error) {
      throw new TranscodeError(
        `Cannot transcode instance '${ref.sopInstanceUid}' from '${ref.transferSyntaxUid}' to '${target}': ${(error as Error).message}`,
        { cause: error },
      );
    }
    const header =
      form === 'part10'
        ? [
            encodePart10Prefix(),
            encodeFileMetaInformation({
              mediaStorageSopClassUid: ref.sopClassUid,
              mediaStorageSopInstanceUid: ref.sopInstanceUid,
              transferSyntaxUid: target,
            }),
          ]
        : [];
    // Opened on the first read: a stream destroyed before it is read leaves no file open.
    async function* body(): AsyncGenerator<Uint8Array> {
      yield* header;
      yield* transcodeNativeDataset(await open(0), options);
    }
    const headerSize = header.reduce((n, p) => n + p.byteLength, 0);
    return {
      transferSyntaxUid: target,
      transcoded: true,
      stream: Readable.from(body(), { objectMode: false }),
      ...(datasetSize === undefined ? {} : { size: headerSize + datasetSize }),
    };
  }

  /** Frames of one instance converted from `transferSyntaxUid` to `target` (decoded when `target` is native). */
  async transcodeFrames(
    module: PixelModule,
    transferSyntaxUid: string,
    frames: Uint8Array[],
    target: string,
  ): Promise<{ frames: Uint8Array[]; photometricInterpretation: string }> {
    if (!DECODABLE_TRANSFER_SYNTAXES.has(transferSyntaxUid) || !ENCODABLE_TRANSFER_SYNTAXES.has(target)) {
      throw new TranscodeError(`Cannot convert frames from '${transferSyntaxUid}' to '${target}': no codec converts between them`);
    }
    try {
      if (JPEG_BASELINE_DECODE_SOURCES.has(transferSyntaxUid) && JPEG_BASELINE_DECODE_TARGETS.has(target)) {
        const decoded = await this.#decodeJpegBaselineFrames(module, frames);
        if (decoded) return { frames: decoded.map((d) => d.frame), photometricInterpretation: decoded[0]!.photometricInterpretation };
      }
      const result = await this.#pool.run({ kind: 'transcode-frames', module, transferSyntaxUid, frames, targetTransferSyntaxUid: target });
      if (result.kind !== 'transcode-frames') throw new TypeError('Unexpected codec result');
      return result;
    } catch (error) {
      if (error instanceof TranscodeError) throw error;
      throw new TranscodeError(`Cannot convert frames from '${transferSyntaxUid}' to '${target}': ${(error as Error).message}`, { cause: error });
    }
  }

  /** One frame rendered to RGBA (modality LUT, VOI window or the given one, palette, photometric conversion). */
  async render(
    module: PixelModule,
    transferSyntaxUid: string,
    frame: Uint8Array,
    window?: { center: number; width: number },
  ): Promise<{ width: number; height: number; rgba: Uint8Array }> {
    try {
      // A JPEG Baseline frame is decoded here as the frames and instance retrieves decode it; the worker renders
      // the native frame.
      const decoded = JPEG_BASELINE_DECODE_SOURCES.has(transferSyntaxUid) ? await this.#decodeJpegBaselineFrames(module, [frame]) : undefined;
      const task: CodecTask = decoded
        ? {
            kind: 'render',
            module: decodedModule(module, decoded[0]!.photometricInterpretation),
            transferSyntaxUid: ExplicitVrLittleEndian,
            frame: decoded[0]!.frame,
            ...(window ? { window } : {}),
          }
        : { kind: 'render', module, transferSyntaxUid, frame, ...(window ? { window } : {}) };
      const result = await this.#pool.run(task);
      if (result.kind !== 'render') throw new TypeError('Unexpected codec result');
      return result;
    } catch (error) {
      throw new TranscodeError(`Cannot render frame in '${transferSyntaxUid}': ${(error as Error).message}`, {
        code: 'ATRIUM_ERR_RETRIEVE_RENDER',
        httpStatus: 500,
        cause: error,
      });
    }
  }

  /** The frames decoded by libjpeg-turbo (`decodeJpegBaselineFrame`), or undefined for what it leaves to the workers. */
  async #decodeJpegBaselineFrames(module: PixelModule, frames: readonly Uint8Array[]): Promise<Array<{ frame: Buffer; photometricInterpretation: string }> | undefined> {
    const decoded: Array<{ frame: Buffer; photometricInterpretation: string }> = [];
    for (const frame of frames) {
      const one = decodeJpegBaselineFrame(module, frame);
      if (!one) return undefined;
      decoded.push(await one);
    }
    return decoded;
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}

/** The Image Pixel module of a frame once decoded: the given Photometric Interpretation, colour by pixel. */
function decodedModule(module: PixelModule, photometricInterpretation: string): PixelModule {
  const dataset: DicomJsonDataset = { ...module.dataset, '00280004': { vr: 'CS', Value: [photometricInterpretation] } };
  if (dataset['00280002']?.Value?.[0] === 3) dataset['00280006'] = { vr: 'US', Value: [0] };
  return { dataset };
}
