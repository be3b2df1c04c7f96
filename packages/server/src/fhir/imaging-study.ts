import { getPersonName, getString } from '@atrium/dicom';
import {
  readImagingStudySource,
  studiesByAccessionNumber,
  studiesOfPatient,
  type FhirExecutor,
  type ImagingStudySource,
} from '@atrium/db';
import type { FhirResource, FhirService } from './fhir-service.js';
import { fhirDateOf, fhirDateTimeOf, genderOf, humanNameOf, issuerForSystem, systemForIssuer } from './patient-identity.js';
import { normaliseString } from './search-index.js';

/** The Endpoint resource standing for Atrium's own DICOMweb service. */
export const DICOMWEB_ENDPOINT_ID = 'atrium-dicomweb';
/** Tag on an ImagingStudy whose images disagree with the Patient's demographics. */
export const RECONCILIATION_TAG = { system: 'https://atrium.dev/fhir/CodeSystem/flags', code: 'reconciliation-required' } as const;
const DICOM_UID_SYSTEM = 'urn:dicom:uid';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

function isAccessionIdentifier(identifier: { type?: { coding?: Array<{ system?: string; code?: string }> } }): boolean {
  return (identifier.type?.coding ?? []).some((c) => c.code === 'ACSN' && (c.system === undefined || c.system === V2_0203));
}

/** The Patient for a DICOM identity: found by identifier, or created from the study's demographics. */
async function patientFor(service: FhirService, db: FhirExecutor, source: ImagingStudySource): Promise<{ patient: FhirResource; ambiguous: boolean }> {
  const system = systemForIssuer(source.patient.issuer_of_patient_id);
  const matches = await service.find(db, 'Patient', [['identifier', `${system.replace(/[\\|,$]/g, (c) => `\\${c}`)}|${source.patient.patient_id.replace(/[\\|,$]/g, (c) => `\\${c}`)}`], ['_sort', '_id']], 2);
  if (matches[0]) return { patient: matches[0], ambiguous: matches.length > 1 };
  const name = source.patient.patient_name ? humanNameOf(source.patient.patient_name.split('=')[0]!) : undefined;
  const birthDate = fhirDateOf(source.patient.patient_birth_date);
  const gender = genderOf(source.patient.patient_sex);
  const { resource } = await service.systemPut(db, {
    resourceType: 'Patient',
    // The id is derived from the identity, so two nodes deriving the same new patient write one resource.
    id: `dicom-${Buffer.from(`${system}|${source.patient.patient_id}`).toString('base64url')}`.slice(0, 64),
    identifier: [{ use: 'usual', system, value: source.patient.patient_id }],
    ...(name ? { name: [{ use: 'official', ...name }] } : {}),
    ...(gender ? { gender } : {}),
    ...(birthDate ? { birthDate } : {}),
  });
  return { patient: resource, ambiguous: false };
}

/** Differences between each series' patient module and the Patient resource, as sentences. */
function demographicDifferences(source: ImagingStudySource, patient: FhirResource): string[] {
  const differences = new Set<string>();
  const names = ((patient.name ?? []) as Array<{ family?: string; given?: string[] }>).map((n) => ({
    family: normaliseString(n.family ?? ''),
    given: normaliseString(n.given?.[0] ?? ''),
  }));
  for (const series of source.series) {
    const pn = getPersonName(series.patientModule, '00100010')?.Alphabetic;
    const dicomName = pn ? humanNameOf(pn) : undefined;
    if (dicomName && names.length > 0) {
      const family = normaliseString(dicomName.family ?? '');
      const given = normaliseString(dicomName.given?.[0] ?? '');
      if (!names.some((n) => n.family === family && (given === '' || n.given === '' || n.given === given))) {
        differences.add(`Patient name '${pn}' in series ${series.row.series_instance_uid} differs from Patient/${patient.id}`);
      }
    }
    const birthDate = fhirDateOf(getString(series.patientModule, '00100030'));
    if (birthDate && typeof patient.birthDate === 'string' && patient.birthDate !== birthDate) {
      differences.add(`Patient birth date '${birthDate}' in series ${series.row.series_instance_uid} differs from Patient/${patient.id} ('${patient.birthDate}')`);
    }
  }
  return [...differences];
}

/** Atrium's DICOMweb Endpoint, written when absent or when its address changed. */
export async function ensureDicomwebEndpoint(service: FhirService, db: FhirExecutor, address: string): Promise<void> {
  await service.systemPut(db, {
    resourceType: 'Endpoint',
    id: DICOMWEB_ENDPOINT_ID,
    status: 'active',
    name: 'Atrium DICOMweb (WADO-RS, QIDO-RS, STOW-RS)',
    connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
    payloadType: [{ text: 'DICOM' }],
    payloadMimeType: ['application/dicom'],
    address,
  });
}

/**
 * Writes the ImagingStudy of one study from the archive's index rows (FHIR R4 imagingstudy.html; DICOM PS3.18
 * mapping of the study, series and instance UIDs), or deletes it when the study has left the archive. Its id is
 * the Study Instance UID (a valid FHIR id: at most 64 digits and dots), so it is found without a search. The
 * subject is the Patient with the study's identifier (created from the images when unknown); `basedOn` is every
 * ServiceRequest with the study's accession number. Demographics that disagree tag the study for
 * reconciliation; nothing is merged.
 */
export async function deriveImagingStudy(service: FhirService, db: FhirExecutor, studyInstanceUid: string): Promise<'written' | 'unchanged' | 'deleted' | 'absent'> {
  const source = await readImagingStudySource(db, studyInstanceUid);
  if (!source) return (await service.systemDelete(db, 'ImagingStudy', studyInstanceUid)) ? 'deleted' : 'absent';
  const { study } = source;
  const { patient, ambiguous } = await patientFor(service, db, source);
  const differences = demographicDifferences(source, patient);
  if (ambiguous) differences.unshift(`More than one Patient has identifier ${source.patient.patient_id}: linked to Patient/${patient.id}`);

  const basedOn: Array<{ reference: string }> = [];
  if (study.accession_number) {
    const orders = await service.find(db, 'ServiceRequest', [['identifier', study.accession_number.replace(/[\\|,$]/g, (c) => `\\${c}`)], ['_sort', '_id']]);
    for (const order of orders) {
      const identifiers = (order.identifier ?? []) as Array<{ value?: string; type?: { coding?: Array<{ system?: string; code?: string }> } }>;
      if (identifiers.some((i) => i.value === study.accession_number && isAccessionIdentifier(i))) basedOn.push({ reference: `ServiceRequest/${order.id}` });
    }
  }
  const hasEndpoint = (await service.get(db, 'Endpoint', DICOMWEB_ENDPOINT_ID)) !== undefined;
  const endpoint = hasEndpoint ? [{ reference: `Endpoint/${DICOMWEB_ENDPOINT_ID}` }] : undefined;
  const modalities = (study.modalities_in_study ?? '').split('\\').filter((m) => m !== '');
  const started = fhirDateTimeOf(study.study_date, study.study_time);
  const numberOfInstances = source.series.reduce((n, s) => n + s.instances.length, 0);

  const resource: FhirResource = {
    resourceType: 'ImagingStudy',
    id: studyInstanceUid,
    ...(differences.length > 0 ? { meta: { tag: [{ ...RECONCILIATION_TAG, display: 'Demographics differ from the Patient: reconcile' }] } } : {}),
    identifier: [
      { system: DICOM_UID_SYSTEM, value: `urn:oid:${studyInstanceUid}` },
      ...(study.accession_number
        ? [
            {
              type: { coding: [{ system: V2_0203, code: 'ACSN' }] },
              ...(study.issuer_of_accession_number ? { system: systemForIssuer(study.issuer_of_accession_number) } : {}),
              value: study.accession_number,
            },
          ]
        : []),
      ...(study.study_id ? [{ use: 'secondary' as const, value: study.study_id }] : []),
    ],
    status: 'available',
    ...(modalities.length > 0 ? { modality: modalities.map((code) => ({ system: DCM, code })) } : {}),
    subject: { reference: `Patient/${patient.id}` },
    ...(started ? { started } : {}),
    ...(basedOn.length > 0 ? { basedOn } : {}),
    ...(study.referring_physician_name ? { referrer: { display: study.referring_physician_name.split('=')[0]!.replace(/\^+/g, ' ').trim() } } : {}),
    ...(endpoint ? { endpoint } : {}),
    numberOfSeries: source.series.length,
    numberOfInstances,
    ...(study.study_description ? { description: study.study_description } : {}),
    ...(differences.length > 0 ? { note: differences.map((text) => ({ text })) } : {}),
    ...(source.series.length > 0
      ? {
          series: source.series.map(({ row, instances }) => {
            const seriesStarted = fhirDateTimeOf(row.series_date, row.series_time);
            return {
              uid: row.series_instance_uid,
              ...(row.series_number !== null ? { number: row.series_number } : {}),
              modality: { system: DCM, code: row.modality ?? 'OT' },
              ...(row.series_description ? { description: row.series_description } : {}),
              numberOfInstances: instances.length,
              ...(row.body_part_examined ? { bodySite: { display: row.body_part_examined } } : {}),
              ...(seriesStarted ? { started: seriesStarted } : {}),
              ...(instances.length > 0
                ? {
                    instance: instances.map((i) => ({
                      uid: i.sopInstanceUid,
                      sopClass: { system: 'urn:ietf:rfc:3986', code: `urn:oid:${i.sopClassUid}` },
                      ...(i.instanceNumber !== null && i.instanceNumber >= 0 ? { number: i.instanceNumber } : {}),
                    })),
                  }
                : {}),
            };
          }),
        }
      : {}),
  };
  const { changed } = await service.systemPut(db, resource);
  return changed ? 'written' : 'unchanged';
}

/**
 * After a client writes a ServiceRequest or a Patient, re-derives the ImagingStudies it concerns (an order that
 * arrives after its images, a Patient corrected during reconciliation), in the same transaction.
 */
export async function relinkImagingStudies(service: FhirService, db: FhirExecutor, resource: FhirResource): Promise<void> {
  const identifiers = (resource.identifier ?? []) as Array<{ system?: string; value?: string; type?: { coding?: Array<{ system?: string; code?: string }> } }>;
  const studies = new Set<string>();
  if (resource.resourceType === 'ServiceRequest') {
    for (const identifier of identifiers) {
      if (identifier.value && isAccessionIdentifier(identifier)) {
        for (const uid of await studiesByAccessionNumber(db, identifier.value)) studies.add(uid);
      }
    }
  } else if (resource.resourceType === 'Patient') {
    for (const identifier of identifiers) {
      if (identifier.value && identifier.system) {
        for (const uid of await studiesOfPatient(db, identifier.value, issuerForSystem(identifier.system))) studies.add(uid);
      }
    }
  }
  for (const uid of studies) await deriveImagingStudy(service, db, uid);
}
