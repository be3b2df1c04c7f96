import { getString, type DicomJsonDataset } from '@atrium/dicom';
import { DimseStatusError, Status } from '@atrium/dimse';
import type { Archive } from '../main.js';
import type { RetrieveScope, StoredInstanceRef } from '../retrieve/index.js';
import type { InformationModel } from './sop-classes.js';

const QueryRetrieveLevel = '00080052';
const PatientId = '00100020';
const StudyInstanceUid = '0020000D';
const SeriesInstanceUid = '0020000E';
const SopInstanceUid = '00080018';

function values(identifier: DicomJsonDataset, tag: string): string[] {
  return ((identifier[tag]?.Value ?? []) as unknown[])
    .filter((v): v is string => typeof v === 'string')
    .flatMap((v) => v.split('\\'))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

function invalid(message: string, tag: number, comment: string): DimseStatusError {
  return new DimseStatusError(message, Status.IdentifierDoesNotMatchSopClass, { errorComment: comment, offendingElement: [tag] });
}

/**
 * The instances a C-MOVE or C-GET identifier names (PS3.4 C.4.2.2.1, C.4.3.2.1, hierarchical retrieve): the unique
 * key of the Query/Retrieve Level (a list of UIDs is allowed) and those of the levels above it when given. A
 * missing or unusable key answers A900 with the offending element. Duplicates are dropped; the order is the
 * retrieve path's (series number, instance number).
 */
export async function resolveRetrieve(
  archive: Pick<Archive, 'retrieve' | 'database'>,
  model: InformationModel,
  identifier: DicomJsonDataset,
): Promise<StoredInstanceRef[]> {
  const level = (getString(identifier, QueryRetrieveLevel) ?? '').trim().toUpperCase();
  const studies = values(identifier, StudyInstanceUid);
  const series = values(identifier, SeriesInstanceUid);
  const instances = values(identifier, SopInstanceUid);
  const single = (list: string[]) => (list.length === 1 ? list[0] : undefined);
  const scopes: RetrieveScope[] = [];
  switch (level) {
    case 'PATIENT': {
      if (model !== 'PATIENT') {
        throw invalid(`Cannot retrieve at level 'PATIENT': the Study Root model has no patient level`, 0x00080052, 'PATIENT level not in Study Root');
      }
      const patientIds = values(identifier, PatientId);
      if (patientIds.length === 0) throw invalid(`Cannot retrieve at level 'PATIENT': Patient ID (0010,0020) is empty`, 0x00100020, 'Patient ID missing');
      const rows = await archive.database.kysely
        .selectFrom('study')
        .innerJoin('patient', 'patient.id', 'study.patient_fk')
        .select('study.study_instance_uid as uid')
        .where('patient.patient_id', 'in', patientIds)
        .orderBy('study.id')
        .execute();
      for (const row of rows) scopes.push({ studyInstanceUid: row.uid });
      break;
    }
    case 'STUDY':
      if (studies.length === 0) throw invalid(`Cannot retrieve at level 'STUDY': Study Instance UID (0020,000D) is empty`, 0x0020000d, 'Study Instance UID missing');
      for (const uid of studies) scopes.push({ studyInstanceUid: uid });
      break;
    case 'SERIES':
      if (series.length === 0) throw invalid(`Cannot retrieve at level 'SERIES': Series Instance UID (0020,000E) is empty`, 0x0020000e, 'Series Instance UID missing');
      for (const uid of series) scopes.push({ studyInstanceUid: single(studies), seriesInstanceUid: uid });
      break;
    case 'IMAGE':
      if (instances.length === 0) throw invalid(`Cannot retrieve at level 'IMAGE': SOP Instance UID (0008,0018) is empty`, 0x00080018, 'SOP Instance UID missing');
      scopes.push({ studyInstanceUid: single(studies), seriesInstanceUid: single(series), sopInstanceUids: instances });
      break;
    default:
      throw invalid(`Cannot retrieve at level '${level}': expected PATIENT, STUDY, SERIES or IMAGE`, 0x00080052, `Unsupported level '${level.slice(0, 20)}'`);
  }
  const seen = new Set<string>();
  const refs: StoredInstanceRef[] = [];
  for (const scope of scopes) {
    for await (const ref of archive.retrieve.instances(stripUndefined(scope))) {
      if (seen.has(ref.sopInstanceUid)) continue;
      seen.add(ref.sopInstanceUid);
      refs.push(ref);
    }
  }
  return refs;
}

function stripUndefined(scope: RetrieveScope): RetrieveScope {
  return Object.fromEntries(Object.entries(scope).filter(([, v]) => v !== undefined)) as RetrieveScope;
}
