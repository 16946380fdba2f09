// The addon's answer writer (writeJsonAnswerAsync) against the JS writer: KServe and TF Serving answers, byte for byte.
import { describe, it, expect } from 'vitest';
import { Buffer } from 'node:buffer';
import { nativeJsonCodec } from '../src/engine/native-binding.js';
import type { DType, Tensor } from '../src/engine/tensor.js';
import type { InferResponse } from '../src/inference/infer-request.js';
import { encodeRestInfer, restInferPieces } from '../src/frontends/kserve/rest-codec.js';
import { encodePredictResponse, predictResponsePieces, type PredictOutput } from '../src/protocol/tfserving/predict-codec.js';
import { answersNatively, nativeAnswerTensor, writeAnswerNative } from '../src/protocol/json/json-answer-native.js';
import { rng } from './support/seeded-random.js';
import { bytesToTensor } from '../src/protocol/tensor-bytes.js';

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const bytes = (...b: number[]) => Uint8Array.from(b);

/** BYTES elements whose texts are the hard ones: every escape, non-ASCII, and byte runs that are not UTF-8. */
function edgeStrings(): Uint8Array[] {
  const out: Uint8Array[] = [
    bytes(), utf8('plain'), utf8('"quoted"'), utf8('back\\slash'), utf8('a\u0000b'), utf8('\b\f\n\r\t'), utf8('\u001f\u007f\u0080'),
    utf8('caf\u00e9 \u65e5\u672c \u{1f600}'), utf8('\u2028\u2029'), utf8('\ufeffBOM first'), utf8('x'.repeat(20) + '"' + 'y'.repeat(9)),
    bytes(0xef, 0xbb, 0xbf), bytes(0xff), bytes(0xc0, 0x80), bytes(0xc1, 0xbf), bytes(0xe0, 0x80, 0x80), bytes(0xe0, 0x9f, 0xbf),
    bytes(0xe0, 0xa0, 0x80), bytes(0xed, 0x9f, 0xbf), bytes(0xed, 0xa0, 0x80), bytes(0xed, 0xbf, 0xbf), bytes(0xee, 0x80, 0x80),
    bytes(0xf0, 0x8f, 0xbf, 0xbf), bytes(0xf0, 0x90, 0x80, 0x80), bytes(0xf4, 0x8f, 0xbf, 0xbf), bytes(0xf4, 0x90, 0x80, 0x80),
    bytes(0xf5, 0x80, 0x80, 0x80), bytes(0xc3), bytes(0x61, 0xe2, 0x82), bytes(0xe2, 0x82, 0xac), bytes(0x80), bytes(0xc3, 0xa9, 0xa9),
    bytes(0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x5c, 0x22, 0x0a), bytes(0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7e, 0x7f, 0x1f, 0x20),
  ];
  for (let c = 0; c < 0x80; c++) out.push(bytes(c), bytes(0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, c, 0x68));
  while (out.length % 4 !== 0) out.push(utf8('pad'));   // the shapes below split the list in 2 and 4
  return out;
}

/** Random BYTES elements: ASCII words with escapes, valid multi-byte text, and random bytes (mostly not UTF-8). */
function randomStrings(seed: number, n: number): Uint8Array[] {
  const r = rng(seed);
  const pick = '"\\\n\t\u0001 azAZ09\u00e9\u65e5\u{1f600}\u007f\u2028';
  const chars = [...pick];
  return Array.from({ length: n }, () => {
    const kind = r();
    const length = Math.floor(r() ** 2 * 40);
    if (kind < 0.6) {
      let s = '';
      for (let i = 0; i < length; i++) s += r() < 0.8 ? String.fromCharCode(0x61 + Math.floor(r() * 26)) : chars[Math.floor(r() * chars.length)];
      return utf8(s);
    }
    const b = new Uint8Array(length);
    for (let i = 0; i < length; i++) b[i] = kind < 0.8 ? 0x80 + Math.floor(r() * 128) : Math.floor(r() * 256);
    return b;
  });
}

function response(outputs: Array<[string, Tensor]>, id?: string): InferResponse {
  return { model: 'm\u00e9 "x"', version: '3', ...(id !== undefined ? { id } : {}), outputs: new Map(outputs) } as InferResponse;
}

async function kserveBoth(res: InferResponse): Promise<void> {
  const js = Buffer.from(encodeRestInfer(res, () => false).json, 'utf8');
  const pieces = restInferPieces(res, () => false);
  expect(pieces, 'every tensor here is one the addon writes').toBeDefined();
  const native = await writeAnswerNative(pieces!);
  expect(native.equals(js), `native ${native.subarray(0, 200).toString()} vs js ${js.subarray(0, 200).toString()}`).toBe(true);
}

async function tfBoth(outputs: PredictOutput[], forms: Array<'columnar' | 'row'> = ['columnar', 'row']): Promise<void> {
  for (const form of forms) {
    const js = Buffer.from(encodePredictResponse(form, outputs), 'utf8');
    const pieces = predictResponsePieces(form, outputs);
    expect(pieces).toBeDefined();
    const native = await writeAnswerNative(pieces!);
    expect(native.equals(js), `${form}: native ${native.subarray(0, 200).toString()} vs js ${js.subarray(0, 200).toString()}`).toBe(true);
  }
}

/** One tensor of each dtype the addon writes, shape `shape`, with edge values. */
function numericTensors(shape: number[], seed: number): Array<[string, Tensor]> {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  const floats = [0, -0, NaN, Infinity, -Infinity, 0.1, 1 / 3, 1e21, 1e-7, 5e-324, 3.4028234663852886e38, 16777217, -2.5];
  const f = (i: number) => (i < floats.length ? floats[i]! : (r() - 0.5) * 10 ** Math.floor(r() * 20 - 10));
  const make: Array<[DType, () => Tensor['data']]> = [
    ['float32', () => Float32Array.from({ length: n }, (_, i) => f(i))],
    ['float64', () => Float64Array.from({ length: n }, (_, i) => f(i))],
    ['int8', () => Int8Array.from({ length: n }, (_, i) => (i === 0 ? -128 : Math.floor(r() * 256) - 128))],
    ['int16', () => Int16Array.from({ length: n }, () => Math.floor(r() * 65536) - 32768)],
    ['int32', () => Int32Array.from({ length: n }, (_, i) => (i === 0 ? -2147483648 : Math.floor(r() * 2 ** 32) - 2 ** 31))],
    ['int64', () => BigInt64Array.from({ length: n }, (_, i) => (i === 0 ? -(2n ** 63n) : i === 1 ? 2n ** 63n - 1n : BigInt(Math.floor(r() * 2 ** 53)) * 1000n))],
    ['uint8', () => Uint8Array.from({ length: n }, () => Math.floor(r() * 256))],
    ['uint16', () => Uint16Array.from({ length: n }, () => Math.floor(r() * 65536))],
    ['uint32', () => Uint32Array.from({ length: n }, (_, i) => (i === 0 ? 4294967295 : Math.floor(r() * 2 ** 32)))],
    ['uint64', () => BigUint64Array.from({ length: n }, (_, i) => (i === 0 ? 2n ** 64n - 1n : BigInt(Math.floor(r() * 2 ** 53)) * 999n))],
    ['bool', () => Uint8Array.from({ length: n }, () => (r() < 0.5 ? 0 : 1))],
  ];
  return make.map(([dtype, data]) => [`out_${dtype}`, { dtype, shape, data: data() }]);
}

describe('writeJsonAnswerAsync against the JS writer', () => {
  it('the addon has the writer (else every check below would compare JS with itself)', () => {
    expect(typeof nativeJsonCodec()?.writeJsonAnswerAsync).toBe('function');
  });

  it('BYTES edge elements (escapes, non-ASCII, every kind of invalid UTF-8) as text and as b64, every shape', async () => {
    const strings = edgeStrings();
    for (const shape of [[strings.length], [strings.length / 2, 2], [2, strings.length / 4, 2]]) {
      const text: Tensor = { dtype: 'string', shape, data: strings };
      await kserveBoth(response([['text', text]], 'req-\u00e9'));
      // TF: `_bytes` outputs are always b64, other names text (or b64 when not UTF-8); one and several outputs.
      await tfBoth([{ name: 'text', tensor: text }]);
      await tfBoth([{ name: 'text_bytes', tensor: text }]);
      await tfBoth([{ name: 'text', tensor: text }, { name: 'raw_bytes', tensor: text }]);
    }
  });

  it('20000 random BYTES elements, text and b64, byte-identical', async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const t: Tensor = { dtype: 'string', shape: [50, 100], data: randomStrings(seed, 5000) };
      await kserveBoth(response([['s', t]]));
      await tfBoth([{ name: 's', tensor: t }, { name: 's_bytes', tensor: t }]);
    }
  });

  it('BYTES elements that are consecutive views of one buffer (as the addon makes outputs) go as one span, same bytes', async () => {
    const separate = [...edgeStrings(), ...randomStrings(5, 4000)];
    const whole = Buffer.concat(separate);
    const views: Uint8Array[] = [];
    let at = 0;
    for (const s of separate) {
      views.push(new Uint8Array(whole.buffer, whole.byteOffset + at, s.byteLength));
      at += s.byteLength;
    }
    const t: Tensor = { dtype: 'string', shape: [views.length], data: views };
    const span = nativeAnswerTensor(t, { bytesAsB64: false });
    expect(span?.lengths?.length).toBe(views.length);
    expect(nativeAnswerTensor({ ...t, data: separate }, { bytesAsB64: false })?.lengths).toBeUndefined();
    await kserveBoth(response([['s', t]]));
    await tfBoth([{ name: 's', tensor: t }, { name: 's_bytes', tensor: t }]);
  });

  it('a packed string tensor (length-prefixed buffer and spans, as decoded requests and queued runs carry) goes as its spans, same bytes', async () => {
    const separate = [...edgeStrings(), ...randomStrings(6, 3000)];
    // At an offset of a larger buffer, as a request's data section is.
    const prefixed = Buffer.concat([Buffer.from('junk'), ...separate.flatMap((e) => {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(e.byteLength);
      return [length, e];
    }), Buffer.from('tail')]);
    const wire = prefixed.subarray(4, prefixed.length - 4);
    const t = bytesToTensor('string', [separate.length], wire, 'x', 'BYTES');
    const native = nativeAnswerTensor(t, { bytesAsB64: false });
    expect(native?.data).toBe(wire);
    expect(native?.spans?.length).toBe(2 * separate.length);
    expect(native?.lengths).toBeUndefined();
    await kserveBoth(response([['s', t]]));
    await tfBoth([{ name: 's', tensor: t }, { name: 's_bytes', tensor: t }]);
    // The JS writer above read the views; they hold the strings the buffer was made of.
    expect((t.data as Uint8Array[]).map((v) => Buffer.from(v).toString('hex'))).toEqual(separate.map((e) => Buffer.from(e).toString('hex')));
  });

  it('every numeric dtype with edge values, several outputs, multi-dim, in KServe and both TF forms', async () => {
    for (const [shape, seed] of [[[40], 1], [[5, 8], 2], [[2, 3, 4], 3], [[1, 1], 4]] as Array<[number[], number]>) {
      const outputs = numericTensors(shape, seed);
      await kserveBoth(response(outputs));
      await tfBoth(outputs.map(([name, tensor]) => ({ name, tensor })));
      for (const [name, tensor] of outputs) await tfBoth([{ name, tensor }]);
    }
  });

  it('empty tensors, zero dims, a scalar, no outputs', async () => {
    const empty: Tensor = { dtype: 'string', shape: [0], data: [] };
    const zeroDim: Tensor = { dtype: 'float32', shape: [3, 0], data: new Float32Array(0) };
    const scalar: Tensor = { dtype: 'int64', shape: [], data: BigInt64Array.from([-5n]) };
    await kserveBoth(response([['e', empty], ['z', zeroDim], ['s', scalar]]));
    await kserveBoth(response([]));
    await tfBoth([{ name: 'e', tensor: empty }]);
    await tfBoth([{ name: 'z', tensor: zeroDim }]);
    await tfBoth([{ name: 'e', tensor: empty }, { name: 'z', tensor: { dtype: 'bool', shape: [0, 2], data: new Uint8Array(0) } }]);
    await tfBoth([{ name: 's', tensor: scalar }], ['columnar']);
    await tfBoth([], ['columnar', 'row']);
  });

  it('the TF row form refuses outputs of different dim 0 before anything is written, as the JS writer does', () => {
    const outputs: PredictOutput[] = [
      { name: 'a', tensor: { dtype: 'float32', shape: [2], data: new Float32Array(2) } },
      { name: 'b', tensor: { dtype: 'float32', shape: [3], data: new Float32Array(3) } },
    ];
    let jsError = '';
    try {
      encodePredictResponse('row', outputs);
    } catch (err) {
      jsError = (err as Error).message;
    }
    expect(jsError).toMatch(/"predictions" rows need one dim 0/);
    expect(() => predictResponsePieces('row', outputs)).toThrow(jsError);
  });

  it('float16 and bfloat16 stay with the JS writer; only answers over the slice size go to the addon', () => {
    const half: Tensor = { dtype: 'float16', shape: [2], data: new Uint16Array(2) };
    expect(nativeAnswerTensor(half, { bytesAsB64: false })).toBeUndefined();
    expect(restInferPieces(response([['h', half]]), () => false)).toBeUndefined();
    expect(predictResponsePieces('columnar', [{ name: 'h', tensor: half }])).toBeUndefined();
    // Binary-data outputs keep the JS steps (their bytes are sliced there).
    const f: Tensor = { dtype: 'float32', shape: [2], data: new Float32Array(2) };
    expect(restInferPieces(response([['f', f]]), () => true)).toBeUndefined();
    // Weight: elements, plus one per 64 bytes of strings (json-slices.ts jsonWeight).
    expect(answersNatively([f], 2)).toBe(false);
    expect(answersNatively([f], 1)).toBe(true);
    const s: Tensor = { dtype: 'string', shape: [1], data: [new Uint8Array(640)] };
    expect(answersNatively([s], 11)).toBe(false);
    expect(answersNatively([s], 10)).toBe(true);
  });

  it('refuses malformed pieces synchronously with a TypeError naming the field; the promise rejects', async () => {
    const codec = nativeJsonCodec()!;
    const t = (over: object) => ({ data: new Float32Array(4), shape: [4], isBool: false, b64: false, ...over });
    const cases: Array<[unknown[], RegExp]> = [
      [[{ tensors: [t({ shape: [5] })], keys: [], rows: -1 }], /pieces\[0\]\.tensors\[0\]\.data length is not the product of shape/],
      [[{ tensors: [t({ shape: [-1] })], keys: [], rows: -1 }], /pieces\[0\]\.tensors\[0\]\.shape\[0\] must be a non-negative integer/],
      [[{ tensors: [t({})], keys: [], rows: 5 }], /fewer rows than rows/],
      [[{ tensors: [t({}), t({})], keys: [], rows: 4 }], /one tensor without keys/],
      [[{ tensors: [t({})], keys: ['"a"', '"b"'], rows: 4 }], /keys must name every tensor/],
      [[{ tensors: [t({ data: [new Uint8Array(1), 'x', 1, 2] })], keys: [], rows: -1 }], /tensors\[0\]\.data\[1\] must be a Uint8Array/],
      [[{ tensors: [t({ data: new Uint16Array(4), isBool: true })], keys: [], rows: -1 }], /bool tensor must be a Uint8Array/],
      [[7], /pieces\[0\] must be a string or an object/],
      [[{ tensors: [t({ data: new Uint8Array(3), lengths: Uint32Array.from([1, 1, 1, 1]) })], keys: [], rows: -1 }], /lengths add up to more than data holds/],
      [[{ tensors: [t({ data: new Uint8Array(9), lengths: Uint32Array.from([1, 1, 1]) })], keys: [], rows: -1 }], /lengths length is not the product of shape/],
      [[{ tensors: [t({ data: new Uint8Array(9), lengths: [1, 1, 1, 1] })], keys: [], rows: -1 }], /lengths must be a Uint32Array/],
      [[{ tensors: [t({ data: new Uint8Array(9), spans: Uint32Array.from([0, 1, 1, 1, 2, 1, 3, 7]) })], keys: [], rows: -1 }], /tensors\[0\]\.spans\[6\]: element 3 at offset 3, 7 bytes long, lies outside the data's 9 bytes/],
      [[{ tensors: [t({ data: new Uint8Array(9), spans: Uint32Array.from([0, 1, 1, 1, 2, 1, 10, 0]) })], keys: [], rows: -1 }], /spans\[6\]: element 3 at offset 10, 0 bytes long, lies outside/],
      [[{ tensors: [t({ data: new Uint8Array(9), spans: Uint32Array.from([0, 1, 1, 1]) })], keys: [], rows: -1 }], /spans length is not twice the product of shape/],
      [[{ tensors: [t({ data: new Uint8Array(9), spans: [0, 1, 1, 1, 2, 1, 3, 1] })], keys: [], rows: -1 }], /spans must be a Uint32Array/],
      [[{ tensors: [t({ data: new Float32Array(9), spans: Uint32Array.from([0, 1, 1, 1, 2, 1, 3, 1]) })], keys: [], rows: -1 }], /data must be a Uint8Array when spans is given/],
    ];
    for (const [pieces, message] of cases) {
      expect(() => codec.writeJsonAnswerAsync(pieces as never)).toThrow(message);
      await expect(writeAnswerNative(pieces as never)).rejects.toThrow(message);
    }
  });

  it('a view at an offset of a larger buffer writes its own bytes only', async () => {
    const backing = new Uint8Array(Buffer.from('XXhello"worldYY'));
    const t: Tensor = { dtype: 'string', shape: [2], data: [backing.subarray(2, 7), backing.subarray(7, 13)] };
    const out = await writeAnswerNative(['[', { tensors: [nativeAnswerTensor(t, { bytesAsB64: false })!], keys: [], rows: -1 }, ']']);
    expect(out.toString()).toBe('[["hello","\\"world"]]');
    const nums = new Float64Array([1.5, 2.5, 3.5, 4.5]).subarray(1, 3);
    const n = await writeAnswerNative([{ tensors: [{ data: nums, shape: [2], isBool: false, b64: false }], keys: [], rows: -1 }]);
    expect(n.toString()).toBe('[2.5,3.5]');
  });
});
