import type { FastifyInstance } from 'fastify';
import type { Archive } from '../main.js';

/** The FHIR R4 API under `/fhir`. */
export async function registerFhir(_app: FastifyInstance, _archive: Archive): Promise<void> {}
