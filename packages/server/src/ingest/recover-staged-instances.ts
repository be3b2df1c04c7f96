import type { BlobStore } from '@atrium/store';
import type { Logger } from '../logger.js';
import type { IngestPipeline } from './ingest-pipeline.js';

export interface StagedRecoveryReport {
  /** SOP Instance UIDs ingested again from staged bytes (stored anew, or found already indexed). */
  ingested: string[];
  /** Staged objects that were empty (spare files) or not an instance (cut short before they were answered). */
  discarded: number;
}

/**
 * Ingests again what a process that is gone left staged with no intent naming it (see `IngestPipeline`): the bytes
 * of instances whose index commit was among the last writes a power cut took, although their answer had been sent
 * (the answer waits for the staged bytes to be flushed, not for the index), and of instances that were still
 * arriving or being committed when a crash came (never answered; storing them is harmless, a sender that saw no
 * answer sends again and finds them identical). Runs at start-up, after `recoverBlobIntents` has finished or
 * discarded the staged bytes its intents name, and before stale staging files are cleaned.
 */
export async function recoverStagedInstances(store: BlobStore, ingest: IngestPipeline, logger: Logger): Promise<StagedRecoveryReport> {
  const report: StagedRecoveryReport = { ingested: [], discarded: 0 };
  for await (const staged of store.leftoverStaged()) {
    if (staged.size > 0) {
      try {
        const result = await ingest.ingest(await staged.read(), { kind: 'import', origin: `staging file ${staged.id}` });
        report.ingested.push(result.sopInstanceUid);
      } catch (error) {
        logger.info({ err: error, stagingId: staged.id }, 'Staged bytes left by a crash are not an instance; removed');
        report.discarded++;
      }
    } else {
      report.discarded++;
    }
    await staged.discard();
  }
  if (report.ingested.length > 0) {
    logger.warn({ instances: report.ingested }, 'Ingested again the instances a crash left staged');
  }
  return report;
}
