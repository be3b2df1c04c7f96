import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import vm from 'node:vm';
import v8 from 'node:v8';
import { deflateRawSync } from 'node:zlib';
import { SpecificCharacterSet } from './character-set.js';
import type { DicomJsonAttribute } from './dicom-json.js';
import { DicomLimitError, DicomParseError, UnsupportedTransferSyntaxError } from './errors.js';
import type { ParsedInstance } from './parsed-instance.js';
import { Part10Reader, readPart10 } from './part10-reader.js';
import type { Part10ReaderOptions } from './part10-reader.js';
import { decodeBinaryValue, decodeStringValue } from './value-decoder.js';
import type { Vr } from './vr.js';
import { VR_INFO } from './vr.js';

// ---- a tiny encoder, enough to build test objects byte by byte (PS3.5 §7) ----------------------------------

interface El {
  tag: number;
  vr: Vr;
  /** Text (latin1, padded), numbers (by VR), raw bytes (as given, not padded), or items of a sequence. */
  v?: string | number[] | Uint8Array | El[][];
  /** Sequence or element written with undefined length. */
  undefinedLength?: boolean;
  /** Items written with undefined length. */
  undefinedItems?: boolean;
  /** Encapsulated pixel data: Basic Offset Table entries and fragments. */
  encapsulated?: { bot: number[]; fragments: Uint8Array[] };
}

interface Syntax {
  implicit?: boolean;
  bigEndian?: boolean;
}

class Bytes {
  readonly parts: number[] = [];
  constructor(private readonly be = false) {}
  u16(n: number): void {
    if (this.be) this.parts.push((n >> 8) & 0xff, n & 0xff);
    else this.parts.push(n & 0xff, (n >> 8) & 0xff);
  }
  u32(n: number): void {
    if (this.be) this.parts.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
    else this.parts.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  tag(t: number): void {
    this.u16(t >>> 16);
    this.u16(t & 0xffff);
  }
  bytes(b: ArrayLike<number>): void {
    for (let i = 0; i < b.length; i++) this.parts.push(b[i]!);
  }
  result(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

function valueBytes(el: El, s: Syntax): Uint8Array {
  const v = el.v;
  if (v === undefined) return new Uint8Array(0);
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'latin1');
    return b.length % 2 ? Uint8Array.from([...b, VR_INFO[el.vr].padByte]) : new Uint8Array(b);
  }
  const size = VR_INFO[el.vr].numberSize;
  const buf = Buffer.alloc((v as number[]).length * size);
  (v as number[]).forEach((n, i) => {
    const o = i * size;
    const le = !s.bigEndian;
    switch (el.vr) {
      case 'US': case 'OW': le ? buf.writeUInt16LE(n, o) : buf.writeUInt16BE(n, o); break;
      case 'SS': le ? buf.writeInt16LE(n, o) : buf.writeInt16BE(n, o); break;
      case 'UL': le ? buf.writeUInt32LE(n, o) : buf.writeUInt32BE(n, o); break;
      case 'SL': le ? buf.writeInt32LE(n, o) : buf.writeInt32BE(n, o); break;
      case 'FL': case 'OF': le ? buf.writeFloatLE(n, o) : buf.writeFloatBE(n, o); break;
      case 'FD': case 'OD': le ? buf.writeDoubleLE(n, o) : buf.writeDoubleBE(n, o); break;
      case 'OV': case 'UV': le ? buf.writeBigUInt64LE(BigInt(n), o) : buf.writeBigUInt64BE(BigInt(n), o); break;
      case 'AT': le ? (buf.writeUInt16LE(n >>> 16, o), buf.writeUInt16LE(n & 0xffff, o + 2)) : buf.writeUInt32BE(n, o); break;
      default: buf[o] = n;
    }
  });
  return new Uint8Array(buf);
}

function header(out: Bytes, el: El, length: number, s: Syntax): void {
  out.tag(el.tag);
  if (s.implicit) {
    out.u32(length);
    return;
  }
  out.bytes(Buffer.from(el.vr, 'latin1'));
  if (VR_INFO[el.vr].longLength) {
    out.u16(0);
    out.u32(length);
  } else {
    out.u16(length);
  }
}

function encode(elements: El[], s: Syntax = {}): Uint8Array {
  const out = new Bytes(s.bigEndian);
  for (const el of elements) {
    if (el.encapsulated) {
      header(out, el, 0xffffffff, s);
      const bot = new Bytes();
      for (const o of el.encapsulated.bot) bot.u32(o);
      const items = [bot.result(), ...el.encapsulated.fragments];
      for (const item of items) {
        out.tag(0xfffee000);
        out.u32(item.length);
        out.bytes(item);
      }
      out.tag(0xfffee0dd);
      out.u32(0);
    } else if (Array.isArray(el.v) && (el.vr === 'SQ' || (el.vr === 'UN' && el.undefinedLength))) {
      const inner: Syntax = el.vr === 'UN' ? { implicit: true } : s;
      const items = (el.v as El[][]).map((item) => encode(item, inner));
      const body = new Bytes(inner.bigEndian);
      for (const item of items) {
        body.tag(0xfffee000);
        body.u32(el.undefinedItems ? 0xffffffff : item.length);
        body.bytes(item);
        if (el.undefinedItems) {
          body.tag(0xfffee00d);
          body.u32(0);
        }
      }
      const b = body.result();
      header(out, el, el.undefinedLength ? 0xffffffff : b.length, s);
      out.bytes(b);
      if (el.undefinedLength) {
        out.tag(0xfffee0dd);
        out.u32(0);
      }
    } else {
      const b = valueBytes(el, s);
      header(out, el, b.length, s);
      out.bytes(b);
    }
  }
  return out.result();
}

function part10(transferSyntaxUid: string, dataset: Uint8Array, options: { deflate?: boolean } = {}): Uint8Array {
  const meta = encode([
    { tag: 0x00020001, vr: 'OB', v: Uint8Array.of(0, 1) },
    { tag: 0x00020002, vr: 'UI', v: '1.2.840.10008.5.1.4.1.1.7' },
    { tag: 0x00020003, vr: 'UI', v: '1.2.3.4' },
    { tag: 0x00020010, vr: 'UI', v: transferSyntaxUid },
  ]);
  const groupLength = encode([{ tag: 0x00020000, vr: 'UL', v: [meta.length] }]);
  const body = options.deflate ? deflateRawSync(dataset) : dataset;
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), groupLength, meta, body]);
}

function read(bytes: Uint8Array, options?: Part10ReaderOptions, chunkSize = bytes.length || 1): ParsedInstance {
  const reader = new Part10Reader(options);
  for (let i = 0; i < bytes.length; i += chunkSize) reader.write(bytes.subarray(i, i + chunkSize));
  return reader.end();
}

function readInChunks(bytes: Uint8Array, sizes: number[], options?: Part10ReaderOptions): ParsedInstance {
  const reader = new Part10Reader(options);
  let i = 0;
  let k = 0;
  while (i < bytes.length) {
    const n = sizes[k++ % sizes.length]!;
    reader.write(bytes.slice(i, i + n));
    i += n;
  }
  return reader.end();
}

/** A seeded generator, so a failing random chunking can be reproduced. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const IMPLICIT = '1.2.840.10008.1.2';
const EXPLICIT = '1.2.840.10008.1.2.1';
const DEFLATED = '1.2.840.10008.1.2.1.99';
const BIG_ENDIAN = '1.2.840.10008.1.2.2';
const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';
const J2K = '1.2.840.10008.1.2.4.90';
const MPEG4 = '1.2.840.10008.1.2.4.102';

/** A CT-like data set with most kinds of values (tags in ascending order, as PS3.5 §7.1 requires). */
function sampleDataset(): El[] {
  return [
    { tag: 0x00080005, vr: 'CS', v: 'ISO_IR 100' },
    { tag: 0x00080008, vr: 'CS', v: 'ORIGINAL\\PRIMARY\\AXIAL' },
    { tag: 0x00080016, vr: 'UI', v: '1.2.840.10008.5.1.4.1.1.2' },
    { tag: 0x00080018, vr: 'UI', v: '1.2.3.4.5' },
    { tag: 0x00080020, vr: 'DA', v: '20240131' },
    { tag: 0x00080050, vr: 'SH', v: '' },
    { tag: 0x00081030, vr: 'LO', v: ' Head CT ' },
    { tag: 0x00100010, vr: 'PN', v: 'Buc^J\xe9r\xf4me' },
    { tag: 0x00100020, vr: 'LO', v: 'PID-1' },
    { tag: 0x00181050, vr: 'DS', v: '0.5\\1e2\\abc' },
    { tag: 0x00200013, vr: 'IS', v: ' 42' },
    { tag: 0x00201041, vr: 'DS', v: '-12.5' },
    { tag: 0x00280002, vr: 'US', v: [1] },
    { tag: 0x00280010, vr: 'US', v: [2] },
    { tag: 0x00280011, vr: 'US', v: [2] },
    { tag: 0x00280100, vr: 'US', v: [16] },
    { tag: 0x00280103, vr: 'US', v: [1] },
    { tag: 0x00281050, vr: 'DS', v: '40' },
    { tag: 0x00289110, vr: 'SQ', v: [] },
    { tag: 0x00291010, vr: 'OB', v: Uint8Array.of(1, 2, 3) },
    { tag: 0x7fe00010, vr: 'OW', v: [1, 2, 3, 65535] },
  ];
}

const SAMPLE_JSON = {
  '00080005': { vr: 'CS', Value: ['ISO_IR 100'] },
  '00080008': { vr: 'CS', Value: ['ORIGINAL', 'PRIMARY', 'AXIAL'] },
  '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
  '00080018': { vr: 'UI', Value: ['1.2.3.4.5'] },
  '00080020': { vr: 'DA', Value: ['20240131'] },
  '00080050': { vr: 'SH' },
  '00081030': { vr: 'LO', Value: ['Head CT'] },
  '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Buc^Jérôme' }] },
  '00100020': { vr: 'LO', Value: ['PID-1'] },
  '00181050': { vr: 'DS', Value: [0.5, 100, 'abc'] },
  '00200013': { vr: 'IS', Value: [42] },
  '00201041': { vr: 'DS', Value: [-12.5] },
  '00280002': { vr: 'US', Value: [1] },
  '00280010': { vr: 'US', Value: [2] },
  '00280011': { vr: 'US', Value: [2] },
  '00280100': { vr: 'US', Value: [16] },
  '00280103': { vr: 'US', Value: [1] },
  '00281050': { vr: 'DS', Value: [40] },
  '00289110': { vr: 'SQ' },
  '00291010': { vr: 'OB', InlineBinary: 'AQID' },
  '7FE00010': { vr: 'OW', BulkDataURI: '7FE00010' },
};

// ---- transfer syntaxes ----------------------------------------------------------------------------------------

test('Part10Reader - reads Explicit VR Little Endian into DICOM JSON', () => {
  const ds = encode(sampleDataset());
  const bytes = part10(EXPLICIT, ds);
  const r = read(bytes);
  assert.deepEqual(r.dataset, SAMPLE_JSON);
  assert.equal(r.transferSyntaxUid, EXPLICIT);
  assert.equal(r.fileMetaInformation['00020010']?.Value?.[0], EXPLICIT);
  assert.equal(r.fileMetaInformation['00020001']?.InlineBinary, 'AAE=');
  assert.equal(r.datasetOffset, bytes.length - ds.length);
  assert.equal(r.byteLength, bytes.length);
  assert.equal(r.deflated, false);
  const pixelOffset = bytes.length - 8;
  assert.deepEqual(r.bulkData, [{ path: '7FE00010', vr: 'OW', offset: pixelOffset, length: 8 }]);
  assert.deepEqual(r.pixelData, { encapsulated: false, offset: pixelOffset, length: 8, vr: 'OW', fragments: [], basicOffsetTable: [] });
  assert.deepEqual(r.frames, [{ fragments: [{ offset: pixelOffset, length: 8 }] }]);
});

test('Part10Reader - reads Implicit VR Little Endian with VRs from the dictionary', () => {
  const r = read(part10(IMPLICIT, encode(sampleDataset(), { implicit: true })));
  // Private (0029,1010) has no dictionary VR: UN, still inline; Pixel Data is OW in implicit VR (PS3.5 §A.1).
  assert.deepEqual(r.dataset, { ...SAMPLE_JSON, '00291010': { vr: 'UN', InlineBinary: 'AQID' } });
});

test('Part10Reader - reads Explicit VR Big Endian, swapping numbers and inline binary words', () => {
  const els: El[] = [
    { tag: 0x00080018, vr: 'UI', v: '1.2.3' },
    { tag: 0x00181310, vr: 'US', v: [256, 1, 0, 512] },
    { tag: 0x00189219, vr: 'SS', v: [-2] },
    { tag: 0x00209057, vr: 'UL', v: [0x01020304] },
    { tag: 0x00209241, vr: 'FL', v: [1.5] },
    { tag: 0x00209254, vr: 'FD', v: [-2.25] },
    { tag: 0x00209165, vr: 'AT', v: [0x00200032] },
    { tag: 0x00281201, vr: 'OW', v: [0x0102, 0x0304] },
  ];
  const r = read(part10(BIG_ENDIAN, encode(els, { bigEndian: true })));
  assert.deepEqual(r.dataset, {
    '00080018': { vr: 'UI', Value: ['1.2.3'] },
    '00181310': { vr: 'US', Value: [256, 1, 0, 512] },
    '00189219': { vr: 'SS', Value: [-2] },
    '00209057': { vr: 'UL', Value: [0x01020304] },
    '00209241': { vr: 'FL', Value: [1.5] },
    '00209254': { vr: 'FD', Value: [-2.25] },
    '00209165': { vr: 'AT', Value: ['00200032'] },
    '00281201': { vr: 'OW', InlineBinary: Buffer.from([2, 1, 4, 3]).toString('base64') },
  });
});

test('Part10Reader - inflates Deflated Explicit VR Little Endian and counts offsets in inflated bytes', () => {
  const ds = encode(sampleDataset());
  const bytes = part10(DEFLATED, ds, { deflate: true });
  for (const chunk of [bytes.length, 1, 7, 100]) {
    const r = read(bytes, {}, chunk);
    assert.deepEqual(r.dataset, SAMPLE_JSON);
    assert.equal(r.deflated, true);
    assert.equal(r.datasetOffset, bytes.length - deflateRawSync(ds).length);
    assert.deepEqual(r.bulkData, [{ path: '7FE00010', vr: 'OW', offset: ds.length - 8, length: 8 }]);
    assert.equal(r.byteLength, bytes.length);
  }
});

test('Part10Reader - reads a bare data set in the given transfer syntax', () => {
  const r = read(encode(sampleDataset(), { implicit: true }), { format: 'dataset', transferSyntaxUid: IMPLICIT });
  assert.equal(r.dataset['00100020']?.Value?.[0], 'PID-1');
  assert.deepEqual(r.fileMetaInformation, {});
  assert.equal(r.datasetOffset, 0);
  const e = read(encode(sampleDataset()), { format: 'dataset', transferSyntaxUid: EXPLICIT });
  assert.deepEqual(e.dataset, SAMPLE_JSON);
  const d = read(deflateRawSync(encode(sampleDataset())), { format: 'dataset', transferSyntaxUid: DEFLATED }, 5);
  assert.deepEqual(d.dataset, SAMPLE_JSON);
});

test('Part10Reader - reads an implicit data set mislabelled as explicit, with a warning', () => {
  const r = read(part10(EXPLICIT, encode(sampleDataset(), { implicit: true })));
  assert.equal(r.dataset['00100020']?.Value?.[0], 'PID-1');
  assert.match(r.warnings?.[0] ?? '', /implicit/);
});

test('Part10Reader - refuses JPIP, XML and unknown transfer syntaxes', () => {
  for (const uid of ['1.2.840.10008.1.2.4.94', '1.2.840.10008.1.2.6.2', '1.2.3.4.5.6']) {
    assert.throws(
      () => read(part10(uid, encode(sampleDataset()))),
      (e: unknown) => e instanceof UnsupportedTransferSyntaxError && e.code === 'ATRIUM_ERR_DICOM_UNSUPPORTED_TRANSFER_SYNTAX' && e.transferSyntaxUid === uid,
    );
  }
});

test('Part10Reader - says an object without DICM is not Part 10', () => {
  const bytes = Buffer.concat([Buffer.alloc(128), Buffer.from('DICX'), encode(sampleDataset())]);
  assert.throws(() => read(bytes), (e: unknown) => e instanceof DicomParseError && e.code === 'ATRIUM_ERR_DICOM_NOT_PART10' && /DICM/.test(e.message));
  assert.throws(() => read(Buffer.alloc(40)), (e: unknown) => e instanceof DicomParseError && e.code === 'ATRIUM_ERR_DICOM_NOT_PART10');
});

// ---- structure --------------------------------------------------------------------------------------------------

function nested(): El[] {
  return [
    { tag: 0x00080005, vr: 'CS', v: 'ISO_IR 192' },
    {
      tag: 0x00081115,
      vr: 'SQ',
      undefinedLength: true,
      undefinedItems: true,
      v: [
        [
          { tag: 0x00081150, vr: 'UI', v: '1.2.1' },
          {
            tag: 0x0008114a,
            vr: 'SQ',
            v: [[{ tag: 0x00081155, vr: 'UI', v: '1.2.2' }], [{ tag: 0x00081155, vr: 'UI', v: '1.2.3' }]],
          },
        ],
        [],
      ],
    },
    { tag: 0x00100010, vr: 'PN', v: 'After^Sequence' },
    {
      tag: 0x54000100,
      vr: 'SQ',
      undefinedItems: true,
      v: [
        [
          { tag: 0x003a0005, vr: 'US', v: [2] },
          { tag: 0x54001010, vr: 'OW', v: [1, 2, 3] },
        ],
      ],
    },
    {
      tag: 0x00091010,
      vr: 'UN',
      undefinedLength: true,
      v: [[{ tag: 0x00100020, vr: 'LO', v: 'INSIDE-UN' }]],
    },
  ];
}

const NESTED_JSON = {
  '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
  '00081115': {
    vr: 'SQ',
    Value: [
      {
        '00081150': { vr: 'UI', Value: ['1.2.1'] },
        '0008114A': {
          vr: 'SQ',
          Value: [{ '00081155': { vr: 'UI', Value: ['1.2.2'] } }, { '00081155': { vr: 'UI', Value: ['1.2.3'] } }],
        },
      },
      {},
    ],
  },
  '00100010': { vr: 'PN', Value: [{ Alphabetic: 'After^Sequence' }] },
  '54000100': {
    vr: 'SQ',
    Value: [{ '003A0005': { vr: 'US', Value: [2] }, '54001010': { vr: 'OW', BulkDataURI: '54000100/0/54001010' } }],
  },
  '00091010': { vr: 'SQ', Value: [{ '00100020': { vr: 'LO', Value: ['INSIDE-UN'] } }] },
};

test('Part10Reader - reads nested sequences of defined and undefined length, and UN of undefined length', () => {
  for (const syntax of [{}, { implicit: true }]) {
    const bytes = part10(syntax.implicit ? IMPLICIT : EXPLICIT, encode(nested(), syntax));
    const r = read(bytes);
    // In implicit VR the private UN is only known by its undefined length; it is read as a sequence all the same.
    assert.deepEqual(r.dataset, NESTED_JSON);
    const ref = r.bulkData.find((b) => b.path === '54000100/0/54001010');
    assert.equal(ref?.length, 6);
    assert.deepEqual([...bytes.subarray(ref!.offset, ref!.offset + 6)], [1, 0, 2, 0, 3, 0]);
  }
});

test('Part10Reader - gives the same result for every chunking, down to one byte', () => {
  const objects = [
    part10(EXPLICIT, encode([...nested(), ...sampleDataset().slice(9)])),
    part10(IMPLICIT, encode(nested(), { implicit: true })),
    part10(DEFLATED, encode(sampleDataset()), { deflate: true }),
    part10(JPEG_BASELINE, encode(encapsulatedDataset(3, [0, 12], [jpeg(4), jpeg(2), jpeg(6)]))),
  ];
  const rand = random(42);
  for (const bytes of objects) {
    const whole = read(bytes);
    assert.deepEqual(read(bytes, {}, 1), whole);
    for (let run = 0; run < 20; run++) {
      const sizes = Array.from({ length: 16 }, () => 1 + Math.floor(rand() * 40));
      assert.deepEqual(readInChunks(bytes, sizes), whole, `chunk sizes ${sizes.join(',')}`);
    }
  }
});

test('Part10Reader - reads a known tag sent as UN with its dictionary VR', () => {
  const r = read(part10(EXPLICIT, encode([
    { tag: 0x00100020, vr: 'UN', v: 'ABC' },
    { tag: 0x00280010, vr: 'UN', v: Uint8Array.of(0, 2) },
  ])));
  assert.deepEqual(r.dataset['00100020'], { vr: 'LO', Value: ['ABC'] });
  assert.deepEqual(r.dataset['00280010'], { vr: 'US', Value: [512] });
});

test('Part10Reader - resolves US or SS by Pixel Representation in implicit VR', () => {
  const els = (pixelRepresentation: number): El[] => [
    { tag: 0x00280103, vr: 'US', v: [pixelRepresentation] },
    { tag: 0x00280106, vr: 'SS', v: [-5] },
  ];
  assert.deepEqual(read(part10(IMPLICIT, encode(els(1), { implicit: true }))).dataset['00280106'], { vr: 'SS', Value: [-5] });
  assert.deepEqual(read(part10(IMPLICIT, encode(els(0), { implicit: true }))).dataset['00280106'], { vr: 'US', Value: [65531] });
});

test('Part10Reader - reads each VR of PS3.5 Table 6.2-1 from its two bytes, another upper-case pair as UN in the long form', () => {
  const vrs = (Object.keys(VR_INFO) as Vr[]).filter((vr) => vr !== 'SQ');
  const elements: El[] = vrs.map((vr, k) => ({ tag: 0x00091000 + k, vr, v: Uint8Array.of(0x31, 0x32, 0x33, 0x34) }));
  const dataset = encode([{ tag: 0x00080060, vr: 'CS', v: 'CT' }, ...elements]);
  // (0009,1100) with the bytes 'XY', which no edition defines (yet): 2 reserved bytes and a 32-bit length (PS3.5 §7.1.2).
  const unknown = Uint8Array.of(0x09, 0x00, 0x00, 0x11, 0x58, 0x59, 0, 0, 2, 0, 0, 0, 0x41, 0x42);
  const r = read(part10(EXPLICIT, Buffer.concat([dataset, unknown])));
  assert.deepEqual(
    vrs.map((vr, k) => r.dataset[(0x00091000 + k).toString(16).toUpperCase().padStart(8, '0')]?.vr),
    vrs,
  );
  assert.deepEqual(r.dataset['00091100'], { vr: 'UN', InlineBinary: 'QUI=' });
  assert.deepEqual(r.warnings, []);
  for (const bytes of [Uint8Array.of(0x6f, 0x62), Uint8Array.of(0x4f, 0x5b), Uint8Array.of(0x40, 0x42), Uint8Array.of(0xcf, 0x42)]) {
    const bad = Uint8Array.of(0x09, 0x00, 0x00, 0x11, bytes[0]!, bytes[1]!, 2, 0, 0x41, 0x42);
    const hex = Buffer.from(bytes).toString('hex').toUpperCase();
    assert.throws(
      () => read(part10(EXPLICIT, Buffer.concat([dataset, bad]))),
      (e: unknown) => e instanceof DicomParseError && e.tag === 0x00091100 && e.message.startsWith(`Cannot read element: VR bytes '${hex}' are not a VR`),
    );
  }
});

test('Part10Reader - tolerates odd lengths, drops data set group lengths, keeps multi-value gaps as null', () => {
  const r = read(part10(EXPLICIT, encode([
    { tag: 0x00080000, vr: 'UL', v: [1234] },
    { tag: 0x00080008, vr: 'CS', v: Buffer.from('A\\\\B') },
    { tag: 0x00081030, vr: 'LO', v: Buffer.from('odd') },
    { tag: 0x00291010, vr: 'OB', v: Uint8Array.of(9) },
  ])));
  assert.deepEqual(r.dataset, {
    '00080008': { vr: 'CS', Value: ['A', null, 'B'] },
    '00081030': { vr: 'LO', Value: ['odd'] },
    '00291010': { vr: 'OB', InlineBinary: 'CQ==' },
  });
});

test('Part10Reader - makes binary values above the threshold bulk data with the URI the caller builds', () => {
  const big = new Uint8Array(2000).fill(7);
  const bytes = part10(EXPLICIT, encode([
    { tag: 0x00091010, vr: 'OB', v: big },
    { tag: 0x00420011, vr: 'OB', v: Uint8Array.of(1, 2) },
  ]));
  const r = read(bytes, { bulkDataUri: (ref) => `/bulk/${ref.path}?offset=${ref.offset}` });
  const ref = r.bulkData[0]!;
  assert.equal(ref.length, 2000);
  assert.equal(bytes[ref.offset], 7);
  assert.equal(r.dataset['00091010']?.BulkDataURI, `/bulk/00091010?offset=${ref.offset}`);
  // Encapsulated Document is bulk whatever its size.
  assert.equal(r.bulkData[1]?.path, '00420011');
  assert.equal(r.dataset['00420011']?.InlineBinary, undefined);
  assert.equal(read(bytes, { bulkDataThreshold: 4096 }).dataset['00091010']?.InlineBinary, Buffer.from(big).toString('base64'));
});

// ---- pixel data ---------------------------------------------------------------------------------------------------

function jpeg(n: number): Uint8Array {
  return Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, ...new Array<number>(n).fill(0x11)]);
}

function tail(n: number): Uint8Array {
  return Uint8Array.from(new Array<number>(n).fill(0x22));
}

function encapsulatedDataset(frames: number, bot: number[], fragments: Uint8Array[], extra: El[] = []): El[] {
  return [
    { tag: 0x00280008, vr: 'IS', v: String(frames) },
    { tag: 0x00280010, vr: 'US', v: [4] },
    { tag: 0x00280011, vr: 'US', v: [4] },
    ...extra,
    { tag: 0x7fe00010, vr: 'OB', encapsulated: { bot, fragments } },
  ];
}

function frameSizes(r: ParsedInstance): number[][] {
  return r.frames.map((f) => f.fragments.map((x) => x.length));
}

test('Part10Reader - records every fragment and the Basic Offset Table of encapsulated pixel data', () => {
  const fragments = [jpeg(4), jpeg(2), jpeg(6)];
  const bytes = part10(JPEG_BASELINE, encode(encapsulatedDataset(3, [0, 16, 32], fragments)));
  const r = read(bytes);
  assert.equal(r.pixelData?.encapsulated, true);
  assert.deepEqual(r.pixelData?.basicOffsetTable, [0, 16, 32]);
  assert.deepEqual(r.pixelData?.fragments.map((f) => f.length), [8, 6, 10]);
  assert.equal(r.pixelData?.length, 24);
  for (const f of r.pixelData!.fragments) assert.deepEqual([...bytes.subarray(f.offset, f.offset + 2)], [0xff, 0xd8]);
  assert.deepEqual(r.dataset['7FE00010'], { vr: 'OB', BulkDataURI: '7FE00010' });
  assert.equal(r.bulkData[0]?.length, undefined);
  assert.deepEqual(frameSizes(r), [[8], [6], [10]]);
});

test('Part10Reader - locates encapsulated frames: one frame, offset tables, codestream markers, video', () => {
  const frags = [jpeg(4), tail(6), jpeg(2), tail(2), tail(4)];
  // One frame takes every fragment.
  assert.deepEqual(frameSizes(read(part10(JPEG_BASELINE, encode(encapsulatedDataset(1, [], frags))))), [[8, 6, 6, 2, 4]]);
  // Basic Offset Table: item starts are 0, 16, 30, 44, 54.
  assert.deepEqual(frameSizes(read(part10(JPEG_BASELINE, encode(encapsulatedDataset(2, [0, 30], frags))))), [[8, 6], [6, 2, 4]]);
  // Extended Offset Table when the Basic Offset Table is empty (PS3.5 §A.4, Table A.4-1 note).
  const eot: El[] = [
    { tag: 0x7fe00001, vr: 'OV', v: [0, 30] },
    { tag: 0x7fe00002, vr: 'OV', v: [22, 28] },
  ];
  const withEot = read(part10(JPEG_BASELINE, encode(encapsulatedDataset(2, [], frags, eot))));
  assert.deepEqual(frameSizes(withEot), [[8, 6], [6, 2, 4]]);
  assert.ok(withEot.dataset['7FE00001']?.InlineBinary);
  // Neither table: JPEG SOI markers start frames.
  assert.deepEqual(frameSizes(read(part10(JPEG_BASELINE, encode(encapsulatedDataset(2, [], frags))))), [[8, 6], [6, 2, 4]]);
  const soc = (n: number): Uint8Array => Uint8Array.from([0xff, 0x4f, 0xff, 0x51, ...new Array<number>(n).fill(0)]);
  assert.deepEqual(frameSizes(read(part10(J2K, encode(encapsulatedDataset(2, [], [soc(2), tail(2), soc(4)]))))), [[6, 2], [8]]);
  // Video: one entry with the whole stream, whatever Number of Frames says.
  assert.deepEqual(frameSizes(read(part10(MPEG4, encode(encapsulatedDataset(30, [], [tail(10), tail(4)]))))), [[10, 4]]);
});

test('Part10Reader - locates native frames, including bit-packed 1-bit frames', () => {
  const native = (frames: number, bits: number, bytes: number, extra: El[] = []): ParsedInstance =>
    read(part10(EXPLICIT, encode([
      { tag: 0x00280002, vr: 'US', v: [1] },
      { tag: 0x00280008, vr: 'IS', v: String(frames) },
      { tag: 0x00280010, vr: 'US', v: [3] },
      { tag: 0x00280011, vr: 'US', v: [3] },
      ...extra,
      { tag: 0x00280100, vr: 'US', v: [bits] },
      { tag: 0x7fe00010, vr: bits > 8 ? 'OW' : 'OB', v: new Uint8Array(bytes) },
    ])));
  const r16 = native(3, 16, 54);
  const base = r16.pixelData!.offset;
  assert.deepEqual(r16.frames.map((f) => f.fragments[0]!.offset - base), [0, 18, 36]);
  assert.deepEqual(r16.frames.map((f) => f.fragments[0]!.length), [18, 18, 18]);
  // 9 bits per frame: frame 1 starts at bit 9 (byte 1), frame 2 at bit 18 (byte 2) and ends at bit 27 (byte 4).
  const r1 = native(3, 1, 4);
  const b1 = r1.pixelData!.offset;
  assert.deepEqual(r1.frames.map((f) => [f.fragments[0]!.offset - b1, f.fragments[0]!.length]), [[0, 2], [1, 2], [2, 2]]);
  // Frames that do not fit in the value are not invented.
  assert.equal(native(4, 8, 20).frames.length, 2);
});

// ---- errors and limits --------------------------------------------------------------------------------------------

test('Part10Reader - reports a stream cut inside an element as truncated, with offset and tag', () => {
  const bytes = part10(EXPLICIT, encode(sampleDataset()));
  const cut = bytes.length - 3;
  assert.throws(
    () => read(bytes.subarray(0, cut)),
    (e: unknown) => e instanceof DicomParseError && e.code === 'ATRIUM_ERR_DICOM_TRUNCATED' && e.tag === 0x7fe00010 && e.offset === cut,
  );
  // Every cut that is not on a top-level element boundary fails with a coded error.
  const full = read(bytes);
  let parsed = 0;
  for (let n = 132; n < bytes.length; n++) {
    try {
      const r = read(bytes.subarray(0, n));
      assert.ok(Object.keys(r.dataset).length < Object.keys(full.dataset).length);
      parsed++;
    } catch (e) {
      assert.ok(e instanceof DicomParseError, String(e));
      assert.equal(e.code, 'ATRIUM_ERR_DICOM_TRUNCATED');
    }
  }
  assert.ok(parsed > 5 && parsed < 40);
  const nestedBytes = part10(EXPLICIT, encode(nested()));
  assert.throws(() => read(nestedBytes.subarray(0, nestedBytes.length - 8)), /unfinished sequence/);
  const deflated = part10(DEFLATED, encode(sampleDataset()), { deflate: true });
  assert.throws(() => read(deflated.subarray(0, deflated.length - 10)), (e: unknown) => e instanceof DicomParseError && e.code === 'ATRIUM_ERR_DICOM_TRUNCATED');
});

test('Part10Reader - bounds held values by maxHeaderBytes and nesting by maxSequenceDepth', () => {
  const bytes = part10(EXPLICIT, encode([{ tag: 0x00100020, vr: 'LO', v: 'x'.repeat(300) }, { tag: 0x00104000, vr: 'LT', v: 'y'.repeat(300) }]));
  assert.throws(() => read(bytes, { maxHeaderBytes: 500 }), (e: unknown) => e instanceof DicomLimitError && e.code === 'ATRIUM_ERR_DICOM_LIMIT');
  assert.equal(read(bytes, { maxHeaderBytes: 800 }).dataset['00104000']?.Value?.[0], 'y'.repeat(300));
  // A length field claiming 4 GB is refused before anything is allocated.
  const lie = part10(EXPLICIT, Buffer.from([0x10, 0x00, 0x00, 0x40, 0x55, 0x54, 0, 0, 0xfe, 0xff, 0xff, 0xff]));
  assert.throws(() => read(lie), DicomLimitError);
  let deep: El[] = [{ tag: 0x00100020, vr: 'LO', v: 'deep' }];
  for (let d = 0; d < 10; d++) deep = [{ tag: 0x0040a730, vr: 'SQ', undefinedLength: d % 2 === 0, v: [deep] }];
  const deepBytes = part10(EXPLICIT, encode(deep));
  assert.throws(() => read(deepBytes, { maxSequenceDepth: 9 }), DicomLimitError);
  assert.ok(read(deepBytes, { maxSequenceDepth: 10 }).dataset['0040A730']);
});

test('Part10Reader - refuses writes after an error or after end', () => {
  const reader = new Part10Reader();
  assert.throws(() => reader.write(Buffer.concat([Buffer.alloc(128), Buffer.from('NOPE')])), DicomParseError);
  assert.throws(() => reader.write(Buffer.alloc(4)), DicomParseError);
  const done = new Part10Reader({ format: 'dataset' });
  done.end();
  assert.throws(() => done.write(Buffer.alloc(4)), TypeError);
});

test('readPart10 - reads an async iterable of chunks', async () => {
  const bytes = part10(EXPLICIT, encode(sampleDataset()));
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < bytes.length; i += 10) yield bytes.subarray(i, i + 10);
  }
  assert.deepEqual((await readPart10(chunks())).dataset, SAMPLE_JSON);
});

// ---- character sets -------------------------------------------------------------------------------------------------

test('Part10Reader - decodes text with the Specific Character Set of each data set and item', () => {
  const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
  const r = read(part10(EXPLICIT, encode([
    { tag: 0x00080005, vr: 'CS', v: '\\ISO 2022 IR 87' },
    // PS3.5 Annex H.3.1
    {
      tag: 0x00100010,
      vr: 'PN',
      v: hex('59616d6164615e5461726f753d1b24423b3345441b28425e1b244242404f3a1b28423d1b24422464245e24401b28425e1b2442243f246d24261b2842'),
    },
    {
      tag: 0x0040a730,
      vr: 'SQ',
      v: [
        [
          { tag: 0x00080005, vr: 'CS', v: 'GBK' },
          { tag: 0x00081030, vr: 'LO', v: hex('d55c5cd0d6b5dc') },
        ],
        [{ tag: 0x00081030, vr: 'LO', v: hex('1b24423b3345441b2842') }],
      ],
    },
  ])));
  assert.deepEqual(r.dataset['00100010']?.Value, [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }]);
  const items = r.dataset['0040A730']?.Value as Record<string, { Value?: unknown[] }>[];
  // A 0x5C trailing byte of a GBK character is not a value delimiter.
  assert.deepEqual(items[0]?.['00081030']?.Value, ['誠', '兄弟']);
  // An item without its own (0008,0005) uses the enclosing data set's.
  assert.deepEqual(items[1]?.['00081030']?.Value, ['山田']);
});

// ---- values decoded in place --------------------------------------------------------------------------------------

const STRING_VRS = (Object.keys(VR_INFO) as Vr[]).filter((vr) => VR_INFO[vr].isString);

/** Values that sit on an edge of the padding, splitting and number rules, in latin1 (one byte per character). */
const EDGE_TEXTS = [
  '', ' ', '\0', '  ', ' \0', '  CT \\ MR ', 'A\\\\', '\\', '\\ ', '1.2.3\0', ' +12', '-0', '+0', '007', '-', '+',
  '123456789012345', '1234567890123456', '99999999999999999999', '1.', '.5', '.', '-.5', '+.', '1e5', '1.e5', '1e', '1e+',
  '.e5', '1E-3', '-1e-400', '1e400', '0.1', '-177.1875', '00.50', '0.30000000000000004', '123456789.012345',
  '123456789012345.6', '85218857280647118', '908.3524900584127', '6.0149785238397563', '1 2', '12a', 'NaN', 'Infinity', '0x10', '\u00bd', '1\\2.5\\ 3 \\', 'Doe^John=Ideo=Phon',
  '=^', ' Doe ^ John = ', 'Buc^J\xe9r\xf4me', 'caf\xc3\xa9', '\x1b$B;3\x1b(B', '\x1b(J\\\x1b(B', 'a\x1bb', 'x'.repeat(5000),
];

/** Random values from the bytes those rules look at, and some that only a character set can read. */
function randomTexts(count: number, seed: number): string[] {
  const alphabet = ' \0\\=^+-.eE01359Az\x1b$B(\xe9\xc3\xa9\x80\xff';
  const rand = random(seed);
  return Array.from({ length: count }, () =>
    Array.from({ length: Math.floor(rand() * 24) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(''),
  );
}

function latin1(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

test('Part10Reader - decodes text in place as decodeStringValue does, for every string VR and character set', () => {
  const texts = [...EDGE_TEXTS, ...randomTexts(150, 7)];
  for (const terms of ['', 'ISO_IR 100', 'ISO_IR 192', '\\ISO 2022 IR 87', 'GB18030']) {
    const elements: El[] = terms ? [{ tag: 0x00080005, vr: 'CS', v: terms }] : [];
    const expected = new Map<string, DicomJsonAttribute>();
    const warnings: string[] = [];
    const charset = new SpecificCharacterSet(terms, (message) => warnings.push(message));
    let element = 0x1000;
    for (const vr of STRING_VRS) {
      for (const text of texts) {
        const tag = 0x00090000 + element++;
        const bytes = latin1(text);
        elements.push({ tag, vr, v: bytes });
        const value = decodeStringValue(bytes, vr, charset);
        expected.set(tag.toString(16).toUpperCase().padStart(8, '0'), value ? { vr, Value: value } : { vr });
      }
    }
    const bytes = part10(EXPLICIT, encode(elements));
    for (const r of [read(bytes), read(bytes, {}, 1), readInChunks(bytes, [7, 1, 300, 2])]) {
      for (const [key, attr] of expected) assert.deepEqual(r.dataset[key], attr, `${key} in '${terms}'`);
      assert.deepEqual(r.warnings, warnings, `warnings in '${terms}'`);
    }
  }
});

test('Part10Reader - decodes integers in place as decodeBinaryValue does, in both byte orders', () => {
  const rand = random(11);
  const values: Uint8Array[] = [new Uint8Array(0), Uint8Array.of(0x80), Uint8Array.of(0xff, 0xff, 0xff)];
  for (let k = 0; k < 40; k++) values.push(Uint8Array.from({ length: Math.floor(rand() * 19) }, () => Math.floor(rand() * 256)));
  for (const [uid, littleEndian] of [[EXPLICIT, true], [BIG_ENDIAN, false]] as const) {
    const elements: El[] = [];
    const expected = new Map<string, DicomJsonAttribute>();
    let element = 0x1000;
    for (const vr of ['US', 'SS', 'UL', 'SL'] as const) {
      for (const bytes of values) {
        const tag = 0x00090000 + element++;
        elements.push({ tag, vr, v: bytes });
        const value = decodeBinaryValue(bytes, vr, littleEndian);
        expected.set(tag.toString(16).toUpperCase().padStart(8, '0'), value ? { vr, Value: value } : { vr });
      }
    }
    const bytes = part10(uid, encode(elements, { bigEndian: !littleEndian }));
    for (const r of [read(bytes), read(bytes, {}, 1)]) {
      for (const [key, attr] of expected) assert.deepEqual(r.dataset[key], attr, `${key} in ${uid}`);
    }
  }
});

test('Part10Reader - gives the same values when two chunks split the object at any byte', () => {
  const elements: El[] = [{ tag: 0x00080005, vr: 'CS', v: 'ISO_IR 192' }];
  let element = 0x1000;
  for (const vr of [...STRING_VRS, 'US', 'SS', 'UL', 'SL', 'FD', 'OB'] as Vr[]) {
    for (const text of [' 1.5\\-0\\x ', 'caf\xc3\xa9', 'Doe^John=', '1234567890123456789']) {
      elements.push({ tag: 0x00090000 + element++, vr, v: latin1(text) });
    }
  }
  const bytes = part10(EXPLICIT, encode(elements));
  const whole = read(bytes);
  for (let at = 1; at < bytes.length; at++) {
    const reader = new Part10Reader();
    reader.write(bytes.slice(0, at));
    reader.write(bytes.slice(at));
    assert.deepEqual(reader.end(), whole, `split at ${at}`);
  }
});

// ---- bounded memory -----------------------------------------------------------------------------------------------

test('Part10Reader - streams a 1 GiB multi-frame object holding a few MB', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const frames = 512;
  const frameBytes = 1024 * 1024 * 2;
  const head = part10(EXPLICIT, encode([
    { tag: 0x00080018, vr: 'UI', v: '1.2.3' },
    { tag: 0x00280002, vr: 'US', v: [1] },
    { tag: 0x00280008, vr: 'IS', v: String(frames) },
    { tag: 0x00280010, vr: 'US', v: [1024] },
    { tag: 0x00280011, vr: 'US', v: [1024] },
    { tag: 0x00280100, vr: 'US', v: [16] },
  ]));
  const pixelHeader = Uint8Array.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57, 0, 0, 0, 0, 0, 0]);
  new DataView(pixelHeader.buffer).setUint32(8, frames * frameBytes, true);
  gc();
  const before = process.memoryUsage();
  const reader = new Part10Reader();
  reader.write(head);
  reader.write(pixelHeader);
  // Fresh chunks, as a socket delivers them: a reader that kept them would grow by the whole object.
  const chunkSize = 1024 * 1024;
  let peak = 0;
  const started = process.hrtime.bigint();
  for (let written = 0, k = 0; written < frames * frameBytes; written += chunkSize, k++) {
    reader.write(new Uint8Array(chunkSize));
    if (k % 128 === 127) {
      // Twice: from Node 24 (V8 13) a collection frees array buffers on a background thread, and the second one
      // waits for that, so what is counted is what the reader still holds.
      gc();
      gc();
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed + m.arrayBuffers - before.heapUsed - before.arrayBuffers);
    }
  }
  const r = reader.end();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  assert.equal(r.frames.length, frames);
  assert.equal(r.pixelData?.length, frames * frameBytes);
  assert.equal(r.byteLength, head.length + 12 + frames * frameBytes);
  assert.ok(peak < 50 * 1024 * 1024, `heap grew by ${peak} bytes`);
  // Allocating and zeroing the chunks dominates; the reader itself only skips.
  assert.ok(seconds < 30, `took ${seconds} s`);
});
