// DICOMweb benchmark: Atrium beside Orthanc's DICOMweb plugin, in the same run, same data, same client.
//   npm run bench -- dicomweb   (or, after `npx tsc -b`: node --import tsx --conditions=source packages/server/scripts/bench-dicomweb.ts)
// Atrium is started from its built entry, packages/server/bin/atrium.mjs (dist/), so build before running directly.
// Environment:
//   INSTANCES  archive size for the QIDO search (default 100000: studies of 20 small CT instances, 8x8 pixels)
//   STOW       instances for the STOW-RS throughput phase (default 1000, 256x256 CT, 20 per request)
//   STOW_ROUNDS  STOW phases per peer (default 1; take an odd number), each with new instances, the peers taking
//              turns (the first peer of a round goes second in the next); the table shows medians and the median
//              of the per-round ratios, which a neighbour's load on a shared machine moves less than one pair of
//              phases. The first round of a fresh Atrium pays its warm-up (compilation, first growth of its files):
//              later rounds show the steady state beside it
//   CONCURRENCY  parallel requests for STOW and frames (default 4)
//   RUNS       repetitions of each latency measurement (default 30)
//   PEERS      'atrium,orthanc' (default) or one of them
//   PHASES     which measurements to run, of 'stow,load,qido,metadata,frames' (default all; qido and metadata need
//              load, frames needs stow); e.g. PHASES=stow for the STOW-RS throughput alone
//   OUT        where to write the results table (default: printed only)
//   ATRIUM_NODE_ARGS  extra node arguments for the Atrium server, split on spaces (e.g. `--cpu-prof
//              --cpu-prof-dir=/tmp/prof` to profile it: the profile is written when the bench stops it)
// The STOW phase also reports each server's CPU time per instance (user + system of its process, all threads, from
// /proc/<pid>/stat before and after the phase; for Atrium also its main thread's, the event loop): on a shared machine instances/s moves with the neighbours' load,
// CPU per instance much less. The load average at start and end says how busy the machine was.
// Both servers run as their own processes on free loopback ports with temporary storage, side by side (the one not
// being measured is idle), and are stopped at the end (Orthanc is started with a temporary configuration;
// LD_PRELOAD of ../shared/tools/lib/bind-loopback.so keeps it on 127.0.0.1 when that shim exists). Every loop is
// bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCtSeries } from '@atrium/dicom';

const INSTANCES = Number(process.env.INSTANCES ?? 100_000);
const STOW = Number(process.env.STOW ?? 1000);
const STOW_ROUNDS = Math.max(1, Number(process.env.STOW_ROUNDS ?? 1));
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const RUNS = Number(process.env.RUNS ?? 30);
const PEERS = (process.env.PEERS ?? 'atrium,orthanc').split(',');
const ATRIUM_NODE_ARGS = (process.env.ATRIUM_NODE_ARGS ?? '').split(' ').filter(Boolean);
const PHASES = new Set((process.env.PHASES ?? 'stow,load,qido,metadata,frames').split(','));
if (PHASES.has('frames')) PHASES.add('stow');
if (PHASES.has('qido') || PHASES.has('metadata')) PHASES.add('load');
const PER_STUDY = 20;
const METADATA_SERIES = 1000;
const root = new URL('../../..', import.meta.url).pathname;

interface Peer {
  name: string;
  dicomweb: string;
  process: ChildProcess;
  dir: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitFor(url: string, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    try {
      if ((await exchange('GET', url, {})).status === 200) return;
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what} did not answer ${url} within 60 s`);
}

/** The Node flags in the entry's `exec node ... "$0"` line. */
function binNodeFlags(bin: string): string[] {
  const line = /exec node (.*) "\$0"/.exec(readFileSync(bin, 'utf8'));
  if (!line) throw new Error(`No exec node line in ${bin}`);
  return line[1]!.split(' ').filter(Boolean);
}

async function startAtrium(): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'atrium-bench-dw-'));
  const port = await freePort();
  // The built entry run as a program, as `npm start` runs it (its first lines set Node's heap flags): through tsx
  // every module would be transformed at load and the server would not be the one that is deployed. `npm run bench`
  // builds first (`tsc -b`).
  // Extra arguments go on Node's command line (Node refuses --cpu-prof in NODE_OPTIONS), after the flags the entry's
  // first line gives Node when it runs as a program.
  const bin = join(root, 'packages/server/bin/atrium.mjs');
  const [command, args]: [string, string[]] = ATRIUM_NODE_ARGS.length > 0 ? [process.execPath, [...binNodeFlags(bin), ...ATRIUM_NODE_ARGS, bin, 'serve']] : [bin, ['serve']];
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ATRIUM_DATA_DIR: dir, ATRIUM_HTTP_HOST: '127.0.0.1', ATRIUM_HTTP_PORT: String(port), ATRIUM_DICOM_ENABLED: 'false', ATRIUM_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitFor(`http://127.0.0.1:${port}/healthz`, child, 'Atrium');
  return { name: 'Atrium', dicomweb: `http://127.0.0.1:${port}/dicom-web`, process: child, dir };
}

async function startOrthanc(): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'orthanc-bench-dw-'));
  const [http, dicom] = [await freePort(), await freePort()];
  const config = {
    Name: 'bench-orthanc', StorageDirectory: dir, IndexDirectory: dir, StorageCompression: false,
    Plugins: ['/usr/share/orthanc/plugins/libOrthancDicomWeb.so'], HttpPort: http, DicomPort: dicom, DicomAet: 'ORTHANCBENCH',
    RemoteAccessAllowed: false, AuthenticationEnabled: false, HttpCompressionEnabled: false, KeepAlive: true, HttpThreadsCount: 50,
    DicomServerEnabled: false, OrthancExplorerEnabled: false, SaveJobs: false, StableAge: 60, DefaultEncoding: 'Utf8',
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true, WadoRoot: '/wado', Ssl: false, StudiesMetadata: 'Full', SeriesMetadata: 'Full' },
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  // The shared tools beside the repository make Orthanc bind to loopback only, when they are there.
  const shim = fileURLToPath(new URL('../../../../shared/tools/lib/bind-loopback.so', import.meta.url));
  const child = spawn('Orthanc', [`--logdir=${dir}`, join(dir, 'config.json')], {
    env: { ...process.env, TCP_NODELAY: '1', ...(existsSync(shim) ? { LD_PRELOAD: shim } : {}) },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  await waitFor(`http://127.0.0.1:${http}/system`, child, 'Orthanc');
  return { name: 'Orthanc', dicomweb: `http://127.0.0.1:${http}/dicom-web`, process: child, dir };
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ): 100 on every Linux architecture Node runs on. */
const USER_HZ = 100;

/**
 * CPU seconds a process has used so far, user and system, all its threads (or, with `mainThreadOnly`, its main
 * thread alone); undefined where /proc is missing.
 */
function cpuSeconds(pid: number | undefined, mainThreadOnly = false): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(mainThreadOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) is in parentheses and may hold spaces: fields are counted after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return undefined;
  }
}

async function stop(peer: Peer): Promise<void> {
  if (peer.process.exitCode === null) {
    peer.process.kill('SIGTERM');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        peer.process.kill('SIGKILL');
        resolve();
      }, 20_000);
      peer.process.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  rmSync(peer.dir, { recursive: true, force: true });
}

function multipart(objects: readonly Uint8Array[], boundary: string): Buffer {
  const parts: Buffer[] = [];
  for (const o of objects) parts.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), Buffer.from(o), Buffer.from('\r\n'));
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(parts);
}

/**
 * One HTTP exchange over a keep-alive agent, timed to the last byte. Plain node:http with no Accept-Encoding, so
 * both servers send identity bodies and no client-side decoding is counted.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 16 });
function exchange(method: string, url: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; bytes: number; ms: number; text: () => string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const all = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, bytes: all.length, ms: performance.now() - started, text: () => all.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function stow(peer: Peer, objects: readonly Uint8Array[]): Promise<void> {
  const boundary = 'bench-boundary-7d1f';
  const res = await exchange(
    'POST',
    `${peer.dicomweb}/studies`,
    { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, accept: 'application/dicom+json' },
    multipart(objects, boundary),
  );
  if (res.status !== 200) throw new Error(`${peer.name} STOW answered ${res.status}: ${res.text().slice(0, 300)}`);
}

/** Runs `tasks` with at most `concurrency` in flight. */
async function pool<T>(tasks: readonly (() => Promise<T>)[], concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < tasks.length) await tasks[next++]!();
  }));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))]!;

async function timeGet(url: string, accept: string): Promise<{ ms: number; bytes: number; status: number }> {
  return exchange('GET', url, { accept });
}

/** The synthetic data set, the same for every peer: made once, sent to each. */
function archiveBatches(): { batches: Uint8Array[][]; metadataSeries: { study: string; series: string } ; queryPatient: string } {
  const batches: Uint8Array[][] = [];
  const studies = Math.max(1, Math.ceil((INSTANCES - METADATA_SERIES) / PER_STUDY));
  for (let s = 0; s < studies; s++) {
    const ct = buildCtSeries({
      slices: PER_STUDY, rows: 8, columns: 8, seed: 1000 + s, noiseHu: 0,
      patient: { patientId: `BENCH-${s % 2000}`, patientName: `Bench^Patient${s % 2000}` },
      study: { accessionNumber: `ACC${s}`, studyDate: `2023${String((s % 12) + 1).padStart(2, '0')}15` },
    });
    batches.push(ct.instances.map((i) => i.bytes));
  }
  const big = buildCtSeries({ slices: METADATA_SERIES, rows: 8, columns: 8, seed: 7, noiseHu: 0, patient: { patientId: 'BENCH-META' }, study: { accessionNumber: 'META' } });
  for (let i = 0; i < METADATA_SERIES; i += 50) batches.push(big.instances.slice(i, i + 50).map((x) => x.bytes));
  return { batches, metadataSeries: { study: big.studyInstanceUid, series: big.seriesInstanceUid }, queryPatient: 'BENCH-1234' };
}

interface Result {
  /** Median over the STOW rounds. */
  stowPerSecond?: number;
  /** Server CPU (user + system) per instance stored in the STOW phase, in ms: median over the rounds. */
  stowCpuMs?: number;
  stowRounds: { perSecond: number; cpuMs?: number }[];
  loadPerSecond?: number;
  qido: Record<string, { median: number; p95: number; results: number }>;
  metadataFirst?: number;
  metadataMedian?: number;
  metadataBytes?: number;
  framesPerSecond?: number;
}

type StowSeries = { study: string; series: string; sops: string[] }[];

/** The STOW instances of one round (256x256 16-bit CT, 20 per request), new UIDs each round. */
function stowData(round: number): { batches: Uint8Array[][]; series: StowSeries } {
  const batches: Uint8Array[][] = [];
  const series: StowSeries = [];
  const requests = Math.ceil(STOW / 20);
  for (let s = 0; s < requests; s++) {
    const ct = buildCtSeries({ slices: 20, rows: 256, columns: 256, seed: 500 + round * requests + s, patient: { patientId: `STOW-${s}` } });
    batches.push(ct.instances.map((i) => i.bytes));
    series.push({ study: ct.studyInstanceUid, series: ct.seriesInstanceUid, sops: ct.instances.map((i) => i.sopInstanceUid) });
  }
  return { batches, series };
}

/** 1. STOW-RS throughput of one round, CONCURRENCY requests in flight, and the server's CPU time per instance. */
async function measureStow(peer: Peer, batches: readonly Uint8Array[][], result: Result): Promise<void> {
  const instances = batches.reduce((n, b) => n + b.length, 0);
  // Atrium's main thread is its event loop, the resource its STOW-RS throughput is bound by on two cores
  // (docs/dicomweb.md, ninth sitting); Orthanc's work is spread over its HTTP threads.
  const eventLoop = peer.name === 'Atrium';
  const cpuBefore = cpuSeconds(peer.process.pid);
  const loopBefore = eventLoop ? cpuSeconds(peer.process.pid, true) : undefined;
  const started = performance.now();
  await pool(batches.map((b) => () => stow(peer, b)), CONCURRENCY);
  const perSecond = instances / ((performance.now() - started) / 1000);
  const cpuAfter = cpuSeconds(peer.process.pid);
  const loopAfter = eventLoop ? cpuSeconds(peer.process.pid, true) : undefined;
  const cpuMs = cpuBefore !== undefined && cpuAfter !== undefined ? ((cpuAfter - cpuBefore) * 1000) / instances : undefined;
  const loopMs = loopBefore !== undefined && loopAfter !== undefined ? ((loopAfter - loopBefore) * 1000) / instances : undefined;
  result.stowRounds.push(cpuMs === undefined ? { perSecond } : { perSecond, cpuMs });
  const ofLoop = loopMs === undefined ? '' : `, ${loopMs.toFixed(2)} of them on its event loop`;
  console.log(`  ${peer.name}: STOW ${perSecond.toFixed(0)} instances/s, ${cpuMs?.toFixed(2) ?? '-'} ms server CPU per instance${ofLoop} (load average ${loadavg()[0]!.toFixed(2)})`);
}

/** 2-4. The archive load, then QIDO searches and the metadata of a 1,000-instance series over it. */
async function measureArchive(peer: Peer, data: ReturnType<typeof archiveBatches>, result: Result): Promise<void> {
  const started = performance.now();
  let sent = 0;
  await pool(
    data.batches.map((b) => async () => {
      await stow(peer, b);
      sent += b.length;
      if (sent % 10_000 < b.length) console.log(`  ${peer.name}: ${sent} instances loaded`);
    }),
    CONCURRENCY,
  );
  result.loadPerSecond = sent / ((performance.now() - started) / 1000);

  // 3. QIDO study searches.
  const searches: Record<string, string> = {
    'PatientID exact': `/studies?PatientID=${data.queryPatient}`,
    'PatientName prefix': '/studies?PatientName=Bench%5EPatient12*&limit=100',
    'StudyDate range, first 25': '/studies?StudyDate=20230301-20230331&limit=25',
    'AccessionNumber': '/studies?AccessionNumber=ACC4242',
    'all studies, first 25': '/studies?limit=25',
  };
  for (const [name, path] of Object.entries(PHASES.has('qido') ? searches : {})) {
    const times: number[] = [];
    // One untimed warm-up gives the result count (and warms caches on both sides alike).
    const text = (await exchange('GET', `${peer.dicomweb}${path}`, { accept: 'application/dicom+json' })).text();
    const results = text ? (JSON.parse(text) as unknown[]).length : 0;
    for (let r = 0; r < RUNS; r++) times.push((await timeGet(`${peer.dicomweb}${path}`, 'application/dicom+json')).ms);
    result.qido[name] = { median: median(times), p95: p95(times), results };
  }

  // 4. Metadata of the 1,000-instance series: the first request, then warm ones.
  if (!PHASES.has('metadata')) return;
  const metaUrl = `${peer.dicomweb}/studies/${data.metadataSeries.study}/series/${data.metadataSeries.series}/metadata`;
  const first = await timeGet(metaUrl, 'application/dicom+json');
  const warm: number[] = [];
  result.metadataBytes = first.bytes;
  for (let r = 0; r < Math.min(RUNS, 20); r++) {
    const t = await timeGet(metaUrl, 'application/dicom+json');
    warm.push(t.ms);
    result.metadataBytes = t.bytes;
  }
  result.metadataFirst = first.ms;
  result.metadataMedian = median(warm);
}

/** 5. Frames per second: frame 1 of the 256x256 STOW instances as stored (OHIF's request), CONCURRENCY in flight. */
async function measureFrames(peer: Peer, stowSeries: readonly { study: string; series: string; sops: string[] }[], result: Result): Promise<void> {
  const frameUrls = stowSeries.flatMap((s) => s.sops.map((sop) => `${peer.dicomweb}/studies/${s.study}/series/${s.series}/instances/${sop}/frames/1`));
  let frames = 0;
  const started = performance.now();
  await pool(
    frameUrls.map((url) => async () => {
      const res = await exchange('GET', url, { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' });
      if (res.status === 200 && res.bytes >= 256 * 256 * 2) frames++;
    }),
    CONCURRENCY,
  );
  result.framesPerSecond = frames / ((performance.now() - started) / 1000);
  if (frames !== frameUrls.length) console.log(`  ${peer.name}: ${frameUrls.length - frames} frame requests failed`);
}

process.on('exit', () => agent.destroy());
const loadAtStart = loadavg()[0]!;
const data = PHASES.has('load') ? archiveBatches() : { batches: [], metadataSeries: { study: '', series: '' }, queryPatient: '' };
console.log(`Data: ${data.batches.reduce((n, b) => n + b.length, 0)} archive instances + ${STOW} STOW instances per peer`);
const results = new Map<string, Result>();
const peers: Peer[] = [];
try {
  for (const name of PEERS) {
    const peer = name === 'orthanc' ? await startOrthanc() : await startAtrium();
    console.log(`${peer.name} at ${peer.dicomweb}`);
    peers.push(peer);
    results.set(peer.name, { qido: {}, stowRounds: [] });
  }
  let framesSeries: StowSeries = [];
  for (let round = 0; PHASES.has('stow') && round < STOW_ROUNDS; round++) {
    const { batches, series } = stowData(round);
    if (round === 0) framesSeries = series;
    for (const peer of round % 2 === 0 ? peers : [...peers].reverse()) await measureStow(peer, batches, results.get(peer.name)!);
  }
  for (const peer of peers) {
    const result = results.get(peer.name)!;
    if (result.stowRounds.length > 0) {
      result.stowPerSecond = median(result.stowRounds.map((r) => r.perSecond));
      const cpu = result.stowRounds.flatMap((r) => (r.cpuMs === undefined ? [] : [r.cpuMs]));
      if (cpu.length > 0) result.stowCpuMs = median(cpu);
    }
    if (PHASES.has('load')) await measureArchive(peer, data, result);
    if (PHASES.has('frames')) await measureFrames(peer, framesSeries, result);
  }
} finally {
  for (const peer of peers) await stop(peer);
}

const a = results.get('Atrium');
const o = results.get('Orthanc');
const fmt = (x: number | undefined, digits = 1) => (x === undefined ? '-' : x.toFixed(digits));
const ratio = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? '-' : `${(x / y).toFixed(2)}x`);
/** The median of the per-round ratios of a STOW figure, Atrium over Orthanc. */
const roundRatio = (pick: (r: Result['stowRounds'][number]) => number | undefined): string => {
  const ratios = (a?.stowRounds ?? []).flatMap((r, i) => {
    const x = pick(r);
    const y = o?.stowRounds[i] ? pick(o.stowRounds[i]!) : undefined;
    return x === undefined || y === undefined ? [] : [x / y];
  });
  return ratios.length === 0 ? '-' : `${median(ratios).toFixed(2)}x`;
};
const stowLabel = STOW_ROUNDS > 1 ? `, median of ${STOW_ROUNDS} rounds` : '';
const lines = [
  `DICOMweb benchmark, ${new Date().toISOString()}: ${INSTANCES} archive instances, ${STOW} STOW instances (256x256), concurrency ${CONCURRENCY}, ${RUNS} runs; load average ${loadAtStart.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end`,
  '',
  '| measure | Atrium | Orthanc | Atrium / Orthanc | target |',
  '| --- | --- | --- | --- | --- |',
  `| STOW-RS instances/s (256x256 CT, 20 per request${stowLabel}) | ${fmt(a?.stowPerSecond, 0)} | ${fmt(o?.stowPerSecond, 0)} | ${roundRatio((r) => r.perSecond)} | >= 2x |`,
  `| STOW-RS server CPU ms per instance (256x256 CT${stowLabel}) | ${fmt(a?.stowCpuMs, 2)} | ${fmt(o?.stowCpuMs, 2)} | ${roundRatio((r) => r.cpuMs)} | |`,
  `| STOW-RS instances/s (archive load, 8x8 CT) | ${fmt(a?.loadPerSecond, 0)} | ${fmt(o?.loadPerSecond, 0)} | ${ratio(a?.loadPerSecond, o?.loadPerSecond)} | |`,
  ...Object.keys(a?.qido ?? o?.qido ?? {}).map(
    (k) => `| QIDO ${k}: median ms (p95) [results] | ${fmt(a?.qido[k]?.median)} (${fmt(a?.qido[k]?.p95)}) [${a?.qido[k]?.results ?? '-'}] | ${fmt(o?.qido[k]?.median)} (${fmt(o?.qido[k]?.p95)}) [${o?.qido[k]?.results ?? '-'}] | ${ratio(a?.qido[k]?.median, o?.qido[k]?.median)} | <= 0.5x |`,
  ),
  `| series metadata, 1,000 instances: first request ms | ${fmt(a?.metadataFirst)} | ${fmt(o?.metadataFirst)} | ${ratio(a?.metadataFirst, o?.metadataFirst)} | |`,
  `| series metadata, 1,000 instances: median ms | ${fmt(a?.metadataMedian)} | ${fmt(o?.metadataMedian)} | ${ratio(a?.metadataMedian, o?.metadataMedian)} | <= 0.5x, < 100 ms |`,
  `| series metadata size (bytes) | ${a?.metadataBytes ?? '-'} | ${o?.metadataBytes ?? '-'} | | |`,
  `| frames/s (frame 1, transfer-syntax=*) | ${fmt(a?.framesPerSecond, 0)} | ${fmt(o?.framesPerSecond, 0)} | ${ratio(a?.framesPerSecond, o?.framesPerSecond)} | >= 2x |`,
];
console.log(`\n${lines.join('\n')}`);
if (process.env.OUT) writeFileSync(process.env.OUT, `${lines.join('\n')}\n`);
