import type { AtriumDatabase } from '@atrium/db';
import type { FrameRef } from '@atrium/dicom';
import type { RetrieveScope } from '../../retrieve/index.js';

/** What frame and bulk retrieval need of an instance: where its bytes are, without its DICOM JSON. */
export interface InstanceLayout {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  blobKey: string;
  size: number;
  datasetOffset: number;
  deflated: boolean;
  frames: FrameRef[];
  numberOfFrames: number | null;
}

/** The instance at this study/series/instance path, or undefined (404) when any UID does not match. */
export async function findInstanceLayout(
  database: Pick<AtriumDatabase, 'kysely'>,
  study: string,
  series: string,
  sop: string,
): Promise<InstanceLayout | undefined> {
  const row = await database.kysely
    .selectFrom('instance')
    .innerJoin('instance_metadata', 'instance_metadata.instance_fk', 'instance.id')
    .innerJoin('series', 'series.id', 'instance.series_fk')
    .innerJoin('study', 'study.id', 'series.study_fk')
    .select([
      'study.study_instance_uid as study',
      'series.series_instance_uid as series',
      'instance.sop_class_uid as sopClassUid',
      'instance.transfer_syntax_uid as transferSyntaxUid',
      'instance.blob_key as blobKey',
      'instance.size as size',
      'instance.number_of_frames as numberOfFrames',
      'instance_metadata.dataset_offset as datasetOffset',
      'instance_metadata.deflated as deflated',
      'instance_metadata.frames_json as framesJson',
    ])
    .where('instance.sop_instance_uid', '=', sop)
    .executeTakeFirst();
  if (!row || row.study !== study || row.series !== series) return undefined;
  return {
    studyInstanceUid: row.study,
    seriesInstanceUid: row.series,
    sopInstanceUid: sop,
    sopClassUid: row.sopClassUid,
    transferSyntaxUid: row.transferSyntaxUid,
    blobKey: row.blobKey,
    size: row.size,
    datasetOffset: row.datasetOffset,
    deflated: row.deflated !== 0,
    frames: JSON.parse(row.framesJson) as FrameRef[],
    numberOfFrames: row.numberOfFrames,
  };
}

/** The distinct stored transfer syntaxes in a scope, so a retrieve can refuse (406) before it starts streaming. */
export async function transferSyntaxesIn(database: Pick<AtriumDatabase, 'kysely'>, scope: RetrieveScope): Promise<string[]> {
  let q = database.kysely
    .selectFrom('instance')
    .innerJoin('series', 'series.id', 'instance.series_fk')
    .innerJoin('study', 'study.id', 'series.study_fk')
    .select('instance.transfer_syntax_uid as ts')
    .distinct();
  if (scope.studyInstanceUid !== undefined) q = q.where('study.study_instance_uid', '=', scope.studyInstanceUid);
  if (scope.seriesInstanceUid !== undefined) q = q.where('series.series_instance_uid', '=', scope.seriesInstanceUid);
  if (scope.sopInstanceUids) q = q.where('instance.sop_instance_uid', 'in', [...scope.sopInstanceUids]);
  return (await q.execute()).map((r) => r.ts);
}

/**
 * The instance that stands for a series or a study in a thumbnail: the middle image (by Instance Number) of the
 * series, or of the study's first series that has images. Undefined when there is no image.
 */
export async function representativeInstance(
  database: Pick<AtriumDatabase, 'kysely'>,
  study: string,
  series?: string,
): Promise<{ seriesInstanceUid: string; sopInstanceUid: string } | undefined> {
  let seriesUid = series;
  if (seriesUid === undefined) {
    const first = await database.kysely
      .selectFrom('series')
      .innerJoin('study', 'study.id', 'series.study_fk')
      .innerJoin('instance', 'instance.series_fk', 'series.id')
      .select('series.series_instance_uid as uid')
      .where('study.study_instance_uid', '=', study)
      .where('instance.rows', 'is not', null)
      .orderBy('series.series_number')
      .orderBy('series.series_instance_uid')
      .limit(1)
      .executeTakeFirst();
    if (!first) return undefined;
    seriesUid = first.uid;
  }
  const images = await database.kysely
    .selectFrom('instance')
    .innerJoin('series', 'series.id', 'instance.series_fk')
    .innerJoin('study', 'study.id', 'series.study_fk')
    .select('instance.sop_instance_uid as sop')
    .where('study.study_instance_uid', '=', study)
    .where('series.series_instance_uid', '=', seriesUid)
    .where('instance.rows', 'is not', null)
    .orderBy('instance.instance_number')
    .orderBy('instance.sop_instance_uid')
    .execute();
  const middle = images[Math.floor(images.length / 2)];
  return middle ? { seriesInstanceUid: seriesUid, sopInstanceUid: middle.sop } : undefined;
}
