import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

/** One part to write: headers (already formatted values) and a body given whole or as a stream. */
export interface OutgoingPart {
  headers: Record<string, string>;
  body: Uint8Array | AsyncIterable<Uint8Array>;
}

/** A boundary no DICOM byte sequence is likely to contain (RFC 2046 §5.1.1 allows 70 characters). */
export function newBoundary(): string {
  return `atrium-${randomBytes(18).toString('hex')}`;
}

/** The delimiter and headers that open a part (the first part has no CRLF before its delimiter). */
export function partHead(boundary: string, headers: Record<string, string>, first: boolean): Buffer {
  let text = `${first ? '' : '\r\n'}--${boundary}\r\n`;
  for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
  return Buffer.from(`${text}\r\n`, 'latin1');
}

/**
 * Writes parts as a `multipart/related` body (PS3.18 §8.7.3.1) with backpressure: a part's body is read only as
 * fast as the client takes the response, so a study of any size streams in bounded memory. Parts come from an
 * async iterable so that the next instance is opened only when the previous one has been sent.
 */
export function writeMultipart(parts: AsyncIterable<OutgoingPart> | Iterable<OutgoingPart>, boundary: string): Readable {
  async function* generate(): AsyncGenerator<Uint8Array> {
    let first = true;
    for await (const part of parts) {
      yield partHead(boundary, part.headers, first);
      first = false;
      if (part.body instanceof Uint8Array) yield part.body;
      else for await (const chunk of part.body) yield chunk;
    }
    yield closeDelimiter(boundary, first);
  }
  return Readable.from(generate(), { objectMode: false });
}

/** The close delimiter that ends a multipart body (`empty`: no part came before it, so no CRLF either). */
export function closeDelimiter(boundary: string, empty: boolean): Buffer {
  return Buffer.from(`${empty ? '' : '\r\n'}--${boundary}--\r\n`, 'latin1');
}
