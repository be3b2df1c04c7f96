import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ATRIUM_IMPLEMENTATION_CLASS_UID,
  ATRIUM_IMPLEMENTATION_VERSION_NAME,
  generateUid,
  isValidUid,
  uidFromName,
} from './uid.js';

test('generateUid - 2.25 followed by the decimal of a random UUID, valid and unique', () => {
  const uids = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const uid = generateUid();
    assert.match(uid, /^2\.25\.[1-9][0-9]*$/);
    assert.ok(uid.length <= 44, uid);
    assert.ok(isValidUid(uid), uid);
    // The decimal is a 128-bit number.
    assert.ok(BigInt(uid.slice(5)) < 2n ** 128n);
    uids.add(uid);
  }
  assert.equal(uids.size, 200);
});

test('uidFromName - same name gives the same UID, a version 5 UUID under 2.25', () => {
  const a = uidFromName('atrium-synthetic/1/ct/study');
  assert.equal(a, uidFromName('atrium-synthetic/1/ct/study'));
  assert.notEqual(a, uidFromName('atrium-synthetic/2/ct/study'));
  assert.ok(isValidUid(a));
  const hex = BigInt(a.slice(5)).toString(16).padStart(32, '0');
  assert.equal(hex[12], '5');
  assert.ok('89ab'.includes(hex[16]!));
});

test('isValidUid - digits and dots, no leading zeros except 0, at most 64 characters', () => {
  for (const uid of ['1.2.840.10008.1.2.1', '0', '1.0.2', '2.25.0', ATRIUM_IMPLEMENTATION_CLASS_UID, '1.' + '2'.repeat(62)]) {
    assert.ok(isValidUid(uid), uid);
  }
  for (const uid of ['', '1.02', '01.2', '1..2', '1.2.', '.1', '1.2a', '1.2 ', '1.2\0', '1.' + '2'.repeat(63), '1,2']) {
    assert.equal(isValidUid(uid), false, JSON.stringify(uid));
  }
});

test('ATRIUM_IMPLEMENTATION constants - a valid UID under 2.25 and an SH of at most 16 characters', () => {
  assert.ok(ATRIUM_IMPLEMENTATION_CLASS_UID.startsWith('2.25.'));
  assert.ok(isValidUid(ATRIUM_IMPLEMENTATION_CLASS_UID));
  assert.ok(ATRIUM_IMPLEMENTATION_VERSION_NAME.length <= 16);
  assert.match(ATRIUM_IMPLEMENTATION_VERSION_NAME, /^[ -~]+$/);
});
