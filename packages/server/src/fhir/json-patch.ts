import { FhirError } from './fhir-error.js';

/** One RFC 6902 operation. */
export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

function bad(index: number, message: string): FhirError {
  return new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot apply JSON Patch operation ${index}: ${message}`, { expression: [`[${index}]`] });
}

/** RFC 6901 pointer to tokens. */
function tokens(pointer: string, index: number): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw bad(index, `'${pointer}' is not a JSON pointer`);
  return pointer.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: unknown, path: string[], index: number): { parent: any; key: string } {
  let node: any = doc;
  for (const token of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') throw bad(index, `path '/${path.join('/')}' does not exist`);
    node = Array.isArray(node) ? node[Number(token)] : node[token];
    if (node === undefined) throw bad(index, `path '/${path.join('/')}' does not exist`);
  }
  if (node === null || typeof node !== 'object') throw bad(index, `path '/${path.join('/')}' does not exist`);
  return { parent: node, key: path[path.length - 1]! };
}

function arrayIndex(parent: unknown[], key: string, index: number, forAdd: boolean): number {
  if (forAdd && key === '-') return parent.length;
  if (!/^(0|[1-9]\d*)$/.test(key)) throw bad(index, `'${key}' is not an array index`);
  const i = Number(key);
  if (i > parent.length || (!forAdd && i === parent.length)) throw bad(index, `index ${i} is out of bounds`);
  return i;
}

function get(doc: unknown, path: string[], index: number): unknown {
  if (path.length === 0) return doc;
  const { parent, key } = parentOf(doc, path, index);
  const value = Array.isArray(parent) ? parent[arrayIndex(parent, key, index, false)] : parent[key];
  if (value === undefined) throw bad(index, `path '/${path.join('/')}' does not exist`);
  return value;
}

function remove(doc: unknown, path: string[], index: number): unknown {
  if (path.length === 0) throw bad(index, 'cannot remove the whole document');
  const { parent, key } = parentOf(doc, path, index);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, index, false), 1)[0];
  if (!(key in parent)) throw bad(index, `path '/${path.join('/')}' does not exist`);
  const value = parent[key];
  delete parent[key];
  return value;
}

function add(doc: unknown, path: string[], value: unknown, index: number): unknown {
  if (path.length === 0) return value;
  const { parent, key } = parentOf(doc, path, index);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, index, true), 0, value);
  else parent[key] = value;
  return doc;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Applies a JSON Patch (RFC 6902) to a copy of `document`; the whole patch applies or none of it. */
export function applyJsonPatch(document: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) {
    throw new FhirError('ATRIUM_ERR_FHIR_INVALID', 'Cannot apply JSON Patch: the body is not an array of operations');
  }
  let doc = structuredClone(document);
  patch.forEach((operation: JsonPatchOperation, index) => {
    if (operation === null || typeof operation !== 'object' || typeof operation.path !== 'string') {
      throw bad(index, 'an operation needs op and path');
    }
    const path = tokens(operation.path, index);
    switch (operation.op) {
      case 'add':
        if (!('value' in operation)) throw bad(index, "'add' needs a value");
        doc = add(doc, path, structuredClone(operation.value), index);
        break;
      case 'remove':
        remove(doc, path, index);
        break;
      case 'replace':
        if (!('value' in operation)) throw bad(index, "'replace' needs a value");
        if (path.length === 0) doc = structuredClone(operation.value);
        else {
          remove(doc, path, index);
          doc = add(doc, path, structuredClone(operation.value), index);
        }
        break;
      case 'move': {
        if (typeof operation.from !== 'string') throw bad(index, "'move' needs from");
        const value = remove(doc, tokens(operation.from, index), index);
        doc = add(doc, path, value, index);
        break;
      }
      case 'copy': {
        if (typeof operation.from !== 'string') throw bad(index, "'copy' needs from");
        doc = add(doc, path, structuredClone(get(doc, tokens(operation.from, index), index)), index);
        break;
      }
      case 'test':
        if (!deepEqual(get(doc, path, index), operation.value)) throw bad(index, `test of '${operation.path}' failed`);
        break;
      default:
        throw bad(index, `'${String((operation as { op: unknown }).op)}' is not a JSON Patch operation`);
    }
  });
  return doc;
}
