import { STATUS_CODES } from 'node:http';
import type { FastifyReply } from 'fastify';

/**
 * An RFC 9457 problem document: every HTTP error Atrium answers has a reason a person can act on. The title is
 * the status's own phrase unless a route has a better one.
 */
export function sendProblem(reply: FastifyReply, status: number, detail: string, title = STATUS_CODES[status] ?? 'Error'): FastifyReply {
  return reply.code(status).type('application/problem+json').send({ type: 'about:blank', title, status, detail });
}
