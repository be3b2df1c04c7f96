import type { Readable } from 'node:stream';
import type { FrameRef, PixelDataInfo } from '@atrium/dicom';
import type { ByteRange } from '@atrium/store';
import type { Archive } from '../main.js';
import { readAhead, type ReadAheadItem, type ReadAheadLimits } from './read-ahead.js';

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

/** What frame and bulk retrieval need of an instance: where its bytes and frames are, without its DICOM JSON. */
export interface InstanceLayout extends StoredInstanceRef {
  deflated: boolean;
  frames: FrameRef[];
}

/**
 * The one retrieve path (architecture.md, shared paths) shared by C-MOVE, C-GET, WADO-RS and WADO-URI: resolve what
 * was asked to stored instances from the index, then open their bytes exactly as received. Transcoding and frame
 * extraction build on these two steps; nothing here re-parses a file.
 */
export class RetrieveService {
  constructor(private readonly archive: Pick<Archive, 'database' | 'store'>) {}

  /**
   * The instances in scope, in study / series number / instance number order, read page by page so a study of
   * any size is never held whole. Every UID given must match (a series of another study yields nothing).
   */
  async *instances(scope: RetrieveScope, pageSize = 500): AsyncGenerator<StoredInstanceRef> {
    if (scope.sopInstanceUids && scope.sopInstanceUids.length === 0) return;
    let afterId = -1;
    for (;;) {
      const q = this.scoped(scope)
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
      const rows = await q.execute();
      for (const { id, ...ref } of rows) yield ref;
      if (rows.length < pageSize) return;
      afterId = rows[rows.length - 1]!.id;
    }
  }

  /** Instances joined to their series and study, restricted to `scope`: the one place a scope becomes SQL. */
  private scoped(scope: RetrieveScope) {
    let q = this.archive.database.kysely
      .selectFrom('instance')
      .innerJoin('series', 'series.id', 'instance.series_fk')
      .innerJoin('study', 'study.id', 'series.study_fk');
    if (scope.studyInstanceUid !== undefined) q = q.where('study.study_instance_uid', '=', scope.studyInstanceUid);
    if (scope.seriesInstanceUid !== undefined) q = q.where('series.series_instance_uid', '=', scope.seriesInstanceUid);
    if (scope.sopInstanceUids) q = q.where('instance.sop_instance_uid', 'in', [...scope.sopInstanceUids]);
    return q;
  }

  /** The instance at this study/series/instance path with its frame layout; undefined when any UID does not match. */
  async layout(studyInstanceUid: string, seriesInstanceUid: string, sopInstanceUid: string): Promise<InstanceLayout | undefined> {
    const row = await this.scoped({ studyInstanceUid, seriesInstanceUid, sopInstanceUids: [sopInstanceUid] })
      .innerJoin('instance_metadata', 'instance_metadata.instance_fk', 'instance.id')
      .select([
        'instance.sop_class_uid as sopClassUid',
        'instance.transfer_syntax_uid as transferSyntaxUid',
        'instance.blob_key as blobKey',
        'instance.size as size',
        'instance.number_of_frames as numberOfFrames',
        'instance_metadata.dataset_offset as datasetOffset',
        'instance_metadata.deflated as deflated',
        'instance_metadata.frames_json as framesJson',
      ])
      .executeTakeFirst();
    if (!row) return undefined;
    const { framesJson, deflated, ...ref } = row;
    return {
      ...ref,
      studyInstanceUid,
      seriesInstanceUid,
      sopInstanceUid,
      deflated: deflated !== 0,
      frames: JSON.parse(framesJson) as FrameRef[],
    };
  }

  /**
   * Where the pixel data and the frames of a stored instance are, as ingest recorded them: what a decoder that
   * streams an instance frame by frame needs. Undefined when the instance (with this blob) or its pixel data is
   * not in the index.
   */
  async pixelLayout(ref: Pick<StoredInstanceRef, 'sopInstanceUid' | 'blobKey'>): Promise<{ pixelData: PixelDataInfo; frames: FrameRef[] } | undefined> {
    const row = await this.archive.database.kysely
      .selectFrom('instance')
      .innerJoin('instance_metadata', 'instance_metadata.instance_fk', 'instance.id')
      .select(['instance_metadata.pixel_data_json as pixelDataJson', 'instance_metadata.frames_json as framesJson'])
      .where('instance.sop_instance_uid', '=', ref.sopInstanceUid)
      .where('instance.blob_key', '=', ref.blobKey)
      .executeTakeFirst();
    if (!row?.pixelDataJson) return undefined;
    return { pixelData: JSON.parse(row.pixelDataJson) as PixelDataInfo, frames: JSON.parse(row.framesJson) as FrameRef[] };
  }

  /** The distinct stored transfer syntaxes in scope, so a retrieve can refuse (406, A702) before it starts sending. */
  async transferSyntaxes(scope: RetrieveScope): Promise<string[]> {
    const rows = await this.scoped(scope).select('instance.transfer_syntax_uid as ts').distinct().execute();
    return rows.map((r) => r.ts);
  }

  /**
   * The instance that stands for a series or a study in a thumbnail: the middle image (by Instance Number) of the
   * series, or of the study's first series (by Series Number) that has images. Undefined when there is no image.
   */
  async representative(
    studyInstanceUid: string,
    seriesInstanceUid?: string,
  ): Promise<{ seriesInstanceUid: string; sopInstanceUid: string } | undefined> {
    let seriesUid = seriesInstanceUid;
    if (seriesUid === undefined) {
      const first = await this.scoped({ studyInstanceUid })
        .select('series.series_instance_uid as uid')
        .where('instance.rows', 'is not', null)
        .orderBy('series.series_number')
        .orderBy('series.series_instance_uid')
        .limit(1)
        .executeTakeFirst();
      if (!first) return undefined;
      seriesUid = first.uid;
    }
    const images = await this.scoped({ studyInstanceUid, seriesInstanceUid: seriesUid })
      .select('instance.sop_instance_uid as sop')
      .where('instance.rows', 'is not', null)
      .orderBy('instance.instance_number')
      .orderBy('instance.sop_instance_uid')
      .execute();
    const middle = images[Math.floor(images.length / 2)];
    return middle ? { seriesInstanceUid: seriesUid, sopInstanceUid: middle.sop } : undefined;
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

  /**
   * `refs` in their order, the stored bytes of the small ones read ahead while earlier ones are sent (`readAhead`:
   * bounded by `limits`): the whole Part 10 object, or with `form: 'dataset'` the data set as DIMSE sends it.
   * Instances that `wanted` declines (those to be converted) and large ones come without bytes: open them with
   * `storedChunks` / `streamDataset` or the transcoder. The shared way C-MOVE, C-GET and WADO-RS send a study.
   */
  withStoredBytes<T extends Pick<StoredInstanceRef, 'blobKey' | 'datasetOffset' | 'size'>>(
    refs: AsyncIterable<T> | Iterable<T>,
    options: { form?: 'part10' | 'dataset'; wanted?: (ref: T) => boolean; reusable?: boolean } & ReadAheadLimits = {},
  ): AsyncGenerator<ReadAheadItem<T>> {
    const dataset = options.form === 'dataset';
    const start = (ref: T) => (dataset ? ref.datasetOffset : 0);
    return readAhead(refs, {
      ...options,
      sizeOf: (ref) => ref.size - start(ref),
      // A data set of no bytes (the file meta information alone) is not a range the store can serve.
      wanted: (ref) => ref.size > start(ref) && (options.wanted?.(ref) ?? true),
      read: (ref) => this.archive.store.getBytes(ref.blobKey, { start: start(ref) }, { maxBytes: ref.size - start(ref), reusable: options.reusable ?? false }),
    });
  }

  /**
   * The stored Part 10 bytes from `start` (default 0) as buffers of at most `chunkBytes` (default 1 MiB), the next
   * read while one is taken (two held at most). With `reusable`, the buffers may come from the store's pool: give each back with
   * `store.recycle` once it has been written.
   */
  async *storedChunks(
    ref: Pick<StoredInstanceRef, 'blobKey' | 'size'>,
    options: { chunkBytes?: number; reusable?: boolean; start?: number } = {},
  ): AsyncGenerator<Buffer> {
    const chunkBytes = options.chunkBytes ?? 1024 * 1024;
    const read = (start: number) =>
      this.archive.store.getBytes(ref.blobKey, { start, end: Math.min(ref.size, start + chunkBytes) - 1 }, { maxBytes: chunkBytes, reusable: options.reusable ?? false });
    let position = options.start ?? 0;
    let next = ref.size > position ? read(position) : undefined;
    while (next) {
      const bytes = await next;
      position += bytes.length;
      if (bytes.length === 0 && position < ref.size) throw new RangeError(`Cannot read blob '${ref.blobKey}': it ended at ${position} of ${ref.size} bytes`);
      next = position < ref.size ? read(position) : undefined;
      // Reached only if the consumer goes on; one it abandons is collected, not recycled.
      next?.catch(() => {});
      yield bytes;
    }
  }

  /**
   * The data set without preamble and file meta information, as DIMSE sends it (PS3.7 §9.3.1), for the association
   * to stream: `storedChunks` in buffers of the store's pool when it has one, each given back when the next is
   * asked for, which `Association.send` does only once the PDUs made of it have reached the socket (a consumer that
   * keeps chunks must copy them). A chunk the consumer abandons (an association gone) may still be in a write: it is
   * left to the collector. The first chunk is read before this resolves, so a blob gone from the store fails before
   * the request is written.
   */
  async streamDataset(ref: Pick<StoredInstanceRef, 'blobKey' | 'size' | 'datasetOffset'>): Promise<AsyncIterable<Buffer>> {
    const store = this.archive.store;
    const pooled = store.recycle !== undefined;
    const chunks = this.storedChunks(ref, { start: ref.datasetOffset, reusable: pooled });
    const first = await chunks.next();
    return (async function* () {
      if (first.done) return;
      yield first.value;
      if (pooled) store.recycle!(first.value);
      for await (const chunk of chunks) {
        yield chunk;
        if (pooled) store.recycle!(chunk);
      }
    })();
  }

}
