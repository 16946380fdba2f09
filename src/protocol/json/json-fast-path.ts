// The native JSON fast path for request bodies: parse natively when the addon is sure, else (and on any error) the JS way.
import { nativeJsonCodec } from '../../engine/native-binding.js';
import { parseJson, type JsonParseLimits, type JsonValue } from './json-parser.js';
import { PackedNumbers } from './packed-numbers.js';

const nullObject = (): object => Object.create(null) as object;

/**
 * The body parsed by the addon, with rectangular number lists as PackedNumbers, or undefined when the addon declined
 * (any syntax error, a limit, a big integer, a rare form) or is not there. onKey is not called: callers that rely
 * on it for early refusals get the same refusal later from their decoder, or from the JS rerun.
 */
export function parseJsonPacked(body: Uint8Array, limits: JsonParseLimits): JsonValue | undefined {
  const codec = nativeJsonCodec();
  if (codec === undefined) return undefined;
  return codec.parseJsonPacked(body, limits.maxDepth, limits.maxElements ?? Infinity, limits.maxStrings ?? Infinity,
    nullObject, PackedNumbers) as JsonValue | undefined;
}

/**
 * decode(parsed body). The native tree is tried first; if the addon declines, or decode throws anything on it, the
 * whole decode runs again on parseJson's tree. So json-parser.ts and the decoders stay the only source of every
 * error and of every form the fast path does not cover, and `decode` must have no effect beyond its result.
 */
export function decodeJsonBody<T>(body: Uint8Array, limits: JsonParseLimits, decode: (json: JsonValue) => T): T {
  const fast = parseJsonPacked(body, limits);
  if (fast !== undefined) {
    try {
      return decode(fast);
    } catch {
      // Fall through: the JS path gives the answer, and the error text, it always gave.
    }
  }
  return decode(parseJson(body, limits));
}
