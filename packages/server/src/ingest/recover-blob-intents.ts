import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { processAlive, type BlobStore } from '@atrium/store';
import type { ArchiveRepository, BlobIntent } from '@atrium/db';
import type { Logger } from '../logger.js';

export interface RecoveryReport {
  /** Staged bytes moved to their key: the index commit had happened, the rename had not. */
  published: string[];
  /**
   * Index entries removed because their staged bytes were gone or incomplete (a power cut before their flush
   * finished): never acknowledged, so nothing is lost.
   */
  removed: string[];
  /** Superseded blobs deleted. */
  deleted: string[];
  /** Intents of processes still running, left alone. */
  skipped: string[];
}

/**
 * Whether the process that wrote an intent may still be working on it. At start-up this process's own pid can only
 * be a previous process's (pids are reused), so `selfIsAlive` is false there and true everywhere else.
 */
export function ownerAlive(owner: string, selfIsAlive: boolean): boolean {
  const [host, pidText] = owner.split(':');
  const pid = Number(pidText);
  // Another host's process cannot be checked from here; its own recovery handles it.
  if (host !== hostname()) return true;
  if (pid === process.pid) return selfIsAlive;
  return processAlive(pid);
}

/**
 * Finishes the blob work that index commits promised (see `IngestPipeline`): a crash between an index commit and
 * the rename of its staged bytes leaves a `publish` intent, done here; a replaced blob not yet deleted leaves a
 * `delete` intent. Runs at start-up, before stale staging files are cleaned, so the staged bytes are still there.
 */
export async function recoverBlobIntents(store: BlobStore, archive: ArchiveRepository, logger: Logger): Promise<RecoveryReport> {
  const report: RecoveryReport = { published: [], removed: [], deleted: [], skipped: [] };
  const done: string[] = [];
  for (const intent of await archive.listBlobIntents()) {
    if (ownerAlive(intent.owner, false)) {
      report.skipped.push(intent.blobKey);
      continue;
    }
    await recoverOne(store, archive, intent, report);
    done.push(intent.blobKey);
  }
  // The renames redone here, and those a crash left unflushed, become durable before their intents go.
  await store.sync(done);
  await archive.clearBlobIntents(done);
  if (report.published.length || report.removed.length || report.deleted.length) {
    logger.warn(
      { published: report.published.length, removed: report.removed, deleted: report.deleted.length },
      'Finished blob work interrupted by a crash',
    );
  }
  return report;
}

async function recoverOne(store: BlobStore, archive: ArchiveRepository, intent: BlobIntent, report: RecoveryReport): Promise<void> {
  const indexed = await archive.findInstance(intent.sopInstanceUid);
  if (intent.action === 'delete') {
    if (indexed?.blobKey !== intent.blobKey && (await store.delete(intent.blobKey))) report.deleted.push(intent.blobKey);
    return;
  }
  const staged = intent.stagingId ? await store.resumeStaged(intent.stagingId) : undefined;
  // Replaced or deleted since, or already moved: nothing to publish, and bytes still staged are superseded (left,
  // `recoverStagedInstances` would ingest them again).
  if (indexed?.blobKey !== intent.blobKey || (await store.head(intent.blobKey))) {
    await staged?.discard();
    return;
  }
  if (staged && staged.size === indexed.size) {
    await staged.commit(intent.blobKey);
    // The index commit may have outlived the flush of the staged bytes (the two overlap): publish only whole bytes.
    if ((await digestOf(store, intent.blobKey)) === indexed.digest) {
      report.published.push(intent.blobKey);
      return;
    }
    await store.delete(intent.blobKey);
  } else if (staged) {
    await staged.discard();
  }
  await archive.deleteInstance(intent.sopInstanceUid);
  report.removed.push(intent.sopInstanceUid);
}

async function digestOf(store: BlobStore, key: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await store.get(key)) hash.update(chunk as Uint8Array);
  return hash.digest('hex');
}
