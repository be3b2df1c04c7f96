import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PixelDataTag, tagToHex } from '@atrium/dicom';
import { openRecordedRange, readFrame } from '../../retrieve/index.js';
import type { DicomwebContext } from '../context.js';
import { DicomwebError, notAcceptable, notFound } from '../errors.js';
import { formatMediaType } from '../multipart/media-type.js';
import { newBoundary, writeMultipart, type OutgoingPart } from '../multipart/multipart-writer.js';
import { pixelChoicesOf, pixelMediaTypeOf } from './pixel-media-types.js';

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
 * header selects part of the value (206). Encapsulated Pixel Data is sent as its frames, one part each.
 */
export function registerBulk(app: FastifyInstance, context: DicomwebContext): void {
  app.get('/studies/:study/series/:series/instances/:instance/bulk/*', (request: FastifyRequest<{ Params: Params }>, reply) =>
    sendBulk(request, reply, context),
  );
}

async function sendBulk(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, context: DicomwebContext): Promise<FastifyReply> {
  const { study, series, instance } = request.params;
  const path = request.params['*'].toUpperCase();
  const { archive } = context;
  const meta = await archive.archive.getInstanceMetadata(instance);
  if (!meta || meta.studyInstanceUid !== study || meta.seriesInstanceUid !== series) {
    throw notFound(`Cannot retrieve bulk data of instance '${instance}': it is not stored in series '${series}' of study '${study}'`);
  }
  const choice = pixelChoicesOf(request.headers.accept).find((c) => c.mediaType === 'application/octet-stream' || c.transferSyntaxUid === '*');
  if (!choice) throw notAcceptable(`Cannot send bulk data as '${String(request.headers.accept)}': it is sent as application/octet-stream`);
  const boundary = newBoundary();

  if (path === tagToHex(PixelDataTag) && meta.pixelData?.encapsulated) {
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
  let start = 0;
  let end = ref.length - 1;
  const range = request.headers.range;
  if (range !== undefined) ({ start, end } = parseByteRange(range, ref.length));
  const length = Math.max(0, end - start + 1);
  const body = await openRecordedRange(archive.store, meta, ref.offset + start, length);
  const contentRange = range !== undefined ? `bytes ${start}-${end}/${ref.length}` : undefined;
  reply.header('Accept-Ranges', 'bytes');
  if (range !== undefined) reply.code(206);
  if (choice.singlePart) {
    if (contentRange) reply.header('Content-Range', contentRange);
    return reply.header('Content-Length', length).type('application/octet-stream').send(body);
  }
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(length) };
  if (contentRange) headers['Content-Range'] = contentRange;
  return reply
    .type(formatMediaType('multipart/related', { type: 'application/octet-stream', boundary }))
    .send(writeMultipart([{ headers, body }], boundary));
}
