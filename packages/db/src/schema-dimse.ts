import type { ColumnType } from 'kysely';

/**
 * Tables of migration 0003 (DICOM networking). Kept apart from `AtriumSchema`, which other areas read; merge it
 * where needed: `kysely as unknown as Kysely<AtriumSchema & DimseSchema>`.
 */
export interface DimseSchema {
  remote_ae: RemoteAeTable;
  storage_commitment: StorageCommitmentTable;
}

/** A remote AE added through the admin API (PS3.8 §7.1: AE title, host, port). */
export interface RemoteAeTable {
  ae_title: string;
  host: string;
  port: number;
  /** Services the AE may ask of Atrium, comma-separated (`echo,store,find,move,get,commitment`). */
  services: string;
  tls: ColumnType<number, number | undefined, number>;
  description: string | null;
  created_at: string;
  updated_at: string;
}

/** One Storage Commitment Push Model transaction (PS3.4 J.3.2) and what became of its result (J.3.3). */
export interface StorageCommitmentTable {
  transaction_uid: string;
  calling_ae_title: string;
  /** `pending` until the N-EVENT-REPORT was answered (`reported`) or could not be delivered (`undelivered`). */
  state: 'pending' | 'reported' | 'undelivered';
  referenced_count: number;
  failed_count: ColumnType<number, number | undefined, number>;
  /** The event information sent, as DICOM JSON. */
  result_json: string | null;
  /** How the result went out (`same-association`, `new-association`) or why it could not. */
  delivery: string | null;
  requested_at: string;
  completed_at: string | null;
}
