import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { parseMultipart, partialDelimiterLength } from './multipart-parser.js';
import { newBoundary, writeMultipart } from './multipart-writer.js';
import { formatMediaType, parseAccept, parseMediaType } from './media-type.js';
import { MultipartError, MultipartLimitError } from '../errors.js';

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function readParts(source: AsyncIterable<Uint8Array>, boundary: string, limits = {}) {
  const out: { headers: Record<string, string>; body: Buffer }[] = [];
  for await (const part of parseMultipart(source, boundary, limits)) out.push({ headers: part.headers, body: await collect(part.body) });
  return out;
}

test('multipart writer and parser - round trip at every chunk size, delimiter split anywhere', async () => {
  const boundary = newBoundary();
  const bodies = [randomBytes(1000), Buffer.from(`\r\n--${boundary.slice(0, -1)}x\r\n`), Buffer.alloc(0), randomBytes(77)];
  const written = await collect(
    writeMultipart(bodies.map((b, i) => ({ headers: { 'Content-Type': 'application/dicom', 'X-Index': String(i) }, body: b })), boundary),
  );
  assert.ok(written.toString('latin1').endsWith(`--${boundary}--\r\n`));
  for (const size of [1, 2, 3, 7, 50, 64, 100, 4096]) {
    const parts = await readParts(chunked(written, size), boundary);
    assert.equal(parts.length, 4, `chunk size ${size}`);
    parts.forEach((p, i) => {
      assert.equal(p.headers['content-type'], 'application/dicom');
      assert.equal(p.headers['x-index'], String(i));
      assert.deepEqual(p.body, bodies[i], `part ${i} at chunk size ${size}`);
    });
  }
});

test('multipart parser - a body split in two or three chunks at every position reads back the same', async () => {
  // Bodies that end in bytes a delimiter starts with (CR, CR LF, CR LF -, the boundary less its last character)
  // and hold such bytes inside, so a held-back end that turns out not to be a delimiter is given back as data.
  const boundary = 'split-b';
  const bodies = [
    Buffer.from('abc\r'),
    Buffer.from('\r\n-'),
    Buffer.from(`x\r\n--split-\r\n--splitb\r\n--split-`),
    Buffer.from(`\r\r\n\r\n--\r\n--split-b`.slice(0, -1)),
    Buffer.alloc(0),
  ];
  const written = await collect(writeMultipart(bodies.map((b) => ({ headers: { 'Content-Type': 'application/dicom' }, body: b })), boundary));
  async function* pieces(cuts: number[]): AsyncGenerator<Buffer> {
    let from = 0;
    for (const cut of [...cuts, written.length]) {
      yield written.subarray(from, cut);
      from = cut;
    }
  }
  for (let a = 0; a <= written.length; a++) {
    const parts = await readParts(pieces([a]), boundary);
    assert.deepEqual(parts.map((p) => p.body), bodies, `split at ${a}`);
    for (let b = a + 1; b < Math.min(written.length, a + 30); b++) {
      const three = await readParts(pieces([a, b]), boundary);
      assert.deepEqual(three.map((p) => p.body), bodies, `split at ${a} and ${b}`);
    }
  }
});

/** `bytes` in chunks of `size`, each in a buffer of its own, and the set of those buffers (to tell views from copies). */
function ownBufferSource(bytes: Buffer, size: number): { chunks: AsyncGenerator<Buffer>; sources: Set<ArrayBufferLike> } {
  const sources = new Set<ArrayBufferLike>();
  async function* own(): AsyncGenerator<Buffer> {
    for (let i = 0; i < bytes.length; i += size) {
      const chunk = Buffer.from(bytes.subarray(i, i + size));
      sources.add(chunk.buffer);
      yield chunk;
    }
  }
  return { chunks: own(), sources };
}

test('multipart parser - part bodies are views of the source chunks, not copies', async () => {
  const boundary = 'zero-copy';
  const payload = randomBytes(50_000);
  const written = await collect(writeMultipart([{ headers: {}, body: payload }, { headers: {}, body: payload }], boundary));
  const { chunks: source, sources } = ownBufferSource(written, 8192);
  let chunks = 0;
  let views = 0;
  for await (const part of parseMultipart(source, boundary)) {
    const got: Buffer[] = [];
    for await (const c of part.body) {
      chunks++;
      if (sources.has(c.buffer)) views++;
      got.push(c);
    }
    assert.deepEqual(Buffer.concat(got), payload);
  }
  // Only where a chunk's end could have started a delimiter (a CR among its last bytes) is a copy made.
  assert.ok(views >= chunks - 2, `${views} of ${chunks} chunks are views`);
});

test('multipart parser - consumed settles when a body is read to its end, closed early, or skipped', async () => {
  const boundary = 'cons';
  const written = await collect(
    writeMultipart([0, 1, 2].map((i) => ({ headers: { 'X-Index': String(i) }, body: Buffer.alloc(3000, i) })), boundary),
  );
  const settled: string[] = [];
  for await (const part of parseMultipart(chunked(written, 500), boundary)) {
    const index = part.headers['x-index'];
    void part.consumed.then(() => settled.push(index!));
    if (index === '0') await collect(part.body);
    if (index === '1') for await (const _ of part.body) break;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(settled, index === '2' ? ['0', '1'] : index === '1' ? ['0', '1'] : ['0']);
  }
  assert.deepEqual(settled, ['0', '1', '2']);
});

test('multipart parser - a short epilogue is read to the end of the source, a long one is cut off', async () => {
  // Closing a Node stream before its end destroys it with an AbortError; a body that ends by itself is not closed.
  const run = async (epilogue: Buffer) => {
    const body = Buffer.concat([await collect(writeMultipart([{ headers: {}, body: Buffer.from('x') }], 'ep')), epilogue]);
    let ended = false;
    let closed = false;
    async function* source(): AsyncGenerator<Buffer> {
      try {
        for (let i = 0; i < body.length; i += 1000) yield body.subarray(i, i + 1000);
        ended = true;
      } finally {
        closed = !ended;
      }
    }
    const parts = await readParts(source(), 'ep', { maxHeaderBytes: 4096 });
    assert.deepEqual(parts.map((p) => p.body.toString()), ['x']);
    return { ended, closed };
  };
  assert.deepEqual(await run(Buffer.from('epilogue\r\n')), { ended: true, closed: false });
  assert.deepEqual(await run(Buffer.alloc(20_000, 0x61)), { ended: false, closed: true });
});

test('partialDelimiterLength - the longest end of a buffer that starts the delimiter', () => {
  const delimiter = Buffer.from('\r\n--abc');
  assert.equal(partialDelimiterLength(Buffer.from('data'), delimiter), 0);
  assert.equal(partialDelimiterLength(Buffer.from('data\r'), delimiter), 1);
  assert.equal(partialDelimiterLength(Buffer.from('data\r\n--ab'), delimiter), 6);
  assert.equal(partialDelimiterLength(Buffer.from('data\r\n--x'), delimiter), 0);
  assert.equal(partialDelimiterLength(Buffer.from('\r\n-\r'), delimiter), 1);
  assert.equal(partialDelimiterLength(Buffer.from('\r\n'), delimiter), 2);
  assert.equal(partialDelimiterLength(Buffer.alloc(0), delimiter), 0);
});

test('multipart parser - preamble, epilogue, transport padding, part without headers', async () => {
  const text = 'preamble text\r\n--b1  \r\n\r\nfirst\r\n--b1\r\nContent-Type: text/plain\r\n  ; folded\r\n\r\nsecond\r\n--b1--\r\nepilogue';
  const parts = await readParts(chunked(Buffer.from(text), 5), 'b1');
  assert.deepEqual(parts.map((p) => p.body.toString()), ['first', 'second']);
  assert.deepEqual(parts[0]!.headers, {});
  assert.equal(parts[1]!.headers['content-type'], 'text/plain ; folded');
});

test('multipart parser - a part the consumer does not read is skipped', async () => {
  const boundary = 'bb';
  const written = await collect(writeMultipart([{ headers: {}, body: randomBytes(5000) }, { headers: { a: '1' }, body: Buffer.from('kept') }], boundary));
  const seen: string[] = [];
  for await (const part of parseMultipart(chunked(written, 100), boundary)) {
    if (part.headers.a) seen.push((await collect(part.body)).toString());
    else for await (const _ of part.body) break;
  }
  assert.deepEqual(seen, ['kept']);
});

test('multipart parser - limits and malformed bodies throw coded errors', async () => {
  const boundary = 'lim';
  const written = await collect(writeMultipart([{ headers: {}, body: randomBytes(3000) }, { headers: {}, body: Buffer.from('x') }], boundary));
  await assert.rejects(readParts(chunked(written, 256), boundary, { maxPartBytes: 2000 }), (e: unknown) => {
    assert.ok(e instanceof MultipartLimitError);
    assert.equal(e.httpStatus, 413);
    assert.match(e.message, /part 1: it exceeds 2000 bytes/);
    return true;
  });
  await assert.rejects(readParts(chunked(written, 256), boundary, { maxParts: 1 }), MultipartLimitError);
  await assert.rejects(readParts(chunked(written.subarray(0, 2000), 256), boundary), (e: unknown) => {
    assert.ok(e instanceof MultipartError);
    assert.match(e.message, /ends before its closing delimiter/);
    return true;
  });
  await assert.rejects(readParts(chunked(Buffer.from('no boundary here'), 4), boundary), /boundary 'lim' not found/);
  const longHeader = Buffer.from(`--lim\r\nX: ${'a'.repeat(20000)}\r\n\r\nbody\r\n--lim--`);
  await assert.rejects(readParts(chunked(longHeader, 1000), boundary), MultipartLimitError);
});

/** `bytes` in chunks of `size`, counting how many bytes the parser has pulled so far. */
function countingSource(bytes: Buffer, size: number): { chunks: AsyncGenerator<Buffer>; pulled(): number } {
  let pulled = 0;
  async function* counting(): AsyncGenerator<Buffer> {
    for await (const c of chunked(bytes, size)) {
      pulled += c.length;
      yield c;
    }
  }
  return { chunks: counting(), pulled: () => pulled };
}

test('multipart parser - reads the source only as fast as parts are consumed (backpressure)', async () => {
  const boundary = 'bp';
  const written = await collect(writeMultipart([{ headers: {}, body: randomBytes(1 << 20) }, { headers: {}, body: randomBytes(10) }], boundary));
  const source = countingSource(written, 16384);
  const parts = parseMultipart(source.chunks, boundary);
  const first = await parts.next();
  assert.ok(!first.done);
  const it = first.value.body[Symbol.asyncIterator]();
  await it.next();
  assert.ok(source.pulled() <= 3 * 16384, `pulled ${source.pulled()} bytes to give the first chunk`);
  await parts.return(undefined);
});

/** Reads what `collect` gave: an array is the whole part, anything else is a stream of it. */
async function collected(result: Buffer[] | AsyncIterable<Buffer>): Promise<{ whole: boolean; bytes: Buffer }> {
  if (Array.isArray(result)) return { whole: true, bytes: Buffer.concat(result) };
  return { whole: false, bytes: await collect(result as AsyncIterable<Buffer>) };
}

test('multipart parser - collect gives a part whole up to maxBytes and a stream of all of it past that, at every chunk size', async () => {
  const boundary = 'collect-b';
  const max = 3000;
  // Ends that start the delimiter, and bodies at, just under and just over the limit.
  const bodies = [randomBytes(max), randomBytes(max + 1), randomBytes(max - 1), Buffer.concat([randomBytes(max - 2), Buffer.from('\r\n')]), Buffer.alloc(0), randomBytes(3 * max)];
  const written = await collect(writeMultipart(bodies.map((b) => ({ headers: {}, body: b })), boundary));
  for (const size of [1, 3, 64, 1000, 2999, 3000, 3001, 100_000]) {
    const got: { whole: boolean; bytes: Buffer }[] = [];
    for await (const part of parseMultipart(chunked(written, size), boundary)) got.push(await collected(await part.collect(max)));
    assert.deepEqual(got.map((g) => g.whole), [true, false, true, true, true, false], `chunk size ${size}`);
    got.forEach((g, i) => assert.ok(g.bytes.equals(bodies[i]!), `part ${i} at chunk size ${size}`));
  }
});

test('multipart parser - collect holds views of the source chunks, not copies', async () => {
  const boundary = 'collect-views';
  const payload = randomBytes(50_000);
  const written = await collect(writeMultipart([{ headers: {}, body: payload }], boundary));
  const { chunks: source, sources } = ownBufferSource(written, 8192);
  for await (const part of parseMultipart(source, boundary)) {
    const chunks = await part.collect(1 << 20);
    assert.ok(Array.isArray(chunks));
    assert.ok(Buffer.concat(chunks).equals(payload));
    // Only where a chunk's end could have started a delimiter (a CR among its last bytes) is a copy made.
    assert.ok(chunks.filter((c) => sources.has(c.buffer)).length >= chunks.length - 2, 'chunks are views');
  }
});

test('multipart parser - collect reads no more than about maxBytes of a long part before it turns to a stream (backpressure)', async () => {
  const boundary = 'collect-bp';
  const written = await collect(writeMultipart([{ headers: {}, body: randomBytes(4 << 20) }, { headers: {}, body: Buffer.from('next') }], boundary));
  const source = countingSource(written, 16384);
  const parts = parseMultipart(source.chunks, boundary);
  const first = await parts.next();
  assert.ok(!first.done);
  let consumed = false;
  void first.value.consumed.then(() => (consumed = true));
  const rest = await first.value.collect(1 << 20);
  assert.ok(!Array.isArray(rest));
  assert.ok(source.pulled() <= (1 << 20) + 3 * 16384, `pulled ${source.pulled()} bytes before streaming`);
  await new Promise((r) => setImmediate(r));
  assert.equal(consumed, false, 'a part that goes on as a stream is not consumed yet');
  const bytes = await collect(rest as AsyncIterable<Buffer>);
  assert.equal(bytes.length, 4 << 20);
  assert.equal(consumed, true);
  const second = await parts.next();
  assert.ok(!second.done);
  assert.deepEqual(await second.value.collect(10), [Buffer.from('next')]);
  assert.ok((await parts.next()).done);
});

test('multipart parser - consumed settles when a part is collected whole, and a collected stream closed early is skipped', async () => {
  const boundary = 'collect-cons';
  const bodies = [Buffer.alloc(500, 1), Buffer.alloc(5000, 2), Buffer.from('third')];
  const written = await collect(writeMultipart(bodies.map((b) => ({ headers: {}, body: b })), boundary));
  const got: Buffer[] = [];
  for await (const part of parseMultipart(chunked(written, 300), boundary)) {
    let consumed = false;
    void part.consumed.then(() => (consumed = true));
    const result = await part.collect(1000);
    if (Array.isArray(result)) {
      await new Promise((r) => setImmediate(r));
      assert.equal(consumed, true);
      got.push(Buffer.concat(result));
    } else {
      for await (const chunk of result) {
        got.push(chunk);
        break;
      }
    }
  }
  assert.equal(got.length, 3);
  assert.ok(got[0]!.equals(bodies[0]!));
  assert.ok(got[2]!.equals(bodies[2]!), 'the part after one closed early is read from its start');
});

test('multipart parser - collect throws the coded errors of a part too large or cut short, and consumed settles', async () => {
  const boundary = 'collect-err';
  const written = await collect(writeMultipart([{ headers: {}, body: randomBytes(3000) }], boundary));
  for (const [source, limits, expected] of [
    [written, { maxPartBytes: 2000 }, MultipartLimitError],
    [written.subarray(0, 1500), {}, MultipartError],
  ] as const) {
    for await (const part of parseMultipart(chunked(source, 256), boundary, limits)) {
      let consumed = false;
      void part.consumed.then(() => (consumed = true));
      await assert.rejects(part.collect(1 << 20), expected);
      await new Promise((r) => setImmediate(r));
      assert.equal(consumed, true);
      break;
    }
  }
});

test('writeMultipart - streams parts lazily: the next part is opened only after the previous one is read', async () => {
  const opened: number[] = [];
  async function* parts() {
    for (let i = 0; i < 3; i++) {
      opened.push(i);
      yield { headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(64 * 1024, i) };
    }
  }
  const stream = writeMultipart(parts(), 'lazy');
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(opened.length <= 2, `opened ${opened.length} parts before anything was read`);
  const all = await collect(stream);
  assert.equal(opened.length, 3);
  const back = await readParts(chunked(all, 1000), 'lazy');
  assert.deepEqual(back.map((p) => p.body[0]), [0, 1, 2]);
});

test('media types - Accept parsing keeps client order for equal weights and drops q=0', () => {
  const ranges = parseAccept('multipart/related; type="application/octet-stream"; transfer-syntax=*, image/jpeg;q=0.5, text/html;q=0');
  assert.deepEqual(ranges.map((r) => r.essence), ['multipart/related', 'image/jpeg']);
  assert.equal(ranges[0]!.parameters.type, 'application/octet-stream');
  assert.equal(ranges[0]!.parameters['transfer-syntax'], '*');
  assert.equal(ranges[1]!.q, 0.5);
  assert.deepEqual(parseAccept(undefined).map((r) => r.essence), ['*/*']);
  assert.deepEqual(parseMediaType('Multipart/Related; Boundary="a;b"')?.parameters, { boundary: 'a;b' });
  assert.equal(formatMediaType('multipart/related', { type: 'application/dicom', boundary: 'x1' }), 'multipart/related; type="application/dicom"; boundary=x1');
});
