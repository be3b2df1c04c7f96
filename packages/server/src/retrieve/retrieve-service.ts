import type { Readable } from 'node:stream';
import type { ByteRange } from '@atrium/store';
import type { Archive } from '../main.js';

/** Which instances a retrieve asks for: a study, a series of it, or listed instances (PS3.4 C.4, PS3.18 10.4). */
export interface RetrieveScope {
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  sopInstanceUids?: readonly string[];
}

/** What the retrieve path knows of a stored instance without reading its blob. */
export interface StoredInstanceRef {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  blobKey: string;
  size: number;
  /** Offset of the data set after the file meta information: DIMSE sends the data set without it. */
  datasetOffset: number;
  numberOfFrames: number | null;
}

/**
 * The one retrieve path (design.md §3.3) shared by C-MOVE, C-GET, WADO-RS and WADO-URI: resolve what was asked to
 * stored instances from the index, then open their bytes exactly as received. Transcoding and frame extraction
 * build on these two steps; nothing here re-parses a file.
 */
export class RetrieveService {
  constructor(private readonly archive: Pick<Archive, 'database' | 'store'>) {}

  /**
   * The instances in scope, in study / series number / instance number order, read page by page so a study of
   * any size is never held whole. Every UID given must match (a series of another study yields nothing).
   */
  async *instances(scope: RetrieveScope, pageSize = 500): AsyncGenerator<StoredInstanceRef> {
    const { kysely } = this.archive.database;
    if (scope.sopInstanceUids && scope.sopInstanceUids.length === 0) return;
    let afterId = -1;
    for (;;) {
      let q = kysely
        .selectFrom('instance')
        .innerJoin('series', 'series.id', 'instance.series_fk')
        .innerJoin('study', 'study.id', 'series.study_fk')
        .innerJoin('instance_metadata', 'instance_metadata.instance_fk', 'instance.id')
        .select([
          'instance.id as id',
          'study.study_instance_uid as studyInstanceUid',
          'series.series_instance_uid as seriesInstanceUid',
          'instance.sop_instance_uid as sopInstanceUid',
          'instance.sop_class_uid as sopClassUid',
          'instance.transfer_syntax_uid as transferSyntaxUid',
          'instance.blob_key as blobKey',
          'instance.size as size',
          'instance.number_of_frames as numberOfFrames',
          'instance_metadata.dataset_offset as datasetOffset',
        ])
        .where('instance.id', '>', afterId)
        .orderBy('instance.id')
        .limit(pageSize);
      if (scope.studyInstanceUid !== undefined) q = q.where('study.study_instance_uid', '=', scope.studyInstanceUid);
      if (scope.seriesInstanceUid !== undefined) q = q.where('series.series_instance_uid', '=', scope.seriesInstanceUid);
      if (scope.sopInstanceUids) q = q.where('instance.sop_instance_uid', 'in', [...scope.sopInstanceUids]);
      const rows = await q.execute();
      for (const { id, ...ref } of rows) yield ref;
      if (rows.length < pageSize) return;
      afterId = rows[rows.length - 1]!.id;
    }
  }

  /** How many instances are in scope (sub-operation counts of C-MOVE and C-GET are known before sending). */
  async count(scope: RetrieveScope): Promise<number> {
    let n = 0;
    for await (const _ of this.instances(scope)) n++;
    return n;
  }

  /** The stored Part 10 bytes, whole or a byte range. */
  openPart10(ref: Pick<StoredInstanceRef, 'blobKey'>, range?: ByteRange): Promise<Readable> {
    return this.archive.store.get(ref.blobKey, range);
  }

  /** The data set without preamble and file meta information, as DIMSE sends it (PS3.7 §9.3.1). */
  openDataset(ref: Pick<StoredInstanceRef, 'blobKey' | 'datasetOffset'>): Promise<Readable> {
    return this.archive.store.get(ref.blobKey, { start: ref.datasetOffset });
  }
}
