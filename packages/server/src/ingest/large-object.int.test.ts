import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('../test-fixtures/ingest-large-object.ts', import.meta.url));
const GiB = 1024 ** 3;
const freeBytes = (() => {
  const s = statfsSync(tmpdir());
  return s.bavail * s.bsize;
})();

test(
  'ingest - a 1 GB multi-frame object is stored with peak RSS under 300 MB',
  { skip: freeBytes < 3 * GiB && 'less than 3 GiB free in the temporary directory' },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'atrium-large-'));
    try {
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', '--conditions=source', fixture, dataDir, String(GiB)],
        { maxBuffer: 1024 * 1024, timeout: 10 * 60_000 },
      );
      const r = JSON.parse(stdout.trim().split('\n').pop()!);
      assert.equal(r.outcome, 'stored');
      assert.ok(r.size >= GiB, `object is ${r.size} bytes`);
      assert.equal(r.size, r.expectedSize);
      assert.equal(r.frames, r.expectedFrames, 'every frame located');
      assert.equal(r.fsckClean, true);
      const mb = r.maxRssBytes / 1e6;
      console.log(`# 1 GiB ingest: ${r.seconds.toFixed(1)} s, ${(r.size / 1e6 / r.seconds).toFixed(0)} MB/s, peak RSS ${mb.toFixed(0)} MB`);
      assert.ok(r.maxRssBytes < 300 * 1e6, `peak RSS ${mb.toFixed(0)} MB`);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
