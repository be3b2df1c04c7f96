import type { FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import compress from '@fastify/compress';
import type { Archive } from '../main.js';
import type { TranscoderPool } from '../retrieve/index.js';
import { registerCapabilities } from './capabilities.js';
import { DICOMWEB_PREFIX, type DicomwebContext } from './context.js';
import { DEFAULT_MULTIPART_LIMITS, type MultipartLimits } from './multipart/multipart-parser.js';
import { registerQidoRs, type QueryEngineLike } from './qido-rs/qido-rs.js';
import { registerStowRs } from './stow-rs/stow-rs.js';
import { MetadataCache, registerWadoRs } from './wado-rs/index.js';
import { registerWadoUri } from './wado-uri/wado-uri.js';

export { DICOMWEB_PREFIX, type DicomwebContext } from './context.js';
export { DicomwebError, MultipartError, MultipartLimitError } from './errors.js';
export { parseMultipart, type MultipartLimits, type MultipartPart } from './multipart/multipart-parser.js';
export { writeMultipart, newBoundary, type OutgoingPart } from './multipart/multipart-writer.js';
export { parseAccept, parseMediaType, formatMediaType } from './multipart/media-type.js';
export { MetadataCache } from './wado-rs/index.js';

export interface DicomwebOptions {
  /** The codec worker pool; by default the archive's, shared with the DIMSE retrieve. */
  transcoder?: TranscoderPool;
  /** STOW-RS multipart limits (part size defaults to the ingest object limit). */
  limits?: Partial<MultipartLimits>;
  /** Bytes of resolved metadata documents kept in memory (default 256 MiB). */
  metadataCacheBytes?: number;
  /** The QIDO-RS query engine; by default the archive's, shared with C-FIND. */
  queryEngine?: QueryEngineLike;
}

/** Headers a browser client (OHIF, a web AI service) must be able to read across origins. */
const EXPOSED_HEADERS = ['ETag', 'Content-Location', 'Content-Range', 'Content-Length', 'Warning', 'Accept-Ranges'];

/**
 * DICOMweb (PS3.18): QIDO-RS, WADO-RS, STOW-RS and the capabilities document under `/dicom-web`, WADO-URI at
 * `/wado`, with CORS (any origin, credentials off: authorization is the policy hook's job) and compression of
 * JSON/XML responses. Pixel and DICOM payloads are never compressed (they are compressed already or large).
 */
export async function registerDicomweb(app: FastifyInstance, archive: Archive, options: DicomwebOptions = {}): Promise<void> {
  const transcoder = options.transcoder ?? archive.transcoder;
  const context: DicomwebContext = {
    archive,
    transcoder,
    limits: { ...DEFAULT_MULTIPART_LIMITS, maxPartBytes: archive.config.ingest.maxObjectBytes, ...options.limits },
    metadata: new MetadataCache(archive.database, archive.archive, options.metadataCacheBytes),
  };

  const common = async (scope: FastifyInstance) => {
    await scope.register(cors, {
      origin: '*',
      methods: ['GET', 'HEAD', 'POST', 'OPTIONS'],
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    });
    await scope.register(compress, {
      global: true,
      threshold: 1024,
      encodings: ['gzip', 'deflate', 'br'],
      customTypes: /^application\/(dicom\+json|dicom\+xml|json|problem\+json|vnd\.sun\.wadl\+xml)\b/,
      brotliOptions: { params: { [(await import('node:zlib')).constants.BROTLI_PARAM_QUALITY]: 4 } },
    });
  };

  await app.register(
    async (scope) => {
      await common(scope);
      registerCapabilities(scope);
      registerStowRs(scope, context);
      registerWadoRs(scope, context);
      registerQidoRs(scope, context, options.queryEngine ?? archive.query);
    },
    { prefix: DICOMWEB_PREFIX },
  );
  await app.register(
    async (scope) => {
      await common(scope);
      registerWadoUri(scope, context);
    },
    { prefix: '/wado' },
  );
}
