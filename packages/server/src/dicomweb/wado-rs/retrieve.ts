import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ExplicitVrLittleEndian } from '@atrium/dicom';
import { canTranscode, zipStream, type RetrieveScope, type ZipEntry } from '../../retrieve/index.js';
import { instanceUrl, originOf, type DicomwebContext } from '../context.js';
import { notAcceptable, notFound } from '../errors.js';
import { formatMediaType, parseAccept } from '../multipart/media-type.js';
import { newBoundary, writeMultipart, type OutgoingPart } from '../multipart/multipart-writer.js';

/**
 * Bytes of a study retrieve taken ahead of the client (1 MiB): small instances then reach the socket many to a
 * write (a 39 kB CT slice each was one write of its own), and memory per response stays bounded.
 */
const RESPONSE_BUFFER_BYTES = 1024 * 1024;

interface Params {
  study: string;
  series?: string;
  instance?: string;
}

/** What an instance retrieve accepts: transfer syntaxes in preference order, and in which form. */
export interface InstanceAccept {
  transferSyntaxes: string[];
  /** `multipart/related` (the default form), a bare `application/dicom` (one instance), or `application/zip`. */
  form: 'multipart' | 'single' | 'zip';
}

/**
 * Reads the Accept header of a study, series or instance retrieve (PS3.18 §8.7.3.5.2): `multipart/related;
 * type="application/dicom"` with an optional `transfer-syntax` (absent means Explicit VR Little Endian; `*` means
 * as stored). A bare `application/dicom` is accepted for a single instance, and `application/zip` (a ZIP of Part 10
 * files, §8.7.3.4) at every level, with the same `transfer-syntax` rule. The form is the one of the client's most
 * preferred range that Atrium serves. Undefined when nothing fits.
 */
export function instanceAcceptOf(accept: string | string[] | undefined, singleInstance: boolean): InstanceAccept | undefined {
  const transferSyntaxes: string[] = [];
  let form: InstanceAccept['form'] | undefined;
  for (const range of parseAccept(accept)) {
    const ts = range.parameters['transfer-syntax'] ?? ExplicitVrLittleEndian;
    let rangeForm: InstanceAccept['form'] | undefined;
    if (range.essence === 'multipart/related') {
      const type = range.parameters.type?.toLowerCase();
      if (type !== undefined && type !== 'application/dicom' && type !== '*/*' && type !== 'application/*') continue;
      rangeForm = 'multipart';
    } else if (range.essence === '*/*') rangeForm = 'multipart';
    else if (range.essence === 'application/dicom' && singleInstance) rangeForm = 'single';
    else if (range.essence === 'application/zip') rangeForm = 'zip';
    if (rangeForm === undefined) continue;
    form ??= rangeForm;
    // Syntaxes of ranges in another form do not apply to the form chosen.
    if (rangeForm === form) transferSyntaxes.push(ts);
  }
  if (form === undefined) return undefined;
  return { transferSyntaxes, form };
}

/**
 * WADO-RS retrieve of a study, a series or an instance (PS3.18 §10.4.1.1.1) as `multipart/related;
 * type="application/dicom"` or as `application/zip` (`<series UID>/<SOP instance UID>.dcm` entries): instances are opened one after the other as the client reads, each streamed from
 * the blob store (bounded memory whatever the study size; small ones read a few ahead, `withStoredBytes`) or, when its stored syntax is not acceptable,
 * transcoded in the worker pool. The response is refused with 406 before the first byte when some instance in
 * scope cannot be produced in any accepted syntax.
 */
export function registerRetrieve(app: FastifyInstance, context: DicomwebContext): void {
  const handler = (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => retrieve(request, reply, context);
  app.get('/studies/:study', handler);
  app.get('/studies/:study/series/:series', handler);
  app.get('/studies/:study/series/:series/instances/:instance', handler);
}

async function retrieve(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, context: DicomwebContext): Promise<FastifyReply> {
  const { study, series, instance } = request.params;
  const { archive, transcoder } = context;
  const scope: RetrieveScope = {
    studyInstanceUid: study,
    ...(series !== undefined ? { seriesInstanceUid: series } : {}),
    ...(instance !== undefined ? { sopInstanceUids: [instance] } : {}),
  };
  const what = instance ? `instance '${instance}'` : series ? `series '${series}'` : `study '${study}'`;
  const accept = instanceAcceptOf(request.headers.accept, instance !== undefined);
  if (!accept) {
    throw notAcceptable(`Cannot send ${what} as '${String(request.headers.accept)}': instances are sent as multipart/related; type="application/dicom" or application/zip`);
  }
  const stored = await archive.retrieve.transferSyntaxes(scope);
  if (stored.length === 0) throw notFound(`Cannot retrieve ${what}: it is not stored`);
  const targets = accept.transferSyntaxes;
  for (const ts of stored) {
    if (!targets.includes('*') && !targets.some((t) => canTranscode(ts, t, true) || canTranscode(ts, t, false))) {
      throw notAcceptable(`Cannot send ${what} in ${targets.map((t) => `'${t}'`).join(', ')}: instances stored in '${ts}' cannot be converted to it`);
    }
  }
  const origin = originOf(request);
  // Instances sent as stored are read a few ahead (bounded), the others converted when reached.
  const asStored = (ref: { transferSyntaxUid: string }) => targets.includes('*') || targets.includes(ref.transferSyntaxUid);
  if (accept.form === 'zip') {
    const entries = async function* (): AsyncGenerator<ZipEntry> {
      for await (const { item: ref, bytes } of archive.retrieve.withStoredBytes(archive.retrieve.instances(scope), { wanted: asStored })) {
        const name = `${ref.seriesInstanceUid}/${ref.sopInstanceUid}.dcm`;
        yield { name, open: async () => (bytes ? Readable.from([bytes]) : (await transcoder.transcode(ref, targets)).stream) };
      }
    };
    return reply.type('application/zip').send(Readable.from(zipStream(entries())));
  }
  if (accept.form === 'single') {
    for await (const ref of archive.retrieve.instances(scope)) {
      const result = await transcoder.transcode(ref, targets);
      if (result.size !== undefined) reply.header('Content-Length', result.size);
      return reply.type(formatMediaType('application/dicom', { 'transfer-syntax': result.transferSyntaxUid })).send(result.stream);
    }
  }
  async function* parts(): AsyncGenerator<OutgoingPart> {
    for await (const { item: ref, bytes } of archive.retrieve.withStoredBytes(archive.retrieve.instances(scope), { wanted: asStored })) {
      const result = bytes
        ? { transferSyntaxUid: ref.transferSyntaxUid, stream: bytes, size: bytes.length }
        : await transcoder.transcode(ref, targets);
      const headers: Record<string, string> = {
        'Content-Type': formatMediaType('application/dicom', { 'transfer-syntax': result.transferSyntaxUid }),
        'Content-Location': instanceUrl(origin, ref.studyInstanceUid, ref.seriesInstanceUid, ref.sopInstanceUid),
      };
      if (result.size !== undefined) headers['Content-Length'] = String(result.size);
      yield { headers, body: result.stream };
    }
  }
  const boundary = newBoundary();
  const body = writeMultipart(parts(), boundary, { highWaterMark: RESPONSE_BUFFER_BYTES });
  return reply.type(formatMediaType('multipart/related', { type: 'application/dicom', boundary })).send(body);
}
