import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import {
  DicomWriteError,
  basicOffsetTable,
  encodeCommandSet,
  encodeDataset,
  encodeElementHeader,
  encodeFileMetaInformation,
  encodePart10,
  encodePart10Prefix,
  encodeWithEncoding,
  formatDecimalString,
} from './writer.js';
import type { FileMetaInformationOptions, WritableDataset } from './writer.js';
import {
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
  RleLossless,
} from './transfer-syntax.js';
import { ATRIUM_IMPLEMENTATION_CLASS_UID, ATRIUM_IMPLEMENTATION_VERSION_NAME } from './uid.js';
import { UnsupportedTransferSyntaxError } from './errors.js';

// dcmjs ships no types; it is only an independent parser to check the writer against.
const dcmjsName: string = 'dcmjs';
const dcmjs = (await import(dcmjsName)).default;

const LE = { explicitVr: true, littleEndian: true };
const ILE = { explicitVr: false, littleEndian: true };

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const ascii = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');

/** Reads a Part 10 file with dcmjs, an independent parser, into its DICOM-JSON-like dictionary. */
function readWithDcmjs(bytes: Uint8Array): { meta: Record<string, any>; dict: Record<string, any> } {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const message = dcmjs.data.DicomMessage.readFile(buffer);
  return { meta: message.meta, dict: message.dict };
}

test('encodeElementHeader - explicit VR short and long forms, implicit VR and items', () => {
  assert.equal(hex(encodeElementHeader(0x00100010, 'PN', 10, LE)), '10001000504e0a00');
  assert.equal(hex(encodeElementHeader(0x7fe00010, 'OW', 0x20000, LE)), 'e07f10004f57000000000200');
  assert.equal(hex(encodeElementHeader(0x00100010, 'PN', 10, ILE)), '100010000a000000');
  assert.equal(hex(encodeElementHeader(0xfffee000, undefined, 4, LE)), 'feff00e004000000');
  assert.equal(hex(encodeElementHeader(0xfffee0dd, undefined, 0, LE)), 'feffdde000000000');
  assert.equal(
    hex(encodeElementHeader(0x00280010, 'US', 2, { explicitVr: true, littleEndian: false })),
    '002800105553' + '0002',
  );
  assert.throws(() => encodeElementHeader(0x00100010, 'LO', 0x10000, LE), DicomWriteError);
});

test('encodeDataset - pads odd values per VR: UI with NUL, text with space, OB with NUL', () => {
  const bytes = encodeDataset({
    '00080018': { vr: 'UI', Value: ['1.2.3'] },
    '00080060': { vr: 'CS', Value: ['CT'] },
    '00100020': { vr: 'LO', Value: ['ABC'] },
    '00091010': { vr: 'OB', Bytes: new Uint8Array([1, 2, 3]) },
  });
  // (0008,0018) UI 6 '1.2.3\0'
  assert.equal(hex(bytes.subarray(0, 14)), '08001800554906003' + '12e322e3300');
  assert.equal(ascii(bytes.subarray(22, 24)), 'CT');
  // (0009,1010) OB: 12-byte header then 01 02 03 00
  assert.equal(hex(bytes.subarray(24, 40)), '090010104f420000040000000102030' + '0');
  assert.equal(ascii(bytes.subarray(48, 52)), 'ABC ');
  assert.equal(bytes.byteLength, 52);
});

test('encodeDataset - writes elements in ascending tag order whatever the key order', () => {
  const bytes = encodeWithEncoding(
    {
      '00200013': { vr: 'IS', Value: [7] },
      '00080060': { vr: 'CS', Value: ['MR'] },
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'A' }] },
    },
    ILE,
  );
  const buf = Buffer.from(bytes);
  const tags: string[] = [];
  for (let at = 0; at < buf.length; at += 8 + buf.readUInt32LE(at + 4)) {
    tags.push(buf.toString('hex', at, at + 4));
  }
  assert.deepEqual(tags, ['08006000', '10001000', '20001300']);
});

test('encodeDataset - person names join component groups with = and drop empty trailing groups', () => {
  const bytes = encodeDataset({
    '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }] },
    '00081050': { vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }, { Alphabetic: 'Roe^Jane' }] },
  });
  const text = Buffer.from(bytes).toString('utf8');
  assert.ok(text.includes('Yamada^Tarou=山田^太郎=やまだ^たろう'));
  assert.ok(text.includes('Doe^John\\Roe^Jane'));
});

test('encodeDataset - text is UTF-8 under ISO_IR 192, Latin-1 under ISO_IR 100, and refused when not encodable', () => {
  const utf8 = encodeDataset({
    '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Müller' }] },
  });
  assert.ok(hex(utf8).includes(Buffer.from('Müller', 'utf8').toString('hex')));
  const latin1 = encodeDataset({
    '00080005': { vr: 'CS', Value: ['ISO_IR 100'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Müller' }] },
  });
  assert.ok(hex(latin1).includes('4dfc6c6c6572'));
  assert.throws(
    () => encodeDataset({ '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Müller' }] } }),
    (e: unknown) => e instanceof DicomWriteError && e.code === 'ATRIUM_ERR_DICOM_CHARSET' && /'ISO_IR 6'/.test(e.message),
  );
  assert.throws(
    () =>
      encodeDataset({
        '00080005': { vr: 'CS', Value: ['ISO_IR 100'] },
        '00100010': { vr: 'PN', Value: [{ Alphabetic: '山田' }] },
      }),
    (e: unknown) => e instanceof DicomWriteError && e.tag === 0x00100010,
  );
  // CS is never decoded with the character set (PS3.5 §6.1.2.3): non-ASCII is refused even under UTF-8.
  assert.throws(() =>
    encodeDataset({ '00080005': { vr: 'CS', Value: ['ISO_IR 192'] }, '00080060': { vr: 'CS', Value: ['ÇT'] } }),
  );
});

test('encodeDataset - binary VRs from numbers, AT from GGGGEEEE, DS and IS from numbers', () => {
  const bytes = encodeWithEncoding(
    {
      '00280010': { vr: 'US', Value: [512] },
      '00281050': { vr: 'DS', Value: [40, -600.5] },
      '00200013': { vr: 'IS', Value: [12] },
      '00209165': { vr: 'AT', Value: ['00200032'] },
      '00189328': { vr: 'FD', Value: [1.5] },
      '00281041': { vr: 'SS', Value: [-1] },
    },
    ILE,
  );
  const buf = Buffer.from(bytes);
  // Find by tag, implicit LE: 8-byte header.
  const values = new Map<string, Buffer>();
  for (let at = 0; at < buf.length; ) {
    const tag = ((buf.readUInt16LE(at) << 16) | buf.readUInt16LE(at + 2)) >>> 0;
    const length = buf.readUInt32LE(at + 4);
    values.set(tag.toString(16).padStart(8, '0'), buf.subarray(at + 8, at + 8 + length));
    at += 8 + length;
  }
  assert.equal(values.get('00280010')!.readUInt16LE(0), 512);
  assert.equal(values.get('00281050')!.toString('latin1'), '40\\-600.5 ');
  assert.equal(values.get('00200013')!.toString('latin1'), '12');
  assert.equal(hex(values.get('00209165')!), '20003200');
  assert.equal(values.get('00189328')!.readDoubleLE(0), 1.5);
  assert.equal(values.get('00281041')!.readInt16LE(0), -1);
  assert.throws(() => encodeDataset({ '00280010': { vr: 'US', Value: [70000] } }), /out of range for VR US/);
  assert.throws(() => encodeDataset({ '00200013': { vr: 'IS', Value: [1.5] } }), /not an IS integer/);
  const sv = encodeWithEncoding({ '00720082': { vr: 'SV', Value: [-(2n ** 63n), '42'] } }, ILE);
  assert.equal(Buffer.from(sv).readBigInt64LE(8), -(2n ** 63n));
  assert.equal(Buffer.from(sv).readBigInt64LE(16), 42n);
  assert.throws(() => encodeDataset({ '00720082': { vr: 'SV', Value: [2n ** 63n] } }), /out of range for VR SV/);
  assert.throws(() => encodeDataset({ '00720083': { vr: 'UV', Value: [-1] } }), /out of range for VR UV/);
});

test('formatDecimalString - fits every double into 16 characters', () => {
  assert.equal(formatDecimalString(0.1 + 0.2), '0.3');
  assert.equal(formatDecimalString(-0.7031250000000001).length <= 16, true);
  assert.equal(Number(formatDecimalString(-0.7031250000000001)), -0.703125);
  assert.equal(formatDecimalString(1 / 3).length <= 16, true);
  assert.ok(Math.abs(Number(formatDecimalString(1 / 3)) - 1 / 3) < 1e-13);
  assert.ok(formatDecimalString(1.234567891234e-20).length <= 16);
  assert.throws(() => formatDecimalString(Number.NaN), DicomWriteError);
});

test('encodeDataset - sequences have defined lengths that cover their nested items', () => {
  const dataset: WritableDataset = {
    '00081140': {
      vr: 'SQ',
      Value: [
        { '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] }, '00081155': { vr: 'UI', Value: ['1.2.3'] } },
        { '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] }, '00081155': { vr: 'UI', Value: ['1.2.4'] } },
      ],
    },
  };
  const bytes = encodeDataset(dataset);
  const buf = Buffer.from(bytes);
  assert.equal(buf.toString('latin1', 4, 6), 'SQ');
  const sequenceLength = buf.readUInt32LE(8);
  assert.equal(sequenceLength, bytes.byteLength - 12);
  assert.equal(buf.readUInt32LE(12), 0xe000fffe);
  const firstItemLength = buf.readUInt32LE(16);
  assert.equal(firstItemLength, 8 + 26 + 8 + 6);
  const { dict } = readWithDcmjs(encodePart10({ dataset: { ...sop(), ...dataset }, transferSyntaxUid: ExplicitVrLittleEndian }));
  assert.equal(dict['00081140'].Value.length, 2);
  assert.equal(dict['00081140'].Value[1]['00081155'].Value[0], '1.2.4');
});

function sop(): WritableDataset {
  return {
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.7'] },
    '00080018': { vr: 'UI', Value: ['1.2.826.0.1.3680043.2.1125.1'] },
  };
}

test('encodePart10 - preamble, DICM and file meta information with group length and Atrium identity', () => {
  const bytes = encodePart10({
    dataset: { ...sop(), '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Demo^Ct' }] } },
    transferSyntaxUid: ImplicitVrLittleEndian,
    fileMetaInformation: { '00020016': { vr: 'AE', Value: ['ATRIUM'] } },
  });
  assert.ok(bytes.subarray(0, 128).every((b) => b === 0));
  assert.equal(ascii(bytes.subarray(128, 132)), 'DICM');
  const buf = Buffer.from(bytes);
  assert.equal(buf.readUInt32LE(132 + 8), buf.indexOf(Buffer.from('08001600', 'hex')) - 132 - 12);
  const { meta, dict } = readWithDcmjs(bytes);
  assert.equal(meta['00020001'].Value[0].byteLength ?? meta['00020001'].Value[0].length, 2);
  assert.equal(meta['00020002'].Value[0], '1.2.840.10008.5.1.4.1.1.7');
  assert.equal(meta['00020003'].Value[0], '1.2.826.0.1.3680043.2.1125.1');
  assert.equal(meta['00020010'].Value[0], ImplicitVrLittleEndian);
  assert.equal(meta['00020012'].Value[0], ATRIUM_IMPLEMENTATION_CLASS_UID);
  assert.equal(meta['00020013'].Value[0], ATRIUM_IMPLEMENTATION_VERSION_NAME);
  assert.equal(meta['00020016'].Value[0], 'ATRIUM');
  assert.equal(dict['00100010'].Value[0].Alphabetic, 'Demo^Ct');
});

test('encodeFileMetaInformation - (0002,0000) counts every byte after itself', () => {
  const meta = encodeFileMetaInformation({
    mediaStorageSopClassUid: '1.2.840.10008.5.1.4.1.1.2',
    mediaStorageSopInstanceUid: '1.2.3.4',
    transferSyntaxUid: ExplicitVrLittleEndian,
  });
  const buf = Buffer.from(meta);
  assert.equal(buf.toString('hex', 0, 8), '02000000554c0400');
  assert.equal(buf.readUInt32LE(8), meta.byteLength - 12);
  assert.equal(buf.toString('hex', 12, 26), '020001004f4200000200000000' + '01');
  assert.throws(
    () => encodeFileMetaInformation({ mediaStorageSopClassUid: '', mediaStorageSopInstanceUid: '1', transferSyntaxUid: '1.2' }),
    DicomWriteError,
  );
});

test('encodeFileMetaInformation - the C-STORE layout gives the bytes the general writer gives', () => {
  const cases = [
    { mediaStorageSopClassUid: '1.2.840.10008.5.1.4.1.1.2', mediaStorageSopInstanceUid: '1.2.3.4', transferSyntaxUid: ExplicitVrLittleEndian },
    // Odd lengths pad: UI with NUL, AE with a space; an empty AE title stays empty.
    { mediaStorageSopClassUid: '1.2.840.10008.5.1.4.1.1.7', mediaStorageSopInstanceUid: '1.2.3.45', transferSyntaxUid: '1.2.840.10008.1.2', sourceApplicationEntityTitle: 'CT01' },
    { mediaStorageSopClassUid: '1.2.3', mediaStorageSopInstanceUid: '2.25.1', transferSyntaxUid: '1.2.840.10008.1.2.4.50', sourceApplicationEntityTitle: 'STORESCU' },
    { mediaStorageSopClassUid: '1.2.3', mediaStorageSopInstanceUid: '2.25.1', transferSyntaxUid: '1.2.840.10008.1.2.4.50', sourceApplicationEntityTitle: '' },
  ];
  for (const options of cases) {
    // `attributes` sends the same request through the general writer.
    assert.deepEqual(Buffer.from(encodeFileMetaInformation(options)), Buffer.from(encodeFileMetaInformation({ ...options, attributes: {} })));
  }
  // Values the plain layout cannot take are left to the general writer, which refuses them as before.
  for (const bad of ['1.2.\\3', '1.2.é']) {
    assert.throws(() => encodeFileMetaInformation({ mediaStorageSopClassUid: '1.2', mediaStorageSopInstanceUid: bad, transferSyntaxUid: '1.2' }), DicomWriteError);
  }
});

test('encodeFileMetaInformation - the C-STORE layout and the general writer agree on random values, lengths and characters', () => {
  // Mostly values the plain layout takes (printable ASCII without backslash), some with characters it leaves alone.
  const plain = '0123456789.......AZaz ~!';
  const any = `${plain}\\\x01\x7f\u00e9`;
  let x = 0x9e3779b9;
  const next = (n: number): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  const text = (max: number): string => {
    const alphabet = next(4) === 0 ? any : plain;
    return Array.from({ length: next(max + 1) }, () => alphabet[next(alphabet.length)]).join('');
  };
  const outcome = (options: FileMetaInformationOptions): string => {
    try {
      return Buffer.from(encodeFileMetaInformation(options)).toString('hex');
    } catch (e) {
      return `${(e as Error).name}: ${(e as Error).message}`;
    }
  };
  for (let k = 0; k < 2000; k++) {
    const options: FileMetaInformationOptions = {
      mediaStorageSopClassUid: text(next(4) === 0 ? 70 : 8),
      mediaStorageSopInstanceUid: text(next(4) === 0 ? 70 : 64),
      transferSyntaxUid: text(next(8) === 0 ? 70 : 22),
    };
    if (next(2) === 0) options.sourceApplicationEntityTitle = text(18);
    assert.equal(outcome(options), outcome({ ...options, attributes: {} }), JSON.stringify(options));
  }
});

test('encodePart10Prefix - 128 zero bytes and DICM', () => {
  assert.deepEqual(Buffer.from(encodePart10Prefix()), Buffer.concat([Buffer.alloc(128), Buffer.from('DICM')]));
});

test('encodePart10 - refuses a data set without SOP Class and Instance UIDs', () => {
  assert.throws(() => encodePart10({ dataset: {}, transferSyntaxUid: ExplicitVrLittleEndian }), /SOP Class UID/);
});

test('encodeCommandSet - group 0000 in implicit VR LE with Command Group Length first', () => {
  const bytes = encodeCommandSet({
    '00000002': { vr: 'UI', Value: ['1.2.840.10008.1.1'] },
    '00000100': { vr: 'US', Value: [0x0030] },
    '00000110': { vr: 'US', Value: [1] },
    '00000800': { vr: 'US', Value: [0x0101] },
  });
  const buf = Buffer.from(bytes);
  assert.equal(buf.toString('hex', 0, 8), '0000000004000000');
  assert.equal(buf.readUInt32LE(8), bytes.byteLength - 12);
  // 1.2.840.10008.1.1 is 17 characters: padded with NUL to 18.
  assert.equal(buf.readUInt32LE(16), 18);
  assert.equal(buf[12 + 8 + 17], 0);
  assert.throws(() => encodeCommandSet({ '00080018': { vr: 'UI', Value: ['1.2'] } }), /group 0000 only/);
});

test('encodeDataset - Explicit VR Big Endian swaps numbers and binary values but not text', () => {
  const bytes = encodeDataset(
    {
      '00280010': { vr: 'US', Value: [0x0102] },
      '7FE00010': { vr: 'OW', InlineBinary: Buffer.from([0x01, 0x02, 0x03, 0x04]).toString('base64') },
    },
    ExplicitVrBigEndian,
  );
  assert.equal(hex(bytes), '00280010555300020102' + '7fe000104f570000000000040201' + '0403');
});

test('encodeDataset - Deflated Explicit VR LE inflates back to the explicit encoding', () => {
  const dataset: WritableDataset = { '00100020': { vr: 'LO', Value: ['X'.repeat(1000)] } };
  const deflated = encodeDataset(dataset, DeflatedExplicitVrLittleEndian);
  assert.ok(deflated.byteLength < 100);
  assert.deepEqual(new Uint8Array(inflateRawSync(deflated)), encodeDataset(dataset, ExplicitVrLittleEndian));
});

test('encodeDataset - encapsulated pixel data has a Basic Offset Table and one item per fragment', () => {
  const bytes = encodeDataset(
    { '7FE00010': { vr: 'OB', Fragments: [new Uint8Array(6).fill(1), new Uint8Array(3).fill(2)] } },
    RleLossless,
  );
  const buf = Buffer.from(bytes);
  assert.equal(buf.toString('hex', 0, 12), 'e07f10004f420000ffffffff');
  assert.equal(buf.toString('hex', 12, 20), 'feff00e008000000');
  assert.deepEqual([buf.readUInt32LE(20), buf.readUInt32LE(24)], [0, 14]);
  assert.equal(buf.readUInt32LE(28 + 4), 6);
  assert.equal(buf.readUInt32LE(28 + 14 + 4), 4); // odd fragment padded
  assert.equal(buf.toString('hex', bytes.byteLength - 8), 'feffdde000000000');
  assert.deepEqual(basicOffsetTable([10, 20, 30]), [0, 18, 46]);
  assert.throws(() => encodeDataset({ '7FE00010': { vr: 'OB', Bytes: new Uint8Array(2) } }, RleLossless), /needs Fragments/);
  assert.throws(() => encodeDataset({}, '1.2.3.4'), UnsupportedTransferSyntaxError);
});

test('encodeDataset - refuses unresolved bulk data, bad keys and backslashes inside values', () => {
  assert.throws(() => encodeDataset({ '7FE00010': { vr: 'OW', BulkDataURI: 'http://x/bulk' } }), /must be resolved/);
  assert.throws(() => encodeDataset({ PatientName: { vr: 'PN', Value: ['A'] } }), /not a GGGGEEEE tag/);
  assert.throws(() => encodeDataset({ '00100020': { vr: 'LO', Value: ['a\\b'] } }), /backslash/);
});

test('encodePart10 - round-trips through dcmjs in explicit and implicit VR', () => {
  const dataset: WritableDataset = {
    ...sop(),
    '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Ärzte^Änne' }] },
    '00280010': { vr: 'US', Value: [2] },
    '00280011': { vr: 'US', Value: [2] },
    '00281052': { vr: 'DS', Value: [-1024] },
    '00180050': { vr: 'DS', Value: ['2.5'] },
    '7FE00010': { vr: 'OW', Bytes: new Uint8Array(new Int16Array([1, -2, 3, -4]).buffer) },
  };
  for (const transferSyntaxUid of [ExplicitVrLittleEndian, ImplicitVrLittleEndian]) {
    const { dict } = readWithDcmjs(encodePart10({ dataset, transferSyntaxUid }));
    assert.equal(dict['00100010'].Value[0].Alphabetic, 'Ärzte^Änne');
    assert.equal(dict['00280010'].Value[0], 2);
    assert.equal(Number(dict['00281052'].Value[0]), -1024);
    assert.equal(Number(dict['00180050'].Value[0]), 2.5);
    assert.deepEqual([...new Int16Array(dict['7FE00010'].Value[0])], [1, -2, 3, -4]);
  }
});

test('encodePart10 - round-trips through the streaming reader to the same DICOM JSON', async () => {
  const { readPart10 } = await import('./part10-reader.js');
  const dataset: WritableDataset = {
    ...sop(),
    '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
    '00080008': { vr: 'CS', Value: ['ORIGINAL', 'PRIMARY'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' }] },
    '00181030': { vr: 'LO', Value: ['Odd'] },
    '00200013': { vr: 'IS', Value: [7] },
    '00281050': { vr: 'DS', Value: [40, -600.5] },
    '00280010': { vr: 'US', Value: [512] },
    '00189328': { vr: 'FD', Value: [1.25] },
    '00209165': { vr: 'AT', Value: ['00200032'] },
    '00081115': {
      vr: 'SQ',
      Value: [{ '0020000E': { vr: 'UI', Value: ['1.2.3.4.5'] }, '00081160': { vr: 'IS', Value: [1, 2] } }],
    },
  };
  for (const transferSyntaxUid of [ExplicitVrLittleEndian, ImplicitVrLittleEndian, DeflatedExplicitVrLittleEndian]) {
    const parsed = await readPart10([encodePart10({ dataset, transferSyntaxUid })]);
    assert.equal(parsed.transferSyntaxUid, transferSyntaxUid);
    for (const [key, attribute] of Object.entries(dataset)) {
      assert.deepEqual(parsed.dataset[key]?.Value, attribute.Value, `${key} in ${transferSyntaxUid}`);
    }
  }
});
