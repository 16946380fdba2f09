// A small parser for protobuf text format (TF Serving's --model_config_file) into the format-neutral config tree.

/*
 * Grammar (the subset of protobuf text format that config files use):
 *   message := field*                      field := NAME ( ':'? block | ':'? block-list | ':' value ) [',' | ';']
 *   block   := '{' field* '}' | '<' field* '>'
 *   value   := scalar | block | '[' (scalar | block) (',' (scalar | block))* ']'
 *   scalar  := STRING+ (adjacent strings concatenate) | NUMBER | '-' NUMBER | IDENT (true, false, enum values)
 * Comments run from '#' to the end of the line. Extension fields ('[pkg.ext]') and Any expansion are refused.
 */

import { configError, type ConfigField, type ConfigNode, type ReaderContext, type SourcePos } from './model-config-reader.js';
import { MAX_CONFIG_DEPTH, MAX_CONFIG_ENTRIES, MAX_CONFIG_VALUES, ValueBudget } from './config-limits.js';

type TokenKind = 'ident' | 'number' | 'string' | 'punct' | 'eof';

interface Token extends SourcePos {
  kind: TokenKind;
  text: string;
  /** Decoded value of a string token. */
  value?: string;
}

const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?' };
const NUMBER = /^(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fF]?/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/;

class Lexer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly text: string, private readonly ctx: ReaderContext) {}

  private here(): SourcePos {
    return { line: this.line, column: this.pos - this.lineStart + 1 };
  }

  private skipSpaceAndComments(): void {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (c === '\n') {
        this.pos++;
        this.line++;
        this.lineStart = this.pos;
      } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
        this.pos++;
      } else if (c === '#') {
        while (this.pos < this.text.length && this.text[this.pos] !== '\n') this.pos++;
      } else {
        return;
      }
    }
  }

  next(): Token {
    this.skipSpaceAndComments();
    const start = this.here();
    if (this.pos >= this.text.length) return { kind: 'eof', text: 'end of file', ...start };
    const rest = this.text.slice(this.pos, this.pos + 256);
    const c = rest[0]!;
    if (c === '"' || c === "'") return this.string(c, start);
    const number = NUMBER.exec(rest);
    if (number !== null && /[0-9.]/.test(c)) {
      this.pos += number[0].length;
      return { kind: 'number', text: number[0], ...start };
    }
    const ident = IDENT.exec(rest);
    if (ident !== null) {
      this.pos += ident[0].length;
      return { kind: 'ident', text: ident[0], ...start };
    }
    if ('{}<>[]:,;-'.includes(c)) {
      this.pos++;
      return { kind: 'punct', text: c, ...start };
    }
    throw configError(this.ctx, start, '', `unexpected character ${JSON.stringify(c)}`);
  }

  private string(quote: string, start: SourcePos): Token {
    let value = '';
    this.pos++;
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === '\n') throw configError(this.ctx, start, '', 'unterminated string (strings cannot span lines)');
      this.pos++;
      if (c === quote) break;
      if (c !== '\\') {
        value += c;
        continue;
      }
      value += this.escape(start);
    }
    return { kind: 'string', text: quote + value + quote, value, ...start };
  }

  private escape(start: SourcePos): string {
    const c = this.text[this.pos] ?? '';
    this.pos++;
    if (c in SIMPLE_ESCAPES) return SIMPLE_ESCAPES[c]!;
    const take = (re: RegExp, max: number): string => {
      let digits = '';
      while (digits.length < max && re.test(this.text[this.pos] ?? '')) digits += this.text[this.pos++];
      return digits;
    };
    if (/[0-7]/.test(c)) return String.fromCharCode(parseInt(c + take(/[0-7]/, 2), 8));
    const hexLength = c === 'x' ? 2 : c === 'u' ? 4 : c === 'U' ? 8 : 0;
    const hex = hexLength > 0 ? take(/[0-9a-fA-F]/, hexLength) : '';
    if (hex.length === 0 || (c !== 'x' && hex.length !== hexLength)) {
      throw configError(this.ctx, start, '', `invalid escape '\\${c}' in string`);
    }
    const code = parseInt(hex, 16);
    if (code > 0x10ffff) throw configError(this.ctx, start, '', `escape '\\${c}${hex}' is not a Unicode code point`);
    return String.fromCodePoint(code);
  }
}

const CLOSER: Record<string, string> = { '{': '}', '<': '>' };

class Parser {
  private token: Token;
  private readonly budget = new ValueBudget();

  constructor(private readonly lexer: Lexer, private readonly ctx: ReaderContext) {
    this.token = lexer.next();
  }

  private advance(): Token {
    const t = this.token;
    this.token = this.lexer.next();
    return t;
  }

  private fail(path: string, problem: string, at: SourcePos = this.token): never {
    throw configError(this.ctx, at, path, problem);
  }

  private isPunct(text: string): boolean {
    return this.token.kind === 'punct' && this.token.text === text;
  }

  private found(): string {
    return this.token.kind === 'eof' ? 'the end of the file' : `'${this.token.text}'`;
  }

  /** Counts one more value against MAX_CONFIG_VALUES (a config's parse tree is bounded, whatever its shape). */
  private spend(path: string): void {
    if (!this.budget.take()) this.fail(path, `the config holds more than ${MAX_CONFIG_VALUES} values`);
  }

  /** Fields until `closer` ('}', '>' or end of file for the top level), `depth` messages down. */
  fields(path: string, closer: string, depth: number, opened?: Token): ConfigField[] {
    const fields: ConfigField[] = [];
    const counts = new Map<string, number>();
    while (!(closer === 'eof' ? this.token.kind === 'eof' : this.isPunct(closer))) {
      if (this.token.kind === 'eof') this.fail(path, `'${opened?.text}' at line ${opened?.line} is never closed with '${closer}'`, opened);
      if (fields.length >= MAX_CONFIG_ENTRIES) this.fail(path, `more than ${MAX_CONFIG_ENTRIES} fields in one message`);
      if (this.isPunct('[')) this.fail(path, 'extension and Any fields ([...]) are not supported');
      if (this.token.kind !== 'ident') this.fail(path, `expected a field name, found ${this.found()}`);
      const nameToken = this.advance();
      const index = counts.get(nameToken.text) ?? 0;
      counts.set(nameToken.text, index + 1);
      const fieldPath = `${path === '' ? '' : `${path}.`}${nameToken.text}${index > 0 ? `[${index}]` : ''}`;
      const value = this.fieldValue(fieldPath, nameToken.text, depth);
      fields.push({ name: nameToken.text, value, line: nameToken.line, column: nameToken.column });
      if (this.isPunct(',') || this.isPunct(';')) this.advance();
    }
    return fields;
  }

  private fieldValue(path: string, name: string, depth: number): ConfigNode {
    this.spend(path);
    const colon = this.isPunct(':');
    if (colon) this.advance();
    if (this.isBlockStart()) return this.block(path, depth + 1);
    // A list of messages may omit the colon (`input [ { ... }, { ... } ]`, as Triton's configs write it).
    if (this.isPunct('[')) return this.list(path, depth + 1, colon);
    if (!colon) this.fail(path, `expected ':' or '{' after '${name}', found ${this.found()}`);
    return this.scalar(path);
  }

  private isBlockStart(): boolean {
    return this.isPunct('{') || this.isPunct('<');
  }

  /** A message `depth` levels down; the parser recurses per level, so the depth is checked before going in. */
  private block(path: string, depth: number): ConfigNode {
    if (depth > MAX_CONFIG_DEPTH) this.fail(path, `messages nested deeper than ${MAX_CONFIG_DEPTH} levels`);
    const open = this.advance();
    const fields = this.fields(path, CLOSER[open.text]!, depth, open);
    this.advance();
    return { kind: 'message', fields, line: open.line, column: open.column };
  }

  /** A list; without the colon its items must be messages, as protobuf text format requires. */
  private list(path: string, depth: number, colon = true): ConfigNode {
    if (depth > MAX_CONFIG_DEPTH) this.fail(path, `messages nested deeper than ${MAX_CONFIG_DEPTH} levels`);
    const open = this.advance();
    const items: ConfigNode[] = [];
    while (!(this.isPunct(']'))) {
      if (items.length >= MAX_CONFIG_ENTRIES) this.fail(path, `more than ${MAX_CONFIG_ENTRIES} entries in one list`);
      const itemPath = `${path}[${items.length}]`;
      this.spend(itemPath);
      if (!colon && !this.isBlockStart()) this.fail(itemPath, `expected '{' (a list of values needs ':' before '['), found ${this.found()}`);
      items.push(this.isBlockStart() ? this.block(itemPath, depth + 1) : this.scalar(itemPath));
      if (this.isPunct(',')) this.advance();
      else if (!(this.isPunct(']'))) this.fail(path, `expected ',' or ']' in the list, found ${this.found()}`);
    }
    this.advance();
    return { kind: 'list', items, line: open.line, column: open.column };
  }

  private scalar(path: string): ConfigNode {
    const start = this.token;
    if (start.kind === 'string') {
      let value = '';
      while (this.token.kind === 'string') value += this.advance().value;
      return { kind: 'scalar', value, quoted: true, line: start.line, column: start.column };
    }
    let negative = false;
    if (start.kind === 'punct' && start.text === '-') {
      negative = true;
      this.advance();
    }
    const t = this.token;
    if (t.kind === 'number') {
      this.advance();
      const text = t.text.replace(/[fF]$/, '');
      const magnitude = /^0[xX]/.test(text) ? parseInt(text, 16) : Number(text);
      return { kind: 'scalar', value: negative ? -magnitude : magnitude, quoted: false, line: start.line, column: start.column };
    }
    if (t.kind === 'ident') {
      this.advance();
      return { kind: 'scalar', value: negative ? `-${t.text}` : t.text, quoted: false, line: start.line, column: start.column };
    }
    return this.fail(path, `expected a value, found ${this.found()}`);
  }
}

/** Parses protobuf text format into the config tree. Throws ERR_CONFIG with the line, column and field path. */
export function parsePbtxt(text: string, ctx: ReaderContext): ConfigNode {
  const parser = new Parser(new Lexer(text, ctx), ctx);
  return { kind: 'message', fields: parser.fields('', 'eof', 0), line: 1, column: 1 };
}
