import { test } from 'node:test';
import assert from 'node:assert/strict';
import { instanceBlobKey, pendingBlobKey, parsePendingBlobKey } from './blob-key.js';

test('instanceBlobKey - groups by study and series and ends with the digest', () => {
  const key = instanceBlobKey('1.2.3', '1.2.3.4', '1.2.3.4.5', 'ab'.repeat(32));
  assert.match(key, /^dicom\/[0-9a-f]{2}\/1\.2\.3\/1\.2\.3\.4\/1\.2\.3\.4\.5-abababababababab\.dcm$/);
});

test('instanceBlobKey - characters outside UIDs cannot escape the key space', () => {
  const key = instanceBlobKey('../../etc', '1', '2', '0'.repeat(64));
  assert.ok(!key.includes('..'));
  assert.ok(!key.split('/').includes(''));
});

test('pendingBlobKey - round-trips the owner and the final key', () => {
  const finalKey = instanceBlobKey('1.2.3', '1.2.3.4', '1.2.3.4.5', 'cd'.repeat(32));
  const pending = pendingBlobKey(finalKey, 4242);
  assert.deepEqual(parsePendingBlobKey(pending), { pid: 4242, finalKey });
  assert.equal(parsePendingBlobKey('pending/nonsense'), undefined);
});
