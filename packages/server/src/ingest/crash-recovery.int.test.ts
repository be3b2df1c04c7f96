import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { buildCtSeries } from '@atrium/dicom';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../logger.js';
import { openArchive } from '../main.js';
import { fsck } from '../fsck/fsck.js';

const cli = fileURLToPath(new URL('../cli.ts', import.meta.url));

interface ImportRun {
  acknowledged: string[];
  killed: boolean;
  exitCode: number | null;
}

/**
 * Runs `atrium import --json` on `dir` and SIGKILLs it after `killAfter` files were acknowledged (or lets it finish
 * when undefined). An acknowledged file is one whose JSON line the CLI printed: the CLI prints it only after the
 * ingest pipeline answered, which is after the index commit and the flush of the staged bytes (the rename into
 * place comes after the index flush, and may still be pending when the process dies).
 */
function runImport(dataDir: string, dir: string, killAfter: number | undefined): Promise<ImportRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', cli, 'import', '--json', dir], {
      env: { ...process.env, ATRIUM_DATA_DIR: dataDir, ATRIUM_LOG_LEVEL: 'silent', ATRIUM_DB_SYNCHRONOUS: 'FULL' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acknowledged: string[] = [];
    let killed = false;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const r = JSON.parse(line) as { outcome: string; sopInstanceUid?: string };
      if (r.sopInstanceUid && r.outcome !== 'rejected') acknowledged.push(r.sopInstanceUid);
      if (killAfter !== undefined && acknowledged.length >= killAfter && !killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ acknowledged, killed, exitCode: code }));
  });
}

test('ingest - SIGKILL in the middle of imports: after restart fsck is clean and every acknowledged instance is present', async () => {
  const work = mkdtempSync(join(tmpdir(), 'atrium-crash-'));
  const dataDir = join(work, 'data');
  const filesDir = join(work, 'files');
  try {
    const series = buildCtSeries({ slices: 300, rows: 64, columns: 64, seed: 11 });
    mkdirSync(filesDir);
    series.instances.forEach((s, i) => writeFileSync(join(filesDir, `ct-${String(i).padStart(4, '0')}.dcm`), s.bytes));

    const acknowledged = new Set<string>();
    // Kill three times at different depths; each run re-imports the folder, so earlier files come back as identical.
    for (const killAfter of [40, 130, 220]) {
      const run = await runImport(dataDir, filesDir, killAfter);
      assert.ok(run.killed, `the import of 300 files was still running after ${killAfter} acknowledgements`);
      run.acknowledged.forEach((uid) => acknowledged.add(uid));

      const config = loadConfig({ ATRIUM_DATA_DIR: dataDir, ATRIUM_LOG_LEVEL: 'silent' }, dataDir);
      const archive = await openArchive(config, createLogger(config));
      try {
        const report = await fsck(archive, { verifyDigests: true });
        assert.ok(report.clean, `fsck after kill at ${killAfter}: ${JSON.stringify(report.problems)}`);
        for (const uid of acknowledged) {
          assert.ok(await archive.archive.findInstance(uid), `acknowledged instance '${uid}' is present`);
        }
      } finally {
        await archive.close();
      }
    }

    const last = await runImport(dataDir, filesDir, undefined);
    assert.equal(last.exitCode, 0);
    assert.equal(last.acknowledged.length, 300);
    const config = loadConfig({ ATRIUM_DATA_DIR: dataDir, ATRIUM_LOG_LEVEL: 'silent' }, dataDir);
    const archive = await openArchive(config, createLogger(config));
    try {
      assert.equal((await archive.archive.stats()).instances, 300);
      assert.ok((await fsck(archive)).clean);
    } finally {
      await archive.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
