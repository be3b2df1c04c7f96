import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ExplicitVrLittleEndian } from '@atrium/dicom';
import { renderFrame, RENDERED_MEDIA_TYPES, type RenderOptions, type RenderedMediaType } from '../../retrieve/index.js';
import type { DicomwebContext } from '../context.js';
import { badRequest, notAcceptable, notFound, unsupportedParameter } from '../errors.js';
import { formatMediaType, parseMediaType } from '../multipart/media-type.js';

type Query = Record<string, string | string[] | undefined>;

const PARAMETERS = new Set([
  'requestType', 'studyUID', 'seriesUID', 'objectUID', 'contentType', 'charset', 'anonymize', 'annotation', 'rows',
  'columns', 'region', 'windowCenter', 'windowWidth', 'frameNumber', 'imageQuality', 'presentationUID',
  'presentationSeriesUID', 'transferSyntax',
]);

function one(query: Query, name: string): string | undefined {
  const v = query[name];
  if (Array.isArray(v)) throw badRequest(`Cannot use WADO-URI parameter '${name}' more than once`);
  return v === '' ? undefined : v;
}

function positiveInt(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9][0-9]{0,5}$/.test(text)) throw badRequest(`Cannot use ${name} '${text}': expected a positive integer`);
  return Number(text);
}

/**
 * WADO-URI (PS3.18 chapter 9) at `/wado`: `requestType=WADO&studyUID&seriesUID&objectUID` with `contentType`
 * `application/dicom` (the object, in `transferSyntax` or Explicit VR Little Endian by default, as stored when the
 * client names the stored syntax or `*`) or a rendered image (`image/jpeg` by default for images, `image/png`,
 * `image/gif`) honouring `rows`, `columns`, `region`, `windowCenter`/`windowWidth`, `frameNumber` and
 * `imageQuality`. Parameters Atrium does not implement (anonymize, annotation, presentation states) are refused with
 * 400 rather than ignored.
 */
export function registerWadoUri(app: FastifyInstance, context: DicomwebContext): void {
  app.get('/', (request: FastifyRequest<{ Querystring: Query }>, reply) => wadoUri(request, reply, context));
}

async function wadoUri(request: FastifyRequest<{ Querystring: Query }>, reply: FastifyReply, context: DicomwebContext): Promise<FastifyReply> {
  const query = request.query;
  for (const name of Object.keys(query)) {
    if (!PARAMETERS.has(name)) throw unsupportedParameter(`Cannot use WADO-URI parameter '${name}': it is not defined by PS3.18 chapter 9`);
  }
  if (one(query, 'requestType') !== 'WADO') throw badRequest(`Cannot serve requestType '${String(query.requestType ?? '')}': expected WADO`);
  const study = one(query, 'studyUID');
  const series = one(query, 'seriesUID');
  const object = one(query, 'objectUID');
  if (!study || !series || !object) throw badRequest('Cannot serve a WADO-URI request without studyUID, seriesUID and objectUID');
  for (const name of ['anonymize', 'annotation', 'presentationUID', 'presentationSeriesUID']) {
    if (one(query, name) !== undefined) throw unsupportedParameter(`Cannot honour WADO-URI parameter '${name}': Atrium does not implement it`);
  }
  const { archive, transcoder } = context;
  const meta = await archive.archive.getInstanceMetadata(object);
  if (!meta || meta.studyInstanceUid !== study || meta.seriesInstanceUid !== series) {
    throw notFound(`Cannot retrieve object '${object}': it is not stored in series '${series}' of study '${study}'`);
  }
  const isImage = meta.frames.length > 0;
  const requested = (one(query, 'contentType') ?? (isImage ? 'image/jpeg' : 'application/dicom'))
    .split(',')
    .map((t) => parseMediaType(t.trim())?.essence ?? t.trim().toLowerCase());
  const contentType = requested.find((t) => t === 'application/dicom' || (isImage && (RENDERED_MEDIA_TYPES as readonly string[]).includes(t)));
  if (!contentType) {
    throw notAcceptable(`Cannot send object '${object}' as '${requested.join(', ')}': it is available as application/dicom${isImage ? ` or ${RENDERED_MEDIA_TYPES.join(', ')}` : ''}`);
  }

  if (contentType === 'application/dicom') {
    for (const name of ['rows', 'columns', 'region', 'windowCenter', 'windowWidth', 'frameNumber', 'imageQuality']) {
      if (one(query, name) !== undefined) throw badRequest(`Cannot use '${name}' with contentType application/dicom: it applies to rendered images`);
    }
    const target = one(query, 'transferSyntax') ?? ExplicitVrLittleEndian;
    const result = await transcoder.transcode(meta, [target]);
    if (result.size !== undefined) reply.header('Content-Length', result.size);
    return reply
      .type(formatMediaType('application/dicom', { 'transfer-syntax': result.transferSyntaxUid }))
      .header('Content-Disposition', `attachment; filename="${object}.dcm"`)
      .send(result.stream);
  }

  if (one(query, 'transferSyntax') !== undefined) throw badRequest('Cannot use transferSyntax with a rendered contentType: it applies to application/dicom');
  const options: RenderOptions = { mediaType: contentType as RenderedMediaType };
  const quality = one(query, 'imageQuality');
  if (quality !== undefined) {
    const q = Number(quality);
    if (!Number.isInteger(q) || q < 1 || q > 100) throw badRequest(`Cannot use imageQuality '${quality}': expected an integer from 1 to 100`);
    options.quality = q;
  }
  const rows = positiveInt(one(query, 'rows'), 'rows');
  const columns = positiveInt(one(query, 'columns'), 'columns');
  const imageRows = Number(meta.dataset['00280010']?.Value?.[0] ?? 0);
  const imageColumns = Number(meta.dataset['00280011']?.Value?.[0] ?? 0);
  const regionText = one(query, 'region');
  let region: { x: number; y: number; width: number; height: number } | undefined;
  if (regionText !== undefined) {
    const r = regionText.split(',').map(Number);
    if (r.length !== 4 || r.some((v) => !Number.isFinite(v) || v < 0 || v > 1) || r[0]! >= r[2]! || r[1]! >= r[3]!) {
      throw badRequest(`Cannot use region '${regionText}': expected x1,y1,x2,y2 as fractions from 0 to 1 with x1 < x2 and y1 < y2`);
    }
    region = { x: r[0]! * imageColumns, y: r[1]! * imageRows, width: (r[2]! - r[0]!) * imageColumns, height: (r[3]! - r[1]!) * imageRows };
  }
  if (rows !== undefined || columns !== undefined || region) {
    // One of rows/columns alone bounds that side only: the other is left free, aspect ratio kept (PS3.18 §9.2).
    const limit = 65535;
    options.viewport = {
      width: columns ?? (rows === undefined ? Math.round(region?.width ?? imageColumns) || limit : limit),
      height: rows ?? (columns === undefined ? Math.round(region?.height ?? imageRows) || limit : limit),
      ...(region ? { region } : {}),
    };
  }
  const center = one(query, 'windowCenter');
  const width = one(query, 'windowWidth');
  if ((center === undefined) !== (width === undefined)) throw badRequest('Cannot use windowCenter without windowWidth (or the reverse)');
  if (center !== undefined && width !== undefined) {
    const c = Number(center);
    const w = Number(width);
    if (!Number.isFinite(c) || !Number.isFinite(w) || w <= 0) throw badRequest(`Cannot use window '${center}' / '${width}': expected numbers, width above 0`);
    options.window = { center: c, width: w };
  }
  const frame = positiveInt(one(query, 'frameNumber'), 'frameNumber') ?? 1;
  if (frame > meta.frames.length) throw notFound(`Cannot render frame ${frame} of object '${object}': it has ${meta.frames.length} frames`);
  const image = await renderFrame(transcoder, archive.store, meta, frame - 1, options);
  return reply.type(contentType).header('Content-Length', image.length).send(image);
}
