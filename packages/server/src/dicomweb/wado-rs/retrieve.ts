import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ExplicitVrLittleEndian } from '@atrium/dicom';
import { canTranscode, zipStream, type RetrieveScope, type ZipEntry } from '../../retrieve/index.js';
import { instanceUrl, originOf, type DicomwebContext } from '../context.js';
import { notAcceptable, notFound } from '../errors.js';
import { formatMediaType, parseAccept } from '../multipart/media-type.js';
import { closeDelimiter, newBoundary, partHead, writeMultipart } from '../multipart/multipart-writer.js';

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
  const store = archive.store;
  async function* parts(): AsyncGenerator<PooledPart> {
    const refs = archive.retrieve.withStoredBytes(archive.retrieve.instances(scope), { wanted: asStored, reusable: true });
    for await (const { item: ref, bytes } of refs) {
      let transferSyntaxUid = ref.transferSyntaxUid;
      let body: Uint8Array[] | AsyncIterable<Uint8Array>;
      let size: number | undefined = ref.size;
      let pooled = false;
      if (bytes) {
        body = [bytes];
        pooled = true;
      } else if (asStored(ref)) {
        // Large, sent as stored: 1 MiB buffers from the store's pool, given back once written.
        body = archive.retrieve.storedChunks(ref, { reusable: true });
        pooled = true;
      } else {
        const result = await transcoder.transcode(ref, targets);
        ({ transferSyntaxUid, size } = result);
        body = result.stream;
      }
      const headers: Record<string, string> = {
        'Content-Type': formatMediaType('application/dicom', { 'transfer-syntax': transferSyntaxUid }),
        'Content-Location': instanceUrl(origin, ref.studyInstanceUid, ref.seriesInstanceUid, ref.sopInstanceUid),
      };
      if (size !== undefined) headers['Content-Length'] = String(size);
      yield { headers, body, pooled };
    }
  }
  const boundary = newBoundary();
  const type = formatMediaType('multipart/related', { type: 'application/dicom', boundary });
  if (request.method === 'HEAD') return reply.type(type).send(writeMultipart([], boundary));
  return writePooledMultipart(reply, type, parts(), boundary, (chunk) => store.recycle?.(chunk));
}

/** A part whose body buffers, when `pooled`, go back to the store once written. */
interface PooledPart {
  headers: Record<string, string>;
  body: Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
  pooled: boolean;
}

/**
 * Writes a multipart body straight to the response (the reply hijacked), so that each buffer of a pooled part goes
 * back to the store's pool (`recycle`) once its write has completed: a study retrieve then reuses a few megabytes
 * instead of making new buffers for every instance, which made V8 run a full collection every few retrieves (one or
 * two per retrieve of the 53 MB benchmark study). Backpressure as with a pipe: past `RESPONSE_BUFFER_BYTES` not yet
 * taken by the socket, it waits for 'drain'; a client that goes away stops the reading. The headers fastify's hooks
 * set (CORS) are kept; an error after the first byte ends the connection, as a piped stream's would.
 */
async function writePooledMultipart(
  reply: FastifyReply,
  type: string,
  parts: AsyncIterable<PooledPart>,
  boundary: string,
  recycle: (chunk: Uint8Array) => void,
): Promise<FastifyReply> {
  reply.hijack();
  const response = reply.raw;
  const headers: Record<string, string | number | string[]> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value;
  headers['content-type'] = type;
  response.writeHead(200, headers);
  let gone = false;
  let wake: (() => void) | undefined;
  const onGone = () => {
    gone = true;
    wake?.();
  };
  response.on('close', onGone);
  // Waits on the socket itself: a response emits 'drain' only when its server wired the socket to it.
  const drained = (socket: NonNullable<typeof response.socket>) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      socket.once('drain', resolve);
    }).finally(() => {
      if (wake) socket.off('drain', wake);
      wake = undefined;
    });
  const giveBack = (chunk: Uint8Array) => (error?: Error | null) => {
    // A failed write may still hold the buffer: it is left to the garbage collector.
    if (!error) recycle(chunk);
  };
  let count = 0;
  try {
    for await (const part of parts) {
      if (gone) break;
      response.cork();
      response.write(partHead(boundary, part.headers, count === 0));
      count++;
      for await (const chunk of part.body) {
        if (part.pooled) response.write(chunk, giveBack(chunk));
        else response.write(chunk);
        // The response's own length: from Node 22 a corked response holds its chunks itself (sent as one HTTP chunk
        // at uncork), so the socket's length stays near zero however much is waiting.
        const socket = response.socket;
        if (socket && response.writableLength > RESPONSE_BUFFER_BYTES) {
          response.uncork();
          if (socket.writableNeedDrain) await drained(socket);
          if (gone) break;
          response.cork();
        }
      }
      response.uncork();
      if (gone) break;
    }
    if (!gone) response.end(closeDelimiter(boundary, count === 0));
  } catch (error) {
    reply.log.warn({ err: error }, 'Study retrieve failed after the response started');
    response.destroy(error as Error);
  } finally {
    response.off('close', onGone);
  }
  return reply;
}
