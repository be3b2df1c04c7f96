import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prefixUpperBound } from './fhir-repository.js';

test('prefixUpperBound - the least string above every string starting with the prefix', () => {
  assert.equal(prefixUpperBound('fam1son'), 'fam1soo');
  assert.equal(prefixUpperBound('mül'), 'müm');
  assert.equal(prefixUpperBound('a\u{10FFFF}'), 'b');
  assert.equal(prefixUpperBound('x\uD7FF'), 'x\uE000');
  assert.equal(prefixUpperBound(''), undefined);
  for (const value of ['fam1son', 'fam1sonja', 'fam1son\u{10FFFF}z']) assert.ok(value >= 'fam1son' && value < prefixUpperBound('fam1son')!, value);
  assert.ok(!('fam1soo' < prefixUpperBound('fam1son')!));
});
