import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { DicomJsonDataset } from './dicom-json.js';
import { getItems, getNumber, getNumbers, getPersonName, getString, getStrings, getValues } from './attribute-value.js';
import { formatPersonName, parsePersonName } from './person-name.js';

const ds: DicomJsonDataset = {
  '00080060': { vr: 'CS', Value: ['CT'] },
  '00080008': { vr: 'CS', Value: ['ORIGINAL', null, 'AXIAL'] },
  '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' }] },
  '00200013': { vr: 'IS', Value: [7] },
  '00281050': { vr: 'DS', Value: [40, '1.5x', '2.5'] },
  '00081115': { vr: 'SQ', Value: [{ '00081150': { vr: 'UI', Value: ['1.2'] } }] },
  '7FE00010': { vr: 'OW', BulkDataURI: 'x' },
};

test('getString - reads strings, numbers and person names as text', () => {
  assert.equal(getString(ds, 0x00080060), 'CT');
  assert.equal(getString(ds, '00200013'), '7');
  assert.equal(getString(ds, 0x00100010), 'Yamada^Tarou=山田^太郎');
  assert.equal(getString(ds, 0x00080008, 1), undefined);
  assert.equal(getString(ds, 0x00100020), undefined);
  assert.deepEqual(getStrings(ds, 0x00080008), ['ORIGINAL', '', 'AXIAL']);
});

test('getNumber - reads numbers and numeric text', () => {
  assert.equal(getNumber(ds, 0x00200013), 7);
  assert.equal(getNumber(ds, 0x00281050, 2), 2.5);
  assert.equal(getNumber(ds, 0x00281050, 1), undefined);
  assert.deepEqual(getNumbers(ds, 0x00281050), [40, 2.5]);
  assert.equal(getNumber(ds, 0x00080060), undefined);
});

test('getPersonName and getItems - read person names and sequence items', () => {
  assert.deepEqual(getPersonName(ds, 0x00100010), { Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' });
  assert.equal(getString(getItems(ds, 0x00081115)[0]!, 0x00081150), '1.2');
  assert.deepEqual(getItems(ds, 0x00100020), []);
  assert.equal(getValues(ds, 0x7fe00010), undefined);
});

test('parsePersonName - splits component groups and round-trips with formatPersonName', () => {
  assert.deepEqual(parsePersonName('A^B==P '), { Alphabetic: 'A^B', Phonetic: 'P' });
  assert.equal(formatPersonName({ Alphabetic: 'A^B', Phonetic: 'P' }), 'A^B==P');
  assert.equal(formatPersonName({ Alphabetic: 'A' }), 'A');
});
