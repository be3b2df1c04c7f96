import type { FastifyInstance } from 'fastify';
import type { Archive } from '../main.js';

/** DICOMweb (PS3.18): QIDO-RS, WADO-RS, STOW-RS under `/dicom-web`, WADO-URI at `/wado`. */
export async function registerDicomweb(_app: FastifyInstance, _archive: Archive): Promise<void> {}
