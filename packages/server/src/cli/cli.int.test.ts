import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { buildCtSeries } from '@atrium/dicom';

const execFileAsync = promisify(execFile);
const cli = fileURLToPath(new URL('../cli.ts', import.meta.url));
const corpus = fileURLToPath(new URL('../../../../../shared/testdata/dev', import.meta.url));

async function atrium(dataDir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['--import', 'tsx', '--conditions=source', cli, ...args], {
      env: { ...process.env, ATRIUM_DATA_DIR: dataDir, ATRIUM_LOG_LEVEL: 'error' },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('atrium import - stores a folder, reports duplicates and rejections with reasons, exit code 1 on rejection', async () => {
  const work = mkdtempSync(join(tmpdir(), 'atrium-cli-'));
  try {
    const files = join(work, 'files');
    mkdirSync(join(files, 'nested', 'deeper'), { recursive: true });
    const series = buildCtSeries({ slices: 4, rows: 32, columns: 32 });
    series.instances.forEach((s, i) => writeFileSync(join(files, i % 2 ? 'nested/deeper' : '', `ct${i}.dcm`), s.bytes));
    writeFileSync(join(files, 'copy-of-ct0.dcm'), series.instances[0]!.bytes);
    writeFileSync(join(files, 'notes.txt'), 'not an image');
    const dataDir = join(work, 'data');

    const imported = await atrium(dataDir, 'import', files);
    assert.equal(imported.code, 1, imported.stderr);
    assert.match(imported.stdout, /Imported 6 files/);
    assert.match(imported.stdout, /stored: +4/);
    assert.match(imported.stdout, /duplicate: +1/);
    assert.match(imported.stdout, /rejected: +1/);
    assert.match(imported.stdout, /notes\.txt: Cannot read Part 10 object: .*DICM/);

    const stats = await atrium(dataDir, 'stats', '--json');
    assert.equal(stats.code, 0);
    assert.equal(JSON.parse(stats.stdout).instances, 4);
    const fsck = await atrium(dataDir, 'fsck');
    assert.equal(fsck.code, 0, fsck.stdout);
    assert.match(fsck.stdout, /The archive is clean/);

    rmSync(join(files, 'notes.txt'));
    const again = await atrium(dataDir, 'import', files);
    assert.equal(again.code, 0, 'nothing rejected: exit code 0');
    assert.match(again.stdout, /duplicate: +5/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('atrium import - the shared corpus: every file stored or rejected with a reason, then fsck is clean', { skip: !existsSync(corpus) && 'corpus ../shared/testdata/dev absent' }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'atrium-corpus-'));
  try {
    const imported = await atrium(dataDir, 'import', '--json', corpus);
    const lines = imported.stdout.trim().split('\n').map((l) => JSON.parse(l) as { outcome: string; reason?: string; path: string });
    assert.equal(lines.length, 249);
    const rejected = lines.filter((l) => l.outcome === 'rejected');
    for (const r of rejected) assert.match(r.reason ?? '', /^Cannot /, `${r.path} has a reason`);
    assert.equal(imported.code, rejected.length ? 1 : 0);
    // The corpus's broken files (MANIFEST.md): two without a Part 10 header and a truncated one. Anything else
    // refused would be a reader bug.
    assert.deepEqual(
      rejected.map((r) => r.path.split('/').pop()).sort(),
      ['1.2.840.10008.1.2.dcm', 'MR_truncated.dcm', 'no_meta.dcm'],
    );
    const fsck = await atrium(dataDir, 'fsck', '--verify-digests', '--json');
    assert.equal(fsck.code, 0);
    assert.equal(JSON.parse(fsck.stdout).clean, true);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
