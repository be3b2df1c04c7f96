import type { ArchiveRepository } from '@atrium/db';
import type { BlobStore } from '@atrium/store';
import type { Logger } from '../logger.js';

/**
 * Clears blob intents in batches, after making the batch's renames durable (`BlobStore.sync`: one directory flush
 * per series instead of one per instance). Until an intent is cleared, recovery can redo its rename; a cleared
 * intent's work is durable. So clearing costs no ingest a transaction or a flush of its own.
 */
export class IntentClearer {
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly archive: Pick<ArchiveRepository, 'clearBlobIntents'>,
    private readonly store: Pick<BlobStore, 'sync'>,
    private readonly logger: Logger,
    // A second: each clearing costs a flush per series directory and one of the index, and every device flush
    // delays the one an ingest answer waits for; a crash only makes recovery redo that many more renames.
    private readonly delayMs = 1000,
  ) {}

  clear(blobKeys: readonly string[]): void {
    this.pending.push(...blobKeys);
    if (this.pending.length >= 512) {
      void this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.delayMs);
      this.timer.unref();
    }
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const keys = this.pending;
    this.pending = [];
    this.running = this.running.then(async () => {
      if (keys.length === 0) return;
      try {
        await this.store.sync(keys);
        await this.archive.clearBlobIntents(keys);
      } catch (error) {
        // Harmless: the intents stay, and recovery at the next start redoes or confirms their work.
        this.logger.warn({ err: error, count: keys.length }, 'Cannot clear blob intents now');
      }
    });
    return this.running;
  }
}
