import type { Kysely } from 'kysely';
import type { DicomJsonDataset } from '@atrium/dicom';
import {
  nEventReport,
  SopClass,
  Status,
  StorageCommitment,
  type DimseStatusResult,
  type NEventReportOptions,
  type StorageCommitmentRequest,
} from '@atrium/dimse';
import type { DimseSchema } from '@atrium/db';
import type { Archive } from '../main.js';
import { reasonOf } from '../errors.js';
import type { RemoteAeRegistry } from '../remote-nodes/remote-ae-registry.js';
import { connectToRemote } from './connect-remote.js';

/** PS3.4 J.3.3 Failure Reason (0008,1197) values used here. */
export const FailureReason = {
  ProcessingFailure: 0x0110,
  NoSuchObjectInstance: 0x0112,
  ClassInstanceConflict: 0x0119,
} as const;

export interface CommitmentOutcome {
  transactionUid: string;
  committed: { sopClassUid: string; sopInstanceUid: string }[];
  failed: { sopClassUid: string; sopInstanceUid: string; failureReason: number }[];
  delivery: 'same-association' | 'new-association' | 'undelivered';
  reason?: string | undefined;
}

/**
 * Storage Commitment Push Model SCP (PS3.4 Annex J). The N-ACTION is answered at once after the transaction is
 * recorded; the result is computed from the index (an instance is committed when the index holds it with the
 * same SOP class: its blob was renamed into place before its commit was acknowledged) and reported with
 * N-EVENT-REPORT on the same association while it is open, else on a new association to the requestor's
 * configured AE (J.3.3, with SCP/SCU role selection). Work in flight is tracked so that `drain()` can wait for it.
 */
export class StorageCommitmentScp {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly db: Kysely<DimseSchema>;

  constructor(
    private readonly archive: Pick<Archive, 'config' | 'archive' | 'database' | 'logger'>,
    private readonly registry: RemoteAeRegistry,
    private readonly onOutcome?: (outcome: CommitmentOutcome) => void,
  ) {
    this.db = archive.database.kysely as unknown as Kysely<DimseSchema>;
  }

  readonly handle = async (request: StorageCommitmentRequest): Promise<DimseStatusResult> => {
    if (!request.transactionUid) {
      return { status: Status.MistypedArgument, errorComment: 'Transaction UID (0008,1195) is missing', offendingElement: [0x00081195] };
    }
    if (request.referencedSops.length === 0) {
      return { status: Status.MistypedArgument, errorComment: 'Referenced SOP Sequence (0008,1199) is empty', offendingElement: [0x00081199] };
    }
    const now = new Date().toISOString();
    await this.db
      .insertInto('storage_commitment')
      .values({
        transaction_uid: request.transactionUid,
        calling_ae_title: request.association.callingAeTitle,
        state: 'pending',
        referenced_count: request.referencedSops.length,
        requested_at: now,
      })
      // A repeated transaction UID is answered again rather than refused: the requestor may have lost the report.
      .onConflict((oc) => oc.column('transaction_uid').doUpdateSet({ state: 'pending', requested_at: now, completed_at: null }))
      .execute();
    // Started after the N-ACTION-RSP is on its way: `reportOnSameAssociation` waits for it to be written.
    const work = this.commit(request).catch((error: unknown) =>
      this.archive.logger.error({ err: error, transactionUid: request.transactionUid }, 'Storage commitment failed'),
    );
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return { status: Status.Success };
  };

  /** Waits for the results still being computed or delivered. */
  async drain(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  private async commit(request: StorageCommitmentRequest): Promise<void> {
    const committed: CommitmentOutcome['committed'] = [];
    const failed: CommitmentOutcome['failed'] = [];
    for (const sop of request.referencedSops) {
      const stored = sop.sopInstanceUid ? await this.archive.archive.findInstance(sop.sopInstanceUid) : undefined;
      if (!stored) failed.push({ ...sop, failureReason: FailureReason.NoSuchObjectInstance });
      else if (stored.sopClassUid !== sop.sopClassUid) failed.push({ ...sop, failureReason: FailureReason.ClassInstanceConflict });
      else committed.push(sop);
    }
    const eventInformation = commitmentResult(request.transactionUid, this.archive.config.dicom.aeTitle, committed, failed);
    const report: NEventReportOptions = {
      sopClassUid: SopClass.StorageCommitmentPushModel,
      sopInstanceUid: SopClass.StorageCommitmentPushModelInstance,
      eventTypeId: failed.length === 0 ? StorageCommitment.EventSuccess : StorageCommitment.EventFailures,
      eventInformation,
    };
    let delivery: CommitmentOutcome['delivery'] = 'undelivered';
    let reason: string | undefined;
    if (request.isAssociationOpen()) {
      try {
        await request.reportOnSameAssociation(report);
        delivery = 'same-association';
      } catch (error) {
        reason = `same association: ${reasonOf(error)}`;
      }
    }
    if (delivery === 'undelivered') {
      try {
        await this.reportOnNewAssociation(request.association.callingAeTitle, report);
        delivery = 'new-association';
        reason = undefined;
      } catch (error) {
        reason = [reason, reasonOf(error)].filter(Boolean).join('; ');
        this.archive.logger.warn({ transactionUid: request.transactionUid, reason }, 'Storage commitment result not delivered');
      }
    }
    await this.db
      .updateTable('storage_commitment')
      .set({
        state: delivery === 'undelivered' ? 'undelivered' : 'reported',
        failed_count: failed.length,
        result_json: JSON.stringify(eventInformation),
        delivery: delivery === 'undelivered' ? (reason ?? 'undelivered') : delivery,
        completed_at: new Date().toISOString(),
      })
      .where('transaction_uid', '=', request.transactionUid)
      .execute();
    this.onOutcome?.({ transactionUid: request.transactionUid, committed, failed, delivery, reason });
  }

  private async reportOnNewAssociation(callingAeTitle: string, report: NEventReportOptions): Promise<void> {
    const ae = await this.registry.require(callingAeTitle);
    const association = await connectToRemote(this.archive, ae, {
      presentationContexts: [{ abstractSyntaxUid: SopClass.StorageCommitmentPushModel }],
      // J.3.3: on an association Atrium opens, Atrium is the SCP of the class and says so.
      roleSelections: [{ sopClassUid: SopClass.StorageCommitmentPushModel, scuRole: false, scpRole: true }],
    });
    try {
      await nEventReport(association, report);
    } catch (error) {
      association.abort();
      throw error;
    }
    await association.release();
  }
}

/** The Event Information of PS3.4 Table J.3-2 (success) / J.3-3 (failures). */
export function commitmentResult(
  transactionUid: string,
  retrieveAeTitle: string,
  committed: CommitmentOutcome['committed'],
  failed: CommitmentOutcome['failed'],
): DicomJsonDataset {
  const ds: DicomJsonDataset = {
    '00080054': { vr: 'AE', Value: [retrieveAeTitle] },
    '00081195': { vr: 'UI', Value: [transactionUid] },
  };
  if (committed.length > 0) {
    ds['00081199'] = {
      vr: 'SQ',
      Value: committed.map((s) => ({
        '00081150': { vr: 'UI', Value: [s.sopClassUid] },
        '00081155': { vr: 'UI', Value: [s.sopInstanceUid] },
      })),
    };
  }
  if (failed.length > 0) {
    ds['00081198'] = {
      vr: 'SQ',
      Value: failed.map((s) => ({
        '00081150': { vr: 'UI', Value: [s.sopClassUid] },
        '00081155': { vr: 'UI', Value: [s.sopInstanceUid] },
        '00081197': { vr: 'US', Value: [s.failureReason] },
      })),
    };
  }
  return ds;
}
