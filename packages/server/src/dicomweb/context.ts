import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DicomJsonDataset } from '@atrium/dicom';
import type { Archive } from '../main.js';
import type { TranscoderPool } from '../retrieve/index.js';
import type { MultipartLimits } from './multipart/multipart-parser.js';
import type { MetadataCache } from './wado-rs/metadata-cache.js';
import { toNativeDicomModel } from './dicom-xml.js';
import { parseAccept, rangeMatches } from './multipart/media-type.js';
import { notAcceptable } from './errors.js';
import { newBoundary } from './multipart/multipart-writer.js';

/** Where the DICOMweb resources are mounted. */
export const DICOMWEB_PREFIX = '/dicom-web';

/** What every DICOMweb route works through: built once in `registerDicomweb`, passed to each feature. */
export interface DicomwebContext {
  archive: Archive;
  transcoder: TranscoderPool;
  limits: MultipartLimits;
  metadata: MetadataCache;
}

/** The origin the client reached this server at (`http://host:port`), for absolute RetrieveURLs and BulkDataURIs. */
export function originOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

export function studyUrl(origin: string, study: string): string {
  return `${origin}${DICOMWEB_PREFIX}/studies/${study}`;
}
export function seriesUrl(origin: string, study: string, series: string): string {
  return `${studyUrl(origin, study)}/series/${series}`;
}
export function instanceUrl(origin: string, study: string, series: string, sop: string): string {
  return `${seriesUrl(origin, study, series)}/instances/${sop}`;
}

/** JSON or XML for a response that is one data set or a list of them (PS3.18 §8.7.3.2, §8.7.3.3). */
export type DatasetMediaType = 'application/dicom+json' | 'application/dicom+xml';

/**
 * The representation a client accepts for data sets: DICOM JSON (also for `application/json` and `*\/*`) or the
 * Native DICOM Model XML (`application/dicom+xml`, also inside `multipart/related`). 406 otherwise.
 */
export function datasetMediaTypeOf(request: FastifyRequest, allowXml = true, acceptParameter?: string): DatasetMediaType {
  // The `accept` query parameter (PS3.18 §8.3.3.1) overrides the header.
  for (const range of parseAccept(acceptParameter ?? request.headers.accept)) {
    if (rangeMatches(range, 'application/dicom+json') || range.essence === 'application/json') return 'application/dicom+json';
    if (allowXml && range.essence === 'application/dicom+xml') return 'application/dicom+xml';
    if (allowXml && range.essence === 'multipart/related' && range.parameters.type === 'application/dicom+xml') return 'application/dicom+xml';
  }
  throw notAcceptable(
    `Cannot answer in '${String(request.headers.accept)}': this resource is available as application/dicom+json${allowXml ? ' or application/dicom+xml' : ''}`,
  );
}

/** Sends one data set or a list of them in the negotiated representation. */
export function sendDatasets(
  reply: FastifyReply,
  context: DicomwebContext,
  mediaType: DatasetMediaType,
  body: DicomJsonDataset | DicomJsonDataset[],
): FastifyReply {
  if (mediaType === 'application/dicom+json') return reply.type('application/dicom+json').send(JSON.stringify(body));
  const dictionary = context.archive.dictionary;
  if (!Array.isArray(body)) return reply.type('application/dicom+xml').send(toNativeDicomModel(body, dictionary));
  // A list in XML is a multipart/related of one Native DICOM Model document per data set (PS3.18 §8.7.3.3).
  const boundary = newBoundary();
  const parts = body.map((d) => `--${boundary}\r\nContent-Type: application/dicom+xml\r\n\r\n${toNativeDicomModel(d, dictionary)}\r\n`);
  return reply
    .type(`multipart/related; type="application/dicom+xml"; boundary=${boundary}`)
    .send(`${parts.join('')}--${boundary}--\r\n`);
}
