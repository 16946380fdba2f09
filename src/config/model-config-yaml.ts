// Reads the YAML/JSON form of the model config (JSON is read as YAML 1.2, its superset) into the config tree.

import {
  LineCounter, Scalar, isAlias, isMap, isScalar, isSeq, parseDocument, visit, type Alias, type Document, type Node as YamlNode,
} from 'yaml';
import { configError, type ConfigNode, type ReaderContext, type SourcePos } from './model-config-reader.js';
import {
  MAX_CONFIG_DEPTH, MAX_CONFIG_ENTRIES, MAX_CONFIG_VALUES, MAX_YAML_ALIASES, MAX_YAML_FLOW_BRACKETS, ValueBudget, excessFlowBrackets, shown,
} from './config-limits.js';

/** One conversion: the source's lines, where each alias points, and what has been spent of the bounds. */
interface Walk {
  lines: LineCounter;
  ctx: ReaderContext;
  /** alias node → the anchored node it names (the last one before it), found in one pass over the document. */
  targets: Map<Alias, YamlNode | undefined>;
  aliasUses: number;
  budget: ValueBudget;
}

function position(lines: LineCounter, node: { range?: readonly number[] | null } | null | undefined): SourcePos {
  const offset = node?.range?.[0] ?? 0;
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

/**
 * Where each alias points. yaml's Alias.resolve(doc) walks the whole document on every call, and the yaml package's
 * maxAliasCount is applied only by toJS(), not to a walk over the nodes like ours: both are done here instead.
 */
function aliasTargets(doc: Document): Map<Alias, YamlNode | undefined> {
  const anchors = new Map<string, YamlNode>();
  const targets = new Map<Alias, YamlNode | undefined>();
  visit(doc, {
    Node: (_key, node) => {
      // Document order, anchor before alias: an alias names the last node anchored so before it (YAML 1.2, 7.1).
      if (isAlias(node)) targets.set(node, anchors.get(node.source));
      else if (node.anchor !== undefined) anchors.set(node.anchor, node);
    },
  });
  return targets;
}

function convert(walk: Walk, node: unknown, path: string, depth: number): ConfigNode {
  const { lines, ctx } = walk;
  const pos = position(lines, node as YamlNode);
  if (depth > MAX_CONFIG_DEPTH) throw configError(ctx, pos, path, `nested deeper than ${MAX_CONFIG_DEPTH} levels (or an alias cycle)`);
  if (!walk.budget.take()) throw configError(ctx, pos, path, `the config holds more than ${MAX_CONFIG_VALUES} values (counting each alias expansion)`);
  if (isAlias(node)) {
    if (++walk.aliasUses > MAX_YAML_ALIASES) {
      throw configError(ctx, pos, path, `more than ${MAX_YAML_ALIASES} YAML alias uses (*${shown(node.source)} is one more; each expansion counts)`);
    }
    const target = walk.targets.get(node);
    if (target === undefined) throw configError(ctx, pos, path, `alias *${shown(node.source)} names no anchor before it`);
    return convert(walk, target, path, depth + 1);
  }
  if (isMap(node)) {
    if (node.items.length > MAX_CONFIG_ENTRIES) throw configError(ctx, pos, path, `more than ${MAX_CONFIG_ENTRIES} fields in one mapping`);
    // Duplicate keys are found here rather than by the YAML parser, so the message can name the field.
    const seen = new Map<string, number>();
    const fields = node.items.map((pair) => {
      if (!isScalar(pair.key) || (typeof pair.key.value !== 'string' && typeof pair.key.value !== 'number')) {
        throw configError(ctx, position(lines, pair.key as YamlNode), path, 'keys must be plain strings');
      }
      const name = String(pair.key.value);
      const keyPos = position(lines, pair.key);
      const fieldPath = path === '' ? name : `${path}.${name}`;
      if (seen.has(name)) throw configError(ctx, keyPos, fieldPath, `given twice (first at line ${seen.get(name)})`);
      seen.set(name, keyPos.line);
      // `key:` with nothing after it is null in YAML; for a message-typed field that means an empty message.
      const value = pair.value === null ? { kind: 'scalar' as const, value: null, quoted: false, ...keyPos } : convert(walk, pair.value, fieldPath, depth + 1);
      return { name, value, ...keyPos };
    });
    return { kind: 'message', fields, ...pos };
  }
  if (isSeq(node)) {
    if (node.items.length > MAX_CONFIG_ENTRIES) throw configError(ctx, pos, path, `more than ${MAX_CONFIG_ENTRIES} entries in one list`);
    return { kind: 'list', items: node.items.map((item, i) => convert(walk, item, `${path}[${i}]`, depth + 1)), ...pos };
  }
  if (isScalar(node)) {
    const value = node.value;
    if (value !== null && typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw configError(ctx, pos, path, `unsupported YAML value ${shown(String(value))}`);
    }
    const quoted = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE;
    return { kind: 'scalar', value, quoted, ...pos };
  }
  throw configError(ctx, pos, path, 'unsupported YAML node');
}

/**
 * Parses YAML or JSON text into the config tree. Throws ERR_CONFIG with the line and column; the bounds of
 * config-limits.ts (flow nesting, aliases, values, entries) are enforced before the work they bound is done.
 */
export function parseYaml(text: string, ctx: ReaderContext): ConfigNode {
  const lines = new LineCounter();
  const excess = excessFlowBrackets(text);
  if (excess >= 0) {
    // The line counter is filled by the parser; without parsing, count the lines up to the offending bracket.
    const before = text.slice(0, excess);
    const line = before.split('\n').length;
    const column = excess - before.lastIndexOf('\n');
    throw configError(ctx, { line, column }, '', `more than ${MAX_YAML_FLOW_BRACKETS} '[' or '{' open at once (nesting is limited to ${MAX_CONFIG_DEPTH} levels)`);
  }
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false, strict: true, version: '1.2' });
  const first = doc.errors[0];
  if (first !== undefined) {
    const at = lines.linePos(first.pos[0]);
    throw configError(ctx, { line: at.line, column: at.col }, '', `YAML: ${first.message.split('\n')[0]}`);
  }
  if (doc.contents === null) return { kind: 'message', fields: [], line: 1, column: 1 };
  const walk: Walk = { lines, ctx, targets: aliasTargets(doc), aliasUses: 0, budget: new ValueBudget() };
  return convert(walk, doc.contents, '', 0);
}
