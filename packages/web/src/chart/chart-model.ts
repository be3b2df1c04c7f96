/**
 * The chart's pure logic: FHIR R4 resources in and out (HL7 FHIR R4 4.0.1), no DOM and no network, so that
 * node:test covers it. The pages in `index.tsx` only render what these functions return.
 */

import { formatNameParts } from '../format.js';
import { hasImages, studyViewUrl } from '../study-kind.js';

export interface Coding {
  system?: string;
  code?: string;
  display?: string;
}
export interface CodeableConcept {
  coding?: Coding[];
  text?: string;
}
export interface Reference {
  reference?: string;
  display?: string;
}
export interface HumanName {
  use?: string;
  family?: string;
  given?: string[];
  prefix?: string[];
  suffix?: string[];
  text?: string;
}
export interface Identifier {
  system?: string;
  value?: string;
  type?: CodeableConcept;
}
export interface Quantity {
  value?: number;
  unit?: string;
  system?: string;
  code?: string;
}
export interface Period {
  start?: string;
  end?: string;
}

/** Any resource: the chart reads the elements it shows and keeps the others untouched. */
export interface FhirResource {
  resourceType: string;
  id?: string;
  meta?: { versionId?: string; lastUpdated?: string };
  [element: string]: unknown;
}

export interface Patient extends FhirResource {
  resourceType: 'Patient';
  name?: HumanName[];
  gender?: string;
  birthDate?: string;
  identifier?: Identifier[];
  telecom?: { system?: string; value?: string }[];
}

export interface DocumentReference extends FhirResource {
  resourceType: 'DocumentReference';
  status: 'current' | 'superseded' | 'entered-in-error';
  docStatus?: 'preliminary' | 'final' | 'amended' | 'entered-in-error';
  type?: CodeableConcept;
  subject?: Reference;
  date?: string;
  description?: string;
  relatesTo?: { code: 'replaces' | 'transforms' | 'signs' | 'appends'; target: Reference }[];
  /** Who wrote the note; a signed note names at least its signer. */
  author?: Reference[];
  /** Who signed it (FHIR R4 DocumentReference.authenticator: "who/what authenticated the document"). */
  authenticator?: Reference;
  content: { attachment: { contentType?: string; data?: string; title?: string; creation?: string } }[];
}

export interface Practitioner extends FhirResource {
  resourceType: 'Practitioner';
  name?: HumanName[];
  active?: boolean;
}

export interface Observation extends FhirResource {
  resourceType: 'Observation';
  status: string;
  code: CodeableConcept;
  effectiveDateTime?: string;
  issued?: string;
  valueQuantity?: Quantity;
  valueString?: string;
}

export interface ImagingStudy extends FhirResource {
  resourceType: 'ImagingStudy';
  identifier?: Identifier[];
  started?: string;
  description?: string;
  modality?: Coding[];
  numberOfSeries?: number;
  numberOfInstances?: number;
  series?: { uid: string; modality?: Coding; description?: string; numberOfInstances?: number }[];
}

/** The chart's sections, in the order of its tabs: the route's third part (`/patients/<id>/<section>`). */
export const CHART_SECTIONS = [
  ['summary', 'Summary'],
  ['problems', 'Problems'],
  ['medications', 'Medications'],
  ['encounters', 'Encounters'],
  ['notes', 'Notes'],
  ['orders', 'Orders'],
  ['observations', 'Observations'],
  ['reports', 'Reports'],
  ['imaging', 'Imaging'],
] as const;
export type ChartSection = (typeof CHART_SECTIONS)[number][0];

export function chartSectionOf(value: string | undefined): ChartSection | undefined {
  if (value === undefined) return 'summary';
  return CHART_SECTIONS.find(([id]) => id === value)?.[0];
}

/**
 * An official name (else the first) in the display form shared with the worklist and the study page
 * ({@link formatNameParts}); falls back to `text`.
 */
export function formatHumanName(names: readonly HumanName[] | undefined): string {
  const name = names?.find((n) => n.use === 'official') ?? names?.[0];
  if (!name) return '(no name)';
  return formatNameParts(name) || name.text || '(no name)';
}

/** Whole years between a FHIR date (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`) and `now`; undefined without a full date. */
export function ageInYears(birthDate: string | undefined, now: Date): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthDate ?? '');
  if (!match) return undefined;
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  let age = now.getUTCFullYear() - y;
  if (now.getUTCMonth() + 1 < m || (now.getUTCMonth() + 1 === m && now.getUTCDate() < d)) age--;
  return age;
}

/** The text a person reads for a CodeableConcept: its text, else the first display, else the first code. */
export function conceptText(concept: CodeableConcept | undefined): string {
  if (!concept) return '';
  return concept.text ?? concept.coding?.find((c) => c.display)?.display ?? concept.coding?.[0]?.code ?? '';
}

/** The identifier system of medical record numbers registered in the chart (the DICOM "no issuer" one, fhir.md). */
export const LOCAL_MRN_SYSTEM = 'urn:atrium:issuer:local';

export interface PatientForm {
  family: string;
  given: string;
  birthDate: string;
  gender: string;
  mrn: string;
}

/** A new Patient from the registration form; throws a `TypeError` naming the field at fault. */
export function buildPatient(form: PatientForm): Patient {
  const family = form.family.trim();
  if (!family) throw new TypeError('Cannot register the patient: the family name is required');
  if (form.birthDate && !/^\d{4}-\d{2}-\d{2}$/.test(form.birthDate)) {
    throw new TypeError(`Cannot register the patient '${form.birthDate}': the birth date must be YYYY-MM-DD`);
  }
  const given = form.given.trim().split(/\s+/).filter(Boolean);
  const patient: Patient = { resourceType: 'Patient', name: [{ use: 'official', family, ...(given.length ? { given } : {}) }] };
  if (form.mrn.trim()) patient.identifier = [{ system: LOCAL_MRN_SYSTEM, value: form.mrn.trim() }];
  if (form.gender) patient.gender = form.gender;
  if (form.birthDate) patient.birthDate = form.birthDate;
  return patient;
}

/**
 * The searches behind the patient search box: every word must be in a name (repeated `name` parameters are
 * ANDed, each a starts-with match), or the whole text is an identifier value. Both run; the page merges them.
 */
export function patientSearches(text: string): URLSearchParams[] {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [new URLSearchParams({ _sort: 'family', _count: '50' })];
  const byName = new URLSearchParams(words.map((w) => ['name', w] as [string, string]));
  byName.set('_count', '50');
  const byIdentifier = new URLSearchParams({ identifier: text.trim(), _count: '50' });
  return [byName, byIdentifier];
}

/** Keeps the first of each resource id, in order: merges the answers of several searches. */
export function uniqueById<T extends FhirResource>(lists: readonly (readonly T[])[]): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const list of lists) {
    for (const r of list) {
      const key = `${r.resourceType}/${r.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(r);
    }
  }
  return out;
}

const text = (value: string): CodeableConcept => ({ text: value.trim() });

/** An AllergyIntolerance recorded now as confirmed and active (R4 requires the verification for an active one). */
export function buildAllergy(patientId: string, substance: string, criticality: 'low' | 'high' | 'unable-to-assess', now: Date): FhirResource {
  if (!substance.trim()) throw new TypeError('Cannot record the allergy: the substance is required');
  return {
    resourceType: 'AllergyIntolerance',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification', code: 'confirmed' }] },
    criticality,
    code: text(substance),
    patient: { reference: `Patient/${patientId}` },
    recordedDate: now.toISOString(),
  };
}

/** A problem-list Condition, active and confirmed. */
export function buildProblem(patientId: string, problem: string, onset: string, now: Date): FhirResource {
  if (!problem.trim()) throw new TypeError('Cannot record the problem: the problem is required');
  return {
    resourceType: 'Condition',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
    code: text(problem),
    subject: { reference: `Patient/${patientId}` },
    ...(onset ? { onsetDateTime: onset } : {}),
    recordedDate: now.toISOString(),
  };
}

/** An active outpatient order of a medication, with its dosage as free text. */
export function buildMedication(patientId: string, medication: string, dosage: string, now: Date): FhirResource {
  if (!medication.trim()) throw new TypeError('Cannot prescribe: the medication is required');
  return {
    resourceType: 'MedicationRequest',
    status: 'active',
    intent: 'order',
    medicationCodeableConcept: text(medication),
    subject: { reference: `Patient/${patientId}` },
    authoredOn: now.toISOString(),
    ...(dosage.trim() ? { dosageInstruction: [{ text: dosage.trim() }] } : {}),
  };
}

/** An ambulatory Encounter, finished, over the given period. */
export function buildEncounter(patientId: string, reason: string, start: string): FhirResource {
  return {
    resourceType: 'Encounter',
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' },
    subject: { reference: `Patient/${patientId}` },
    period: { start },
    ...(reason.trim() ? { reasonCode: [text(reason)] } : {}),
  };
}

/** An active order (ServiceRequest); an accession number links the studies that fulfil it (fhir.md, Orders). */
export function buildOrder(patientId: string, what: string, accessionNumber: string, now: Date): FhirResource {
  if (!what.trim()) throw new TypeError('Cannot place the order: what is ordered is required');
  return {
    resourceType: 'ServiceRequest',
    status: 'active',
    intent: 'order',
    code: text(what),
    subject: { reference: `Patient/${patientId}` },
    authoredOn: now.toISOString(),
    ...(accessionNumber.trim()
      ? {
          identifier: [
            {
              type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] },
              value: accessionNumber.trim(),
            },
          ],
        }
      : {}),
  };
}

/** Vital signs and labs offered by the observation form: LOINC code, name and UCUM unit. */
export const OBSERVATION_KINDS = [
  { code: '8867-4', display: 'Heart rate', unit: '/min' },
  { code: '8480-6', display: 'Systolic blood pressure', unit: 'mm[Hg]' },
  { code: '8462-4', display: 'Diastolic blood pressure', unit: 'mm[Hg]' },
  { code: '29463-7', display: 'Body weight', unit: 'kg' },
  { code: '8310-5', display: 'Body temperature', unit: 'Cel' },
  { code: '2339-0', display: 'Glucose', unit: 'mg/dL' },
] as const;

/** A final Observation with a UCUM quantity. */
export function buildObservation(patientId: string, loincCode: string, value: number, effective: string): Observation {
  const kind = OBSERVATION_KINDS.find((k) => k.code === loincCode);
  if (!kind) throw new TypeError(`Cannot record the observation '${loincCode}': not a code the chart offers`);
  if (!Number.isFinite(value)) throw new TypeError('Cannot record the observation: the value must be a number');
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: kind.code, display: kind.display }], text: kind.display },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: effective,
    valueQuantity: { value, unit: kind.unit, system: 'http://unitsofmeasure.org', code: kind.unit },
  };
}

/** UTF-8 text as base64 (Attachment.data), without Node's Buffer: the same code runs in the browser. */
export function utf8ToBase64(value: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(value)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function base64ToUtf8(value: string): string {
  const binary = atob(value);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

const NOTE_TYPE: CodeableConcept = { coding: [{ system: 'http://loinc.org', code: '11506-3', display: 'Progress note' }], text: 'Progress note' };

/**
 * A draft note: `status` current, `docStatus` preliminary, the text as a `text/plain` attachment. A draft may be
 * edited in place (a new version of the same resource) until it is signed.
 */
export function buildNoteDraft(patientId: string, title: string, body: string, now: Date): DocumentReference {
  if (!body.trim()) throw new TypeError('Cannot save the note: it is empty');
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    docStatus: 'preliminary',
    type: NOTE_TYPE,
    subject: { reference: `Patient/${patientId}` },
    date: now.toISOString(),
    description: title.trim() || 'Progress note',
    content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: utf8ToBase64(body), creation: now.toISOString() } }],
  };
}

/** The note's text (its first attachment). */
export function noteText(note: DocumentReference): string {
  const data = note.content[0]?.attachment.data;
  return data ? base64ToUtf8(data) : '';
}

export type NoteState = 'draft' | 'signed' | 'amendment' | 'superseded' | 'entered-in-error';

export function noteState(note: DocumentReference): NoteState {
  if (note.status === 'entered-in-error' || note.docStatus === 'entered-in-error') return 'entered-in-error';
  if (note.status === 'superseded') return 'superseded';
  if (note.docStatus === 'amended') return 'amendment';
  if (note.docStatus === 'final') return 'signed';
  return 'draft';
}

/** The same draft with a new text; a signed note is never edited (amend it). */
export function editNoteDraft(note: DocumentReference, title: string, body: string, now: Date): DocumentReference {
  if (noteState(note) !== 'draft') throw new TypeError(`Cannot edit note '${note.id}': it is signed, amend it instead`);
  if (!body.trim()) throw new TypeError('Cannot save the note: it is empty');
  return {
    ...note,
    date: now.toISOString(),
    description: title.trim() || note.description || 'Progress note',
    content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: utf8ToBase64(body), creation: now.toISOString() } }],
  };
}

/** A Practitioner for the person using the chart, registered from the "Signing as" picker. */
export function buildPractitioner(family: string, given: string): Practitioner {
  if (!family.trim()) throw new TypeError('Cannot add the practitioner: the family name is empty');
  return {
    resourceType: 'Practitioner',
    active: true,
    name: [{ use: 'official', family: family.trim(), ...(given.trim() ? { given: given.trim().split(/\s+/) } : {}) }],
  };
}

/** The reference a note's author and authenticator carry: the Practitioner, with its name for display. */
export function practitionerReference(practitioner: Practitioner): Reference {
  if (!practitioner.id) throw new TypeError('Cannot refer to a practitioner that has not been stored');
  return { reference: `Practitioner/${practitioner.id}`, display: formatHumanName(practitioner.name) };
}

/** The practitioner chosen before (its id as remembered), if it is still among those on the server. */
export function rememberedSigner(practitioners: readonly Practitioner[], rememberedId: string | null | undefined): Practitioner | undefined {
  return rememberedId ? practitioners.find((p) => p.id === rememberedId) : undefined;
}

function checkSigner(signer: Reference | undefined, what: string): Reference {
  if (!signer?.reference?.startsWith('Practitioner/')) throw new TypeError(`Cannot ${what}: choose who is signing (a practitioner) first`);
  return signer;
}

/** The author list with `signer` in it (added when missing: whoever signs vouches for the text). */
function withAuthor(authors: readonly Reference[] | undefined, signer: Reference): Reference[] {
  return (authors ?? []).some((a) => a.reference === signer.reference) ? [...(authors ?? [])] : [...(authors ?? []), signer];
}

/**
 * Signing: `docStatus` final, dated now, `authenticator` the signing practitioner (also added to `author`). Only a
 * draft is signed; the draft stays in the note's history.
 */
export function signNote(note: DocumentReference, now: Date, signer: Reference | undefined): DocumentReference {
  if (noteState(note) !== 'draft') throw new TypeError(`Cannot sign note '${note.id}': it is not a draft`);
  const by = checkSigner(signer, `sign note '${note.id}'`);
  return { ...note, docStatus: 'final', date: now.toISOString(), authenticator: by, author: withAuthor(note.author, by) };
}

/** Who signed a note, for display. */
export function noteSigner(note: DocumentReference): string | undefined {
  return note.authenticator ? (note.authenticator.display ?? note.authenticator.reference) : undefined;
}

/**
 * Amending a signed note (or a signed amendment) keeps the signed text untouched: a transaction Bundle that
 * creates the amendment, a new DocumentReference with `docStatus` amended and `relatesTo` replaces → the
 * original, and marks the original `status` superseded, guarded by its version (`If-Match`) so that two people
 * amending at once cannot both win.
 */
export function amendNoteBundle(original: DocumentReference, title: string, body: string, now: Date, signer: Reference | undefined): FhirResource {
  const state = noteState(original);
  if (state !== 'signed' && state !== 'amendment') throw new TypeError(`Cannot amend note '${original.id}': only a signed note is amended`);
  if (!body.trim()) throw new TypeError('Cannot amend the note: the amendment is empty');
  // An amendment is signed when saved, by the person amending (who may not be the original's signer).
  const by = checkSigner(signer, `amend note '${original.id}'`);
  const amendment: DocumentReference = {
    resourceType: 'DocumentReference',
    status: 'current',
    docStatus: 'amended',
    type: original.type ?? NOTE_TYPE,
    ...(original.subject ? { subject: original.subject } : {}),
    date: now.toISOString(),
    description: title.trim() || original.description || 'Progress note',
    relatesTo: [{ code: 'replaces', target: { reference: `DocumentReference/${original.id}` } }],
    author: [by],
    authenticator: by,
    content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: utf8ToBase64(body), creation: now.toISOString() } }],
  };
  const superseded: DocumentReference = { ...original, status: 'superseded' };
  delete superseded.meta;
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { resource: amendment, request: { method: 'POST', url: 'DocumentReference' } },
      {
        resource: superseded,
        request: { method: 'PUT', url: `DocumentReference/${original.id}`, ...(original.meta?.versionId ? { ifMatch: `W/"${original.meta.versionId}"` } : {}) },
      },
    ],
  };
}

/** The id of the note a note replaces, if it is an amendment. */
export function replacedNoteId(note: DocumentReference): string | undefined {
  const target = note.relatesTo?.find((r) => r.code === 'replaces')?.target.reference;
  return target?.startsWith('DocumentReference/') ? target.slice('DocumentReference/'.length) : undefined;
}

export interface TrendPoint {
  time: number;
  value: number;
}
export interface Trend {
  key: string;
  label: string;
  unit: string;
  points: TrendPoint[];
}

/** Numeric observations grouped by code (system|code, else text), each series in time order. */
export function observationTrends(observations: readonly Observation[]): Trend[] {
  const trends = new Map<string, Trend>();
  for (const o of observations) {
    if (o.status === 'entered-in-error' || typeof o.valueQuantity?.value !== 'number') continue;
    const when = Date.parse(o.effectiveDateTime ?? o.issued ?? '');
    if (Number.isNaN(when)) continue;
    const coding = o.code.coding?.[0];
    const key = coding?.code ? `${coding.system ?? ''}|${coding.code}` : conceptText(o.code);
    let trend = trends.get(key);
    if (!trend) {
      trend = { key, label: conceptText(o.code) || key, unit: o.valueQuantity.unit ?? o.valueQuantity.code ?? '', points: [] };
      trends.set(key, trend);
    }
    trend.points.push({ time: when, value: o.valueQuantity.value });
  }
  const list = [...trends.values()];
  for (const t of list) t.points.sort((a, b) => a.time - b.time);
  return list.sort((a, b) => a.label.localeCompare(b.label));
}

export interface TrendGeometry {
  /** SVG `points` of the polyline, in the box's coordinates. */
  polyline: string;
  dots: { x: number; y: number; value: number; time: number }[];
  min: number;
  max: number;
}

/**
 * Places a trend in a `width` x `height` box with `pad` pixels inside each edge: time left to right, values bottom
 * to top. A single point or a flat series sits in the middle rather than dividing by zero.
 */
export function trendGeometry(points: readonly TrendPoint[], width: number, height: number, pad = 6): TrendGeometry {
  if (points.length === 0) return { polyline: '', dots: [], min: 0, max: 0 };
  const times = points.map((p) => p.time);
  const values = points.map((p) => p.value);
  const [t0, t1] = [Math.min(...times), Math.max(...times)];
  const [min, max] = [Math.min(...values), Math.max(...values)];
  const x = (t: number) => (t1 === t0 ? width / 2 : pad + ((t - t0) / (t1 - t0)) * (width - 2 * pad));
  const y = (v: number) => (max === min ? height / 2 : height - pad - ((v - min) / (max - min)) * (height - 2 * pad));
  const round = (n: number) => Math.round(n * 10) / 10;
  const dots = points.map((p) => ({ x: round(x(p.time)), y: round(y(p.value)), value: p.value, time: p.time }));
  return { polyline: dots.map((d) => `${d.x},${d.y}`).join(' '), dots, min, max };
}

export interface TimelineStudy {
  studyInstanceUid: string;
  started?: string;
  description: string;
  modalities: string[];
  numberOfSeries: number;
  numberOfInstances: number;
  /** Absent for a study without images (a resting ECG): the server has no thumbnail to give. */
  thumbnailUrl?: string;
  viewerUrl: string;
}

/** The study UID of an ImagingStudy: its `urn:dicom:uid` identifier (value `urn:oid:<uid>`), else its id. */
export function studyUidOf(study: ImagingStudy): string {
  const value = study.identifier?.find((i) => i.system === 'urn:dicom:uid')?.value;
  if (value) return value.replace(/^urn:oid:/, '');
  return study.id ?? '';
}

/**
 * The imaging timeline: newest first, undated studies last, with the DICOMweb thumbnail (when the study has images)
 * and the address of its view (the cardiology view for a waveform-only study).
 */
export function imagingTimeline(studies: readonly ImagingStudy[]): TimelineStudy[] {
  return studies
    .map((s): TimelineStudy => {
      const uid = studyUidOf(s);
      const modalities = [...new Set([...(s.modality ?? []), ...(s.series ?? []).flatMap((x) => (x.modality ? [x.modality] : []))].map((c) => c.code ?? ''))].filter(Boolean);
      return {
        studyInstanceUid: uid,
        ...(s.started ? { started: s.started } : {}),
        description: s.description ?? '',
        modalities,
        numberOfSeries: s.numberOfSeries ?? s.series?.length ?? 0,
        numberOfInstances: s.numberOfInstances ?? 0,
        ...(hasImages(modalities) ? { thumbnailUrl: `/dicom-web/studies/${encodeURIComponent(uid)}/thumbnail` } : {}),
        viewerUrl: studyViewUrl(encodeURIComponent(uid), modalities),
      };
    })
    .sort((a, b) => (b.started ?? '').localeCompare(a.started ?? ''));
}

/** The message of a FHIR error answer: the OperationOutcome's issues, with the element each names. */
export function operationOutcomeMessage(outcome: unknown, fallback: string): string {
  const issues = (outcome as { resourceType?: string; issue?: { diagnostics?: string; details?: { text?: string }; expression?: string[] }[] })?.issue;
  if (!Array.isArray(issues) || issues.length === 0) return fallback;
  return issues
    .map((i) => {
      const text = i.diagnostics ?? i.details?.text ?? 'error';
      return i.expression?.length ? `${text} (${i.expression.join(', ')})` : text;
    })
    .join('; ');
}

/** A problem marked resolved (clinicalStatus resolved, abatement now): a new version of the same Condition. */
export function resolveProblem(condition: FhirResource, now: Date): FhirResource {
  if (condition.resourceType !== 'Condition') throw new TypeError(`Cannot resolve a ${condition.resourceType}`);
  return {
    ...condition,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'resolved' }] },
    abatementDateTime: now.toISOString(),
  };
}

/** A medication order stopped: status stopped (R4 MedicationRequest.status), the rest kept. */
export function stopMedication(request: FhirResource): FhirResource {
  if (request.resourceType !== 'MedicationRequest') throw new TypeError(`Cannot stop a ${request.resourceType}`);
  return { ...request, status: 'stopped' };
}
