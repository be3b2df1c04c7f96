import type { DicomJsonDataset, ParsedInstance } from '@atrium/dicom';
import type { CommitInstanceInput } from './archive-repository.js';

/** Attributes of a synthetic instance; anything not given gets a plausible CT value. */
export interface SyntheticInstance {
  sopInstanceUid: string;
  seriesInstanceUid?: string;
  studyInstanceUid?: string;
  sopClassUid?: string;
  patientId?: string;
  issuerOfPatientId?: string;
  patientName?: string;
  patientBirthDate?: string;
  modality?: string;
  instanceNumber?: number;
  extra?: DicomJsonDataset;
}

/** A `ParsedInstance` as the streaming reader would produce it, built in memory for tests (not exported). */
export function syntheticParsed(spec: SyntheticInstance): ParsedInstance {
  const dataset: DicomJsonDataset = {
    '00080016': { vr: 'UI', Value: [spec.sopClassUid ?? '1.2.840.10008.5.1.4.1.1.2'] },
    '00080018': { vr: 'UI', Value: [spec.sopInstanceUid] },
    '00080020': { vr: 'DA', Value: ['20240131'] },
    '00080030': { vr: 'TM', Value: ['101500'] },
    '00080060': { vr: 'CS', Value: [spec.modality ?? 'CT'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: spec.patientName ?? 'Doe^Jane' }] },
    '00100020': { vr: 'LO', Value: [spec.patientId ?? 'P1'] },
    ...(spec.issuerOfPatientId ? { '00100021': { vr: 'LO' as const, Value: [spec.issuerOfPatientId] } } : {}),
    '00100030': { vr: 'DA', Value: [spec.patientBirthDate ?? '19700101'] },
    '0020000D': { vr: 'UI', Value: [spec.studyInstanceUid ?? '1.2.3.1'] },
    '0020000E': { vr: 'UI', Value: [spec.seriesInstanceUid ?? '1.2.3.1.1'] },
    '00200013': { vr: 'IS', Value: [spec.instanceNumber ?? 1] },
    '00280010': { vr: 'US', Value: [512] },
    '00280011': { vr: 'US', Value: [512] },
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
    pixelData: {
      encapsulated: false,
      offset: 1000,
      length: 524288,
      vr: 'OW',
      fragments: [],
      basicOffsetTable: [],
    },
    frames: [{ fragments: [{ offset: 1000, length: 524288 }] }],
    byteLength: 525288,
  };
}

/** A commit of `spec` as the ingest pipeline asks for one: sent by a modality, stored under the 'keep' policy. */
export function commitInput(spec: SyntheticInstance, over: Partial<CommitInstanceInput> = {}): CommitInstanceInput {
  return {
    parsed: syntheticParsed(spec),
    blobKey: `dicom/${spec.sopInstanceUid}-${over.digest ?? 'd1'}.dcm`,
    size: 1000,
    digest: 'd1',
    source: { kind: 'dimse', callingAeTitle: 'MODALITY1' },
    duplicatePolicy: 'keep',
    ...over,
  };
}
