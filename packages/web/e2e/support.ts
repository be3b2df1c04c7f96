import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { SyntheticObject } from '@atrium/dicom';

/** Debian's Chromium: the browser tests never download one. */
export const CHROMIUM = '/usr/bin/chromium';
const repoRoot = new URL('../../../', import.meta.url).pathname;
export const ARTIFACTS = join(repoRoot, 'test-artifacts', 'web-e2e');
const WEB_DIST = join(repoRoot, 'packages/web/dist/index.html');
const OHIF_DIST = join(repoRoot, 'packages/web/dist-ohif/.atrium-ohif');

/** Why the browser tests cannot run here, or false when they can. */
export function browserTestsSkipReason(options: { ohif?: boolean } = {}): string | false {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} absent (apt-get install chromium)`;
  if (!existsSync(WEB_DIST)) return 'web app not built (npm run build -w @atrium/web)';
  if (options.ohif && !existsSync(OHIF_DIST)) return 'OHIF not fetched (npm run build -w @atrium/web)';
  return false;
}

/** Chromium flags of the test machines: headless, no sandbox (containers), WebGL through SwiftShader. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--use-gl=angle',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

export interface RunningAtrium {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * Atrium as `npm start` runs it (`atrium serve`, here from the sources through tsx), in its own process on free
 * ports with a temporary data directory: the browser and the server do not share an event loop.
 */
export async function startAtrium(env: Record<string, string> = {}): Promise<RunningAtrium> {
  const dataDir = mkdtempSync(join(tmpdir(), 'atrium-e2e-'));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', 'packages/server/src/cli.ts', 'serve'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      ATRIUM_DATA_DIR: dataDir,
      ATRIUM_HTTP_HOST: '127.0.0.1',
      ATRIUM_HTTP_PORT: '0',
      ATRIUM_DICOM_PORT: '0',
      ATRIUM_DICOM_HOST: '127.0.0.1',
      ATRIUM_LOG_LEVEL: 'warn',
      ATRIUM_DB_SYNCHRONOUS: 'NORMAL',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Cannot start Atrium: no address within 60 s\n${output}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Web and API:\s+(http:\/\/\S+?)\/?\s/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Cannot start Atrium: it exited with ${code}\n${output}`));
    });
  });
  return {
    url,
    dataDir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Stores objects with STOW-RS, a few per request; fails on any rejection. */
export async function stow(url: string, objects: readonly SyntheticObject[], perRequest = 20): Promise<void> {
  for (let i = 0; i < objects.length; i += perRequest) {
    const boundary = `e2e-${i}-${Date.now()}`;
    const parts: Uint8Array[] = [];
    for (const object of objects.slice(i, i + perRequest)) {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`));
      for await (const chunk of object.chunks()) parts.push(chunk);
      parts.push(Buffer.from('\r\n'));
    }
    parts.push(Buffer.from(`--${boundary}--\r\n`));
    const response = await fetch(`${url}/dicom-web/studies`, {
      method: 'POST',
      headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, accept: 'application/dicom+json' },
      body: Buffer.concat(parts),
    });
    if (response.status !== 200) throw new Error(`Cannot store synthetic objects: STOW-RS answered ${response.status} ${await response.text()}`);
  }
}

/** Keeps a screenshot under test-artifacts/web-e2e/ (gitignored), and returns its PNG bytes. */
export async function keepScreenshot(page: Page, name: string, options: { selector?: string } = {}): Promise<Buffer> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const png = options.selector ? await page.locator(options.selector).screenshot() : await page.screenshot();
  writeFileSync(join(ARTIFACTS, `${name}.png`), png);
  return png;
}

export interface DecodedImage {
  width: number;
  height: number;
  /** RGBA, 8 bits per sample. */
  data: Uint8Array;
}

/**
 * Decodes the PNGs Chromium writes (8-bit RGB or RGBA, not interlaced; PNG spec §7-9), so tests look at painted
 * pixels without an image library.
 */
export function decodePng(png: Buffer): DecodedImage {
  if (png.readUInt32BE(0) !== 0x89504e47) throw new TypeError('Cannot decode PNG: bad signature');
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const body = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const depth = body[8];
      const colourType = body[9];
      if (depth !== 8 || (colourType !== 2 && colourType !== 6) || body[12] !== 0) {
        throw new TypeError(`Cannot decode PNG: bit depth ${depth}, colour type ${colourType}, interlace ${body[12]}`);
      }
      channels = colourType === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0;
      let predictor = 0;
      if (filter === 1) predictor = a;
      else if (filter === 2) predictor = b;
      else if (filter === 3) predictor = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      pixels[y * stride + x] = (line[x]! + predictor) & 0xff;
    }
  }
  const data = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += channels) {
    data[i * 4] = pixels[j]!;
    data[i * 4 + 1] = pixels[j + 1]!;
    data[i * 4 + 2] = pixels[j + 2]!;
    data[i * 4 + 3] = channels === 4 ? pixels[j + 3]! : 255;
  }
  return { width, height, data };
}

/** Grey-level statistics of a decoded image: how many distinct levels and how many non-black pixels it has. */
export function pixelStats(image: DecodedImage): { distinctLevels: number; nonBlackFraction: number; mean: number } {
  const levels = new Set<number>();
  let nonBlack = 0;
  let sum = 0;
  const n = image.width * image.height;
  for (let i = 0; i < n; i++) {
    const r = image.data[i * 4]!;
    const g = image.data[i * 4 + 1]!;
    const b = image.data[i * 4 + 2]!;
    const grey = Math.round((r + g + b) / 3);
    levels.add(grey);
    if (grey > 16) nonBlack++;
    sum += grey;
  }
  return { distinctLevels: levels.size, nonBlackFraction: nonBlack / n, mean: sum / n };
}

/** Clicks the waveform canvas at `sample` of row `row` (sample counted from the page's first), scrolling it into view. */
export async function clickEcgSample(page: Page, row: number, sample: number): Promise<void> {
  const canvas = page.getByTestId('ecg-canvas');
  const pxPerMm = Number(await canvas.getAttribute('data-px-per-mm'));
  const rowHeight = Number(await canvas.getAttribute('data-row-height'));
  const fs = Number(await canvas.getAttribute('data-sampling-frequency'));
  const start = Number(await canvas.getAttribute('data-start-sample'));
  const samplePx = (25 * pxPerMm) / fs;
  const x = (sample - start) * samplePx + samplePx / 2;
  const y = (row + 0.5) * rowHeight;
  const point = await page.evaluate(
    ([x, y]) => {
      const c = document.querySelector<HTMLCanvasElement>('[data-testid=ecg-canvas]')!;
      const box = c.parentElement!;
      box.scrollLeft = Math.max(0, x - box.clientWidth / 2);
      box.scrollTop = Math.max(0, y - box.clientHeight / 2);
      const r = c.getBoundingClientRect();
      return { x: r.left + x, y: r.top + y };
    },
    [x, y] as const,
  );
  await page.mouse.click(point.x, point.y);
}
