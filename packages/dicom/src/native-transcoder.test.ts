import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import { DicomLimitError, DicomParseError } from './errors.js';
import { NativeDatasetTranscoder, measureNativeTranscode, transcodeNativeDataset } from './native-transcoder.js';
import { readPart10 } from './part10-reader.js';
import {
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from './transfer-syntax.js';
import type { WritableDataset } from './writer.js';
import { encodeDataset, encodePart10, encodePart10Header } from './writer.js';

const noDcmtk = spawnSync('dcmconv', ['--version'], { stdio: 'ignore' }).error !== undefined && 'DCMTK not installed';
const dir = mkdtempSync(join(tmpdir(), 'atrium-native-transcoder-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SYNTAXES = [
  ['implicit', ImplicitVrLittleEndian, '+ti'],
  ['explicit', ExplicitVrLittleEndian, '+te'],
  ['big', ExplicitVrBigEndian, '+tb'],
  ['deflated', DeflatedExplicitVrLittleEndian, '+td'],
] as const;

function floats(values: number[], size: 4 | 8): Uint8Array {
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => (size === 4 ? view.setFloat32(i * 4, v, true) : view.setFloat64(i * 8, v, true)));
  return out;
}

/** Every kind of value that a byte order change treats differently, sequences nested two deep, a private block. */
const dataset: WritableDataset = {
  '00080005': { vr: 'CS', Value: ['ISO_IR 100'] },
  '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.7'] },
  '00080018': { vr: 'UI', Value: ['1.2.826.0.1.3680043.2.1125.99.1'] },
  '00081163': { vr: 'FD', Value: [1.5, -2.25] },
  '00081115': {
    vr: 'SQ',
    Value: [
      {
        '0020000E': { vr: 'UI', Value: ['1.2.3.4.5'] },
        '00081140': {
          vr: 'SQ',
          Value: [
            { '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] }, '00081155': { vr: 'UI', Value: ['1.2.3.4.5.6'] } },
            { '00081155': { vr: 'UI', Value: ['1.2.3.4.5.7'] }, '00081160': { vr: 'IS', Value: ['3'] } },
          ],
        },
      },
      {},
    ],
  },
  '00090010': { vr: 'LO', Value: ['ATRIUM TEST'] },
  '00091001': { vr: 'LO', Value: ['private text'] },
  '00091002': { vr: 'OB', Bytes: new Uint8Array([1, 2, 3, 4, 5, 6]) },
  '00100010': { vr: 'PN', Value: ['Doe^John'] },
  '00109431': { vr: 'FL', Value: [172.5] },
  '00181050': { vr: 'DS', Value: ['1.000000', '2.50'] },
  '00181638': { vr: 'OF', Bytes: floats([1, 2.5, -3], 4) },
  '00186020': { vr: 'SL', Value: [-7, 70000] },
  '00200013': { vr: 'IS', Value: ['  7'] },
  '00209165': { vr: 'AT', Value: ['00200032', '7FE00010'] },
  '00280002': { vr: 'US', Value: [1] },
  '00280004': { vr: 'CS', Value: ['MONOCHROME2'] },
  '00280008': { vr: 'IS', Value: ['2'] },
  '00280010': { vr: 'US', Value: [3] },
  '00280011': { vr: 'US', Value: [5] },
  '00280100': { vr: 'US', Value: [16] },
  '00280101': { vr: 'US', Value: [12] },
  '00280102': { vr: 'US', Value: [11] },
  '00280103': { vr: 'US', Value: [1] },
  '00280106': { vr: 'SS', Value: [-5] },
  '00283010': {
    vr: 'SQ',
    Value: [{ '00283002': { vr: 'SS', Value: [4, 0, 16] }, '00283006': { vr: 'US', Value: [1, 2, 300, 4000] } }],
  },
  '00660022': { vr: 'OD', Bytes: floats([Math.PI, -1e300], 8) },
  '00660040': { vr: 'OL', Bytes: new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0]) },
  '00720082': { vr: 'SV', Value: [-5n, 1n << 40n] },
  '00720083': { vr: 'UV', Value: [(1n << 63n) + 3n] },
  '7FE00010': { vr: 'OW', Bytes: Uint8Array.from({ length: 3 * 5 * 2 * 2 }, (_, i) => (i * 37 + 11) & 0xff) },
};

/** Bytes of the data set after the file meta information. */
async function datasetBytes(file: Uint8Array): Promise<{ bytes: Uint8Array; offset: number }> {
  const parsed = await readPart10([file]);
  return { bytes: file.subarray(parsed.datasetOffset), offset: parsed.datasetOffset };
}

function chunked(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  // Copies, so that a view the transcoder hands out cannot pass by accident as a view of the whole input.
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.slice(i, i + size));
  return out;
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of source) parts.push(p);
  return Buffer.concat(parts);
}

async function convertFile(file: Uint8Array, source: string, target: string, chunkSize: number): Promise<Uint8Array> {
  const { bytes } = await datasetBytes(file);
  const converted = await collect(
    transcodeNativeDataset(chunked(bytes, chunkSize), { sourceTransferSyntaxUid: source, targetTransferSyntaxUid: target }),
  );
  return Buffer.concat([encodePart10Header({ dataset, transferSyntaxUid: target }), converted]);
}

function dcmconv(args: string[], input: Uint8Array, name: string): Uint8Array {
  const inPath = join(dir, `${name}.in.dcm`);
  const outPath = join(dir, `${name}.out.dcm`);
  writeFileSync(inPath, input);
  const run = spawnSync('dcmconv', [...args, inPath, outPath], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return readFileSync(outPath);
}

/** Element by element through the project's reader, pixel bytes as stored (both in the same byte order). */
async function assertSameElements(ours: Uint8Array, reference: Uint8Array, what: string): Promise<void> {
  const a = await readPart10([ours], { bulkDataThreshold: 1 << 20 });
  const b = await readPart10([reference], { bulkDataThreshold: 1 << 20 });
  assert.deepEqual(a.warnings, [], `${what}: no warnings reading ours`);
  assert.deepEqual(a.dataset, b.dataset, `${what}: same elements as dcmconv`);
  if (a.deflated) return;
  const px = (p: typeof a, bytes: Uint8Array) => bytes.subarray(p.pixelData!.offset, p.pixelData!.offset + p.pixelData!.length);
  assert.deepEqual(px(a, ours), px(b, reference), `${what}: same pixel bytes as dcmconv`);
}

for (const [sourceName, source, sourceOption] of SYNTAXES) {
  for (const [targetName, target, targetOption] of SYNTAXES) {
    test(`NativeDatasetTranscoder - ${sourceName} to ${targetName} equals dcmconv ${targetOption}, defined and undefined lengths in, 1-, 7- and 64 KiB-byte chunks`, { skip: noDcmtk }, async () => {
      const defined = encodePart10({ dataset, transferSyntaxUid: source });
      // DCMTK's -e writes every sequence and item with undefined length: the other form the input can have.
      const undefinedLengths = dcmconv(['-e', sourceOption], defined, `${sourceName}-${targetName}-src`);
      assert.equal((await readPart10([undefinedLengths])).transferSyntaxUid, source);
      // Our layout: sequences and items of undefined length, no group lengths. -e -g asks DCMTK for the same.
      const reference = dcmconv(['-e', '-g', targetOption], defined, `${sourceName}-${targetName}-ref`);
      for (const input of [defined, undefinedLengths]) {
        for (const chunkSize of [1, 7, 65536]) {
          const what = `${sourceName} -> ${targetName}, ${input === defined ? 'defined' : 'undefined'} lengths, ${chunkSize}-byte chunks`;
          const ours = await convertFile(input, source, target, chunkSize);
          await assertSameElements(ours, reference, what);
          const a = await datasetBytes(ours);
          const b = await datasetBytes(reference);
          if (target === DeflatedExplicitVrLittleEndian) {
            assert.deepEqual(inflateRawSync(a.bytes), inflateRawSync(b.bytes), `${what}: inflated bytes equal dcmconv's`);
          } else {
            assert.deepEqual(Buffer.from(a.bytes), Buffer.from(b.bytes), `${what}: bytes equal dcmconv's`);
          }
        }
      }
    });
  }
}

test('NativeDatasetTranscoder - decimal strings and other strings are never rewritten', async () => {
  const file = encodePart10({ dataset, transferSyntaxUid: ImplicitVrLittleEndian });
  for (const target of [ExplicitVrBigEndian, ExplicitVrLittleEndian]) {
    const raw = Buffer.from(await convertFile(file, ImplicitVrLittleEndian, target, 5));
    assert.ok(raw.includes('1.000000\\2.50'), 'DS as written, not as a number formats');
    assert.ok(raw.includes('  7 '), 'IS padding kept');
  }
});

test('NativeDatasetTranscoder - implicit values too long for a 16-bit length become OW where allowed, else UN (PS3.5 §6.2.2)', async () => {
  const lut = Uint8Array.from({ length: 0x10002 }, (_, i) => i & 0xff);
  const big: WritableDataset = {
    '00080016': { vr: 'UI', Value: ['1.2.3'] },
    '00080018': { vr: 'UI', Value: ['1.2.3.4'] },
    '00081163': { vr: 'FD', Bytes: new Uint8Array(0x10008) },
    '00283006': { vr: 'OW', Bytes: lut },
  };
  const file = encodePart10({ dataset: big, transferSyntaxUid: ImplicitVrLittleEndian });
  for (const target of [ExplicitVrLittleEndian, ExplicitVrBigEndian]) {
    const out = await convertFile(file, ImplicitVrLittleEndian, target, 4096);
    const parsed = await readPart10([out]);
    assert.equal(parsed.dataset['00283006']?.vr, 'OW');
    // The reader reads a UN of a known tag as its real VR; the VR bytes in the file say UN.
    const at = Buffer.from(out).indexOf(target === ExplicitVrLittleEndian ? Buffer.from([0x08, 0x00, 0x63, 0x11]) : Buffer.from([0x00, 0x08, 0x11, 0x63]));
    assert.equal(Buffer.from(out).subarray(at + 4, at + 6).toString('latin1'), 'UN');
    const lutAt = parsed.bulkData.find((b) => b.path === '00283006')!;
    const lutBytes = out.subarray(lutAt.offset, lutAt.offset + lutAt.length!);
    assert.equal(lutBytes.length, lut.length);
    if (target === ExplicitVrBigEndian) {
      assert.equal(lutBytes[0], lut[1]);
      assert.equal(lutBytes[1], lut[0]);
    } else {
      assert.deepEqual(Buffer.from(lutBytes), Buffer.from(lut));
    }
  }
});

test('NativeDatasetTranscoder - a UN sequence of undefined length keeps its Implicit VR Little Endian content; a known one becomes SQ', async () => {
  // (0009,1010) private, unknown: UN with undefined length holding one item with a US in implicit LE.
  const content = Buffer.from([
    0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff, // item, undefined length
    0x28, 0x00, 0x10, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // (0028,0010) implicit US 256
    0xfe, 0xff, 0x0d, 0xe0, 0x00, 0x00, 0x00, 0x00, // item delimitation
    0xfe, 0xff, 0xdd, 0xe0, 0x00, 0x00, 0x00, 0x00, // sequence delimitation
  ]);
  const element = (group: number, element: number) =>
    Buffer.concat([Buffer.from([group & 0xff, group >> 8, element & 0xff, element >> 8, 0x55, 0x4e, 0, 0, 0xff, 0xff, 0xff, 0xff]), content]);
  const input = Buffer.concat([element(0x0008, 0x1115), element(0x0009, 0x1010)]);
  const out = await collect(
    transcodeNativeDataset(chunked(input, 3), { sourceTransferSyntaxUid: ExplicitVrLittleEndian, targetTransferSyntaxUid: ExplicitVrBigEndian }),
  );
  const known = Buffer.concat([
    Buffer.from([0x00, 0x08, 0x11, 0x15, 0x53, 0x51, 0, 0, 0xff, 0xff, 0xff, 0xff]),
    Buffer.from([0xff, 0xfe, 0xe0, 0x00, 0xff, 0xff, 0xff, 0xff]),
    Buffer.from([0x00, 0x28, 0x00, 0x10, 0x55, 0x53, 0x00, 0x02, 0x01, 0x00]),
    Buffer.from([0xff, 0xfe, 0xe0, 0x0d, 0, 0, 0, 0, 0xff, 0xfe, 0xe0, 0xdd, 0, 0, 0, 0]),
  ]);
  const unknown = Buffer.concat([Buffer.from([0x00, 0x09, 0x10, 0x10, 0x55, 0x4e, 0, 0, 0xff, 0xff, 0xff, 0xff]), content]);
  assert.deepEqual(Buffer.from(out), Buffer.concat([known, unknown]));
});

test('NativeDatasetTranscoder - truncated input, an item outside a sequence and deep nesting are coded errors', async () => {
  const file = encodePart10({ dataset, transferSyntaxUid: ExplicitVrLittleEndian });
  const { bytes } = await datasetBytes(file);
  const options = { sourceTransferSyntaxUid: ExplicitVrLittleEndian, targetTransferSyntaxUid: ImplicitVrLittleEndian };
  await assert.rejects(collect(transcodeNativeDataset([bytes.subarray(0, bytes.length - 3)], options)), (e: unknown) => {
    assert.ok(e instanceof DicomParseError);
    assert.equal(e.code, 'ATRIUM_ERR_DICOM_TRUNCATED');
    return true;
  });
  await assert.rejects(collect(transcodeNativeDataset([Buffer.from([0xfe, 0xff, 0x00, 0xe0, 4, 0, 0, 0, 1, 2, 3, 4])], options)), DicomParseError);
  let nested: WritableDataset = { '00100010': { vr: 'PN', Value: ['X'] } };
  for (let i = 0; i < 5; i++) nested = { '00081115': { vr: 'SQ', Value: [nested] } };
  const deep = encodeDataset(nested, ExplicitVrLittleEndian);
  const transcoder = new NativeDatasetTranscoder({ ...options, maxSequenceDepth: 4 });
  assert.throws(() => transcoder.write(deep), DicomLimitError);
  assert.throws(() => transcoder.write(deep), DicomLimitError, 'refuses input after a failure');
});

test('measureNativeTranscode - gives the converted length, reading past long values instead of through them', async () => {
  const pixels = new Uint8Array(3 * 1024 * 1024);
  const big: WritableDataset = { ...dataset, '00280008': { vr: 'IS', Value: ['64'] }, '00280010': { vr: 'US', Value: [128] }, '00280011': { vr: 'US', Value: [192] }, '7FE00010': { vr: 'OW', Bytes: pixels } };
  for (const [source, target] of [
    [ImplicitVrLittleEndian, ExplicitVrBigEndian],
    [ExplicitVrBigEndian, ImplicitVrLittleEndian],
    [ExplicitVrLittleEndian, ImplicitVrLittleEndian],
  ] as const) {
    const { bytes } = await datasetBytes(encodePart10({ dataset: big, transferSyntaxUid: source }));
    let read = 0;
    const open = async function* (offset: number): AsyncGenerator<Uint8Array> {
      for (let i = offset; i < bytes.length; i += 65536) {
        read += Math.min(65536, bytes.length - i);
        yield bytes.subarray(i, i + 65536);
      }
    };
    const size = await measureNativeTranscode(open, { sourceTransferSyntaxUid: source, targetTransferSyntaxUid: target });
    const converted = await collect(transcodeNativeDataset(chunked(bytes, 65536), { sourceTransferSyntaxUid: source, targetTransferSyntaxUid: target }));
    assert.equal(size, converted.length);
    assert.ok(read < 256 * 1024, `read ${read} bytes to measure ${bytes.length}`);
  }
  assert.equal(await measureNativeTranscode(() => [], { sourceTransferSyntaxUid: ExplicitVrLittleEndian, targetTransferSyntaxUid: DeflatedExplicitVrLittleEndian }), undefined);
});
