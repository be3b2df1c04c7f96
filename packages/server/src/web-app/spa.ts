import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import { CROSS_ORIGIN_ISOLATION, OHIF_PATH } from './ohif.js';

/** What the page needs before its first request: how to tell a person where to send images, where OHIF is. */
export interface WebAppBootConfig {
  aeTitle: string;
  /** The DIMSE listener's host as configured; the page shows its own host name when this is a wildcard. */
  dicomHost: string;
  dicomPort: number;
  /** False when DIMSE is disabled: the empty state then only offers upload. */
  dicomEnabled: boolean;
  /** Where OHIF is served, or null when it is not installed. */
  ohifPath: string | null;
}

/** The client-side routes of the web app: each is answered with index.html and the app draws the page. */
export const WEB_APP_ROUTES = ['/', '/upload', '/studies/*', '/patients', '/patients/*', '/cardio/*'] as const;

/** Script-safe JSON: `<` cannot close the script element it sits in. */
function inlineJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/**
 * Serves the built web app (`packages/web/dist`): hashed assets under `/assets/`, and index.html for the app's
 * routes with the boot configuration inlined (`<script id="atrium-config" type="application/json">`), so the first
 * paint knows the AE title and port without a round trip. Without a build, `/` is a plain page saying how to build
 * it and how to get images in, so a server from a bare checkout still explains itself.
 */
export async function registerSpa(app: FastifyInstance, distDir: string, boot: WebAppBootConfig): Promise<void> {
  const indexPath = join(distDir, 'index.html');
  const built = existsSync(indexPath);
  const script = `<script id="atrium-config" type="application/json">${inlineJson(boot)}</script>`;
  const page = built
    ? readFileSync(indexPath, 'utf8').replace('</head>', `${script}</head>`)
    : fallbackPage(boot, script);
  const send = (reply: FastifyReply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .headers(CROSS_ORIGIN_ISOLATION)
      .send(page);
  for (const route of WEB_APP_ROUTES) app.get(route, async (_request, reply) => send(reply));
  if (!built) return;
  await app.register(async (scope) => {
    scope.addHook('onSend', async (_request, reply, payload) => {
      reply.headers(CROSS_ORIGIN_ISOLATION);
      return payload;
    });
    await scope.register(fastifyStatic, {
      root: join(distDir, 'assets'),
      prefix: '/assets/',
      decorateReply: false,
      index: false,
      // Vite names every asset by its content hash.
      immutable: true,
      maxAge: '365d',
    });
  });
}

function fallbackPage(boot: WebAppBootConfig, script: string): string {
  const escape = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Atrium</title>${script}</head>
<body><h1>Atrium</h1><p>The web app is not built: run <code>npm run build -w @atrium/web</code>.</p>
<p>No studies yet? Import files with <code>npx atrium import &lt;folder&gt;</code>, or send images to AE
<code>${escape(boot.aeTitle)}</code> on port ${boot.dicomPort}.</p>
${boot.ohifPath ? `<p><a href="${OHIF_PATH}">OHIF viewer</a></p>` : ''}<p><a href="/api/stats">Archive statistics (JSON)</a></p></body></html>`;
}
