// Reads the YAML/JSON form of the model config (JSON is read as YAML 1.2, its superset) into the config tree.

import { LineCounter, Scalar, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { configError, type ConfigNode, type ReaderContext, type SourcePos } from './model-config-reader.js';

/** Aliases may point at an ancestor; a depth limit turns such a cycle (or absurd nesting) into an error. */
const MAX_DEPTH = 32;

function position(lines: LineCounter, node: { range?: readonly number[] | null } | null | undefined): SourcePos {
  const offset = node?.range?.[0] ?? 0;
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

function convert(doc: Document, node: unknown, lines: LineCounter, ctx: ReaderContext, path: string, depth: number): ConfigNode {
  if (depth > MAX_DEPTH) throw configError(ctx, position(lines, node as YamlNode), path, `nested deeper than ${MAX_DEPTH} levels (or an alias cycle)`);
  if (isAlias(node)) return convert(doc, node.resolve(doc), lines, ctx, path, depth + 1);
  const pos = position(lines, node as YamlNode);
  if (isMap(node)) {
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
      const value = pair.value === null ? { kind: 'scalar' as const, value: null, quoted: false, ...keyPos } : convert(doc, pair.value, lines, ctx, fieldPath, depth + 1);
      return { name, value, ...keyPos };
    });
    return { kind: 'message', fields, ...pos };
  }
  if (isSeq(node)) {
    return { kind: 'list', items: node.items.map((item, i) => convert(doc, item, lines, ctx, `${path}[${i}]`, depth + 1)), ...pos };
  }
  if (isScalar(node)) {
    const value = node.value;
    if (value !== null && typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw configError(ctx, pos, path, `unsupported YAML value ${String(value)}`);
    }
    const quoted = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE;
    return { kind: 'scalar', value, quoted, ...pos };
  }
  throw configError(ctx, pos, path, 'unsupported YAML node');
}

/** Parses YAML or JSON text into the config tree. Throws ERR_CONFIG with the line and column. */
export function parseYaml(text: string, ctx: ReaderContext): ConfigNode {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false, strict: true, version: '1.2' });
  const first = doc.errors[0];
  if (first !== undefined) {
    const at = lines.linePos(first.pos[0]);
    throw configError(ctx, { line: at.line, column: at.col }, '', `YAML: ${first.message.split('\n')[0]}`);
  }
  if (doc.contents === null) return { kind: 'message', fields: [], line: 1, column: 1 };
  return convert(doc, doc.contents, lines, ctx, '', 0);
}
