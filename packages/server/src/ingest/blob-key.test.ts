import { test } from 'node:test';
import assert from 'node:assert/strict';
import { instanceBlobKey } from './blob-key.js';

test('instanceBlobKey - groups by study and series and ends with the digest', () => {
  const key = instanceBlobKey('1.2.3', '1.2.3.4', '1.2.3.4.5', 'ab'.repeat(32));
  assert.match(key, /^dicom\/[0-9a-f]{2}\/1\.2\.3\/1\.2\.3\.4\/1\.2\.3\.4\.5-abababababababab\.dcm$/);
});

test('instanceBlobKey - characters outside UIDs cannot escape the key space', () => {
  const key = instanceBlobKey('../../etc', '1', '2', '0'.repeat(64));
  assert.ok(!key.includes('..'));
  assert.ok(!key.split('/').includes(''));
});

test('instanceBlobKey - stays within file name limits for 64-character UIDs', () => {
  const uid = '1.2.826.0.1.3680043.8.498.' + '1234567890'.repeat(3) + '.1234567';
  assert.equal(uid.length, 64);
  const key = instanceBlobKey(uid, uid, uid, 'ab'.repeat(32));
  for (const segment of key.split('/')) assert.ok(segment.length < 255);
});
