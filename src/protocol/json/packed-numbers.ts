// PackedNumbers: a rectangular nested list of numbers as one shape and one Float64Array (what the native parser returns).
//
// The native parser (parseJsonPacked, native/core/json_document.h) returns the JSON tree json-parser.ts would, except
// that every non-empty list whose leaves are all numbers and whose sub-lists share one shape is a PackedNumbers.
// To code that does not know it, a PackedNumbers is neither a list (Array.isArray is false) nor an object
// (isJsonObject is false) nor a scalar, so every decoder refuses it by default; the REST decoders then run again on
// the JS parser's tree (a small body) or on the native tree unpacked (unpackTree: the same tree, for a large body;
// see json-fast-path.ts), so a form the fast path does not cover costs time, never a different answer.

import { PackedStrings } from './packed-strings.js';

/**
 * Integer literals past ±(2^53−1) in a block, which the JS parser gives as bigint: their positions in `values`
 * (ascending) and their exact values. `values` holds Number() of each (the correctly rounded double).
 */
export interface ExactIntegers {
  at: Uint32Array;
  /** A BigInt64Array or BigUint64Array when every value fits one (the addon's choice), else a list. */
  values: ArrayLike<bigint>;
}

/**
 * `values` is row-major over `shape` (every dim >= 1); numbers are what the JS parser gives (NaN/±Infinity kept),
 * except the big integers listed in `exact`, which it gives as bigint.
 */
export class PackedNumbers {
  constructor(
    readonly shape: number[],
    readonly values: Float64Array,
    readonly exact?: ExactIntegers,
  ) {}
}

export function isPacked(v: unknown): v is PackedNumbers {
  return v instanceof PackedNumbers;
}

/** The nested number lists a PackedNumbers stands for (the JS parser's form). */
export function unpackNumbers(p: PackedNumbers): unknown[] {
  const { shape, values, exact } = p;
  // The elements the JS parser gives: the bigints of `exact` in their places.
  const at = exact?.at;
  let next = 0;
  const element = (k: number): unknown => {
    if (at === undefined || next >= at.length || at[next] !== k) return values[k];
    return exact!.values[next++];
  };
  const block = (dim: number, offset: number, stride: number): unknown[] => {
    const n = shape[dim]!;
    const inner = stride / n;
    const out = new Array<unknown>(n);
    for (let j = 0; j < n; j++) out[j] = dim + 1 === shape.length ? element(offset + j) : block(dim + 1, offset + j * inner, inner);
    return out;
  };
  return block(0, 0, values.length);
}

/** A tree with every PackedNumbers (and PackedStrings) replaced by lists: what the JS parser returns for the same body. */
export function unpackTree(v: unknown): unknown {
  if (v instanceof PackedNumbers) return unpackNumbers(v);
  if (v instanceof PackedStrings) return v.strings();
  if (Array.isArray(v)) return v.map(unpackTree);
  if (typeof v === 'object' && v !== null) {
    const out = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(v)) out[key] = unpackTree((v as Record<string, unknown>)[key]);
    return out;
  }
  return v;
}
