// The format-neutral config tree (from TF Serving text format or YAML/JSON) and a reader that names line and field.

import { OrtServeError } from '../errors.js';
import { MAX_CONFIG_ENTRIES, shown } from './config-limits.js';

/** Where a node starts in the source text (1-based). */
export interface SourcePos {
  line: number;
  column: number;
}

export type ConfigNode =
  | (SourcePos & { kind: 'scalar'; value: string | number | boolean | null; quoted: boolean })
  | (SourcePos & { kind: 'message'; fields: ConfigField[] })
  | (SourcePos & { kind: 'list'; items: ConfigNode[] });

export interface ConfigField extends SourcePos {
  name: string;
  value: ConfigNode;
}

export type ConfigFormat = 'pbtxt' | 'yaml';

export interface ReaderContext {
  /** The file name (or "request body") that messages start with. */
  source: string;
  format: ConfigFormat;
  /**
   * When set, unknown and unsupported fields are recorded here (path and why) instead of refused: Triton's
   * config.pbtxt carries fields ortserve does not act on, and the model status names them rather than failing.
   */
  ignored?: IgnoredField[];
}

/** A field a lenient reader did not act on: its path, where it is and why. */
export interface IgnoredField {
  path: string;
  line: number;
  reason: string;
}

/** An ERR_CONFIG error that starts with `source:line:column:` and names the field path. */
export function configError(ctx: ReaderContext, pos: SourcePos, field: string, problem: string): OrtServeError {
  const where = field === '' ? '' : `${field}: `;
  return new OrtServeError('ERR_CONFIG', `${ctx.source}:${pos.line}:${pos.column}: ${where}${problem}`);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function describeNode(node: ConfigNode): string {
  if (node.kind === 'message') return 'a message';
  if (node.kind === 'list') return 'a list';
  return node.quoted || typeof node.value === 'string' ? `'${shown(String(node.value))}'` : String(node.value);
}

export interface IntRule {
  min: number;
  max: number;
  /** Also accept TF Serving's wrapper form `field { value: N }` (google.protobuf.Int64Value). */
  wrapped?: boolean;
}

/**
 * Reads one message node: each accessor takes a field by name, checks its kind and range, and throws ERR_CONFIG with
 * the line and the full field path. Unknown fields are refused when the reader is made, with a suggestion.
 */
export class MessageReader {
  readonly fields: ConfigField[];

  constructor(
    readonly node: ConfigNode,
    readonly path: string,
    readonly ctx: ReaderContext,
    known: readonly string[],
    unsupported: Readonly<Record<string, string>> = {},
  ) {
    // YAML's `all:` (nothing after the key) is null: for a message-typed field that is the empty message.
    const empty = node.kind === 'scalar' && node.value === null && !node.quoted;
    if (node.kind !== 'message' && !empty) throw configError(ctx, node, path, `expected a message, got ${describeNode(node)}`);
    this.fields = node.kind === 'message' ? node.fields : [];
    for (const f of this.fields) {
      const reason = unsupported[f.name];
      if (reason !== undefined) {
        if (ctx.ignored === undefined) throw configError(ctx, f, this.sub(f.name), reason);
        ctx.ignored.push({ path: this.sub(f.name), line: f.line, reason });
        continue;
      }
      if (!known.includes(f.name) && ctx.ignored !== undefined) {
        ctx.ignored.push({ path: this.sub(shown(f.name)), line: f.line, reason: 'unknown field, not used by ortserve' });
        continue;
      }
      if (!known.includes(f.name)) {
        // The edit distance costs name length × field length: only names of a plausible length get a suggestion.
        const near = f.name.length > 64 ? [] : known.filter((k) => editDistance(k, f.name) <= 2);
        const hint = near.length > 0 ? `did you mean ${near.join(' or ')}? ` : '';
        throw configError(ctx, f, this.sub(shown(f.name)), `unknown field (${hint}known fields: ${known.join(', ')})`);
      }
    }
  }

  sub(name: string, index?: number): string {
    const base = this.path === '' ? name : `${this.path}.${name}`;
    return index === undefined ? base : `${base}[${index}]`;
  }

  has(name: string): boolean {
    return this.fields.some((f) => f.name === name);
  }

  /** Throws ERR_CONFIG at `name`'s position (or the message's when absent). */
  fail(name: string | undefined, problem: string, at?: SourcePos): never {
    const field = name === undefined ? undefined : this.fields.find((f) => f.name === name);
    throw configError(this.ctx, at ?? field ?? this.node, name === undefined ? this.path : this.sub(name), problem);
  }

  /** The single value of a non-repeated field; refuses a second occurrence and a list. */
  single(name: string): ConfigField | undefined {
    const all = this.fields.filter((f) => f.name === name);
    if (all.length > 1) this.fail(name, `given twice (first at line ${all[0]!.line})`, all[1]);
    const field = all[0];
    if (field?.value.kind === 'list') this.fail(name, 'expected one value, got a list');
    return field;
  }

  /**
   * Every value of a repeated field: repeated occurrences and list syntax both count, in order. More than
   * MAX_CONFIG_ENTRIES values is an error naming the field and the first value past the limit.
   */
  repeated(name: string): Array<{ node: ConfigNode; path: string }> {
    const out: Array<{ node: ConfigNode; path: string }> = [];
    for (const f of this.fields.filter((x) => x.name === name)) {
      const items = f.value.kind === 'list' ? f.value.items : [f.value];
      for (const node of items) {
        if (out.length === MAX_CONFIG_ENTRIES) throw configError(this.ctx, node, this.sub(name), `more than ${MAX_CONFIG_ENTRIES} values`);
        out.push({ node, path: this.sub(name, out.length) });
      }
    }
    return out;
  }

  string(name: string, required = false): string | undefined {
    const field = this.single(name);
    if (field === undefined) return required ? this.fail(undefined, `${name} is required`) : undefined;
    return scalarString(this.ctx, field.value, this.sub(name));
  }

  int(name: string, rule: IntRule): number | undefined {
    const field = this.single(name);
    if (field === undefined) return undefined;
    return scalarInt(this.ctx, unwrap(this.ctx, field.value, this.sub(name), rule.wrapped), this.sub(name), rule);
  }

  ints(name: string, rule: IntRule): number[] {
    return this.repeated(name).map(({ node, path }) => scalarInt(this.ctx, unwrap(this.ctx, node, path, rule.wrapped), path, rule));
  }

  bool(name: string, wrapped = false): boolean | undefined {
    const field = this.single(name);
    if (field === undefined) return undefined;
    const path = this.sub(name);
    const node = unwrap(this.ctx, field.value, path, wrapped);
    if (node.kind === 'scalar') {
      if (typeof node.value === 'boolean') return node.value;
      if (!node.quoted && typeof node.value === 'string' && /^(true|t|True|false|f|False)$/.test(node.value)) return /^t/i.test(node.value);
      if (!node.quoted && (node.value === 0 || node.value === 1)) return node.value === 1;
    }
    throw configError(this.ctx, node, path, `${describeNode(node)} is not true or false`);
  }

  /** An enum: TF Serving writes them as bare identifiers, YAML as strings; matched without regard to case. */
  enumOf<T extends string>(name: string, values: readonly T[]): T | undefined {
    const field = this.single(name);
    if (field === undefined) return undefined;
    const text = scalarString(this.ctx, field.value, this.sub(name), true);
    const match = values.find((v) => v.toLowerCase() === text.toLowerCase());
    if (match === undefined) this.fail(name, `'${text}' is not one of ${values.join(', ')}`);
    return match;
  }

  message(name: string, known: readonly string[], unsupported?: Readonly<Record<string, string>>): MessageReader | undefined {
    const field = this.single(name);
    if (field === undefined) return undefined;
    return new MessageReader(field.value, this.sub(name), this.ctx, known, unsupported);
  }

  messages(name: string, known: readonly string[], unsupported?: Readonly<Record<string, string>>): MessageReader[] {
    return this.repeated(name).map(({ node, path }) => new MessageReader(node, path, this.ctx, known, unsupported));
  }

  /**
   * A map<string, int64> such as version_labels. Text format writes repeated `{ key: .. value: .. }` entries (also
   * accepted in YAML as a list); YAML/JSON write a mapping. Duplicate keys are refused.
   */
  intMap(name: string, rule: IntRule): Array<{ key: string; value: number; pos: SourcePos; path: string }> {
    const out: Array<{ key: string; value: number; pos: SourcePos; path: string }> = [];
    const seen = new Map<string, number>();
    const add = (key: string, valueNode: ConfigNode, pos: SourcePos) => {
      const path = `${this.sub(name)}[${JSON.stringify(key)}]`;
      if (seen.has(key)) throw configError(this.ctx, pos, path, `given twice (first at line ${seen.get(key)})`);
      seen.set(key, pos.line);
      out.push({ key, value: scalarInt(this.ctx, valueNode, path, rule), pos, path });
    };
    let index = 0;
    for (const f of this.fields.filter((x) => x.name === name)) {
      if (this.ctx.format === 'yaml' && f.value.kind === 'message') {
        for (const entry of f.value.fields) add(entry.name, entry.value, entry);
        continue;
      }
      for (const node of f.value.kind === 'list' ? f.value.items : [f.value]) {
        const entry: MessageReader = new MessageReader(node, this.sub(name, index++), this.ctx, ['key', 'value']);
        const key = entry.string('key', true)!;
        const value = entry.single('value');
        if (value === undefined) entry.fail(undefined, 'value is required');
        add(key, value.value, node);
      }
    }
    return out;
  }
}

/** Accepts `{ value: x }` (protobuf wrapper types) in place of x where allowed. */
function unwrap(ctx: ReaderContext, node: ConfigNode, path: string, wrapped?: boolean): ConfigNode {
  if (!wrapped || node.kind !== 'message') return node;
  const inner = new MessageReader(node, path, ctx, ['value']).single('value');
  if (inner === undefined) throw configError(ctx, node, path, 'value is required');
  return inner.value;
}

function scalarString(ctx: ReaderContext, node: ConfigNode, path: string, allowIdentifier = false): string {
  if (node.kind === 'scalar' && typeof node.value === 'string' && (node.quoted || allowIdentifier || ctx.format === 'yaml')) {
    return node.value;
  }
  throw configError(ctx, node, path, `expected a string, got ${describeNode(node)}`);
}

function scalarInt(ctx: ReaderContext, node: ConfigNode, path: string, rule: IntRule): number {
  if (node.kind !== 'scalar' || node.quoted || (typeof node.value !== 'number' && typeof node.value !== 'string')) {
    throw configError(ctx, node, path, `expected an integer, got ${describeNode(node)}`);
  }
  const value = typeof node.value === 'number' ? node.value : Number.NaN;
  if (!Number.isSafeInteger(value)) throw configError(ctx, node, path, `${describeNode(node)} is not an integer`);
  if (value < rule.min || value > rule.max) throw configError(ctx, node, path, `${value} is outside ${rule.min}..${rule.max}`);
  return value;
}
