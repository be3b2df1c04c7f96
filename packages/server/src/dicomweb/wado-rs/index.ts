import type { FastifyInstance } from 'fastify';
import type { DicomwebContext } from '../context.js';
import { registerBulk } from './bulk.js';
import { registerFrames } from './frames.js';
import { registerMetadata } from './metadata.js';
import { registerRendered } from './rendered.js';
import { registerRetrieve } from './retrieve.js';

export { MetadataCache, resolveBulkDataUris, type MetadataDocument } from './metadata-cache.js';

/** Every WADO-RS resource (PS3.18 §10.4). */
export function registerWadoRs(app: FastifyInstance, context: DicomwebContext): void {
  registerRetrieve(app, context);
  registerMetadata(app, context);
  registerFrames(app, context);
  registerBulk(app, context);
  registerRendered(app, context);
}
