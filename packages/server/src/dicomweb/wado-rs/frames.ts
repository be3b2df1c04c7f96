import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ExplicitVrLittleEndian, ImplicitVrLittleEndian, DeflatedExplicitVrLittleEndian } from '@atrium/dicom';
import {
  DECODABLE_TRANSFER_SYNTAXES,
  ENCODABLE_TRANSFER_SYNTAXES,
  openRecordedRange,
  pixelModuleOf,
  readFrame,
  type InstanceLayout,
  type PixelModule,
} from '../../retrieve/index.js';
import type { DicomwebContext } from '../context.js';
import { badRequest, notAcceptable, notFound } from '../errors.js';
import { formatMediaType } from '../multipart/media-type.js';
import { newBoundary, writeMultipart, type OutgoingPart } from '../multipart/multipart-writer.js';
import { pixelChoicesOf, pixelMediaTypeOf, type PixelChoice } from './pixel-media-types.js';

/** Little endian native syntaxes: their frames are the same bytes (deflate is undone when frames are read). */
const NATIVE_LE = new Set([ImplicitVrLittleEndian, ExplicitVrLittleEndian, DeflatedExplicitVrLittleEndian]);

export interface FramesParams {
  study: string;
  series: string;
  instance: string;
  frames: string;
}

/** Parses a frame list (`1`, `1,3,5`): 1-based, positive integers (PS3.18 §8.3.4). */
export function parseFrameList(text: string): number[] {
  const numbers = text.split(',').map((s) => s.trim());
  if (numbers.length === 0 || numbers.some((n) => !/^[1-9][0-9]{0,8}$/.test(n))) {
    throw badRequest(`Cannot read frame list '${text}': expected comma-separated frame numbers from 1`);
  }
  return numbers.map(Number);
}

/** How the frames will be sent. */
interface FramePlan {
  mediaType: string;
  /** The syntax named in the part's Content-Type. */
  transferSyntaxUid: string;
  /** Convert from the stored syntax in a worker. */
  transcode: boolean;
  singlePart: boolean;
}

function planFor(layout: InstanceLayout, choice: PixelChoice): FramePlan | undefined {
  const stored = layout.transferSyntaxUid;
  const storedType = pixelMediaTypeOf(stored);
  const octet = choice.mediaType === 'application/octet-stream';
  const asStored = { mediaType: octet ? 'application/octet-stream' : storedType, transferSyntaxUid: stored, transcode: false, singlePart: choice.singlePart };
  if (choice.transferSyntaxUid === '*') return octet || choice.mediaType === storedType ? asStored : undefined;
  if (choice.transferSyntaxUid === stored) return octet || choice.mediaType === storedType ? asStored : undefined;
  if (NATIVE_LE.has(stored) && NATIVE_LE.has(choice.transferSyntaxUid) && octet) {
    return { ...asStored, transferSyntaxUid: choice.transferSyntaxUid };
  }
  if (DECODABLE_TRANSFER_SYNTAXES.has(stored) && ENCODABLE_TRANSFER_SYNTAXES.has(choice.transferSyntaxUid)) {
    const targetType = pixelMediaTypeOf(choice.transferSyntaxUid);
    if (octet || choice.mediaType === targetType) {
      return { mediaType: choice.mediaType, transferSyntaxUid: choice.transferSyntaxUid, transcode: true, singlePart: choice.singlePart };
    }
  }
  return undefined;
}

/**
 * WADO-RS frames (PS3.18 §10.4.1.1.4): `GET .../instances/{sop}/frames/{list}`. Each frame is read by the byte
 * offsets recorded at ingest (a native frame is one range of the blob; an encapsulated frame is its fragments),
 * sent as stored when the client accepts it (`transfer-syntax=*` or the stored syntax), otherwise converted in the
 * codec workers. Parts are produced one at a time as the client reads.
 */
export function registerFrames(app: FastifyInstance, context: DicomwebContext): void {
  app.get('/studies/:study/series/:series/instances/:instance/frames/:frames', (request: FastifyRequest<{ Params: FramesParams }>, reply) =>
    sendFrames(request, reply, context),
  );
}

async function sendFrames(request: FastifyRequest<{ Params: FramesParams }>, reply: FastifyReply, context: DicomwebContext): Promise<FastifyReply> {
  const { study, series, instance } = request.params;
  const numbers = parseFrameList(request.params.frames);
  const { archive, transcoder } = context;
  const layout = await archive.retrieve.layout(study, series, instance);
  if (!layout) throw notFound(`Cannot retrieve frames of instance '${instance}': it is not stored in series '${series}' of study '${study}'`);
  if (layout.frames.length === 0) throw notFound(`Cannot retrieve frames of instance '${instance}': it has no pixel data`);
  const missing = numbers.find((n) => n > layout.frames.length);
  if (missing !== undefined) {
    throw notFound(`Cannot retrieve frame ${missing} of instance '${instance}': it has ${layout.frames.length} frame${layout.frames.length === 1 ? '' : 's'}`);
  }
  const choices = pixelChoicesOf(request.headers.accept).filter((c) => !c.singlePart || numbers.length === 1);
  let plan: FramePlan | undefined;
  for (const choice of choices) if ((plan = planFor(layout, choice))) break;
  if (!plan) {
    throw notAcceptable(
      `Cannot send frames of instance '${instance}' as '${String(request.headers.accept)}': it is stored in '${layout.transferSyntaxUid}' and cannot be converted to what is accepted`,
    );
  }
  const chosen = plan;
  const contentType = formatMediaType(chosen.mediaType, { 'transfer-syntax': chosen.transferSyntaxUid });
  let module: Promise<PixelModule> | undefined;
  const frameBytes = async (n: number): Promise<Uint8Array> => {
    const bytes = await readFrame(archive.store, layout, layout.frames[n - 1]!);
    if (!chosen.transcode) return bytes;
    module ??= archive.archive.getInstanceMetadata(instance).then((meta) => pixelModuleOf(archive.store, meta!));
    const out = await transcoder.transcodeFrames(await module, layout.transferSyntaxUid, [bytes], chosen.transferSyntaxUid);
    return out.frames[0]!;
  };
  // A frame sent as stored in one piece (every native frame, single-fragment encapsulated ones) streams straight
  // from its byte range: no copy on the way.
  const framePart = async (n: number): Promise<{ body: Uint8Array | Readable; length: number }> => {
    const fragments = layout.frames[n - 1]!.fragments;
    if (!chosen.transcode && !layout.deflated && fragments.length === 1) {
      const { offset, length } = fragments[0]!;
      return { body: await openRecordedRange(archive.store, layout, offset, length), length };
    }
    const bytes = await frameBytes(n);
    return { body: bytes, length: bytes.byteLength };
  };
  if (chosen.singlePart) {
    const { body, length } = await framePart(numbers[0]!);
    reply.header('Content-Length', length).type(contentType);
    return body instanceof Uint8Array ? reply.send(Buffer.from(body.buffer, body.byteOffset, body.byteLength)) : reply.send(body);
  }
  const boundary = newBoundary();
  if (numbers.length === 1) {
    // One frame (what viewers ask, frame by frame): the whole body in one buffer with a Content-Length, which
    // spares chunked encoding and the stream machinery; a frame is bounded by the object size anyway.
    const bytes = await frameBytes(numbers[0]!);
    const head = Buffer.from(`--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Length: ${bytes.byteLength}\r\n\r\n`, 'latin1');
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
    return reply
      .type(formatMediaType('multipart/related', { type: chosen.mediaType, 'transfer-syntax': chosen.transferSyntaxUid, boundary }))
      .send(Buffer.concat([head, bytes, tail]));
  }
  async function* parts(): AsyncGenerator<OutgoingPart> {
    for (const n of numbers) {
      const { body, length } = await framePart(n);
      yield { headers: { 'Content-Type': contentType, 'Content-Length': String(length) }, body };
    }
  }
  return reply
    .type(formatMediaType('multipart/related', { type: chosen.mediaType, 'transfer-syntax': chosen.transferSyntaxUid, boundary }))
    .send(writeMultipart(parts(), boundary));
}
