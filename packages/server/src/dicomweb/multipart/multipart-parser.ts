import { MultipartError, MultipartLimitError } from '../errors.js';

/** Limits of the multipart reader: a STOW-RS request is untrusted input of any size. */
export interface MultipartLimits {
  /** Largest part body in bytes. */
  maxPartBytes: number;
  /** Most parts in one body. */
  maxParts: number;
  /** Largest header block of one part in bytes. */
  maxHeaderBytes: number;
}

export const DEFAULT_MULTIPART_LIMITS: MultipartLimits = {
  maxPartBytes: 8 * 1024 ** 3,
  maxParts: 100_000,
  maxHeaderBytes: 16 * 1024,
};

/**
 * One body part. Its bytes are read through `body` or through `collect`, one of the two, to their end (or left:
 * the parser drains them) before the next part is asked.
 */
export interface MultipartPart {
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /**
   * The part's bytes, as views of the source's chunks (no copy): a source must not reuse a chunk's memory once it
   * has handed it over (Node streams never do).
   */
  body: AsyncIterable<Buffer>;
  /**
   * Reads the part's bytes while they are at most `maxBytes`: an array of them (views, in order) when the part
   * ends within that; past it, a stream of the whole part that starts with the bytes read so far and reads the
   * rest as it is consumed. The source is read as fast as this is awaited, and at most about `maxBytes` (plus the
   * chunk that passes it) is held before the part either ends or goes on as a stream.
   */
  collect(maxBytes: number): Promise<Buffer[] | AsyncIterable<Buffer>>;
  /** Settles when the part has been read to its end (or collected whole), or closed early: ask for the next part. */
  consumed: Promise<void>;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

/**
 * Pulls chunks on demand so the socket is read only as fast as parts are consumed (backpressure): nothing is read
 * ahead beyond the one chunk being scanned.
 */
class ChunkReader {
  buffer: Buffer = EMPTY;
  done = false;
  readonly #source: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  /**
   * Appends the next chunk; false at the end of the input. Inside a part body the buffer is empty here unless its
   * end could start a delimiter, so the chunk is taken as it is and only that rare tail costs a copy.
   */
  async pull(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.#source.next();
    if (next.done) {
      this.done = true;
      return false;
    }
    const value = next.value;
    const chunk = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    return true;
  }

  async ensure(n: number): Promise<boolean> {
    while (this.buffer.length < n) if (!(await this.pull())) return false;
    return true;
  }

  /**
   * Reads and drops what follows the close delimiter (the epilogue, RFC 2046 §5.1.1), at most `maxBytes`, so that
   * a source with nothing more to send ends by itself: closing a Node stream before its end destroys it with an
   * AbortError, whose stack trace alone cost about 0.07 ms a STOW request. A longer epilogue is cut off by `close`.
   */
  async skipEpilogue(maxBytes: number): Promise<void> {
    let skipped = this.buffer.length;
    this.buffer = EMPTY;
    while (skipped <= maxBytes && (await this.pull())) {
      skipped += this.buffer.length;
      this.buffer = EMPTY;
    }
  }

  async close(): Promise<void> {
    if (!this.done) await this.#source.return?.();
  }
}

/**
 * Length of the longest end of `buffer` that is the start of `delimiter` (shorter than the delimiter): the bytes
 * to hold back because the next chunk may complete a delimiter there. Almost always 0: the delimiter starts with
 * CR, so only a CR among the last bytes is a candidate.
 */
export function partialDelimiterLength(buffer: Buffer, delimiter: Buffer): number {
  let at = buffer.indexOf(delimiter[0]!, Math.max(0, buffer.length - delimiter.length + 1));
  while (at >= 0) {
    const tail = buffer.length - at;
    if (buffer.compare(delimiter, 0, tail, at) === 0) return tail;
    at = buffer.indexOf(delimiter[0]!, at + 1);
  }
  return 0;
}

function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  // Folded header lines (obsolete, RFC 5322 §3.2.2) continue the previous value.
  for (const line of block.split('\r\n').reduce<string[]>((acc, l) => {
    if (/^[ \t]/.test(l) && acc.length) acc[acc.length - 1] += ` ${l.trim()}`;
    else if (l) acc.push(l);
    return acc;
  }, [])) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MultipartError(`Cannot read multipart header '${line.slice(0, 80)}': no colon`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/**
 * Reads a `multipart/related` (or any RFC 2046 §5.1 multipart) body as a stream of parts, each part's body a
 * stream of its own: memory stays at one chunk plus the delimiter length whatever the part sizes. Limits throw
 * `MultipartLimitError` as soon as they are passed; malformed framing throws `MultipartError`.
 */
export async function* parseMultipart(
  source: AsyncIterable<Uint8Array>,
  boundary: string,
  limits: Partial<MultipartLimits> = {},
): AsyncGenerator<MultipartPart> {
  const { maxPartBytes, maxParts, maxHeaderBytes } = { ...DEFAULT_MULTIPART_LIMITS, ...limits };
  if (!boundary || boundary.length > 70) {
    throw new MultipartError(`Cannot read multipart body with boundary '${boundary}': a boundary has 1 to 70 characters`);
  }
  const dashBoundary = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const reader = new ChunkReader(source);
  try {
    // Preamble: the first delimiter may open the body without its CRLF.
    for (;;) {
      const at = reader.buffer.indexOf(dashBoundary);
      if (at === 0 || (at > 0 && reader.buffer[at - 1] === 0x0a)) {
        reader.buffer = reader.buffer.subarray(at + dashBoundary.length);
        break;
      }
      if (at > 0) {
        reader.buffer = reader.buffer.subarray(at + 1);
        continue;
      }
      if (reader.buffer.length > maxHeaderBytes + dashBoundary.length) {
        reader.buffer = reader.buffer.subarray(reader.buffer.length - dashBoundary.length);
      }
      if (!(await reader.pull())) throw new MultipartError(`Cannot read multipart body: boundary '${boundary}' not found`);
    }
    let parts = 0;
    for (;;) {
      // After a delimiter: `--` closes the body; otherwise optional transport padding, then CRLF.
      if (!(await reader.ensure(2))) throw new MultipartError('Cannot read multipart body: it ends after a delimiter');
      if (reader.buffer[0] === 0x2d && reader.buffer[1] === 0x2d) {
        await reader.skipEpilogue(maxHeaderBytes);
        return;
      }
      for (;;) {
        const eol = reader.buffer.indexOf(CRLF);
        if (eol >= 0) {
          if (reader.buffer.subarray(0, eol).toString('latin1').trim() !== '') {
            throw new MultipartError('Cannot read multipart body: unexpected bytes after a delimiter');
          }
          reader.buffer = reader.buffer.subarray(eol + 2);
          break;
        }
        if (reader.buffer.length > 1024 || !(await reader.pull())) {
          throw new MultipartError('Cannot read multipart body: a delimiter line does not end');
        }
      }
      if (++parts > maxParts) throw new MultipartLimitError(`Cannot read multipart body: it has more than ${maxParts} parts`);

      let headers: Record<string, string>;
      for (;;) {
        if (reader.buffer.length >= 2 && reader.buffer[0] === 0x0d && reader.buffer[1] === 0x0a) {
          headers = {};
          reader.buffer = reader.buffer.subarray(2);
          break;
        }
        const end = reader.buffer.indexOf(HEADER_END);
        if (end >= 0) {
          if (end > maxHeaderBytes) throw new MultipartLimitError(`Cannot read multipart part ${parts}: its headers exceed ${maxHeaderBytes} bytes`);
          headers = parseHeaders(reader.buffer.subarray(0, end).toString('latin1'));
          reader.buffer = reader.buffer.subarray(end + 4);
          break;
        }
        if (reader.buffer.length > maxHeaderBytes) {
          throw new MultipartLimitError(`Cannot read multipart part ${parts}: its headers exceed ${maxHeaderBytes} bytes`);
        }
        if (!(await reader.pull())) throw new MultipartError(`Cannot read multipart part ${parts}: the body ends in its headers`);
      }

      let finished = false;
      let size = 0;
      const partNumber = parts;
      let consumed!: () => void;
      const whenConsumed = new Promise<void>((resolve) => (consumed = resolve));
      // Everything before a delimiter is the part's; with no delimiter, all but an end that may start one, held
      // back until the next chunk tells.
      const take = (): Buffer => {
        const buffer = reader.buffer;
        const at = buffer.indexOf(delimiter);
        const end = at >= 0 ? at : buffer.length - partialDelimiterLength(buffer, delimiter);
        reader.buffer = at >= 0 ? buffer.subarray(at + delimiter.length) : buffer.subarray(end);
        finished = at >= 0;
        size += end;
        if (size > maxPartBytes) throw new MultipartLimitError(`Cannot read multipart part ${partNumber}: it exceeds ${maxPartBytes} bytes`);
        return buffer.subarray(0, end);
      };
      const pullMore = async (): Promise<void> => {
        if (!(await reader.pull())) {
          throw new MultipartError(`Cannot read multipart part ${partNumber}: the body ends before its closing delimiter`);
        }
      };
      async function* body(head: readonly Buffer[] = []): AsyncGenerator<Buffer> {
        try {
          yield* head;
          while (!finished) {
            const chunk = take();
            if (chunk.length > 0) yield chunk;
            if (!finished) await pullMore();
          }
        } finally {
          consumed();
        }
      }
      const collect = async (maxBytes: number): Promise<Buffer[] | AsyncIterable<Buffer>> => {
        const chunks: Buffer[] = [];
        let held = 0;
        try {
          for (;;) {
            const chunk = take();
            if (chunk.length > 0) chunks.push(chunk);
            held += chunk.length;
            // Checked before the end: a part longer than maxBytes is a stream even when its last byte is here.
            if (held > maxBytes) return body(chunks);
            if (finished) break;
            await pullMore();
          }
        } catch (error) {
          consumed();
          throw error;
        }
        consumed();
        return chunks;
      };
      const iterable = body();
      yield { headers, body: iterable, collect, consumed: whenConsumed };
      // The consumer may have stopped early (a refused part, a `break` that closed `iterable`): a fresh generator
      // over the same reader state skips the rest of the part.
      if (!finished) for await (const _ of body()) void _;
      consumed();
    }
  } finally {
    await reader.close();
  }
}

/** The boundary parameter of a multipart Content-Type, or a 400-coded error. */
export function boundaryOf(parameters: Record<string, string>): string {
  const boundary = parameters.boundary;
  if (!boundary) throw new MultipartError('Cannot read multipart body: the Content-Type has no boundary parameter');
  return boundary;
}
