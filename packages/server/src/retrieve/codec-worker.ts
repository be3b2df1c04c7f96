// A piscina worker: every pixel codec (dcmjs-codecs, dcmjs-imaging WebAssembly) runs here, never on the event loop
// of the server. Tasks and results are plain structured-cloneable objects; see codec-tasks.ts.
import { createRequire } from 'node:module';
import type { DicomJsonDataset } from '@atrium/dicom';
import type { CodecResult, CodecTask, PixelModule } from './codec-tasks.js';

const require = createRequire(import.meta.url);

interface NaturalizedDataset {
  [keyword: string]: unknown;
}
interface TranscoderLike {
  getTransferSyntaxUid(): string;
  transcode(transferSyntaxUid: string, parameters?: Record<string, unknown>): void;
  getElements(): NaturalizedDataset;
  getDicomDataset(writeOptions?: Record<string, unknown>): ArrayBuffer;
}
interface DicomImageLike {
  render(opts: { frame?: number; windowLevel?: unknown }): { width: number; height: number; pixels: ArrayBuffer };
}
interface Logger {
  setLevel(level: string): void;
  getLogger(name: string): Logger;
}

// These packages ship CommonJS bundles (and dcmjs no types): loaded through require with the narrow shapes above.
const codecs = require('dcmjs-codecs') as {
  NativeCodecs: { initializeAsync(opts?: object): Promise<void> };
  Transcoder: new (elementsOrBuffer: NaturalizedDataset | ArrayBuffer, transferSyntaxUid?: string) => TranscoderLike;
  log: Logger;
};
const imaging = require('dcmjs-imaging') as {
  NativePixelDecoder: { initializeAsync(opts?: object): Promise<void> };
  DicomImage: new (elements: NaturalizedDataset, transferSyntaxUid: string) => DicomImageLike;
  WindowLevel: new (window: number, level: number) => unknown;
  log: Logger;
};
const dcmjs = require('dcmjs') as {
  data: {
    DicomMetaDictionary: {
      naturalizeDataset(dataset: object): NaturalizedDataset;
    };
  };
  log: Logger;
};

// The libraries log every private tag they cannot name; a worker has no one to tell.
// dcmjs's validation logger (implicit VR tags of ambiguous VR) was made before the root level changes and keeps its own.
for (const log of [codecs.log, imaging.log, dcmjs.log, dcmjs.log.getLogger('validation.dcmjs')]) log.setLevel('silent');
// Worker start-up: the WebAssembly modules load once per worker thread, before the first task. (Not a top-level
// await: piscina may load this file through require(), which refuses modules with top-level await.)
const ready = Promise.all([codecs.NativeCodecs.initializeAsync(), imaging.NativePixelDecoder.initializeAsync()]);

function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ? bytes.buffer
    : (bytes.slice().buffer as ArrayBuffer);
}

/**
 * Inline binary values as dcmjs's own reader gives them: US/SS as arrays of numbers, the O* VRs as ArrayBuffers
 * (what dcmjs-imaging's LUT code expects).
 */
function inlineValues(dataset: DicomJsonDataset): DicomJsonDataset {
  const out: DicomJsonDataset = {};
  for (const [tag, attribute] of Object.entries(dataset)) {
    if (attribute.vr === 'SQ' && attribute.Value) {
      out[tag] = { vr: 'SQ', Value: (attribute.Value as DicomJsonDataset[]).map(inlineValues) };
    } else if (attribute.InlineBinary !== undefined) {
      const bytes = Buffer.from(attribute.InlineBinary, 'base64');
      if (attribute.vr === 'US' || attribute.vr === 'SS') {
        const values: number[] = [];
        for (let i = 0; i + 1 < bytes.length; i += 2) values.push(attribute.vr === 'US' ? bytes.readUInt16LE(i) : bytes.readInt16LE(i));
        out[tag] = { vr: attribute.vr, Value: values };
      } else out[tag] = attribute;
    } else out[tag] = attribute;
  }
  return out;
}

function binaryToArrayBuffers(elements: NaturalizedDataset): NaturalizedDataset {
  for (const [name, value] of Object.entries(elements)) {
    if (value && typeof value === 'object' && 'InlineBinary' in value) {
      elements[name] = arrayBufferOf(Buffer.from(String((value as { InlineBinary: string }).InlineBinary), 'base64'));
    } else if (Array.isArray(value)) {
      for (const item of value) if (item && typeof item === 'object' && !(item instanceof ArrayBuffer)) binaryToArrayBuffers(item as NaturalizedDataset);
    }
  }
  return elements;
}

/** The pixel module as dcmjs wants it: keyword names, binary values as dcmjs reads them, the frames given. */
function elementsOf(module: PixelModule, frames: readonly Uint8Array[]): NaturalizedDataset {
  const elements = binaryToArrayBuffers(dcmjs.data.DicomMetaDictionary.naturalizeDataset(inlineValues(module.dataset)));
  elements.NumberOfFrames = frames.length;
  elements.PixelData = frames.map(arrayBufferOf);
  return elements;
}

/**
 * Syntaxes dcmjs-codecs refuses by UID but decodes with another codec: its libjpeg decoder reads the process from
 * the codestream's SOF marker, so JPEG Lossless Process 14 (any predictor) and JPEG Extended 12-bit decode as
 * Process 14 SV1 (checked bit for bit against DCMTK's dcmdjpeg on the corpus files).
 */
const DECODE_AS: Readonly<Record<string, string>> = {
  '1.2.840.10008.1.2.4.57': '1.2.840.10008.1.2.4.70',
  '1.2.840.10008.1.2.4.51': '1.2.840.10008.1.2.4.70',
};

/**
 * Little endian native syntaxes. Between them only the element encoding changes: the pixel bytes are the same, so
 * no pixel codec runs. dcmjs-codecs re-encodes native pixel data only for 8 and 16 bits allocated and refuses the
 * rest, which made 1-bit Segmentations (and 32-bit images) stored in Implicit VR Little Endian unsendable to a
 * C-GET requestor that accepted only Explicit VR Little Endian (conformance check H1).
 */
const NATIVE_LITTLE_ENDIAN: ReadonlySet<string> = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.1.99']);
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** What the worker writes without a codec: the two uncompressed little endian syntaxes. */
const NATIVE_LITTLE_ENDIAN_TARGETS: ReadonlySet<string> = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1']);

/** Runs one codec task. */
export default async function run(task: CodecTask): Promise<CodecResult> {
  await ready;
  switch (task.kind) {
    case 'transcode-instance': {
      let transcoder = new codecs.Transcoder(arrayBufferOf(task.part10));
      const stored = transcoder.getTransferSyntaxUid();
      const target = task.targetTransferSyntaxUid;
      if (NATIVE_LITTLE_ENDIAN.has(stored) && NATIVE_LITTLE_ENDIAN_TARGETS.has(target)) {
        // The elements as read, written again in the target's element encoding.
        transcoder = new codecs.Transcoder(transcoder.getElements(), target);
      } else {
        const decodeAs = DECODE_AS[stored];
        if (decodeAs) transcoder = new codecs.Transcoder(transcoder.getElements(), decodeAs);
        transcoder.transcode(target, task.parameters ?? {});
      }
      // Stored values are sent as they were received, even those that break a VR's length rule (old files write
      // dates as 1996.02.16): a retrieve must not fail on what ingest accepted.
      return { kind: 'transcode-instance', dataset: new Uint8Array(transcoder.getDicomDataset({ allowInvalidVRLength: true })) };
    }
    case 'transcode-frames': {
      const source = DECODE_AS[task.transferSyntaxUid] ?? task.transferSyntaxUid;
      const transcoder = new codecs.Transcoder(elementsOf(task.module, task.frames), source);
      transcoder.transcode(task.targetTransferSyntaxUid, task.parameters ?? {});
      const out = transcoder.getElements();
      const pixelData = out.PixelData as ArrayBuffer[];
      return {
        kind: 'transcode-frames',
        frames: pixelData.map((b) => new Uint8Array(b)),
        photometricInterpretation: String(out.PhotometricInterpretation ?? ''),
      };
    }
    case 'render': {
      let elements = elementsOf(task.module, [task.frame]);
      let transferSyntaxUid = task.transferSyntaxUid;
      if (!NATIVE_LITTLE_ENDIAN.has(transferSyntaxUid)) {
        // Decoded first by dcmjs-codecs, the decoder checked against DCMTK: dcmjs-imaging's own decoders read
        // colour RLE frames as interleaved when they are planar, rendering colour clips wrong.
        const decoder = new codecs.Transcoder(elements, DECODE_AS[transferSyntaxUid] ?? transferSyntaxUid);
        decoder.transcode(EXPLICIT_VR_LITTLE_ENDIAN);
        elements = decoder.getElements();
        transferSyntaxUid = EXPLICIT_VR_LITTLE_ENDIAN;
      }
      const image = new imaging.DicomImage(elements, transferSyntaxUid);
      const windowLevel = task.window ? new imaging.WindowLevel(task.window.width, task.window.center) : undefined;
      const rendered = image.render({ frame: 0, ...(windowLevel ? { windowLevel } : {}) });
      return { kind: 'render', width: rendered.width, height: rendered.height, rgba: new Uint8Array(rendered.pixels) };
    }
  }
}
