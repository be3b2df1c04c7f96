#!/usr/bin/env node
// Checks the layering rules of docs/architecture.md: a package imports another only through its entry
// (`@atrium/<name>`), never a path inside it; the package graph has no cycle; declared dependencies match imports.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const packagesDir = join(root, 'packages');
const packages = readdirSync(packagesDir).filter((p) => statSync(join(packagesDir, p)).isDirectory());
const problems = [];
const graph = new Map();

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (/\.(ts|tsx|mts)$/.test(name)) out.push(path);
  }
  return out;
}

for (const p of packages) {
  const pkgJson = JSON.parse(readFileSync(join(packagesDir, p, 'package.json'), 'utf8'));
  const declared = new Set(Object.keys({ ...pkgJson.dependencies, ...pkgJson.devDependencies }));
  const uses = new Set();
  let files = [];
  try {
    files = walk(join(packagesDir, p, 'src'), []);
  } catch {}
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](@atrium\/[^'"]+)['"]/g)) {
      const spec = m[1];
      const [scope, name, ...deep] = spec.split('/');
      if (deep.length) problems.push(`${relative(root, file)} imports '${spec}': import '@atrium/${name}' only`);
      if (name === p) problems.push(`${relative(root, file)} imports its own package '${spec}'`);
      else uses.add(name);
      if (!declared.has(`${scope}/${name}`)) problems.push(`${relative(root, file)} imports '${scope}/${name}', not declared in packages/${p}/package.json`);
    }
  }
  graph.set(p, uses);
}

const state = new Map();
function visit(node, path) {
  if (state.get(node) === 'done') return;
  if (state.get(node) === 'active') {
    problems.push(`Import cycle: ${[...path, node].join(' -> ')}`);
    return;
  }
  state.set(node, 'active');
  for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
  state.set(node, 'done');
}
for (const p of packages) visit(p, []);

if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`Import rules hold for ${packages.length} packages: ${[...graph].map(([p, u]) => `${p} -> [${[...u].join(', ')}]`).join('; ')}`);
