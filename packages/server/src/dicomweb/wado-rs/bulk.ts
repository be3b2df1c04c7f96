import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ExplicitVrBigEndian, ExplicitVrLittleEndian, ImplicitVrLittleEndian, PixelDataTag, tagToHex } from '@atrium/dicom';
import { byteSwapUnit, openRecordedRange, readFrame, swapByteOrder } from '../../retrieve/index.js';
import type { DicomwebContext } from '../context.js';
import { DicomwebError, notAcceptable, notFound } from '../errors.js';
import { formatMediaType } from '../multipart/media-type.js';
import { newBoundary, writeMultipart, type OutgoingPart } from '../multipart/multipart-writer.js';
import { pixelChoicesOf, pixelMediaTypeOf, type PixelChoice } from './pixel-media-types.js';

interface Params {
  study: string;
  series: string;
  instance: string;
  '*': string;
}

/** A single byte range `bytes=a-b`, `bytes=a-`, `bytes=-n` (RFC 9110 §14.1.2), resolved against `length`. */
export function parseByteRange(header: string, length: number): { start: number; end: number } {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const unsatisfiable = (why: string) =>
    new DicomwebError(`Cannot serve range '${header}': ${why}`, 'ATRIUM_ERR_DICOMWEB_RANGE', 416);
  if (!m || (m[1] === '' && m[2] === '')) throw unsatisfiable('only one range of the form bytes=first-last is supported');
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    start = Math.max(0, length - suffix);
    end = length - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? length - 1 : Math.min(Number(m[2]), length - 1);
  }
  if (start > end || start >= length) throw unsatisfiable(`the value has ${length} bytes`);
  return { start, end };
}

/**
 * WADO-RS bulk data (PS3.18 §10.4.1.1.5): the value behind a BulkDataURI of the metadata, read as the byte range
 * recorded at ingest, as `multipart/related; type="application/octet-stream"` or a bare octet-stream. A `Range`
 * header selects part of the value (206). Encapsulated Pixel Data is sent as its frames, one part each. Values of
 * a big endian instance are sent in little endian unless the client accepts them as stored (`transfer-syntax=*`
 * or Explicit VR Big Endian); every part names its syntax.
 */
export function registerBulk(app: FastifyInstance, context: DicomwebContext): void {
  app.get('/studies/:study/series/:series/instances/:instance/bulk/*', (request: FastifyRequest<{ Params: Params }>, reply) =>
    sendBulk(request, reply, context),
  );
}

/** Syntaxes a native bulk data value can be labelled with: the little endian ones, whose value bytes are the same. */
const LITTLE_ENDIAN = new Set([ExplicitVrLittleEndian, ImplicitVrLittleEndian]);

/**
 * How a native value is sent for what the client accepts (PS3.18 §8.7.3.5.2: Explicit VR Little Endian unless
 * another syntax is asked): the transfer syntax named in the part header, and whether big endian numbers are
 * swapped. Undefined when nothing acceptable can be produced.
 */
function nativePlan(stored: string, choices: readonly PixelChoice[]): { choice: PixelChoice; transferSyntaxUid: string; swap: boolean } | undefined {
  const bigEndian = stored === ExplicitVrBigEndian;
  for (const choice of choices) {
    const asked = choice.transferSyntaxUid;
    if (choice.mediaType !== 'application/octet-stream' && asked !== '*') continue;
    if (asked === '*') return { choice, transferSyntaxUid: bigEndian ? ExplicitVrBigEndian : LITTLE_ENDIAN.has(stored) ? stored : ExplicitVrLittleEndian, swap: false };
    if (LITTLE_ENDIAN.has(asked)) return { choice, transferSyntaxUid: asked, swap: bigEndian };
    if (bigEndian && asked === ExplicitVrBigEndian) return { choice, transferSyntaxUid: asked, swap: false };
  }
  return undefined;
}

async function sendBulk(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, context: DicomwebContext): Promise<FastifyReply> {
  const { study, series, instance } = request.params;
  const path = request.params['*'].toUpperCase();
  const { archive } = context;
  const meta = await archive.archive.getInstanceMetadata(instance);
  if (!meta || meta.studyInstanceUid !== study || meta.seriesInstanceUid !== series) {
    throw notFound(`Cannot retrieve bulk data of instance '${instance}': it is not stored in series '${series}' of study '${study}'`);
  }
  const choices = pixelChoicesOf(request.headers.accept);
  const boundary = newBoundary();

  if (path === tagToHex(PixelDataTag) && meta.pixelData?.encapsulated) {
    const choice = choices.find((c) => c.mediaType === 'application/octet-stream' || c.transferSyntaxUid === '*');
    if (!choice) throw notAcceptable(`Cannot send bulk data as '${String(request.headers.accept)}': it is sent as application/octet-stream`);
    const type = pixelMediaTypeOf(meta.transferSyntaxUid);
    const partType = formatMediaType(choice.mediaType === 'application/octet-stream' ? 'application/octet-stream' : type, {
      'transfer-syntax': meta.transferSyntaxUid,
    });
    async function* frames(): AsyncGenerator<OutgoingPart> {
      for (const frame of meta!.frames) {
        const body = await readFrame(archive.store, meta!, frame);
        yield { headers: { 'Content-Type': partType, 'Content-Length': String(body.length) }, body };
      }
    }
    return reply.type(formatMediaType('multipart/related', { type: 'application/octet-stream', boundary })).send(writeMultipart(frames(), boundary));
  }

  const ref = meta.bulkData.find((r) => r.path === path);
  if (!ref || ref.length === undefined) throw notFound(`Cannot retrieve bulk data '${path}' of instance '${instance}': no such bulk data value`);
  const plan = nativePlan(meta.transferSyntaxUid, choices);
  if (!plan) {
    throw notAcceptable(
      `Cannot send bulk data of instance '${instance}' as '${String(request.headers.accept)}': it is stored in '${meta.transferSyntaxUid}' and sent as application/octet-stream in little endian or as stored`,
    );
  }
  let start = 0;
  let end = ref.length - 1;
  const range = request.headers.range;
  if (range !== undefined) ({ start, end } = parseByteRange(range, ref.length));
  const length = Math.max(0, end - start + 1);
  let body: Readable;
  if (plan.swap) {
    // Big endian numbers are swapped whole: the read covers the numbers the range touches, then is cut to it.
    const unit = byteSwapUnit(ref.vr);
    const from = start - (start % unit);
    const to = Math.min(ref.length, end + 1 + ((unit - ((end + 1) % unit)) % unit));
    const swapped = swapByteOrder(await openRecordedRange(archive.store, meta, ref.offset + from, to - from), unit);
    body = Readable.from(cut(swapped, start - from, length));
  } else {
    body = await openRecordedRange(archive.store, meta, ref.offset + start, length);
  }
  const partType = formatMediaType('application/octet-stream', { 'transfer-syntax': plan.transferSyntaxUid });
  const contentRange = range !== undefined ? `bytes ${start}-${end}/${ref.length}` : undefined;
  reply.header('Accept-Ranges', 'bytes');
  if (range !== undefined) reply.code(206);
  if (plan.choice.singlePart) {
    if (contentRange) reply.header('Content-Range', contentRange);
    return reply.header('Content-Length', length).type(partType).send(body);
  }
  const headers: Record<string, string> = { 'Content-Type': partType, 'Content-Length': String(length) };
  if (contentRange) headers['Content-Range'] = contentRange;
  return reply
    .type(formatMediaType('multipart/related', { type: 'application/octet-stream', boundary }))
    .send(writeMultipart([{ headers, body }], boundary));
}

/** `length` bytes of a stream after skipping `skip`. */
async function* cut(source: AsyncIterable<Buffer>, skip: number, length: number): AsyncGenerator<Buffer> {
  let position = 0;
  const end = skip + length;
  for await (const chunk of source) {
    const from = Math.max(skip - position, 0);
    const to = Math.min(end - position, chunk.length);
    if (to > from) yield chunk.subarray(from, to);
    position += chunk.length;
    if (position >= end) return;
  }
}
