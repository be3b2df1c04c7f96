import { FHIR_MODEL, type FhirElementSpec } from './fhir-model.generated.js';
import type { FhirIssue } from './fhir-error.js';
import { isPrimitiveType, NUMBER_TYPES, PRIMITIVE_PATTERNS } from './fhir-primitives.js';
import { CONTAINED_INVARIANTS, INVARIANTS, type Invariant } from './invariants.js';

/** Elements every Element and BackboneElement has (FHIR R4 element.html, backboneelement.html). */
const ELEMENT_BASE: Readonly<Record<string, FhirElementSpec>> = {
  id: { type: 'string', min: 0, max: 1 },
  extension: { type: 'Extension', min: 0, max: -1 },
  modifierExtension: { type: 'Extension', min: 0, max: -1 },
};

/** Limits that keep a hostile document from costing more than it is worth. */
const MAX_DEPTH = 32;
const MAX_ISSUES = 50;

/**
 * Structural validation of a resource against the FHIR R4 definitions (json.html, the StructureDefinitions of
 * the resource and its datatypes): known elements only, JSON shapes (array or single, object or primitive),
 * cardinality, required elements, one value per choice element, primitive lexical forms, and codes of elements
 * bound `required`, `ele-1` (no empty elements) and the invariants of `invariants.ts`. Each issue names the element by
 * its FHIRPath (`Observation.component[1].code`).
 */
export function validateResource(resource: unknown, allowedTypes: ReadonlySet<string>, path = ''): FhirIssue[] {
  const issues: FhirIssue[] = [];
  const fail = (expression: string, diagnostics: string, code = 'structure') => {
    if (issues.length < MAX_ISSUES) issues.push({ severity: 'error', code, diagnostics, expression: [expression] });
  };

  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
    fail(path || 'Resource', `Cannot read resource: expected a JSON object, got ${Array.isArray(resource) ? 'an array' : typeof resource}`);
    return issues;
  }
  const resourceType = (resource as Record<string, unknown>).resourceType;
  if (typeof resourceType !== 'string') {
    fail(path || 'Resource', 'Cannot read resource: resourceType is missing', 'required');
    return issues;
  }
  if (!allowedTypes.has(resourceType) || !FHIR_MODEL[resourceType]) {
    fail(path || resourceType, `Cannot accept resource type '${resourceType}': not supported by this server`, 'not-supported');
    return issues;
  }

  const walk = (value: Record<string, unknown>, type: string, where: string, depth: number, isResource: boolean) => {
    if (depth > MAX_DEPTH) {
      fail(where, `Cannot read element '${where}': nested deeper than ${MAX_DEPTH} levels`, 'too-costly');
      return;
    }
    const specs = FHIR_MODEL[type] ?? {};
    const lookup = (name: string): FhirElementSpec | undefined => specs[name] ?? (isResource ? undefined : ELEMENT_BASE[name]);
    const choices = new Map<string, string[]>();
    for (const [key, item] of Object.entries(value)) {
      if (isResource && key === 'resourceType') continue;
      const at = `${where}.${key}`;
      if (key.startsWith('_')) {
        // The id/extension companion of a primitive element (json.html#primitive).
        const spec = lookup(key.slice(1));
        if (!spec || !isPrimitiveType(spec.type)) {
          fail(at, `Cannot accept element '${at}': '${key.slice(1)}' is not a primitive element of ${type}`);
          continue;
        }
        const items = Array.isArray(item) ? item : [item];
        items.forEach((x, i) => {
          if (x === null) return;
          if (typeof x !== 'object' || Array.isArray(x)) fail(Array.isArray(item) ? `${at}[${i}]` : at, `Cannot accept element '${at}': expected an object`);
          else walk(x as Record<string, unknown>, 'Element', Array.isArray(item) ? `${at}[${i}]` : at, depth + 1, false);
        });
        continue;
      }
      const spec = lookup(key);
      if (!spec) {
        fail(at, `Cannot accept element '${at}': ${type} has no element '${key}'`);
        continue;
      }
      if (spec.choice) choices.set(spec.choice, [...(choices.get(spec.choice) ?? []), key]);
      if (spec.max === -1 || spec.max > 1) {
        if (!Array.isArray(item)) {
          fail(at, `Cannot accept element '${at}': expected an array`);
          continue;
        }
        if (item.length === 0) fail(at, `Cannot accept element '${at}': arrays cannot be empty`);
        if (spec.max > 1 && item.length > spec.max) fail(at, `Cannot accept element '${at}': at most ${spec.max} values allowed`);
        item.forEach((x, i) => check(x, spec, `${at}[${i}]`, depth));
      } else {
        if (Array.isArray(item)) {
          fail(at, `Cannot accept element '${at}': expected a single value, got an array`);
          continue;
        }
        check(item, spec, at, depth);
      }
    }
    for (const [name, spec] of Object.entries(specs)) {
      if (spec.min === 0) continue;
      if (spec.type === '[x]') {
        if (!choices.has(spec.choice ?? '')) fail(`${where}.${name.replace('[x]', '')}`, `Cannot accept ${type}: required element '${where}.${name}' is missing`, 'required');
      } else if (value[name] === undefined && value[`_${name}`] === undefined) {
        fail(`${where}.${name}`, `Cannot accept ${type}: required element '${where}.${name}' is missing`, 'required');
      }
    }
    for (const [choice, keys] of choices) {
      if (keys.length > 1) fail(`${where}.${keys[1]}`, `Cannot accept element '${where}.${choice}[x]': only one of ${keys.join(', ')} may be present`);
    }
    if (!isResource && Object.keys(value).every((k) => k === 'id')) {
      fail(where, `Cannot accept element '${where}': ele-1 failed: All FHIR elements must have a @value or children`, 'invariant');
    }
    const invariant = (inv: Invariant) => {
      if (inv.check(value, root)) return;
      const at = inv.element ? `${where}.${inv.element}` : where;
      const reason = inv.reason?.(value);
      fail(at, `Cannot accept element '${at}': ${inv.key} failed: ${inv.human}${reason ? ` (${reason})` : ''}`, 'invariant');
    };
    (INVARIANTS[type] ?? []).forEach(invariant);
    if (isResource && value !== root) CONTAINED_INVARIANTS.forEach(invariant);
    if (type === 'Reference' && typeof value.reference === 'string') localReferences.push({ at: where, value: value.reference });
  };

  /** Every Reference.reference and canonical, uri or url value starting with '#', with where it stands. */
  const localReferences: Array<{ at: string; value: string }> = [];

  const check = (item: unknown, spec: FhirElementSpec, at: string, depth: number) => {
    const type = spec.type;
    if (item === null) {
      fail(at, `Cannot accept element '${at}': null is not a value`);
      return;
    }
    if (type === 'boolean') {
      if (typeof item !== 'boolean') fail(at, `Cannot accept element '${at}': expected a boolean, got ${JSON.stringify(item)}`, 'value');
      return;
    }
    const numeric = NUMBER_TYPES[type];
    if (numeric) {
      if (typeof item !== 'number' || !Number.isFinite(item)) fail(at, `Cannot accept element '${at}': expected a number, got ${JSON.stringify(item)}`, 'value');
      else if (numeric.integer && !Number.isInteger(item)) fail(at, `Cannot accept element '${at}': '${item}' is not an integer`, 'value');
      else if ((numeric.min !== undefined && item < numeric.min) || (numeric.max !== undefined && item > numeric.max)) {
        fail(at, `Cannot accept element '${at}': '${item}' is out of range for ${type}`, 'value');
      }
      return;
    }
    const pattern = PRIMITIVE_PATTERNS[type];
    if ((type === 'canonical' || type === 'uri' || type === 'url') && typeof item === 'string' && item.startsWith('#')) {
      localReferences.push({ at, value: item });
    }
    if (pattern) {
      if (typeof item !== 'string') fail(at, `Cannot accept element '${at}': expected a ${type} string, got ${JSON.stringify(item)}`, 'value');
      else if (!pattern.test(item)) fail(at, `Cannot accept element '${at}': '${item.slice(0, 80)}' is not a valid ${type}`, 'value');
      else if (spec.codes && !spec.codes.includes(item)) {
        fail(at, `Cannot accept element '${at}': '${item.slice(0, 80)}' is not one of the required codes (${spec.codes.join(', ')})`, 'code-invalid');
      }
      return;
    }
    if (typeof item !== 'object' || Array.isArray(item)) {
      fail(at, `Cannot accept element '${at}': expected an object of type ${type}`);
      return;
    }
    if (type === 'Resource') {
      const contained = (item as Record<string, unknown>).resourceType;
      if (typeof contained !== 'string' || !allowedTypes.has(contained) || !FHIR_MODEL[contained]) {
        fail(at, `Cannot accept element '${at}': contained resource type '${String(contained)}' is not supported`, 'not-supported');
        return;
      }
      walk(item as Record<string, unknown>, contained, at, depth + 1, true);
      return;
    }
    walk(item as Record<string, unknown>, type, at, depth + 1, false);
  };

  const root = resource as Record<string, any>;
  const rootPath = path || resourceType;
  walk(root, resourceType, rootPath, 0, true);
  // dom-3: a contained resource is referred to from elsewhere in the resource ('#id'), or refers to its
  // container ('#') from within itself.
  if (Array.isArray(root.contained)) {
    const targets = new Set(localReferences.map((r) => r.value));
    root.contained.forEach((contained: unknown, i: number) => {
      const at = `${rootPath}.contained[${i}]`;
      const id = (contained as { id?: unknown } | null)?.id;
      const referred = typeof id === 'string' && targets.has(`#${id}`);
      const refersToContainer = localReferences.some((r) => r.value === '#' && r.at.startsWith(`${at}.`));
      if (!referred && !refersToContainer) {
        fail(at, `Cannot accept element '${at}': dom-3 failed: If the resource is contained in another resource, it SHALL be referred to from elsewhere in the resource or SHALL refer to the containing resource`, 'invariant');
      }
    });
  }
  return issues;
}
