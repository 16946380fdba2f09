// Float printing for JSON responses (shortest round-trip decimals, TF Serving-style) and float16/bfloat16 bit conversions.

/*
 * Printing rules (shared by every float dtype):
 * - NaN, Infinity, -Infinity print as those bare tokens, as TF Serving writes them.
 * - Finite values print the SHORTEST decimal that parses back to the same value of the tensor's own dtype
 *   (float32: 0.1f prints `0.1`, not `0.10000000149011612`). TF Serving prints %.6g and falls back to %.9g/%.17g
 *   when that does not round-trip, so it sometimes prints more digits (1/3f: `0.333333343`, we print `0.33333334`);
 *   both round-trip, ours is never longer.
 * - Like TF Serving, a result without '.' or exponent gets a trailing `.0` (1 prints `1.0`, -0 prints `-0.0`) so
 *   JSON consumers keep inferring a float type for every element of a float tensor.
 * - The exponent form is JavaScript's (`1e+21`, `1e-7`), which is valid JSON.
 */

const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const f64Words = new Uint32Array(f64.buffer);
// Index of the 32-bit word holding a double's sign and exponent (1 on little-endian hosts).
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

function special(v: number): string | undefined {
  if (v !== v) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  return undefined;
}

/** Appends `.0` when the JS number text has neither a fraction nor an exponent. */
function withPoint(text: string): string {
  return text.includes('.') || text.includes('e') ? text : `${text}.0`;
}

// Powers of ten that are exact doubles. c × 10^e with c < 2^53 and |e| <= 22 is then ONE correctly rounded
// operation, i.e. exactly what parseFloat returns for that decimal (Clinger's fast path), with no string work.
const POW10: readonly number[] = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/** 10^k for k >= 0; beyond 22 only approximate, which is all the bracketing in tryGranularity needs. */
function pow10(k: number): number {
  return k <= 22 ? POW10[k]! : 10 ** k;
}

/** The double parseFloat gives for the decimal c × 10^e. */
function decimalValue(c: number, e: number): number {
  if (e >= 0 && e <= 22) return c * POW10[e]!;
  if (e < 0 && e >= -22) return c / POW10[-e]!;
  return Number(`${c}e${e}`); // rare: magnitudes below ~1e-13 or above ~1e22 at these digit counts
}

/** Whether the double x converts back to `target` (a float32 value, or the magnitude bits of a 16-bit float). */
type RoundTrips = (x: number, target: number) => boolean;
const float32RoundTrips: RoundTrips = (x, target) => Math.fround(x) === target;
const halfRoundTrips: RoundTrips = (x, target) => floatToHalf(x) === target;
const bfloat16RoundTrips: RoundTrips = (x, target) => floatToBfloat16(x) === target;

// The result of tryGranularity/shortestDecimal (module state instead of a tuple: no allocation per element).
let digitsOut = 0;
let expOut = 0;

/**
 * Tests the two multiples of 10^e that bracket a (> 0): if any multiple of 10^e lies in a's round-trip interval,
 * the bracketing one on that side does too. Both sides are tested because the interval is lopsided at powers of
 * two. t is approximate, which can shift the bracket by one near an integer; the integer a is nearest to is then
 * still among the two. Of two valid candidates the nearer wins. On success sets digitsOut/expOut.
 */
function tryGranularity(a: number, e: number, roundTrips: RoundTrips, target: number): boolean {
  const t = e >= 0 ? a / pow10(e) : a * pow10(-e);
  const lo = Math.floor(t);
  const okLo = lo > 0 && roundTrips(decimalValue(lo, e), target);
  const okHi = roundTrips(decimalValue(lo + 1, e), target);
  if (!okLo && !okHi) return false;
  digitsOut = okLo && (!okHi || t - lo <= lo + 1 - t) ? lo : lo + 1;
  expOut = e;
  return true;
}

/**
 * Shortest decimal digitsOut × 10^expOut for a (> 0, finite) that round-trips. A coarser granularity that works
 * implies every finer one works, so binary-search the coarsest e between the leading digit (top + 1) and
 * maxDigits (max_digits10) significant digits (top - maxDigits, always valid even if log10 was off by one).
 */
function shortestDecimal(a: number, maxDigits: number, roundTrips: RoundTrips, target: number): void {
  const top = Math.floor(Math.log10(a));
  let lo = top - maxDigits + 1;
  let hi = top + 1;
  let found = false;
  let bestC = 0;
  let bestE = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (tryGranularity(a, mid, roundTrips, target)) {
      found = true;
      bestC = digitsOut;
      bestE = expOut;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (found) {
    digitsOut = bestC;
    expOut = bestE;
  } else if (!tryGranularity(a, top - maxDigits, roundTrips, target)) {
    // Unreachable for the formats here; keep a correct (17-digit) answer anyway.
    const [m = '', x = '0'] = a.toExponential(16).split('e');
    digitsOut = Number(m.replace('.', ''));
    expOut = Number(x) - 16;
  }
}

/** c × 10^e in JavaScript's Number-to-String layout (plain up to 1e21, exponent below 1e-6), with the `.0` rule. */
function decimalText(c: number, e: number): string {
  while (c % 10 === 0) {
    c /= 10;
    e++;
  }
  const digits = String(c);
  const k = digits.length;
  const n = k + e; // the decimal point sits after n digits
  if (k <= n && n <= 21) return `${digits}${'0'.repeat(n - k)}.0`;
  if (n > 0 && n <= 21) return `${digits.slice(0, n)}.${digits.slice(n)}`;
  if (n > -6 && n <= 0) return `0.${'0'.repeat(-n)}${digits}`;
  const mant = k === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
  return `${mant}e${n - 1 < 0 ? '-' : '+'}${Math.abs(n - 1)}`;
}

function formatShortest(v: number, maxDigits: number, roundTrips: RoundTrips, target: number): string {
  shortestDecimal(Math.abs(v), maxDigits, roundTrips, target);
  const text = decimalText(digitsOut, expOut);
  return v < 0 ? `-${text}` : text;
}

/** Shortest decimal that round-trips through Math.fround. A non-float32 input is first rounded to float32. */
export function formatFloat32(v: number): string {
  const s = special(v);
  if (s !== undefined) return s;
  const x = Math.fround(v);
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  // Integers below 2^24 are exact in float32 and JS prints them without noise digits.
  if (Number.isInteger(x) && Math.abs(x) < 16777216) return `${x}.0`;
  return formatShortest(x, 9, float32RoundTrips, Math.abs(x));
}

/** JavaScript's shortest round-trip form for doubles, with the `.0` rule and NaN/Infinity tokens. */
export function formatFloat64(v: number): string {
  return special(v) ?? withPoint(String(v));
}

/** Shortest decimal that converts back to the same float16 bits (given as raw bits). */
export function formatFloat16(bits: number): string {
  const v = halfToFloat(bits);
  return special(v) ?? formatShortest(v, 5, halfRoundTrips, bits & 0x7fff);
}

/** Shortest decimal that converts back to the same bfloat16 bits (given as raw bits). */
export function formatBfloat16(bits: number): string {
  const v = bfloat16ToFloat(bits);
  return special(v) ?? formatShortest(v, 4, bfloat16RoundTrips, bits & 0x7fff);
}

/** IEEE binary16 bits → number (exact). */
export function halfToFloat(bits: number): number {
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** bfloat16 bits (the top half of a float32) → number (exact). */
export function bfloat16ToFloat(bits: number): number {
  f32Bits[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}

interface MiniFloat {
  mantBits: number;
  bias: number;
  infBits: number;
  nanBits: number;
  /** Smallest magnitude that rounds to infinity: halfway between the largest finite value and 2^(bias+1). */
  overflow: number;
}

const HALF: MiniFloat = { mantBits: 10, bias: 15, infBits: 0x7c00, nanBits: 0x7e00, overflow: 65520 };
const BF16: MiniFloat = { mantBits: 7, bias: 127, infBits: 0x7f80, nanBits: 0x7fc0, overflow: (2 - 2 ** -8) * 2 ** 127 };

/** floor(log2(a)) for a > 0, exact (read from the double's exponent field); double subnormals give a very small value. */
function exponentOf(a: number): number {
  f64[0] = a;
  const field = (f64Words[HI]! >>> 20) & 0x7ff;
  return field === 0 ? -1100 : field - 1023;
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

/**
 * Rounds a double straight to a small float format (nearest, ties to even) without going through float32 first,
 * which could round twice. Handles subnormals, overflow to infinity and NaN (a quiet NaN, sign dropped).
 */
function toMiniFloat(v: number, f: MiniFloat): number {
  if (v !== v) return f.nanBits;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= f.overflow) return sign | f.infBits;
  // Subnormals share the smallest normal exponent; scaling by a power of two is exact, so r is the correctly
  // rounded significand in units of the last place.
  const e = Math.max(exponentOf(a), 1 - f.bias);
  const r = roundHalfEven(a * 2 ** (f.mantBits - e));
  // Adding r (not OR-ing) lets a carry move into the next binade, or from subnormal into the smallest normal.
  return sign | (((e + f.bias - 1) << f.mantBits) + r);
}

/** number → IEEE binary16 bits, round to nearest even. */
export function floatToHalf(v: number): number {
  return toMiniFloat(v, HALF);
}

/** number → bfloat16 bits, round to nearest even. */
export function floatToBfloat16(v: number): number {
  return toMiniFloat(v, BF16);
}
