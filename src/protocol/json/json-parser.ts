// Request-body JSON parser: exact int64 (bigint), NaN/Infinity tokens, depth and element limits, byte-offset errors, no
// prototype pollution.
import { Buffer } from 'node:buffer';
import { clientText, fail } from '../../errors.js';
import { PackedNumbers } from './packed-numbers.js';
import { PackedStrings } from './packed-strings.js';

/**
 * A parsed JSON value. Integer literals outside ±(2^53−1) are `bigint` (exact); every other number is a JS number.
 * Objects are created with `Object.create(null)`: a `"__proto__"` key is an ordinary own property and nothing is
 * inherited, so consumers must use `key in obj`, `obj[key] !== undefined` or `Object.keys`, never `obj.hasOwnProperty`.
 */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface JsonParseLimits {
  /** Deepest allowed nesting of arrays/objects; a top-level `[...]` is depth 1, a bare scalar depth 0. */
  maxDepth: number;
  /**
   * Most values all the lists of the document may hold together: parsing stops with ERR_TOO_LARGE at the first value
   * past it, so a body far over a tensor limit is not parsed whole first. Default: no limit.
   */
  maxElements?: number;
  /** The flag that sets maxElements, for the message (default --max_json_values). */
  elementsFlag?: string;
  /**
   * Most string values (not keys) the document may hold: each becomes a JS string, then a tensor element, so a body
   * of millions of short strings stops early. Default: no limit.
   */
  maxStrings?: number;
  /** The flag that sets maxStrings, for the message (default --max_string_elements). */
  stringsFlag?: string;
  /**
   * Called when an object's key has been read, before its value is parsed, with the nesting depth of the object (the
   * root object is 1) and its members so far: lets a decoder refuse a declared shape before the data behind it is parsed.
   */
  onKey?: (key: string, depth: number, object: JsonObject) => void;
}

/** True for a JSON object (not an array, not null, not a PackedNumbers or PackedStrings from the native parser). */
export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof PackedNumbers) && !(v instanceof PackedStrings);
}

// Bytes are decoded once by the native (SIMD) decoder and then parsed as a string with charCodeAt, which V8 runs
// much faster than a byte-by-byte UTF-8 state machine in JS. fatal: invalid UTF-8 is rejected up front, so string
// values can never hold U+FFFD substitutes. ignoreBOM: the BOM is handled explicitly so byte offsets stay right.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
// Powers of ten that are exact doubles: mantissa (< 2^53) times/divided by one of these is correctly rounded.
const POW10: readonly number[] = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/** Bytes (or characters, for string input) parseJson has been given on this thread: lets tests prove where it ran. */
let bytesRead = 0;
export function parseJsonBytesRead(): number {
  return bytesRead;
}

/** Parses a request body. Throws ERR_JSON_SYNTAX (with the byte offset), ERR_JSON_DEPTH or ERR_BAD_REQUEST (duplicate key). */
export function parseJson(input: Uint8Array | string, limits: JsonParseLimits): JsonValue {
  bytesRead += input.length;
  let text: string;
  let bomBytes = 0;
  if (typeof input === 'string') {
    text = input;
  } else {
    // RFC 8259 lets parsers ignore a UTF-8 BOM; some Windows tools write one.
    if (input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf) bomBytes = 3;
    try {
      text = utf8.decode(bomBytes ? input.subarray(3) : input);
    } catch {
      fail('ERR_JSON_SYNTAX', `JSON syntax error at byte ${firstInvalidUtf8(input)}: invalid UTF-8`);
    }
  }
  const parser = new Parser(text, limits.maxDepth, bomBytes, limits.maxElements ?? Number.POSITIVE_INFINITY,
    limits.elementsFlag ?? '--max_json_values', limits.onKey, limits.maxStrings ?? Number.POSITIVE_INFINITY,
    limits.stringsFlag ?? '--max_string_elements');
  try {
    parser.skipWs();
    const value = parser.value(0);
    parser.skipWs();
    if (parser.i < text.length) parser.syntax('end of input');
    return value;
  } catch (err) {
    // A maxDepth set far above what the JS stack can recurse must still end as a client error, not a 500.
    if (err instanceof RangeError) {
      fail('ERR_JSON_DEPTH', `JSON nesting is too deep (limit ${limits.maxDepth}; the parser's stack ran out first)`);
    }
    throw err;
  }
}

class Parser {
  i = 0;
  /** Values met so far in lists, anywhere in the document. */
  elements = 0;
  /** String values met so far (keys are not counted). */
  strings = 0;
  constructor(
    readonly s: string,
    readonly maxDepth: number,
    readonly bomBytes: number,
    readonly maxElements: number,
    readonly elementsFlag: string,
    readonly onKey: JsonParseLimits['onKey'],
    readonly maxStrings: number,
    readonly stringsFlag: string,
  ) {}

  /** The UTF-8 byte offset of character index `at`; only computed on the error path. */
  byteOffset(at: number): number {
    return this.bomBytes + Buffer.byteLength(this.s.slice(0, at), 'utf8');
  }

  syntax(expected: string, at = this.i): never {
    const got = at >= this.s.length ? ', got end of input' : '';
    fail('ERR_JSON_SYNTAX', `JSON syntax error at byte ${this.byteOffset(at)}: expected ${expected}${got}`);
  }

  problem(what: string, at: number): never {
    fail('ERR_JSON_SYNTAX', `JSON syntax error at byte ${this.byteOffset(at)}: ${what}`);
  }

  skipWs(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  value(depth: number): JsonValue {
    const c = this.s.charCodeAt(this.i);
    switch (c) {
      case 0x5b: return this.array(depth + 1); // [
      case 0x7b: return this.object(depth + 1); // {
      case 0x22: return this.stringValue(); // "
      case 0x74: return this.literal('true', true);
      case 0x66: return this.literal('false', false);
      case 0x6e: return this.literal('null', null);
      case 0x4e: return this.literal('NaN', NaN);
      case 0x49: return this.literal('Infinity', Infinity);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.syntax('a value');
    }
  }

  literal<T extends JsonValue>(word: string, result: T): T {
    if (!this.s.startsWith(word, this.i)) this.syntax(`'${word}'`);
    this.i += word.length;
    return result;
  }

  enter(depth: number): void {
    if (depth > this.maxDepth) {
      fail('ERR_JSON_DEPTH', `JSON nesting at byte ${this.byteOffset(this.i)} is deeper than the limit of ${this.maxDepth}`);
    }
    this.i++;
    this.skipWs();
  }

  array(depth: number): JsonValue[] {
    this.enter(depth);
    const out: JsonValue[] = [];
    if (this.s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return out;
    }
    for (;;) {
      if (++this.elements > this.maxElements) {
        fail('ERR_TOO_LARGE',
          `JSON body: its lists hold more values than the limit of ${this.maxElements} (${this.elementsFlag}); parsing stopped at byte ${this.byteOffset(this.i)}`);
      }
      out.push(this.value(depth));
      this.skipWs();
      const c = this.s.charCodeAt(this.i);
      if (c === 0x2c) {
        this.i++;
        this.skipWs();
      } else if (c === 0x5d) {
        this.i++;
        return out;
      } else {
        this.syntax("',' or ']'");
      }
    }
  }

  object(depth: number): JsonObject {
    this.enter(depth);
    const out = Object.create(null) as JsonObject;
    if (this.s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return out;
    }
    for (let first = true; ; first = false) {
      const keyAt = this.i;
      if (this.s.charCodeAt(keyAt) !== 0x22) this.syntax(first ? "a string key or '}'" : 'a string key');
      const key = this.string();
      this.skipWs();
      if (this.s.charCodeAt(this.i) !== 0x3a) this.syntax("':'");
      this.i++;
      this.skipWs();
      this.onKey?.(key, depth, out);
      const v = this.value(depth);
      // Duplicates are valid JSON grammar but ambiguous (which one wins differs between parsers): refuse them.
      if (out[key] !== undefined) {
        fail('ERR_BAD_REQUEST', `duplicate key ${JSON.stringify(clientText(key))} in a JSON object at byte ${this.byteOffset(keyAt)}`);
      }
      out[key] = v;
      this.skipWs();
      const c = this.s.charCodeAt(this.i);
      if (c === 0x2c) {
        this.i++;
        this.skipWs();
      } else if (c === 0x7d) {
        this.i++;
        return out;
      } else {
        this.syntax("',' or '}'");
      }
    }
  }

  stringValue(): string {
    if (++this.strings > this.maxStrings) {
      fail('ERR_TOO_LARGE',
        `JSON body: it holds more strings than the limit of ${this.maxStrings} (${this.stringsFlag}); parsing stopped at byte ${this.byteOffset(this.i)}`);
    }
    return this.string();
  }

  /** Strings without escapes or surrogates (the common case) are one slice. */
  string(): string {
    const s = this.s;
    const n = s.length;
    const start = this.i + 1;
    let i = start;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.i = i + 1;
        return s.slice(start, i);
      }
      if (c === 0x5c || c < 0x20 || c >= 0xd800 || i >= n) return this.stringSlow(start, i);
      i++;
    }
  }

  stringSlow(start: number, from: number): string {
    const s = this.s;
    let out = s.slice(start, from);
    let i = from;
    let chunk = from;
    for (;;) {
      if (i >= s.length) this.syntax("'\"' to close the string", i);
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.i = i + 1;
        return out + s.slice(chunk, i);
      }
      if (c < 0x20) this.problem('control characters in strings must be escaped', i);
      if (c === 0x5c) {
        out += s.slice(chunk, i);
        const [text, next] = this.escape(i);
        out += text;
        i = chunk = next;
      } else if (c >= 0xd800 && c <= 0xdfff) {
        // Only reachable for string input (decoded bytes never hold lone surrogates); they cannot be UTF-8 encoded.
        const lo = s.charCodeAt(i + 1);
        if (c > 0xdbff || !(lo >= 0xdc00 && lo <= 0xdfff)) this.problem('lone surrogate in string', i);
        i += 2;
      } else {
        i++;
      }
    }
  }

  /** Decodes the escape at `at` (the backslash); returns its text and the index after it. */
  escape(at: number): [string, number] {
    const e = this.s.charCodeAt(at + 1);
    switch (e) {
      case 0x22: return ['"', at + 2];
      case 0x5c: return ['\\', at + 2];
      case 0x2f: return ['/', at + 2];
      case 0x62: return ['\b', at + 2];
      case 0x66: return ['\f', at + 2];
      case 0x6e: return ['\n', at + 2];
      case 0x72: return ['\r', at + 2];
      case 0x74: return ['\t', at + 2];
      case 0x75: {
        const hi = this.hex4(at + 2);
        if (hi < 0xd800 || hi > 0xdfff) return [String.fromCharCode(hi), at + 6];
        // A surrogate escape must be a high/low pair; a lone one would not survive UTF-8 encoding.
        const lo = this.s.charCodeAt(at + 6) === 0x5c && this.s.charCodeAt(at + 7) === 0x75 ? this.hex4(at + 8) : -1;
        if (hi > 0xdbff || lo < 0xdc00 || lo > 0xdfff) this.problem('lone surrogate \\u escape in string', at);
        return [String.fromCharCode(hi, lo), at + 12];
      }
      default:
        return this.syntax('an escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)', at + 1);
    }
  }

  hex4(at: number): number {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.s.charCodeAt(at + k);
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d < 0) this.syntax('4 hex digits after \\u', at + k);
      v = v * 16 + d;
    }
    return v;
  }

  /** JSON number grammar, plus -Infinity. Short numbers are computed inline (Clinger's exact fast path). */
  number(): number | bigint {
    const s = this.s;
    const start = this.i;
    let i = start;
    const neg = s.charCodeAt(i) === 0x2d;
    if (neg) {
      i++;
      if (s.charCodeAt(i) === 0x49) {
        this.i = i;
        return -this.literal('Infinity', Infinity);
      }
    }
    let c = s.charCodeAt(i);
    let mant = 0;
    let digits = 0;
    if (c === 0x30) {
      c = s.charCodeAt(++i);
      if (c >= 0x30 && c <= 0x39) this.problem('numbers must not have leading zeros', i - 1);
    } else if (c >= 0x31 && c <= 0x39) {
      do {
        mant = mant * 10 + (c - 0x30);
        digits++;
        c = s.charCodeAt(++i);
      } while (c >= 0x30 && c <= 0x39);
    } else {
      this.syntax('a digit', i);
    }
    let fracDigits = 0;
    if (c === 0x2e) {
      c = s.charCodeAt(++i);
      if (!(c >= 0x30 && c <= 0x39)) this.syntax("a digit after '.'", i);
      do {
        mant = mant * 10 + (c - 0x30);
        digits++;
        fracDigits++;
        c = s.charCodeAt(++i);
      } while (c >= 0x30 && c <= 0x39);
    }
    let exp = 0;
    const hasExp = c === 0x65 || c === 0x45;
    if (hasExp) {
      exp = this.exponent(i + 1);
      i = this.i;
    }
    this.i = i;
    return this.numberValue(start, i, neg, mant, digits, fracDigits, exp, fracDigits === 0 && !hasExp);
  }

  /** Scans an exponent's sign and digits starting at `at`; returns its value and leaves `i` after it. */
  exponent(at: number): number {
    const s = this.s;
    let i = at;
    let c = s.charCodeAt(i);
    const negExp = c === 0x2d;
    if (c === 0x2b || c === 0x2d) c = s.charCodeAt(++i);
    if (!(c >= 0x30 && c <= 0x39)) this.syntax('a digit in the exponent', i);
    let e = 0;
    do {
      if (e < 1e6) e = e * 10 + (c - 0x30); // beyond ±1e6 the slow path decides (0 or overflow)
      c = s.charCodeAt(++i);
    } while (c >= 0x30 && c <= 0x39);
    this.i = i;
    return negExp ? -e : e;
  }

  numberValue(
    start: number, end: number, neg: boolean, mant: number, digits: number, fracDigits: number, exp: number, isInt: boolean,
  ): number | bigint {
    if (isInt) {
      if (digits <= 15) return neg ? -mant : mant;
      const text = this.s.slice(start, end);
      const n = Number(text);
      return Math.abs(n) <= MAX_SAFE ? n : BigInt(text);
    }
    const e10 = exp - fracDigits;
    if (digits <= 15 && e10 >= -22 && e10 <= 22) {
      const v = e10 < 0 ? mant / POW10[-e10]! : mant * POW10[e10]!;
      return neg ? -v : v;
    }
    const v = Number(this.s.slice(start, end));
    // A finite literal that overflows a double would silently become Infinity; the client meant something else.
    if (!Number.isFinite(v)) this.problem('number is too large for a 64-bit float', start);
    return v;
  }
}

/** The byte offset of the first invalid UTF-8 sequence (only called after the native decoder refused the input). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let need: number;
    let min: number;
    if (c < 0x80) { i++; continue; }
    else if (c >= 0xc2 && c <= 0xdf) { need = 1; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { need = 2; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { need = 3; min = 0x10000; }
    else return i;
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return b.length;
}
