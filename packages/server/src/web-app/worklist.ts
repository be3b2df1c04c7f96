import { sql, type AtriumDatabase } from '@atrium/db';

/** The columns a worklist can be sorted by. */
export const WORKLIST_SORT_KEYS = [
  'studyDate',
  'patientName',
  'patientId',
  'accessionNumber',
  'modalities',
  'studyDescription',
  'numberOfSeries',
  'numberOfInstances',
  'receivedAt',
] as const;
export type WorklistSortKey = (typeof WORKLIST_SORT_KEYS)[number];

/**
 * A worklist search as a person types it: words, not DICOM matching rules. `patient` finds studies whose patient
 * name or ID contains every word; `accessionNumber` and `studyDescription` are contains-matches; dates are an
 * inclusive range of `YYYYMMDD`; `modality` is one of the study's modalities.
 */
export interface WorklistQuery {
  patient?: string;
  accessionNumber?: string;
  studyDescription?: string;
  modality?: string;
  dateFrom?: string;
  dateTo?: string;
  sort?: WorklistSortKey;
  order?: 'asc' | 'desc';
  limit?: number;
  offset?: number;
}

/** One row of the worklist. */
export interface WorklistStudy {
  studyInstanceUid: string;
  /** The raw PN value (`Family^Given`). */
  patientName: string | null;
  patientId: string;
  patientBirthDate: string | null;
  patientSex: string | null;
  studyDate: string | null;
  studyTime: string | null;
  accessionNumber: string | null;
  studyDescription: string | null;
  modalities: string[];
  numberOfSeries: number;
  numberOfInstances: number;
  receivedAt: string;
}

export interface WorklistPage {
  total: number;
  offset: number;
  limit: number;
  studies: WorklistStudy[];
}

export const WORKLIST_MAX_LIMIT = 200;

const SORT_COLUMNS: Readonly<Record<WorklistSortKey, readonly string[]>> = {
  studyDate: ['st.study_date', 'st.study_time'],
  patientName: ['p.patient_name_search', 'p.patient_id'],
  patientId: ['p.patient_id'],
  accessionNumber: ['st.accession_number'],
  modalities: ['st.modalities_in_study'],
  studyDescription: ['st.study_description'],
  numberOfSeries: ['st.number_of_series'],
  numberOfInstances: ['st.number_of_instances'],
  receivedAt: ['st.received_at'],
};

/** `!` escapes LIKE's wildcards in what a person typed, so `50%` finds "50%" and not everything. */
function contains(text: string): string {
  return `%${text.replace(/[!%_]/g, (c) => `!${c}`)}%`;
}

/** `2024-03-01` or `20240301` to `20240301`; anything else is refused with the reason. */
export function worklistDate(name: string, value: string): string {
  const compact = value.trim().replace(/-/g, '');
  if (!/^\d{8}$/.test(compact)) throw new WorklistQueryError(`Cannot search by ${name} '${value}': expected a date as YYYY-MM-DD`);
  return compact;
}

/** A worklist request that cannot be run (400 at the HTTP edge). */
export class WorklistQueryError extends TypeError {
  readonly code = 'ATRIUM_ERR_WORKLIST_QUERY';
  readonly httpStatus = 400;
  readonly statusCode = 400;
}

/**
 * One page of studies matching the query, sorted, with the total count of matches. Runs on the index's typed
 * columns (patient and study rows only: counts and modalities are kept on the study row by ingest), so a page
 * costs the same whatever the archive's size, bar the sort.
 */
export async function searchWorklist(database: Pick<AtriumDatabase, 'kysely'>, query: WorklistQuery): Promise<WorklistPage> {
  const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? 25)), WORKLIST_MAX_LIMIT);
  const offset = Math.max(0, Math.trunc(query.offset ?? 0));
  const conditions = [sql`1 = 1`];
  for (const word of (query.patient ?? '').split(/[\s,^]+/).filter(Boolean)) {
    // The name column is upper-cased by ingest (accents kept); IDs are matched as typed, case-insensitively.
    conditions.push(
      sql`(p.patient_name_search like ${contains(word.toUpperCase())} escape '!' or p.patient_id like ${contains(word)} escape '!')`,
    );
  }
  if (query.accessionNumber?.trim()) conditions.push(sql`st.accession_number like ${contains(query.accessionNumber.trim())} escape '!'`);
  if (query.studyDescription?.trim()) conditions.push(sql`st.study_description like ${contains(query.studyDescription.trim())} escape '!'`);
  if (query.modality?.trim()) {
    // modalities_in_study is the sorted distinct modalities joined by '\': match one whole value.
    const modality = query.modality.trim().toUpperCase().replace(/[!%_]/g, (c) => `!${c}`);
    conditions.push(sql`('\\' || st.modalities_in_study || '\\') like ${`%\\${modality}\\%`} escape '!'`);
  }
  if (query.dateFrom?.trim()) conditions.push(sql`st.study_date >= ${worklistDate('date from', query.dateFrom)}`);
  if (query.dateTo?.trim()) conditions.push(sql`st.study_date <= ${worklistDate('date to', query.dateTo)}`);
  const where = sql.join(conditions, sql` and `);
  const from = sql`study st join patient p on p.id = st.patient_fk`;

  const sort = query.sort ?? 'studyDate';
  if (!SORT_COLUMNS[sort]) throw new WorklistQueryError(`Cannot sort by '${String(sort)}': expected one of ${WORKLIST_SORT_KEYS.join(', ')}`);
  const direction = sql.raw((query.order ?? (sort === 'studyDate' || sort === 'receivedAt' ? 'desc' : 'asc')) === 'desc' ? 'desc' : 'asc');
  // The row id breaks ties so that paging through equal keys neither repeats nor skips a study.
  const orderBy = sql.join([...SORT_COLUMNS[sort].map((c) => sql`${sql.raw(c)} ${direction}`), sql`st.id ${direction}`], sql`, `);

  const { rows: countRows } = await sql<{ n: number }>`select count(*) as n from ${from} where ${where}`.execute(database.kysely);
  const { rows } = await sql<{
    study_instance_uid: string;
    patient_name: string | null;
    patient_id: string;
    patient_birth_date: string | null;
    patient_sex: string | null;
    study_date: string | null;
    study_time: string | null;
    accession_number: string | null;
    study_description: string | null;
    modalities_in_study: string | null;
    number_of_series: number;
    number_of_instances: number;
    received_at: string;
  }>`select st.study_instance_uid, p.patient_name, p.patient_id, p.patient_birth_date, p.patient_sex, st.study_date,
        st.study_time, st.accession_number, st.study_description, st.modalities_in_study, st.number_of_series,
        st.number_of_instances, st.received_at
      from ${from} where ${where} order by ${orderBy} limit ${limit} offset ${offset}`.execute(database.kysely);
  return {
    total: Number(countRows[0]?.n ?? 0),
    offset,
    limit,
    studies: rows.map((r) => ({
      studyInstanceUid: r.study_instance_uid,
      patientName: r.patient_name,
      patientId: r.patient_id,
      patientBirthDate: r.patient_birth_date,
      patientSex: r.patient_sex,
      studyDate: r.study_date,
      studyTime: r.study_time,
      accessionNumber: r.accession_number,
      studyDescription: r.study_description,
      modalities: r.modalities_in_study ? r.modalities_in_study.split('\\').filter(Boolean) : [],
      numberOfSeries: Number(r.number_of_series),
      numberOfInstances: Number(r.number_of_instances),
      receivedAt: r.received_at,
    })),
  };
}
