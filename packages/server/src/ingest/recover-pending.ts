import type { BlobStore } from '@atrium/store';
import type { ArchiveRepository } from '@atrium/db';
import type { Logger } from '../logger.js';
import { PENDING_PREFIX, parsePendingBlobKey } from './blob-key.js';

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
export async function recoverPending(store: BlobStore, archive: ArchiveRepository, logger: Logger): Promise<RecoveryReport> {
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
    const sopInstanceUid = /\/([^/]+)-[0-9a-f]{16}\.dcm$/.exec(pending.finalKey)?.[1];
    const indexed = sopInstanceUid ? await archive.findInstance(sopInstanceUid) : undefined;
    if (indexed && indexed.blobKey === pending.finalKey) {
      await store.rename(blob.key, pending.finalKey);
      report.completed.push(pending.finalKey);
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
