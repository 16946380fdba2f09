// Fuzz target for the native JSON fast path: parseJsonPacked and decodeJsonBody held to the JS parser and decoder.

import { parseJson, type JsonValue } from '../../src/protocol/json/json-parser.js';
import { decodeEarly, decodeJsonBody, parseEarly, parseJsonPacked, type EarlyParse } from '../../src/protocol/json/json-fast-path.js';
import { unpackTree } from '../../src/protocol/json/packed-numbers.js';
import { decodePredictRequest, type PredictSignature } from '../../src/protocol/tfserving/predict-codec.js';
import { defaultOptions } from '../../src/config/knobs.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { refused, type FuzzTarget } from '../target.js';

const LIMITS = { maxDepth: defaultOptions().maxJsonDepth, maxElements: 1_000_000, maxStrings: 100_000 };
const SIGNATURE: PredictSignature = {
  inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }],
};
const NAMED: PredictSignature = {
  inputs: [{ name: 'x', dtype: 'int32', shape: [-1, 2] }, { name: 'y', dtype: 'float64', shape: [-1] }],
};

/** Where two parse trees differ (Object.is on numbers, null prototypes, key order), or undefined. */
function difference(a: unknown, b: unknown, path: string): string | undefined {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) {
    return Object.is(a, b) ? undefined : `${path}: ${String(a)} vs ${String(b)}`;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: list vs object`;
  if (!Array.isArray(a) && (Object.getPrototypeOf(a) !== null || Object.getPrototypeOf(b) !== null)) return `${path}: prototype`;
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  if (ak.join('\0') !== bk.join('\0')) return `${path}: keys differ`;
  for (const k of ak) {
    const d = difference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d) return d;
  }
  return undefined;
}

/** The decode as a comparable text: tensors, or the error's code and message. */
function outcome(decode: () => Map<string, Tensor>): string {
  try {
    return [...decode()].map(([k, t]) => `${k} ${t.dtype} ${t.shape.join('x')} ${Array.from(t.data as ArrayLike<unknown>, String).join(',')}`).join(';');
  } catch (err) {
    return `error ${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
}

export const jsonNative: FuzzTarget = {
  name: 'json-native',
  description: 'the addon\'s parseJsonPacked against parseJson (declines every rejection, accepts every valid body, equal '
    + 'trees), then decodeJsonBody and the large-body path (native tree final, no JS re-parse) + decodePredictRequest '
    + 'against the JS-only decode (same tensors or the same error)',
  seeds: () => [
    '{"instances": [[1, 2, 3, 4], [5.5, -6e-3, 7E2, 8]]}',
    '{"inputs": [[NaN, Infinity, -Infinity, -0]], "signature_name": "serving_default"}',
    '{"instances": [{"x": [1, 2], "y": 0.5}, {"x": [3, 4], "y": 1e300}]}',
    '{"inputs": {"x": [[1, 2]], "y": [1.5]}}',
    '\ufeff {"a\\u00e9": ["\\ud83d\\ude00", true, null, [], [[1], [2]], 12345678901234567890, {"__proto__": {"b64": "aGk="}}]}',
    '{"instances": [[9007199254740993, -9223372036854775808, 1, 1e-400], [1, 2, 3, 4]], "inputs": [18446744073709551616]}',
    // Lists of 64+ strings come back as spans of the body (PackedStrings), escaped ones from an arena.
    `{"instances": [${Array.from({ length: 70 }, (_, i) => (i % 9 === 4 ? '"q\\"t\\u00e9\\n"' : `"s${i}"`)).join(', ')}]}`,
    `{"inputs": {"x": [${Array.from({ length: 64 }, (_, i) => `"\u65e5${i}"`).join(',')}], "y": [["a", "b"]]}}`,
  ].map((s) => new TextEncoder().encode(s)),
  run: (input, note) => {
    let js: JsonValue | undefined;
    try {
      js = parseJson(input, LIMITS);
    } catch {
      js = undefined;
    }
    const native = parseJsonPacked(input, LIMITS);
    if (js === undefined && native !== undefined) throw new Error('parseJsonPacked accepted a body parseJson rejects');
    if (js !== undefined && native === undefined) throw new Error('parseJsonPacked declined a body parseJson accepts');
    if (js !== undefined && native !== undefined) {
      const d = difference(unpackTree(native), js, '$');
      if (d !== undefined) throw new Error(`parseJsonPacked and parseJson differ at ${d}`);
    }
    const tensors: Tensor[] = [];
    for (const signature of [SIGNATURE, NAMED]) {
      const fast = outcome(() => decodeJsonBody(input, LIMITS, (json) => decodePredictRequest(json, signature)).inputs);
      const slow = outcome(() => decodePredictRequest(parseJson(input, LIMITS), signature).inputs);
      if (fast !== slow) throw new Error(`decodeJsonBody and the JS decode differ: ${fast.slice(0, 200)} vs ${slow.slice(0, 200)}`);
      if (native !== undefined) {
        // The path of a body over --json_js_inline_bytes: the native tree is final (a decline goes to the worker
        // thread, whose parseJson error is the JS path's by construction, so only acceptance is fuzzed here).
        let early: EarlyParse;
        parseEarly(input, LIMITS, { offthreadBytes: 0, jsInlineBytes: 0 }, (e) => { early = e; }, (err) => { throw err; });
        const large = outcome(() => decodeEarly(early, input, LIMITS, (json) => decodePredictRequest(json, signature)).inputs);
        if (large !== slow) throw new Error(`the large-body path and the JS decode differ: ${large.slice(0, 200)} vs ${slow.slice(0, 200)}`);
      }
      tensors.push(...refused(() => [...decodeJsonBody(input, LIMITS, (json) => decodePredictRequest(json, signature)).inputs.values()], note));
    }
    return tensors;
  },
};
