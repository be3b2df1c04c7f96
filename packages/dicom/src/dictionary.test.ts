import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DataDictionary } from './dictionary.js';
import { DATA_ELEMENT_TABLE } from './dictionary.generated.js';
import { tagToHex } from './tag.js';

test('DataDictionary.keyOf - spells every tag as tagToHex does, registered or not', () => {
  const dictionary = new DataDictionary();
  for (const line of DATA_ELEMENT_TABLE.split('\n')) {
    const text = line.split('\t')[0]!;
    if (!text || text.includes('x')) continue;
    const tag = parseInt(text, 16) >>> 0;
    assert.equal(dictionary.keyOf(tag), tagToHex(tag));
  }
  for (const tag of [0x00080005, 0x0008103e, 0x00100010, 0x7fe00010, 0xfffee000, 0x00291010, 0x60003000, 0x00000000, 0xffffffff]) {
    assert.equal(dictionary.keyOf(tag), tagToHex(tag));
  }
  for (let group = 0; group <= 0xffff; group += 0x0101) {
    for (const element of [0x0000, 0x0010, 0x0100, 0x1010, 0xe0dd]) {
      const tag = ((group << 16) | element) >>> 0;
      assert.equal(dictionary.keyOf(tag), tagToHex(tag));
    }
  }
});

test('DataDictionary.keyOf - gives the key in upper case when a custom table spells the tag in lower case', () => {
  const dictionary = new DataDictionary('0008103e\tLO\t1\tSeries Description\tSeriesDescription\t\n', '');
  assert.equal(dictionary.keyOf(0x0008103e), '0008103E');
  assert.equal(dictionary.lookup(0x0008103e)?.keyword, 'SeriesDescription');
});
