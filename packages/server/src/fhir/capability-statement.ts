import { COMPOSITE_PARAMETERS, READ_ONLY_RESOURCE_TYPES, SEARCH_PARAMETERS, SUPPORTED_RESOURCE_TYPES } from './search-parameters.js';

/**
 * The CapabilityStatement (FHIR R4 capabilitystatement.html) built from the same tables the server runs on, so it
 * says exactly what is supported: the resource types, their interactions, every search parameter, the
 * `_include`/`_revinclude` values, conditional operations, batch and transaction.
 */
export function capabilityStatement(base: string, now: Date): Record<string, unknown> {
  const revincludes = new Map<string, string[]>();
  for (const [source, params] of SEARCH_PARAMETERS) {
    for (const def of params.values()) {
      if (def.type !== 'reference') continue;
      for (const target of def.targets ?? []) {
        if (!SEARCH_PARAMETERS.has(target)) continue;
        revincludes.set(target, [...(revincludes.get(target) ?? []), `${source}:${def.name}`]);
      }
    }
  }
  const resources = SUPPORTED_RESOURCE_TYPES.map((type) => {
    const params = SEARCH_PARAMETERS.get(type)!;
    const readOnly = READ_ONLY_RESOURCE_TYPES.has(type);
    const interactions = readOnly
      ? ['read', 'vread', 'history-instance', 'history-type', 'search-type']
      : ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'];
    return {
      type,
      profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
      ...(readOnly
        ? { documentation: `${type} is derived from the image archive's index and kept current as instances arrive; it is read-only.` }
        : {}),
      interaction: interactions.map((code) => ({ code })),
      versioning: 'versioned-update',
      readHistory: true,
      updateCreate: !readOnly,
      conditionalCreate: !readOnly,
      conditionalRead: 'full-support',
      conditionalUpdate: !readOnly,
      conditionalDelete: readOnly ? 'not-supported' : 'single',
      referencePolicy: ['literal', 'local'],
      searchInclude: ['*', ...[...params.values()].filter((d) => d.type === 'reference').map((d) => `${type}:${d.name}`)],
      // The `:iterate` forms are the same values (rest.documentation); R4 has no element that lists modifiers.
      searchRevInclude: revincludes.get(type) ?? [],
      searchParam: [
        { name: '_id', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id', type: 'token' },
        { name: '_lastUpdated', definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated', type: 'date' },
        ...[...params.values()].map((d) => ({
          name: d.name,
          definition: d.name.startsWith('_')
            ? `http://hl7.org/fhir/SearchParameter/Resource-${d.name.slice(1)}`
            : `http://hl7.org/fhir/SearchParameter/${type}-${d.name}`,
          type: d.type,
        })),
        ...[...(COMPOSITE_PARAMETERS.get(type)?.values() ?? [])].map((d) => ({
          name: d.name,
          definition: `http://hl7.org/fhir/SearchParameter/${type}-${d.name}`,
          type: 'composite',
          documentation: `${d.components[0]}$${d.components[1]}, both from the same ${d.bases.map((b) => (b === '' ? type : `${type}.${b}`)).join(' or ')}`,
        })),
      ],
    };
  });
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: now.toISOString(),
    publisher: 'Atrium',
    kind: 'instance',
    software: { name: 'Atrium' },
    implementation: { description: 'Atrium FHIR R4 API', url: base },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        documentation:
          'Search: token (:not, :text), string (:exact, :contains), date and quantity (prefixes eq ne gt lt ge le sa eb ap), ' +
          'reference (:[type], :identifier), uri (:below, :above), composite (first$second, both from the same element), ' +
          ':missing on all but composite; chained (one or more levels) and reverse chained (_has) searches; _sort, _count, ' +
          '_offset, _total, _summary=count, _include, _revinclude, _include:iterate, _revinclude:iterate. Not supported: ' +
          'token :in, :not-in, :below, :above (no ValueSets, no terminology service) and :of-type. Unknown parameters ' +
          'and modifiers are refused (400, OperationOutcome not-supported) unless Prefer: handling=lenient.',
        resource: resources,
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }],
      },
    ],
  };
}
