// JSON values ↔ Tensors for the REST front ends: shape inference, per-element validation, and JSON text output.
import { Buffer } from 'node:buffer';
import { fail } from '../../errors.js';
import {
  type DType, type Tensor, type NumericData, type StringData, TYPED_ARRAY_FOR, elementCount, shapeFits, shapeText,
} from '../../engine/tensor.js';
import type { RequestTally } from '../../engine/tensor-limits.js';
import { type JsonValue, type JsonObject, isJsonObject } from './json-parser.js';
import { isPacked, PackedNumbers, unpackNumbers, unpackTree } from './packed-numbers.js';
import { isPackedStrings, type PackedStrings } from './packed-strings.js';
import { nativeJsonCodec } from '../../engine/native-binding.js';
import {
  formatFloat32, formatFloat64, formatFloat16, formatBfloat16, floatToHalf, floatToBfloat16,
} from './float-format.js';

export interface JsonToTensorOptions {
  /**
   * The model's declared shape (-1 = any size). Checked after inference (ERR_SHAPE on a rank or fixed-dim mismatch);
   * it also supplies the dims an empty list cannot show (`[]` for a [-1,4] input becomes shape [0,4]).
   */
  expectedShape?: readonly number[];
  /** The request's tally: the tensor is counted against the size limits once its shape is known, before allocation. */
  tally?: RequestTally;
}

export interface TensorJsonOptions {
  /** Write string elements as {"b64": "..."} (TF Serving does this for outputs named `*_bytes`). */
  bytesAsB64: boolean;
}

/** Builds the error-message location of the element at index path `idx[0..depth)`; only called when throwing. */
type PathOf = (idx: readonly number[], depth: number) => string;
/** Stores JSON value `v` as element `k`; returns undefined, or why the value does not fit (ERR_DTYPE). */
type Setter = (k: number, v: JsonValue) => string | undefined;

const utf8Encoder = new TextEncoder();
// fatal: bytes that are not UTF-8 are detected (and sent as b64); ignoreBOM: a leading U+FEFF is data, keep it.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** True for TF Serving's binary value form: an object whose only key is "b64", holding a string. */
export function isB64Object(v: JsonValue | undefined): v is JsonObject & { b64: string } {
  if (!isJsonObject(v) || typeof v['b64'] !== 'string') return false;
  for (const key in v) if (key !== 'b64') return false;
  return true;
}

/** Times describeJson was given a PackedNumbers or PackedStrings (see packedDescriptions). */
let packedDescribed = 0;

/**
 * How many times describeJson has met a PackedNumbers. A decoder words an error about a value it did not expect
 * through describeJson; when that value is a native packed list, the JS parser's tree (plain lists) may have taken
 * another branch, so the caller words the error again on that tree (json-fast-path.ts decodeEarly).
 */
export function packedDescriptions(): number {
  return packedDescribed;
}

/** A short description of a JSON value for error messages. */
export function describeJson(v: JsonValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (isPacked(v) || isPackedStrings(v)) {
    packedDescribed++;
    return 'a list';
  }
  if (typeof v === 'object') return isB64Object(v) ? 'a {"b64": ...} object' : 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'number') return formatFloat64(v).replace(/\.0$/, '');
  return String(v);
}

/** ERR_SHAPE unless `shape` has the model's rank and every fixed (>= 0) dim matches. */
export function checkShape(field: string, shape: readonly number[], expected: readonly number[]): void {
  if (!shapeFits(shape, expected)) fail('ERR_SHAPE', `${field}: shape ${shapeText(shape)} does not match the model's ${shapeText(expected)}`);
}

/** Converts a (nested) JSON value to a tensor of `dtype`; `field` (e.g. `inputs.x`) prefixes every error path. */
export function jsonToTensor(value: JsonValue, dtype: DType, field: string, opts?: JsonToTensorOptions): Tensor {
  const pathOf: PathOf = (idx, depth) => field + indexText(idx, 0, depth);
  return convert(value, dtype, field, pathOf, opts);
}

/**
 * Row form with named inputs: `values[i]` is input `name` of `instances[i]`. The result has dim 0 = values.length;
 * errors read `instances[3].x[1]: ...` and shape errors `instances[*].x: ...`.
 */
export function rowsToTensor(values: JsonValue[], dtype: DType, name: string, opts?: JsonToTensorOptions): Tensor {
  const pathOf: PathOf = (idx, depth) =>
    depth === 0 ? `instances[*].${name}` : `instances[${idx[0]}].${name}${indexText(idx, 1, depth)}`;
  const stacked = stackPacked(values);
  return convert(stacked ?? values, dtype, `instances[*].${name}`, pathOf, opts);
}

/** Rows that are all PackedNumbers of one shape, as one PackedNumbers with a leading dim; else undefined. */
function stackPacked(rows: JsonValue[]): PackedNumbers | undefined {
  const first = rows[0];
  if (!isPacked(first)) return undefined;
  const per = first.values.length;
  for (const row of rows) {
    if (!isPacked(row) || row.values.length !== per || row.shape.length !== first.shape.length) return undefined;
    for (let d = 0; d < first.shape.length; d++) if (row.shape[d] !== first.shape[d]) return undefined;
  }
  const values = new Float64Array(per * rows.length);
  for (let r = 0; r < rows.length; r++) values.set((rows[r] as unknown as PackedNumbers).values, r * per);
  // Big integers keep their places: row r's positions move by r * per.
  let bigs = 0;
  for (const row of rows) bigs += (row as unknown as PackedNumbers).exact?.at.length ?? 0;
  if (bigs === 0) return new PackedNumbers([rows.length, ...first.shape], values);
  const at = new Uint32Array(bigs);
  const big: bigint[] = [];
  for (let r = 0; r < rows.length; r++) {
    const exact = (rows[r] as unknown as PackedNumbers).exact;
    if (exact === undefined) continue;
    for (let k = 0; k < exact.at.length; k++) {
      at[big.length] = exact.at[k]! + r * per;
      big.push(exact.values[k]!);
    }
  }
  return new PackedNumbers([rows.length, ...first.shape], values, { at, values: big });
}

function indexText(idx: readonly number[], from: number, to: number): string {
  let s = '';
  for (let k = from; k < to; k++) s += `[${idx[k]}]`;
  return s;
}

function convert(value: JsonValue | PackedNumbers, dtype: DType, field: string, pathOf: PathOf, opts?: JsonToTensorOptions): Tensor {
  if (isPacked(value)) return convertPacked(value, dtype, field, pathOf, opts);
  if (isPackedStrings(value)) return convertPackedStrings(value, dtype, field, pathOf, opts);
  // Lists holding packed blocks the native parser could not join (ragged rows, rows mixed with other values) are
  // walked as the JS parser's lists, so shapes and errors read the same; a rare form, unpacked only here.
  if (Array.isArray(value) && holdsPacked(value)) value = unpackTree(value) as JsonValue;
  const expected = opts?.expectedShape;
  const shape = inferShape(value, expected);
  const idx: number[] = [];
  // Check every list length before allocating, so a body cannot claim a huge shape with its first elements alone.
  if (shape.length > 0) checkLengths(value, shape, 0, idx, pathOf);
  if (expected) checkShape(field, shape, expected);
  opts?.tally?.add(dtype, shape, field);
  const { data, set } = makeSetter(dtype, elementCount(shape));
  fill(value, shape, 0, idx, { k: 0 }, set, dtype, pathOf);
  return { dtype, shape, data };
}

function holdsPacked(list: readonly JsonValue[]): boolean {
  for (const e of list) {
    if (isPacked(e) || isPackedStrings(e) || (Array.isArray(e) && holdsPacked(e))) return true;
  }
  return false;
}

/**
 * convert() for a PackedNumbers: the same checks in the same order, then one typed conversion. A value that does not
 * fit the dtype sends the whole list through convert() as nested lists, which words the error as it always did.
 */
function convertPacked(p: PackedNumbers, dtype: DType, field: string, pathOf: PathOf, opts?: JsonToTensorOptions): Tensor {
  const shape = p.shape.slice();
  if (opts?.expectedShape) checkShape(field, shape, opts.expectedShape);
  opts?.tally?.add(dtype, shape, field);
  const data = packedData(p, dtype);
  if (data === undefined) {
    packedElementError(p, dtype, pathOf);
    return convert(unpackNumbers(p) as JsonValue, dtype, field, pathOf, { ...opts, tally: undefined });
  }
  return { dtype, shape, data };
}

/**
 * convert() for a PackedStrings (a flat list of strings): for a string tensor the same checks in the same order, then
 * views of the bytes, which are what the string setter encodes (the native parser keeps only valid UTF-8). Any other
 * dtype goes through convert() on the strings, which words the error as it always did.
 */
function convertPackedStrings(p: PackedStrings, dtype: DType, field: string, pathOf: PathOf, opts?: JsonToTensorOptions): Tensor {
  if (dtype !== 'string') return convert(p.strings(), dtype, field, pathOf, opts);
  const expected = opts?.expectedShape;
  // inferShape: one dim; a model shape cannot add dims to a non-empty list.
  const shape = [p.length];
  if (expected) checkShape(field, shape, expected);
  opts?.tally?.add(dtype, shape, field);
  return { dtype, shape, data: p.views() };
}

/**
 * Throws the error fill() gives for the first element (row-major) that does not fit `dtype`, with the same setter
 * and path, without unpacking the block: a million-value body with one bad value costs one pass, not a list per row.
 */
function packedElementError(p: PackedNumbers, dtype: DType, pathOf: PathOf): void {
  const { set } = makeSetter(dtype, 1);
  const at = p.exact?.at;
  let next = 0;
  for (let k = 0; k < p.values.length; k++) {
    const big = at !== undefined && next < at.length && at[next] === k;
    const v: JsonValue = big ? p.exact!.values[next++]! : p.values[k]!;
    const why = set(0, v);
    if (why === undefined) continue;
    const idx = new Array<number>(p.shape.length);
    for (let d = p.shape.length - 1, rest = k; d >= 0; d--) {
      idx[d] = rest % p.shape[d]!;
      rest = Math.floor(rest / p.shape[d]!);
    }
    fail('ERR_DTYPE', `${pathOf(idx, p.shape.length)}: ${why}`);
  }
}

/**
 * The values as `dtype` with the setters' rules (see makeSetter), or undefined when one does not fit. A big integer's
 * double is Number() of it, which is what every setter but the int64/uint64 ones reads from a bigint.
 */
function packedData(p: PackedNumbers, dtype: DType): NumericData | undefined {
  const v = p.values;
  const n = v.length;
  switch (dtype) {
    case 'float64': return v.slice();
    case 'float32': {
      const a = new Float32Array(n);
      a.set(v); // IEEE round to nearest even, as storing one element does
      for (let i = 0; i < n; i++) if (!Number.isFinite(a[i]!) && Number.isFinite(v[i]!)) return undefined;
      return a;
    }
    case 'float16':
    case 'bfloat16': {
      const a = new Uint16Array(n);
      const toBits = dtype === 'float16' ? floatToHalf : floatToBfloat16;
      const inf = dtype === 'float16' ? 0x7c00 : 0x7f80;
      for (let i = 0; i < n; i++) {
        const bits = toBits(v[i]!);
        if ((bits & 0x7fff) === inf && Number.isFinite(v[i]!)) return undefined;
        a[i] = bits;
      }
      return a;
    }
    case 'int64':
    case 'uint64': {
      const a = dtype === 'int64' ? new BigInt64Array(n) : new BigUint64Array(n);
      const at = p.exact?.at;
      // Every value big, and the addon's words already of this dtype (so in its range): one copy.
      const words = p.exact?.values;
      if (at?.length === n && (dtype === 'int64' ? words instanceof BigInt64Array : words instanceof BigUint64Array)) {
        a.set(words as BigInt64Array & BigUint64Array);
        return a;
      }
      let next = 0;
      for (let i = 0; i < n; i++) {
        if (at !== undefined && next < at.length && at[next] === i) {
          // A big integer: exact, if the dtype holds it.
          const b = p.exact!.values[next++]!;
          const [min, max] = INT64_RANGE[dtype];
          if (b < min || b > max) return undefined;
          a[i] = b;
          continue;
        }
        const x = v[i]!;
        if (!Number.isSafeInteger(x) || (dtype === 'uint64' && x < 0)) return undefined;
        a[i] = BigInt(x);
      }
      return a;
    }
    case 'bool': {
      const a = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const x = v[i]!;
        if (x === 1) a[i] = 1;
        else if (x !== 0) return undefined;
      }
      return a;
    }
    case 'string': return undefined;
    default: {
      const [min, max] = INT_RANGE[dtype];
      const a = new TYPED_ARRAY_FOR[dtype](n) as { [i: number]: number };
      for (let i = 0; i < n; i++) {
        const x = v[i]!;
        if (!Number.isInteger(x) || x < min || x > max) return undefined;
        a[i] = x;
      }
      return a as NumericData;
    }
  }
}

/** Dims from the first element at each level; an empty list ends the walk (the model shape may supply the rest). */
function inferShape(value: JsonValue, expected?: readonly number[]): number[] {
  const shape: number[] = [];
  let v: JsonValue = value;
  while (Array.isArray(v)) {
    shape.push(v.length);
    if (v.length === 0) {
      if (expected && expected.length > shape.length) {
        for (let k = shape.length; k < expected.length; k++) shape.push(Math.max(expected[k]!, 0));
      }
      break;
    }
    v = v[0] as JsonValue;
  }
  return shape;
}

function checkLengths(v: JsonValue, shape: number[], depth: number, idx: number[], pathOf: PathOf): void {
  const want = shape[depth]!;
  if (!Array.isArray(v)) {
    fail('ERR_SHAPE', `${pathOf(idx, depth)}: expected a list of ${want} elements, got ${describeJson(v)}`);
  }
  if (v.length !== want) fail('ERR_SHAPE', `${pathOf(idx, depth)}: expected ${want} elements, got ${v.length}`);
  if (depth + 2 > shape.length) return; // the innermost lists' elements are checked while filling
  for (let j = 0; j < v.length; j++) {
    idx[depth] = j;
    checkLengths(v[j] as JsonValue, shape, depth + 1, idx, pathOf);
  }
}

function fill(
  v: JsonValue, shape: number[], depth: number, idx: number[], pos: { k: number }, set: Setter, dtype: DType, pathOf: PathOf,
): void {
  if (depth === shape.length) {
    store(v, pos.k++, idx, depth, set, dtype, pathOf);
    return;
  }
  const list = v as JsonValue[]; // checkLengths proved every level above the leaves is a list of the right length
  if (depth === shape.length - 1) {
    let k = pos.k;
    for (let j = 0; j < list.length; j++) {
      const e = list[j] as JsonValue;
      // Inline the common success path; on failure `store` re-runs the check to build the message with a path.
      if (Array.isArray(e) || set(k, e) !== undefined) {
        idx[depth] = j;
        store(e, k, idx, depth + 1, set, dtype, pathOf);
      }
      k++;
    }
    pos.k = k;
    return;
  }
  for (let j = 0; j < list.length; j++) {
    idx[depth] = j;
    fill(list[j] as JsonValue, shape, depth + 1, idx, pos, set, dtype, pathOf);
  }
}

function store(v: JsonValue, k: number, idx: number[], depth: number, set: Setter, dtype: DType, pathOf: PathOf): void {
  if (Array.isArray(v)) {
    fail('ERR_SHAPE', `${pathOf(idx, depth)}: expected a ${dtype} value (the first element has rank ${depth}), got a list`);
  }
  const why = set(k, v);
  if (why !== undefined) fail('ERR_DTYPE', `${pathOf(idx, depth)}: ${why}`);
}

const INT_RANGE = {
  int8: [-128, 127], int16: [-32768, 32767], int32: [-2147483648, 2147483647],
  uint8: [0, 255], uint16: [0, 65535], uint32: [0, 4294967295],
} as const;
const INT64_RANGE = { int64: [-(2n ** 63n), 2n ** 63n - 1n], uint64: [0n, 2n ** 64n - 1n] } as const;

function expected(what: string, v: JsonValue): string {
  return `expected ${what}, got ${describeJson(v)}`;
}

function makeSetter(dtype: DType, n: number): { data: NumericData | StringData; set: Setter } {
  switch (dtype) {
    case 'float32': { const a = new Float32Array(n); return { data: a, set: floatSetter(a, dtype, Math.fround) }; }
    case 'float64': { const a = new Float64Array(n); return { data: a, set: floatSetter(a, dtype, (x) => x) }; }
    case 'float16': { const a = new Uint16Array(n); return { data: a, set: bitsSetter(a, dtype, floatToHalf, 0x7c00) }; }
    case 'bfloat16': { const a = new Uint16Array(n); return { data: a, set: bitsSetter(a, dtype, floatToBfloat16, 0x7f80) }; }
    case 'int8': { const a = new Int8Array(n); return { data: a, set: intSetter(a, dtype) }; }
    case 'int16': { const a = new Int16Array(n); return { data: a, set: intSetter(a, dtype) }; }
    case 'int32': { const a = new Int32Array(n); return { data: a, set: intSetter(a, dtype) }; }
    case 'uint8': { const a = new Uint8Array(n); return { data: a, set: intSetter(a, dtype) }; }
    case 'uint16': { const a = new Uint16Array(n); return { data: a, set: intSetter(a, dtype) }; }
    case 'uint32': { const a = new Uint32Array(n); return { data: a, set: intSetter(a, dtype) }; }
    case 'int64': { const a = new BigInt64Array(n); return { data: a, set: bigSetter(a, dtype) }; }
    case 'uint64': { const a = new BigUint64Array(n); return { data: a, set: bigSetter(a, dtype) }; }
    case 'bool': { const a = new Uint8Array(n); return { data: a, set: boolSetter(a) }; }
    case 'string': { const a: StringData = new Array<Uint8Array>(n); return { data: a, set: stringSetter(a) }; }
  }
}

/** float32/float64: any number (NaN/Infinity included); a finite value that overflows the dtype is refused. */
function floatSetter(a: { [i: number]: number }, dtype: DType, round: (x: number) => number): Setter {
  return (k, v) => {
    const x = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
    if (x === undefined) return expected(`a number for ${dtype}`, v);
    if (!Number.isFinite(round(x)) && Number.isFinite(x)) return `${describeJson(v)} is out of range for ${dtype}`;
    a[k] = x;
    return undefined;
  };
}

/** float16/bfloat16: stored as raw bits via the round-to-nearest-even converters. */
function bitsSetter(a: Uint16Array, dtype: DType, toBits: (x: number) => number, infBits: number): Setter {
  return (k, v) => {
    const x = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
    if (x === undefined) return expected(`a number for ${dtype}`, v);
    const bits = toBits(x);
    if ((bits & 0x7fff) === infBits && Number.isFinite(x)) return `${describeJson(v)} is out of range for ${dtype}`;
    a[k] = bits;
    return undefined;
  };
}

function intSetter(a: { [i: number]: number }, dtype: keyof typeof INT_RANGE): Setter {
  const [min, max] = INT_RANGE[dtype];
  return (k, v) => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) return expected(`an integer for ${dtype}`, v);
      if (v < min || v > max) return `${describeJson(v)} is out of range for ${dtype}`;
      a[k] = v;
      return undefined;
    }
    if (typeof v === 'bigint') return `${v} is out of range for ${dtype}`;
    return expected(`an integer for ${dtype}`, v);
  };
}

/** int64/uint64: bigint (exact) or a number that is a safe integer; larger numbers may already have lost digits. */
function bigSetter(a: { [i: number]: bigint }, dtype: keyof typeof INT64_RANGE): Setter {
  const [min, max] = INT64_RANGE[dtype];
  return (k, v) => {
    let b: bigint;
    if (typeof v === 'bigint') b = v;
    else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
    else if (typeof v === 'number' && Number.isInteger(v)) {
      return `${describeJson(v)} is not an exact ${dtype} (write large integers without a fraction or exponent)`;
    } else return expected(`an integer for ${dtype}`, v);
    if (b < min || b > max) return `${b} is out of range for ${dtype}`;
    a[k] = b;
    return undefined;
  };
}

function boolSetter(a: Uint8Array): Setter {
  return (k, v) => {
    if (v === true || v === 1) a[k] = 1;
    else if (v === false || v === 0) a[k] = 0;
    else return expected('true, false, 0 or 1 for bool', v);
    return undefined;
  };
}

function stringSetter(a: StringData): Setter {
  return (k, v) => {
    if (typeof v === 'string') {
      a[k] = utf8Encoder.encode(v);
      return undefined;
    }
    if (!isB64Object(v)) return expected('a string or {"b64": "..."} for string', v);
    const bytes = decodeBase64(v.b64);
    if (bytes === undefined) return `{"b64": ${describeJson(v.b64)}} is not valid base64`;
    a[k] = bytes;
    return undefined;
  };
}

/**
 * Strict standard base64 (A-Z a-z 0-9 + /), padding optional but correct when present. Node's decoder silently
 * skips invalid characters, so validate first. Returns a copy (not a view into Node's shared buffer pool).
 */
export function decodeBase64(s: string): Uint8Array | undefined {
  let n = s.length;
  while (n > 0 && s.length - n < 2 && s.charCodeAt(n - 1) === 0x3d) n--;
  if ((n < s.length && s.length % 4 !== 0) || n % 4 === 1) return undefined;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;
    if (!ok) return undefined;
  }
  return new Uint8Array(Buffer.from(s, 'base64'));
}

function b64Json(bytes: Uint8Array): string {
  return `{"b64":"${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}"}`;
}

/** A string element as a JSON string; bytes that are not valid UTF-8 cannot be a JSON string and go out as b64. */
function stringJson(bytes: Uint8Array): string {
  let text: string;
  try {
    text = utf8Decoder.decode(bytes);
  } catch {
    return b64Json(bytes);
  }
  return JSON.stringify(text);
}

type ElementText = (i: number) => string;

function elementText(t: Tensor, opts: TensorJsonOptions): ElementText {
  const d = t.data;
  switch (t.dtype) {
    case 'float32': { const a = d as Float32Array; return (i) => formatFloat32(a[i]!); }
    case 'float64': { const a = d as Float64Array; return (i) => formatFloat64(a[i]!); }
    case 'float16': { const a = d as Uint16Array; return (i) => formatFloat16(a[i]!); }
    case 'bfloat16': { const a = d as Uint16Array; return (i) => formatBfloat16(a[i]!); }
    case 'bool': { const a = d as Uint8Array; return (i) => (a[i] ? 'true' : 'false'); }
    case 'string': {
      const a = d as StringData;
      return opts.bytesAsB64 ? (i) => b64Json(a[i]!) : (i) => stringJson(a[i]!);
    }
    default: { const a = d as { [i: number]: number | bigint }; return (i) => String(a[i]); } // ints, int64 exact
  }
}

/**
 * Writes the block at dim `dim` starting at flat element `offset` as nested JSON lists (row-major). Elements are
 * collected and joined: for a million elements that is several times faster than `+=` on one string.
 */
function writeBlock(text: ElementText, shape: readonly number[], strides: readonly number[], dim: number, offset: number): string {
  if (dim === shape.length) return text(offset);
  const n = shape[dim]!;
  const parts = new Array<string>(n);
  if (dim === shape.length - 1) {
    for (let j = 0; j < n; j++) parts[j] = text(offset + j);
  } else {
    const stride = strides[dim]!;
    for (let j = 0; j < n; j++) parts[j] = writeBlock(text, shape, strides, dim + 1, offset + j * stride);
  }
  return `[${parts.join(',')}]`;
}

/** A reusable writer for one tensor: the whole tensor, or one dim-0 row at a time (the row form). */
export interface TensorJsonWriter {
  whole(): string;
  row(r: number): string;
}

// The typed array each dtype the native writer takes must come in (float16/bfloat16 and strings stay in JS).
const NATIVE_WRITER_DATA: Partial<Record<DType, abstract new (...args: never[]) => ArrayBufferView>> = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array,
  uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array, bool: Uint8Array,
};

/** The JSON text writer for `t`: the addon's for numeric tensors (byte-identical, several times faster), else JS. */
export function tensorJsonWriter(t: Tensor, opts: TensorJsonOptions): TensorJsonWriter {
  const kind = NATIVE_WRITER_DATA[t.dtype];
  const codec = kind !== undefined && t.data instanceof kind ? nativeJsonCodec() : undefined;
  if (codec === undefined) return jsTensorJsonWriter(t, opts);
  checkElementCount(t);
  const data = t.data as ArrayBufferView;
  const isBool = t.dtype === 'bool';
  return {
    whole: () => codec.writeTensorJson(data, t.shape, -1, isBool),
    row: (r) => codec.writeTensorJson(data, t.shape, checkRow(t, r), isBool),
  };
}

function checkElementCount(t: Tensor): void {
  const count = elementCount(t.shape);
  if (t.data.length !== count) {
    fail('ERR_INTERNAL', `tensorJsonWriter: ${t.dtype} tensor of shape ${shapeText(t.shape)} holds ${t.data.length} elements`);
  }
}

function checkRow(t: Tensor, r: number): number {
  const rows = t.shape[0];
  if (rows === undefined || !Number.isInteger(r) || r < 0 || r >= rows) {
    fail('ERR_INTERNAL', `tensorRowToJson: row ${r} of a tensor with shape ${shapeText(t.shape)}`);
  }
  return r;
}

/** The JS writer: the reference for every dtype, and the one used for float16, bfloat16 and strings. */
export function jsTensorJsonWriter(t: Tensor, opts: TensorJsonOptions): TensorJsonWriter {
  checkElementCount(t);
  const text = elementText(t, opts);
  // strides[d] = elements per step of dim d (0-sized dims make everything below empty, which is fine).
  const strides = t.shape.map((_, d) => elementCount(t.shape.slice(d + 1)));
  return {
    whole: () => writeBlock(text, t.shape, strides, 0, 0),
    row: (r) => writeBlock(text, t.shape, strides, 1, checkRow(t, r) * strides[0]!),
  };
}

/** The whole tensor as JSON text (a bare value for shape []). */
export function tensorToJson(t: Tensor, opts: TensorJsonOptions): string {
  return tensorJsonWriter(t, opts).whole();
}

/** The sub-tensor at index `row` of dim 0 as JSON text (a bare value for a rank-1 tensor). */
export function tensorRowToJson(t: Tensor, row: number, opts: TensorJsonOptions): string {
  return tensorJsonWriter(t, opts).row(row);
}
