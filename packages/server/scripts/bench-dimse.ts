/**
 * DIMSE benchmark (issue 3): Atrium beside Orthanc (Debian) and DCMTK storescp, same run, same machine, loopback.
 *
 *   npm run bench -- dimse
 *
 * Measures, for each receiver started alone in turn: storescu of many small instances on one association and,
 * other instances, on several associations at once (instances/s), of several large multi-frame objects (MB/s), the
 * receiver's peak RSS; with what Atrium and Orthanc stored, C-MOVE of a study of 100 small instances and of one
 * large object to a DCMTK storescp that receives without storing (movescu round trips, the sender's speed); then
 * C-FIND study-level latency (median, p95 of findscu round trips) on an archive of BENCH_DIMSE_FIND_INSTANCES
 * instances in Atrium and Orthanc. Sizes come from the environment so a quick run is possible:
 *
 *   BENCH_DIMSE_SMALL (2000)  BENCH_DIMSE_ASSOCIATIONS (4)  BENCH_DIMSE_LARGE (10)  BENCH_DIMSE_LARGE_MB (100)
 *   BENCH_DIMSE_MOVES (5: C-MOVEs of each kind per run)  BENCH_DIMSE_FIND_INSTANCES (100000)
 *   BENCH_DIMSE_FIND_QUERIES (50)  BENCH_DIMSE_SKIP (any of "orthanc", "store", "move", "find")
 *   BENCH_DIMSE_RUNS (3: medians of that many rotated runs)
 *
 * Targets: Atrium >= 2x Orthanc's instances/s, >= 80% of storescp's MB/s, peak RSS < 300 MB, C-FIND median <=
 * Orthanc's. DCMTK tools run with TCP_NODELAY=1 (Debian's DCMTK keeps Nagle on otherwise). Every process started
 * here is stopped by its PID; everything listens on 127.0.0.1 ports chosen at run time.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { buildCtSeries, buildUltrasoundClip } from '@atrium/dicom';

const execFileAsync = promisify(execFile);
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const SMALL = env('BENCH_DIMSE_SMALL', 2000);
const ASSOCIATIONS = env('BENCH_DIMSE_ASSOCIATIONS', 4);
const LARGE = env('BENCH_DIMSE_LARGE', 10);
const LARGE_MB = env('BENCH_DIMSE_LARGE_MB', 100);
const FIND_INSTANCES = env('BENCH_DIMSE_FIND_INSTANCES', 100_000);
const FIND_QUERIES = env('BENCH_DIMSE_FIND_QUERIES', 50);
const MOVES = env('BENCH_DIMSE_MOVES', 5);
const SKIP = new Set((process.env.BENCH_DIMSE_SKIP ?? '').split(',').filter(Boolean));
// Each receiver is measured this many times, in an order rotated between runs, and the median is reported: on a
// shared machine one run of one receiver can be off by half.
const RUNS = env('BENCH_DIMSE_RUNS', 3);
const DCMTK_ENV = { ...process.env, TCP_NODELAY: '1' };
const ROOT = new URL('../../..', import.meta.url).pathname;
// The built entry `npm start` runs (`npm run bench` builds first): what a site runs, without a TypeScript loader.
const CLI = join(ROOT, 'packages/server/bin/atrium.mjs');
const SHIM = join(ROOT, '../shared/tools/lib/bind-loopback.so');

for (const tool of ['storescu', 'findscu', 'storescp', 'movescu']) {
  if (spawnSync(tool, ['--version']).status !== 0) {
    console.log(`bench-dimse: skipped, ${tool} (DCMTK) is not installed`);
    process.exit(0);
  }
}
const hasOrthanc = spawnSync('Orthanc', ['--version']).status === 0 && !SKIP.has('orthanc');

async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/** Distinct free ports: the servers stay open until all are known, so no number is handed out twice. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Two free ports, for a receiver's DICOM and HTTP listeners. */
async function freePortPair(): Promise<[number, number]> {
  const [first, second] = await freePorts(2);
  return [first!, second!];
}

async function waitFor(probe: () => Promise<boolean>, what: string, ms = 120_000): Promise<void> {
  const started = Date.now();
  while (!(await probe().catch(() => false))) {
    if (Date.now() - started > ms) throw new Error(`${what} did not start within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const echo = (ae: string, port: number) => async () =>
  (await execFileAsync('echoscu', ['-aet', 'BENCH', '-aec', ae, '127.0.0.1', String(port)], { env: DCMTK_ENV }).then(() => true, () => false));

/** Peak resident set (VmHWM) of a process, in MB. */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * CPU time the process has used so far (user + system, all its threads), in seconds: on a shared machine the work a
 * receiver does per instance varies far less than its wall-clock rate.
 */
function cpuSeconds(pid: number): number {
  // Fields 14 to 17 of /proc/<pid>/stat (its own time and that of its children it has waited for: storescp --fork),
  // counted after the command name, which may hold spaces.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/** Starts a new peak: the resident set now becomes VmHWM (Linux `clear_refs` value 5). False where not allowed. */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

interface Receiver {
  name: string;
  ae: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

async function startAtrium(
  work: string,
  name = 'atrium',
  durability: 'power-loss' | 'process-crash' = 'power-loss',
): Promise<Receiver> {
  const [port, httpPort] = await freePortPair();
  // The entry run as a program, as `npm start` runs it: its first lines set Node's heap flags.
  const child = spawn(CLI, ['serve'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ATRIUM_DATA_DIR: join(work, name),
      ATRIUM_DICOM_HOST: '127.0.0.1',
      ATRIUM_DICOM_PORT: String(port),
      ATRIUM_HTTP_PORT: String(httpPort),
      ATRIUM_ACCEPT_ANY_AE: 'true',
      ATRIUM_LOG_LEVEL: 'error',
      ATRIUM_DURABILITY: durability,
      ...(moveDestination ? { ATRIUM_REMOTE_AES: `${moveDestination.ae}@127.0.0.1:${moveDestination.port}` } : {}),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitFor(echo('ATRIUM', port), 'Atrium');
  const label = durability === 'power-loss' ? 'Atrium' : 'Atrium (process-crash)';
  return { name: label, ae: 'ATRIUM', port, pid: child.pid!, stop: () => stop(child) };
}

async function startOrthanc(work: string): Promise<Receiver> {
  const modalities = moveDestination ? { DicomModalities: { [moveDestination.ae]: [moveDestination.ae, '127.0.0.1', moveDestination.port] } } : {};
  const dir = join(work, 'orthanc');
  mkdirSync(dir, { recursive: true });
  const [port, httpPort] = await freePortPair();
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      StorageDirectory: join(dir, 'storage'),
      IndexDirectory: join(dir, 'storage'),
      HttpPort: httpPort,
      RemoteAccessAllowed: false,
      DicomAet: 'ORTHANC',
      DicomPort: port,
      DicomCheckCalledAet: false,
      DicomAlwaysAllowStore: true,
      DicomAlwaysAllowFind: true,
      DicomAlwaysAllowEcho: true,
      DicomAlwaysAllowMove: true,
      StorageCompression: false,
      DicomThreadsCount: 4,
      Plugins: [],
      ...modalities,
    }),
  );
  const child = spawn('Orthanc', [`--logdir=${dir}`, join(dir, 'config.json')], {
    env: { ...DCMTK_ENV, ...(existsSync(SHIM) ? { LD_PRELOAD: SHIM } : {}) },
    stdio: 'ignore',
  });
  await waitFor(echo('ORTHANC', port), 'Orthanc');
  return { name: 'Orthanc', ae: 'ORTHANC', port, pid: child.pid!, stop: () => stop(child) };
}

async function startStorescp(work: string): Promise<Receiver> {
  const dir = join(work, 'storescp');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  // --fork: one process per association, so that several associations are received at once, as Atrium and Orthanc
  // receive them (without it storescp takes them one after the other).
  const child = spawn('storescp', ['-aet', 'STORESCP', '+xa', '--fork', '-od', dir, String(port)], {
    env: { ...DCMTK_ENV, ...(existsSync(SHIM) ? { LD_PRELOAD: SHIM } : {}) },
    stdio: 'ignore',
  });
  await waitFor(echo('STORESCP', port), 'storescp');
  return { name: 'DCMTK storescp', ae: 'STORESCP', port, pid: child.pid!, stop: () => stop(child) };
}

/**
 * The C-MOVE destination, known to Atrium and Orthanc when they start: a storescp that receives every syntax and
 * stores nothing (`--ignore`), so a move measures the sender, not the destination's disk.
 */
let moveDestination: { ae: string; port: number; stop: () => Promise<void> } | undefined;

async function startMoveDestination(): Promise<void> {
  const port = await freePort();
  const child = spawn('storescp', ['-aet', 'MOVESCP', '+xa', '--ignore', String(port)], {
    env: { ...DCMTK_ENV, ...(existsSync(SHIM) ? { LD_PRELOAD: SHIM } : {}) },
    stdio: 'ignore',
  });
  await waitFor(echo('MOVESCP', port), 'storescp (C-MOVE destination)');
  moveDestination = { ae: 'MOVESCP', port, stop: () => stop(child) };
}

/** The median wall time in seconds of `times` C-MOVEs of a study to the destination (movescu, Study Root). */
async function moveTimes(receiver: Receiver, studyInstanceUid: string, times: number): Promise<number> {
  const seconds: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    const { stderr } = await execFileAsync(
      'movescu',
      ['-v', '-S', '-aet', 'BENCH', '-aec', receiver.ae, '-aem', moveDestination!.ae, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyInstanceUid}`, '127.0.0.1', String(receiver.port)],
      { env: DCMTK_ENV, maxBuffer: 64 << 20 },
    );
    seconds.push((performance.now() - started) / 1000);
    // Success, not Warning: every sub-operation completed (PS3.4 C.4.2.1.5).
    if (!/Received Final Move Response \(Success\)/.test(stderr)) {
      throw new Error(`C-MOVE from ${receiver.name} did not complete: ${stderr.slice(-400)}`);
    }
  }
  return quantile(seconds.sort((a, b) => a - b), 0.5);
}

/** storescu of a folder on one association; seconds of wall time. */
async function storescu(receiver: Receiver, folder: string): Promise<number> {
  const started = performance.now();
  // +xa: propose every syntax so compressed files travel as they are; -R would narrow to the classes present.
  await execFileAsync('storescu', ['-aet', 'BENCH', '-aec', receiver.ae, '+sd', '+r', '127.0.0.1', String(receiver.port), folder], {
    env: DCMTK_ENV,
    maxBuffer: 64 << 20,
  });
  return (performance.now() - started) / 1000;
}

async function writeSmall(folder: string, count: number, prefix: string, rows = 64): Promise<{ bytes: number; firstStudy: string }> {
  mkdirSync(folder, { recursive: true });
  let bytes = 0;
  let firstStudy = '';
  let written = 0;
  for (let s = 0; written < count; s++) {
    const slices = Math.min(100, count - written);
    const series = buildCtSeries({
      rows,
      columns: rows,
      slices,
      noiseHu: 0,
      seed: s + 1,
      patient: { patientId: `${prefix}-P${Math.floor(s / 2)}`, patientName: `${prefix}^Patient${Math.floor(s / 2) % 500}` },
      study: { accessionNumber: `${prefix}-A${s}` },
    });
    firstStudy ||= series.studyInstanceUid;
    for (const slice of series.instances) {
      const data = (slice as unknown as { bytes: Uint8Array }).bytes;
      writeFileSync(join(folder, `${prefix}-${written}.dcm`), data);
      bytes += data.byteLength;
      written++;
    }
  }
  return { bytes, firstStudy };
}

async function writeLarge(folder: string, count: number, megabytes: number): Promise<{ bytes: number; firstStudy: string }> {
  mkdirSync(folder, { recursive: true });
  const frameBytes = 480 * 640;
  const frames = Math.max(1, Math.round((megabytes * 1e6) / frameBytes));
  let bytes = 0;
  let firstStudy = '';
  for (let i = 0; i < count; i++) {
    const clip = buildUltrasoundClip({ frames, rows: 480, columns: 640, seed: i + 1, patient: { patientId: `LARGE-${i}` } });
    firstStudy ||= clip.studyInstanceUid;
    await pipeline(Readable.from(clip.chunks()), createWriteStream(join(folder, `large-${i}.dcm`)));
    bytes += statSync(join(folder, `large-${i}.dcm`)).size;
  }
  return { bytes, firstStudy };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

async function findLatency(receiver: Receiver, queries: number, names: string[]): Promise<{ median: number; p95: number; matches: number }> {
  const times: number[] = [];
  let matches = 0;
  for (let i = 0; i < queries; i++) {
    const name = names[i % names.length]!;
    const started = performance.now();
    const { stderr } = await execFileAsync(
      'findscu',
      ['-v', '-S', '-aet', 'BENCH', '-aec', receiver.ae, '-k', 'QueryRetrieveLevel=STUDY', '-k', `PatientName=${name}*`, '-k', 'StudyInstanceUID', '-k', 'StudyDate', '-k', 'NumberOfStudyRelatedInstances', '127.0.0.1', String(receiver.port)],
      { env: DCMTK_ENV, maxBuffer: 64 << 20 },
    );
    times.push(performance.now() - started);
    matches += (stderr.match(/Find Response: \d+ \(Pending\)/g) ?? []).length;
  }
  times.sort((a, b) => a - b);
  return { median: quantile(times, 0.5), p95: quantile(times, 0.95), matches: matches / queries };
}

const rows: string[] = [];
const row = (...cells: (string | number)[]) => rows.push(`| ${cells.map((c) => (typeof c === 'number' ? c.toFixed(1) : c)).join(' | ')} |`);

let dropCachesRefused = false;

/**
 * The same start for every receiver. `sync`: the previous receiver's unflushed files (storescp and the generator
 * flush nothing) would otherwise be written back during this one's flushes. Then the page cache is emptied (as root)
 * and the inputs read back into it: on these VMs writing into memory that the page cache has not used before costs
 * several times the kernel CPU of reusing pages it freed (10 x 100 MB into a lone Atrium: 404 MB/s right after
 * dropping the caches, 240-312 MB/s with 3-5 GB of cache already grown), so without this a receiver's MB/s depended
 * on what the receivers before it had left in memory.
 */
function settle(inputs: string[]): void {
  spawnSync('sync');
  if (!dropCachesRefused) {
    try {
      writeFileSync('/proc/sys/vm/drop_caches', '3');
    } catch {
      dropCachesRefused = true;
      console.log('bench-dimse: cannot drop the page cache (not root?): receivers start from whatever memory state the last one left');
    }
  }
  for (const folder of inputs) if (existsSync(folder)) spawnSync('sh', ['-c', 'cat -- "$1"/* > /dev/null', 'sh', folder]);
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'atrium-bench-dimse-'));
  try {
    const verdicts: string[] = [];
    if (!SKIP.has('store')) {
      console.log(`Generating ${SMALL} small instances and ${LARGE} objects of ${LARGE_MB} MB in ${work} ...`);
      const { bytes: smallBytes, firstStudy: smallStudy } = await writeSmall(join(work, 'small'), SMALL, 'SMALL');
      // The same number of other instances (a receiver answers a repeated instance from its index), one folder per
      // association, as several modalities sending at once.
      const parallelDirs = Array.from({ length: ASSOCIATIONS }, (_, k) => join(work, 'parallel', `a${k}`));
      for (const [k, dir] of parallelDirs.entries()) await writeSmall(dir, Math.ceil(SMALL / ASSOCIATIONS), `PAR${k}`);
      const { bytes: largeBytes, firstStudy: largeStudy } = LARGE > 0 ? await writeLarge(join(work, 'large'), LARGE, LARGE_MB) : { bytes: 0, firstStudy: '' };
      const inputs = [join(work, 'small'), ...parallelDirs, join(work, 'large')];
      const moving = !SKIP.has('move') && SMALL >= 100;
      if (moving) await startMoveDestination();
      type Result = {
        smallRate: number;
        parallelRate: number;
        /** Receiver CPU ms per small instance, on 1 association and on several. */
        smallCpuMs: number;
        parallelCpuMs: number;
        largeMbps: number;
        largeRss: number;
        rss: number;
        /** Median seconds of a C-MOVE of the first 100-instance study, and of the first large object. */
        moveSmall: number;
        moveLarge: number;
      };
      const runs = new Map<string, Result[]>();
      // Atrium twice: its default survives a power cut (each object's bytes flushed before the answer, the index
      // within 100 ms and redone from those bytes if a power cut took it); process-crash durability flushes nothing.
      // Orthanc 1.10's defaults sit between: each file is flushed (SyncStorageArea), its SQLite index is not (WAL,
      // synchronous NORMAL; seen with strace). storescp flushes nothing.
      const starters: [string, (into: string) => Promise<Receiver>][] = [
        ['atrium', (into) => startAtrium(into)],
        ['atrium-relaxed', (into) => startAtrium(into, 'atrium-relaxed', 'process-crash')],
        ['storescp', (into) => startStorescp(into)],
      ];
      if (hasOrthanc) starters.splice(2, 0, ['orthanc', (into) => startOrthanc(into)]);
      for (let run = 0; run < RUNS; run++) {
        const order = starters.map((_, i) => starters[(i + run) % starters.length]!);
        // Each run's receivers store into folders of their own (see below on why nothing is removed in between).
        const runWork = join(work, `run-${run}`);
        mkdirSync(runWork, { recursive: true });
        for (const [dir, start] of order) {
          settle(inputs);
          const receiver = await start(runWork);
          try {
            const cpuBefore = cpuSeconds(receiver.pid);
            const smallSeconds = await storescu(receiver, join(work, 'small'));
            const cpuSmall = cpuSeconds(receiver.pid);
            const parallelStarted = performance.now();
            await Promise.all(parallelDirs.map((dir) => storescu(receiver, dir)));
            const parallelSeconds = (performance.now() - parallelStarted) / 1000;
            const cpuParallel = cpuSeconds(receiver.pid);
            const overallPeak = peakRssMb(receiver.pid);
            // The target is about receiving large objects: their peak is measured on its own.
            const largePeakKnown = resetPeakRss(receiver.pid);
            const largeSeconds = LARGE > 0 ? await storescu(receiver, join(work, 'large')) : NaN;
            // Sending is measured where there is an archive to send from: Atrium as shipped and Orthanc.
            const sends = moving && (dir === 'atrium' || dir === 'orthanc');
            const moveSmall = sends ? await moveTimes(receiver, smallStudy, MOVES) : NaN;
            const moveLarge = sends && LARGE > 0 ? await moveTimes(receiver, largeStudy, MOVES) : NaN;
            const result = {
              smallRate: SMALL / smallSeconds,
              parallelRate: (Math.ceil(SMALL / ASSOCIATIONS) * ASSOCIATIONS) / parallelSeconds,
              smallCpuMs: ((cpuSmall - cpuBefore) * 1000) / SMALL,
              parallelCpuMs: ((cpuParallel - cpuSmall) * 1000) / (Math.ceil(SMALL / ASSOCIATIONS) * ASSOCIATIONS),
              largeMbps: largeBytes / 1e6 / largeSeconds,
              largeRss: largePeakKnown ? peakRssMb(receiver.pid) : NaN,
              rss: Math.max(overallPeak, peakRssMb(receiver.pid)),
              moveSmall,
              moveLarge,
            };
            runs.set(receiver.name, [...(runs.get(receiver.name) ?? []), result]);
            console.log(`run ${run + 1}/${RUNS} ${receiver.name}: ${result.smallRate.toFixed(1)} instances/s on 1 association (${result.smallCpuMs.toFixed(2)} ms CPU each), ${result.parallelRate.toFixed(1)} on ${ASSOCIATIONS} (${result.parallelCpuMs.toFixed(2)} ms), ${result.largeMbps.toFixed(1)} MB/s, peak RSS ${result.largeRss.toFixed(0)} MB receiving large objects, ${result.rss.toFixed(0)} MB in all${sends ? `; C-MOVE of 100 instances ${moveSmall.toFixed(3)} s, of one large object ${moveLarge.toFixed(3)} s` : ''}`);
          } finally {
            await receiver.stop();
          }
          // What a receiver stored stays until the end (a few GB at most with the defaults): on an ext4 without a
          // journal, as on the machines this runs on, creating a file skips every inode freed in the last one to six
          // minutes, so removing 4,000 files here made each file the next receiver created cost about 0.7 ms of
          // kernel CPU instead of 0.08 (docs/dicom-networking.md). That charged every receiver for the bench's own
          // clean-up, not for its work.
        }
      }
      const median = (values: number[]) => {
        const sorted = [...values].sort((a, b) => a - b);
        const mid = sorted.length >> 1;
        return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
      };
      // Rates are medians; memory is the highest of the runs (the target is a ceiling).
      const results = new Map<string, Result>();
      for (const [name, list] of runs) {
        results.set(name, {
          smallRate: median(list.map((r) => r.smallRate)),
          parallelRate: median(list.map((r) => r.parallelRate)),
          smallCpuMs: median(list.map((r) => r.smallCpuMs)),
          parallelCpuMs: median(list.map((r) => r.parallelCpuMs)),
          largeMbps: median(list.map((r) => r.largeMbps)),
          largeRss: Math.max(...list.map((r) => r.largeRss)),
          rss: Math.max(...list.map((r) => r.rss)),
          moveSmall: median(list.map((r) => r.moveSmall)),
          moveLarge: median(list.map((r) => r.moveLarge)),
        });
      }
      rows.push(
        `Medians of ${RUNS} runs (peak RSS: the highest).`,
        '',
        `| receiver | ${SMALL} small (${(smallBytes / SMALL / 1024).toFixed(0)} KB) instances/s, 1 association | receiver CPU ms per instance | the same on ${ASSOCIATIONS} associations | CPU ms per instance | ${LARGE} x ${LARGE_MB} MB MB/s | peak RSS MB receiving them | peak RSS MB in all |`,
        '|---|---|---|---|---|---|---|---|',
      );
      for (const [name, r] of results) row(name, r.smallRate, r.smallCpuMs.toFixed(2), r.parallelRate, r.parallelCpuMs.toFixed(2), r.largeMbps, r.largeRss, r.rss);
      rows.push('', "storescp's peak RSS is its listening process's: with --fork it receives in children.");
      const atrium = results.get('Atrium')!;
      const orthanc = results.get('Orthanc');
      const scp = results.get('DCMTK storescp')!;
      const relaxed = results.get('Atrium (process-crash)')!;
      verdicts.push(
        orthanc
          ? `instances/s ${(atrium.smallRate / orthanc.smallRate).toFixed(2)}x Orthanc on 1 association, ${(atrium.parallelRate / orthanc.parallelRate).toFixed(2)}x on ${ASSOCIATIONS} (target >= 2x); with process-crash durability ${(relaxed.smallRate / orthanc.smallRate).toFixed(2)}x and ${(relaxed.parallelRate / orthanc.parallelRate).toFixed(2)}x`
          : 'Orthanc not run',
        orthanc
          ? `receiver CPU per small instance: Atrium ${atrium.smallCpuMs.toFixed(2)} ms on 1 association and ${atrium.parallelCpuMs.toFixed(2)} ms on ${ASSOCIATIONS}, Orthanc ${orthanc.smallCpuMs.toFixed(2)} and ${orthanc.parallelCpuMs.toFixed(2)} ms`
          : 'receiver CPU: Orthanc not run',
        `MB/s ${((atrium.largeMbps / scp.largeMbps) * 100).toFixed(0)}% of storescp (target >= 80%); with process-crash durability ${((relaxed.largeMbps / scp.largeMbps) * 100).toFixed(0)}%`,
        `peak RSS while receiving large objects ${Math.max(atrium.largeRss, relaxed.largeRss).toFixed(0)} MB (target < 300 MB); over the whole run ${Math.max(atrium.rss, relaxed.rss).toFixed(0)} MB`,
      );
      if (moving) {
        const moveRows = [...results].filter(([, r]) => !Number.isNaN(r.moveSmall));
        rows.push(
          '',
          `| C-MOVE to storescp --ignore (movescu round trip, median of ${MOVES} per run) | study of 100 small instances, s | one ${LARGE_MB} MB object, s | MB/s |`,
          '|---|---|---|---|',
          ...moveRows.map(([name, r]) => `| ${name} | ${r.moveSmall.toFixed(3)} | ${r.moveLarge.toFixed(3)} | ${(largeBytes / Math.max(1, LARGE) / 1e6 / r.moveLarge).toFixed(0)} |`),
        );
        verdicts.push(
          orthanc
            ? `C-MOVE: a 100-instance study in ${atrium.moveSmall.toFixed(3)} s against Orthanc's ${orthanc.moveSmall.toFixed(3)} s (${(orthanc.moveSmall / atrium.moveSmall).toFixed(2)}x its speed)${LARGE > 0 ? `, one ${LARGE_MB} MB object in ${atrium.moveLarge.toFixed(3)} s against ${orthanc.moveLarge.toFixed(3)} s (${(orthanc.moveLarge / atrium.moveLarge).toFixed(2)}x)` : ''} (no target)`
            : 'C-MOVE: Orthanc not run',
        );
      }
    }

    if (!SKIP.has('find') && FIND_INSTANCES > 0) {
      console.log(`Building a ${FIND_INSTANCES}-instance archive for C-FIND (tiny images) ...`);
      const findDir = join(work, 'find');
      await writeSmall(findDir, FIND_INSTANCES, 'FIND', 16);
      const names = Array.from({ length: 20 }, (_, i) => `FIND^Patient${i * 7}`);
      const findRows: string[] = [];
      const latency = new Map<string, { median: number; p95: number; matches: number }>();
      const targets: [string, () => Promise<Receiver>][] = [['atrium', () => startAtrium(work, 'atrium-find')]];
      if (hasOrthanc) targets.push(['orthanc', () => startOrthanc(work)]);
      for (const [, start] of targets) {
        const receiver = await start();
        try {
          const seconds = await storescu(receiver, findDir);
          console.log(`${receiver.name}: loaded ${FIND_INSTANCES} instances in ${seconds.toFixed(0)} s`);
          const l = await findLatency(receiver, FIND_QUERIES, names);
          latency.set(receiver.name, l);
          findRows.push(`| ${receiver.name} | ${l.median.toFixed(1)} | ${l.p95.toFixed(1)} | ${l.matches.toFixed(1)} |`);
        } finally {
          await receiver.stop();
        }
      }
      rows.push('', `| C-FIND study level on ${FIND_INSTANCES} instances (findscu round trip) | median ms | p95 ms | matches |`, '|---|---|---|---|', ...findRows);
      const o = latency.get('Orthanc');
      const a = latency.get('Atrium')!;
      verdicts.push(o ? `C-FIND median ${a.median.toFixed(1)} ms vs Orthanc ${o.median.toFixed(1)} ms (target <=)` : 'C-FIND: Orthanc not run');
    }
    console.log('\n' + rows.join('\n') + '\n\n' + verdicts.map((v) => `- ${v}`).join('\n'));
  } finally {
    await moveDestination?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
