import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { buildCtSeries, encodeFileMetaInformation, encodePart10Prefix, readPart10 } from '@atrium/dicom';
import { datasetDigest } from './dataset-digest.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

test('datasetDigest - hashes the bytes after the file meta information, in any chunking, with or without a known offset', async () => {
  const instance = buildCtSeries({ rows: 32, columns: 32, slices: 1 }).instances[0]!;
  const bytes = (instance as unknown as { bytes: Uint8Array }).bytes;
  const { datasetOffset } = await readPart10([bytes]);
  const expected = sha256(bytes.subarray(datasetOffset));
  assert.equal(await datasetDigest([bytes]), expected);
  assert.equal(await datasetDigest([bytes], datasetOffset), expected);
  const tiny = Array.from({ length: 400 }, (_, i) => bytes.subarray(i, i + 1)).concat([bytes.subarray(400)]);
  assert.equal(await datasetDigest(tiny), expected, 'one byte at a time through the header');
  assert.equal(await datasetDigest(tiny, datasetOffset), expected);
});

test('datasetDigest - the same data set behind other meta information has the same digest; a header it cannot walk has none', async () => {
  const instance = buildCtSeries({ rows: 32, columns: 32, slices: 1 }).instances[0]!;
  const bytes = (instance as unknown as { bytes: Uint8Array }).bytes;
  const { datasetOffset, transferSyntaxUid } = await readPart10([bytes]);
  const dataset = bytes.subarray(datasetOffset);
  const otherMeta = Buffer.concat([
    encodePart10Prefix(),
    encodeFileMetaInformation({
      mediaStorageSopClassUid: instance.sopClassUid,
      mediaStorageSopInstanceUid: instance.sopInstanceUid,
      transferSyntaxUid,
      sourceApplicationEntityTitle: 'SOMEWHERE_ELSE',
    }),
    dataset,
  ]);
  assert.notEqual(sha256(otherMeta), sha256(bytes));
  assert.equal(await datasetDigest([otherMeta]), await datasetDigest([bytes]));
  assert.equal(await datasetDigest([bytes.subarray(0, 140)]), undefined, 'a file that ends inside its meta information');
});
