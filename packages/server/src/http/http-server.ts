import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Archive } from '../main.js';
import { registerDicomweb } from '../dicomweb/index.js';
import { registerRemoteAes } from '../remote-nodes/routes.js';
import { registerFhir } from '../fhir/index.js';
import { registerWebApp } from '../web-app/index.js';
import { sendProblem } from './problem.js';

/**
 * The HTTP server. Every route passes the authorization policy in one `onRequest` hook registered before any
 * route, so a route added later cannot forget it.
 */
export async function buildHttpServer(archive: Archive): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: archive.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // One log line per request would drown the ingest and retrieve logs; access to patient data belongs in an audit
    // trail, not in the debug log.
    logController: new LogController({ disableRequestLogging: true }),
  });

  app.addHook('onRequest', async (request, reply) => {
    const decision = await archive.policy.authorize({
      kind: 'http',
      method: request.method,
      url: request.url,
      route: request.routeOptions.url,
      remoteAddress: request.ip,
      headers: request.headers,
    });
    if (!decision.allow) return sendProblem(reply, 403, decision.reason);
  });

  app.setErrorHandler((error: FastifyError & { httpStatus?: number }, request, reply) => {
    const status = typeof error.httpStatus === 'number' ? error.httpStatus : (error.statusCode ?? 500);
    if (status >= 500) request.log.error({ err: error }, 'Request failed');
    return sendProblem(reply, status, error.message);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 404, `No route for ${request.method} '${request.url.split('?')[0]}'`),
  );

  await registerDicomweb(app, archive);
  await registerRemoteAes(app, archive);
  await registerFhir(app, archive);
  await registerWebApp(app, archive);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/api/stats', async () => archive.archive.stats());
  return app;
}
