import type { DicomJsonDataset, ParsedInstance } from '@atrium/dicom';
import type { AtriumDatabase } from '@atrium/db';

/** What a synthetic instance differs in; everything else gets a plausible CT value. For tests and benchmarks. */
export interface SyntheticInstance {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  patientId: string;
  patientName?: string | { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
  issuerOfPatientId?: string;
  sopClassUid?: string;
  modality?: string;
  studyDate?: string;
  studyTime?: string;
  accessionNumber?: string;
  instanceNumber?: number;
  seriesNumber?: number;
  /** Any further attributes, merged last. */
  extra?: DicomJsonDataset;
}

/** A `ParsedInstance` as the streaming reader would produce it, built in memory. */
export function syntheticInstance(spec: SyntheticInstance): ParsedInstance {
  const name = typeof spec.patientName === 'string' ? { Alphabetic: spec.patientName } : (spec.patientName ?? { Alphabetic: 'Doe^Jane' });
  const dataset: DicomJsonDataset = {
    '00080016': { vr: 'UI', Value: [spec.sopClassUid ?? '1.2.840.10008.5.1.4.1.1.2'] },
    '00080018': { vr: 'UI', Value: [spec.sopInstanceUid] },
    ...(spec.studyDate ? { '00080020': { vr: 'DA' as const, Value: [spec.studyDate] } } : {}),
    ...(spec.studyTime ? { '00080030': { vr: 'TM' as const, Value: [spec.studyTime] } } : {}),
    ...(spec.accessionNumber ? { '00080050': { vr: 'SH' as const, Value: [spec.accessionNumber] } } : {}),
    '00080060': { vr: 'CS', Value: [spec.modality ?? 'CT'] },
    '00100010': { vr: 'PN', Value: [name] },
    '00100020': { vr: 'LO', Value: [spec.patientId] },
    ...(spec.issuerOfPatientId ? { '00100021': { vr: 'LO' as const, Value: [spec.issuerOfPatientId] } } : {}),
    '0020000D': { vr: 'UI', Value: [spec.studyInstanceUid] },
    '0020000E': { vr: 'UI', Value: [spec.seriesInstanceUid] },
    '00200011': { vr: 'IS', Value: [spec.seriesNumber ?? 1] },
    '00200013': { vr: 'IS', Value: [spec.instanceNumber ?? 1] },
    '00280010': { vr: 'US', Value: [512] },
    '00280011': { vr: 'US', Value: [512] },
    '00280100': { vr: 'US', Value: [16] },
    '7FE00010': { vr: 'OW', BulkDataURI: 'bulk/7FE00010' },
    ...spec.extra,
  };
  return {
    fileMetaInformation: {},
    dataset,
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    deflated: false,
    datasetOffset: 132,
    bulkData: [{ path: '7FE00010', vr: 'OW', offset: 1000, length: 524288 }],
    pixelData: { encapsulated: false, offset: 1000, length: 524288, vr: 'OW', fragments: [], basicOffsetTable: [] },
    frames: [{ fragments: [{ offset: 1000, length: 524288 }] }],
    byteLength: 525288,
  };
}

/** Indexes synthetic instances through the real ingest path (`commitInstance`). */
export async function commitSynthetic(database: AtriumDatabase, specs: readonly SyntheticInstance[]): Promise<void> {
  for (const spec of specs) {
    await database.archive.commitInstance({
      parsed: syntheticInstance(spec),
      blobKey: `blob/${spec.sopInstanceUid}`,
      size: 525288,
      digest: spec.sopInstanceUid.padEnd(64, '0').slice(0, 64),
      source: { kind: 'import' },
      duplicatePolicy: 'reject',
    });
  }
}

/** Shape of a bulk-built archive: `patients × studiesPerPatient × seriesPerStudy × instancesPerSeries` instances. */
export interface BulkArchiveShape {
  patients: number;
  studiesPerPatient: number;
  seriesPerStudy: number;
  instancesPerSeries: number;
}

const MODALITIES = ['CT', 'MR', 'US', 'CR', 'DX', 'MG', 'PT', 'NM', 'XA', 'SR'];
const FAMILY = ['SMITH', 'JOHNSON', 'WILLIAMS', 'BROWN', 'JONES', 'GARCIA', 'MILLER', 'DAVIS', 'MÜLLER', 'NGUYEN', 'LÓPEZ', 'KIM'];
const GIVEN = ['ANNA', 'JOHN', 'MARIA', 'PETER', 'LENA', 'OMAR', 'YUKI', 'JOSÉ', 'SARA', 'LIAM'];

/**
 * Fills the index with rows inserted directly in one transaction (no DICOM JSON parsing, no per-instance
 * transaction): tens of thousands of instances in a second or two, for query-plan tests and benchmarks. Values
 * are deterministic: patient `k` is `PID<k>`, named from fixed lists; study dates spread over ten years;
 * accession numbers `A<study>`; modalities cycle.
 */
export async function bulkInsertArchive(database: AtriumDatabase, shape: BulkArchiveShape): Promise<{ instances: number }> {
  const now = new Date('2024-06-01T00:00:00Z').toISOString();
  const chunk = 400;
  let instances = 0;
  await database.transaction(async (trx) => {
    const insertChunks = async (table: string, rows: Record<string, unknown>[]): Promise<void> => {
      for (let i = 0; i < rows.length; i += chunk) {
        await trx.insertInto(table as 'patient').values(rows.slice(i, i + chunk) as never).execute();
      }
    };
    const patients: Record<string, unknown>[] = [];
    const studies: Record<string, unknown>[] = [];
    const series: Record<string, unknown>[] = [];
    const instanceRows: Record<string, unknown>[] = [];
    const metadata: Record<string, unknown>[] = [];
    let studyId = 0;
    let seriesId = 0;
    let instanceId = 0;
    const perStudy = shape.seriesPerStudy * shape.instancesPerSeries;
    for (let p = 1; p <= shape.patients; p++) {
      const family = FAMILY[p % FAMILY.length]!;
      const given = GIVEN[Math.floor(p / FAMILY.length) % GIVEN.length]!;
      const name = `${family}${p}^${given}`;
      patients.push({
        id: p,
        patient_id: `PID${p}`,
        issuer_of_patient_id: '',
        patient_name: name,
        patient_name_search: name.toUpperCase(),
        patient_birth_date: `19${String(40 + (p % 60)).padStart(2, '0')}0101`,
        patient_sex: p % 2 ? 'F' : 'M',
        number_of_studies: shape.studiesPerPatient,
        number_of_series: shape.studiesPerPatient * shape.seriesPerStudy,
        number_of_instances: shape.studiesPerPatient * perStudy,
        created_at: now,
        updated_at: now,
      });
      for (let s = 0; s < shape.studiesPerPatient; s++) {
        studyId++;
        const day = new Date(Date.UTC(2015, 0, 1) + ((studyId * 7919) % 3650) * 86_400_000);
        const date = day.toISOString().slice(0, 10).replaceAll('-', '');
        const modalities = Array.from({ length: shape.seriesPerStudy }, (_, k) => MODALITIES[(studyId + k) % MODALITIES.length]!);
        studies.push({
          id: studyId,
          patient_fk: p,
          study_instance_uid: `1.2.826.0.1.3680043.10.1.${studyId}`,
          study_date: date,
          study_time: `${String(studyId % 24).padStart(2, '0')}0000.000000`,
          accession_number: `A${studyId}`,
          study_id: String(studyId),
          study_description: `STUDY ${studyId % 50}`,
          modalities_in_study: [...new Set(modalities)].sort().join('\\'),
          sop_classes_in_study: '1.2.840.10008.5.1.4.1.1.2',
          number_of_series: shape.seriesPerStudy,
          number_of_instances: perStudy,
          total_bytes: perStudy * 1000,
          received_at: now,
          updated_at: now,
        });
        for (let e = 0; e < shape.seriesPerStudy; e++) {
          seriesId++;
          series.push({
            id: seriesId,
            study_fk: studyId,
            series_instance_uid: `1.2.826.0.1.3680043.10.2.${seriesId}`,
            modality: modalities[e],
            series_number: e + 1,
            number_of_instances: shape.instancesPerSeries,
            total_bytes: shape.instancesPerSeries * 1000,
            received_at: now,
            updated_at: now,
          });
          for (let k = 1; k <= shape.instancesPerSeries; k++) {
            instanceId++;
            const sopInstanceUid = `1.2.826.0.1.3680043.10.3.${instanceId}`;
            instanceRows.push({
              id: instanceId,
              series_fk: seriesId,
              sop_instance_uid: sopInstanceUid,
              sop_class_uid: '1.2.840.10008.5.1.4.1.1.2',
              instance_number: k,
              transfer_syntax_uid: '1.2.840.10008.1.2.1',
              rows: 512,
              columns: 512,
              bits_allocated: 16,
              blob_key: `b/${instanceId}`,
              size: 1000,
              digest: '0'.repeat(64),
              source_kind: 'import',
              received_at: now,
            });
            metadata.push({
              instance_fk: instanceId,
              dicom_json: JSON.stringify({
                '00080018': { vr: 'UI', Value: [sopInstanceUid] },
                '00101010': { vr: 'AS', Value: ['045Y'] },
                '00180050': { vr: 'DS', Value: [1.25] },
              }),
              bulk_data_json: '[]',
              frames_json: '[]',
              deflated: 0,
              dataset_offset: 132,
            });
          }
        }
      }
    }
    instances = instanceId;
    await insertChunks('patient', patients);
    await insertChunks('study', studies);
    await insertChunks('series', series);
    await insertChunks('instance', instanceRows);
    await insertChunks('instance_metadata', metadata);
  });
  return { instances };
}
