// Measures ArchiveRepository.commitInstance on small CT slices as C-STORE brings them (64x64, 100 slices per
// series, a new patient every 2 series, stagingId set as the ingest pipeline sets it): CPU per commit (all threads,
// so the WAL flushes in the thread pool and the commit thread count), CPU of the main thread alone (Linux: from
// /proc, in clock ticks, so only the totals of a phase are meaningful), time the event loop was busy per commit,
// and commits/s, one at a time and then with 4 in flight.
//   node --import tsx --conditions=source packages/db/scripts/measure-commit.ts
// Environment: N (commits per phase, default 2000), ROUNDS (default 1; each on a fresh database), FIND=1 (call
// findInstance before each commit, as the pipeline does), ATRIUM_DB_SRC (another copy of packages/db/src to measure,
// for a before/after comparison run in alternation), SYNC (default FULL), COMMIT_THREAD=0 (commits on the event loop;
// a source without the commit thread ignores it), PAGES=1 (also list the pages one more commit writes to the WAL, by
// table or index: what a schema change saves per commit).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { ParsedInstance } from '@atrium/dicom';
import { Part10Reader, buildCtSeries } from '@atrium/dicom';
import Sqlite from 'better-sqlite3';
import type * as Db from '../src/index.ts';

const N = Number(process.env['N'] ?? 2000);
const ROUNDS = Number(process.env['ROUNDS'] ?? 1);
const FIND = process.env['FIND'] === '1';
const SYNC = (process.env['SYNC'] ?? 'FULL') as Db.SqliteSynchronous;
const COMMIT_THREAD = process.env['COMMIT_THREAD'] !== '0';
const PAGES = process.env['PAGES'] === '1';
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time of the main thread (the event loop's) so far, in microseconds; utime and stime of its /proc stat. */
function mainThreadCpuUs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}
const source = process.env['ATRIUM_DB_SRC'] ? resolve(process.env['ATRIUM_DB_SRC']) : new URL('../src', import.meta.url).pathname;
const { openDatabase } = (await import(pathToFileURL(join(source, 'index.ts')).href)) as typeof Db;

interface Slice {
  bytes: Uint8Array;
  digest: string;
}

interface Parsed {
  parsed: ParsedInstance;
  sopInstanceUid: string;
  size: number;
  digest: string;
}

/** Part 10 bytes only: a harness holding thousands of parsed data sets would make every major GC walk them. */
function slices(count: number, prefix: string): Slice[] {
  const out: Slice[] = [];
  for (let s = 0; out.length < count; s++) {
    const series = buildCtSeries({
      rows: 64,
      columns: 64,
      slices: Math.min(100, count - out.length),
      noiseHu: 0,
      seed: s + 1,
      patient: { patientId: `${prefix}-P${Math.floor(s / 2)}`, patientName: `${prefix}^Patient${Math.floor(s / 2) % 500}` },
      study: { accessionNumber: `${prefix}-A${s}` },
    });
    for (const slice of series.instances) {
      out.push({ bytes: (slice as unknown as { bytes: Uint8Array }).bytes, digest: out.length.toString(16).padStart(64, '0') });
    }
  }
  return out;
}

function parse(slice: Slice): Parsed {
  const reader = new Part10Reader({ bulkDataThreshold: 1024, bulkDataUri: (ref) => `bulk/${ref.path}` });
  reader.write(slice.bytes);
  const parsed = reader.end();
  const sopInstanceUid = parsed.dataset['00080018']!.Value![0] as string;
  return { parsed, sopInstanceUid, size: slice.bytes.byteLength, digest: slice.digest };
}

/** One commit as the ingest pipeline makes it for a C-STORE: the `n`th of its `tag`, with a staging id set. */
function commit(db: Db.AtriumDatabase, slice: Parsed, tag: string, n: number): Promise<unknown> {
  return db.archive.commitInstance({
    parsed: slice.parsed,
    blobKey: `dicom/${tag}/${slice.sopInstanceUid}-${slice.digest.slice(-8)}.dcm`,
    size: slice.size,
    digest: slice.digest,
    source: { kind: 'dimse', callingAeTitle: 'STORESCU' },
    duplicatePolicy: 'keep',
    stagingId: `staging-${tag}-${n}`,
  });
}

const sequential = slices(N, 'SEQ');
const parallel = slices(N, 'PAR');
/** Instances parsed ahead of each measured stretch of commits, as the pipeline would have them. */
const CHUNK = 250;

interface Measured {
  cpuUs: number;
  mainCpuUs: number;
  loopBusyUs: number;
  userUs: number;
  gcUs: number;
  rate: number;
}

/** Main-thread GC pauses, summed while commits are measured (part of them collects the parsing's garbage). */
let gcMs = 0;
let counting = false;
new PerformanceObserver((list) => {
  if (counting) for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ['gc'] });

async function phase(db: Db.AtriumDatabase, work: Slice[], inFlight: number, tag: string): Promise<Measured> {
  let user = 0;
  let system = 0;
  let main = 0;
  let busy = 0;
  let seconds = 0;
  const gcBefore = gcMs;
  for (let first = 0; first < work.length; first += CHUNK) {
    const chunk = work.slice(first, first + CHUNK).map(parse);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < chunk.length; i = next++) {
        const slice = chunk[i]!;
        if (FIND) await db.archive.findInstance(slice.sopInstanceUid);
        await commit(db, slice, tag, first + i);
      }
    };
    const cpu = process.cpuUsage();
    const mainBefore = mainThreadCpuUs();
    const loop = performance.eventLoopUtilization();
    const started = performance.now();
    counting = true;
    await Promise.all(Array.from({ length: inFlight }, worker));
    counting = false;
    seconds += (performance.now() - started) / 1000;
    busy += performance.eventLoopUtilization(loop).active * 1000;
    main += mainThreadCpuUs() - mainBefore;
    const used = process.cpuUsage(cpu);
    user += used.user;
    system += used.system;
  }
  // GC entries are delivered asynchronously: let the last ones arrive.
  await new Promise<void>((done) => setImmediate(done));
  return {
    cpuUs: (user + system) / work.length,
    mainCpuUs: main / work.length,
    loopBusyUs: busy / work.length,
    userUs: user / work.length,
    gcUs: ((gcMs - gcBefore) * 1000) / work.length,
    rate: work.length / seconds,
  };
}

/** CPU per findInstance of a stored instance (the pipeline's duplicate check before each commit), one at a time. */
async function lookups(db: Db.AtriumDatabase, uids: string[]): Promise<number> {
  const cpu = process.cpuUsage();
  for (let round = 0; round < 5; round++) {
    for (const uid of uids) if ((await db.archive.findInstance(uid)) === undefined) throw new Error(`'${uid}' is not stored`);
  }
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / (5 * uids.length);
}

/**
 * The pages that the commit of one more instance of a stored series writes to the WAL, counted by b-tree (`dbstat`
 * names them): the series' first instance is committed, a second connection checkpoints the WAL empty, then the
 * frames the second instance's commit appends are read back from the `-wal` file.
 */
async function walPagesOfOneCommit(db: Db.AtriumDatabase, path: string): Promise<Record<string, number>> {
  // The pipeline clears each intent once its bytes are in place; the phases above left theirs.
  await db.archive.clearBlobIntents((await db.archive.listBlobIntents()).map((intent) => intent.blobKey));
  const side = new Sqlite(path);
  try {
    for (const [i, slice] of slices(2, 'PAGES').map(parse).entries()) {
      if (i === 1) {
        const [checkpoint] = side.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
        if (checkpoint?.busy !== 0) throw new Error('Cannot empty the WAL: another connection is reading');
      }
      await commit(db, slice, 'pages', i);
    }
    const wal = readFileSync(`${path}-wal`);
    // WAL file format (https://sqlite.org/fileformat2.html#walformat): a 32-byte header with the page size at offset
    // 8, then frames of a 24-byte header, whose first field is the page number, and the page.
    const pageSize = wal.readUInt32BE(8);
    const rows = side.prepare('select pageno, name, pagetype from dbstat').all() as { pageno: number; name: string; pagetype: string }[];
    const trees = new Map(rows.map((r) => [r.pageno, `${r.name} (${r.pagetype})`]));
    const pages: Record<string, number> = {};
    for (let offset = 32; offset + 24 + pageSize <= wal.length; offset += 24 + pageSize) {
      const page = wal.readUInt32BE(offset);
      const tree = page === 1 ? 'database header' : (trees.get(page) ?? 'free page');
      pages[tree] = (pages[tree] ?? 0) + 1;
    }
    return pages;
  } finally {
    side.close();
  }
}

function report(m: Measured) {
  return {
    cpuUsPerCommit: Math.round(m.cpuUs),
    mainThreadCpuUsPerCommit: Math.round(m.mainCpuUs),
    eventLoopBusyUsPerCommit: Math.round(m.loopBusyUs),
    userUsPerCommit: Math.round(m.userUs),
    gcUsPerCommit: Math.round(m.gcUs),
    commitsPerSecond: Math.round(m.rate),
  };
}

for (let round = 0; round < ROUNDS; round++) {
  const dir = mkdtempSync(join(tmpdir(), 'atrium-measure-'));
  try {
    const db = await openDatabase({ kind: 'sqlite', path: join(dir, 'index.sqlite'), synchronous: SYNC, commitThread: COMMIT_THREAD });
    // A first few commits warm the statement caches and the JIT; not counted.
    const warm = slices(50, 'WARM');
    await phase(db, warm, 1, 'warm');
    const one = await phase(db, sequential, 1, 'seq');
    const four = await phase(db, parallel, 4, 'par');
    const find = await lookups(db, [...sequential, ...parallel].slice(0, 2000).map((slice) => parse(slice).sopInstanceUid));
    const pages = PAGES ? await walPagesOfOneCommit(db, join(dir, 'index.sqlite')) : undefined;
    const feed = await db.archive.readChangeFeed({ limit: 1 });
    if (feed.length === 0) throw new Error('Nothing was committed');
    await db.close();
    console.log(
      JSON.stringify({
        source,
        commitThread: db.commitThread !== undefined,
        find: FIND,
        sequential: report(one),
        inFlight4: report(four),
        findInstance: { cpuUsPerCall: Math.round(find) },
        ...(pages ? { walPagesOfOneCommit: pages } : {}),
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
