import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { DICOMWEB_PREFIX } from '../dicomweb/index.js';
import { sendProblem } from '../http/problem.js';

/** Where Atrium serves OHIF; `packages/web/scripts/fetch-ohif.mjs` relocates the prebuilt site to this path. */
export const OHIF_PATH = '/ohif/';

/** Cross-origin isolation: OHIF's Cornerstone workers use SharedArrayBuffer, which browsers grant only with these. */
export const CROSS_ORIGIN_ISOLATION = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
} as const;

/** What the OHIF folder holds, read from the marker the fetch script writes: version and the path it was built for. */
export interface OhifSite {
  dir: string;
  version: string;
  basePath: string;
}

/** The OHIF site in `dir`, or undefined when it was never fetched; throws when it was relocated to another path. */
export function readOhifSite(dir: string): OhifSite | undefined {
  const marker = join(dir, '.atrium-ohif');
  if (!existsSync(marker) || !existsSync(join(dir, 'index.html'))) return undefined;
  const [version = '', , basePath = ''] = readFileSync(marker, 'utf8').trim().split(/\s+/);
  if (basePath !== OHIF_PATH) {
    throw new TypeError(`Cannot serve OHIF from '${dir}': it was relocated to '${basePath}', not '${OHIF_PATH}' (run npm run build -w @atrium/web)`);
  }
  return { dir, version, basePath };
}

/**
 * OHIF's `app-config.js`, made at serve time: one DICOMweb data source on Atrium's own endpoints, same origin (no
 * CORS, no absolute host, so it works behind any host name), with the options Atrium's DICOMweb supports: QIDO
 * `includefield`, WADO-RS frames and multipart bulk data, thumbnails through the WADO-RS thumbnail resource.
 * Nothing in it reaches outside the origin; the study list is Atrium's, the investigational-use dialog is off.
 */
export function ohifAppConfig(): string {
  const config = {
    routerBasename: OHIF_PATH.replace(/\/$/, ''),
    extensions: [],
    modes: [],
    // OHIF's onboarding tour would cover the first image of every new browser profile.
    customizationService: [{ 'ohif.tours': { $set: [] } }],
    showStudyList: true,
    maxNumberOfWebWorkers: 2,
    showWarningMessageForCrossOrigin: false,
    showCPUFallbackMessage: true,
    showLoadingIndicator: true,
    strictZSpacingForVolumeViewport: true,
    investigationalUseDialog: { option: 'never' },
    maxNumRequests: { interaction: 100, thumbnail: 5, prefetch: 10 },
    showErrorDetails: 'always',
    defaultDataSourceName: 'atrium',
    dataSources: [
      {
        namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
        sourceName: 'atrium',
        configuration: {
          friendlyName: 'Atrium',
          name: 'atrium',
          wadoUriRoot: '/wado',
          qidoRoot: DICOMWEB_PREFIX,
          wadoRoot: DICOMWEB_PREFIX,
          qidoSupportsIncludeField: true,
          supportsReject: false,
          imageRendering: 'wadors',
          thumbnailRendering: 'wadors',
          enableStudyLazyLoad: true,
          supportsFuzzyMatching: true,
          supportsWildcard: true,
          staticWado: false,
          singlepart: false,
          omitQuotationForMultipartRequest: true,
          bulkDataURI: { enabled: true, relativeResolution: 'studies' },
        },
      },
    ],
  };
  return `/* Made by Atrium at serve time (packages/server/src/web-app/ohif.ts). */\nwindow.config = ${JSON.stringify(config, null, 2)};\n`;
}

/**
 * Serves the OHIF site at `/ohif/`: `app-config.js` generated, every other file from the folder, the viewer's own
 * routes (`/ohif/viewer?StudyInstanceUIDs=...`) answered with its index.html, all with cross-origin isolation.
 * Without a fetched site, `/ohif/` says how to get it.
 */
export async function registerOhif(app: FastifyInstance, site: OhifSite | undefined): Promise<void> {
  await app.register(
    async (scope) => {
      scope.addHook('onSend', async (_request, reply, payload) => {
        for (const [name, value] of Object.entries(CROSS_ORIGIN_ISOLATION)) reply.header(name, value);
        return payload;
      });
      if (!site) {
        scope.get('/*', async (_request, reply) =>
          sendProblem(reply, 503, `OHIF is not installed: run 'npm run build -w @atrium/web' (it fetches @ohif/app)`),
        );
        return;
      }
      const appConfig = ohifAppConfig();
      const indexHtml = readFileSync(join(site.dir, 'index.html'));
      const sendIndex = (reply: import('fastify').FastifyReply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(indexHtml);
      scope.get('/app-config.js', async (_request, reply) =>
        reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(appConfig),
      );
      scope.get('/', async (_request, reply) => sendIndex(reply));
      await scope.register(fastifyStatic, {
        root: site.dir,
        prefix: '/',
        decorateReply: false,
        index: false,
        dotfiles: 'ignore',
        // The bundles are named by content hash; the rest is small.
        maxAge: '1h',
      });
      scope.setNotFoundHandler(async (request, reply) => {
        // A path with an extension is a missing file; anything else is one of the viewer's own routes.
        if ((request.method === 'GET' || request.method === 'HEAD') && !/\.[a-z0-9]+$/i.test(request.url.split('?')[0] ?? '')) return sendIndex(reply);
        return sendProblem(reply, 404, `No OHIF file '${request.url.split('?')[0]}'`);
      });
    },
    { prefix: OHIF_PATH.replace(/\/$/, '') },
  );
}
