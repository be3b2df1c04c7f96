import type { DicomJsonDataset } from '@atrium/dicom';
import type { FhirExecutor } from './fhir-repository.js';
import type { PatientRow, SeriesRow, StudyRow } from './schema.js';

/** What the FHIR ImagingStudy of one study is derived from: the index rows, never the files. */
export interface ImagingStudySource {
  patient: PatientRow;
  study: StudyRow;
  series: Array<{
    row: SeriesRow;
    instances: Array<{ sopInstanceUid: string; sopClassUid: string; instanceNumber: number | null; numberOfFrames: number | null }>;
    /**
     * The patient module as the series' first instance carries it (PatientName, PatientBirthDate, PatientSex),
     * for the reconciliation check: the patient row keeps the first value seen, the instances may disagree.
     */
    patientModule: DicomJsonDataset;
  }>;
}

const PATIENT_MODULE_TAGS = ['00100010', '00100020', '00100021', '00100030', '00100040'] as const;

/**
 * Reads the index rows of a study for the FHIR ImagingStudy derivation (FHIR R4 imagingstudy.html), or undefined
 * when the study is not (or no longer) in the archive.
 */
export async function readImagingStudySource(db: FhirExecutor, studyInstanceUid: string): Promise<ImagingStudySource | undefined> {
  const study = await db.selectFrom('study').selectAll().where('study_instance_uid', '=', studyInstanceUid).executeTakeFirst();
  if (!study) return undefined;
  const patient = await db.selectFrom('patient').selectAll().where('id', '=', study.patient_fk).executeTakeFirstOrThrow();
  const seriesRows = await db
    .selectFrom('series')
    .selectAll()
    .where('study_fk', '=', study.id)
    .orderBy('series_number')
    .orderBy('series_instance_uid')
    .execute();
  const series: ImagingStudySource['series'] = [];
  for (const row of seriesRows) {
    const instances = await db
      .selectFrom('instance')
      .select(['id', 'sop_instance_uid', 'sop_class_uid', 'instance_number', 'number_of_frames'])
      .where('series_fk', '=', row.id)
      .orderBy('instance_number')
      .orderBy('sop_instance_uid')
      .execute();
    const patientModule: DicomJsonDataset = {};
    const first = instances[0];
    if (first) {
      const meta = await db
        .selectFrom('instance_metadata')
        .select('dicom_json')
        .where('instance_fk', '=', first.id)
        .executeTakeFirst();
      if (meta) {
        const dataset = JSON.parse(meta.dicom_json) as DicomJsonDataset;
        for (const tag of PATIENT_MODULE_TAGS) {
          const attribute = dataset[tag];
          if (attribute) patientModule[tag] = attribute;
        }
      }
    }
    series.push({
      row,
      instances: instances.map((i) => ({
        sopInstanceUid: i.sop_instance_uid,
        sopClassUid: i.sop_class_uid,
        instanceNumber: i.instance_number,
        numberOfFrames: i.number_of_frames,
      })),
      patientModule,
    });
  }
  return { patient, study, series };
}

/** Study Instance UIDs whose accession number is `accessionNumber` (for linking a new ServiceRequest). */
export async function studiesByAccessionNumber(db: FhirExecutor, accessionNumber: string): Promise<string[]> {
  const rows = await db
    .selectFrom('study')
    .select('study_instance_uid')
    .where('accession_number', '=', accessionNumber)
    .execute();
  return rows.map((r) => r.study_instance_uid);
}

/** Study Instance UIDs of the patient with this identity (for re-deriving after a Patient changes). */
export async function studiesOfPatient(db: FhirExecutor, patientId: string, issuerOfPatientId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('study')
    .innerJoin('patient', 'patient.id', 'study.patient_fk')
    .select('study.study_instance_uid')
    .where('patient.patient_id', '=', patientId)
    .where('patient.issuer_of_patient_id', '=', issuerOfPatientId)
    .execute();
  return rows.map((r) => r.study_instance_uid);
}
