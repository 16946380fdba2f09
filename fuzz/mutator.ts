// A small seeded mutator: byte-level edits, integer-boundary substitutions, and edits that know JSON numbers and
// protobuf length prefixes. Deterministic for a given seed, so every finding replays from (target, seed) or its bytes.

/** mulberry32: a 32-bit state PRNG, fast and good enough to spread mutations (not for anything secret). */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, n); n must be >= 1. */
  below(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
}

/** Integers at the edges where decoders overflow, truncate or wrap (as bigints, written at every width). */
const INTERESTING: readonly bigint[] = [
  0n, 1n, 2n, 3n, 4n, 7n, 8n, 16n, 0x7fn, 0x80n, 0xffn, 0x100n, 0x7fffn, 0x8000n, 0xffffn, 0x10000n,
  0xffffffn, 0x1000000n, 0x3ffffffn, 0x4000000n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n,
  2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, -1n, -2n, -128n, -32768n, -(2n ** 31n), -(2n ** 63n),
];

/** Number literals a JSON field may be swapped for (shapes, sizes, counts, values). */
const JSON_NUMBERS: readonly string[] = [
  '0', '-0', '1', '-1', '2', '3', '4', '16', '255', '256', '-129', '65535', '65536', '2147483647', '2147483648',
  '-2147483649', '4294967295', '4294967296', '9007199254740991', '9007199254740992', '9007199254740993',
  '9223372036854775807', '9223372036854775808', '-9223372036854775809', '18446744073709551615',
  '18446744073709551616', '1e308', '1e309', '-1e400', '1e-400', '0.5', '1.0', '1e2', '3.4028235e38', '3.5e38',
  '1' + '0'.repeat(400), '0.' + '0'.repeat(300) + '1', 'NaN', 'Infinity', '-Infinity', 'null', 'true', '"1"', '[]', '{}',
];

/** Short byte strings worth inserting: JSON punctuation, format keywords, UTF-8 edge cases. */
const TOKENS: readonly string[] = [
  '{', '}', '[', ']', ',', ':', '"', '\\', '\\u', '\\ud800', '\\udc00', ' ', '\n', '\t', '\r', '\u0000', '\uffff', '\u00e9',
  'null', 'true', 'false', '"b64"', '{"b64":"AAAA"}', '"shape":[', '"data":[', '"datatype":"BYTES"', '"parameters":{',
  '"binary_data_size":', '"__proto__"', '"constructor"', '"inputs"', '"instances"', '#', '<', '>', '&a ', '*a', '!!binary ',
  '---\n', '? ', '- ', '|\n', "'", '{ ', ' }', 'config {', 'value:', 'OSV1',
];

const MAX_LENGTH = 64 * 1024;

function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.below(256);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `value` as `width` bytes, little- or big-endian (two's complement for negatives). */
function intBytes(value: bigint, width: number, littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(width);
  let v = BigInt.asUintN(width * 8, value);
  for (let i = 0; i < width; i++) {
    out[littleEndian ? i : width - 1 - i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Protobuf's unsigned LEB128 (negative values as 64-bit two's complement, ten bytes). */
export function varintBytes(value: bigint): Uint8Array {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? byte | 0x80 : byte);
  } while (v > 0n);
  return Uint8Array.from(out);
}

/** A protobuf varint: a length-delimited field's length (`length` set), or a varint field's value. */
interface LengthPrefix {
  at: number;
  end: number;
  length: number;
  /** False for the value of a varint field (wire type 0). */
  prefix: boolean;
}

/**
 * The length prefixes of `bytes` read as a protobuf message, recursing into any field whose payload also parses as
 * one (nested messages, map entries). A parse that goes wrong just stops: this is a guess at structure, not a decoder.
 */
export function lengthPrefixes(bytes: Uint8Array, from = 0, to = bytes.length, depth = 0, out: LengthPrefix[] = []): LengthPrefix[] {
  let pos = from;
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (pos >= to) return undefined;
      const b = bytes[pos++]!;
      if (shift < 49) value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    return undefined;
  };
  while (pos < to) {
    const key = varint();
    if (key === undefined || key < 8) return out;
    const wire = key % 8;
    if (wire === 0) {
      const at = pos;
      const value = varint();
      if (value === undefined) return out;
      out.push({ at, end: pos, length: value, prefix: false });
    } else if (wire === 1 || wire === 5) {
      pos += wire === 1 ? 8 : 4;
    } else if (wire === 2) {
      const at = pos;
      const length = varint();
      if (length === undefined || length > to - pos) return out;
      out.push({ at, end: pos, length, prefix: true });
      if (depth < 8 && length > 0) lengthPrefixes(bytes, pos, pos + length, depth + 1, out);
      pos += length;
    } else {
      return out;
    }
  }
  return out;
}

/**
 * Replaces bytes [from, to) with `replacement` and, when the size changes, rewrites the length of every message
 * around the edit (innermost first, since rewriting a length can change its own size), so the result still parses
 * and the edit reaches the decoder instead of being refused by the framing.
 */
function protobufEdit(b: Uint8Array, from: number, to: number, replacement: Uint8Array): Uint8Array {
  const around = lengthPrefixes(b).filter((p) => p.prefix && p.end <= from && to <= p.end + p.length).sort((x, y) => y.at - x.at);
  let out = concat(b.subarray(0, from), replacement, b.subarray(to));
  let delta = replacement.length - (to - from);
  for (const p of around) {
    if (delta === 0) break;
    const length = varintBytes(BigInt(p.length + delta));
    out = concat(out.subarray(0, p.at), length, out.subarray(p.end));
    delta += length.length - (p.end - p.at);
  }
  return out;
}

/** The spans of JSON-ish number literals (and the digits of any decimal run) in `bytes`. */
function numberSpans(bytes: Uint8Array): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let i = 0;
  while (i < bytes.length) {
    const c = bytes[i]!;
    const digit = c >= 0x30 && c <= 0x39;
    if (digit || (c === 0x2d && bytes[i + 1]! >= 0x30 && bytes[i + 1]! <= 0x39)) {
      const start = i++;
      while (i < bytes.length && ((bytes[i]! >= 0x30 && bytes[i]! <= 0x39) || bytes[i] === 0x2e || bytes[i] === 0x65 || bytes[i] === 0x45
        || ((bytes[i] === 0x2b || bytes[i] === 0x2d) && (bytes[i - 1] === 0x65 || bytes[i - 1] === 0x45)))) i++;
      spans.push([start, i]);
    } else {
      i++;
    }
  }
  return spans;
}

const encoder = new TextEncoder();

type Mutation = (input: Uint8Array, rng: Rng, others: readonly Uint8Array[]) => Uint8Array;

const MUTATIONS: ReadonlyArray<{ name: string; weight: number; apply: Mutation }> = [
  { name: 'flip a bit', weight: 3, apply: (b, rng) => {
    if (b.length === 0) return randomBytes(rng, 1);
    const out = b.slice();
    out[rng.below(out.length)]! ^= 1 << rng.below(8);
    return out;
  } },
  { name: 'set a byte', weight: 3, apply: (b, rng) => {
    if (b.length === 0) return randomBytes(rng, 1);
    const out = b.slice();
    out[rng.below(out.length)] = rng.pick([0, 0xff, 0x7f, 0x80, rng.below(256)]);
    return out;
  } },
  { name: 'insert bytes', weight: 2, apply: (b, rng) => {
    const at = rng.below(b.length + 1);
    const n = rng.chance(0.8) ? 1 + rng.below(8) : 1 + rng.below(256);
    const fill = rng.chance(0.5) ? randomBytes(rng, n) : new Uint8Array(n).fill(rng.below(256));
    return concat(b.subarray(0, at), fill, b.subarray(at));
  } },
  { name: 'delete a range', weight: 3, apply: (b, rng) => {
    if (b.length === 0) return b;
    const at = rng.below(b.length);
    const n = 1 + rng.below(Math.min(b.length - at, rng.chance(0.8) ? 8 : 512));
    return concat(b.subarray(0, at), b.subarray(at + n));
  } },
  { name: 'duplicate a range', weight: 2, apply: (b, rng) => {
    if (b.length === 0) return b;
    const at = rng.below(b.length);
    const n = 1 + rng.below(Math.min(b.length - at, 256));
    const copies = rng.chance(0.9) ? 1 : 1 + rng.below(64);
    const chunk = b.subarray(at, at + n);
    return concat(b.subarray(0, at + n), ...Array.from({ length: copies }, () => chunk), b.subarray(at + n));
  } },
  { name: 'splice with another input', weight: 2, apply: (b, rng, others) => {
    const other = others.length > 0 ? rng.pick(others) : b;
    const cut = rng.below(b.length + 1);
    const from = rng.below(other.length + 1);
    const to = from + rng.below(other.length - from + 1);
    return rng.chance(0.5)
      ? concat(b.subarray(0, cut), other.subarray(from))
      : concat(b.subarray(0, cut), other.subarray(from, to), b.subarray(cut));
  } },
  { name: 'integer at a boundary', weight: 3, apply: (b, rng) => {
    const width = rng.pick([1, 2, 4, 8]);
    if (b.length < width) return b;
    // Aligned positions most often, since FlatBuffers offsets and tensor elements sit at their alignment.
    const at = rng.chance(0.6) ? rng.below(Math.floor(b.length / width)) * width : rng.below(b.length - width + 1);
    const out = b.slice();
    out.set(intBytes(rng.pick(INTERESTING), width, rng.chance(0.8)), at);
    return out;
  } },
  { name: 'add to an integer', weight: 2, apply: (b, rng) => {
    if (b.length < 4) return b;
    const at = rng.below(Math.floor(b.length / 4)) * 4;
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const out = b.slice();
    new DataView(out.buffer).setUint32(at, (view.getUint32(at, true) + rng.below(33) - 16) >>> 0, true);
    return out;
  } },
  { name: 'JSON number at a boundary', weight: 4, apply: (b, rng) => {
    const spans = numberSpans(b);
    if (spans.length === 0) return b;
    const [from, to] = rng.pick(spans);
    return concat(b.subarray(0, from), encoder.encode(rng.pick(JSON_NUMBERS)), b.subarray(to));
  } },
  { name: 'JSON list grown or emptied', weight: 2, apply: (b, rng) => {
    // A list's brackets: grow it by repeating its first element, or empty it (shape/data length mismatches).
    const opens: number[] = [];
    for (let i = 0; i < b.length; i++) if (b[i] === 0x5b) opens.push(i);
    if (opens.length === 0) return b;
    const open = rng.pick(opens);
    let close = open + 1;
    while (close < b.length && b[close] !== 0x5d && b[close] !== 0x5b) close++;
    if (close >= b.length || b[close] !== 0x5d) return b;
    if (rng.chance(0.4)) return concat(b.subarray(0, open + 1), b.subarray(close));
    const inner = b.subarray(open + 1, close);
    const comma = inner.indexOf(0x2c);
    const first = comma < 0 ? inner : inner.subarray(0, comma);
    if (first.length === 0) return b;
    const extra = Array.from({ length: 1 + rng.below(rng.chance(0.9) ? 4 : 2000) }, () => concat(encoder.encode(','), first));
    return concat(b.subarray(0, close), ...extra, b.subarray(close));
  } },
  { name: 'insert a token', weight: 2, apply: (b, rng) => {
    const at = rng.below(b.length + 1);
    return concat(b.subarray(0, at), encoder.encode(rng.pick(TOKENS)), b.subarray(at));
  } },
  { name: 'protobuf varint at a boundary', weight: 2, apply: (b, rng) => {
    // Varint fields: dims, enum values, int64 contents, bools; sizes TF's fill rule and shape checks multiply.
    const values = lengthPrefixes(b).filter((p) => !p.prefix);
    if (values.length === 0) return b;
    const p = rng.pick(values);
    const value = rng.chance(0.7) ? rng.pick(INTERESTING) : BigInt(p.length) * BigInt(1 + rng.below(1 << 20));
    return rng.chance(0.8) ? protobufEdit(b, p.at, p.end, varintBytes(value)) : concat(b.subarray(0, p.at), varintBytes(value), b.subarray(p.end));
  } },
  { name: 'protobuf length prefix', weight: 3, apply: (b, rng) => {
    const prefixes = lengthPrefixes(b).filter((p) => p.prefix);
    if (prefixes.length === 0) return b;
    const p = rng.pick(prefixes);
    const length = rng.pick([
      0n, 1n, BigInt(p.length - 1), BigInt(p.length + 1), BigInt(p.length * 2), 0x7fffffffn, 0xffffffffn, 2n ** 32n, 2n ** 63n, -1n,
      BigInt(rng.below(b.length + 16)),
    ]);
    return concat(b.subarray(0, p.at), varintBytes(length), b.subarray(p.end));
  } },
  { name: 'protobuf field moved', weight: 2, apply: (b, rng) => {
    // Duplicate or delete one whole length-delimited field (repeated fields, last-one-wins scalars, missing parts).
    const prefixes = lengthPrefixes(b).filter((p) => p.prefix);
    if (prefixes.length === 0) return b;
    const p = rng.pick(prefixes);
    let keyStart = p.at - 1;
    while (keyStart > 0 && (b[keyStart - 1]! & 0x80) !== 0) keyStart--;
    const fieldEnd = p.end + p.length;
    const field = b.subarray(keyStart, fieldEnd);
    return rng.chance(0.5) ? protobufEdit(b, keyStart, fieldEnd, new Uint8Array(0)) : protobufEdit(b, keyStart, fieldEnd, concat(field, field));
  } },
];

const TOTAL_WEIGHT = MUTATIONS.reduce((n, m) => n + m.weight, 0);

function pickMutation(rng: Rng): (typeof MUTATIONS)[number] {
  let r = rng.below(TOTAL_WEIGHT);
  for (const m of MUTATIONS) {
    if (r < m.weight) return m;
    r -= m.weight;
  }
  return MUTATIONS[0]!;
}

/** One to a few stacked mutations of `input`; `others` (seeds and kept inputs) feed splices. Never longer than 64 KiB. */
export function mutate(input: Uint8Array, rng: Rng, others: readonly Uint8Array[]): Uint8Array {
  let out = input;
  const rounds = 1 + (rng.chance(0.5) ? 0 : rng.below(4));
  for (let k = 0; k < rounds; k++) out = pickMutation(rng).apply(out, rng, others);
  return out.length > MAX_LENGTH ? out.subarray(0, MAX_LENGTH) : out;
}
