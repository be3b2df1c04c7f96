import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCtSeries, DeflatedExplicitVrLittleEndian, ExplicitVrBigEndian, ExplicitVrLittleEndian, ImplicitVrLittleEndian, readPart10 } from '@atrium/dicom';
import { openTestArchive } from '../test-support.js';
import { TranscoderPool } from './transcoder.js';

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

test('TranscoderPool - native to native streams without the worker pool and its size limit, with the size measured in advance', async () => {
  const archive = await openTestArchive();
  // maxInstanceBytes 1: any whole-object (worker) transcode would be refused as too large.
  const pool = new TranscoderPool({ store: archive.store, maxThreads: 1, maxInstanceBytes: 1 });
  try {
    const ct = buildCtSeries({ slices: 1, rows: 64, columns: 64, seed: 5, transferSyntaxUid: ImplicitVrLittleEndian });
    await archive.ingest.ingest([ct.instances[0]!.bytes], { kind: 'import' });
    const meta = (await archive.archive.getInstanceMetadata(ct.instances[0]!.sopInstanceUid))!;
    const stored = await readPart10([ct.instances[0]!.bytes]);
    const pixels = Buffer.from(ct.instances[0]!.bytes.subarray(stored.pixelData!.offset, stored.pixelData!.offset + stored.pixelData!.length));
    for (const target of [ExplicitVrLittleEndian, ExplicitVrBigEndian, DeflatedExplicitVrLittleEndian]) {
      for (const form of ['part10', 'dataset'] as const) {
        const out = await pool.transcode(meta, [target, '1.2.840.10008.1.2.4.50'], { form });
        assert.equal(out.transferSyntaxUid, target);
        assert.equal(out.transcoded, true);
        const bytes = await readAll(out.stream);
        if (target === DeflatedExplicitVrLittleEndian) assert.equal(out.size, undefined, 'deflated size is known only at the end');
        else assert.equal(out.size, bytes.length);
        const parsed = form === 'part10' ? await readPart10([bytes]) : await readPart10([bytes], { format: 'dataset', transferSyntaxUid: target });
        if (form === 'part10') assert.equal(parsed.transferSyntaxUid, target);
        assert.equal(parsed.dataset['00080018']?.Value?.[0], ct.instances[0]!.sopInstanceUid);
        assert.deepEqual(parsed.dataset['00100010'], stored.dataset['00100010']);
        if (target === DeflatedExplicitVrLittleEndian) continue;
        const px = bytes.subarray(parsed.pixelData!.offset, parsed.pixelData!.offset + parsed.pixelData!.length);
        assert.deepEqual(target === ExplicitVrBigEndian ? Buffer.from(px).swap16() : px, pixels, `${target} ${form}: pixel data`);
      }
    }
  } finally {
    await pool.close();
    await archive.cleanup();
  }
});
