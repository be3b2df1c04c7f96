import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { IngestPipeline, IngestOutcome } from '../ingest/ingest-pipeline.js';
import { reasonOf } from '../errors.js';

export interface ImportFileResult {
  path: string;
  bytes: number;
  outcome: IngestOutcome | 'rejected';
  sopInstanceUid?: string;
  reason?: string;
  warnings: string[];
}

export interface ImportSummary {
  files: number;
  bytes: number;
  stored: number;
  replaced: number;
  duplicates: number;
  rejected: ImportFileResult[];
  seconds: number;
}

/** Every regular file under the given files and folders, depth first, in name order (stable across runs). */
export async function* walkFiles(paths: readonly string[]): AsyncGenerator<{ path: string; size: number }> {
  for (const p of paths) {
    const full = resolve(p);
    const info = await stat(full);
    if (info.isDirectory()) {
      const entries = (await readdir(full, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
      yield* walkFiles(entries.filter((e) => e.isDirectory() || e.isFile()).map((e) => join(full, e.name)));
    } else if (info.isFile()) {
      yield { path: full, size: info.size };
    }
  }
}

/**
 * Imports files through the ingest pipeline with a few files in flight (the pipeline waits on fsync and the index,
 * so a little concurrency keeps the disk busy). Each file is reported as it finishes; nothing stops at a bad file.
 */
export async function importFiles(
  ingest: IngestPipeline,
  paths: readonly string[],
  options: { concurrency?: number; onFile?: (result: ImportFileResult) => void } = {},
): Promise<ImportSummary> {
  const started = performance.now();
  const summary: ImportSummary = { files: 0, bytes: 0, stored: 0, replaced: 0, duplicates: 0, rejected: [], seconds: 0 };
  const files = walkFiles(paths);
  const concurrency = options.concurrency ?? 4;

  async function worker(): Promise<void> {
    for (;;) {
      const next = await files.next();
      if (next.done) return;
      const { path, size } = next.value;
      let result: ImportFileResult;
      try {
        const r = await ingest.ingest(createReadStream(path, { highWaterMark: 256 * 1024 }), { kind: 'import', origin: path });
        result = { path, bytes: size, outcome: r.outcome, sopInstanceUid: r.sopInstanceUid, warnings: r.warnings };
      } catch (error) {
        result = { path, bytes: size, outcome: 'rejected', reason: reasonOf(error), warnings: [] };
      }
      summary.files++;
      summary.bytes += size;
      if (result.outcome === 'stored') summary.stored++;
      else if (result.outcome === 'replaced') summary.replaced++;
      else if (result.outcome === 'rejected') summary.rejected.push(result);
      else summary.duplicates++;
      options.onFile?.(result);
    }
  }
  // The generator is shared: each worker pulls the next file, so no worker idles while others have a queue.
  await Promise.all(Array.from({ length: concurrency }, worker));
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}
