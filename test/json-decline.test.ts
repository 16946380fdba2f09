// Large JSON bodies (over --json_js_inline_bytes) never re-parsed on the JS thread: same answers and errors as the JS path.
//
// Each document goes through the path a large body takes (parseEarly with jsInlineBytes 0: the native tree is final,
// a decline is parsed by the JS parser on the worker thread) and through the JS path alone (parseJson, then the
// decoder); the outcome must be the same: the same tensors, or the same error code and full message.
import { describe, expect, it } from 'vitest';
import { OrtServeError } from '../src/errors.js';
import { parseJson, parseJsonBytesRead, type JsonParseLimits, type JsonValue } from '../src/protocol/json/json-parser.js';
import { decodeEarly, parseEarly } from '../src/protocol/json/json-fast-path.js';
import { decodePredictRequest, type PredictSignature } from '../src/protocol/tfserving/predict-codec.js';
import {
  declaredInputOnKey, declaredInputOnKeySpec, decodeRestInfer, decodeRestInferJson, restJsonLimits, type RestCodecLimits,
} from '../src/frontends/kserve/rest-codec.js';
import { RequestTally, DEFAULT_SIZE_LIMITS, type SizeLimits } from '../src/engine/tensor-limits.js';
import type { DType, Tensor } from '../src/engine/tensor.js';
import { nativeJsonCodec } from '../src/engine/native-binding.js';
import { corpusFromTests } from './support/json-corpus.js';
import { rng } from './support/seeded-random.js';

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** A decode's outcome as text: the tensors (exact, bigints included), or the error's code and full message. */
function outcome(fn: () => unknown): string {
  try {
    const v = fn() as { inputs: Map<string, Tensor> } & Record<string, unknown>;
    return [...v.inputs].map(([k, t]) => `${k}: ${tensorText(t)}`).join('\n') + ` form=${String(v['form'])} id=${String(v['id'])}`;
  } catch (err) {
    if (!(err instanceof OrtServeError)) return `not an OrtServeError: ${String(err)}`;
    return `${err.code}: ${err.message}`;
  }
}
function tensorText(t: Tensor): string {
  const data = Array.from(t.data as ArrayLike<unknown>, (x) =>
    (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : Object.is(x, -0) ? '-0' : String(x)));
  return `${t.dtype} ${JSON.stringify(t.shape)} ${data.join(',')}`;
}

/** The large-body path: parseEarly never hands the body to the JS parser on this thread. */
function viaLargePath<T>(body: Uint8Array, limits: JsonParseLimits, decode: (early: Parameters<typeof decodeEarly>[0]) => T,
  offthread: boolean, onKey?: ReturnType<typeof declaredInputOnKeySpec>): Promise<string> {
  return new Promise((resolve) => {
    const where = { offthreadBytes: offthread ? 1 : 0, jsInlineBytes: 0, ...(onKey ? { onKey } : {}) };
    const before = parseJsonBytesRead();
    const r = parseEarly(body, limits, where, (early) => {
      expect(early !== undefined || body.length === 0).toBe(true);
      const result = outcome(() => decode(early));
      // The JS parser never ran on this thread: the body is over jsInlineBytes (an empty one is not).
      if (body.length > 0) expect(parseJsonBytesRead() - before).toBe(0);
      resolve(result);
    }, (err) => resolve(`onError: ${String(err)}`));
    if (r instanceof Promise) r.catch((err: unknown) => resolve(`rejected: ${String(err)}`));
  });
}

// ---------- document generators ----------
const CELLS = ['0', '1', '-1', '0.5', '255', '-129', '1e40', '-0', 'NaN', 'Infinity', '-Infinity', '70000', '1.5e-320', '1e-400',
  '9007199254740991', '9007199254740993', '-9223372036854775808', '9223372036854775808', '18446744073709551615',
  '18446744073709551616', '123456789012345678901234567890', '3.5e38', 'true', 'false', 'null', '"a"', '{"b64": "aGk="}', '[]'];
const NAMES = ['x', 'y', 'z', 'x_bytes'];

function block(r: () => number, dims: number[], d = 0): string {
  if (d === dims.length) return r() < 0.85 ? pick(r, CELLS.slice(0, 5)) : pick(r, CELLS);
  const n = r() < 0.05 ? dims[d]! + 1 : dims[d]!;
  return `[${Array.from({ length: n }, () => block(r, dims, d + 1)).join(',')}]`;
}
const randomDims = (r: () => number) => Array.from({ length: 1 + Math.floor(r() * 3) }, () => 1 + Math.floor(r() * 3));

function tfBody(r: () => number): string {
  const x = r();
  const parts: string[] = [];
  if (r() < 0.1) parts.push(`"signature_name": ${pick(r, ['"serving_default"', '"other"', '1'])}`);
  if (x < 0.35) parts.push(`"instances": ${block(r, randomDims(r))}`);
  else if (x < 0.55) parts.push(`"inputs": ${block(r, randomDims(r))}`);
  else if (x < 0.75) {
    const names = NAMES.slice(0, 1 + Math.floor(r() * 3));
    parts.push(`"inputs": {${names.map((n) => `"${n}": ${block(r, randomDims(r))}`).join(', ')}}`);
  } else {
    const names = NAMES.slice(0, 1 + Math.floor(r() * 2));
    const rows = 1 + Math.floor(r() * 3);
    const dims = randomDims(r);
    parts.push(`"instances": [${Array.from({ length: rows }, () => `{${names.map((n) => `"${n}": ${block(r, dims)}`).join(', ')}}`).join(', ')}]`);
  }
  if (r() < 0.05) parts.push(`"inputs": [1]`);
  if (r() < 0.05) parts.push(`"extra": ${block(r, [2])}`);
  return `{${parts.join(', ')}}`;
}

const DATATYPES = ['FP32', 'FP64', 'INT8', 'INT32', 'INT64', 'UINT8', 'UINT64', 'BOOL', 'BYTES', 'FP16', 'BAD'];
function kserveBody(r: () => number): string {
  const inputs = Array.from({ length: 1 + Math.floor(r() * 2) }, (_, i) => {
    const dims = randomDims(r);
    const shape = r() < 0.1 ? pick(r, ['[1000000000, 1000]', '[-1, 2]', '[1.5]', '[9007199254740993]', '"2"', '[]']) : JSON.stringify(r() < 0.15 ? [...dims, 2] : dims);
    const fields = [`"name": ${r() < 0.05 ? '""' : `"${NAMES[i]}"`}`, `"shape": ${shape}`, `"datatype": "${pick(r, DATATYPES)}"`,
      `"data": ${r() < 0.5 ? block(r, dims) : block(r, [dims.reduce((a, b) => a * b, 1)])}`];
    if (r() < 0.1) fields.push(`"parameters": ${pick(r, ['{"binary_data_size": 4}', '{}', '1'])}`);
    if (r() < 0.3) fields.reverse();
    return `{${fields.join(', ')}}`;
  });
  const parts = [`"inputs": [${inputs.join(', ')}]`];
  if (r() < 0.3) parts.push(`"id": ${pick(r, ['"r1"', '7', '12345678901234567890'])}`);
  if (r() < 0.2) parts.push(`"parameters": ${pick(r, ['{"timeout": 12345678901234567890}', '{"priority": 1}', '{"sequence_id": 18446744073709551615, "sequence_start": true}', '{"binary_data_output": 1}'])}`);
  if (r() < 0.2) parts.push(`"outputs": ${pick(r, ['[{"name": "y"}]', '5', '[{"name": "y"}, {"name": "y"}]', '[{"name": "y", "parameters": {"binary_data": true}}]'])}`);
  if (r() < 0.2) parts.reverse();
  return `{${parts.join(', ')}}`;
}

const BAD = ['01', '-', '1.', '.5', '1e', '+1', '0x1', 'Inf', 'nan', '1e999', '"\\x"', '"\\ud800"', ',', '}', ']', '"k": 1'];
function mutate(text: string, r: () => number): string {
  const i = Math.floor(r() * (text.length + 1));
  const y = r();
  if (y < 0.2) return text.slice(0, i); // truncated: a syntax error at the end
  if (y < 0.35) return text.slice(0, i) + text.slice(i + 1);
  if (y < 0.5) return text.slice(0, i) + '[]{}",:0-.eE \t\nNI\\x'[Math.floor(r() * 20)] + text.slice(i);
  if (y < 0.65) return text.slice(0, i) + pick(r, BAD) + text.slice(i);
  if (y < 0.8) {
    // A duplicate key: the first key of some object, repeated at its end.
    const open = text.indexOf('{"', i % Math.max(1, text.length));
    const at = open < 0 ? text.indexOf('{"') : open;
    const key = /^\{("[^"]*")/.exec(text.slice(at))?.[1];
    const close = text.lastIndexOf('}');
    return key === undefined ? text : `${text.slice(0, close)}, ${key}: 0}`;
  }
  return `${text} ${pick(r, ['x', ']', '{}', '1'])}`; // trailing junk
}


// ---------- the comparisons ----------
const TF_LIMITS: JsonParseLimits = { maxDepth: 8, maxElements: 400, maxStrings: 40 };
const SIGS: Array<PredictSignature> = (['float32', 'int64', 'uint64', 'int8', 'bool', 'string', 'float16'] as DType[]).flatMap((dtype) => [
  { inputs: [{ name: 'x', dtype, shape: [-1, -1] }] },
  { inputs: [{ name: 'x', dtype, shape: [-1, 2] }, { name: 'y', dtype, shape: [-1] }] },
  { inputs: [{ name: 'x', dtype, shape: [-1, 2, 2] }] },
]);
const SIZES: SizeLimits = { ...DEFAULT_SIZE_LIMITS, maxRequestElements: 64, maxStringElements: 20, maxJsonValues: 400 };
const KS_LIMITS: RestCodecLimits = { maxJsonDepth: 8, maxBodyBytes: 1 << 20, sizeLimits: SIZES };

async function compareTf(text: string, sig: PredictSignature, offthread: boolean): Promise<void> {
  const body = Buffer.from(text);
  const decode = (json: JsonValue) => decodePredictRequest(json, sig, new RequestTally(SIZES, 1 << 20, '--max_body_bytes'));
  const js = outcome(() => decode(parseJson(body, TF_LIMITS)));
  const large = await viaLargePath(body, TF_LIMITS, (early) => decodeEarly(early, body, TF_LIMITS, decode), offthread);
  expect(large, `${text}\nsignature ${JSON.stringify(sig)}`).toBe(js);
}

async function compareKserve(text: string, offthread: boolean): Promise<void> {
  const body = Buffer.from(text);
  const limits = restJsonLimits(KS_LIMITS);
  const js = outcome(() => decodeRestInferJson(
    parseJson(body, { ...limits, onKey: declaredInputOnKey({ maxBodyBytes: KS_LIMITS.maxBodyBytes, sizes: SIZES }) }), new Uint8Array(0), KS_LIMITS));
  const large = await viaLargePath(body, limits, (early) => decodeRestInfer(body, undefined, KS_LIMITS, early), offthread, declaredInputOnKeySpec(KS_LIMITS));
  expect(large, text).toBe(js);
}

describe('the large-body path gives the JS path\'s answer or error, without parsing on the JS thread', () => {
  it('the addon has the codec (else nothing below takes the native path)', () => {
    expect(nativeJsonCodec()).toBeDefined();
  });

  it('TF Serving :predict: 1500 random bodies and 1500 mutations (syntax errors, duplicate keys, junk), 21 signatures', async () => {
    const r = rng(41);
    let errors = 0;
    for (let n = 0; n < 1500; n++) {
      const text = tfBody(r);
      const sig = pick(r, SIGS);
      await compareTf(text, sig, n % 2 === 0);
      const bad = mutate(text, r);
      await compareTf(bad, sig, n % 2 === 1);
      if (outcome(() => parseJson(bad, TF_LIMITS)).startsWith('ERR_')) errors++;
    }
    expect(errors).toBeGreaterThan(500); // the mutations do reach the worker-thread parse
  });

  it('KServe /infer: 1500 random bodies and 1500 mutations, onKey\'s early refusals included', async () => {
    const r = rng(42);
    for (let n = 0; n < 1500; n++) {
      const text = kserveBody(r);
      await compareKserve(text, n % 2 === 0);
      await compareKserve(mutate(text, r), n % 2 === 1);
    }
  });

  it('every JSON literal in test/, as a :predict body (3 signatures) and as an /infer body', async () => {
    const corpus = corpusFromTests();
    expect(corpus.length).toBeGreaterThan(100);
    for (const text of corpus) {
      for (const sig of [SIGS[0]!, SIGS[4]!, SIGS[10]!]) await compareTf(text, sig, false);
      await compareKserve(text, true);
    }
  });

  it('limits: past the depth, value and string limits the worker gives the JS parser\'s ERR_JSON_DEPTH / ERR_TOO_LARGE', async () => {
    const sig = SIGS[0]!;
    await compareTf(`{"instances": ${'['.repeat(9)}1${']'.repeat(9)}}`, sig, true);
    await compareTf(`{"instances": [${Array.from({ length: 500 }, (_, i) => i).join(',')}]}`, sig, true);
    await compareTf(`{"instances": [${Array.from({ length: 50 }, () => '"s"').join(',')}]}`, sig, false);
    await compareTf('{"instances": [1, 2], "\\u0069nstances": [3]}', sig, false);
    await compareTf(`{"instances": [[1, 2]]} ${'\u00e9'}`, sig, false);
    await compareTf(`${'\ufeff'}{"instances": [[1, 2]],}`, sig, true);
    await compareKserve('{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1000, 1000], "data": [1, 2}]}', true);
    await compareKserve('{"outputs": [{"name": "y", "shape": [1000, 1000]}], "inputs": [{"name": "x", "datatype": "FP32", "shape": [1000, 1000], "data": [1]}]}', false);
  });
});
