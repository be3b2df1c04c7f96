// Helpers for the DICOMweb tests: multipart bodies built and read with Atrium's own streaming codec, and an HTTP
// server on a temporary archive.
import type { FastifyInstance } from 'fastify';
import { buildHttpServer } from '../http/http-server.js';
import { openTestArchive } from '../test-support.js';
import { parseMediaType } from './multipart/media-type.js';
import { parseMultipart } from './multipart/multipart-parser.js';
import { writeMultipart } from './multipart/multipart-writer.js';

export interface ReceivedPart {
  headers: Record<string, string>;
  body: Buffer;
}

/** Splits a multipart response body by the boundary its Content-Type names. */
export async function readMultipartResponse(contentType: string | undefined, body: Buffer): Promise<ReceivedPart[]> {
  const media = parseMediaType(contentType ?? '');
  if (!media || media.essence !== 'multipart/related') throw new TypeError(`Not multipart/related: '${contentType}'`);
  const parts: ReceivedPart[] = [];
  async function* source() {
    yield body;
  }
  for await (const part of parseMultipart(source(), media.parameters.boundary!)) {
    const chunks: Buffer[] = [];
    for await (const c of part.body) chunks.push(c);
    parts.push({ headers: part.headers, body: Buffer.concat(chunks) });
  }
  return parts;
}

/** A STOW-RS request body of Part 10 objects. */
export async function stowBody(objects: readonly Uint8Array[], boundary = 'stow-test-boundary'): Promise<{ body: Buffer; contentType: string }> {
  const chunks: Buffer[] = [];
  for await (const c of writeMultipart(objects.map((o) => ({ headers: { 'Content-Type': 'application/dicom' }, body: o })), boundary)) {
    chunks.push(c as Buffer);
  }
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

/** An HTTP server (not listening: use `inject`) over a fresh temporary archive. */
export async function openTestServer(env: Record<string, string> = {}) {
  const archive = await openTestArchive(env);
  const app: FastifyInstance = await buildHttpServer(archive);
  await app.ready();
  return {
    archive,
    app,
    async close() {
      await app.close();
      await archive.cleanup();
    },
  };
}
