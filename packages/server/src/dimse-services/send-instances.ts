import type { Readable } from 'node:stream';
import {
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from '@atrium/dicom';
import {
  cStore,
  DimseStatusError,
  Status,
  statusKind,
  type Association,
  type MoveOriginator,
  type ProposedContext,
  type SubOperationProgress,
} from '@atrium/dimse';
import type { Archive } from '../main.js';
import type { RemoteAeConfig } from '../config/config.js';
import type { StoredInstanceRef } from '../retrieve/index.js';
import { reasonOf } from '../errors.js';
import { connectToRemote } from './connect-remote.js';
import type { DimseTranscoder } from './transcoding.js';

const UNCOMPRESSED = [ExplicitVrLittleEndian, ImplicitVrLittleEndian];
/** PS3.8 §9.3.2.2: presentation context IDs are odd numbers 1-255, so 128 contexts per association. */
const MAX_CONTEXTS = 128;

export interface SendOptions {
  /** Set for C-MOVE sub-operations (PS3.7 §9.1.1.1.7). */
  moveOriginator?: MoveOriginator | undefined;
  /** Stop after the current sub-operation (C-CANCEL, or the caller gave up). */
  signal?: AbortSignal | undefined;
  transcoder?: DimseTranscoder | undefined;
}

/** Progress with the reason of the first failure, for the final response's error comment. */
export type SendProgress = SubOperationProgress & { failedSopInstanceUids: string[]; failures: { sopInstanceUid: string; reason: string }[] };

/**
 * The presentation contexts for a set of instances: per SOP class one context per stored syntax, plus an
 * uncompressed fallback when any of them is compressed (used through the transcoder when the peer refuses the
 * stored one). Split into groups of at most 128 contexts, one association each.
 */
export function planContexts(refs: readonly Pick<StoredInstanceRef, 'sopClassUid' | 'transferSyntaxUid'>[]): ProposedContext[][] {
  const byClass = new Map<string, Set<string>>();
  for (const ref of refs) {
    let set = byClass.get(ref.sopClassUid);
    if (!set) byClass.set(ref.sopClassUid, (set = new Set()));
    set.add(ref.transferSyntaxUid);
  }
  const groups: ProposedContext[][] = [];
  let current: ProposedContext[] = [];
  for (const [sopClassUid, syntaxes] of byClass) {
    const contexts: ProposedContext[] = [...syntaxes].map((ts) => ({ abstractSyntaxUid: sopClassUid, transferSyntaxUids: [ts] }));
    if ([...syntaxes].some((ts) => !UNCOMPRESSED.includes(ts))) {
      contexts.push({ abstractSyntaxUid: sopClassUid, transferSyntaxUids: UNCOMPRESSED });
    }
    if (current.length + contexts.length > MAX_CONTEXTS && current.length > 0) {
      groups.push(current);
      current = [];
    }
    current.push(...contexts.slice(0, MAX_CONTEXTS));
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/**
 * Sends stored instances to a remote AE as C-STORE sub-operations (PS3.4 C.4.2.3 for C-MOVE; `atrium send`),
 * yielding the counts after each. Each instance goes in its stored syntax when the peer accepted a context for it,
 * else converted by the transcoder to a syntax the peer accepted; with no transcoder it fails with a reason naming
 * both syntaxes. Small instances sent as stored are read a few ahead while earlier ones are sent (`storedInOrder`);
 * larger ones stream from the blob store in pooled chunks (`RetrieveService.streamDataset`), so memory stays bounded
 * whatever the study size. Throws a `DimseStatusError` A702 when the destination cannot be reached at all.
 */
export async function* sendInstances(
  archive: Pick<Archive, 'config' | 'retrieve' | 'logger'> & Partial<Pick<Archive, 'store'>>,
  destination: Pick<RemoteAeConfig, 'aeTitle' | 'host' | 'port' | 'tls'>,
  refs: readonly StoredInstanceRef[],
  options: SendOptions = {},
): AsyncGenerator<SendProgress> {
  const progress: SendProgress = { remaining: refs.length, completed: 0, failed: 0, warning: 0, failedSopInstanceUids: [], failures: [] };
  if (refs.length === 0) return;
  yield { ...progress };
  const fail = (ref: StoredInstanceRef, reason: string) => {
    progress.failed++;
    progress.failedSopInstanceUids.push(ref.sopInstanceUid);
    progress.failures.push({ sopInstanceUid: ref.sopInstanceUid, reason });
    progress.errorComment ??= reason.slice(0, 64);
  };
  for (const contexts of planContexts(refs)) {
    const classes = new Set(contexts.map((c) => c.abstractSyntaxUid));
    const batch = refs.filter((r) => classes.has(r.sopClassUid));
    let association: Association;
    try {
      association = await connectToRemote(archive, destination, { presentationContexts: contexts });
    } catch (error) {
      if (progress.completed + progress.warning + progress.failed === 0) {
        throw new DimseStatusError(
          `Cannot send to '${destination.aeTitle}' at ${destination.host}:${destination.port}: ${reasonOf(error)}`,
          Status.OutOfResourcesSubOperations,
          { errorComment: `Cannot reach ${destination.aeTitle}`.slice(0, 64), cause: error },
        );
      }
      for (const ref of batch) fail(ref, `Cannot reach ${destination.aeTitle}: ${reasonOf(error)}`);
      progress.remaining -= batch.length;
      yield { ...progress };
      continue;
    }
    const asStored = (ref: StoredInstanceRef) => association.findContext(ref.sopClassUid, [ref.transferSyntaxUid]) !== undefined;
    try {
      for await (const { ref, bytes, error: readError } of storedInOrder(archive, batch, asStored, {
        // Pooled buffers only when they can be given back: one never recycled is a pool miss for the next read.
        reusable: archive.store?.recycle !== undefined,
      })) {
        if (options.signal?.aborted || association.state !== 'established') break;
        try {
          if (readError) throw readError;
          const status = await storeOne(archive, association, ref, bytes, options);
          if (statusKind(status) === 'warning') progress.warning++;
          else progress.completed++;
        } catch (error) {
          archive.logger.warn({ sopInstanceUid: ref.sopInstanceUid, destination: destination.aeTitle, err: error }, 'C-STORE sub-operation failed');
          fail(ref, subOperationReason(error));
        }
        progress.remaining--;
        yield { ...progress, failedSopInstanceUids: [...progress.failedSopInstanceUids] };
      }
    } finally {
      if (association.state === 'established') await association.release().catch(() => association.abort());
      else association.abort();
    }
    if (options.signal?.aborted) return;
  }
}

function subOperationReason(error: unknown): string {
  const e = error as { errorComment?: unknown };
  return typeof e?.errorComment === 'string' && e.errorComment ? e.errorComment : reasonOf(error);
}

/** One instance of `storedInOrder`: its data set when it was read ahead, or why reading it failed. */
export interface StoredDataset<T> {
  ref: T;
  bytes: Buffer | undefined;
  error?: unknown;
}

/**
 * `refs` in their order, the data sets of small ones that `asStored` accepts read ahead into buffers of the store's
 * pool when `reusable` (`RetrieveService.withStoredBytes`, form 'dataset'); give each back with `store.recycle`
 * once nothing will read it again. The read-ahead throws when it reaches an instance whose read failed (a blob gone
 * from the store), which ends it: that instance is yielded with the error, as its sub-operation's failure, and the
 * read-ahead starts again after it, so one missing blob does not fail the instances behind it. What the ended
 * read-ahead had read is left to the collector, not recycled.
 */
export async function* storedInOrder<T extends StoredInstanceRef>(
  archive: Pick<Archive, 'retrieve'>,
  refs: readonly T[],
  asStored: (ref: T) => boolean,
  options: { reusable: boolean },
): AsyncGenerator<StoredDataset<T>> {
  let next = 0;
  while (next < refs.length) {
    try {
      for await (const { item, bytes } of archive.retrieve.withStoredBytes(refs.slice(next), { form: 'dataset', wanted: asStored, reusable: options.reusable })) {
        next++;
        yield { ref: item, bytes };
      }
      return;
    } catch (error) {
      // Thrown by the read-ahead, not by the consumer (its errors do not reach a generator suspended at `yield`).
      if (next >= refs.length) throw error;
      yield { ref: refs[next]!, bytes: undefined, error };
      next++;
    }
  }
}

async function storeOne(
  archive: Pick<Archive, 'retrieve'> & Partial<Pick<Archive, 'store'>>,
  association: Association,
  ref: StoredInstanceRef,
  bytes: Buffer | undefined,
  options: SendOptions,
): Promise<number> {
  let transferSyntaxUid = ref.transferSyntaxUid;
  let dataset: Buffer | AsyncIterable<Buffer>;
  // Whether `bytes` may be in a write still: from when cStore has it until its answer arrives.
  let inFlight = false;
  try {
    if (association.findContext(ref.sopClassUid, [ref.transferSyntaxUid])) {
      dataset = bytes ?? (await archive.retrieve.streamDataset(ref));
    } else {
      const accepted = [...association.presentationContexts.values()]
        .filter((c) => c.abstractSyntaxUid === ref.sopClassUid)
        .map((c) => c.transferSyntaxUid);
      if (accepted.length === 0) {
        throw new DimseStatusError(
          `Cannot send instance '${ref.sopInstanceUid}': the peer accepted no context for SOP class '${ref.sopClassUid}'`,
          Status.SopClassNotSupported,
          { errorComment: `Peer refused SOP class ${ref.sopClassUid}` },
        );
      }
      if (!options.transcoder) {
        throw new DimseStatusError(
          `Cannot send instance '${ref.sopInstanceUid}': it is stored as '${ref.transferSyntaxUid}', the peer accepts only '${accepted.join("', '")}' and no transcoder is available`,
          Status.UnableToProcess,
          { errorComment: `Stored syntax ${ref.transferSyntaxUid} not accepted` },
        );
      }
      const converted = await options.transcoder.transcode(ref, accepted, { form: 'dataset', measure: false });
      transferSyntaxUid = converted.transferSyntaxUid;
      dataset = converted.stream;
    }
    inFlight = dataset === bytes;
    try {
      const result = await cStore(association, {
        sopClassUid: ref.sopClassUid,
        sopInstanceUid: ref.sopInstanceUid,
        transferSyntaxUid,
        dataset,
        ...(options.moveOriginator ? { moveOriginator: options.moveOriginator } : {}),
      });
      inFlight = false;
      return result.status;
    } catch (error) {
      // A failure status is an answer, so the request was written whole first; an association that ended may
      // still hold the buffer in a write, and then it is left to the collector.
      if (error instanceof DimseStatusError) inFlight = false;
      throw error;
    } finally {
      // A store that failed midway leaves the converted stream, or the stored chunks' next read, open; a finished
      // one is already closed.
      if (dataset !== bytes) {
        const open = dataset as Partial<Readable> & Partial<AsyncGenerator<Buffer>>;
        if (open.destroy) open.destroy();
        else await open.return?.(undefined);
      }
    }
  } finally {
    if (bytes && !inFlight) archive.store?.recycle?.(bytes);
  }
}
