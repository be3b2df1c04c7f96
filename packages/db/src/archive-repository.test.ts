import assert from 'node:assert/strict';
import { mkdtemp, open as openFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import type { AtriumDatabase } from './database.js';
import { openDatabase } from './database.js';
import type { CommitInstanceInput, CommitInstanceResult } from './archive-repository.js';
import { commitInput as input } from './test-support.js';

type Open = (t: { after(fn: () => Promise<void>): void }) => Promise<AtriumDatabase>;

/** Commits on the event loop's connection, to a database in memory. */
const open: Open = async (t) => {
  let tick = Date.parse('2024-03-01T10:00:00.000Z');
  const db = await openDatabase({ kind: 'sqlite', path: ':memory:', now: () => new Date((tick += 1000)) });
  t.after(() => db.close());
  return db;
};

/** Commits on the commit thread, to a file database (a second connection cannot share one in memory). */
const openWithCommitThread: Open = async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-thread-'));
  let tick = Date.parse('2024-03-01T10:00:00.000Z');
  const db = await openDatabase({ kind: 'sqlite', path: join(dir, 'index.sqlite'), now: () => new Date((tick += 1000)), commitThread: true });
  t.after(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  assert.ok(db.commitThread?.running, 'the commit thread runs');
  return db;
};

/** Registers a test for both places a commit runs: the results must be the same. */
function both(name: string, fn: (t: TestContext, open: Open) => Promise<void>): void {
  test(name, (t) => fn(t, open));
  test(`${name} (commit thread)`, (t) => fn(t, openWithCommitThread));
}

async function row<T>(db: AtriumDatabase, table: 'patient' | 'study' | 'series', where: [string, string]): Promise<T> {
  return (await db.kysely
    .selectFrom(table)
    .selectAll()
    .where(where[0] as never, '=', where[1] as never)
    .executeTakeFirstOrThrow()) as T;
}

both('commitInstance - a new instance creates every level with counts, lists and a change feed', async (t, open) => {
  const db = await open(t);
  const { durable, ...result } = await db.archive.commitInstance(input({ sopInstanceUid: '1.9.1', instanceNumber: 3 }));
  await durable;
  assert.deepEqual(result, {
    outcome: 'stored',
    warnings: [],
    studyInstanceUid: '1.2.3.1',
    seriesInstanceUid: '1.2.3.1.1',
    sopInstanceUid: '1.9.1',
  });
  const patient = await row<Record<string, unknown>>(db, 'patient', ['patient_id', 'P1']);
  assert.equal(patient['patient_name'], 'Doe^Jane');
  assert.equal(patient['patient_name_search'], 'DOE^JANE');
  assert.equal(patient['issuer_of_patient_id'], '');
  assert.deepEqual(
    [patient['number_of_studies'], patient['number_of_series'], patient['number_of_instances']],
    [1, 1, 1],
  );
  const study = await row<Record<string, unknown>>(db, 'study', ['study_instance_uid', '1.2.3.1']);
  assert.equal(study['study_date'], '20240131');
  assert.equal(study['study_time'], '101500.000000');
  assert.equal(study['modalities_in_study'], 'CT');
  assert.equal(study['sop_classes_in_study'], '1.2.840.10008.5.1.4.1.1.2');
  assert.deepEqual([study['number_of_series'], study['number_of_instances'], study['total_bytes']], [1, 1, 1000]);

  const found = await db.archive.findInstance('1.9.1');
  assert.equal(found?.blobKey, 'dicom/1.9.1-d1.dcm');
  assert.equal(found?.digest, 'd1');
  assert.equal(found?.seriesInstanceUid, '1.2.3.1.1');
  assert.equal(found?.transferSyntaxUid, '1.2.840.10008.1.2.1');
  assert.equal(await db.archive.findInstance('1.9.404'), undefined);

  const instance = await db.kysely.selectFrom('instance').selectAll().executeTakeFirstOrThrow();
  assert.equal(instance.source_kind, 'dimse');
  assert.equal(instance.calling_ae_title, 'MODALITY1');
  assert.equal(instance.rows, 512);
  assert.equal(instance.instance_number, 3);

  const feed = await db.archive.readChangeFeed();
  assert.deepEqual(
    feed.map((f) => `${f.level}:${f.action}`),
    ['patient:created', 'study:created', 'series:created', 'instance:created'],
  );
  assert.equal(feed[3]?.sopInstanceUid, '1.9.1');
  assert.equal(feed[3]?.detail?.['callingAeTitle'], 'MODALITY1');
  assert.ok(feed[0]!.seq < feed[3]!.seq);
});

both('commitInstance - metadata keeps the DICOM JSON and byte locations without reading files', async (t, open) => {
  const db = await open(t);
  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.1' }));
  const metadata = await db.archive.getInstanceMetadata('1.9.1');
  assert.ok(metadata);
  assert.deepEqual(metadata.dataset['7FE00010'], { vr: 'OW', BulkDataURI: 'bulk/7FE00010' });
  assert.deepEqual(metadata.frames, [{ fragments: [{ offset: 1000, length: 524288 }] }]);
  assert.equal(metadata.pixelData?.length, 524288);
  assert.equal(metadata.bulkData[0]?.path, '7FE00010');
  assert.equal(metadata.deflated, false);
  assert.equal(metadata.datasetOffset, 132);
  assert.equal(await db.archive.getInstanceMetadata('1.9.2'), undefined);
});

both('commitInstance - the same digest again is identical and changes nothing', async (t, open) => {
  const db = await open(t);
  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.1' }));
  const before = await db.archive.readChangeFeed();
  const again = await db.archive.commitInstance(input({ sopInstanceUid: '1.9.1' }, { duplicatePolicy: 'reject' }));
  assert.equal(again.outcome, 'identical');
  assert.deepEqual(await db.archive.readChangeFeed(), before);
  assert.equal((await db.archive.stats()).instances, 1);
  assert.equal((await row<{ number_of_instances: number }>(db, 'study', ['study_instance_uid', '1.2.3.1'])).number_of_instances, 1);
});

both('commitInstance - other content under policy keep keeps the stored copy and warns', async (t, open) => {
  const db = await open(t);
  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.1' }));
  const kept = await db.archive.commitInstance(input({ sopInstanceUid: '1.9.1' }, { digest: 'd2', size: 5 }));
  assert.equal(kept.outcome, 'kept-existing');
  assert.match(kept.warnings[0] ?? '', /'1\.9\.1' is already stored/);
  assert.equal((await db.archive.findInstance('1.9.1'))?.digest, 'd1');
});

both('commitInstance - other content under policy reject is a coded 0111/409 error', async (t, open) => {
  const db = await open(t);
  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.1' }));
  await assert.rejects(
    db.archive.commitInstance(input({ sopInstanceUid: '1.9.1' }, { digest: 'd2', duplicatePolicy: 'reject' })),
    { code: 'ATRIUM_ERR_INGEST_DUPLICATE_REJECTED', dicomStatus: 0x0111, httpStatus: 409 },
  );
  assert.equal((await db.archive.findInstance('1.9.1'))?.digest, 'd1');
});

both('commitInstance - replace swaps the bytes, returns the old key and keeps counts exact', async (t, open) => {
  const db = await open(t);
  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.1' }));
  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.2', instanceNumber: 2 }));
  const replaced = await db.archive.commitInstance(
    input(
      { sopInstanceUid: '1.9.1', sopClassUid: '1.2.840.10008.5.1.4.1.1.7' },
      { digest: 'd2', size: 2500, blobKey: 'dicom/new.dcm', duplicatePolicy: 'replace' },
    ),
  );
  assert.equal(replaced.outcome, 'replaced');
  assert.equal(replaced.replacedBlobKey, 'dicom/1.9.1-d1.dcm');
  const found = await db.archive.findInstance('1.9.1');
  assert.equal(found?.blobKey, 'dicom/new.dcm');
  assert.equal(found?.size, 2500);
  const study = await row<Record<string, unknown>>(db, 'study', ['study_instance_uid', '1.2.3.1']);
  assert.deepEqual([study['number_of_instances'], study['total_bytes']], [2, 3500]);
  assert.equal(study['sop_classes_in_study'], '1.2.840.10008.5.1.4.1.1.2\\1.2.840.10008.5.1.4.1.1.7');
  const patient = await row<Record<string, unknown>>(db, 'patient', ['patient_id', 'P1']);
  assert.equal(patient['number_of_instances'], 2);
  const feed = await db.archive.readChangeFeed({ afterSeq: 0, limit: 100 });
  const last = feed[feed.length - 1];
  assert.equal(`${last?.level}:${last?.action}`, 'instance:updated');
  assert.deepEqual(last?.detail, { reason: 'replaced', previousDigest: 'd1', digest: 'd2' });
});

both('commitInstance - a replacement moved to another series tidies the emptied series', async (t, open) => {
  const db = await open(t);
  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.1', seriesInstanceUid: 'S.A', modality: 'CT' }));
  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.2', seriesInstanceUid: 'S.B', modality: 'PR' }));
  await db.archive.commitInstance(
    input({ sopInstanceUid: '1.9.1', seriesInstanceUid: 'S.B', modality: 'PR' }, { digest: 'd2', duplicatePolicy: 'replace' }),
  );
  const series = await db.kysely.selectFrom('series').select(['series_instance_uid', 'number_of_instances']).execute();
  assert.deepEqual(series, [{ series_instance_uid: 'S.B', number_of_instances: 2 }]);
  const study = await row<Record<string, unknown>>(db, 'study', ['study_instance_uid', '1.2.3.1']);
  assert.deepEqual([study['number_of_series'], study['number_of_instances'], study['modalities_in_study']], [1, 2, 'PR']);
  const patient = await row<Record<string, unknown>>(db, 'patient', ['patient_id', 'P1']);
  assert.deepEqual([patient['number_of_series'], patient['number_of_instances']], [1, 2]);
  assert.ok((await db.archive.readChangeFeed()).some((f) => f.level === 'series' && f.action === 'deleted'));
});

both('commitInstance - a study owned by another patient is refused naming both patient IDs', async (t, open) => {
  const db = await open(t);
  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.1', patientId: 'P1' }));
  await assert.rejects(
    db.archive.commitInstance(input({ sopInstanceUid: '1.9.2', patientId: 'P2', issuerOfPatientId: 'H' })),
    (error: { code?: string; dicomStatus?: number; httpStatus?: number; message: string }) => {
      assert.equal(error.code, 'ATRIUM_ERR_INGEST_CONFLICT');
      assert.equal(error.dicomStatus, 0xa900);
      assert.equal(error.httpStatus, 409);
      assert.match(error.message, /study '1\.2\.3\.1' belongs to patient 'P1', not to patient 'P2' \(issuer 'H'\)/);
      return true;
    },
  );
  assert.equal(await db.archive.findInstance('1.9.2'), undefined);
  assert.equal((await db.archive.stats()).patients, 1, 'the refused patient row was rolled back');
});

both('commitInstance - a series under another study is refused naming both studies', async (t, open) => {
  const db = await open(t);
  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.1', studyInstanceUid: 'ST.1' }));
  await assert.rejects(
    db.archive.commitInstance(input({ sopInstanceUid: '1.9.2', studyInstanceUid: 'ST.2' })),
    /series '1\.2\.3\.1\.1' belongs to study 'ST\.1', not to study 'ST\.2'/,
  );
  assert.equal((await db.archive.stats()).studies, 1);
});

both('commitInstance - a differing patient name or birth date keeps the stored values with a warning', async (t, open) => {
  const db = await open(t);
  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.1', patientName: 'Doe^Jane' }));
  const second = await db.archive.commitInstance(
    input({ sopInstanceUid: '1.9.2', patientName: 'Roe^Jane', patientBirthDate: '19710101' }),
  );
  assert.equal(second.outcome, 'stored');
  assert.equal(second.warnings.length, 2);
  assert.match(second.warnings[0]!, /stored with name 'Doe\^Jane', the instance says 'Roe\^Jane'/);
  assert.match(second.warnings[1]!, /birth date '19700101'.*'19710101'/);
  const patient = await row<Record<string, unknown>>(db, 'patient', ['patient_id', 'P1']);
  assert.equal(patient['patient_name'], 'Doe^Jane');
  assert.equal(patient['patient_birth_date'], '19700101');
});

both('commitInstance - counts and ModalitiesInStudy follow several series and patients', async (t, open) => {
  const db = await open(t);
  for (let i = 0; i < 3; i++) await db.archive.commitInstance(input({ sopInstanceUid: `A.${i}`, seriesInstanceUid: 'S.CT', modality: 'CT' }));
  for (let i = 0; i < 2; i++) await db.archive.commitInstance(input({ sopInstanceUid: `B.${i}`, seriesInstanceUid: 'S.SR', modality: 'SR', sopClassUid: '1.2.840.10008.5.1.4.1.1.88.22' }));
  await db.archive.commitInstance(input({ sopInstanceUid: 'C.0', patientId: 'P2', studyInstanceUid: 'ST.2', seriesInstanceUid: 'S.MR', modality: 'MR' }));
  const study = await row<Record<string, unknown>>(db, 'study', ['study_instance_uid', '1.2.3.1']);
  assert.deepEqual(
    [study['number_of_series'], study['number_of_instances'], study['modalities_in_study'], study['sop_classes_in_study']],
    [2, 5, 'CT\\SR', '1.2.840.10008.5.1.4.1.1.2\\1.2.840.10008.5.1.4.1.1.88.22'],
  );
  const stats = await db.archive.stats();
  assert.deepEqual(stats, {
    patients: 2,
    studies: 2,
    series: 3,
    instances: 6,
    bytes: 6000,
    byModality: {
      CT: { series: 1, instances: 3, bytes: 3000 },
      SR: { series: 1, instances: 2, bytes: 2000 },
      MR: { series: 1, instances: 1, bytes: 1000 },
    },
  });
});

both('commitInstance - request attributes are indexed per item', async (t, open) => {
  const db = await open(t);
  await db.archive.commitInstance(
    input({
      sopInstanceUid: '1.9.1',
      extra: {
        '00400275': {
          vr: 'SQ',
          Value: [{ '00401001': { vr: 'SH', Value: ['RP-1'] }, '00080050': { vr: 'SH', Value: ['ACC-1'] } }],
        },
      },
    }),
  );
  const items = await db.kysely.selectFrom('series_request_attribute').selectAll().execute();
  assert.equal(items.length, 1);
  assert.equal(items[0]?.requested_procedure_id, 'RP-1');
  assert.equal(items[0]?.accession_number, 'ACC-1');
});

both('commitInstance - beforeCommit runs inside the transaction and a failure rolls everything back', async (t, open) => {
  const db = await open(t);
  const seen: string[] = [];
  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.1' }, { beforeCommit: (d) => void seen.push(d.outcome) }));
  assert.deepEqual(seen, ['stored']);
  await assert.rejects(
    db.archive.commitInstance(
      input({ sopInstanceUid: '1.9.2', studyInstanceUid: 'ST.9', seriesInstanceUid: 'SE.9' }, {
        beforeCommit: () => {
          throw new Error('rename failed');
        },
      }),
    ),
    /rename failed/,
  );
  assert.equal(await db.archive.findInstance('1.9.2'), undefined);
  const stats = await db.archive.stats();
  assert.deepEqual([stats.studies, stats.instances], [1, 1]);
});

both('series metadata - marked stale on change and rebuilt in instance-number order', async (t, open) => {
  const db = await open(t);
  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.3', instanceNumber: 3 }));
  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.1', instanceNumber: 1 }));
  const stale = () =>
    db.kysely.selectFrom('series_metadata').select(['stale', 'version']).executeTakeFirstOrThrow();
  assert.equal((await stale()).stale, 1);
  const first = await db.archive.getSeriesMetadata('1.2.3.1.1');
  assert.ok(first);
  const document = JSON.parse(first.document) as Array<Record<string, { Value?: unknown[] }>>;
  assert.deepEqual(
    document.map((d) => d['00080018']?.Value?.[0]),
    ['1.9.1', '1.9.3'],
  );
  assert.match(first.etag, /^"[A-Za-z0-9_-]{43}"$/);
  assert.equal((await stale()).stale, 0);
  const cached = await db.archive.getSeriesMetadata('1.2.3.1.1');
  assert.equal(cached?.etag, first.etag);

  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.2', instanceNumber: 2 }));
  assert.equal((await stale()).stale, 1, 'a new instance marks the document stale');
  const second = await db.archive.getSeriesMetadata('1.2.3.1.1');
  assert.notEqual(second?.etag, first.etag);
  assert.deepEqual(
    (JSON.parse(second!.document) as Array<Record<string, { Value?: unknown[] }>>).map((d) => d['00080018']?.Value?.[0]),
    ['1.9.1', '1.9.2', '1.9.3'],
  );
  await db.archive.deleteInstance('1.9.2');
  assert.equal((await stale()).stale, 1, 'a delete marks it stale too');
  assert.equal(await db.archive.getSeriesMetadata('9.9.9'), undefined);
});

both('deleteInstance - keeps counts and lists exact and removes emptied levels', async (t, open) => {
  const db = await open(t);
  await db.archive.commitInstance(input({ sopInstanceUid: 'A.1', seriesInstanceUid: 'S.CT', modality: 'CT' }));
  await db.archive.commitInstance(input({ sopInstanceUid: 'A.2', seriesInstanceUid: 'S.CT', modality: 'CT' }));
  await db.archive.commitInstance(input({ sopInstanceUid: 'B.1', seriesInstanceUid: 'S.PR', modality: 'PR' }));

  const deleted = await db.archive.deleteInstance('B.1');
  assert.deepEqual(deleted, {
    sopInstanceUid: 'B.1',
    seriesInstanceUid: 'S.PR',
    studyInstanceUid: '1.2.3.1',
    blobKey: 'dicom/B.1-d1.dcm',
    size: 1000,
    digest: 'd1',
    removedSeries: true,
    removedStudy: false,
    removedPatient: false,
  });
  const study = await row<Record<string, unknown>>(db, 'study', ['study_instance_uid', '1.2.3.1']);
  assert.deepEqual(
    [study['number_of_series'], study['number_of_instances'], study['total_bytes'], study['modalities_in_study']],
    [1, 2, 2000, 'CT'],
  );
  assert.equal(await db.archive.deleteInstance('B.1'), undefined);

  await db.archive.deleteInstance('A.1');
  const last = await db.archive.deleteInstance('A.2');
  assert.deepEqual([last?.removedSeries, last?.removedStudy, last?.removedPatient], [true, true, true]);
  assert.deepEqual(await db.archive.stats(), { patients: 0, studies: 0, series: 0, instances: 0, bytes: 0, byModality: {} });
  const metadataRows = await db.kysely.selectFrom('instance_metadata').select('instance_fk').execute();
  assert.deepEqual(metadataRows, [], 'instance metadata went with the instances');
  const feed = await db.archive.readChangeFeed({ limit: 1000 });
  assert.deepEqual(
    feed.slice(-4).map((f) => `${f.level}:${f.action}`),
    ['instance:deleted', 'series:deleted', 'study:deleted', 'patient:deleted'],
  );
});

/** Outcome of each settled promise, or the code (else the message) of its error. */
function outcomes(results: PromiseSettledResult<{ outcome: string }>[]): string[] {
  return results.map((r) =>
    r.status === 'fulfilled' ? r.value.outcome : ((r.reason as { code?: string }).code ?? (r.reason as Error).message),
  );
}

both('commitInstance - concurrent commits: a conflict, a rejected duplicate and a failing beforeCommit reject only their own instance', async (t, open) => {
  const db = await open(t);
  await db.archive.commitInstance(input({ sopInstanceUid: '1.9.1' }));
  const results = await Promise.allSettled([
    db.archive.commitInstance(input({ sopInstanceUid: 'A.1', instanceNumber: 2 })),
    db.archive.commitInstance(input({ sopInstanceUid: 'B.1', patientId: 'P2' })),
    db.archive.commitInstance(input({ sopInstanceUid: '1.9.1' }, { digest: 'd2', duplicatePolicy: 'reject' })),
    db.archive.commitInstance(
      input({ sopInstanceUid: 'C.1', seriesInstanceUid: 'S.C' }, {
        beforeCommit: () => {
          throw new Error('rename failed');
        },
      }),
    ),
    db.archive.commitInstance(input({ sopInstanceUid: 'D.1', patientId: 'P3', studyInstanceUid: 'ST.D', seriesInstanceUid: 'S.D' })),
  ]);
  assert.deepEqual(outcomes(results), [
    'stored',
    'ATRIUM_ERR_INGEST_CONFLICT',
    'ATRIUM_ERR_INGEST_DUPLICATE_REJECTED',
    'rename failed',
    'stored',
  ]);
  const stats = await db.archive.stats();
  assert.deepEqual([stats.patients, stats.studies, stats.series, stats.instances], [2, 2, 2, 3]);
  assert.equal(await db.archive.findInstance('C.1'), undefined);
  assert.equal((await db.archive.findInstance('1.9.1'))?.digest, 'd1');
  const study = await row<Record<string, unknown>>(db, 'study', ['study_instance_uid', '1.2.3.1']);
  assert.deepEqual([study['number_of_series'], study['number_of_instances']], [1, 2]);
  assert.deepEqual(
    (await db.archive.readChangeFeed({ limit: 100 })).map((f) => `${f.level}:${f.action}:${f.sopInstanceUid ?? f.studyInstanceUid}`),
    [
      'patient:created:null',
      'study:created:1.2.3.1',
      'series:created:1.2.3.1',
      'instance:created:1.9.1',
      'instance:created:A.1',
      'patient:created:null',
      'study:created:ST.D',
      'series:created:ST.D',
      'instance:created:D.1',
    ],
  );
});

/** Every row of the tables a commit writes, for comparing two databases. */
async function snapshot(db: AtriumDatabase) {
  const tables = ['patient', 'study', 'series', 'series_request_attribute', 'instance', 'instance_metadata', 'series_metadata', 'blob_intent'] as const;
  const rows: Record<string, unknown[]> = {};
  for (const table of tables) rows[table] = await db.kysely.selectFrom(table).selectAll().orderBy(sql`1`).execute();
  return { rows, feed: await db.archive.readChangeFeed({ limit: 1000 }), stats: await db.archive.stats() };
}

both('commitInstance - concurrent commits give the results, change feed and rows of one-at-a-time commits in call order', async (t, open) => {
  const inputs: CommitInstanceInput[] = [
    input({ sopInstanceUid: 'A.1', instanceNumber: 1 }, { stagingId: 's1' }),
    input({ sopInstanceUid: 'A.2', instanceNumber: 2, patientName: 'Roe^Jane' }, { stagingId: 's2' }),
    input({ sopInstanceUid: 'A.1', instanceNumber: 1 }, { stagingId: 's3' }),
    input({ sopInstanceUid: 'A.2', instanceNumber: 2 }, { digest: 'd2', stagingId: 's4' }),
    input({ sopInstanceUid: 'B.1', seriesInstanceUid: 'S.B', modality: 'PR', sopClassUid: '1.2.840.10008.5.1.4.1.1.11.1' }, { stagingId: 's5' }),
    input(
      { sopInstanceUid: 'A.1', seriesInstanceUid: 'S.B', modality: 'PR', sopClassUid: '1.2.840.10008.5.1.4.1.1.11.1' },
      { digest: 'd3', duplicatePolicy: 'replace', stagingId: 's6', blobKey: 'dicom/A.1-d3.dcm' },
    ),
    input({ sopInstanceUid: 'C.1', patientId: 'P2', studyInstanceUid: 'ST.2', seriesInstanceUid: 'S.C', extra: {
      '00400275': { vr: 'SQ', Value: [{ '00401001': { vr: 'SH', Value: ['RP-1'] } }] },
    } }, { stagingId: 's7' }),
    input({ sopInstanceUid: 'C.2', patientId: 'P9', studyInstanceUid: 'ST.2', seriesInstanceUid: 'S.C' }, { stagingId: 's8' }),
    input({ sopInstanceUid: 'C.3', patientId: 'P2', studyInstanceUid: 'ST.2', seriesInstanceUid: 'S.C' }, { stagingId: 's9' }),
  ];
  const sequential = await open(t);
  const one: PromiseSettledResult<CommitInstanceResult>[] = [];
  for (const i of inputs) one.push(...(await Promise.allSettled([sequential.archive.commitInstance(i)])));
  const concurrent = await open(t);
  const all = await Promise.allSettled(inputs.map((i) => concurrent.archive.commitInstance(i)));
  assert.deepEqual(outcomes(all), ['stored', 'stored', 'identical', 'kept-existing', 'stored', 'replaced', 'stored', 'ATRIUM_ERR_INGEST_CONFLICT', 'stored']);
  assert.deepEqual(all.map(settledValue), one.map(settledValue));
  assert.deepEqual(await snapshot(concurrent), await snapshot(sequential));
});

both('commitInstance - a delete in the same batch as new instances of its series counts them (their counts are owed until the commit)', async (t, open) => {
  const db = await open(t);
  await db.archive.commitInstance(input({ sopInstanceUid: 'X.1' }));
  // X.2 owes its counts to the transaction; the delete reads them to decide whether the series is now empty.
  const [stored, deleted, last] = await Promise.all([
    db.archive.commitInstance(input({ sopInstanceUid: 'X.2', instanceNumber: 2 })),
    db.archive.deleteInstance('X.1'),
    db.archive.commitInstance(input({ sopInstanceUid: 'X.3', instanceNumber: 3 })),
  ]);
  assert.equal(stored.outcome, 'stored');
  assert.equal(deleted?.sopInstanceUid, 'X.1');
  assert.equal(last.outcome, 'stored');
  const series = await row<Record<string, unknown>>(db, 'series', ['series_instance_uid', '1.2.3.1.1']);
  assert.deepEqual([series['number_of_instances'], series['total_bytes']], [2, 2000]);
  const study = await row<Record<string, unknown>>(db, 'study', ['study_instance_uid', '1.2.3.1']);
  assert.deepEqual([study['number_of_series'], study['number_of_instances']], [1, 2]);
  const patient = await row<Record<string, unknown>>(db, 'patient', ['patient_id', 'P1']);
  assert.deepEqual([patient['number_of_studies'], patient['number_of_series'], patient['number_of_instances']], [1, 1, 2]);
  assert.ok(await db.archive.findInstance('X.2'));
  assert.ok(await db.archive.findInstance('X.3'));
});

function settledValue(result: PromiseSettledResult<unknown>): unknown {
  return result.status === 'fulfilled' ? result.value : (result.reason as Error).message;
}

both('commitInstance - two copies of one SOP Instance in one batch: the later copies are decided against the first', async (t, open) => {
  const db = await open(t);
  const results = await Promise.allSettled([
    db.archive.commitInstance(input({ sopInstanceUid: 'X.1' }, { stagingId: 'a' })),
    db.archive.commitInstance(input({ sopInstanceUid: 'X.1' }, { stagingId: 'b' })),
    db.archive.commitInstance(input({ sopInstanceUid: 'X.1' }, { digest: 'd2', duplicatePolicy: 'replace', stagingId: 'c' })),
    db.archive.commitInstance(input({ sopInstanceUid: 'X.1' }, { digest: 'd3', duplicatePolicy: 'reject', stagingId: 'd' })),
  ]);
  assert.deepEqual(outcomes(results), ['stored', 'identical', 'replaced', 'ATRIUM_ERR_INGEST_DUPLICATE_REJECTED']);
  assert.equal((results[2] as PromiseFulfilledResult<CommitInstanceResult>).value.replacedBlobKey, 'dicom/X.1-d1.dcm');
  assert.equal((await db.archive.findInstance('X.1'))?.blobKey, 'dicom/X.1-d2.dcm');
  assert.deepEqual(
    (await db.archive.listBlobIntents()).map((i) => `${i.action}:${i.blobKey}:${i.stagingId}`).sort(),
    ['delete:dicom/X.1-d1.dcm:null', 'publish:dicom/X.1-d2.dcm:c'],
    "the first copy's publish intent became the replacement's delete intent",
  );
  const stats = await db.archive.stats();
  assert.deepEqual([stats.instances, stats.bytes], [1, 1000]);
});

test('commitInstance - resolves once its commit is flushed to disk, while the next batch commits meanwhile', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-batch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const handle = await openFile(join(dir, 'probe'), 'w');
  const prototype = Object.getPrototypeOf(handle) as { datasync: () => Promise<void> };
  await handle.close();
  const datasync = prototype.datasync;
  const held: Array<() => void> = [];
  prototype.datasync = function (this: unknown) {
    return new Promise<void>((resolve) => held.push(resolve)).then(() => datasync.call(this));
  };
  t.after(() => {
    prototype.datasync = datasync;
  });
  // The flush held here is the event loop's: the commit thread's flushes are its own thread's.
  const db = await openDatabase({ kind: 'sqlite', path: join(dir, 'index.sqlite'), synchronous: 'FULL', commitThread: false });
  t.after(() => db.close());
  const resolved: string[] = [];
  const first = db.archive.commitInstance(input({ sopInstanceUid: '1.9.1' })).then(() => resolved.push('1.9.1'));
  while (held.length === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  const second = db.archive.commitInstance(input({ sopInstanceUid: '1.9.2' })).then(() => resolved.push('1.9.2'));
  // The second batch commits while the first flush is still held: the instance is visible, not yet acknowledged.
  while ((await db.archive.findInstance('1.9.2')) === undefined) await new Promise<void>((resolve) => setImmediate(resolve));
  assert.deepEqual(resolved, []);
  held.shift()!();
  await first;
  assert.deepEqual(resolved, ['1.9.1'], 'the first commit is durable, the second waits for its own flush');
  while (held.length === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  held.shift()!();
  await second;
  assert.deepEqual(resolved, ['1.9.1', '1.9.2']);
  prototype.datasync = datasync;
});

test('findInstance - waits for a batch in progress instead of reading its uncommitted rows', async (t) => {
  const db = await open(t);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => (entered = resolve));
  const commit = db.archive.commitInstance(
    input({ sopInstanceUid: '1.9.1' }, {
      beforeCommit: async () => {
        entered();
        await gate;
      },
    }),
  );
  await inside;
  let found: unknown = 'pending';
  const lookup = db.archive.findInstance('1.9.1').then((f) => (found = f));
  await new Promise<void>((resolve) => setTimeout(resolve, 20));
  assert.equal(found, 'pending', 'the read waits for the batch');
  release();
  await commit;
  await lookup;
  assert.equal((found as { digest?: string } | undefined)?.digest, 'd1', 'and then sees it committed');
});

both('clearBlobIntents - clears any number of intents, in statements of a fixed size', async (t, open) => {
  const db = await open(t);
  await Promise.all(
    Array.from({ length: 70 }, (_, i) => db.archive.commitInstance(input({ sopInstanceUid: `I.${i}` }, { stagingId: `s${i}` }))),
  );
  const intents = await db.archive.listBlobIntents();
  assert.equal(intents.length, 70);
  await db.archive.clearBlobIntents([intents[0]!.blobKey]);
  assert.equal((await db.archive.listBlobIntents()).length, 69);
  await db.archive.clearBlobIntents(intents.map((i) => i.blobKey));
  assert.deepEqual(await db.archive.listBlobIntents(), []);
});
