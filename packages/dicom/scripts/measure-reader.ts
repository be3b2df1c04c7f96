// CPU per instance of the streaming Part 10 reader on small CT slices (the C-STORE ingest case).
//   npx tsc -b packages/dicom && node --import tsx packages/dicom/scripts/measure-reader.ts [options]
// Not a `npm run bench` script (those print ratios against a peer measured in the same run): a tool for measuring a
// change to the reader against an older build (`--baseline`).
// It reads the built package (dist), as the server runs it: tsx's transpiled source is slower in other places.
//     --dir <folder>        read the instances from a folder instead of generating them
//     --count <n>           instances to generate (default 2000: 20 series of 100 slices, 64 x 64)
//     --transfer-syntax <uid>  of the generated instances (default Explicit VR Little Endian)
//     --chunks <n>          chunks per instance (default 1; the bytes are cut at equal distances)
//     --rounds <n>          measured rounds per reader (default 15; the median is reported)
//     --baseline <module>   a module exporting another Part10Reader (an older build's dist/index.js): both are
//                           measured in the same process, rounds alternating, after checking they give the same output
// Run it on a quiet machine, or compare against --baseline: on shared cores one run's absolute figure means little.
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Part10Reader } from '@atrium/dicom';

interface Reader {
  write(chunk: Uint8Array): void;
  end(): unknown;
}
type ReaderClass = new (options: { bulkDataThreshold: number }) => Reader;

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    count: { type: 'string', default: '2000' },
    'transfer-syntax': { type: 'string' },
    chunks: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '15' },
    baseline: { type: 'string' },
  },
});

/**
 * The instances, made in a worker: made here, the builder's garbage and type feedback slowed the reader of the
 * build that made them, so that two identical builds compared 0.95-0.98 instead of 1.00.
 */
async function generate(count: number, transferSyntaxUid: string | undefined): Promise<Uint8Array[]> {
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.url).then(({ buildCtSeries }) => {
      const out = [];
      for (let s = 0; out.length < workerData.count; s++) {
        const series = buildCtSeries({
          rows: 64,
          columns: 64,
          slices: Math.min(100, workerData.count - out.length),
          noiseHu: 0,
          seed: s + 1,
          patient: { patientId: 'BENCH-P' + Math.floor(s / 2), patientName: 'BENCH^Patient' + (Math.floor(s / 2) % 500) },
          study: { accessionNumber: 'BENCH-A' + s },
          transferSyntaxUid: workerData.transferSyntaxUid,
        });
        for (const slice of series.instances) out.push(slice.bytes);
      }
      parentPort.postMessage(out);
    });
    `,
    { eval: true, workerData: { url: import.meta.resolve('@atrium/dicom'), count, transferSyntaxUid } },
  );
  const [instances] = (await once(worker, 'message')) as [Uint8Array[]];
  await worker.terminate();
  return instances;
}

function split(bytes: Uint8Array, chunks: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let k = 0; k < chunks; k++) {
    out.push(bytes.subarray(Math.floor((k * bytes.length) / chunks), Math.floor(((k + 1) * bytes.length) / chunks)));
  }
  return out;
}

function read(Reader: ReaderClass, chunks: readonly Uint8Array[]): unknown {
  const reader = new Reader({ bulkDataThreshold: 1024 });
  for (const chunk of chunks) reader.write(chunk);
  return reader.end();
}

/** CPU microseconds per instance of one pass over every instance. */
function round(Reader: ReaderClass, instances: readonly (readonly Uint8Array[])[]): number {
  const started = process.cpuUsage();
  for (const chunks of instances) read(Reader, chunks);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / instances.length;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const files = args.dir
  ? readdirSync(args.dir).sort().map((name) => new Uint8Array(readFileSync(join(args.dir!, name))))
  : await generate(Number(args.count), args['transfer-syntax']);
const chunkCount = Number(args.chunks);
const instances = files.map((bytes) => split(bytes, chunkCount));
const readers: [string, ReaderClass][] = [['current', Part10Reader as unknown as ReaderClass]];
if (args.baseline) {
  const baseline = (await import(pathToFileURL(resolve(args.baseline)).href)) as { Part10Reader: ReaderClass };
  readers.unshift(['baseline', baseline.Part10Reader]);
  // A faster reader that reads differently is no use: every instance must give the same JSON, keys in the same order.
  for (const chunks of instances) {
    const expected = JSON.stringify(read(baseline.Part10Reader, chunks));
    if (JSON.stringify(read(Part10Reader as unknown as ReaderClass, chunks)) !== expected) {
      throw new Error('Cannot compare readers: the current reader gives another result than the baseline');
    }
  }
}

const meanBytes = files.reduce((sum, f) => sum + f.length, 0) / files.length;
console.log(`${files.length} instances of ${Math.round(meanBytes)} bytes on average, ${chunkCount} chunk(s) each`);
for (let warm = 0; warm < 5; warm++) for (const [, Reader] of readers) round(Reader, instances);
const samples = new Map<string, number[]>(readers.map(([name]) => [name, []]));
const rounds = Number(args.rounds);
for (let r = 0; r < rounds; r++) {
  // Alternating order, so that neither reader always runs right after the other's garbage.
  const order = r % 2 ? [...readers].reverse() : readers;
  for (const [name, Reader] of order) samples.get(name)!.push(round(Reader, instances));
}
for (const [name, values] of samples) {
  const sorted = [...values].sort((a, b) => a - b);
  console.log(
    `${name.padEnd(8)} median ${median(values).toFixed(1)} µs/instance (min ${sorted[0]!.toFixed(1)}, max ${sorted[sorted.length - 1]!.toFixed(1)})`,
  );
}
if (samples.has('baseline')) {
  // Each round's two readers ran one after the other, under the same load: the median of their ratios is steadier
  // than the ratio of medians when other processes come and go.
  const baseline = samples.get('baseline')!;
  const current = samples.get('current')!;
  const paired = median(baseline.map((b, r) => b / current[r]!));
  console.log(`ratio baseline/current ${(median(baseline) / median(current)).toFixed(2)} (of medians), ${paired.toFixed(3)} (median of rounds)`);
}
