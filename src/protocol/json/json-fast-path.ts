// The native JSON fast path for request bodies: parse natively when the addon is sure, else (and on any error) the JS way.
import { nativeJsonCodec } from '../../engine/native-binding.js';
import { parseJson, type JsonObject, type JsonParseLimits, type JsonValue } from './json-parser.js';
import { PackedNumbers } from './packed-numbers.js';

/** Marks an object in the addon's raw tree (an array [OBJECT, key, value, ...]); no JSON value can be it. */
const OBJECT = Object.freeze({});
/** Keys nearly every body has: the addon hands these very (internalized) strings back instead of new ones. */
const KEYS: readonly string[] = [
  'instances', 'inputs', 'signature_name', 'name', 'shape', 'datatype', 'data', 'parameters', 'outputs', 'id',
  'binary_data', 'binary_data_size', 'binary_data_output', 'b64',
];

/**
 * The body parsed by the addon, with rectangular number lists as PackedNumbers, or undefined when the addon declined
 * (any syntax error, a limit, a big integer, a rare form) or is not there. onKey is not called: callers that rely
 * on it for early refusals get the same refusal later from their decoder, or from the JS rerun.
 */
export function parseJsonPacked(body: Uint8Array, limits: JsonParseLimits): JsonValue | undefined {
  const codec = nativeJsonCodec();
  if (codec === undefined) return undefined;
  const raw = codec.parseJsonPacked(body, limits.maxDepth, limits.maxElements ?? Infinity, limits.maxStrings ?? Infinity, OBJECT, KEYS);
  return raw === undefined ? undefined : revive(raw);
}

/**
 * parseJsonPacked on a libuv worker thread, for large bodies: undefined (no promise) when the addon is not there.
 * The promise gives the tree, or undefined when the addon declined; `body` must not change until it settles.
 */
export function parseJsonPackedAsync(body: Uint8Array, limits: JsonParseLimits): Promise<JsonValue | undefined> | undefined {
  const codec = nativeJsonCodec();
  if (codec === undefined) return undefined;
  return codec.parseJsonPackedAsync(body, limits.maxDepth, limits.maxElements ?? Infinity, limits.maxStrings ?? Infinity, OBJECT, KEYS)
    .then((raw) => (raw === undefined ? undefined : revive(raw)));
}

/**
 * The addon's raw tree as parseJson's tree: objects are built here because JS makes a null-prototype object and
 * sets its keys several times faster than N-API does; a Float64Array [rank, ...dims, ...values] is a PackedNumbers.
 */
function revive(v: unknown): JsonValue {
  if (typeof v !== 'object' || v === null) return v as JsonValue;
  if (v instanceof Float64Array) {
    const rank = v[0]!;
    const shape = new Array<number>(rank);
    for (let k = 0; k < rank; k++) shape[k] = v[1 + k]!;
    return new PackedNumbers(shape, v.subarray(1 + rank)) as unknown as JsonValue;
  }
  const list = v as unknown[];
  if (list[0] === OBJECT) {
    const out = Object.create(null) as JsonObject;
    for (let i = 1; i < list.length; i += 2) out[list[i] as string] = revive(list[i + 1]);
    return out;
  }
  for (let i = 0; i < list.length; i++) list[i] = revive(list[i]);
  return list as JsonValue[];
}

/**
 * decode(parsed body). The native tree is tried first; if the addon declines, or decode throws anything on it, the
 * whole decode runs again on parseJson's tree. So json-parser.ts and the decoders stay the only source of every
 * error and of every form the fast path does not cover, and `decode` must have no effect beyond its result.
 */
export function decodeJsonBody<T>(body: Uint8Array, limits: JsonParseLimits, decode: (json: JsonValue) => T): T {
  return decodeParsedBody(parseJsonPacked(body, limits), body, limits, decode);
}

/** decodeJsonBody with the native parse already done (undefined: it declined, so only the JS path is left). */
export function decodeParsedBody<T>(fast: JsonValue | undefined, body: Uint8Array, limits: JsonParseLimits, decode: (json: JsonValue) => T): T {
  if (fast !== undefined) {
    try {
      return decode(fast);
    } catch {
      // Fall through: the JS path gives the answer, and the error text, it always gave.
    }
  }
  return decode(parseJson(body, limits));
}

/** What a handler knows of a body before decoding it: parsed off the JS thread (a tree, or declined), or not yet. */
export type EarlyParse = { tree: JsonValue | undefined } | undefined;

/**
 * Parses `body` off the JS thread when it has at least `offthreadBytes` bytes (0 = never) and the addon is there,
 * then calls `then` with the outcome; otherwise calls `then(undefined)` at once, in this turn (a small body is
 * parsed inline by decodeEarly). An error thrown by `then` goes to `onError`.
 */
export function parseEarly(
  body: Uint8Array, limits: JsonParseLimits, offthreadBytes: number, then: (early: EarlyParse) => void | Promise<void>,
  onError: (err: unknown) => void,
): void | Promise<void> {
  const parsing = offthreadBytes > 0 && body.length >= offthreadBytes ? parseJsonPackedAsync(body, limits) : undefined;
  if (parsing === undefined) return then(undefined);
  return parsing.then((tree) => then({ tree })).catch(onError);
}

/** decode(body) using an early parse when there was one, else decodeJsonBody. */
export function decodeEarly<T>(early: EarlyParse, body: Uint8Array, limits: JsonParseLimits, decode: (json: JsonValue) => T): T {
  return early === undefined ? decodeJsonBody(body, limits, decode) : decodeParsedBody(early.tree, body, limits, decode);
}
