import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Archive } from '../main.js';
import { registerChangeEvents, type ChangeEventsOptions } from '../events/index.js';
import { OHIF_PATH, readOhifSite, registerOhif } from './ohif.js';
import { registerSpa } from './spa.js';
import { registerStudyActions } from './study-actions.js';
import { searchWorklist, WORKLIST_SORT_KEYS, WorklistQueryError, type WorklistQuery, type WorklistSortKey } from './worklist.js';

export { ohifAppConfig, OHIF_PATH, CROSS_ORIGIN_ISOLATION } from './ohif.js';
export { searchWorklist, type WorklistQuery, type WorklistPage, type WorklistStudy, type WorklistSortKey } from './worklist.js';
export type { StudySendResult } from './study-actions.js';
export type { WebAppBootConfig } from './spa.js';

export interface WebAppOptions {
  /** The built web app (Vite's output); default `packages/web/dist` of this checkout. */
  webDist?: string;
  /** The prebuilt OHIF site; default `packages/web/dist-ohif` of this checkout. */
  ohifDist?: string;
  events?: ChangeEventsOptions;
}

/** `packages/web/<name>` beside this package: the same from `src/web-app` (tests) and `dist/web-app` (built). */
function webPackagePath(name: string): string {
  return fileURLToPath(new URL(`../../../web/${name}`, import.meta.url));
}

type WorklistParams = Record<keyof Omit<WorklistQuery, 'limit' | 'offset'> | 'limit' | 'offset', string | undefined>;

/**
 * Atrium's web front end (docs/web.md): the React app at `/` (worklist, upload, study pages, viewer), the OHIF
 * viewer at `/ohif/` configured to Atrium's DICOMweb, and the JSON the app needs beyond DICOMweb: the worklist
 * (`GET /api/worklist`), study change events (`GET /api/events`), the study ZIP and send-to-node actions. Every
 * route passes the HTTP authorization hook like any other.
 */
export async function registerWebApp(app: FastifyInstance, archive: Archive, options: WebAppOptions = {}): Promise<void> {
  const ohifSite = readOhifSite(options.ohifDist ?? webPackagePath('dist-ohif'));
  if (!ohifSite) archive.logger.warn(`OHIF is not installed: ${OHIF_PATH} answers 503 until 'npm run build -w @atrium/web' fetches it`);

  app.get('/api/worklist', async (request: FastifyRequest<{ Querystring: Partial<WorklistParams> }>) => {
    const q = request.query;
    if (q.sort !== undefined && !(WORKLIST_SORT_KEYS as readonly string[]).includes(q.sort)) {
      throw new WorklistQueryError(`Cannot sort by '${q.sort}': expected one of ${WORKLIST_SORT_KEYS.join(', ')}`);
    }
    if (q.order !== undefined && q.order !== 'asc' && q.order !== 'desc') throw new WorklistQueryError(`Cannot order '${q.order}': expected asc or desc`);
    const number = (name: string, value: string | undefined) => {
      if (value === undefined || value === '') return undefined;
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 0) throw new WorklistQueryError(`Cannot use ${name} '${value}': expected an integer of 0 or more`);
      return n;
    };
    return searchWorklist(archive.database, {
      patient: q.patient,
      accessionNumber: q.accessionNumber,
      studyDescription: q.studyDescription,
      modality: q.modality,
      dateFrom: q.dateFrom,
      dateTo: q.dateTo,
      sort: q.sort as WorklistSortKey | undefined,
      order: q.order as 'asc' | 'desc' | undefined,
      limit: number('limit', q.limit),
      offset: number('offset', q.offset),
    });
  });

  registerStudyActions(app, archive);
  await registerChangeEvents(app, archive, options.events);
  await registerOhif(app, ohifSite);
  await registerSpa(app, options.webDist ?? webPackagePath('dist'), {
    aeTitle: archive.config.dicom.aeTitle,
    dicomHost: archive.config.dicom.host,
    dicomPort: archive.config.dicom.port,
    dicomEnabled: archive.config.dicom.enabled,
    ohifPath: ohifSite ? OHIF_PATH : null,
  });
}
