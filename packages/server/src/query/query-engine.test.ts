import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DicomJsonDataset } from '@atrium/dicom';
import { openDatabase, type AtriumDatabase } from '@atrium/db';
import { qidoDefaultReturnKeys, supportedMatchingKeys } from './catalogue.js';
import { QueryError } from './errors.js';
import { QueryEngine, type QueryRequest } from './query-engine.js';
import { commitSynthetic, type SyntheticInstance } from './query-test-support.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const SR = '1.2.840.10008.5.1.4.1.1.88.11';

const P1 = { patientId: 'P1', patientName: 'Doe^John', extra: { '00100030': { vr: 'DA' as const, Value: ['19700101'] } } };
const P2 = { patientId: 'P2', patientName: 'Müller^Jürgen' };
const P3 = {
  patientId: 'P3',
  issuerOfPatientId: 'HOSP',
  patientName: { Alphabetic: 'Smith^Anna', Ideographic: 'スミス^アンナ' },
  extra: { '00101000': { vr: 'LO' as const, Value: ['OLD-7', 'OLD-8'] } },
};

const FIXTURE: SyntheticInstance[] = [
  {
    ...P1,
    sopInstanceUid: '1.2.1.1.1',
    seriesInstanceUid: '1.2.1.1',
    studyInstanceUid: '1.2.1',
    studyDate: '20240115',
    studyTime: '101500',
    accessionNumber: 'ACC100%',
    instanceNumber: 1,
    extra: {
      ...P1.extra,
      '00081030': { vr: 'LO', Value: ['CT CHEST'] },
      '00080090': { vr: 'PN', Value: [{ Alphabetic: 'Welby^Marcus' }] },
      '00101010': { vr: 'AS', Value: ['054Y'] },
      '00080201': { vr: 'SH', Value: ['+0100'] },
      '00180050': { vr: 'DS', Value: [1.25] },
      '00400275': {
        vr: 'SQ',
        Value: [
          {
            '00400009': { vr: 'SH', Value: ['SPS1'] },
            '00401001': { vr: 'SH', Value: ['RP1'] },
            '00080050': { vr: 'SH', Value: ['ACC100%'] },
          },
        ],
      },
    },
  },
  { ...P1, sopInstanceUid: '1.2.1.1.2', seriesInstanceUid: '1.2.1.1', studyInstanceUid: '1.2.1', studyDate: '20240115', studyTime: '101500', accessionNumber: 'ACC100%', instanceNumber: 2 },
  { ...P1, sopInstanceUid: '1.2.1.2.1', seriesInstanceUid: '1.2.1.2', studyInstanceUid: '1.2.1', studyDate: '20240115', studyTime: '101500', accessionNumber: 'ACC100%', modality: 'SR', sopClassUid: SR, seriesNumber: 2 },
  { ...P1, sopInstanceUid: '1.2.2.1.1', seriesInstanceUid: '1.2.2.1', studyInstanceUid: '1.2.2', studyDate: '20240301', studyTime: '230000', accessionNumber: 'ACC_200', modality: 'MR' },
  {
    ...P2,
    sopInstanceUid: '1.2.3.1.1',
    seriesInstanceUid: '1.2.3.1',
    studyInstanceUid: '1.2.3',
    studyDate: '20231231',
    studyTime: '080000',
    accessionNumber: 'ACC1000',
    extra: { '00080090': { vr: 'PN', Value: [{ Alphabetic: 'Doe^Jane' }] }, '00081030': { vr: 'LO', Value: ['Thorax nativ'] } },
  },
  { ...P3, sopInstanceUid: '1.2.4.1.1', seriesInstanceUid: '1.2.4.1', studyInstanceUid: '1.2.4', accessionNumber: 'X[1]', modality: 'US' },
];

const STUDY_ROOT_STUDY = (keys: DicomJsonDataset, extra: Partial<QueryRequest> = {}): QueryRequest => ({
  level: 'STUDY',
  model: 'STUDY_ROOT',
  keys: { '0020000D': { vr: 'UI' }, ...keys },
  ...extra,
});

const text = (vr: 'SH' | 'LO' | 'CS' | 'DA' | 'TM' | 'UI' | 'IS' | 'AE', ...values: Array<string | number>) => ({ vr, Value: values });
const pn = (alphabetic: string, ideographic?: string) => ({
  vr: 'PN' as const,
  Value: [{ Alphabetic: alphabetic, ...(ideographic ? { Ideographic: ideographic } : {}) }],
});

async function collect(engine: QueryEngine, request: QueryRequest): Promise<DicomJsonDataset[]> {
  const out: DicomJsonDataset[] = [];
  for await (const result of engine.find(request)) out.push(result);
  return out;
}

function uidsOf(results: DicomJsonDataset[], tag = '0020000D'): string[] {
  return results.map((r) => String(r[tag]?.Value?.[0])).sort();
}

async function rejects(promise: Promise<unknown>, code: string, key?: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof QueryError, `expected QueryError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (key !== undefined) assert.equal(error.key, key);
    assert.equal(error.httpStatus, 400);
    return true;
  });
}

describe('QueryEngine', () => {
  let database: AtriumDatabase;
  let engine: QueryEngine;
  const studies = (keys: DicomJsonDataset, extra: Partial<QueryRequest> = {}) =>
    collect(engine, STUDY_ROOT_STUDY(keys, extra)).then((r) => uidsOf(r));

  before(async () => {
    database = await openDatabase({ kind: 'sqlite', path: ':memory:' });
    await commitSynthetic(database, FIXTURE);
    engine = new QueryEngine({ database, retrieveAeTitle: 'ATRIUM', pageSize: 2 });
  });
  after(async () => database.close());

  test('universal matching - every study, with exactly the requested keys', async () => {
    const results = await collect(engine, STUDY_ROOT_STUDY({ '00080050': { vr: 'SH' }, '00080052': text('CS', 'STUDY') }));
    assert.deepEqual(uidsOf(results), ['1.2.1', '1.2.2', '1.2.3', '1.2.4']);
    const first = results.find((r) => r['0020000D']?.Value?.[0] === '1.2.1')!;
    assert.deepEqual(first, {
      '00080050': { vr: 'SH', Value: ['ACC100%'] },
      '00080052': { vr: 'CS', Value: ['STUDY'] },
      '0020000D': { vr: 'UI', Value: ['1.2.1'] },
    });
  });

  test('single value matching - exact and case-sensitive for SH', async () => {
    assert.deepEqual(await studies({ '00080050': text('SH', 'ACC1000') }), ['1.2.3']);
    assert.deepEqual(await studies({ '00080050': text('SH', 'acc1000') }), []);
    assert.deepEqual(await studies({ '00080050': text('SH', 'ACC100%') }), ['1.2.1']);
  });

  test('wildcard matching - * and ? translate safely, % _ [ are literal', async () => {
    assert.deepEqual(await studies({ '00080050': text('SH', 'ACC1*') }), ['1.2.1', '1.2.3']);
    assert.deepEqual(await studies({ '00080050': text('SH', 'ACC100?') }), ['1.2.1', '1.2.3']);
    assert.deepEqual(await studies({ '00080050': text('SH', 'ACC_*') }), ['1.2.2']);
    assert.deepEqual(await studies({ '00080050': text('SH', 'ACC%') }), []);
    assert.deepEqual(await studies({ '00080050': text('SH', '*%') }), ['1.2.1']);
    assert.deepEqual(await studies({ '00080050': text('SH', 'X[*') }), ['1.2.4']);
    assert.deepEqual(await studies({ '00080050': text('SH', 'X[1]') }), ['1.2.4']);
    assert.deepEqual(await studies({ '00080050': text('SH', '*') }), ['1.2.1', '1.2.2', '1.2.3', '1.2.4']);
    assert.deepEqual(await studies({ '00081030': text('LO', '*nativ') }), ['1.2.3']);
  });

  test('person name - case-insensitive by default, wildcards on the normalised column', async () => {
    assert.deepEqual(await studies({ '00100010': pn('doe^john') }), ['1.2.1', '1.2.2']);
    assert.deepEqual(await studies({ '00100010': pn('DOE^JOHN^^') }), ['1.2.1', '1.2.2']);
    assert.deepEqual(await studies({ '00100010': pn('do*') }), ['1.2.1', '1.2.2']);
    assert.deepEqual(await studies({ '00100010': pn('müller*') }), ['1.2.3']);
    assert.deepEqual(await studies({ '00100010': pn('*JÜRGEN') }), ['1.2.3']);
    assert.deepEqual(await studies({ '00100010': pn('DOE') }), []);
    assert.deepEqual(await studies({ '00080090': pn('doe*') }), ['1.2.3']);
    assert.deepEqual(await studies({ '00100010': pn('', 'スミス*') }), ['1.2.4']);
    assert.deepEqual(await studies({ '00100010': { vr: 'PN', Value: ['Smith^Anna=スミス^アンナ'] } }), ['1.2.4']);
  });

  test('person name - fuzzy ignores accents, case and component order, matching prefixes', async () => {
    const fuzzy = { fuzzyMatching: true };
    assert.deepEqual(await studies({ '00100010': pn('john doe') }, fuzzy), ['1.2.1', '1.2.2']);
    assert.deepEqual(await studies({ '00100010': pn('muller') }, fuzzy), ['1.2.3']);
    assert.deepEqual(await studies({ '00100010': pn('JURG^MUL') }, fuzzy), ['1.2.3']);
    assert.deepEqual(await studies({ '00100010': pn('jo') }, fuzzy), ['1.2.1', '1.2.2']);
    assert.deepEqual(await studies({ '00100010': pn('anna jo') }, fuzzy), []);
    assert.equal(await engine.count(STUDY_ROOT_STUDY({ '00100010': pn('doe') }, fuzzy)), 2);
  });

  test('range matching - dates with both ends, open ends and single dates', async () => {
    assert.deepEqual(await studies({ '00080020': text('DA', '20240101-20240131') }), ['1.2.1']);
    assert.deepEqual(await studies({ '00080020': text('DA', '-20231231') }), ['1.2.3']);
    assert.deepEqual(await studies({ '00080020': text('DA', '20240201-') }), ['1.2.2']);
    assert.deepEqual(await studies({ '00080020': text('DA', '20240115') }), ['1.2.1']);
    assert.deepEqual(await studies({ '00080020': text('DA', '2024.01.15') }), ['1.2.1']);
    await rejects(studies({ '00080020': text('DA', '2024-01-01') }), 'ATRIUM_ERR_QUERY_INVALID_VALUE', 'StudyDate');
    await rejects(studies({ '00080020': text('DA', '20240201-20240101') }), 'ATRIUM_ERR_QUERY_INVALID_VALUE');
  });

  test('range matching - times, and StudyDate with StudyTime ranges as one date-time range (C.2.2.2.5.1)', async () => {
    assert.deepEqual(await studies({ '00080030': text('TM', '1015') }), ['1.2.1']);
    assert.deepEqual(await studies({ '00080030': text('TM', '120000-') }), ['1.2.2']);
    assert.deepEqual(await studies({ '00080030': text('TM', '-0900') }), ['1.2.3']);
    // 2024-01-15 10:15 is before the combined lower bound 2024-01-15 12:00; 2024-03-01 23:00 is within.
    assert.deepEqual(await studies({ '00080020': text('DA', '20240115-20240301'), '00080030': text('TM', '1200-') }), ['1.2.2']);
    // Combined: from 2023-12-31 09:00 to 2024-03-01 23:30 includes 2024-01-15 10:15, which separate ranges would not.
    assert.deepEqual(
      await studies({ '00080020': text('DA', '20231231-20240301'), '00080030': text('TM', '0900-2330') }),
      ['1.2.1', '1.2.2'],
    );
    assert.deepEqual(await studies({ '00080020': text('DA', '20231231-20240301'), '00080030': text('TM', '0900') }), []);
  });

  test('list of UID matching - any listed UID; wildcards in UIDs are refused', async () => {
    assert.deepEqual(await studies({ '0020000D': text('UI', '1.2.1', '1.2.3') }), ['1.2.1', '1.2.3']);
    assert.deepEqual(await studies({ '0020000D': text('UI', '1.2.4\\1.2.2') }), ['1.2.2', '1.2.4']);
    await rejects(studies({ '0020000D': text('UI', '1.2.*') }), 'ATRIUM_ERR_QUERY_INVALID_VALUE', 'StudyInstanceUID');
  });

  test('ModalitiesInStudy - matches a study holding any listed modality, returns all of its modalities', async () => {
    const results = await collect(engine, STUDY_ROOT_STUDY({ '00080061': text('CS', 'SR') }));
    assert.deepEqual(uidsOf(results), ['1.2.1']);
    assert.deepEqual(results[0]!['00080061'], { vr: 'CS', Value: ['CT', 'SR'] });
    assert.deepEqual(await studies({ '00080061': text('CS', 'MR', 'US') }), ['1.2.2', '1.2.4']);
    assert.deepEqual(await studies({ '00080061': text('CS', 'C*') }), ['1.2.1', '1.2.3']);
    assert.deepEqual(await studies({ '00080062': text('UI', SR) }), ['1.2.1']);
  });

  test('patient keys - issuer, other IDs, birth date at patient level (Patient Root)', async () => {
    const patients = (keys: DicomJsonDataset) =>
      collect(engine, { level: 'PATIENT', model: 'PATIENT_ROOT', keys }).then((r) => uidsOf(r, '00100020'));
    assert.deepEqual(await patients({ '00100021': text('LO', 'HOSP') }), ['P3']);
    assert.deepEqual(await patients({ '00101000': text('LO', 'OLD-8') }), ['P3']);
    assert.deepEqual(await patients({ '00101000': text('LO', 'OLD*') }), ['P3']);
    assert.deepEqual(await patients({ '00100030': text('DA', '19600101-19751231') }), ['P1']);
    const [p1] = await collect(engine, {
      level: 'PATIENT',
      model: 'PATIENT_ROOT',
      keys: { '00100020': text('LO', 'P1'), '00201200': { vr: 'IS' }, '00201204': { vr: 'IS' }, '00100010': { vr: 'PN' } },
    });
    assert.deepEqual(p1, {
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }] },
      '00100020': { vr: 'LO', Value: ['P1'] },
      '00201200': { vr: 'IS', Value: [2] },
      '00201204': { vr: 'IS', Value: [4] },
    });
  });

  test('sequence matching - RequestAttributesSequence item keys match within one item', async () => {
    const series = (item: DicomJsonDataset) =>
      collect(engine, {
        level: 'SERIES',
        model: 'STUDY_ROOT',
        relational: true,
        keys: { '0020000E': { vr: 'UI' }, '00400275': { vr: 'SQ', Value: [item] } },
      });
    const found = await series({ '00401001': text('SH', 'RP1') });
    assert.deepEqual(uidsOf(found, '0020000E'), ['1.2.1.1']);
    assert.deepEqual(found[0]!['00400275'], {
      vr: 'SQ',
      Value: [{ '00401001': { vr: 'SH', Value: ['RP1'] } }],
    });
    assert.deepEqual(uidsOf(await series({ '00400009': text('SH', 'SPS1'), '00080050': text('SH', 'ACC1*') }), '0020000E'), ['1.2.1.1']);
    assert.deepEqual(await series({ '00400009': text('SH', 'SPS1'), '00401001': text('SH', 'RP2') }), []);
    await rejects(series({ '00400007': text('LO', 'x') }), 'ATRIUM_ERR_QUERY_UNSUPPORTED_KEY', 'RequestAttributesSequence>00400007');
    // An empty item is a return key: every item, every item key.
    const all = await series({});
    assert.deepEqual(all.find((r) => r['0020000E']?.Value?.[0] === '1.2.1.1')!['00400275']!.Value, [
      {
        '00400009': { vr: 'SH', Value: ['SPS1'] },
        '00401001': { vr: 'SH', Value: ['RP1'] },
        '00080050': { vr: 'SH', Value: ['ACC100%'] },
      },
    ]);
  });

  test('unsupported keys - a coded error naming the key, never a silent wildcard', async () => {
    await rejects(studies({ '00101010': { vr: 'AS', Value: ['054Y'] } }), 'ATRIUM_ERR_QUERY_UNSUPPORTED_KEY', 'PatientAge');
    await rejects(studies({ '00201208': text('IS', 3) }), 'ATRIUM_ERR_QUERY_UNSUPPORTED_KEY', 'NumberOfStudyRelatedInstances');
    await rejects(studies({ '00080018': text('UI', '1.2.1.1.1') }), 'ATRIUM_ERR_QUERY_UNSUPPORTED_KEY', 'SOPInstanceUID');
    const error = await engine.find(STUDY_ROOT_STUDY({ '00101010': { vr: 'AS', Value: ['054Y'] } })).next().catch((e: QueryError) => e);
    assert.ok(error instanceof QueryError);
    assert.equal(error.dicomStatus, 0xa900);
    assert.match(error.message, /^Cannot match on PatientAge: /);
    // Keys describing the request itself never match.
    assert.equal((await studies({ '00080005': text('CS', 'ISO_IR 100'), '00080201': text('SH', '+0100') })).length, 4);
  });

  test('hierarchical rules - unique keys of the levels above are required unless relational', async () => {
    await rejects(collect(engine, { level: 'STUDY', model: 'PATIENT_ROOT', keys: {} }), 'ATRIUM_ERR_QUERY_MISSING_UNIQUE_KEY', 'PatientID');
    await rejects(collect(engine, { level: 'SERIES', model: 'STUDY_ROOT', keys: {} }), 'ATRIUM_ERR_QUERY_MISSING_UNIQUE_KEY', 'StudyInstanceUID');
    await rejects(
      collect(engine, { level: 'IMAGE', model: 'STUDY_ROOT', keys: { '0020000D': text('UI', '1.2.1') } }),
      'ATRIUM_ERR_QUERY_MISSING_UNIQUE_KEY',
      'SeriesInstanceUID',
    );
    await rejects(
      collect(engine, { level: 'STUDY', model: 'PATIENT_ROOT', keys: { '00100020': text('LO', 'P*') } }),
      'ATRIUM_ERR_QUERY_MISSING_UNIQUE_KEY',
    );
    await rejects(collect(engine, { level: 'PATIENT', model: 'STUDY_ROOT', keys: {} }), 'ATRIUM_ERR_QUERY_INVALID_REQUEST');
    const underP1 = await collect(engine, { level: 'STUDY', model: 'PATIENT_ROOT', keys: { '00100020': text('LO', 'P1') } });
    assert.deepEqual(uidsOf(underP1), ['1.2.1', '1.2.2']);
    const relational = await collect(engine, { level: 'STUDY', model: 'PATIENT_ROOT', relational: true, keys: {} });
    assert.equal(relational.length, 4);
    const images = await collect(engine, {
      level: 'IMAGE',
      model: 'PATIENT_ROOT',
      keys: { '00100020': text('LO', 'P1'), '0020000D': text('UI', '1.2.1'), '0020000E': text('UI', '1.2.1.1'), '00200013': { vr: 'IS' } },
    });
    assert.deepEqual(images.map((r) => r['00200013']?.Value?.[0]), [1, 2]);
    const relationalSeries = await collect(engine, { level: 'SERIES', model: 'STUDY_ROOT', relational: true, keys: { '00080060': text('CS', 'MR') } });
    assert.deepEqual(uidsOf(relationalSeries, '0020000E'), ['1.2.2.1']);
  });

  test('return keys - QIDO required keys are present and answered at each level', async () => {
    const keysOf = (tags: string[]): DicomJsonDataset => Object.fromEntries(tags.map((t) => [t, { vr: 'UN' as const }]));
    const [study] = await collect(engine, STUDY_ROOT_STUDY({ ...keysOf(qidoDefaultReturnKeys('STUDY')), '0020000D': text('UI', '1.2.1') }));
    assert.ok(study);
    for (const tag of qidoDefaultReturnKeys('STUDY')) assert.ok(tag in study, `study result lacks ${tag}`);
    assert.deepEqual(study['00201206']?.Value, [2]);
    assert.deepEqual(study['00201208']?.Value, [3]);
    assert.deepEqual(study['00080061']?.Value, ['CT', 'SR']);
    assert.deepEqual(study['00080056']?.Value, ['ONLINE']);
    assert.deepEqual(study['00080030']?.Value, ['101500']);
    assert.deepEqual(study['00080090']?.Value, [{ Alphabetic: 'Welby^Marcus' }]);
    assert.deepEqual(study['00080201']?.Value, ['+0100']); // from the stored document of the first instance
    assert.deepEqual(study['00080005'], { vr: 'CS' }); // all ASCII: default repertoire

    const [instance] = await collect(engine, {
      level: 'IMAGE',
      model: 'STUDY_ROOT',
      keys: {
        ...keysOf(qidoDefaultReturnKeys('IMAGE', true)),
        '0020000D': text('UI', '1.2.1'),
        '0020000E': text('UI', '1.2.1.1'),
        '00200013': text('IS', 1),
        '00180050': { vr: 'DS' },
        '00080054': { vr: 'AE' },
        '7FE00010': { vr: 'OW' },
      },
    });
    assert.ok(instance);
    for (const tag of qidoDefaultReturnKeys('IMAGE', true)) assert.ok(tag in instance, `instance result lacks ${tag}`);
    assert.deepEqual(instance['00080016']?.Value, [CT]);
    assert.deepEqual(instance['00080018']?.Value, ['1.2.1.1.1']);
    assert.deepEqual(instance['00280010']?.Value, [512]);
    assert.deepEqual(instance['00280100']?.Value, [16]);
    assert.deepEqual(instance['00280008'], { vr: 'IS' });
    assert.deepEqual(instance['00180050'], { vr: 'DS', Value: [1.25] });
    assert.deepEqual(instance['00080054'], { vr: 'AE', Value: ['ATRIUM'] });
    assert.deepEqual(instance['7FE00010'], { vr: 'OW' }, 'bulk data is never returned by a query');
    assert.deepEqual(instance['00201206']?.Value, [2]);

    const [series] = await collect(engine, {
      level: 'SERIES',
      model: 'STUDY_ROOT',
      keys: { ...keysOf(qidoDefaultReturnKeys('SERIES')), '0020000D': text('UI', '1.2.1'), '00200011': text('IS', 2) },
    });
    assert.ok(series);
    for (const tag of qidoDefaultReturnKeys('SERIES')) assert.ok(tag in series, `series result lacks ${tag}`);
    assert.deepEqual(series['00080060']?.Value, ['SR']);
    assert.deepEqual(series['00201209']?.Value, [1]);

    const [all] = await collect(engine, STUDY_ROOT_STUDY({ '0020000D': text('UI', '1.2.3') }, { includeAllFields: true }));
    assert.ok(all);
    for (const k of supportedMatchingKeys('STUDY')) assert.ok(k.tag in all, `includefield=all lacks ${k.keyword}`);
    assert.deepEqual(all['00080054']?.Value, ['ATRIUM']);
  });

  test('return keys - attributes without a column come from the first stored instance of each level', async () => {
    const [patient] = await collect(engine, {
      level: 'PATIENT',
      model: 'PATIENT_ROOT',
      keys: { '00100020': text('LO', 'P1'), '00101010': { vr: 'AS' } },
    });
    assert.deepEqual(patient?.['00101010'], { vr: 'AS', Value: ['054Y'] });
    const series = await collect(engine, {
      level: 'SERIES',
      model: 'STUDY_ROOT',
      keys: { '0020000D': text('UI', '1.2.1'), '00180050': { vr: 'DS' } },
    });
    const bySeries = new Map(series.map((r) => [r['0020000E']?.Value?.[0], r['00180050']]));
    assert.deepEqual(bySeries.get('1.2.1.1'), { vr: 'DS', Value: [1.25] });
    assert.deepEqual(bySeries.get('1.2.1.2'), { vr: 'DS' });
  });

  test('character set - ISO_IR 192 whenever a returned value is not ASCII', async () => {
    const results = await collect(engine, STUDY_ROOT_STUDY({ '00100010': { vr: 'PN' } }));
    const byUid = new Map(results.map((r) => [r['0020000D']?.Value?.[0], r]));
    assert.deepEqual(byUid.get('1.2.3')!['00080005'], { vr: 'CS', Value: ['ISO_IR 192'] });
    assert.deepEqual(byUid.get('1.2.3')!['00100010']?.Value, [{ Alphabetic: 'Müller^Jürgen' }]);
    assert.equal(byUid.get('1.2.1')!['00080005'], undefined);
    assert.deepEqual(byUid.get('1.2.4')!['00100010']?.Value, [{ Alphabetic: 'Smith^Anna', Ideographic: 'スミス^アンナ' }]);
  });

  test('limit, offset and count - pages across SQL pages, count ignores both', async () => {
    const all = uidsOf(await collect(engine, STUDY_ROOT_STUDY({})));
    const page = await collect(engine, STUDY_ROOT_STUDY({}, { limit: 2, offset: 1 }));
    assert.equal(page.length, 2);
    const inOrder = (await collect(engine, STUDY_ROOT_STUDY({}))).map((r) => r['0020000D']?.Value?.[0]);
    assert.deepEqual(page.map((r) => r['0020000D']?.Value?.[0]), inOrder.slice(1, 3));
    assert.equal((await collect(engine, STUDY_ROOT_STUDY({}, { offset: 3 }))).length, 1);
    assert.equal((await collect(engine, STUDY_ROOT_STUDY({}, { limit: 0 }))).length, 0);
    assert.equal(await engine.count(STUDY_ROOT_STUDY({}, { limit: 1 })), all.length);
    assert.equal(await engine.count(STUDY_ROOT_STUDY({ '00080050': text('SH', 'ACC*') })), 3);
    const fuzzyPage = await collect(engine, STUDY_ROOT_STUDY({ '00100010': pn('doe') }, { fuzzyMatching: true, offset: 1 }));
    assert.equal(fuzzyPage.length, 1);
    await rejects(collect(engine, STUDY_ROOT_STUDY({}, { limit: -1 })), 'ATRIUM_ERR_QUERY_INVALID_REQUEST');
  });

  test('cancel - iteration stops once the signal aborts', async () => {
    const controller = new AbortController();
    const seen: DicomJsonDataset[] = [];
    for await (const result of engine.find(STUDY_ROOT_STUDY({}, { signal: controller.signal }))) {
      seen.push(result);
      controller.abort();
    }
    assert.equal(seen.length, 1);
  });

  test('integer keys - SeriesNumber single value and refusal of non-integers', async () => {
    const series = (value: string | number) =>
      collect(engine, { level: 'SERIES', model: 'STUDY_ROOT', keys: { '0020000D': text('UI', '1.2.1'), '00200011': text('IS', value) } });
    assert.deepEqual(uidsOf(await series(2), '0020000E'), ['1.2.1.2']);
    await rejects(series('2*'), 'ATRIUM_ERR_QUERY_INVALID_VALUE', 'SeriesNumber');
  });
});
