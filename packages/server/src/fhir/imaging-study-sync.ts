import type { ArchiveRepository } from '@atrium/db';
import type { Logger } from '../logger.js';
import type { FhirService } from './fhir-service.js';
import { deriveImagingStudy, ensureDicomwebEndpoint } from './imaging-study.js';

/** Where the sync has read the change feed to, in `fhir_sync_state`. */
const CURSOR = 'imaging-study-sync.change-feed-seq';

export interface ImagingStudySyncOptions {
  /** Pause between polls when the feed is drained; default 1 s. */
  intervalMs?: number;
  /** Change-feed entries per transaction; default 500. */
  batchSize?: number;
  /**
   * In the background, a batch waits until the feed has been quiet this long (default 2 s), so that a study
   * arriving image by image is derived once it is complete rather than once a second: each derivation of a
   * changed study writes a new version of the whole resource, instance list included.
   */
  settleMs?: number;
  /** ... but never longer than this after its oldest change (default 30 s), so a study that keeps arriving shows. */
  maxDelayMs?: number;
  /** Absolute URL of Atrium's DICOMweb service, for the Endpoint resource. */
  dicomwebAddress: string;
}

/**
 * Keeps ImagingStudy resources equal to the archive (architecture.md, data model: derived, never a second truth) by
 * following the change feed. Each batch re-derives the studies it touches from the index rows and moves the cursor in
 * the same transaction, so a crash repeats a batch rather than skipping one, and re-deriving is idempotent (unchanged
 * content writes no version). Several nodes may run it: a node that finds the cursor moved under it gives up the
 * batch.
 */
export class ImagingStudySync {
  readonly #service: FhirService;
  readonly #archive: ArchiveRepository;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #batchSize: number;
  readonly #settleMs: number;
  readonly #maxDelayMs: number;
  readonly #dicomwebAddress: string;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;
  #endpointWritten = false;

  constructor(service: FhirService, archive: ArchiveRepository, logger: Logger, options: ImagingStudySyncOptions) {
    this.#service = service;
    this.#archive = archive;
    this.#logger = logger;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#batchSize = options.batchSize ?? 500;
    this.#settleMs = options.settleMs ?? 2000;
    this.#maxDelayMs = options.maxDelayMs ?? 30_000;
    this.#dicomwebAddress = options.dicomwebAddress;
  }

  /**
   * Processes one batch of the change feed; returns the number of entries consumed (0 when drained). With
   * `settle`, a batch whose newest change is younger than the settle time is left for later (0), unless its
   * oldest change has waited the longest delay.
   */
  async runOnce(options: { settle?: boolean } = {}): Promise<number> {
    const repository = this.#service.repository;
    if (!this.#endpointWritten) {
      await repository.transaction((trx) => ensureDicomwebEndpoint(this.#service, trx, this.#dicomwebAddress));
      this.#endpointWritten = true;
    }
    const cursor = Number((await repository.getState(repository.db, CURSOR)) ?? '0');
    const entries = await this.#archive.readChangeFeed({ afterSeq: cursor, limit: this.#batchSize });
    const last = entries[entries.length - 1];
    if (!last) return 0;
    if (options.settle) {
      const now = Date.now();
      const quiet = now - Date.parse(last.recordedAt) >= this.#settleMs;
      const overdue = now - Date.parse(entries[0]!.recordedAt) >= this.#maxDelayMs;
      if (!quiet && !overdue) return 0;
    }
    const studies = new Set<string>();
    for (const entry of entries) if (entry.studyInstanceUid) studies.add(entry.studyInstanceUid);
    return repository.transaction(async (trx) => {
      const now = Number((await repository.getState(trx, CURSOR)) ?? '0');
      if (now !== cursor) return 0;
      for (const uid of studies) await deriveImagingStudy(this.#service, trx, uid);
      await repository.setState(trx, CURSOR, String(last.seq));
      return entries.length;
    });
  }

  /** Processes the feed until it is drained (tests, and the first run after start-up); `settle` as in `runOnce`. */
  async drain(options: { settle?: boolean } = {}): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.runOnce(options);
      if (n === 0) return total;
      total += n;
    }
  }

  /** Polls in the background until `stop()`. */
  start(): this {
    const tick = () => {
      if (this.#stopped) return;
      this.#running = this.drain({ settle: true })
        .catch((error: unknown) => this.#logger.error({ err: error }, 'Cannot derive ImagingStudy resources from the change feed'))
        .finally(() => {
          this.#running = undefined;
          if (!this.#stopped) {
            this.#timer = setTimeout(tick, this.#intervalMs);
            this.#timer.unref();
          }
        });
    };
    tick();
    return this;
  }

  /** Stops polling and waits for a batch in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }
}
