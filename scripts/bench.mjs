#!/usr/bin/env node
// `npm run bench [-- name ...]`: runs every benchmark script `packages/*/scripts/bench-*.ts` (or those whose name
// contains one of the words), one after the other so they do not compete for the two cores. Each prints its own
// table with ratios against a reference measured in the same run.
import { readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const scripts = readdirSync(join(root, 'packages'))
  .flatMap((p) => {
    const dir = join(root, 'packages', p, 'scripts');
    return existsSync(dir) ? readdirSync(dir).filter((f) => /^bench-.*\.(ts|mjs)$/.test(f)).map((f) => join(dir, f)) : [];
  })
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();
if (scripts.length === 0) {
  console.error('No benchmark matched');
  process.exit(1);
}
let failed = 0;
for (const script of scripts) {
  console.log(`\n=== ${relative(root, script)} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', script], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
