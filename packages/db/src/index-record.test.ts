import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DicomJsonDataset } from '@atrium/dicom';
import { extractIndexRecord, normalizeDate, normalizeTime, personNameColumns } from './index-record.js';

const dataset: DicomJsonDataset = {
  '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
  '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.4'] },
  '00080018': { vr: 'UI', Value: ['1.2.3.4.5.6.7'] },
  '00080020': { vr: 'DA', Value: ['20240229'] },
  '00080021': { vr: 'DA', Value: ['2024.02.29'] },
  '00080023': { vr: 'DA', Value: ['20240229'] },
  '00080030': { vr: 'TM', Value: ['0930'] },
  '00080031': { vr: 'TM', Value: ['09:31:02'] },
  '00080033': { vr: 'TM', Value: ['093105.123'] },
  '00080050': { vr: 'SH', Value: ['ACC-77'] },
  '00080051': { vr: 'SQ', Value: [{ '00400031': { vr: 'UT', Value: ['HOSP-A'] } }] },
  '00080060': { vr: 'CS', Value: ['MR'] },
  '00080070': { vr: 'LO', Value: ['ACME Medical'] },
  '00080080': { vr: 'LO', Value: ['Saint Example'] },
  '00080090': { vr: 'PN', Value: [{ Alphabetic: 'Who^Doctor^^^' }] },
  '00081010': { vr: 'SH', Value: ['MR1'] },
  '00081030': { vr: 'LO', Value: ['Brain w/o contrast'] },
  '0008103E': { vr: 'LO', Value: ['T1 axial'] },
  '00100010': {
    vr: 'PN',
    Value: [{ Alphabetic: 'Müller^Jürgen', Ideographic: 'ミュラー^ユルゲン', Phonetic: 'みゅらー^ゆるげん' }],
  },
  '00100020': { vr: 'LO', Value: ['PID-1'] },
  '00100021': { vr: 'LO', Value: ['HOSP-A'] },
  '00100030': { vr: 'DA', Value: ['19800115'] },
  '00100032': { vr: 'TM', Value: ['2359'] },
  '00100040': { vr: 'CS', Value: ['m'] },
  '00101000': { vr: 'LO', Value: ['OLD-1', 'OLD-2'] },
  '00101002': { vr: 'SQ', Value: [{ '00100020': { vr: 'LO', Value: ['OTHER-9'] } }, { '00100020': { vr: 'LO', Value: ['OLD-1'] } }] },
  '00180015': { vr: 'CS', Value: ['HEAD'] },
  '0020000D': { vr: 'UI', Value: ['1.2.3.4'] },
  '0020000E': { vr: 'UI', Value: ['1.2.3.4.5'] },
  '00200010': { vr: 'SH', Value: ['S1'] },
  '00200011': { vr: 'IS', Value: ['7'] },
  '00200013': { vr: 'IS', Value: [12] },
  '00200060': { vr: 'CS', Value: ['L'] },
  '00280008': { vr: 'IS', Value: ['25'] },
  '00280010': { vr: 'US', Value: [256] },
  '00280011': { vr: 'US', Value: [192] },
  '00280100': { vr: 'US', Value: [16] },
  '00400244': { vr: 'DA', Value: ['20240229'] },
  '00400245': { vr: 'TM', Value: ['091500'] },
  '00400275': {
    vr: 'SQ',
    Value: [
      {
        '00400009': { vr: 'SH', Value: ['SPS-1'] },
        '00401001': { vr: 'SH', Value: ['RP-1'] },
        '00080050': { vr: 'SH', Value: ['ACC-77'] },
      },
      { '00401001': { vr: 'SH', Value: ['RP-2'] } },
    ],
  },
};

test('extractIndexRecord - fills every level from hand-built DICOM JSON', () => {
  const record = extractIndexRecord(dataset);
  assert.deepEqual(record.patient, {
    patientId: 'PID-1',
    issuerOfPatientId: 'HOSP-A',
    patientName: 'Müller^Jürgen=ミュラー^ユルゲン=みゅらー^ゆるげん',
    patientNameSearch: 'MÜLLER^JÜRGEN',
    patientNameIdeographic: 'ミュラー^ユルゲン',
    patientNamePhonetic: 'みゅらー^ゆるげん',
    patientBirthDate: '19800115',
    patientBirthTime: '235900.000000',
    patientSex: 'M',
    otherPatientIds: 'OLD-1\\OLD-2\\OTHER-9',
  });
  assert.deepEqual(record.study, {
    studyInstanceUid: '1.2.3.4',
    studyDate: '20240229',
    studyTime: '093000.000000',
    accessionNumber: 'ACC-77',
    issuerOfAccessionNumber: 'HOSP-A',
    studyId: 'S1',
    studyDescription: 'Brain w/o contrast',
    referringPhysicianName: 'Who^Doctor',
    referringPhysicianNameSearch: 'WHO^DOCTOR',
    specificCharacterSet: 'ISO_IR 192',
  });
  assert.deepEqual(record.series, {
    seriesInstanceUid: '1.2.3.4.5',
    modality: 'MR',
    seriesNumber: 7,
    seriesDescription: 'T1 axial',
    seriesDate: '20240229',
    seriesTime: '093102.000000',
    bodyPartExamined: 'HEAD',
    laterality: 'L',
    performedProcedureStepStartDate: '20240229',
    performedProcedureStepStartTime: '091500.000000',
    institutionName: 'Saint Example',
    stationName: 'MR1',
    manufacturer: 'ACME Medical',
    requestAttributes: [
      { scheduledProcedureStepId: 'SPS-1', requestedProcedureId: 'RP-1', accessionNumber: 'ACC-77' },
      { scheduledProcedureStepId: null, requestedProcedureId: 'RP-2', accessionNumber: null },
    ],
  });
  assert.deepEqual(record.instance, {
    sopInstanceUid: '1.2.3.4.5.6.7',
    sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
    instanceNumber: 12,
    numberOfFrames: 25,
    rows: 256,
    columns: 192,
    bitsAllocated: 16,
    contentDate: '20240229',
    contentTime: '093105.123000',
  });
});

test('extractIndexRecord - absent attributes are null and the patient identity pair is empty text', () => {
  const record = extractIndexRecord({
    '0020000D': { vr: 'UI', Value: ['1.2'] },
    '0020000E': { vr: 'UI', Value: ['1.2.1'] },
    '00080018': { vr: 'UI', Value: ['1.2.1.1'] },
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.7'] },
    '00100010': { vr: 'PN' },
    '00200013': { vr: 'IS', Value: ['not a number'] },
    '00080020': { vr: 'DA', Value: ['2024-01-01'] },
  });
  assert.equal(record.patient.patientId, '');
  assert.equal(record.patient.issuerOfPatientId, '');
  assert.equal(record.patient.patientName, null);
  assert.equal(record.patient.patientNameSearch, null);
  assert.equal(record.study.studyDate, null, 'an ISO date is not a DA value');
  assert.equal(record.instance.instanceNumber, null);
  assert.equal(record.series.modality, null);
  assert.deepEqual(record.series.requestAttributes, []);
});

test('extractIndexRecord - SOP UIDs fall back to the file meta information; missing UIDs are coded errors', () => {
  const record = extractIndexRecord(
    { '0020000D': { vr: 'UI', Value: ['1.2'] }, '0020000E': { vr: 'UI', Value: ['1.2.1'] } },
    {
      '00020002': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
      '00020003': { vr: 'UI', Value: ['1.2.1.9'] },
    },
  );
  assert.equal(record.instance.sopInstanceUid, '1.2.1.9');
  assert.equal(record.instance.sopClassUid, '1.2.840.10008.5.1.4.1.1.2');
  assert.throws(
    () => extractIndexRecord({ '0020000E': { vr: 'UI', Value: ['1.2.1'] } }),
    (error: { code?: string; message: string; dicomStatus?: number }) => {
      assert.equal(error.code, 'ATRIUM_ERR_DB_MISSING_ATTRIBUTE');
      assert.equal(error.dicomStatus, 0xa900);
      assert.match(error.message, /StudyInstanceUID/);
      return true;
    },
  );
});

test('normalizeDate - accepts DA and ACR-NEMA dates, refuses others', () => {
  assert.equal(normalizeDate('20231231'), '20231231');
  assert.equal(normalizeDate('2023.12.31'), '20231231');
  assert.equal(normalizeDate('20231331'), null);
  assert.equal(normalizeDate('2023'), null);
  assert.equal(normalizeDate(null), null);
});

test('normalizeTime - pads partial times to HHMMSS.ffffff so text order is time order', () => {
  assert.equal(normalizeTime('07'), '070000.000000');
  assert.equal(normalizeTime('0705'), '070500.000000');
  assert.equal(normalizeTime('070509.5'), '070509.500000');
  assert.equal(normalizeTime('070509.123456'), '070509.123456');
  assert.equal(normalizeTime('07:05:09'), '070509.000000');
  assert.equal(normalizeTime('2500'), null);
  assert.equal(normalizeTime('abc'), null);
  assert.ok(normalizeTime('0930')! < normalizeTime('093000.5')!);
});

test('personNameColumns - multi-valued names and bare strings', () => {
  const columns = personNameColumns(
    { '00081060': { vr: 'PN', Value: [{ Alphabetic: 'Smith^Ann' }, 'Brown^Bob', { Ideographic: '山田^太郎' }] } },
    '00081060',
  );
  assert.equal(columns.raw, 'Smith^Ann\\Brown^Bob\\=山田^太郎');
  assert.equal(columns.search, 'SMITH^ANN\\BROWN^BOB\\');
  assert.equal(columns.ideographic, '\\\\山田^太郎');
});
