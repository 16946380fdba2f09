// The native JSON fast path for request bodies: the native reader's tree; the JS parser only for errors and rare forms,
// on the JS thread for small bodies only.
//
// Why: the JS parser holds the JS thread about 20 µs per KiB (a million values: ~0.4 s). A body of at most
// --json_js_inline_bytes may still be read again by it on the JS thread (a few ms), so its errors are the JS
// parser's and decoders' by construction. A larger body never is: the native reader's tree is final (a decode error
// where a decoder met a packed list it did not expect is worded again on the same tree unpacked, which is the JS
// parser's tree, with no re-parse), and a body the native reader declines is read by the JS parser on a worker
// thread, only for its error (json-offthread-parse.ts). test/json-decline.test.ts holds this path to the JS path.
import { nativeJsonCodec } from '../../engine/native-binding.js';
import { OrtServeError } from '../../errors.js';
import { parseJson, type JsonObject, type JsonParseLimits, type JsonValue } from './json-parser.js';
import { jsParseOffThread, type OnKeySpec } from './json-offthread-parse.js';
import { PackedNumbers, unpackTree } from './packed-numbers.js';
import { PackedStrings } from './packed-strings.js';
import { packedDescriptions } from './tensor-json.js';

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
  return raw === undefined ? undefined : revive(raw, 0, undefined, body);
}

/**
 * parseJsonPacked on a libuv worker thread, for large bodies: undefined (no promise) when the addon is not there.
 * The promise gives the tree, or undefined when the addon declined; `body` must not change until it settles.
 */
export function parseJsonPackedAsync(body: Uint8Array, limits: JsonParseLimits): Promise<JsonValue | undefined> | undefined {
  const codec = nativeJsonCodec();
  if (codec === undefined) return undefined;
  return codec.parseJsonPackedAsync(body, limits.maxDepth, limits.maxElements ?? Infinity, limits.maxStrings ?? Infinity, OBJECT, KEYS)
    .then((raw) => (raw === undefined ? undefined : revive(raw, 0, undefined, body)));
}

/**
 * The addon's raw tree as parseJson's tree: objects are built here because JS makes a null-prototype object and
 * sets its keys several times faster than N-API does; a Float64Array [rank, ...dims, ...values] is a PackedNumbers
 * (with its big integers when it has an `exact` property); a Uint32Array of spans of `body` is a PackedStrings. `onKey` is called as parseJson calls it: for each key, in
 * document order, before its value, with the object's nesting depth (the root object is 1) and its members so far.
 */
function revive(v: unknown, depth: number, onKey: JsonParseLimits['onKey'], body: Uint8Array): JsonValue {
  if (typeof v !== 'object' || v === null) return v as JsonValue;
  if (v instanceof Uint32Array) return new PackedStrings(body, v, (v as { arena?: ArrayBuffer }).arena) as unknown as JsonValue;
  if (v instanceof Float64Array) {
    const rank = v[0]!;
    const shape = new Array<number>(rank);
    for (let k = 0; k < rank; k++) shape[k] = v[1 + k]!;
    const exact = (v as { exact?: [Uint32Array, ArrayLike<bigint>] }).exact;
    const big = exact === undefined ? undefined : { at: exact[0], values: exact[1] };
    return new PackedNumbers(shape, v.subarray(1 + rank), big) as unknown as JsonValue;
  }
  const list = v as unknown[];
  if (list[0] === OBJECT) {
    const out = Object.create(null) as JsonObject;
    for (let i = 1; i < list.length; i += 2) {
      const key = list[i] as string;
      onKey?.(key, depth + 1, out);
      out[key] = revive(list[i + 1], depth + 1, onKey, body);
    }
    return out;
  }
  for (let i = 0; i < list.length; i++) list[i] = revive(list[i], depth + 1, onKey, body);
  return list as JsonValue[];
}

/**
 * decode(parsed body), for a small body. The native tree is tried first; if the addon declines, or decode throws
 * anything on it, the whole decode runs again on parseJson's tree, on this thread. So json-parser.ts and the
 * decoders stay the only source of every error, and `decode` must have no effect beyond its result.
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

/**
 * What a handler knows of a body before decoding it; undefined: nothing yet (a small body, parsed by decodeEarly).
 *   raw: the addon's raw tree, or undefined when it declined;
 *   final: the body is over --json_js_inline_bytes, so the JS parser must not read it on the JS thread;
 *   error: (final, declined) the error parseJson gave on the worker thread; absent when it accepted the body.
 */
export type EarlyParse = { raw: unknown; final: boolean; error?: OrtServeError } | undefined;

/** Where parseEarly reads a body. */
export interface EarlyParseOptions {
  /** Bodies of at least this many bytes are parsed by the addon off the JS thread (0 = never). */
  offthreadBytes: number;
  /** Bodies larger than this are never read by the JS parser on the JS thread (--json_js_inline_bytes). */
  jsInlineBytes: number;
  /** The onKey the decoder passes to decodeEarly, as the worker thread can make it (see OnKeySpec). */
  onKey?: OnKeySpec;
  /**
   * Counts the worker thread's copy of a declined body (`bytes`) in the server's bytes in flight until the worker has
   * answered, or throws the refusal (ERR_QUEUE_FULL); returns the release. Absent: not counted.
   */
  reserveCopy?: (bytes: number) => () => void;
  /** The client's signal, which aborts when it leaves: a copy still waiting for the worker is then skipped. */
  signal?: () => AbortSignal;
}

/**
 * Parses `body` natively, off the JS thread when it has at least `offthreadBytes` bytes; when the native reader
 * declines a body over `jsInlineBytes`, the JS parser reads it on the worker thread for its error. Then calls `then`
 * with the outcome. A small body (at most both sizes) calls `then(undefined)` at once, in this turn: decodeEarly
 * parses it inline. An error thrown by `then` after a wait goes to `onError`; one thrown in this turn propagates.
 */
export function parseEarly(
  body: Uint8Array, limits: JsonParseLimits, options: EarlyParseOptions, then: (early: EarlyParse) => void | Promise<void>,
  onError: (err: unknown) => void,
): void | Promise<void> {
  const codec = nativeJsonCodec();
  const final = body.length > options.jsInlineBytes;
  const offthread = options.offthreadBytes > 0 && body.length >= options.offthreadBytes;
  if (codec === undefined || (!final && !offthread)) return then(undefined);
  const settle = (raw: unknown): void | Promise<void> => {
    if (raw !== undefined || !final) return then({ raw, final });
    // Declined and too large for the JS parser here: it reads the body on the worker thread, for the error only. Its
    // copy there counts in the bytes in flight (a refusal goes to onError) until the worker answers, on every path.
    const release = options.reserveCopy?.(body.length);
    let parsed: Promise<OrtServeError | undefined>;
    try {
      parsed = jsParseOffThread(body, limits, options.onKey, options.signal?.());
    } catch (err) {
      // The copy could not be made or handed over (its allocation failed): nothing holds the bytes.
      release?.();
      throw err;
    }
    return parsed.finally(release).then((error) => then({ raw: undefined, final, ...(error ? { error } : {}) }));
  };
  const args = [limits.maxDepth, limits.maxElements ?? Infinity, limits.maxStrings ?? Infinity, OBJECT, KEYS] as const;
  if (offthread) return codec.parseJsonPackedAsync(body, ...args).then(settle).catch(onError);
  const settled = settle(codec.parseJsonPacked(body, ...args));
  return settled instanceof Promise ? settled.catch(onError) : settled;
}

/**
 * decode(body) using an early parse when there was one, else decodeJsonBody. A body shorter than `jsBelowBytes` with
 * no early parse goes straight to the JS parser: for small bodies of objects and strings (a KServe binary header,
 * a few dozen values) building the addon's tree through N-API costs more than the JS parser's whole parse.
 */
export function decodeEarly<T>(early: EarlyParse, body: Uint8Array, limits: JsonParseLimits, decode: (json: JsonValue) => T, jsBelowBytes = 0): T {
  if (early === undefined && body.length < jsBelowBytes) return decode(parseJson(body, limits));
  if (early === undefined) return decodeJsonBody(body, limits, decode);
  if (early.error !== undefined) throw early.error;
  // Declined: a small body, or (rare) a valid form the native reader does not take, nesting past its depth cap.
  if (early.raw === undefined) return decode(parseJson(body, limits));
  if (!early.final) {
    try {
      return decode(revive(early.raw, 0, undefined, body));
    } catch {
      return decode(parseJson(body, limits));
    }
  }
  // The native reader accepted the body, so parseJson would have too, up to what onKey refuses: replay it.
  const tree = revive(early.raw, 0, limits.onKey, body);
  const described = packedDescriptions();
  try {
    return decode(tree);
  } catch (err) {
    // The decoders handle a PackedNumbers wherever a list of numbers is usual, and their errors there read as on
    // the JS tree. Where one met a PackedNumbers it did not expect (it described it in an error) or failed some
    // other way, it decodes again on the tree unpacked, which is parseJson's tree (no text is parsed again): the
    // error (or answer) is the JS path's. Unpacking costs the JS thread about 20 ms per million values, so it is
    // kept to those cases.
    if (err instanceof OrtServeError && packedDescriptions() === described) throw err;
    return decode(unpackTree(tree) as JsonValue);
  }
}
