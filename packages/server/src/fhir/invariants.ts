import { dateRange } from './fhir-primitives.js';
import { narrativeProblem } from './narrative.js';

/**
 * The FHIRPath invariants (severity error) of the R4 StructureDefinitions of the resources Atrium serves and of
 * their datatypes, written in TypeScript: the runtime has no FHIRPath engine, and the tests check every answer
 * with one (`fhir-conformance.test-support.ts`), so a mistake here shows up there. Keys and wording are the
 * specification's. Terminology-bound invariants need no terminology server: they test fixed system/code pairs.
 */
export interface Invariant {
  key: string;
  human: string;
  /** The child element the specification declares the invariant on (`div` of Narrative), named in the issue. */
  element?: string;
  check(node: Record<string, any>, resource: Record<string, any>): boolean;
  /** What broke it, when more can be said than `human`. */
  reason?(node: Record<string, any>): string | undefined;
}

const hasCoding = (concept: any, system: string, codes: string[]) =>
  Array.isArray(concept?.coding) && concept.coding.some((c: any) => c?.system === system && codes.includes(c?.code));
const exists = (v: unknown) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);
const valueKeys = (node: Record<string, unknown>) => Object.keys(node).filter((k) => /^value[A-Z]/.test(k));
const UCUM = 'http://unitsofmeasure.org';
const AI_VERIFICATION = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification';
const CONDITION_CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const CONDITION_VERIFICATION = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';

const qty3: Invariant = { key: 'qty-3', human: 'If a code for the unit is present, the system SHALL also be present', check: (q) => !exists(q.code) || exists(q.system) };

/** Comparable quantity values: same code, or neither coded (FHIRPath compares quantities of the same unit). */
const le = (a: any, b: any) => typeof a?.value !== 'number' || typeof b?.value !== 'number' || (a.code ?? a.unit) !== (b.code ?? b.unit) || a.value <= b.value;

/** Invariants by owning type: resource, backbone element path, or datatype. */
export const INVARIANTS: Readonly<Record<string, readonly Invariant[]>> = {
  AllergyIntolerance: [
    {
      key: 'ait-1',
      human: 'AllergyIntolerance.clinicalStatus SHALL be present if verificationStatus is not entered-in-error',
      check: (r) => hasCoding(r.verificationStatus, AI_VERIFICATION, ['entered-in-error']) || exists(r.clinicalStatus),
    },
    {
      key: 'ait-2',
      human: 'AllergyIntolerance.clinicalStatus SHALL NOT be present if verification Status is entered-in-error',
      check: (r) => !hasCoding(r.verificationStatus, AI_VERIFICATION, ['entered-in-error']) || !exists(r.clinicalStatus),
    },
  ],
  Condition: [
    {
      key: 'con-4',
      human: 'If condition is abated, then clinicalStatus must be either inactive, resolved, or remission',
      check: (r) =>
        !Object.keys(r).some((k) => /^abatement[A-Z]/.test(k)) || hasCoding(r.clinicalStatus, CONDITION_CLINICAL, ['resolved', 'remission', 'inactive']),
    },
    {
      key: 'con-5',
      human: 'Condition.clinicalStatus SHALL NOT be present if verification Status is entered-in-error',
      check: (r) => !hasCoding(r.verificationStatus, CONDITION_VERIFICATION, ['entered-in-error']) || !exists(r.clinicalStatus),
    },
  ],
  'Condition.stage': [{ key: 'con-1', human: 'Stage SHALL have summary or assessment', check: (s) => exists(s.summary) || exists(s.assessment) }],
  'Condition.evidence': [{ key: 'con-2', human: 'evidence SHALL have code or details', check: (e) => exists(e.code) || exists(e.detail) }],
  Observation: [
    {
      key: 'obs-6',
      human: 'dataAbsentReason SHALL only be present if Observation.value[x] is not present',
      check: (o) => !exists(o.dataAbsentReason) || valueKeys(o).length === 0,
    },
    {
      key: 'obs-7',
      human: 'If Observation.code is the same as an Observation.component.code then the value element associated with the code SHALL NOT be present',
      check: (o) => {
        if (valueKeys(o).length === 0) return true;
        const codings = (o.code?.coding ?? []) as any[];
        const same = (a: any, b: any) => JSON.stringify(a) === JSON.stringify(b);
        return !((o.component ?? []) as any[]).some((c) => ((c?.code?.coding ?? []) as any[]).some((cc) => codings.some((oc) => same(oc, cc))));
      },
    },
  ],
  'Observation.referenceRange': [
    { key: 'obs-3', human: 'Must have at least a low or a high or text', check: (r) => exists(r.low) || exists(r.high) || exists(r.text) },
  ],
  Organization: [
    { key: 'org-1', human: 'The organization SHALL at least have a name or an identifier, and possibly more than one', check: (o) => exists(o.identifier) || exists(o.name) },
    { key: 'org-2', human: 'An address of an organization can never be of use home', check: (o) => !((o.address ?? []) as any[]).some((a) => a?.use === 'home') },
    { key: 'org-3', human: 'The telecom of an organization can never be of use home', check: (o) => !((o.telecom ?? []) as any[]).some((t) => t?.use === 'home') },
  ],
  'Patient.contact': [
    {
      key: 'pat-1',
      human: 'SHALL at least contain a contact\'s details or a reference to an organization',
      check: (c) => exists(c.name) || exists(c.telecom) || exists(c.address) || exists(c.organization),
    },
  ],
  Narrative: [
    {
      key: 'txt-1',
      human:
        'The narrative SHALL contain only the basic html formatting elements and attributes described in chapters 7-11 (except section 4 of chapter 9) and 12 of the HTML 4.0 standard, <a> elements (either name or href), images and internally contained style attributes',
      element: 'div',
      check: (n) => narrativeProblem(n.div)?.key !== 'txt-1',
      reason: (n) => narrativeProblem(n.div)?.reason,
    },
    {
      key: 'txt-2',
      human: 'The narrative SHALL have some non-whitespace content',
      element: 'div',
      check: (n) => narrativeProblem(n.div)?.key !== 'txt-2',
    },
  ],
  ServiceRequest: [{ key: 'prr-1', human: 'orderDetail SHALL only be present if code is present', check: (s) => !exists(s.orderDetail) || exists(s.code) }],
  Extension: [{ key: 'ext-1', human: 'Must have either extensions or value[x], not both', check: (e) => exists(e.extension) !== (valueKeys(e).length > 0) }],
  Period: [
    {
      key: 'per-1',
      human: 'If present, start SHALL have a lower value than end',
      check: (p) => {
        const start = typeof p.start === 'string' ? dateRange(p.start) : undefined;
        const end = typeof p.end === 'string' ? dateRange(p.end) : undefined;
        return !start || !end || start.low <= end.high;
      },
    },
  ],
  Range: [{ key: 'rng-2', human: 'If present, low SHALL have a lower value than high', check: (r) => !r.low || !r.high || le(r.low, r.high) }],
  Attachment: [{ key: 'att-1', human: 'If the Attachment has data, it SHALL have a contentType', check: (a) => !exists(a.data) || exists(a.contentType) }],
  ContactPoint: [{ key: 'cpt-2', human: 'A system is required if a value is provided.', check: (c) => !exists(c.value) || exists(c.system) }],
  Quantity: [qty3],
  SimpleQuantity: [qty3, { key: 'sqty-1', human: 'The comparator is not used on a SimpleQuantity', check: (q) => !exists(q.comparator) }],
  Age: [
    qty3,
    {
      key: 'age-1',
      human: 'There SHALL be a code if there is a value and it SHALL be an expression of time.  If system is present, it SHALL be UCUM.  If value is present, it SHALL be positive.',
      check: (q) => (exists(q.code) || !exists(q.value)) && (!exists(q.system) || q.system === UCUM) && (typeof q.value !== 'number' || q.value > 0),
    },
  ],
  Duration: [
    qty3,
    { key: 'drt-1', human: 'There SHALL be a code if there is a value and it SHALL be an expression of time.  If system is present, it SHALL be UCUM.', check: (q) => !exists(q.code) || (q.system === UCUM && exists(q.value)) },
  ],
  Distance: [
    qty3,
    { key: 'dis-1', human: 'There SHALL be a code if there is a value and it SHALL be an expression of length.  If system is present, it SHALL be UCUM.', check: (q) => (exists(q.code) || !exists(q.value)) && (!exists(q.system) || q.system === UCUM) },
  ],
  Count: [
    qty3,
    {
      key: 'cnt-3',
      human: 'There SHALL be a code with a value of "1" if there is a value. If system is present, it SHALL be UCUM.  If present, the value SHALL be a whole number.',
      check: (q) => (exists(q.code) || !exists(q.value)) && (!exists(q.system) || q.system === UCUM) && (!exists(q.code) || q.code === '1') && (typeof q.value !== 'number' || Number.isInteger(q.value)),
    },
  ],
  Ratio: [
    {
      key: 'rat-1',
      human: 'Numerator and denominator SHALL both be present, or both are absent. If both are absent, there SHALL be some extension present',
      check: (r) => exists(r.numerator) === exists(r.denominator) && (exists(r.numerator) || exists(r.extension)),
    },
  ],
  Reference: [
    {
      key: 'ref-1',
      human: 'SHALL have a contained resource if a local reference is provided',
      check: (r, resource) =>
        typeof r.reference !== 'string' || !r.reference.startsWith('#') || ((resource.contained ?? []) as any[]).some((c) => `#${c?.id}` === r.reference),
    },
  ],
};

/**
 * DomainResource invariants on contained resources (dom-2, dom-4, dom-5); dom-3, which needs every reference of the
 * container, is checked by the validator's walk.
 */
export const CONTAINED_INVARIANTS: readonly Invariant[] = [
  { key: 'dom-2', human: 'If the resource is contained in another resource, it SHALL NOT contain nested Resources', check: (c) => !exists(c.contained) },
  {
    key: 'dom-4',
    human: 'If a resource is contained in another resource, it SHALL NOT have a meta.versionId or a meta.lastUpdated',
    check: (c) => !exists(c.meta?.versionId) && !exists(c.meta?.lastUpdated),
  },
  { key: 'dom-5', human: 'If a resource is contained in another resource, it SHALL NOT have a security label', check: (c) => !exists(c.meta?.security) },
];
