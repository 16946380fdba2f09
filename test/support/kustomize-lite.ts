// Renders a kustomization directory as `kustomize build` does, for the features deploy/ uses and no more: resources
// (files and directories), components, and JSON 6902 patches aimed at a kind and name. Any other field is refused,
// so the tests never validate something kustomize would render differently (and where kubectl is installed,
// test/deploy-manifests.test.ts compares the two).

import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

interface PatchOp { op: string; path: string; value?: unknown }
interface PatchEntry { path: string; target: { kind: string; name: string } }

const KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'components', 'patches']);

/** Every document of a YAML file, as objects. */
export function readYamlObjects(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    return doc.toJS() as K8sObject;
  }).filter((o) => o !== null);
}

/** The objects `kustomize build dir` prints (in resource order, not kustomize's kind order). */
export function renderKustomization(dir: string, expectKind: 'Kustomization' | 'Component' = 'Kustomization'): K8sObject[] {
  const file = path.join(dir, 'kustomization.yaml');
  const k = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(k)) if (!KUSTOMIZATION_FIELDS.has(key)) throw new Error(`${file}: kustomize-lite does not render '${key}'`);
  if (k.kind !== expectKind) throw new Error(`${file}: kind ${String(k.kind)}, expected ${expectKind}`);
  let objects: K8sObject[] = [];
  for (const entry of (k.resources ?? []) as string[]) {
    const target = path.resolve(dir, entry);
    objects.push(...(statSync(target).isDirectory() ? renderKustomization(target) : readYamlObjects(target)));
  }
  // A component adds its resources and patches the objects accumulated so far (kustomize's order).
  for (const entry of (k.components ?? []) as string[]) {
    objects = applyComponent(path.resolve(dir, entry), objects);
  }
  applyPatches(dir, (k.patches ?? []) as PatchEntry[], objects);
  return objects;
}

function applyComponent(dir: string, objects: K8sObject[]): K8sObject[] {
  const file = path.join(dir, 'kustomization.yaml');
  const c = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(c)) if (!KUSTOMIZATION_FIELDS.has(key)) throw new Error(`${file}: kustomize-lite does not render '${key}'`);
  if (c.kind !== 'Component') throw new Error(`${file}: not a Component`);
  const out = [...objects];
  for (const entry of (c.resources ?? []) as string[]) out.push(...readYamlObjects(path.resolve(dir, entry)));
  applyPatches(dir, (c.patches ?? []) as PatchEntry[], out);
  return out;
}

function applyPatches(dir: string, patches: PatchEntry[], objects: K8sObject[]): void {
  for (const patch of patches) {
    const ops = parse(readFileSync(path.resolve(dir, patch.path), 'utf8')) as PatchOp[];
    if (!Array.isArray(ops)) throw new Error(`${patch.path}: kustomize-lite applies JSON 6902 patches (a list of ops) only`);
    const targets = objects.filter((o) => o.kind === patch.target.kind && o.metadata.name === patch.target.name);
    if (targets.length === 0) throw new Error(`${patch.path}: no ${patch.target.kind} named ${patch.target.name}`);
    for (const target of targets) for (const op of ops) applyOp(target, op, patch.path);
  }
}

/** RFC 6902 add, replace and remove (RFC 6901 pointers; '-' appends to an array). */
function applyOp(doc: K8sObject, op: PatchOp, source: string): void {
  const tokens = op.path.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = tokens.pop()!;
  let parent: unknown = doc;
  for (const token of tokens) {
    parent = (parent as Record<string, unknown>)?.[token];
    if (parent === undefined || parent === null) throw new Error(`${source}: ${op.op} ${op.path}: '${token}' does not exist`);
  }
  const value = structuredClone(op.value);
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new Error(`${source}: ${op.path}: bad index`);
    if (op.op === 'add') parent.splice(index, 0, value);
    else if (op.op === 'replace') parent.splice(index, 1, value);
    else if (op.op === 'remove') parent.splice(index, 1);
    else throw new Error(`${source}: kustomize-lite does not apply '${op.op}'`);
    return;
  }
  const object = parent as Record<string, unknown>;
  if (op.op === 'add') object[last] = value;
  else if (op.op === 'replace' || op.op === 'remove') {
    if (!(last in object)) throw new Error(`${source}: ${op.op} ${op.path}: nothing there`);
    if (op.op === 'replace') object[last] = value;
    else delete object[last];
  } else throw new Error(`${source}: kustomize-lite does not apply '${op.op}'`);
}
