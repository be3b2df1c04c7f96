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

// Browser tests run after the rest, one file at a time: some measure what a person sees in real time (a cine
// clip's frame rate), which is only fair when no other test competes for the two cores.
const browser = files.filter((f) => f.includes(`${join('packages', 'web', 'e2e')}`));
const rest = files.filter((f) => !browser.includes(f));

function runGroup(group, concurrency) {
  return new Promise((resolve) => {
    if (group.length === 0) return resolve({ code: 0, pass: 0, fail: 0, skipped: 0 });
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=source',
        '--test',
        // TAP on every Node version: from Node 23 the default reporter is `spec`, whose summary lines this script
        // and CI would not find.
        '--test-reporter=tap',
        `--test-concurrency=${concurrency}`,
        '--test-timeout=900000',
        ...group.map((f) => relative(root, f)),
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const counts = { pass: 0, fail: 0, skipped: 0 };
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const text = tail + chunk.toString();
      const lines = text.split('\n');
      tail = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^# (pass|fail|skipped) (\d+)$/.exec(line);
        if (m) counts[m[1]] = Number(m[2]);
      }
    });
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), ...counts }));
  });
}

const first = await runGroup(rest, 2);
const second = await runGroup(browser, 1);
// One closing line for the whole run, since it took two runner invocations.
console.log(`${first.pass + second.pass} passed, ${first.fail + second.fail} failed, ${first.skipped + second.skipped} skipped`);
process.exit(first.code || second.code ? 1 : 0);
