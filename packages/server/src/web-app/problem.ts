import type { FastifyReply } from 'fastify';

/** An RFC 9457 problem document, as every other Atrium route answers errors (kept here to avoid an import cycle). */
export function sendProblem(reply: FastifyReply, status: number, title: string, detail: string): FastifyReply {
  return reply.code(status).type('application/problem+json').send({ type: 'about:blank', title, status, detail });
}
