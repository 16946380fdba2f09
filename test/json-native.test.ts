// Differential tests of the native tensor-JSON fast path (real addon) against the JS parser, decoders and writer.
import { describe, it, expect } from 'vitest';
import { parseJson, type JsonParseLimits, type JsonValue } from '../src/protocol/json/json-parser.js';
import { decodeJsonBody, parseJsonPacked } from '../src/protocol/json/json-fast-path.js';
import { isPacked, PackedNumbers, unpackTree } from '../src/protocol/json/packed-numbers.js';
import { jsonToTensor, jsTensorJsonWriter, tensorJsonWriter } from '../src/protocol/json/tensor-json.js';
import { decodePredictRequest, type PredictSignature } from '../src/protocol/tfserving/predict-codec.js';
import { decodeRestInfer, decodeRestInferJson } from '../src/frontends/kserve/rest-codec.js';
import type { DType, Tensor } from '../src/engine/tensor.js';
import { nativeJsonCodec } from '../src/engine/native-binding.js';
import { corpusFromTests } from './support/json-corpus.js';
import { rng } from './support/seeded-random.js';


/** Strict equality of parse trees: Object.is for numbers (-0, NaN), null prototypes, key order. */
function sameTree(a: unknown, b: unknown, path = '$'): string | undefined {
  if (typeof a !== typeof b) return `${path}: ${typeof a} vs ${typeof b}`;
  if (typeof a === 'number' || typeof a === 'bigint' || typeof a === 'string' || typeof a === 'boolean' || a === null) {
    return Object.is(a, b) ? undefined : `${path}: ${String(a)} vs ${String(b)}`;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return `${path}: list lengths differ`;
    for (let i = 0; i < a.length; i++) {
      const d = sameTree(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  if (Object.getPrototypeOf(ao) !== null || Object.getPrototypeOf(bo) !== null) return `${path}: an object with a prototype`;
  const ak = Object.keys(ao);
  const bk = Object.keys(bo);
  if (ak.join('\u0000') !== bk.join('\u0000')) return `${path}: keys ${JSON.stringify(ak)} vs ${JSON.stringify(bk)}`;
  for (const k of ak) {
    const d = sameTree(ao[k], bo[k], `${path}.${k}`);
    if (d) return d;
  }
  return undefined;
}

type Outcome = { ok: true; value: JsonValue } | { ok: false; message: string };
function jsParse(bytes: Uint8Array, limits: JsonParseLimits): Outcome {
  try {
    return { ok: true, value: parseJson(bytes, limits) };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

/**
 * Native must decline everything JS rejects, accept everything JS accepts (nesting within its depth cap of 512), and
 * equal JS after unpacking. Returns whether it accepted.
 */
function checkDocument(bytes: Uint8Array, limits: JsonParseLimits): boolean {
  const js = jsParse(bytes, limits);
  const native = parseJsonPacked(bytes, limits);
  const label = () => JSON.stringify(Buffer.from(bytes).toString('latin1').slice(0, 300));
  if (!js.ok) {
    if (native !== undefined) expect.fail(`native accepted what JS rejects (${js.message}): ${label()}`);
    return false;
  }
  if (native === undefined) {
    if (limits.maxDepth <= 512) expect.fail(`native declined what JS accepts: ${label()}`);
    return false;
  }
  const diff = sameTree(unpackTree(native), js.value);
  if (diff !== undefined) expect.fail(`trees differ at ${diff}: ${label()}`);
  return true;
}

// ---------- random documents ----------
const NUMBER_TEXTS = ['0', '-0', '1', '-1', '0.5', '-0.0', '1e5', '1E+5', '1e-5', '2.5e-3', '123456789012345', '9007199254740991',
  '-9007199254740991', '9007199254740992', '-9007199254740993', '12345678901234567890', '1.7976931348623157e308', '1e309',
  '-1e309', '5e-324', '2e-320', '1e-400', '0.1', '3.141592653589793', '1.0000000000000002', '4.35', '0e10', '1.5e+300',
  'NaN', 'Infinity', '-Infinity', '100', '1e21', '1e-7', '0.30000000000000004', '123.456e-7', '9.999999999999999e22'];
const BAD_NUMBERS = ['01', '-', '1.', '.5', '1e', '1e+', '+1', '-01', '0x1', 'Inf', 'nan', '--1', '1.e5', 'NaNa', 'Infinityy'];
const STRINGS = ['', 'x', 'instances', '__proto__', 'constructor', 'toString', 'b64', 'é', '日本', '😀', 'a\\"b', 'tab\\t',
  '\\u00e9', '\\ud83d\\ude00', '\\u0000', '\\/', 'line\\nbreak', '\\ud800', '\\udc00x', '\\x', 'ctl\u0001', '\\u12G4', 'long '.repeat(20)];

function randomNumber(r: () => number): string {
  if (r() < 0.5) {
    const v = (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20);
    const forms = [String(v), v.toExponential(Math.floor(r() * 17)), v.toFixed(Math.floor(r() * 10)), String(Math.round(v))];
    return forms[Math.floor(r() * forms.length)]!;
  }
  return NUMBER_TEXTS[Math.floor(r() * NUMBER_TEXTS.length)]!;
}

function randomValue(r: () => number, depth: number): string {
  const x = r();
  if (depth > 6 || x < 0.3) {
    const y = r();
    if (y < 0.5) return randomNumber(r);
    if (y < 0.8) return `"${STRINGS[Math.floor(r() * STRINGS.length)]}"`;
    return ['true', 'false', 'null'][Math.floor(r() * 3)]!;
  }
  if (x < 0.6) {
    // A rectangular numeric block, sometimes ragged or with a stray non-number.
    const dims = Array.from({ length: 1 + Math.floor(r() * 3) }, () => 1 + Math.floor(r() * 4));
    const block = (d: number): string => {
      if (d === dims.length) return r() < 0.03 ? randomValue(r, depth + 1) : randomNumber(r);
      const n = r() < 0.05 ? dims[d]! + 1 : dims[d]!;
      return `[${Array.from({ length: n }, () => block(d + 1)).join(r() < 0.1 ? ' , ' : ',')}]`;
    };
    return block(0);
  }
  if (x < 0.75) return `[${Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1)).join(',')}]`;
  const n = Math.floor(r() * 4);
  const keys = Array.from({ length: n }, () => STRINGS[Math.floor(r() * 8)]!);
  return `{${keys.map((k) => `"${k}":${randomValue(r, depth + 1)}`).join(',')}}`;
}

function mutate(text: string, r: () => number): string {
  const i = Math.floor(r() * (text.length + 1));
  const y = r();
  if (y < 0.25) return text.slice(0, i); // truncated
  if (y < 0.5) return text.slice(0, i) + text.slice(i + 1); // one character deleted
  if (y < 0.75) return text.slice(0, i) + '[]{}",:0-.eE \t\nNI\\x'[Math.floor(r() * 20)] + text.slice(i);
  return text.slice(0, i) + BAD_NUMBERS[Math.floor(r() * BAD_NUMBERS.length)] + text.slice(i);
}


describe('parseJsonPacked against parseJson', () => {
  const LIMITS: JsonParseLimits = { maxDepth: 64 };

  it('the addon has the codec (else every check below would compare JS with itself)', () => {
    expect(nativeJsonCodec()).toBeDefined();
  });

  it('packs the :predict hot body and keeps objects null-prototype', () => {
    const values = Array.from({ length: 64 }, (_, i) => Math.fround(Math.sin(i)));
    const tree = parseJsonPacked(Buffer.from(JSON.stringify({ instances: [values] })), LIMITS) as Record<string, unknown>;
    expect(Object.getPrototypeOf(tree)).toBe(null);
    const p = tree['instances'] as PackedNumbers;
    expect(isPacked(p)).toBe(true);
    expect(p.shape).toEqual([1, 64]);
    expect(Array.from(p.values)).toEqual(values);
    const proto = parseJsonPacked(Buffer.from('{"__proto__": {"polluted": 1}}'), LIMITS) as Record<string, unknown>;
    expect(Object.keys(proto)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('agrees on every JSON literal in test/ (and declines every one JS rejects)', () => {
    const corpus = corpusFromTests();
    expect(corpus.length).toBeGreaterThan(100);
    let accepted = 0;
    for (const text of corpus) if (checkDocument(Buffer.from(text), LIMITS)) accepted++;
    expect(accepted).toBeGreaterThan(50);
  });

  it('agrees on 20000 random documents and 20000 mutations of them', () => {
    const r = rng(12);
    let accepted = 0;
    let valid = 0;
    for (let n = 0; n < 20000; n++) {
      const text = randomValue(r, 0);
      const ws = r() < 0.1 ? ' \n\t\r' : '';
      const bom = r() < 0.05 ? '\ufeff' : '';
      const doc = Buffer.from(`${bom}${ws}${text}${ws}`);
      if (checkDocument(doc, LIMITS)) accepted++;
      if (jsParse(doc, LIMITS).ok) valid++;
      checkDocument(Buffer.from(mutate(text, r)), LIMITS);
    }
    // The native reader takes every valid document (big integers and underflows included).
    expect(accepted).toBe(valid);
  });

  it('declines past the depth, element and string limits exactly where JS fails', () => {
    const r = rng(7);
    for (let n = 0; n < 3000; n++) {
      const doc = Buffer.from(randomValue(r, 0));
      checkDocument(doc, { maxDepth: Math.floor(r() * 5), maxElements: Math.floor(r() * 30), maxStrings: Math.floor(r() * 4) });
    }
    const deep = Buffer.from(`${'['.repeat(3000)}1${']'.repeat(3000)}`);
    expect(parseJsonPacked(deep, { maxDepth: 10_000 })).toBeUndefined(); // past the native stack cap: JS decides
    expect(checkDocument(Buffer.from('[[1,2],[3,4]]'), { maxDepth: 2, maxElements: 6 })).toBe(true);
    expect(checkDocument(Buffer.from('[[1,2],[3,4]]'), { maxDepth: 2, maxElements: 5 })).toBe(false);
    expect(checkDocument(Buffer.from('[[1,2],[3,4]]'), { maxDepth: 1 })).toBe(false);
  });

  it('declines invalid UTF-8; keeps big integers exact, reads underflows; accepts escapes, BOM and exponents', () => {
    for (const bytes of [[0x22, 0xc0, 0x80, 0x22], [0x22, 0xed, 0xa0, 0x80, 0x22], [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22], [0x5b, 0xff, 0x5d]]) {
      checkDocument(new Uint8Array(bytes), LIMITS);
      expect(parseJsonPacked(new Uint8Array(bytes), LIMITS)).toBeUndefined();
    }
    const huge = `-${'7'.repeat(400)}`;
    for (const text of ['[12345678901234567890]', '[1e-400, -2e-330, 3e-324]', `{"id": ${huge}, "x": [[1, 9007199254740993], [-9223372036854775809, 2]]}`,
      '[1, true, 18446744073709551616]', `[${'1'.repeat(30)}]`, '{"shape": [9007199254740992, 2]}']) {
      expect(checkDocument(Buffer.from(text), LIMITS), text).toBe(true);
    }
    const tree = parseJsonPacked(Buffer.from(`{"id": ${huge}, "x": [[1, 9007199254740993], [-9223372036854775809, 2]]}`), LIMITS) as Record<string, unknown>;
    expect(tree['id']).toBe(-BigInt('7'.repeat(400)));
    const x = tree['x'] as PackedNumbers;
    expect(Array.from(x.exact!.at)).toEqual([1, 2]);
    expect(x.exact!.values).toEqual([9007199254740993n, -9223372036854775809n]);
    expect(x.values[1]).toBe(Number(9007199254740993n));
    // A thousand keys, one repeated at the end: a duplicate however large the object.
    const keys = Array.from({ length: 1000 }, (_, i) => `"k${i}": ${i}`).join(',');
    expect(checkDocument(Buffer.from(`{${keys}}`), LIMITS)).toBe(true);
    expect(checkDocument(Buffer.from(`{${keys}, "k500": 1}`), LIMITS)).toBe(false);
    for (const text of ['\ufeff{"a\\u00e9\\ud83d\\ude00":"\\"x\\/"}', '[1E+2,-0,-0.0,5e-324,NaN,-Infinity]', '{"é":"日本"}', '"\\u0000"']) {
      expect(checkDocument(Buffer.from(text), LIMITS)).toBe(true);
    }
  });
});

// ---------- decoding into tensors ----------
type Decoded = { ok: true; value: unknown } | { ok: false; message: string };
function attempt(fn: () => unknown): Decoded {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

function tensorText(t: Tensor): string {
  const data = Array.from(t.data as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? `${x}n` : Object.is(x, -0) ? '-0' : String(x)));
  return `${t.dtype} ${JSON.stringify(t.shape)} ${data.join(',')}`;
}

function decodedText(d: Decoded): string {
  if (!d.ok) return `error: ${d.message}`;
  const v = d.value as { inputs: Map<string, Tensor> } & Record<string, unknown>;
  return [...v.inputs].map(([k, t]) => `${k}: ${tensorText(t)}`).join('\n') + ` form=${String(v['form'])}`;
}

const DTYPES: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'bool', 'string'];

describe('tensors from the native tree equal tensors from the JS tree', () => {
  const LIMITS: JsonParseLimits = { maxDepth: 64 };
  const CELLS = ['0', '1', '-1', '0.5', '255', '256', '-129', '1e40', '-0', 'NaN', 'Infinity', '70000', '4294967296', '9007199254740991', '1.0', '3.5e38'];

  it('jsonToTensor: same data or the same error, every dtype', () => {
    const r = rng(3);
    for (let n = 0; n < 3000; n++) {
      const rows = 1 + Math.floor(r() * 3);
      const cols = 1 + Math.floor(r() * 4);
      const cell = () => (r() < 0.7 ? CELLS[Math.floor(r() * 4)]! : CELLS[Math.floor(r() * CELLS.length)]!);
      const text = `[${Array.from({ length: rows }, () => `[${Array.from({ length: cols }, cell).join(',')}]`).join(',')}]`;
      const dtype = DTYPES[Math.floor(r() * DTYPES.length)]!;
      const expectedShape = r() < 0.3 ? [-1, cols + (r() < 0.3 ? 1 : 0)] : undefined;
      const opts = expectedShape ? { expectedShape } : undefined;
      const native = parseJsonPacked(Buffer.from(text), LIMITS);
      expect(isPacked(native)).toBe(true);
      const a = attempt(() => tensorText(jsonToTensor(native!, dtype, 'inputs', opts)));
      const b = attempt(() => tensorText(jsonToTensor(parseJson(text, LIMITS), dtype, 'inputs', opts)));
      expect(a, `${dtype} ${text}`).toEqual(b);
    }
  });

  it('big integers: exact in every dtype, through the addon\'s int64/uint64 words or its BigInt list', () => {
    const BIG = ['9007199254740993', '-9007199254740993', '9223372036854775807', '-9223372036854775808', '9223372036854775808',
      '18446744073709551615', '18446744073709551616', '-18446744073709551616', '1' + '0'.repeat(30), '1' + '0'.repeat(400)];
    const kinds = (text: string) => {
      const exact = (parseJsonPacked(Buffer.from(text), LIMITS) as PackedNumbers).exact!;
      return exact.values instanceof BigInt64Array ? 'int64' : exact.values instanceof BigUint64Array ? 'uint64' : 'list';
    };
    expect(kinds('[9223372036854775807, -9223372036854775808, 1, 9007199254740993]')).toBe('int64');
    expect(kinds('[18446744073709551615, 9007199254740993]')).toBe('uint64');
    expect(kinds('[18446744073709551616, 9007199254740993]')).toBe('list');
    expect(kinds('[-9223372036854775809]')).toBe('list');
    const r = rng(5);
    for (let n = 0; n < 3000; n++) {
      const rows = 1 + Math.floor(r() * 3);
      const cols = 1 + Math.floor(r() * 3);
      const mostlyBig = r() < 0.5;
      const cell = () => (mostlyBig || r() < 0.3 ? BIG[Math.floor(r() * (r() < 0.7 ? 4 : BIG.length))]! : CELLS[Math.floor(r() * 4)]!);
      const text = `[${Array.from({ length: rows }, () => `[${Array.from({ length: cols }, cell).join(',')}]`).join(',')}]`;
      const dtype = DTYPES[Math.floor(r() * DTYPES.length)]!;
      const native = parseJsonPacked(Buffer.from(text), LIMITS)!;
      expect(isPacked(native)).toBe(true);
      const a = attempt(() => tensorText(jsonToTensor(native, dtype, 'inputs')));
      const b = attempt(() => tensorText(jsonToTensor(parseJson(text, LIMITS), dtype, 'inputs')));
      expect(a, `${dtype} ${text}`).toEqual(b);
    }
  });

  const signature = (shapes: Record<string, number[]>, dtype: DType = 'float32'): PredictSignature => ({
    inputs: Object.entries(shapes).map(([name, shape]) => ({ name, dtype, shape })),
  });
  const decodeJs = (text: string, sig: PredictSignature) => attempt(() => decodePredictRequest(parseJson(text, LIMITS), sig));
  /** The fast path as the server runs it, and whether decode took the native tree on its first call. */
  function decodeFast(text: string, sig: PredictSignature): { result: Decoded; native: boolean } {
    let calls = 0;
    let firstHadPacked = false;
    const result = attempt(() => decodeJsonBody(Buffer.from(text), LIMITS, (json) => {
      if (calls++ === 0) firstHadPacked = hasPacked(json);
      return decodePredictRequest(json, sig);
    }));
    return { result, native: calls === 1 && firstHadPacked };
  }
  const hasPacked = (v: unknown): boolean =>
    isPacked(v) || (Array.isArray(v) ? v.some(hasPacked) : typeof v === 'object' && v !== null && Object.values(v).some(hasPacked));

  it(':predict row, batched row, columnar and named forms take the native tree and decode identically', () => {
    const row = Array.from({ length: 64 }, (_, i) => Math.fround(i / 7));
    const cases: Array<[string, PredictSignature]> = [
      [JSON.stringify({ instances: [row] }), signature({ x: [-1, 64] })],
      [JSON.stringify({ instances: [row, row, row] }), signature({ x: [-1, 64] })],
      [JSON.stringify({ signature_name: 'serving_default', instances: [[1, 2], [3, 4]] }), signature({ x: [-1, 2] }, 'int64')],
      [JSON.stringify({ inputs: [row] }), signature({ x: [-1, 64] })],
      [JSON.stringify({ inputs: { x: [row], y: [[1, 2, 3]] } }), signature({ x: [-1, 64], y: [1, 3] }, 'float64')],
      [JSON.stringify({ instances: [{ x: [1, 2], y: [[0, 1]] }, { x: [3, 4], y: [[1, 0]] }] }), signature({ x: [-1, 2], y: [-1, 1, 2] }, 'int32')],
    ];
    for (const [text, sig] of cases) {
      const fast = decodeFast(text, sig);
      expect(fast.native, text).toBe(true);
      expect(decodedText(fast.result)).toBe(decodedText(decodeJs(text, sig)));
      expect(fast.result.ok).toBe(true);
    }
  });

  it(':predict errors and rare forms read exactly as before (the JS rerun words them)', () => {
    const cases: Array<[string, PredictSignature]> = [
      ['{"instances": [[1, 2], [3]]}', signature({ x: [-1, 2] })],
      ['{"instances": [[1, 2]]}', signature({ x: [-1, 3] })],
      ['{"instances": [[1, 2]]}', signature({ x: [-1, 2], y: [-1, 2] })],
      ['{"instances": [[1.5, 2]]}', signature({ x: [-1, 2] }, 'int32')],
      ['{"instances": [[1e39, 2]]}', signature({ x: [-1, 2] })],
      ['{"instances": [[1, 2]]}', signature({ x: [-1, 2] }, 'string')],
      ['{"instances": [{"x": [1, 2]}, {"x": [3]}]}', signature({ x: [-1, 2] })],
      ['{"instances": [{"x": [1, 2]}, {"x": [3, 4]}], "inputs": [1]}', signature({ x: [-1, 2] })],
      ['{"inputs": {"x": [[1, 2]], "z": [1]}}', signature({ x: [-1, 2] })],
      ['{"inputs": [[12345678901234567890]]}', signature({ x: [-1, 1] }, 'int64')],
      ['{"instances": [[true, 0]]}', signature({ x: [-1, 2] }, 'bool')],
      ['{"instances": [[2, 0]]}', signature({ x: [-1, 2] }, 'bool')],
      ['{"instances": [["a", "b"]]}', signature({ x: [-1, 2] }, 'string')],
      ['{"instances": [[1, 2]],}', signature({ x: [-1, 2] })],
      ['{"instances": [[1, 2]], "instances": [[1, 2]]}', signature({ x: [-1, 2] })],
      ['{"instances": []}', signature({ x: [-1, 2] })],
      ['{"instances": [[]]}', signature({ x: [-1, 2] })],
    ];
    for (const [text, sig] of cases) {
      expect(decodedText(decodeFast(text, sig).result), text).toBe(decodedText(decodeJs(text, sig)));
    }
  });

  it('KServe /infer: the native tree decodes like the JS tree, flat and nested data, every numeric datatype', () => {
    const limits = { maxJsonDepth: 64, maxBodyBytes: 1 << 20 };
    const datatypes = ['FP32', 'FP64', 'FP16', 'INT8', 'INT32', 'INT64', 'UINT8', 'UINT64', 'BOOL'];
    for (const datatype of datatypes) {
      for (const data of [[1, 0, 1, 0, 1, 1], [[1, 0, 1], [0, 1, 1]], [1, 0, 1], [1.5, 0, 1, 0, 1, 1], [300, 0, 1, 0, 1, -1]]) {
        const text = JSON.stringify({
          id: 'r1', parameters: { binary_data_output: false },
          inputs: [{ name: 'x', shape: [2, 3], datatype, data }], outputs: [{ name: 'y' }],
        });
        const show = (d: Decoded) => (d.ok ? tensorText((d.value as { inputs: Map<string, Tensor> }).inputs.get('x')!) : `error: ${d.message}`);
        const viaNative = attempt(() => decodeRestInferJson(parseJsonPacked(Buffer.from(text), { maxDepth: 64 })!, new Uint8Array(0), limits));
        const viaJs = attempt(() => decodeRestInferJson(parseJson(text, { maxDepth: 64 }), new Uint8Array(0), limits));
        const served = attempt(() => decodeRestInfer(Buffer.from(text), undefined, limits));
        expect(show(served), text).toBe(show(viaJs));
        if (viaNative.ok) expect(show(viaNative), text).toBe(show(viaJs));
        // The well-formed ones must not need the rerun.
        if (viaJs.ok) expect(viaNative.ok, text).toBe(true);
      }
    }
  });
});

// ---------- writing tensors ----------
describe('writeTensorJson against the JS writer', () => {
  /** The addon's writer called directly (so a silent fallback to JS cannot pass), and the JS reference. */
  const both = (t: Tensor) => {
    const codec = nativeJsonCodec()!;
    const data = t.data as ArrayBufferView;
    const isBool = t.dtype === 'bool';
    const native = { whole: () => codec.writeTensorJson(data, t.shape, -1, isBool), row: (r: number) => codec.writeTensorJson(data, t.shape, r, isBool) };
    const js = jsTensorJsonWriter(t, { bytesAsB64: false });
    return { native, js };
  };

  /** Floats whose texts are the hard ones: boundaries of JS's layout, subnormals, extremes, integers. */
  function edgeFloats(): number[] {
    const out = [0, -0, NaN, Infinity, -Infinity, 1, -1, 0.1, 1 / 3, 2 ** 24, 2 ** 24 - 1, 2 ** 24 + 2, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64,
      1e21, 1e21 * (1 - 2 ** -52), 1e21 * (1 + 2 ** -52), 1e-6, 1e-7, 0.000001 * (1 - 2 ** -52), 1e-7 * (1 + 2 ** -52), 123e18, 999999999999999900000,
      5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308, 1.401298464324817e-45, 1.1754943508222875e-38,
      3.4028234663852886e38, 1.1754942106924411e-38, 16777217, 0.5, 100, 1e15, 1e16, 1e17, 123456789, 0.000123, 9.5367431640625e-7];
    for (let e = -330; e <= 310; e++) out.push(10 ** e, -(10 ** e), 2 ** (e / 1.1));
    return out;
  }

  it('float32 and float64: edge values, byte-identical, whole and by row', () => {
    const values = edgeFloats();
    for (const dtype of ['float32', 'float64'] as const) {
      const data = dtype === 'float32' ? new Float32Array(values) : new Float64Array(values);
      const t: Tensor = { dtype, shape: [values.length], data };
      const { native, js } = both(t);
      expect(native.whole()).toBe(js.whole());
      for (let r = 0; r < values.length; r++) expect(native.row(r)).toBe(js.row(r));
    }
  });

  it('float32: 2 million random bit patterns (all exponents, subnormals, NaN payloads) byte-identical', () => {
    const r = rng(99);
    for (let round = 0; round < 20; round++) {
      const bits = new Uint32Array(100_000);
      for (let i = 0; i < bits.length; i++) bits[i] = Math.floor(r() * 4294967296);
      const data = new Float32Array(bits.buffer);
      const { native, js } = both({ dtype: 'float32', shape: [1000, 100], data });
      expect(native.whole() === js.whole(), `round ${round}`).toBe(true);
    }
  });

  it('float32: 2 million random values at the magnitudes models output (1e-8 .. 1e8), byte-identical', () => {
    const r = rng(97);
    for (let round = 0; round < 20; round++) {
      const data = new Float32Array(100_000);
      for (let i = 0; i < data.length; i++) data[i] = (r() - 0.5) * 10 ** (Math.floor(r() * 17) - 8);
      const { native, js } = both({ dtype: 'float32', shape: [100_000], data });
      expect(native.whole() === js.whole(), `round ${round}`).toBe(true);
    }
  });

  it('float64: 2 million random bit patterns byte-identical', () => {
    const r = rng(98);
    for (let round = 0; round < 20; round++) {
      const words = new Uint32Array(200_000);
      for (let i = 0; i < words.length; i++) words[i] = Math.floor(r() * 4294967296);
      const data = new Float64Array(words.buffer);
      const { native, js } = both({ dtype: 'float64', shape: [100, 10, 100], data });
      expect(native.whole() === js.whole(), `round ${round}`).toBe(true);
    }
  });

  it('integers, bool and int64 extremes; shapes with zero dims and rank 0', () => {
    const r = rng(5);
    const ints: Array<[DType, Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array | BigInt64Array | BigUint64Array]> = [
      ['int8', Int8Array.from([-128, 127, 0, -1, 5, 99])],
      ['int16', Int16Array.from([-32768, 32767, 0, -1, 5, 99])],
      ['int32', Int32Array.from([-2147483648, 2147483647, 0, -1, 5, 99])],
      ['uint8', Uint8Array.from([0, 255, 1, 2, 3, 4])],
      ['uint16', Uint16Array.from([0, 65535, 1, 2, 3, 4])],
      ['uint32', Uint32Array.from([0, 4294967295, 1, 2, 3, 4])],
      ['int64', BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 2n ** 53n + 1n, 7n])],
      ['uint64', BigUint64Array.from([0n, 2n ** 64n - 1n, 1n, 2n ** 53n + 1n, 5n, 6n])],
      ['bool', Uint8Array.from([0, 1, 2, 255, 0, 1])],
    ];
    for (const [dtype, data] of ints) {
      for (const shape of [[6], [2, 3], [3, 1, 2], [1, 6]]) {
        const { native, js } = both({ dtype, shape, data });
        expect(native.whole()).toBe(js.whole());
        for (let row = 0; row < shape[0]!; row++) expect(native.row(row)).toBe(js.row(row));
      }
    }
    for (const shape of [[0], [2, 0], [0, 3], [2, 0, 2], []]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n).map(() => r());
      const { native, js } = both({ dtype: 'float32', shape, data });
      expect(native.whole()).toBe(js.whole());
      for (let row = 0; row < (shape[0] ?? 0); row++) expect(native.row(row)).toBe(js.row(row));
    }
  });

  it('the binding refuses malformed calls with a TypeError naming the argument, and never reads past the data', () => {
    const codec = nativeJsonCodec()!;
    const f = new Float32Array(6);
    const cases: Array<[() => unknown, RegExp]> = [
      [() => codec.writeTensorJson(f, [2, 2], -1, false), /data length is not the product of shape/],
      [() => codec.writeTensorJson(f, [2, 3], 2, false), /row is out of range/],
      [() => codec.writeTensorJson(f, [2, 3], 0.5, false), /row is out of range/],
      [() => codec.writeTensorJson(f, [2, -3], -1, false), /shape\[1\] must be a non-negative integer/],
      [() => codec.writeTensorJson(new Float32Array(0), [2 ** 40, 2 ** 40, 0], -1, false), /more than 2\^32 lists/],
      [() => codec.writeTensorJson(f, [6], -1, true), /a bool tensor's data must be a Uint8Array/],
      [() => codec.writeTensorJson(new DataView(new ArrayBuffer(8)), [8], -1, false), /data must be a typed array/],
      [() => codec.parseJsonPacked(new Uint16Array(2) as unknown as Uint8Array, 8, 10, 10, {}, []), /bytes must be a Uint8Array/],
      [() => codec.parseJsonPacked(new Uint8Array(2), -1, 10, 10, {}, []), /maxDepth must be a non-negative number/],
    ];
    for (const [call, message] of cases) expect(call).toThrow(message);
    expect(codec.writeTensorJson(new Float32Array(0), [3, 0], -1, false)).toBe('[[],[],[]]');
  });

  it('a view at an offset of a larger buffer writes its own elements only', () => {
    const buffer = new Float32Array([9, 1.5, 2.5, 3.5, 9]);
    const t: Tensor = { dtype: 'float32', shape: [3], data: buffer.subarray(1, 4) };
    expect(tensorJsonWriter(t, { bytesAsB64: false }).whole()).toBe('[1.5,2.5,3.5]');
  });
});
