import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  Part10Reader,
  type ParsedInstance,
  type DataDictionary,
  type BulkDataRef,
  DicomLimitError,
  encodePart10Prefix,
  encodeFileMetaInformation,
} from '@atrium/dicom';
import type { BlobStore, StagedBlob } from '@atrium/store';
import { DuplicateInstanceError, type ArchiveRepository } from '@atrium/db';
import type { AtriumConfig } from '../config/config.js';
import type { Logger } from '../logger.js';
import { IngestRejectedError } from '../errors.js';
import { instanceBlobKey } from './blob-key.js';
import { datasetDigest } from './dataset-digest.js';
import { IntentClearer } from './intent-clearer.js';
import { validateInstance, type InstanceIdentity } from './validate-instance.js';

/** Bytes in: a stream, or any (async) iterable of chunks. */
export type ByteSource = Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export type IngestSourceKind = 'import' | 'dimse' | 'stow' | 'demo';

export interface IngestSource {
  kind: IngestSourceKind;
  callingAeTitle?: string;
  /** For logs and summaries: a file path, a peer address. */
  origin?: string;
  /**
   * The study the instance must belong to (STOW-RS to `/studies/{study}`, PS3.18 §10.5.1.2): an instance of
   * another study is refused before anything is stored or replaced.
   */
  studyInstanceUid?: string;
}

export type IngestOutcome = 'stored' | 'identical' | 'kept-existing' | 'replaced';

export interface IngestResult {
  outcome: IngestOutcome;
  sopInstanceUid: string;
  sopClassUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  transferSyntaxUid: string;
  size: number;
  digest: string;
  warnings: string[];
}

/** What a DIMSE C-STORE request says about the data set it carries (PS3.7 §9.1.1). */
export interface DatasetDescription {
  transferSyntaxUid: string;
  sopClassUid: string;
  sopInstanceUid: string;
}

export interface IngestDependencies {
  config: Pick<AtriumConfig, 'ingest'>;
  store: BlobStore;
  archive: ArchiveRepository;
  dictionary: DataDictionary;
  logger: Logger;
}

/**
 * The one ingest pipeline (architecture.md, shared paths) shared by C-STORE, STOW-RS, import and demo:
 *
 *   stream in ─┬─> staging blob (temporary name, fsync)  ─> validate ─> index commit + blob intent ─> rename into place
 *              ├─> SHA-256
 *              └─> streaming Part 10 reader (header, bulk and frame offsets; pixel data skipped, never held)
 *
 * Crash safety: success is answered once the staged bytes are flushed (their name was made durable when the staging
 * file was created) and the index transaction is committed; that transaction also records a blob intent naming the
 * staged bytes and their key. The index flush follows, shared by the commits of its time (group commit), and only
 * then are the bytes renamed into place; until then the store serves the key from the staged bytes. The directory
 * holding the renamed object is flushed later, for a batch of instances at once, before their intents are cleared.
 * So after a crash or a power cut an acknowledged instance is either indexed with an intent that
 * `recoverBlobIntents` finishes, or, when its commit was among the last writes the index had not flushed, its bytes
 * are still staged and `recoverStagedInstances` ingests them again. On each instance's path: one file flush
 * overlapping the index commit; the index flush, the rename and the directory flush are off it.
 */
export class IngestPipeline {
  private readonly intents: IntentClearer;
  /** Moves of answered instances to their keys, waiting for their index flush (`#publishWhenDurable`). */
  readonly #publishing = new Set<Promise<void>>();
  /** SOP instances committed whose bytes are still being flushed, with those flushes (`#settle`). */
  readonly #settling = new Map<string, Set<Promise<void>>>();

  constructor(private readonly deps: IngestDependencies) {
    this.intents = new IntentClearer(deps.archive, deps.store, deps.logger);
  }

  /** Finishes the moves still waiting for their index flush and confirms their intents; call before closing. */
  async flush(): Promise<void> {
    while (this.#publishing.size > 0) await Promise.all(this.#publishing);
    await this.intents.flush();
  }

  /**
   * Ingests a Part 10 file (import, STOW-RS, demo). An array of chunks is the whole object already in memory: it is
   * staged in one write, without a stream (`runWhole`).
   */
  async ingest(stream: ByteSource, source: IngestSource): Promise<IngestResult> {
    return isWhole(stream) ? this.runWhole(stream, undefined, source) : this.run(stream, undefined, source);
  }

  /**
   * Ingests a bare data set as C-STORE delivers it: Atrium stores Part 10 files, so a file meta header made from
   * the request's SOP class, instance and transfer syntax (and the sender's AE title, PS3.10 §7.1) goes first;
   * the data set's bytes follow unchanged. An array of chunks is the whole data set, as DIMSE collects a short
   * one.
   */
  async ingestDataset(
    stream: ByteSource,
    description: DatasetDescription,
    source: IngestSource,
  ): Promise<IngestResult> {
    const header = Buffer.concat([
      encodePart10Prefix(),
      encodeFileMetaInformation({
        mediaStorageSopClassUid: description.sopClassUid,
        mediaStorageSopInstanceUid: description.sopInstanceUid,
        transferSyntaxUid: description.transferSyntaxUid,
        ...(source.callingAeTitle ? { sourceApplicationEntityTitle: source.callingAeTitle } : {}),
      }),
    ]);
    return isWhole(stream) ? this.runWhole(stream, header, source) : this.run(stream, header, source);
  }

  /** A streamed object: parsed and hashed on its way into staging, so memory stays bounded whatever its size. */
  private async run(
    stream: ByteSource,
    header: Uint8Array | undefined,
    source: IngestSource,
  ): Promise<IngestResult> {
    const { store, config } = this.deps;
    const maxBytes = config.ingest.maxObjectBytes;
    const hash = createHash('sha256');
    const reader = this.createReader();
    let size = 0;

    async function* withHeader(): AsyncGenerator<Uint8Array> {
      if (header) yield header;
      yield* stream as AsyncIterable<Uint8Array>;
    }
    async function* observe(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      for await (const chunk of input) {
        size += chunk.byteLength;
        if (size > maxBytes) throw tooLarge(maxBytes);
        hash.update(chunk);
        reader.write(chunk);
        yield chunk;
      }
    }

    const staged = await store.stage(observe(withHeader()), { maxBytes });
    // The flush overlaps validation and the index commit; the rename into place waits for it. Recovery checks the
    // digest of staged bytes it publishes, so an index commit that outlives an unfinished flush loses nothing.
    staged.flush().catch(() => undefined);
    return this.afterStaging(staged, source, () => ({ parsed: reader.end(), digest: hash.digest('hex'), size }), (checked) =>
      staged.read().then((stream) => datasetDigest(stream, checked.parsed.datasetOffset)),
    );
  }

  /**
   * An object whose bytes are all in memory (at most what DIMSE collects, or what a caller chose to hold): staged in
   * one write and its flush started before anything else, because that flush is what its answer waits for longest
   * (about a millisecond on a busy virtual disk); parsing, checks and the index commit overlap it. A refused or
   * duplicate object is discarded again.
   */
  private async runWhole(chunks: readonly Uint8Array[], header: Uint8Array | undefined, source: IngestSource): Promise<IngestResult> {
    const maxBytes = this.deps.config.ingest.maxObjectBytes;
    const bytes = header ? [header, ...chunks] : chunks;
    let size = 0;
    for (const chunk of bytes) size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge(maxBytes);
    const staged = await this.deps.store.stage(bytes, { maxBytes });
    staged.flush().catch(() => undefined);
    const parse = () => {
      const hash = createHash('sha256');
      const reader = this.createReader();
      for (const chunk of bytes) {
        hash.update(chunk);
        reader.write(chunk);
      }
      return { parsed: reader.end(), digest: hash.digest('hex'), size };
    };
    return this.afterStaging(staged, source, parse, (checked) => datasetDigest(bytes, checked.parsed.datasetOffset));
  }

  /**
   * What both paths do once the bytes are staged: the checks, the duplicate decision and the commit. Whatever ends
   * the ingest before the commit discards the staged bytes.
   */
  private async afterStaging(
    staged: StagedBlob,
    source: IngestSource,
    parse: () => { parsed: ParsedInstance; digest: string; size: number },
    incomingDatasetDigest: (checked: Checked) => Promise<string | undefined>,
  ): Promise<IngestResult> {
    let checked: Checked;
    let decided: IngestResult | undefined;
    try {
      const { parsed, digest, size } = parse();
      checked = this.check(parsed, digest, size, source);
      const known = checked;
      // Under 'keep' and 'reject' the commit decides about a stored copy without writing, and a copy that differs
      // only in its file meta information is recognised after it (`commit`): no lookup of its own for the many
      // instances that are new. 'replace' must know before its commit replaces a copy that is in fact the same.
      if (this.deps.config.ingest.duplicatePolicy === 'replace') {
        const existing = await this.deps.archive.findInstance(checked.uids.sopInstanceUid);
        const same =
          existing !== undefined &&
          (existing.digest === checked.base.digest || (await this.sameDataset(existing.blobKey, () => incomingDatasetDigest(known))));
        if (same) decided = await this.identical(checked);
      }
    } catch (error) {
      await staged.discard();
      throw error;
    }
    if (decided) {
      await staged.discard();
      return decided;
    }
    return this.commit(staged, checked, source, () => incomingDatasetDigest(checked));
  }

  /** Validates a parsed object and names it; throws `IngestRejectedError` for what the archive cannot file. */
  private check(parsed: ParsedInstance, digest: string, size: number, source: IngestSource): Checked {
    const identity = validateInstance(parsed, this.deps.dictionary);
    const { studyInstanceUid, sopClassUid, sopInstanceUid } = identity.uids;
    if (source.studyInstanceUid !== undefined && studyInstanceUid !== source.studyInstanceUid) {
      throw new IngestRejectedError(
        `Cannot store instance '${sopInstanceUid}' under study '${source.studyInstanceUid}': it belongs to study '${studyInstanceUid}'`,
        { code: 'ATRIUM_ERR_INGEST_STUDY_MISMATCH', dicomStatus: 0xa900, httpStatus: 409, instance: { sopClassUid, sopInstanceUid } },
      );
    }
    return {
      parsed,
      uids: identity.uids,
      warnings: identity.warnings,
      base: { ...identity.uids, transferSyntaxUid: parsed.transferSyntaxUid, size, digest },
    };
  }

  /** The answer for a copy of a stored instance, once the stored copy's bytes are on disk (`#settled`). */
  private async identical(checked: Checked): Promise<IngestResult> {
    await this.#settled(checked.uids.sopInstanceUid);
    return { ...checked.base, outcome: 'identical', warnings: checked.warnings };
  }

  /** Index commit with a blob intent, then the staged bytes go to their key (see the class comment). */
  private async commit(
    staged: StagedBlob,
    checked: Checked,
    source: IngestSource,
    incomingDatasetDigest: () => Promise<string | undefined>,
  ): Promise<IngestResult> {
    const { archive, config } = this.deps;
    const { base, uids, parsed } = checked;
    const key = instanceBlobKey(uids.studyInstanceUid, uids.seriesInstanceUid, uids.sopInstanceUid, base.digest);
    const flushed = staged.flush();
    const settling = this.#settle(uids.sopInstanceUid, flushed);
    let committed;
    try {
      committed = await archive.commitInstance({
        parsed,
        blobKey: key,
        size: base.size,
        digest: base.digest,
        source: { kind: source.kind, ...(source.callingAeTitle ? { callingAeTitle: source.callingAeTitle } : {}) },
        duplicatePolicy: config.ingest.duplicatePolicy,
        stagingId: staged.id,
        deferFlush: true,
      });
    } catch (error) {
      settling.done();
      const same = error instanceof DuplicateInstanceError && error.storedBlobKey !== undefined
        && (await this.sameDataset(error.storedBlobKey, incomingDatasetDigest));
      await staged.discard();
      if (!same) throw error;
      return this.identical(checked);
    }
    if (committed.outcome === 'identical' || committed.outcome === 'kept-existing') {
      settling.done();
      const same = committed.outcome === 'kept-existing' && committed.storedBlobKey !== undefined
        && (await this.sameDataset(committed.storedBlobKey, incomingDatasetDigest));
      await staged.discard();
      if (same || committed.outcome === 'identical') return this.identical(checked);
      await this.#settled(uids.sopInstanceUid);
      this.deps.logger.warn({ sopInstanceUid: uids.sopInstanceUid, source }, committed.warnings.at(-1) ?? 'Kept the stored copy');
    } else {
      try {
        await flushed;
      } catch (error) {
        // Not answered as stored: the blob intent committed beside the index rows lets recovery at the next start
        // remove the instance whose bytes never reached the disk.
        settling.done();
        await staged.discard();
        throw error;
      }
      settling.done();
      this.#publishWhenDurable(staged, key, committed.durable, committed.replacedBlobKey);
    }
    return { ...base, outcome: committed.outcome, warnings: [...checked.warnings, ...committed.warnings] };
  }

  /**
   * Moves the staged bytes to their key once the index commit is flushed, then deletes a replaced blob and hands
   * both to the intent clearer. Until the move, the store serves the key from the staged bytes.
   */
  #publishWhenDurable(staged: StagedBlob, key: string, durable: Promise<void>, replacedBlobKey: string | undefined): void {
    const { store, logger } = this.deps;
    const work = (async () => {
      try {
        // The blob intent committed with the index lets recovery redo this move, so its directory flush can wait
        // for the intent clearer, which flushes the directories of a whole batch before it clears their intents.
        await staged.publishWhen(key, durable, { durable: false });
      } catch (error) {
        // If recovery in another process finished the move first, the key holds the bytes: that is success too.
        if (!(await store.head(key).catch(() => undefined))) {
          logger.error({ err: error, blobKey: key }, 'Cannot move an ingested instance to its key; recovery at the next start will');
          return;
        }
      }
      const done = [key];
      if (replacedBlobKey && replacedBlobKey !== key) {
        await store.delete(replacedBlobKey);
        done.push(replacedBlobKey);
      }
      this.intents.clear(done);
    })().catch((error: unknown) => logger.error({ err: error, blobKey: key }, 'Cannot finish an ingested instance'));
    this.#publishing.add(work);
    void work.finally(() => this.#publishing.delete(work));
  }

  /**
   * Notes that an ingest of this SOP instance is committing while its bytes may still be on their way to the disk:
   * an identical copy arriving meanwhile is answered only once they are there (`#settled`). Several copies can be
   * in flight at once, so each keeps its own entry until `done`.
   */
  #settle(sopInstanceUid: string, flushed: Promise<void>): { done(): void } {
    const entry = flushed.then(
      () => undefined,
      () => undefined,
    );
    let entries = this.#settling.get(sopInstanceUid);
    if (!entries) this.#settling.set(sopInstanceUid, (entries = new Set()));
    entries.add(entry);
    return {
      done: () => {
        entries.delete(entry);
        if (entries.size === 0 && this.#settling.get(sopInstanceUid) === entries) this.#settling.delete(sopInstanceUid);
      },
    };
  }

  /** Waits for the bytes of the copies of this instance that are committing and still being flushed, if any. */
  async #settled(sopInstanceUid: string): Promise<void> {
    const entries = this.#settling.get(sopInstanceUid);
    if (entries) await Promise.all(entries);
  }

  /**
   * Indexes a blob that is already stored under `key` but unknown to the index (what `fsck --repair` finds after
   * a crash or a restore from backup). The bytes stay where they are. An instance the index already holds under
   * another key wins: the caller decides what to do with the superseded blob (outcome `kept-existing`).
   */
  async reindex(key: string): Promise<IngestResult> {
    const { archive } = this.deps;
    const { parsed, digest, size, identity } = await this.readStored(key);
    const base = { ...identity.uids, transferSyntaxUid: parsed.transferSyntaxUid, size, digest };
    const existing = await archive.findInstance(identity.uids.sopInstanceUid);
    if (existing && existing.blobKey !== key) {
      return { ...base, outcome: 'kept-existing', warnings: identity.warnings };
    }
    const committed = await archive.commitInstance({
      parsed,
      blobKey: key,
      size,
      digest,
      source: { kind: 'import' },
      duplicatePolicy: 'keep',
    });
    return { ...base, outcome: committed.outcome, warnings: [...identity.warnings, ...committed.warnings] };
  }

  /**
   * Whether the incoming copy of a stored instance differs only in its file meta information: an instance that
   * went to another PACS and came back, or that two AEs sent, is the same instance, not "other content".
   */
  private async sameDataset(storedKey: string, incomingDatasetDigest: () => Promise<string | undefined>): Promise<boolean> {
    try {
      const [stored, incoming] = await Promise.all([
        this.deps.store.get(storedKey).then((stream) => datasetDigest(stream)),
        incomingDatasetDigest(),
      ]);
      return stored !== undefined && stored === incoming;
    } catch (error) {
      this.deps.logger.warn({ err: error, blobKey: storedKey }, 'Cannot compare a duplicate with the stored copy');
      return false;
    }
  }

  private createReader(): Part10Reader {
    return new Part10Reader({
      dictionary: this.deps.dictionary,
      bulkDataThreshold: this.deps.config.ingest.bulkDataThreshold,
      bulkDataUri: bulkDataUriTemplate,
    });
  }

  private async readStored(key: string) {
    const { store } = this.deps;
    const hash = createHash('sha256');
    const reader = this.createReader();
    let size = 0;
    for await (const chunk of await store.get(key)) {
      const bytes = chunk as Uint8Array;
      size += bytes.byteLength;
      hash.update(bytes);
      reader.write(bytes);
    }
    const parsed = reader.end();
    return { parsed, size, digest: hash.digest('hex'), identity: validateInstance(parsed, this.deps.dictionary) };
  }
}

/** A parsed object that passed validation, with what every result reports. */
interface Checked {
  parsed: ParsedInstance;
  uids: InstanceIdentity['uids'];
  warnings: string[];
  base: Omit<IngestResult, 'outcome' | 'warnings'>;
}

function isWhole(source: ByteSource): source is readonly Uint8Array[] {
  return Array.isArray(source);
}

function tooLarge(maxBytes: number): DicomLimitError {
  return new DicomLimitError(`Cannot store object: it exceeds the limit of ${maxBytes} bytes`);
}

/**
 * BulkDataURIs are stored relative to the instance (`bulk/<path>`): the DICOMweb layer resolves them against the
 * instance's URL when it serves metadata, so the index does not depend on the host name Atrium is reached by.
 */
function bulkDataUriTemplate(ref: BulkDataRef): string {
  return `bulk/${ref.path}`;
}
