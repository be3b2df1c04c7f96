import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ExplicitVrLittleEndian } from '@atrium/dicom';
import { cStore } from './c-store.js';
import { withAssociation } from './client.js';
import { DimseServer } from './server.js';
import { SecondaryCaptureStorage, lazyLargeDataset } from './test-support.js';

const SIZE = Number(process.env.ATRIUM_DIMSE_LARGE_MB ?? 512) << 20;

function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

test('C-STORE - a 512 MB object crosses with a slow consumer in bounded memory (backpressure end to end)', async (t) => {
  const gc = collectGarbage();
  gc();
  const baseline = process.memoryUsage();
  const base = baseline.heapUsed + baseline.arrayBuffers;
  let consumed = 0;
  let maxInFlight = 0;
  let peak = 0;
  const source = lazyLargeDataset(SIZE);
  const server = new DimseServer({
    policy: { aeTitle: 'ATRIUM' },
    handlers: {
      store: async (req) => {
        await pipeline(
          req.dataset,
          new Writable({
            highWaterMark: 64 << 10,
            write(chunk: Buffer, _enc, done) {
              consumed += chunk.length;
              maxInFlight = Math.max(maxInFlight, source.produced() - consumed);
              // Slow for the first 48 MB (about 10 MB/s), then as fast as the loop allows.
              if (consumed < 48 << 20) setTimeout(done, 2);
              else done();
            },
          }),
        );
        return { status: 0 };
      },
    },
  });
  const { port } = await server.listen(0);
  const sampler = setInterval(() => {
    gc();
    const m = process.memoryUsage();
    peak = Math.max(peak, m.heapUsed + m.arrayBuffers - base);
  }, 100);
  try {
    const result = await withAssociation(
      {
        host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'ATRIUM',
        presentationContexts: [{ abstractSyntaxUid: SecondaryCaptureStorage, transferSyntaxUids: [ExplicitVrLittleEndian] }],
      },
      (a) => cStore(a, { sopClassUid: SecondaryCaptureStorage, sopInstanceUid: '1.2.3.99', transferSyntaxUid: ExplicitVrLittleEndian, dataset: source.stream }),
    );
    t.diagnostic(`in flight max ${(maxInFlight / 2 ** 20).toFixed(1)} MB, heap+buffers peak +${(peak / 2 ** 20).toFixed(1)} MB`);
    assert.equal(result.status, 0);
    assert.equal(consumed, source.produced());
    assert.ok(consumed > SIZE);
    // Bytes generated but not yet consumed: socket buffers, one PDU, the stream buffers. Never the object.
    assert.ok(maxInFlight < 32 << 20, `in flight up to ${(maxInFlight / 2 ** 20).toFixed(1)} MB`);
    assert.ok(peak < 96 << 20, `heap + buffers grew by ${(peak / 2 ** 20).toFixed(1)} MB`);
  } finally {
    clearInterval(sampler);
    await server.close();
    await sleep(0);
  }
});
