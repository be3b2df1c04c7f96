/**
 * The search parameters Atrium supports, per resource type: the R4 parameters (searchparameter-registry.html) with
 * their code, type and element paths. Paths are dotted element names from the resource; `x[x]` is any type of
 * the choice element `x`; `telecom(system=phone)` keeps the items whose `system` is `phone`. `targets` limits a
 * reference parameter to references of those types (`Condition.subject.where(resolve() is Patient)`).
 * A test checks every entry against the official definitions (code, type, base, targets).
 */
export type SearchParamType = 'token' | 'string' | 'date' | 'reference' | 'quantity' | 'uri';

export interface SearchParamDefinition {
  readonly name: string;
  readonly type: SearchParamType;
  readonly paths: readonly string[];
  readonly targets?: readonly string[];
}

type Def = [name: string, type: SearchParamType, paths: string | string[], targets?: string[]];

const PATIENT = ['Patient'];
const PERSONS = ['Practitioner', 'PractitionerRole', 'Organization', 'Patient', 'RelatedPerson', 'Device'];

const COMMON_CLINICAL = (subjectTargets: string[], encounter = 'encounter'): Def[] => [
  ['identifier', 'token', 'identifier'],
  ['subject', 'reference', 'subject', subjectTargets],
  ['patient', 'reference', 'subject', PATIENT],
  ['encounter', 'reference', encounter, ['Encounter']],
];

const PERSON_NAMES: Def[] = [
  ['identifier', 'token', 'identifier'],
  ['name', 'string', 'name'],
  ['family', 'string', 'name.family'],
  ['given', 'string', 'name.given'],
  ['active', 'token', 'active'],
  ['gender', 'token', 'gender'],
  ['telecom', 'token', 'telecom'],
  ['phone', 'token', 'telecom(system=phone)'],
  ['email', 'token', 'telecom(system=email)'],
  ['address', 'string', 'address'],
  ['address-city', 'string', 'address.city'],
  ['address-country', 'string', 'address.country'],
  ['address-postalcode', 'string', 'address.postalCode'],
  ['address-state', 'string', 'address.state'],
];

const DEFINITIONS: Record<string, Def[]> = {
  Patient: [
    ...PERSON_NAMES,
    ['birthdate', 'date', 'birthDate'],
    ['death-date', 'date', 'deceasedDateTime'],
    ['general-practitioner', 'reference', 'generalPractitioner', ['Organization', 'Practitioner', 'PractitionerRole']],
    ['organization', 'reference', 'managingOrganization', ['Organization']],
    ['link', 'reference', 'link.other', ['Patient', 'RelatedPerson']],
    ['language', 'token', 'communication.language'],
  ],
  Practitioner: [...PERSON_NAMES, ['communication', 'token', 'communication']],
  Organization: [
    ['identifier', 'token', 'identifier'],
    ['name', 'string', ['name', 'alias']],
    ['active', 'token', 'active'],
    ['type', 'token', 'type'],
    ['address', 'string', 'address'],
    ['address-city', 'string', 'address.city'],
    ['address-country', 'string', 'address.country'],
    ['address-postalcode', 'string', 'address.postalCode'],
    ['address-state', 'string', 'address.state'],
    ['partof', 'reference', 'partOf', ['Organization']],
    ['endpoint', 'reference', 'endpoint', ['Endpoint']],
  ],
  Encounter: [
    ['identifier', 'token', 'identifier'],
    ['status', 'token', 'status'],
    ['class', 'token', 'class'],
    ['type', 'token', 'type'],
    ['subject', 'reference', 'subject', ['Patient', 'Group']],
    ['patient', 'reference', 'subject', PATIENT],
    ['date', 'date', 'period'],
    ['length', 'quantity', 'length'],
    ['participant', 'reference', 'participant.individual', ['Practitioner', 'PractitionerRole', 'RelatedPerson']],
    ['practitioner', 'reference', 'participant.individual', ['Practitioner']],
    ['participant-type', 'token', 'participant.type'],
    ['service-provider', 'reference', 'serviceProvider', ['Organization']],
    ['based-on', 'reference', 'basedOn', ['ServiceRequest']],
    ['part-of', 'reference', 'partOf', ['Encounter']],
    ['reason-code', 'token', 'reasonCode'],
    ['diagnosis', 'reference', 'diagnosis.condition', ['Condition', 'Procedure']],
  ],
  Condition: [
    ...COMMON_CLINICAL(['Patient', 'Group']),
    ['clinical-status', 'token', 'clinicalStatus'],
    ['verification-status', 'token', 'verificationStatus'],
    ['category', 'token', 'category'],
    ['severity', 'token', 'severity'],
    ['code', 'token', 'code'],
    ['body-site', 'token', 'bodySite'],
    ['onset-date', 'date', ['onsetDateTime', 'onsetPeriod']],
    ['abatement-date', 'date', ['abatementDateTime', 'abatementPeriod']],
    ['recorded-date', 'date', 'recordedDate'],
    ['onset-age', 'quantity', 'onsetAge'],
    ['asserter', 'reference', 'asserter', ['Practitioner', 'Patient', 'PractitionerRole', 'RelatedPerson']],
    ['evidence', 'token', 'evidence.code'],
    ['stage', 'token', 'stage.summary'],
  ],
  AllergyIntolerance: [
    ['identifier', 'token', 'identifier'],
    ['patient', 'reference', 'patient', PATIENT],
    ['clinical-status', 'token', 'clinicalStatus'],
    ['verification-status', 'token', 'verificationStatus'],
    ['type', 'token', 'type'],
    ['category', 'token', 'category'],
    ['criticality', 'token', 'criticality'],
    ['code', 'token', ['code', 'reaction.substance']],
    ['manifestation', 'token', 'reaction.manifestation'],
    ['severity', 'token', 'reaction.severity'],
    ['route', 'token', 'reaction.exposureRoute'],
    ['date', 'date', 'recordedDate'],
    ['onset', 'date', 'reaction.onset'],
    ['last-date', 'date', 'lastOccurrence'],
    ['recorder', 'reference', 'recorder', ['Practitioner', 'Patient', 'PractitionerRole', 'RelatedPerson']],
    ['asserter', 'reference', 'asserter', ['Practitioner', 'Patient', 'PractitionerRole', 'RelatedPerson']],
  ],
  MedicationRequest: [
    ...COMMON_CLINICAL(['Patient', 'Group']),
    ['status', 'token', 'status'],
    ['intent', 'token', 'intent'],
    ['priority', 'token', 'priority'],
    ['category', 'token', 'category'],
    ['code', 'token', 'medicationCodeableConcept'],
    ['medication', 'reference', 'medicationReference', ['Medication']],
    ['authoredon', 'date', 'authoredOn'],
    ['date', 'date', 'dosageInstruction.timing.event'],
    ['requester', 'reference', 'requester', PERSONS],
    ['intended-performer', 'reference', 'performer', [...PERSONS, 'CareTeam']],
  ],
  MedicationStatement: [
    ['identifier', 'token', 'identifier'],
    ['subject', 'reference', 'subject', ['Patient', 'Group']],
    ['patient', 'reference', 'subject', PATIENT],
    ['context', 'reference', 'context', ['Encounter', 'EpisodeOfCare']],
    ['status', 'token', 'status'],
    ['category', 'token', 'category'],
    ['code', 'token', 'medicationCodeableConcept'],
    ['medication', 'reference', 'medicationReference', ['Medication']],
    ['effective', 'date', 'effective[x]'],
    ['source', 'reference', 'informationSource', ['Practitioner', 'Organization', 'Patient', 'PractitionerRole', 'RelatedPerson']],
    ['part-of', 'reference', 'partOf', ['MedicationDispense', 'Observation', 'MedicationAdministration', 'Procedure', 'MedicationStatement']],
  ],
  Observation: [
    ...COMMON_CLINICAL(['Patient', 'Group', 'Device', 'Location']),
    ['status', 'token', 'status'],
    ['category', 'token', 'category'],
    ['code', 'token', 'code'],
    ['combo-code', 'token', ['code', 'component.code']],
    ['component-code', 'token', 'component.code'],
    ['date', 'date', 'effective[x]'],
    ['value-quantity', 'quantity', 'valueQuantity'],
    ['component-value-quantity', 'quantity', 'component.valueQuantity'],
    ['value-concept', 'token', 'valueCodeableConcept'],
    ['value-string', 'string', 'valueString'],
    ['value-date', 'date', ['valueDateTime', 'valuePeriod']],
    ['data-absent-reason', 'token', 'dataAbsentReason'],
    ['method', 'token', 'method'],
    ['performer', 'reference', 'performer', ['Practitioner', 'Organization', 'CareTeam', 'Patient', 'PractitionerRole', 'RelatedPerson']],
    ['based-on', 'reference', 'basedOn', ['CarePlan', 'MedicationRequest', 'NutritionOrder', 'DeviceRequest', 'ServiceRequest', 'ImmunizationRecommendation']],
    ['derived-from', 'reference', 'derivedFrom', ['Media', 'Observation', 'ImagingStudy', 'MolecularSequence', 'QuestionnaireResponse', 'DocumentReference']],
    ['has-member', 'reference', 'hasMember', ['Observation', 'QuestionnaireResponse', 'MolecularSequence']],
    ['part-of', 'reference', 'partOf', ['Immunization', 'MedicationDispense', 'MedicationAdministration', 'Procedure', 'ImagingStudy', 'MedicationStatement']],
  ],
  Procedure: [
    ...COMMON_CLINICAL(['Patient', 'Group']),
    ['status', 'token', 'status'],
    ['category', 'token', 'category'],
    ['code', 'token', 'code'],
    ['date', 'date', 'performed[x]'],
    ['performer', 'reference', 'performer.actor', PERSONS],
    ['based-on', 'reference', 'basedOn', ['CarePlan', 'ServiceRequest']],
    ['reason-code', 'token', 'reasonCode'],
    ['reason-reference', 'reference', 'reasonReference', ['Condition', 'Observation', 'Procedure', 'DiagnosticReport', 'DocumentReference']],
    ['part-of', 'reference', 'partOf', ['Observation', 'Procedure', 'MedicationAdministration']],
    ['location', 'reference', 'location', ['Location']],
  ],
  ServiceRequest: [
    ...COMMON_CLINICAL(['Patient', 'Group', 'Location', 'Device']),
    ['status', 'token', 'status'],
    ['intent', 'token', 'intent'],
    ['priority', 'token', 'priority'],
    ['category', 'token', 'category'],
    ['code', 'token', 'code'],
    ['requisition', 'token', 'requisition'],
    ['body-site', 'token', 'bodySite'],
    ['performer-type', 'token', 'performerType'],
    ['authored', 'date', 'authoredOn'],
    ['occurrence', 'date', 'occurrence[x]'],
    ['requester', 'reference', 'requester', PERSONS],
    ['performer', 'reference', 'performer', [...PERSONS, 'CareTeam', 'HealthcareService']],
    ['based-on', 'reference', 'basedOn', ['CarePlan', 'MedicationRequest', 'ServiceRequest']],
    ['replaces', 'reference', 'replaces', ['ServiceRequest']],
  ],
  DiagnosticReport: [
    ...COMMON_CLINICAL(['Patient', 'Group', 'Device', 'Location']),
    ['status', 'token', 'status'],
    ['category', 'token', 'category'],
    ['code', 'token', 'code'],
    ['conclusion', 'token', 'conclusionCode'],
    ['date', 'date', 'effective[x]'],
    ['issued', 'date', 'issued'],
    ['performer', 'reference', 'performer', ['Practitioner', 'Organization', 'CareTeam', 'PractitionerRole']],
    ['results-interpreter', 'reference', 'resultsInterpreter', ['Practitioner', 'Organization', 'CareTeam', 'PractitionerRole']],
    ['result', 'reference', 'result', ['Observation']],
    ['based-on', 'reference', 'basedOn', ['CarePlan', 'MedicationRequest', 'NutritionOrder', 'ServiceRequest', 'ImmunizationRecommendation']],
    ['media', 'reference', 'media.link', ['Media']],
  ],
  DocumentReference: [
    ['identifier', 'token', ['masterIdentifier', 'identifier']],
    ['subject', 'reference', 'subject', ['Practitioner', 'Group', 'Device', 'Patient']],
    ['patient', 'reference', 'subject', PATIENT],
    ['encounter', 'reference', 'context.encounter', ['EpisodeOfCare', 'Encounter']],
    ['status', 'token', 'status'],
    ['type', 'token', 'type'],
    ['category', 'token', 'category'],
    ['date', 'date', 'date'],
    ['period', 'date', 'context.period'],
    ['description', 'string', 'description'],
    ['author', 'reference', 'author', PERSONS],
    ['custodian', 'reference', 'custodian', ['Organization']],
    ['authenticator', 'reference', 'authenticator', ['Practitioner', 'Organization', 'PractitionerRole']],
    ['contenttype', 'token', 'content.attachment.contentType'],
    ['language', 'token', 'content.attachment.language'],
    ['format', 'token', 'content.format'],
    ['location', 'uri', 'content.attachment.url'],
    ['relatesto', 'reference', 'relatesTo.target', ['DocumentReference']],
    ['relation', 'token', 'relatesTo.code'],
    ['event', 'token', 'context.event'],
    ['security-label', 'token', 'securityLabel'],
  ],
  Endpoint: [
    ['identifier', 'token', 'identifier'],
    ['name', 'string', 'name'],
    ['status', 'token', 'status'],
    ['connection-type', 'token', 'connectionType'],
    ['payload-type', 'token', 'payloadType'],
    ['organization', 'reference', 'managingOrganization', ['Organization']],
  ],
  ImagingStudy: [
    ['identifier', 'token', 'identifier'],
    ['subject', 'reference', 'subject', ['Group', 'Device', 'Patient']],
    ['patient', 'reference', 'subject', PATIENT],
    ['encounter', 'reference', 'encounter', ['Encounter']],
    ['status', 'token', 'status'],
    ['started', 'date', 'started'],
    ['modality', 'token', 'series.modality'],
    ['bodysite', 'token', 'series.bodySite'],
    ['series', 'token', 'series.uid'],
    ['instance', 'token', 'series.instance.uid'],
    ['dicom-class', 'token', 'series.instance.sopClass'],
    ['reason', 'token', 'reasonCode'],
    ['basedon', 'reference', 'basedOn', ['Appointment', 'AppointmentResponse', 'CarePlan', 'Task', 'ServiceRequest']],
    ['endpoint', 'reference', ['endpoint', 'series.endpoint'], ['Endpoint']],
    ['referrer', 'reference', 'referrer', ['Practitioner', 'PractitionerRole']],
    ['interpreter', 'reference', 'interpreter', ['Practitioner', 'PractitionerRole']],
    ['performer', 'reference', 'series.performer.actor', ['Practitioner', 'Organization', 'CareTeam', 'Patient', 'Device', 'PractitionerRole', 'RelatedPerson']],
  ],
};

/**
 * A composite parameter (search.html#composite): two values read from the same element instance, searched as
 * `first$second`. The first is a token (or, for DocumentReference `relationship`, a reference); the second is
 * indexed in its own type's table under a key that carries the first (see `search-index.ts`).
 */
export interface CompositeParamDefinition {
  readonly name: string;
  /** Paths of the instances both values come from; '' is the resource itself. */
  readonly bases: readonly string[];
  readonly first: { readonly type: 'token' | 'reference'; readonly path: string; readonly targets?: readonly string[] };
  readonly second: { readonly type: 'token' | 'quantity' | 'date' | 'string'; readonly paths: readonly string[] };
  /** The component parameters, as the official definition lists them. */
  readonly components: readonly [string, string];
}

const OBSERVATION_COMPOSITES: CompositeParamDefinition[] = (
  [
    ['code-value-quantity', [''], 'quantity', ['valueQuantity'], 'code', 'value-quantity'],
    ['code-value-concept', [''], 'token', ['valueCodeableConcept'], 'code', 'value-concept'],
    ['code-value-date', [''], 'date', ['valueDateTime', 'valuePeriod'], 'code', 'value-date'],
    ['code-value-string', [''], 'string', ['valueString'], 'code', 'value-string'],
    ['combo-code-value-quantity', ['', 'component'], 'quantity', ['valueQuantity'], 'combo-code', 'combo-value-quantity'],
    ['combo-code-value-concept', ['', 'component'], 'token', ['valueCodeableConcept'], 'combo-code', 'combo-value-concept'],
    ['component-code-value-quantity', ['component'], 'quantity', ['valueQuantity'], 'component-code', 'component-value-quantity'],
    ['component-code-value-concept', ['component'], 'token', ['valueCodeableConcept'], 'component-code', 'component-value-concept'],
  ] as const
).map(([name, bases, type, paths, firstParam, secondParam]) => ({
  name,
  bases,
  first: { type: 'token', path: 'code' },
  second: { type, paths },
  components: [firstParam, secondParam],
}));

/** Composite parameters by resource type, then code. */
export const COMPOSITE_PARAMETERS: ReadonlyMap<string, ReadonlyMap<string, CompositeParamDefinition>> = new Map(
  Object.entries({
    Observation: OBSERVATION_COMPOSITES,
    DocumentReference: [
      {
        name: 'relationship',
        bases: ['relatesTo'],
        first: { type: 'reference', path: 'target', targets: ['DocumentReference'] },
        second: { type: 'token', paths: ['code'] },
        components: ['relatesto', 'relation'],
      } satisfies CompositeParamDefinition,
    ],
  }).map(([type, defs]) => [type, new Map(defs.map((d) => [d.name, d]))]),
);

/** Parameters of every resource (search.html#all): matched on `meta` and the resource table. */
export const COMMON_SEARCH_PARAMETERS: readonly SearchParamDefinition[] = [
  { name: '_tag', type: 'token', paths: ['meta.tag'] },
  { name: '_security', type: 'token', paths: ['meta.security'] },
  { name: '_profile', type: 'uri', paths: ['meta.profile'] },
];

/** The resource types of the FHIR API, in the order the CapabilityStatement lists them. */
export const SUPPORTED_RESOURCE_TYPES: readonly string[] = Object.keys(DEFINITIONS);

/** Resource types clients may only read: derived from the archive, never a second truth. */
export const READ_ONLY_RESOURCE_TYPES: ReadonlySet<string> = new Set(['ImagingStudy']);

/** Search parameters by resource type, then code. */
export const SEARCH_PARAMETERS: ReadonlyMap<string, ReadonlyMap<string, SearchParamDefinition>> = new Map(
  Object.entries(DEFINITIONS).map(([type, defs]) => [
    type,
    new Map<string, SearchParamDefinition>([
      ...COMMON_SEARCH_PARAMETERS.map((d) => [d.name, d] as const),
      ...defs.map(([name, paramType, paths, targets]) => [
        name,
        { name, type: paramType, paths: Array.isArray(paths) ? paths : [paths], ...(targets ? { targets } : {}) },
      ] as const),
    ]),
  ]),
);
