#!/usr/bin/env node
// Puts the prebuilt OHIF viewer (the `dist/` of the npm package @ohif/app) in packages/web/dist-ohif/.
// `npm install @ohif/app` cannot be used: 3.13.2 depends on an @ohif/i18n version that was never published, and
// the package is only a static site anyway. `npm pack` reaches only the npm registry; the tarball is checked
// against the pinned integrity before anything is extracted. Skips when the pinned version is already there.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const VERSION = '3.13.2';
/** Where Atrium serves OHIF (packages/server/src/web-app reads it back from the marker file). */
const BASE_PATH = '/ohif/';
const INTEGRITY = 'sha512-WZdxmpmG7rqFgW9ZJLcbgr3XCtLi1KDNPoMaeY5PPe6j4G4fjEjjkycZM6C6Zk2F87BKxFfpq+jd5xXZB9E8EA==';

const webDir = new URL('..', import.meta.url).pathname;
const target = join(webDir, 'dist-ohif');
const marker = join(target, '.atrium-ohif');

if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === `${VERSION} ${INTEGRITY} ${BASE_PATH}`) {
  console.log(`OHIF ${VERSION} already in ${target}`);
  process.exit(0);
}

// The work folder sits beside the target so that the final rename stays on one file system.
const work = mkdtempSync(join(webDir, '.ohif-'));
try {
  console.log(`Fetching @ohif/app@${VERSION} from the npm registry`);
  const packed = JSON.parse(
    execFileSync('npm', ['pack', `@ohif/app@${VERSION}`, '--json', '--pack-destination', work], {
      cwd: work,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const tarball = join(work, packed[0].filename);
  const actual = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  if (actual !== INTEGRITY) {
    throw new Error(`Cannot use @ohif/app@${VERSION} '${tarball}': integrity ${actual} is not the pinned ${INTEGRITY}`);
  }
  execFileSync('tar', ['-xzf', tarball, '-C', work, 'package/dist'], { stdio: 'inherit' });
  const dist = join(work, 'package', 'dist');
  if (!existsSync(join(dist, 'index.html')) || !existsSync(join(dist, 'app-config.js'))) {
    throw new Error(`Cannot use @ohif/app@${VERSION}: its dist/ has no index.html or app-config.js`);
  }
  relocate(dist);
  writeFileSync(join(dist, '.atrium-ohif'), `${VERSION} ${INTEGRITY} ${BASE_PATH}\n`);
  rmSync(target, { recursive: true, force: true });
  renameSync(dist, target);
  console.log(`OHIF ${VERSION} in ${target}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** Rewrites the root public path `/` of the top-level HTML, JS and CSS files to BASE_PATH; fails if none had it. */
function relocate(dist) {
  const rewrites = [
    // index.html: window.PUBLIC_URL="/" and href="/..." / src="/..." of icons, manifest, scripts, stylesheet.
    [/\.html$/, (t) => t.replaceAll('window.PUBLIC_URL="/"', `window.PUBLIC_URL="${BASE_PATH}"`).replace(/(href|src)="\/(?!\/)/g, `$1="${BASE_PATH}`)],
    // Every webpack runtime (the app and its workers) loads its chunks from this public path.
    [/\.js$/, (t) => t.replaceAll('__webpack_require__.p = "/";', `__webpack_require__.p = "${BASE_PATH}";`)],
    [/\.css$/, (t) => t.replace(/url\(\/(?!\/)/g, `url(${BASE_PATH}`)],
  ];
  let changed = 0;
  for (const name of readdirSync(dist)) {
    const rule = rewrites.find(([pattern]) => pattern.test(name));
    if (!rule) continue;
    const path = join(dist, name);
    const before = readFileSync(path, 'utf8');
    const after = rule[1](before);
    if (after !== before) {
      writeFileSync(path, after);
      changed++;
    }
  }
  if (!readFileSync(join(dist, 'index.html'), 'utf8').includes(`window.PUBLIC_URL="${BASE_PATH}"`)) {
    throw new Error(`Cannot relocate OHIF to '${BASE_PATH}': index.html does not set window.PUBLIC_URL="/"`);
  }
  console.log(`OHIF relocated to ${BASE_PATH} (${changed} files rewritten)`);
}
