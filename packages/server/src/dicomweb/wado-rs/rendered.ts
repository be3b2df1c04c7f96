import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { renderFrame, RENDERED_MEDIA_TYPES, type RenderOptions, type RenderedMediaType } from '../../retrieve/index.js';
import type { DicomwebContext } from '../context.js';
import { badRequest, notAcceptable, notFound, unsupportedParameter } from '../errors.js';
import { formatMediaType, parseAccept, rangeMatches } from '../multipart/media-type.js';
import { newBoundary, writeMultipart, type OutgoingPart } from '../multipart/multipart-writer.js';
import { parseFrameList } from './frames.js';

interface Params {
  study: string;
  series?: string;
  instance?: string;
  frames?: string;
}

type Query = Record<string, string | string[] | undefined>;

/** Default size of a thumbnail when the request gives no viewport. */
const THUMBNAIL_SIZE = 128;

const KNOWN_PARAMETERS = new Set(['accept', 'quality', 'viewport', 'window', 'annotation', 'charset', 'iccprofile']);

function single(query: Query, name: string): string | undefined {
  const v = query[name];
  if (Array.isArray(v)) throw badRequest(`Cannot use parameter '${name}' more than once`);
  return v;
}

function numbers(text: string, name: string): number[] {
  const values = text.split(',').map((s) => s.trim());
  if (values.some((s) => s === '' || !Number.isFinite(Number(s)))) throw badRequest(`Cannot read ${name} '${text}': expected comma-separated numbers`);
  return values.map(Number);
}

/**
 * The presentation parameters of a rendered or thumbnail request (PS3.18 §8.3.5). Unknown parameters, and known
 * ones Atrium cannot honour (annotation, an ICC profile, a non-linear VOI function), are refused with 400 rather
 * than ignored.
 */
export function renderParametersOf(query: Query, thumbnail: boolean): Omit<RenderOptions, 'mediaType'> & { accept?: string } {
  for (const name of Object.keys(query)) {
    if (!KNOWN_PARAMETERS.has(name)) throw unsupportedParameter(`Cannot use parameter '${name}': rendered resources take ${[...KNOWN_PARAMETERS].join(', ')}`);
  }
  const out: Omit<RenderOptions, 'mediaType'> & { accept?: string } = {};
  const accept = single(query, 'accept');
  if (accept !== undefined) out.accept = accept;
  const annotation = single(query, 'annotation');
  if (annotation !== undefined && annotation !== '') throw unsupportedParameter(`Cannot burn in annotation '${annotation}': Atrium renders images without annotations`);
  const icc = single(query, 'iccprofile');
  if (icc !== undefined && icc !== 'no') throw unsupportedParameter(`Cannot apply iccprofile '${icc}': only 'no' is supported`);
  const quality = single(query, 'quality');
  if (quality !== undefined) {
    const q = Number(quality);
    if (!Number.isInteger(q) || q < 1 || q > 100) throw badRequest(`Cannot use quality '${quality}': expected an integer from 1 to 100`);
    out.quality = q;
  }
  const viewport = single(query, 'viewport');
  if (viewport !== undefined) {
    const v = numbers(viewport, 'viewport');
    if ((v.length !== 2 && v.length !== 6) || v[0]! <= 0 || v[1]! <= 0 || !Number.isInteger(v[0]) || !Number.isInteger(v[1]) || v[0]! > 8192 || v[1]! > 8192) {
      throw badRequest(`Cannot use viewport '${viewport}': expected vw,vh or vw,vh,sx,sy,sw,sh with vw and vh from 1 to 8192`);
    }
    out.viewport = { width: v[0]!, height: v[1]! };
    if (v.length === 6) {
      if (v[4]! <= 0 || v[5]! <= 0) throw unsupportedParameter(`Cannot use viewport '${viewport}': flipping (negative sw or sh) is not supported`);
      out.viewport.region = { x: v[2]!, y: v[3]!, width: v[4]!, height: v[5]! };
    }
  } else if (thumbnail) out.viewport = { width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE, shrinkOnly: true };
  const window = single(query, 'window');
  if (window !== undefined) {
    const parts = window.split(',');
    const [center, width] = numbers(parts.slice(0, 2).join(','), 'window');
    const fn = (parts[2] ?? 'linear').trim().toLowerCase();
    if (parts.length < 2 || parts.length > 3 || width === undefined || width <= 0) throw badRequest(`Cannot use window '${window}': expected center,width[,function]`);
    if (fn !== 'linear' && fn !== 'linear-exact') throw unsupportedParameter(`Cannot use window function '${fn}': only linear is supported`);
    out.window = { center: center!, width };
  }
  if (thumbnail) out.quality ??= 75;
  return out;
}

/** The media type of a rendered response, from the `accept` parameter or the Accept header. */
function renderedMediaTypeOf(acceptHeader: string | string[] | undefined, acceptParam: string | undefined): { type: RenderedMediaType; multipart: boolean } {
  for (const range of parseAccept(acceptParam ?? acceptHeader)) {
    const multipart = range.essence === 'multipart/related';
    const target = multipart ? { ...range, ...splitType(range.parameters.type ?? 'image/jpeg') } : range;
    const type = RENDERED_MEDIA_TYPES.find((t) => rangeMatches(target, t));
    if (type) return { type, multipart };
  }
  throw notAcceptable(`Cannot render as '${String(acceptParam ?? acceptHeader)}': rendered images are ${RENDERED_MEDIA_TYPES.join(', ')}`);
}

function splitType(essence: string) {
  const [type = '*', subtype = '*'] = essence.toLowerCase().split('/');
  return { type, subtype, essence: `${type}/${subtype}` };
}

/**
 * WADO-RS rendered and thumbnail resources (PS3.18 §10.4.1.1.3, §10.4.1.1.6): images for people, made by
 * dcmjs-imaging in the codec workers (modality LUT, VOI window, palette) and encoded by sharp. A rendered study or
 * series is a multipart of its instances' first frames; a thumbnail is one image of a representative instance.
 */
export function registerRendered(app: FastifyInstance, context: DicomwebContext): void {
  for (const resource of ['rendered', 'thumbnail'] as const) {
    const handler = (request: FastifyRequest<{ Params: Params; Querystring: Query }>, reply: FastifyReply) =>
      rendered(request, reply, context, resource === 'thumbnail');
    app.get(`/studies/:study/${resource}`, handler);
    app.get(`/studies/:study/series/:series/${resource}`, handler);
    app.get(`/studies/:study/series/:series/instances/:instance/${resource}`, handler);
    app.get(`/studies/:study/series/:series/instances/:instance/frames/:frames/${resource}`, handler);
  }
}

async function rendered(
  request: FastifyRequest<{ Params: Params; Querystring: Query }>,
  reply: FastifyReply,
  context: DicomwebContext,
  thumbnail: boolean,
): Promise<FastifyReply> {
  const { study, series, instance, frames } = request.params;
  const parameters = renderParametersOf(request.query, thumbnail);
  const { type, multipart } = renderedMediaTypeOf(request.headers.accept, parameters.accept);
  const options: RenderOptions = { ...parameters, mediaType: type };
  const { archive, transcoder } = context;
  const frameNumbers = frames !== undefined ? parseFrameList(frames) : [1];

  const renderOne = async (sop: string, frame: number): Promise<Buffer> => {
    const meta = await archive.archive.getInstanceMetadata(sop);
    if (!meta) throw notFound(`Cannot render instance '${sop}': it is not stored`);
    if (meta.frames.length === 0) throw notFound(`Cannot render instance '${sop}': it has no pixel data`);
    return renderFrame(transcoder, archive.store, meta, frame - 1, options);
  };

  let targets: { sop: string; frame: number }[];
  if (instance !== undefined) {
    const meta = await archive.archive.getInstanceMetadata(instance);
    if (!meta || meta.studyInstanceUid !== study || meta.seriesInstanceUid !== series) {
      throw notFound(`Cannot render instance '${instance}': it is not stored in series '${series}' of study '${study}'`);
    }
    targets = frameNumbers.map((frame) => ({ sop: instance, frame }));
  } else if (thumbnail) {
    const representative = await archive.retrieve.representative(study, series);
    if (!representative) throw notFound(`Cannot make a thumbnail of ${series ? `series '${series}'` : `study '${study}'`}: it has no image`);
    targets = [{ sop: representative.sopInstanceUid, frame: 1 }];
  } else {
    const images = [];
    for await (const ref of archive.retrieve.instances({ studyInstanceUid: study, ...(series ? { seriesInstanceUid: series } : {}) })) {
      if ((ref.numberOfFrames ?? 1) > 0) images.push({ sop: ref.sopInstanceUid, frame: 1 });
    }
    if (images.length === 0) throw notFound(`Cannot render ${series ? `series '${series}'` : `study '${study}'`}: it is not stored`);
    targets = images;
  }

  if (targets.length === 1 && !multipart) {
    const image = await renderOne(targets[0]!.sop, targets[0]!.frame);
    return reply.type(type).header('Content-Length', image.length).send(image);
  }
  if (thumbnail) throw notAcceptable('Cannot send a thumbnail as multipart/related: a thumbnail is one image');
  async function* parts(): AsyncGenerator<OutgoingPart> {
    for (const t of targets) {
      try {
        const body = await renderOne(t.sop, t.frame);
        yield { headers: { 'Content-Type': type, 'Content-Length': String(body.length) }, body };
      } catch (error) {
        // Objects without pixel data (SR, waveforms) have no rendered frame in a series or study response.
        if ((error as { httpStatus?: number }).httpStatus === 404 && targets.length > 1) continue;
        throw error;
      }
    }
  }
  const boundary = newBoundary();
  return reply.type(formatMediaType('multipart/related', { type, boundary })).send(writeMultipart(parts(), boundary));
}
