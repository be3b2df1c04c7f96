import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DicomJsonDataset } from '@atrium/dicom';
import { datasetMediaTypeOf, originOf, sendDatasets, type DicomwebContext } from '../context.js';
import { notFound } from '../errors.js';
import type { MetadataDocument } from './metadata-cache.js';

interface Params {
  study: string;
  series?: string;
  instance?: string;
}

/** Whether an If-None-Match header matches the entity tag (RFC 9110 §13.1.2, weak comparison). */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}

function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((token) => {
    const [coding, ...params] = token.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/**
 * WADO-RS metadata of a study, a series or an instance (PS3.18 §10.4.1.1.2), served from the documents ingest
 * keeps (never by reading files): DICOM JSON with a strong ETag, `304` on a matching If-None-Match, and a gzip copy
 * made once per document version. The XML form is made from the same documents.
 */
export function registerMetadata(app: FastifyInstance, context: DicomwebContext): void {
  const handler = (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => metadata(request, reply, context);
  // This route compresses by itself from its cache: the compression plugin would redo it per request.
  const options = { compress: false } as const;
  app.get('/studies/:study/metadata', options, handler);
  app.get('/studies/:study/series/:series/metadata', options, handler);
  app.get('/studies/:study/series/:series/instances/:instance/metadata', options, handler);
}

async function metadata(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, context: DicomwebContext): Promise<FastifyReply> {
  const { study, series, instance } = request.params;
  const mediaType = datasetMediaTypeOf(request);
  const origin = originOf(request);
  let document: MetadataDocument | undefined;
  if (instance !== undefined && series !== undefined) document = await context.metadata.instance(origin, study, series, instance);
  else if (series !== undefined) document = await context.metadata.series(origin, study, series);
  else document = await context.metadata.study(origin, study);
  if (!document) {
    const what = instance ? `instance '${instance}'` : series ? `series '${series}'` : `study '${study}'`;
    throw notFound(`Cannot retrieve metadata of ${what}: it is not stored${series && !instance ? ` in study '${study}'` : ''}`);
  }
  const etag = mediaType === 'application/dicom+json' ? document.etag : `${document.etag.slice(0, -1)}-xml"`;
  reply.header('ETag', etag).header('Cache-Control', 'no-cache').header('Vary', 'Accept, Accept-Encoding');
  if (ifNoneMatchHits(request.headers['if-none-match'], etag)) return reply.code(304).send();
  if (mediaType === 'application/dicom+xml') {
    return sendDatasets(reply, context, mediaType, JSON.parse(document.json.toString('utf8')) as DicomJsonDataset[]);
  }
  reply.type('application/dicom+json');
  if (acceptsGzip(request.headers['accept-encoding'])) {
    return reply.header('Content-Encoding', 'gzip').send(await document.gzip());
  }
  return reply.send(document.json);
}
