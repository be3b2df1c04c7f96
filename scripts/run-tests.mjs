#!/usr/bin/env node
// Runs every `*.test.ts` under packages/*/src (and the browser tests under packages/web/e2e) with node:test (Node 20's runner does not expand globs itself).
//   node scripts/run-tests.mjs                 all tests
//   node scripts/run-tests.mjs --unit          skip *.int.test.ts (tests that need real peers or services)
//   node scripts/run-tests.mjs ingest store    only files whose path contains one of the words
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const packagesDir = join(root, 'packages');
let files = readdirSync(packagesDir)
  .flatMap((p) => ['src', 'e2e'].map((d) => join(packagesDir, p, d)))
  .flatMap((dir) => {
    try {
      return walk(dir, []);
    } catch {
      return [];
    }
  })
  .sort();
if (unitOnly) files = files.filter((f) => !f.endsWith('.int.test.ts'));
if (filters.length) files = files.filter((f) => filters.some((w) => relative(root, f).includes(w)));
if (files.length === 0) {
  console.error('No test files matched');
  process.exit(1);
}

const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--conditions=source',
    '--test',
    '--test-concurrency=2',
    '--test-timeout=900000',
    ...files.map((f) => relative(root, f)),
  ],
  { cwd: root, stdio: 'inherit' },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
