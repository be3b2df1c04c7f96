import type { BlobStore } from '@atrium/store';
import type { ArchiveRepository } from '@atrium/db';
import type { Logger } from '../logger.js';
import { PENDING_PREFIX, parsePendingBlobKey, finalKeyHash } from './blob-key.js';
import type { IngestPipeline } from './ingest-pipeline.js';

export interface RecoveryReport {
  completed: string[];
  discarded: string[];
  skipped: string[];
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Finishes what a crashed ingest left between its steps (see `IngestPipeline`): a pending blob whose instance the
 * index already names is moved to its final key (the index commit happened, so the sender may have been told
 * "stored"); one the index does not name is discarded (the sender was never told anything). Pending blobs of a
 * process that is still running are in flight and left alone.
 */
export async function recoverPending(
  store: BlobStore,
  archive: ArchiveRepository,
  ingest: IngestPipeline,
  logger: Logger,
): Promise<RecoveryReport> {
  const report: RecoveryReport = { completed: [], discarded: [], skipped: [] };
  for await (const blob of store.list(PENDING_PREFIX)) {
    const pending = parsePendingBlobKey(blob.key);
    if (!pending) {
      report.skipped.push(blob.key);
      continue;
    }
    if (processAlive(pending.pid)) {
      report.skipped.push(blob.key);
      continue;
    }
    // The blob is a whole, fsync'd Part 10 file: its header says which instance it is.
    const sopInstanceUid = await ingest.identify(blob.key).catch(() => undefined);
    const indexed = sopInstanceUid ? await archive.findInstance(sopInstanceUid) : undefined;
    if (indexed && finalKeyHash(indexed.blobKey) === pending.finalKeyHash && !(await store.head(indexed.blobKey))) {
      await store.rename(blob.key, indexed.blobKey);
      report.completed.push(indexed.blobKey);
    } else {
      await store.delete(blob.key);
      report.discarded.push(blob.key);
    }
  }
  if (report.completed.length || report.discarded.length) {
    logger.warn(
      { completed: report.completed.length, discarded: report.discarded.length },
      'Recovered ingests interrupted by a crash',
    );
  }
  return report;
}
