import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { buildCtSeries, type CtSeriesOptions, type SyntheticInstance } from '@atrium/dicom';
import { openTestArchive } from '../test-support.js';
import { startDimse, type DimseListener, type DimseServicesOptions } from './index.js';
import type { Archive } from '../main.js';

/** The data set of a Part 10 buffer, as C-STORE carries it: after the preamble, prefix and meta group. */
export function datasetOf(part10: Uint8Array): Buffer {
  const bytes = Buffer.from(part10.buffer, part10.byteOffset, part10.byteLength);
  const groupLength = bytes.readUInt32LE(140);
  return bytes.subarray(144 + groupLength);
}

/** A small CT series (64x64) for tests; distinct `accessionNumber`s make distinct studies. */
export function smallCtSeries(options: CtSeriesOptions = {}): readonly (SyntheticInstance & { bytes: Uint8Array })[] {
  const series = buildCtSeries({ rows: 64, columns: 64, slices: 3, noiseHu: 0, ...options });
  return series.instances.map((i) => i as SyntheticInstance & { bytes: Uint8Array });
}

export interface TestNode {
  archive: Archive & { cleanup(): Promise<void> };
  dimse: DimseListener;
  close(): Promise<void>;
}

/** An archive on a temporary directory with its DIMSE listener on a free loopback port. */
export async function startTestNode(env: Record<string, string> = {}, options: DimseServicesOptions = {}): Promise<TestNode> {
  const archive = await openTestArchive({ ATRIUM_DICOM_HOST: '127.0.0.1', ...env });
  const dimse = await startDimse(archive, options);
  if (!dimse) throw new Error('DIMSE is disabled in this configuration');
  return {
    archive,
    dimse,
    async close() {
      await dimse.close();
      await archive.cleanup();
    },
  };
}

const execFileAsync = promisify(execFile);
/** DCMTK keeps Nagle's algorithm on unless TCP_NODELAY=1 is in its environment: every exchange would stall. */
export const DCMTK_ENV = { ...process.env, TCP_NODELAY: '1' };

/** Runs a DCMTK (or other) command line tool; its exit code and everything it printed, whether it failed or not. */
export async function runTool(tool: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(tool, args, { env: DCMTK_ENV, timeout: 60_000, maxBuffer: 16 << 20 });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

/** A loopback port free at the time of the call, for a peer started by a test. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
