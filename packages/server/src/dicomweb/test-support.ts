// Helpers for the DICOMweb tests: multipart bodies built and read with Atrium's own streaming codec, and an HTTP
// server on a temporary archive.
import { crc32 } from 'node:zlib';
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

/**
 * The entries of a ZIP archive written without compression (PKWARE APPNOTE 4.3: the central directory names each
 * entry, its size and where its local header is), read independently of Atrium's ZIP writer. No ZIP64.
 */
export function readStoredZip(zip: Buffer): Map<string, Buffer> {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new TypeError('Not a ZIP archive: no end of central directory record');
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new TypeError(`Not a central directory header at ${at}`);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    if (method !== 0) throw new TypeError(`Entry '${name}' is compressed (method ${method})`);
    const data = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const body = zip.subarray(data, data + size);
    if (crc32(body) !== crc) throw new TypeError(`Entry '${name}' fails its CRC-32`);
    entries.set(name, body);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}
