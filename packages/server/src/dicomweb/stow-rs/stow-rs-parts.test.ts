// STOW-RS gives a part to the ingest pipeline whole (an array of chunks) while it is at most 1 MiB, and as a
// stream past that: these tests hold the switch to its edges and check that both paths store what was sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buildCtSeries, type DicomJsonDataset } from '@atrium/dicom';
import { openTestServer } from '../test-support.js';

const LIMIT = 1 << 20;
const BOUNDARY = 'stow-parts-boundary';
const seq = (ds: DicomJsonDataset, tag: string) => (ds[tag]?.Value ?? []) as DicomJsonDataset[];
const str = (ds: DicomJsonDataset | undefined, tag: string) => ds?.[tag]?.Value?.[0];

/**
 * A Part 10 object of exactly `size` bytes: `bytes` followed by Data Set Trailing Padding (FFFC,FFFC), OB in
 * Explicit VR Little Endian (12 bytes of header, then zeros).
 */
function paddedTo(bytes: Uint8Array, size: number): Buffer {
  const length = size - bytes.byteLength - 12;
  assert.ok(length >= 0 && length % 2 === 0, `cannot pad ${bytes.byteLength} bytes to ${size}`);
  const header = Buffer.from([0xfc, 0xff, 0xfc, 0xff, 0x4f, 0x42, 0, 0, 0, 0, 0, 0]);
  header.writeUInt32LE(length, 8);
  return Buffer.concat([bytes, header, Buffer.alloc(length)]);
}

interface OutgoingPart {
  bytes: Uint8Array;
  /** A Content-Length header for the part: its true length, or what a sender claims. */
  contentLength?: number;
}

/** A multipart/related body, cut into chunks of `chunkSize` bytes as a socket might deliver it. */
function stowRequest(parts: readonly OutgoingPart[], chunkSize: number): { payload: Readable; contentType: string } {
  const pieces: Buffer[] = [];
  for (const part of parts) {
    const length = part.contentLength === undefined ? '' : `Content-Length: ${part.contentLength}\r\n`;
    pieces.push(Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n${length}\r\n`), Buffer.from(part.bytes), Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  const body = Buffer.concat(pieces);
  const chunks: Buffer[] = [];
  for (let at = 0; at < body.length; at += chunkSize) chunks.push(Buffer.from(body.subarray(at, at + chunkSize)));
  return { payload: Readable.from(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${BOUNDARY}` };
}

interface IngestCall {
  whole: boolean;
  chunks: number;
  bytes: number;
}

/** A test server whose pipeline records, for each instance, whether it came whole and in how many chunks. */
async function recordingServer() {
  const server = await openTestServer();
  const calls: IngestCall[] = [];
  const pipeline = server.archive.ingest;
  const ingest = pipeline.ingest.bind(pipeline);
  pipeline.ingest = (source, options) => {
    if (Array.isArray(source)) {
      const chunks = source as readonly Uint8Array[];
      calls.push({ whole: true, chunks: chunks.length, bytes: chunks.reduce((n, c) => n + c.byteLength, 0) });
    } else calls.push({ whole: false, chunks: 0, bytes: 0 });
    return ingest(source, options);
  };
  return { server, calls };
}

async function storedBytes(server: Awaited<ReturnType<typeof openTestServer>>, sopInstanceUid: string): Promise<Buffer> {
  const instance = await server.archive.archive.findInstance(sopInstanceUid);
  assert.ok(instance, `instance '${sopInstanceUid}' is indexed`);
  const chunks: Buffer[] = [];
  for await (const chunk of await server.archive.store.get(instance.blobKey)) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

test('STOW-RS - a part of up to 1 MiB reaches the pipeline whole, a part just over streams, and both are stored as sent', async () => {
  const { server, calls } = await recordingServer();
  try {
    const ct = buildCtSeries({ slices: 4, rows: 64, columns: 64, seed: 31 });
    const sent = [
      paddedTo(ct.instances[0]!.bytes, LIMIT),
      paddedTo(ct.instances[1]!.bytes, LIMIT + 2),
      Buffer.from(ct.instances[2]!.bytes),
      paddedTo(ct.instances[3]!.bytes, LIMIT - 2),
    ];
    // The request's pieces as the route sees them are inject's (chunk boundaries at every byte are the parser's
    // tests): here, a whole part must still come in many pieces, handed over as they are.
    const { payload, contentType } = stowRequest(sent.map((bytes) => ({ bytes })), 997);
    const res = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': contentType }, payload });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(
      calls.map((c) => c.whole),
      [true, false, true, true],
    );
    assert.deepEqual(
      calls.map((c) => c.bytes),
      [LIMIT, 0, sent[2]!.length, LIMIT - 2],
    );
    assert.ok(calls[0]!.chunks > 10, `a whole part is handed over in the ${calls[0]!.chunks} pieces it came in`);
    const referenced = seq(JSON.parse(res.body) as DicomJsonDataset, '00081199');
    assert.deepEqual(referenced.map((r) => str(r, '00081155')), ct.instances.map((i) => i.sopInstanceUid));
    for (const [i, instance] of ct.instances.entries()) {
      assert.ok((await storedBytes(server, instance.sopInstanceUid)).equals(sent[i]!), `part ${i + 1} is stored byte for byte`);
    }
  } finally {
    await server.close();
  }
});

test('STOW-RS - parts with and without Content-Length: a declared length over 1 MiB streams from the start, a wrong one stores the true bytes', async () => {
  const { server, calls } = await recordingServer();
  try {
    const ct = buildCtSeries({ slices: 4, rows: 16, columns: 16, seed: 32 });
    const bytes = ct.instances.map((i) => Buffer.from(i.bytes));
    const parts: OutgoingPart[] = [
      { bytes: bytes[0]! },
      { bytes: bytes[1]!, contentLength: bytes[1]!.length },
      // A length is only a hint for the path: the delimiter ends the part, so a wrong one stores the true bytes.
      { bytes: bytes[2]!, contentLength: LIMIT + 1 },
      { bytes: bytes[3]!, contentLength: 12 },
    ];
    const { payload, contentType } = stowRequest(parts, 7);
    const res = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': contentType }, payload });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(
      calls.map((c) => c.whole),
      [true, true, false, true],
    );
    assert.deepEqual(
      calls.filter((c) => c.whole).map((c) => c.bytes),
      [bytes[0]!.length, bytes[1]!.length, bytes[3]!.length],
    );
    for (const [i, instance] of ct.instances.entries()) {
      assert.ok((await storedBytes(server, instance.sopInstanceUid)).equals(bytes[i]!), `part ${i + 1} is stored byte for byte`);
    }
  } finally {
    await server.close();
  }
});

test('STOW-RS - a failing part among several, whole or streamed, fails alone with its reason (202)', async () => {
  const { server, calls } = await recordingServer();
  try {
    const ct = buildCtSeries({ slices: 3, rows: 32, columns: 32, seed: 33 });
    const good = [Buffer.from(ct.instances[0]!.bytes), paddedTo(ct.instances[1]!.bytes, LIMIT + 64), Buffer.from(ct.instances[2]!.bytes)];
    const notDicom = Buffer.from('not a DICOM file at all, just text');
    const longNotDicom = Buffer.alloc(LIMIT + 10, 0x41);
    const { payload, contentType } = stowRequest(
      [{ bytes: good[0]! }, { bytes: notDicom }, { bytes: good[1]! }, { bytes: longNotDicom }, { bytes: good[2]! }],
      4096,
    );
    const res = await server.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': contentType }, payload });
    assert.equal(res.statusCode, 202, res.body);
    assert.deepEqual(
      calls.map((c) => c.whole),
      [true, true, false, false, true],
    );
    const answer = JSON.parse(res.body) as DicomJsonDataset;
    assert.deepEqual(seq(answer, '00081199').map((r) => str(r, '00081155')), ct.instances.map((i) => i.sopInstanceUid));
    const failed = seq(answer, '00081198');
    assert.equal(failed.length, 2);
    for (const f of failed) assert.equal(typeof str(f, '00081197'), 'number');
    const warning = String(res.headers.warning);
    assert.match(warning, /Cannot store part 2: /);
    assert.match(warning, /Cannot store part 4: /);
    for (const [i, instance] of ct.instances.entries()) {
      assert.ok((await storedBytes(server, instance.sopInstanceUid)).equals(good[i]!), `instance ${i + 1} is stored byte for byte`);
    }
    assert.equal((await server.archive.archive.stats()).instances, 3);
  } finally {
    await server.close();
  }
});

test('STOW-RS - instances of another study are refused before anything is stored, whole or streamed (409)', async () => {
  const { server, calls } = await recordingServer();
  try {
    const ct = buildCtSeries({ slices: 2, rows: 32, columns: 32, seed: 34 });
    const { payload, contentType } = stowRequest(
      [{ bytes: ct.instances[0]!.bytes }, { bytes: paddedTo(ct.instances[1]!.bytes, LIMIT + 100) }],
      65536,
    );
    const res = await server.app.inject({ method: 'POST', url: '/dicom-web/studies/1.2.3.4.5.6.7.8.9.998', headers: { 'content-type': contentType }, payload });
    assert.equal(res.statusCode, 409, res.body);
    assert.deepEqual(
      calls.map((c) => c.whole),
      [true, false],
    );
    const failed = seq(JSON.parse(res.body) as DicomJsonDataset, '00081198');
    assert.deepEqual(failed.map((f) => str(f, '00081197')), [0xa900, 0xa900]);
    assert.deepEqual(failed.map((f) => str(f, '00081155')), ct.instances.map((i) => i.sopInstanceUid));
    assert.equal((await server.archive.archive.stats()).instances, 0);
    assert.deepEqual(await server.archive.archive.readChangeFeed(), []);
  } finally {
    await server.close();
  }
});

test('STOW-RS - a body cut short inside a part that is being collected stores the parts before it and reports the break', async () => {
  const { server, calls } = await recordingServer();
  try {
    const ct = buildCtSeries({ slices: 2, rows: 16, columns: 16, seed: 35 });
    const { payload } = stowRequest([{ bytes: ct.instances[0]!.bytes }, { bytes: ct.instances[1]!.bytes }], 1 << 20);
    const whole = Buffer.concat(await payload.toArray());
    const secondPart = whole.indexOf(Buffer.from(`\r\n--${BOUNDARY}\r\n`));
    const cut = whole.subarray(0, secondPart + 500);
    const res = await server.app.inject({
      method: 'POST',
      url: '/dicom-web/studies',
      headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}` },
      payload: cut,
    });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(calls.length, 1, 'the cut part never reaches the pipeline');
    const answer = JSON.parse(res.body) as DicomJsonDataset;
    assert.deepEqual(seq(answer, '00081199').map((r) => str(r, '00081155')), [ct.instances[0]!.sopInstanceUid]);
    assert.deepEqual(seq(answer, '00081198').map((f) => str(f, '00081197')), [0xc000]);
    assert.match(String(res.headers.warning), /part 2: the body ends before its closing delimiter/);
  } finally {
    await server.close();
  }
});
