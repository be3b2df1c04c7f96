import { test } from 'node:test';
import assert from 'node:assert/strict';
import { instanceBlobKey, pendingBlobKey, parsePendingBlobKey, finalKeyHash } from './blob-key.js';

test('instanceBlobKey - groups by study and series and ends with the digest', () => {
  const key = instanceBlobKey('1.2.3', '1.2.3.4', '1.2.3.4.5', 'ab'.repeat(32));
  assert.match(key, /^dicom\/[0-9a-f]{2}\/1\.2\.3\/1\.2\.3\.4\/1\.2\.3\.4\.5-abababababababab\.dcm$/);
});

test('instanceBlobKey - characters outside UIDs cannot escape the key space', () => {
  const key = instanceBlobKey('../../etc', '1', '2', '0'.repeat(64));
  assert.ok(!key.includes('..'));
  assert.ok(!key.split('/').includes(''));
});

test('pendingBlobKey - names the owner and a hash of the final key, within a file name limit', () => {
  const longUid = '1.2.826.0.1.3680043.8.498.' + '1234567890'.repeat(3) + '.1';
  const finalKey = instanceBlobKey(longUid, longUid + '.2', longUid + '.3', 'cd'.repeat(32));
  assert.ok(finalKey.length > 150);
  const pending = pendingBlobKey(finalKey, 4242);
  assert.ok(pending.length < 64, pending);
  assert.deepEqual(parsePendingBlobKey(pending), { pid: 4242, finalKeyHash: finalKeyHash(finalKey) });
  assert.notEqual(finalKeyHash(finalKey), finalKeyHash(finalKey + 'x'));
  assert.equal(parsePendingBlobKey('pending/nonsense'), undefined);
});
