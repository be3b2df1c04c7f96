/**
 * Ingest benchmark (issue: archive foundation): `atrium import` of N small instances and M multi-frame objects,
 * beside the physical reference measured in the same run on the same disk: a plain copy of the same bytes
 * (`cp -r` then `sync`, so the copy is on disk as Atrium's fsync'd objects are).
 *
 *   npm run bench -- ingest
 *   ATRIUM_BENCH_SMALL=2000 ATRIUM_BENCH_MULTIFRAME=10 ATRIUM_BENCH_RUNS=3 npm run bench -- ingest
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { buildCtSeries, buildUltrasoundClip } from '@atrium/dicom';

const small = Number(process.env.ATRIUM_BENCH_SMALL ?? 2000);
const multiframe = Number(process.env.ATRIUM_BENCH_MULTIFRAME ?? 10);
const runs = Number(process.env.ATRIUM_BENCH_RUNS ?? 3);
const cli = fileURLToPath(new URL('../bin/atrium.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'atrium-bench-ingest-'));

async function writeCorpus(dir: string, kind: 'small' | 'multiframe'): Promise<{ files: number; bytes: number }> {
  mkdirSync(dir, { recursive: true });
  let bytes = 0;
  if (kind === 'small') {
    // 512x512 CT slices are ~0.5 MB; "small" here means a typical CR/CT/MR slice of a few hundred kB or less.
    const perSeries = 200;
    for (let s = 0; s * perSeries < small; s++) {
      const series = buildCtSeries({
        slices: Math.min(perSeries, small - s * perSeries),
        rows: 256,
        columns: 256,
        seed: 100 + s,
        patient: { patientId: `BENCH-${s % 20}` },
      });
      for (const [i, inst] of series.instances.entries()) {
        writeFileSync(join(dir, `s${s}-${i}.dcm`), inst.bytes);
        bytes += inst.bytes.byteLength;
      }
    }
    return { files: small, bytes };
  }
  for (let m = 0; m < multiframe; m++) {
    const clip = buildUltrasoundClip({ frames: 120, rows: 600, columns: 800, seed: 200 + m, patient: { patientId: `ECHO-${m}` } });
    const out = createWriteStream(join(dir, `clip-${m}.dcm`));
    for await (const chunk of clip.chunks()) if (!out.write(chunk)) await once(out, 'drain');
    out.end();
    await once(out, 'close');
    bytes += clip.byteLength;
  }
  return { files: multiframe, bytes };
}

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Row {
  what: string;
  files: number;
  bytes: number;
  copySeconds: number;
  atriumSeconds: number;
  atriumRssMb: number;
}

async function measure(kind: 'small' | 'multiframe'): Promise<Row> {
  const src = join(work, `src-${kind}`);
  const { files, bytes } = await writeCorpus(src, kind);
  const copyTimes: number[] = [];
  const atriumTimes: number[] = [];
  let rss = 0;
  for (let r = 0; r < runs; r++) {
    const dst = join(work, `copy-${kind}-${r}`);
    copyTimes.push(timed(() => execFileSync('sh', ['-c', `cp -r '${src}' '${dst}' && sync`])));
    rmSync(dst, { recursive: true, force: true });

    const dataDir = join(work, `data-${kind}-${r}`);
    execFileSync('sync');
    let result: ReturnType<typeof spawnSync> | undefined;
    atriumTimes.push(
      timed(() => {
        result = spawnSync('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, cli, 'import', '--json', src], {
          env: { ...process.env, ATRIUM_DATA_DIR: dataDir, ATRIUM_LOG_LEVEL: 'warn' },
          encoding: 'utf8',
          maxBuffer: 256 * 1024 * 1024,
        });
      }),
    );
    if (result!.status !== 0) throw new Error(`atrium import failed: ${result!.stderr}`);
    const stored = String(result!.stdout).trim().split('\n').filter((l) => JSON.parse(l).outcome === 'stored').length;
    if (stored !== files) throw new Error(`expected ${files} stored, got ${stored}`);
    rss = Math.max(rss, Number(/maxrss_kb=(\d+)/.exec(String(result!.stderr))?.[1] ?? 0) / 1024);
    rmSync(dataDir, { recursive: true, force: true });
  }
  return {
    what: kind === 'small' ? `${files} CT slices 256x256` : `${files} US clips 120x600x800`,
    files,
    bytes,
    copySeconds: median(copyTimes),
    atriumSeconds: median(atriumTimes),
    atriumRssMb: rss,
  };
}

try {
  console.log(`Ingest benchmark: median of ${runs} runs; reference = cp -r + sync of the same files on the same disk`);
  const rows = [await measure('small'), await measure('multiframe')];
  console.log('| workload | MB | cp+sync MB/s | Atrium import inst/s | Atrium MB/s | Atrium / copy | Atrium peak RSS |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const mb = r.bytes / 1e6;
    const copyMbs = mb / r.copySeconds;
    const atriumMbs = mb / r.atriumSeconds;
    console.log(
      `| ${r.what} | ${mb.toFixed(0)} | ${copyMbs.toFixed(0)} | ${(r.files / r.atriumSeconds).toFixed(0)} | ` +
        `${atriumMbs.toFixed(0)} | ${(atriumMbs / copyMbs).toFixed(2)} | ${r.atriumRssMb.toFixed(0)} MB |`,
    );
  }
  console.log('Atrium times include process start, index commit (SQLite synchronous=FULL) and an fsync per object.');
} finally {
  rmSync(work, { recursive: true, force: true });
}
