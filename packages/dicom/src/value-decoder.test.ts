import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { SpecificCharacterSet } from './character-set.js';
import { decodeBinaryValue, decodeStringValue, inlineBinary } from './value-decoder.js';

const cs = new SpecificCharacterSet();
const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

test('decodeStringValue - trims padding per VR and keeps leading spaces of text VRs', () => {
  assert.deepEqual(decodeStringValue(text(' CT \\ MR '), 'CS', cs), ['CT', 'MR']);
  assert.deepEqual(decodeStringValue(text('1.2.3\0'), 'UI', cs), ['1.2.3']);
  assert.deepEqual(decodeStringValue(text('  indented\\text '), 'LT', cs), ['  indented\\text']);
  assert.deepEqual(decodeStringValue(text('   '), 'LO', cs), undefined);
  assert.deepEqual(decodeStringValue(text('A\\\\'), 'LO', cs), ['A', null, null]);
});

test('decodeStringValue - reads IS and DS as numbers, keeping text that is not a number', () => {
  assert.deepEqual(decodeStringValue(text(' +12\\-3\\1.5\\x'), 'IS', cs), [12, -3, '1.5', 'x']);
  assert.deepEqual(decodeStringValue(text('1.5e-3\\.5\\-0\\NaN\\1.'), 'DS', cs), [0.0015, 0.5, -0, 'NaN', 1]);
});

test('decodeStringValue - reads person names into component groups', () => {
  assert.deepEqual(decodeStringValue(text('Doe^John\\=Ideo\\'), 'PN', cs), [{ Alphabetic: 'Doe^John' }, { Ideographic: 'Ideo' }, null]);
});

test('decodeBinaryValue - reads every binary number VR in both byte orders', () => {
  const b = Uint8Array.from([0x01, 0x80, 0xff, 0xff, 0, 0, 0, 0x80]);
  assert.deepEqual(decodeBinaryValue(b, 'US', true), [0x8001, 0xffff, 0, 0x8000]);
  assert.deepEqual(decodeBinaryValue(b, 'SS', true), [-32767, -1, 0, -32768]);
  assert.deepEqual(decodeBinaryValue(b, 'US', false), [0x0180, 0xffff, 0, 0x0080]);
  assert.deepEqual(decodeBinaryValue(b, 'UL', true), [0xffff8001, 0x80000000]);
  assert.deepEqual(decodeBinaryValue(b, 'SL', true), [-32767, -2147483648]);
  assert.deepEqual(decodeBinaryValue(b, 'AT', true), ['8001FFFF', '00008000']);
  assert.deepEqual(decodeBinaryValue(Uint8Array.from([0, 0, 0xc0, 0x3f]), 'FL', true), [1.5]);
  assert.deepEqual(decodeBinaryValue(new Uint8Array(Buffer.from('000000000000f83f', 'hex')), 'FD', true), [1.5]);
  assert.deepEqual(decodeBinaryValue(new Uint8Array(8).fill(0xff), 'SV', true), [-1]);
  assert.deepEqual(decodeBinaryValue(new Uint8Array(8).fill(0xff), 'UV', true), ['18446744073709551615']);
  // A trailing byte that does not make a whole number is ignored.
  assert.deepEqual(decodeBinaryValue(Uint8Array.from([1, 0, 2]), 'US', true), [1]);
});

test('inlineBinary - encodes base64 little endian, swapping words read big endian', () => {
  const b = Uint8Array.from([1, 2, 3, 4]);
  assert.equal(inlineBinary(b, 'OB', false), 'AQIDBA==');
  assert.equal(inlineBinary(b, 'OW', true), 'AQIDBA==');
  assert.equal(inlineBinary(b, 'OW', false), Buffer.from([2, 1, 4, 3]).toString('base64'));
  assert.equal(inlineBinary(b, 'OF', false), Buffer.from([4, 3, 2, 1]).toString('base64'));
  assert.deepEqual([...b], [1, 2, 3, 4]);
});
