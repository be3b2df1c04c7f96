import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { sql } from '@atrium/db';
import type { Archive } from '../main.js';

/** One study that changed since the last message: what the worklist needs to refresh itself. */
export interface StudyChangeEvent {
  studyInstanceUid: string;
  /** `created` when the study first appears, `deleted` when it is gone, else `updated` (a series or instance came). */
  action: 'created' | 'updated' | 'deleted';
  /** The change feed position of the newest change included. */
  seq: number;
}

export interface ChangeEventsOptions {
  /** How often the change feed is read while anyone listens; default 1000 ms. */
  pollMs?: number;
  /** A comment line keeps idle connections (and proxies) from timing out; default 15 s. */
  heartbeatMs?: number;
}

/**
 * Server-Sent Events of study changes at `GET /api/events` (HTML Living Standard §9.2, `text/event-stream`).
 * One poller per server reads the index's change feed while at least one client listens and fans each batch out
 * as one `study` event per changed study; a client first gets a `ready` event with the feed position it starts
 * from, and can resume with `Last-Event-ID` after a reconnect. Connections are ended before the server closes.
 */
export async function registerChangeEvents(app: FastifyInstance, archive: Pick<Archive, 'archive' | 'database' | 'logger'>, options: ChangeEventsOptions = {}): Promise<void> {
  const pollMs = options.pollMs ?? 1000;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const clients = new Set<ServerResponse>();
  let lastSeq: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let polling = false;

  const latestSeq = async (): Promise<number> => {
    const { rows } = await sql<{ seq: number | null }>`select max(seq) as seq from change_feed`.execute(archive.database.kysely);
    return Number(rows[0]?.seq ?? 0);
  };

  const send = (response: ServerResponse, text: string) => {
    if (!response.writableEnded) response.write(text);
  };

  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      lastSeq ??= await latestSeq();
      for (;;) {
        const entries = await archive.archive.readChangeFeed({ afterSeq: lastSeq, limit: 500 });
        if (entries.length === 0) break;
        const studies = new Map<string, StudyChangeEvent>();
        for (const entry of entries) {
          lastSeq = entry.seq;
          if (!entry.studyInstanceUid) continue;
          const previous = studies.get(entry.studyInstanceUid);
          const action =
            entry.level === 'study' && (entry.action === 'created' || entry.action === 'deleted')
              ? entry.action
              : (previous?.action ?? 'updated');
          studies.set(entry.studyInstanceUid, { studyInstanceUid: entry.studyInstanceUid, action, seq: entry.seq });
        }
        for (const event of studies.values()) {
          const text = `id: ${event.seq}\nevent: study\ndata: ${JSON.stringify(event)}\n\n`;
          for (const client of clients) send(client, text);
        }
        if (entries.length < 500) break;
      }
    } catch (error) {
      archive.logger.warn({ err: error }, 'Cannot read the change feed for /api/events');
    } finally {
      polling = false;
    }
  };

  const stop = () => {
    clearInterval(timer);
    clearInterval(heartbeat);
    timer = heartbeat = undefined;
    lastSeq = undefined;
  };

  app.get<{ Headers: { 'last-event-id'?: string } }>('/api/events', async (request, reply) => {
    const resumeFrom = Number(request.headers['last-event-id']);
    const start = Number.isSafeInteger(resumeFrom) && resumeFrom >= 0 ? resumeFrom : await latestSeq();
    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // The first client fixes where the shared poller starts; a later one that resumes from further back catches up
    // on its next reconnect, which is what EventSource does after an error.
    if (clients.size === 0) lastSeq = start;
    clients.add(response);
    send(response, `retry: 2000\nid: ${start}\nevent: ready\ndata: ${JSON.stringify({ seq: start })}\n\n`);
    timer ??= setInterval(() => void poll(), pollMs);
    heartbeat ??= setInterval(() => {
      for (const client of clients) send(client, ': keep-alive\n\n');
    }, heartbeatMs);
    // The response's close, not the request's: a request stream closes as soon as its (empty) body is read.
    response.on('close', () => {
      clients.delete(response);
      if (clients.size === 0) stop();
    });
  });

  app.addHook('preClose', async () => {
    stop();
    for (const client of clients) client.end();
    clients.clear();
  });
}
