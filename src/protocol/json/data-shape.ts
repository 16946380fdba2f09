// The shape of a JSON tensor value read from its first elements, without converting it: checked against a declared
// or model shape before any tensor is made, so a body whose data has the wrong shape costs no allocation.
import type { JsonValue } from './json-parser.js';
import { isPacked } from './packed-numbers.js';
import { isPackedStrings } from './packed-strings.js';

/**
 * The dims of `v` as the converter infers them (tensor-json.ts): the length of each first list down to a leaf, a
 * PackedNumbers' own shape where one is met, a PackedStrings' length (a flat list of strings); a scalar has shape
 * []. Stops at an empty list (its dim is 0); ragged
 * lists are not seen here (the converter finds them). Costs one step per dim.
 */
export function dataShape(v: JsonValue): number[] {
  const shape: number[] = [];
  let at: JsonValue = v;
  for (;;) {
    if (isPacked(at)) {
      shape.push(...at.shape);
      return shape;
    }
    if (isPackedStrings(at)) {
      shape.push(at.length);
      return shape;
    }
    if (!Array.isArray(at)) return shape;
    shape.push(at.length);
    if (at.length === 0) return shape;
    at = at[0] as JsonValue;
  }
}
