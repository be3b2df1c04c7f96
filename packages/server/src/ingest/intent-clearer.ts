import type { ArchiveRepository } from '@atrium/db';
import type { Logger } from '../logger.js';

/**
 * Clears blob intents in batches. Clearing is bookkeeping, not part of the guarantee (recovery treats an intent
 * whose work is done as done), so it need not cost each ingest a transaction of its own.
 */
export class IntentClearer {
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly archive: Pick<ArchiveRepository, 'clearBlobIntents'>,
    private readonly logger: Logger,
    private readonly delayMs = 100,
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
        await this.archive.clearBlobIntents(keys);
      } catch (error) {
        // Harmless: recovery at the next start finds the work done and clears them then.
        this.logger.warn({ err: error, count: keys.length }, 'Cannot clear blob intents now');
      }
    });
    return this.running;
  }
}
