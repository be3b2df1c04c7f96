import type { FastifyInstance } from 'fastify';
import { cEcho, VerificationSopClass } from '@atrium/dimse';
import type { Archive } from '../main.js';
import { reasonOf } from '../errors.js';
import { connectToRemote } from '../dimse-services/connect-remote.js';
import { RemoteAeRegistry, type RemoteAe } from './remote-ae-registry.js';
import { sendProblem } from '../http/problem.js';

function view(ae: RemoteAe) {
  return {
    aeTitle: ae.aeTitle,
    host: ae.host,
    port: ae.port,
    services: ae.services,
    tls: ae.tls,
    ...(ae.description ? { description: ae.description } : {}),
    source: ae.source,
  };
}

/**
 * Admin API of the remote AEs (`/api/remote-aes`): list, read, add or replace (PUT), remove, and a C-ECHO to check
 * that a node answers. Entries of the configuration file are listed with `source: "config"` and cannot be changed
 * here (409). Every route passes the HTTP authorization hook like any other.
 */
export async function registerRemoteAes(app: FastifyInstance, archive: Archive): Promise<void> {
  const registry = new RemoteAeRegistry(archive);

  app.get('/api/remote-aes', async () => (await registry.list()).map(view));

  app.get<{ Params: { aeTitle: string } }>('/api/remote-aes/:aeTitle', async (request) => view(await registry.require(request.params.aeTitle)));

  app.put<{ Params: { aeTitle: string }; Body: unknown }>('/api/remote-aes/:aeTitle', async (request, reply) => {
    const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
    if (body.aeTitle !== undefined && body.aeTitle !== request.params.aeTitle) {
      return sendProblem(reply, 400, `Cannot store remote AE '${request.params.aeTitle}': the body names '${String(body.aeTitle)}'`);
    }
    const { ae, created } = await registry.put({ ...body, aeTitle: request.params.aeTitle });
    return reply.code(created ? 201 : 200).send(view(ae));
  });

  app.delete<{ Params: { aeTitle: string } }>('/api/remote-aes/:aeTitle', async (request, reply) => {
    if (!(await registry.delete(request.params.aeTitle))) await registry.require(request.params.aeTitle);
    return reply.code(204).send();
  });

  /** C-ECHO from Atrium's AE to the node: proves the title, host and port (and that the node knows Atrium). */
  app.post<{ Params: { aeTitle: string } }>('/api/remote-aes/:aeTitle/echo', async (request, reply) => {
    const ae = await registry.require(request.params.aeTitle);
    const started = performance.now();
    try {
      const association = await connectToRemote(archive, ae, { presentationContexts: [{ abstractSyntaxUid: VerificationSopClass }] });
      try {
        await cEcho(association);
      } finally {
        await association.release().catch(() => association.abort());
      }
    } catch (error) {
      return sendProblem(reply, 502, `Cannot echo '${ae.aeTitle}' at ${ae.host}:${ae.port}: ${reasonOf(error)}`);
    }
    return { aeTitle: ae.aeTitle, status: 'success', milliseconds: Math.round(performance.now() - started) };
  });
}
