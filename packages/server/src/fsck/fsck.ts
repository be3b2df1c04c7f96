import { createHash } from 'node:crypto';
import type { BlobStore } from '@atrium/store';
import type { ArchiveRepository } from '@atrium/db';
import type { IngestPipeline } from '../ingest/ingest-pipeline.js';
import { INSTANCE_PREFIX } from '../ingest/blob-key.js';
import { ownerAlive } from '../ingest/recover-blob-intents.js';
import { reasonOf } from '../errors.js';

export interface FsckOptions {
  /** Re-read every blob and compare its SHA-256 with the index (slow: reads the whole archive). */
  verifyDigests?: boolean;
  /** Fix what can be fixed without losing data; see `FsckReport.repairs`. */
  repair?: boolean;
  onProgress?: (checked: number) => void;
}

export interface FsckProblem {
  kind: 'missing-blob' | 'size-mismatch' | 'digest-mismatch' | 'orphan-blob' | 'unfinished-commit';
  key: string;
  sopInstanceUid?: string;
  detail: string;
}

export interface FsckReport {
  instancesChecked: number;
  blobsChecked: number;
  problems: FsckProblem[];
  repairs: string[];
  clean: boolean;
}

/** Quarantined blobs are kept, not deleted: an administrator decides. */
const QUARANTINE_PREFIX = 'quarantine/';

/**
 * Proves that the index and the blob store agree: every indexed instance has its blob with the recorded size (and
 * digest when asked), and every blob under `dicom/` is indexed. With `repair`: an orphan blob that parses is
 * indexed (it was received whole but a crash came before its index commit), one superseded by another copy or
 * unreadable is moved to `quarantine/`; an index row whose blob is gone is removed, and said loudly. Size and
 * digest mismatches are reported, never "repaired": the stored bytes may be the only copy.
 */
export async function fsck(
  deps: { store: BlobStore; archive: ArchiveRepository; ingest: IngestPipeline },
  options: FsckOptions = {},
): Promise<FsckReport> {
  const { store, archive, ingest } = deps;
  const problems: FsckProblem[] = [];
  const repairs: string[] = [];
  // Intents this process cleared but had not yet written are not problems.
  await ingest.flush();
  const indexedKeys = new Set<string>();
  let instancesChecked = 0;

  for await (const row of archive.listInstanceBlobs()) {
    instancesChecked++;
    indexedKeys.add(row.blobKey);
    options.onProgress?.(instancesChecked);
    const head = await store.head(row.blobKey);
    if (!head) {
      problems.push({ kind: 'missing-blob', key: row.blobKey, sopInstanceUid: row.sopInstanceUid, detail: 'blob is missing' });
      if (options.repair) {
        await archive.deleteInstance(row.sopInstanceUid);
        repairs.push(`Removed index entry of instance '${row.sopInstanceUid}': its blob '${row.blobKey}' is missing`);
      }
      continue;
    }
    if (head.size !== row.size) {
      problems.push({
        kind: 'size-mismatch',
        key: row.blobKey,
        sopInstanceUid: row.sopInstanceUid,
        detail: `blob has ${head.size} bytes, index says ${row.size}`,
      });
      continue;
    }
    if (options.verifyDigests) {
      const hash = createHash('sha256');
      for await (const chunk of await store.get(row.blobKey)) hash.update(chunk as Uint8Array);
      const digest = hash.digest('hex');
      if (digest !== row.digest) {
        problems.push({
          kind: 'digest-mismatch',
          key: row.blobKey,
          sopInstanceUid: row.sopInstanceUid,
          detail: `SHA-256 is ${digest}, index says ${row.digest}`,
        });
      }
    }
  }

  let blobsChecked = 0;
  for await (const blob of store.list(INSTANCE_PREFIX)) {
    blobsChecked++;
    if (indexedKeys.has(blob.key)) continue;
    problems.push({ kind: 'orphan-blob', key: blob.key, detail: `${blob.size} bytes not in the index` });
    if (!options.repair) continue;
    try {
      const result = await ingest.reindex(blob.key);
      if (result.outcome === 'kept-existing') {
        await store.rename(blob.key, QUARANTINE_PREFIX + blob.key);
        repairs.push(`Quarantined '${blob.key}': instance '${result.sopInstanceUid}' is indexed with another blob`);
      } else {
        repairs.push(`Indexed '${blob.key}' as instance '${result.sopInstanceUid}'`);
      }
    } catch (error) {
      await store.rename(blob.key, QUARANTINE_PREFIX + blob.key);
      repairs.push(`Quarantined '${blob.key}': ${reasonOf(error)}`);
    }
  }
  for (const intent of await archive.listBlobIntents()) {
    if (ownerAlive(intent.owner, true)) continue; // in flight
    if (indexedKeys.has(intent.blobKey) && intent.action === 'publish' && !(await store.head(intent.blobKey))) {
      problems.push({
        kind: 'unfinished-commit',
        key: intent.blobKey,
        sopInstanceUid: intent.sopInstanceUid,
        detail: `committed by ${intent.owner}, which stopped before moving it into place (recovered at the next start)`,
      });
    }
  }

  return { instancesChecked, blobsChecked, problems, repairs, clean: problems.length === 0 };
}
