import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { tagToHex, tagToString } from './tag.js';

/** The spelling tagToHex had before it made the digits itself. */
const spelt = (tag: number): string => tag.toString(16).toUpperCase().padStart(8, '0');

test('tagToHex - spells eight upper-case hex digits, as toString, toUpperCase and padStart do', () => {
  for (const tag of [0, 1, 0x9, 0xa, 0xf, 0x10, 0x00080005, 0x0008103e, 0x7fe00010, 0xabcdef01, 0xfffee0dd, 0xffffffff]) {
    assert.equal(tagToHex(tag), spelt(tag));
  }
  let x = 0x2545f491;
  for (let k = 0; k < 10000; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const tag = x >>> 0;
    assert.equal(tagToHex(tag), spelt(tag));
  }
  assert.equal(tagToString(0x0008103e), '(0008,103E)');
});

test('tagToHex - spells what is not an unsigned 32-bit integer as before', () => {
  for (const tag of [-1, -0, 2 ** 32, 1.5, Number.NaN]) assert.equal(tagToHex(tag), spelt(tag));
});
