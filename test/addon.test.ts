// Tests the C++ N-API addon over real ONNX Runtime: metadata, every dtype, batching, concurrency, zero-copy, finalizers, errors, providers, release and off-thread runs.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel, mlpWeights, multiIoModel } from '../scripts/make-example-models.mjs';
import { ADD_DTYPES, addModel, corruptModelBytes, failingModel, fixedBatchModel, identityModel, slowModel } from './support/models.mjs';
import { OrtServeError } from '../src/errors.js';
import { ModelSession, outputToTensor } from '../src/engine/model-session.js';
import {
  ADDON_PATH, nativeAddon,
  type NativeAddon, type NativeInput, type NativeOutput, type NativeSession,
} from '../src/engine/native-binding.js';
import type { DType, NumericData, StringData, Tensor } from '../src/engine/tensor.js';

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Writes model bytes into the suite's temp dir and returns the path. */
function writeModel(name: string, bytes: Uint8Array): string {
  const file = path.join(tmpDir, `${name}.onnx`);
  fs.writeFileSync(file, bytes);
  return file;
}

/**
 * The example MLP in plain JS float64 arithmetic, straight from the documented weights
 * (scores = relu(x·W1 + b1)·W2 + b2); deliberately not the helper the server tests share.
 */
function mlpForward(rows: readonly (readonly number[])[], version = 1): number[][] {
  const { W1, b1, W2, b2 } = mlpWeights(version) as { W1: number[][]; b1: number[]; W2: number[][]; b2: number[] };
  return rows.map((x) => {
    const hidden: number[] = [];
    for (let j = 0; j < b1.length; j++) {
      let sum = b1[j]!;
      for (let i = 0; i < x.length; i++) sum += x[i]! * W1[i]![j]!;
      hidden.push(sum > 0 ? sum : 0);
    }
    const scores: number[] = [];
    for (let k = 0; k < b2.length; k++) {
      let sum = b2[k]!;
      for (let j = 0; j < hidden.length; j++) sum += hidden[j]! * W2[j]![k]!;
      scores.push(sum);
    }
    return scores;
  });
}

/** Float32 agreement: |actual - expected| <= rel * max(1, |expected|) (absolute near zero, relative elsewhere). */
function expectClose(actual: ArrayLike<number>, expected: readonly number[], rel = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (Math.abs(a - e) > rel * Math.max(1, Math.abs(e))) {
      throw new Error(`element ${i}: got ${a}, expected ${e} (tolerance ${rel} relative)`);
    }
  }
}

/** A float32 input tensor [rows.length, rows[0].length]; values are rounded to float32 by the Float32Array. */
function f32Tensor(rows: readonly (readonly number[])[]): Tensor {
  return { dtype: 'float32', shape: [rows.length, rows[0]?.length ?? 0], data: Float32Array.from(rows.flat()) };
}

/** Rows as float32 would store them, so the float64 reference sees exactly what ORT sees. */
function asFloat32Rows(rows: readonly (readonly number[])[]): number[][] {
  return rows.map((r) => r.map((v) => Math.fround(v)));
}

/** The rejection of a promise (fails the test if it resolves). */
async function rejectionOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/** What a synchronous call throws (fails the test if it returns). */
function thrownBy(fn: () => unknown): Error & Record<string, unknown> {
  try {
    fn();
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  throw new Error('expected the call to throw, but it returned');
}

/** Decodes an IEEE 754 binary16 bit pattern with plain arithmetic (independent of the project's converters). */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Reinterprets float outputs as raw bits so NaN payloads, -0 and subnormals compare exactly. */
function bitsOf(data: NumericData): ArrayLike<number | bigint> {
  if (data instanceof Float32Array) return new Uint32Array(data.buffer, data.byteOffset, data.length);
  if (data instanceof Float64Array) return new BigUint64Array(data.buffer, data.byteOffset, data.length);
  return data;
}

/** Float32 rows of an mlp-shaped output, as numbers. */
function outputFloats(tensor: Tensor | undefined): Float32Array {
  expect(tensor?.dtype).toBe('float32');
  return tensor!.data as Float32Array;
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures: every model is built in memory and written to a fresh temp dir.
// ---------------------------------------------------------------------------------------------------------------

let tmpDir: string;
let addon: NativeAddon;
const paths: Record<string, string> = {};
let rawMlp: NativeSession;
let rawMultiIo: NativeSession;
let mlp: ModelSession;
let multiIo: ModelSession;
const toRelease: Array<{ release(): void }> = [];

// slowModel with more steps than the default so one run lasts long enough (hundreds of ms on one thread) that a
// 10 ms interval must tick several times while it is in flight; y = x^(steps+1) / n.
const SLOW = { n: 1024, steps: 24 };

beforeAll(async () => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-addon-test-'));
  addon = nativeAddon();
  paths.mlp = writeModel('mlp', mlpModel(1));
  paths.multiIo = writeModel('multi_io', multiIoModel());
  paths.slow = writeModel('slow', slowModel(SLOW));
  paths.failing = writeModel('failing', failingModel());
  paths.fixedBatch = writeModel('fixed_batch', fixedBatchModel());
  paths.corrupt = writeModel('corrupt', corruptModelBytes());
  rawMlp = await addon.loadSession(paths.mlp);
  rawMultiIo = await addon.loadSession(paths.multiIo);
  mlp = await ModelSession.load(paths.mlp);
  multiIo = await ModelSession.load(paths.multiIo);
  toRelease.push(rawMlp, rawMultiIo, mlp, multiIo);
});

afterAll(() => {
  for (const session of toRelease) session.release();
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
});

/** One known mlp run through the TS wrapper; called after every error to show the process still works. */
async function expectMlpStillWorks(): Promise<void> {
  const rows = [[1, 2, 3, 4], [-0.5, 0.25, 2, -3]];
  const out = await mlp.run(new Map([['x', f32Tensor(rows)]]));
  expect(out.get('scores')?.shape).toEqual([2, 3]);
  expectClose(outputFloats(out.get('scores')), mlpForward(rows).flat());
}

// ---------------------------------------------------------------------------------------------------------------
// 1. metadata
// ---------------------------------------------------------------------------------------------------------------

describe('addon', () => {
  it('reports model metadata: names, dtypes, shapes with -1 and symbolic dims, and cpu as the active provider', () => {
    const m = rawMlp.metadata();
    expect(m.inputs).toEqual([
      { name: 'x', kind: 'tensor', dtype: 'float32', onnxType: 1, shape: [-1, 4], symbolicDims: ['batch', ''] },
    ]);
    expect(m.outputs).toEqual([
      { name: 'scores', kind: 'tensor', dtype: 'float32', onnxType: 1, shape: [-1, 3], symbolicDims: ['batch', ''] },
    ]);
    expect(m.graphName).toBe('mlp');
    expect(m.providers.at(-1)).toEqual({ name: 'cpu', active: true, reason: '', options: {} });

    const io = rawMultiIo.metadata();
    const brief = (infos: typeof io.inputs) => infos.map(({ name, dtype, shape, symbolicDims }) => ({ name, dtype, shape, symbolicDims }));
    expect(brief(io.inputs)).toEqual([
      { name: 'a', dtype: 'float32', shape: [-1, 3], symbolicDims: ['batch', ''] },
      { name: 'b', dtype: 'int64', shape: [-1, 2], symbolicDims: ['batch', ''] },
      { name: 'text', dtype: 'string', shape: [-1], symbolicDims: ['batch'] },
    ]);
    expect(brief(io.outputs)).toEqual([
      { name: 'a_doubled', dtype: 'float32', shape: [-1, 3], symbolicDims: ['batch', ''] },
      { name: 'b_plus_one', dtype: 'int64', shape: [-1, 2], symbolicDims: ['batch', ''] },
      { name: 'text_echo', dtype: 'string', shape: [-1], symbolicDims: ['batch'] },
      { name: 'text_bytes', dtype: 'string', shape: [-1], symbolicDims: ['batch'] },
      { name: 'a_sum', dtype: 'float32', shape: [-1], symbolicDims: ['batch'] },
    ]);
    expect(io.providers.at(-1)).toEqual({ name: 'cpu', active: true, reason: '', options: {} });
  });

  // -------------------------------------------------------------------------------------------------------------
  // 2. every element type
  // -------------------------------------------------------------------------------------------------------------

  describe('runs every element type', () => {
    // Six elements per tensor (shape [3, 2]). Expected values are the literals; floats are given as bit patterns
    // (including NaN payloads, ±Inf, -0, subnormals) because Identity must move bytes, not values.
    const u32f = (bits: number[]) => new Float32Array(new Uint32Array(bits).buffer);
    const u64f = (bits: bigint[]) => new Float64Array(new BigUint64Array(bits).buffer);
    const f32Bits = [0x3f800000, 0x7fc00001, 0xff800000, 0x80000000, 0x00000001, 0x7f7fffff];
    const f64Bits = [0x3ff0000000000000n, 0x7ff8000000000001n, 0xfff0000000000000n, 0x8000000000000000n, 1n, 0x7fefffffffffffffn];
    const f16Bits = [0x3c00, 0x7e01, 0x7c00, 0xfc00, 0x8000, 0x0001];
    const bf16Bits = [0x3f80, 0x7fc1, 0x7f80, 0xff80, 0x8000, 0x0001];
    const numericCases: Array<[DType, NumericData, Array<number | bigint>]> = [
      ['float32', u32f(f32Bits), f32Bits],
      ['float64', u64f(f64Bits), f64Bits],
      ['float16', new Uint16Array(f16Bits), f16Bits],
      ['bfloat16', new Uint16Array(bf16Bits), bf16Bits],
      ['int8', new Int8Array([-128, 127, 0, -1, 1, 42]), [-128, 127, 0, -1, 1, 42]],
      ['int16', new Int16Array([-32768, 32767, 0, -1, 1, 4242]), [-32768, 32767, 0, -1, 1, 4242]],
      ['int32', new Int32Array([-2147483648, 2147483647, 0, -1, 1, 123456789]), [-2147483648, 2147483647, 0, -1, 1, 123456789]],
      ['int64', new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n]),
        [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n]],
      ['uint8', new Uint8Array([0, 255, 1, 128, 127, 42]), [0, 255, 1, 128, 127, 42]],
      ['uint16', new Uint16Array([0, 65535, 1, 32768, 32767, 42]), [0, 65535, 1, 32768, 32767, 42]],
      ['uint32', new Uint32Array([0, 4294967295, 1, 2147483648, 2147483647, 42]), [0, 4294967295, 1, 2147483648, 2147483647, 42]],
      ['uint64', new BigUint64Array([0n, 2n ** 64n - 1n, 1n, 2n ** 63n, 2n ** 53n + 1n, 42n]),
        [0n, 2n ** 64n - 1n, 1n, 2n ** 63n, 2n ** 53n + 1n, 42n]],
      ['bool', new Uint8Array([0, 1, 1, 0, 0, 1]), [0, 1, 1, 0, 0, 1]],
    ];

    // No try/catch and no skip: if a dtype (bfloat16 included) fails to load or run, this fails.
    it.each(numericCases)('identityModel(%s) round-trips exact bytes', async (dtype, input, expected) => {
      const session = await ModelSession.load(writeModel(`identity_${dtype}`, identityModel(dtype)));
      try {
        expect(session.signature.inputs[0]?.dtype).toBe(dtype);
        const out = (await session.run(new Map([['x', { dtype, shape: [3, 2], data: input }]]))).get('y');
        expect(out?.dtype).toBe(dtype);
        expect(out?.shape).toEqual([3, 2]);
        expect(Array.from(bitsOf(out!.data as NumericData))).toEqual(expected);
      } finally {
        session.release();
      }
    });

    it('identityModel(string) round-trips bytes: empty, embedded NUL, non-ASCII UTF-8', async () => {
      const strings = ['', 'a\0b', 'héllo wörld', '日本語', '😀 emoji', 'plain'];
      const session = await ModelSession.load(writeModel('identity_string', identityModel('string')));
      try {
        const data: StringData = strings.map((s) => utf8.encode(s));
        const out = (await session.run(new Map([['x', { dtype: 'string', shape: [3, 2], data }]]))).get('y');
        expect(out?.dtype).toBe('string');
        expect(out?.shape).toEqual([3, 2]);
        const got = out!.data as StringData;
        expect(got.map((b) => b.byteLength)).toEqual([0, 3, 13, 9, 10, 5]);   // UTF-8 byte counts, by hand
        expect(got.map((b) => fromUtf8.decode(b))).toEqual(strings);
      } finally {
        session.release();
      }
    });

    it('takes string inputs as one buffer with (offset, length) spans, and refuses spans that do not fit it by name', async () => {
      const raw = await addon.loadSession(writeModel('identity_string_spans', identityModel('string')));
      try {
        // "héllo", "", "a\0b", "xyz" with a byte of padding between elements, as a decoder's buffer may have.
        const data = Uint8Array.from([0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f, 0, 0x61, 0, 0x62, 0xee, 0x78, 0x79, 0x7a]);
        const spans = Uint32Array.from([0, 6, 6, 0, 7, 3, 11, 3]);
        const out = await raw.run([{ name: 'x', dtype: 'string', shape: [2, 2], data, spans }]);
        const views = outputToTensor(out[0]!).data as Uint8Array[];
        expect(views.map((b) => fromUtf8.decode(b))).toEqual(['héllo', '', 'a\0b', 'xyz']);
        const bad: Array<[string, Partial<NativeInput>, string]> = [
          ['spans too short', { spans: new Uint32Array(6) }, 'inputs[0].spans '],
          ['spans of another type', { spans: new Float64Array(8) as unknown as Uint32Array }, 'inputs[0].spans '],
          ['an element past the end', { spans: Uint32Array.from([0, 6, 6, 0, 7, 3, 11, 4]) }, 'inputs[0].spans[6]: element 3 at offset 11, 4 bytes long'],
          ['an offset past the end', { spans: Uint32Array.from([0, 6, 99, 0, 7, 3, 11, 3]) }, 'inputs[0].spans[2]: element 1 at offset 99'],
          ['data not one Uint8Array', { data: [data] }, 'inputs[0].data must be a Uint8Array when spans are given'],
        ];
        for (const [what, change, says] of bad) {
          const err = thrownBy(() => raw.run([{ name: 'x', dtype: 'string', shape: [2, 2], data, spans, ...change }]));
          expect(err, what).toBeInstanceOf(TypeError);
          expect(err.code, what).toBe('INVALID_ARGUMENT');
          expect(err.message.startsWith(says), `${what}: ${err.message}`).toBe(true);
        }
      } finally {
        raw.release();
      }
    });

    // x + x for every dtype ORT CPU has an Add kernel for. Inputs are chosen so that no result overflows (signed
    // overflow is undefined behaviour in C++, so wrap-around is not a contract to test); several land exactly on
    // the type's limit (int8 -64 → -128, uint32 2^31-1 → 2^32-2, float16 32752 → 65504 = max half, ...).
    const addCases: Array<[DType, NumericData]> = [
      ['float32', new Float32Array([1.5, -0.25, 1.5e38, -3, 0, 1e-45])],
      ['float64', new Float64Array([1.5, -0.25, 8e307, -3, 0, 5e-324])],
      ['float16', new Uint16Array([0x3c00, 0xbe00, 0x77ff, 0x0001, 0x0000, 0xfc00])],   // 1, -1.5, 32752, 2^-24, 0, -Inf
      ['int8', new Int8Array([-64, 63, 0, -1, 1, 42])],
      ['int16', new Int16Array([-16384, 16383, 0, -1, 1, 4242])],
      ['int32', new Int32Array([-(2 ** 30), 2 ** 30 - 1, 0, -1, 1, 123456789])],
      ['int64', new BigInt64Array([-(2n ** 62n), 2n ** 62n - 1n, 0n, -1n, 2n ** 53n + 1n, 42n])],
      ['uint8', new Uint8Array([0, 127, 1, 100, 64, 42])],
      ['uint16', new Uint16Array([0, 32767, 1, 10000, 16384, 42])],
      ['uint32', new Uint32Array([0, 2 ** 31 - 1, 1, 10 ** 9, 2 ** 30, 42])],
      ['uint64', new BigUint64Array([0n, 2n ** 63n - 1n, 1n, 2n ** 53n + 1n, 2n ** 62n, 42n])],
    ];

    it('covers every dtype the addModel fixture supports', () => {
      expect(addCases.map(([d]) => d).sort()).toEqual([...ADD_DTYPES].sort());
    });

    it.each(addCases)('addModel(%s) computes x + x', async (dtype, input) => {
      const session = await ModelSession.load(writeModel(`add_${dtype}`, addModel(dtype)));
      try {
        // Expected values come from the input literals with JS arithmetic, before the run touches anything.
        const inputs = Array.from(input as ArrayLike<number | bigint>);
        const out = (await session.run(new Map([['x', { dtype, shape: [3, 2], data: input }]]))).get('y');
        expect(out?.dtype).toBe(dtype);
        expect(out?.shape).toEqual([3, 2]);
        const got = Array.from(out!.data as ArrayLike<number | bigint>);
        if (dtype === 'float16') {
          expect(got.map((b) => halfToNumber(b as number))).toEqual(inputs.map((b) => 2 * halfToNumber(b as number)));
        } else if (typeof inputs[0] === 'bigint') {
          expect(got).toEqual(inputs.map((v) => 2n * (v as bigint)));
        } else {
          // Doubling is exact in binary floating point when it does not overflow, and exact for these integers.
          expect(got).toEqual(inputs.map((v) => 2 * (v as number)));
        }
      } finally {
        session.release();
      }
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  // 3. batch sizes
  // -------------------------------------------------------------------------------------------------------------

  it('runs the mlp at batch sizes 1 to 1000 and matches a plain-JS forward pass', async () => {
    for (const batch of [1, 2, 7, 64, 1000]) {
      // Non-dyadic inputs (sin) so float32 rounding is real and the tolerance is doing work.
      const rows = Array.from({ length: batch }, (_, r) => Array.from({ length: 4 }, (_, c) => 3 * Math.sin(r * 4 + c + batch)));
      const out = (await mlp.run(new Map([['x', f32Tensor(rows)]]))).get('scores');
      expect(out?.shape, `batch ${batch}`).toEqual([batch, 3]);
      expectClose(outputFloats(out), mlpForward(asFloat32Rows(rows)).flat());
    }
  });

  // -------------------------------------------------------------------------------------------------------------
  // 4. concurrency
  // -------------------------------------------------------------------------------------------------------------

  it('gives each of 100 concurrent runs its own answer', async () => {
    const inputs = Array.from({ length: 100 }, (_, i) => [[i, -i / 4, (i % 7) - 3, 0.5 + i / 100]]);
    const results = await Promise.all(inputs.map((rows) => mlp.run(new Map([['x', f32Tensor(rows)]]))));
    results.forEach((out, i) => {
      expect(out.get('scores')?.shape).toEqual([1, 3]);
      expectClose(outputFloats(out.get('scores')), mlpForward(asFloat32Rows(inputs[i]!)).flat());
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  // 5. zero-copy
  // -------------------------------------------------------------------------------------------------------------

  it('is zero-copy both ways: ORT reads the JS input memory and JS reads ORT output memory (past 4 KiB)', async () => {
    // 512 rows: a 6 KiB output, over the size up to which outputs are copied (cheaper than an external buffer).
    const rows = Array.from({ length: 512 }, (_, r) => [r % 7, -1, 0.5, r % 3]);
    const x = Float32Array.from(rows.flat());
    const out = await rawMlp.run([{ name: 'x', dtype: 'float32', shape: [512, 4], data: x }], undefined, { reportAddresses: true });
    expect(out.inputAddresses?.[0]).toBe(addon.addressOf(x));
    expect(out[0]?.address).toBe(addon.addressOf(out[0]!.data as ArrayBuffer));
    expect(out[0]?.address).not.toBe(addon.addressOf(x));
    expectClose(new Float32Array(out[0]!.data as ArrayBuffer), mlpForward(rows).flat());
    // A small output is a copy: JS gets its own ArrayBuffer, ORT's memory is freed at once.
    const small = await rawMlp.run([{ name: 'x', dtype: 'float32', shape: [2, 4], data: x.subarray(0, 8) }], undefined, { reportAddresses: true });
    expect(small[0]?.address).not.toBe(addon.addressOf(small[0]!.data as ArrayBuffer));
    expectClose(new Float32Array(small[0]!.data as ArrayBuffer), mlpForward(rows.slice(0, 2)).flat());

    // Several inputs, one of them a view at a non-zero byte offset: the pointer must include the offset.
    const backing = new Float32Array(16);
    const a = backing.subarray(4, 10);
    a.set([1.5, -2, 3, 0.25, 4, -8]);
    const b = BigInt64Array.from([2n ** 62n, -5n, 0n, 2n ** 53n + 1n]);
    const text = ['x', 'yz'].map((s) => utf8.encode(s));
    const outputs: NativeOutput[] & { inputAddresses?: bigint[] } = await rawMultiIo.run([
      { name: 'a', dtype: 'float32', shape: [2, 3], data: a },
      { name: 'b', dtype: 'int64', shape: [2, 2], data: b },
      { name: 'text', dtype: 'string', shape: [2], data: text },
    ], undefined, { reportAddresses: true });
    // One entry per input in model order; strings are copied into ORT (it owns std::strings), so theirs is 0.
    expect(outputs.inputAddresses).toEqual([addon.addressOf(a), addon.addressOf(b), 0n]);
    expect(addon.addressOf(a) - addon.addressOf(backing)).toBe(16n);
    const byName = new Map(outputs.map((o) => [o.name, o]));
    for (const o of outputs) {
      if (o.dtype === 'string') continue;
      expect(o.address, o.name).not.toBe(addon.addressOf(o.data as ArrayBuffer));   // a few bytes each: copies
    }
    expect(Array.from(new Float32Array(byName.get('a_doubled')!.data as ArrayBuffer))).toEqual([3, -4, 6, 0.5, 8, -16]);
    expect(Array.from(new BigInt64Array(byName.get('b_plus_one')!.data as ArrayBuffer))).toEqual([2n ** 62n + 1n, -4n, 1n, 2n ** 53n + 2n]);
    expect(Array.from(new Float32Array(byName.get('a_sum')!.data as ArrayBuffer))).toEqual([1.5 - 2 + 3, 0.25 + 4 - 8]);
    // A queued run's strings come packed: one ArrayBuffer holding each element as its 4-byte little-endian length
    // and its bytes (the BYTES wire form), and the lengths.
    const echo = byName.get('text_echo')!;
    expect(echo.lengths).toBeInstanceOf(Uint32Array);
    expect(Array.from(echo.lengths!)).toEqual([1, 2]);
    expect(Array.from(new Uint8Array(echo.data as ArrayBuffer))).toEqual([1, 0, 0, 0, 0x78, 2, 0, 0, 0, 0x79, 0x7a]);
    const echoed = outputToTensor(echo);
    expect(Array.from(echoed.packed!.spans)).toEqual([4, 1, 9, 2]);
    expect(echoed.data).toEqual([utf8.encode('x'), utf8.encode('yz')]);
  });

  // -------------------------------------------------------------------------------------------------------------
  // 6. finalizers
  // -------------------------------------------------------------------------------------------------------------

  it('frees ORT output buffers through ArrayBuffer finalizers (child process with --expose-gc)', async () => {
    // A separate `node --expose-gc` process so we can force GC without flags on the vitest worker, and so nothing in
    // this process (vitest, other tests) holds outputs. Finalizers run on later ticks, hence the awaits between gc().
    const child = path.join(tmpDir, 'gc-child.mjs');
    fs.writeFileSync(child, `
      import { createRequire } from 'node:module';
      import { setImmediate as nextTick } from 'node:timers/promises';
      const [addonPath, modelPath] = process.argv.slice(2);
      const addon = createRequire(import.meta.url)(addonPath);
      const RUNS = 2000, ROWS = 1024, HELD = 50;
      const session = await addon.loadSession(modelPath);
      const input = (i) => ({ name: 'x', dtype: 'float32', shape: [ROWS, 4], data: new Float32Array(ROWS * 4).fill(i % 5) });
      async function round() { for (let i = 0; i < RUNS; i++) await session.run([input(i)]); }   // results dropped
      async function settle() {
        for (let i = 0; i < 20; i++) {
          globalThis.gc();
          await nextTick();
          await new Promise((r) => setTimeout(r, 5));
          const live = addon.liveOutputBuffers();
          if (i >= 3 && live.owners === 0 && live.external === 0) break;
        }
      }
      const mb = () => Math.round(process.memoryUsage().rss / 2 ** 20 * 10) / 10;
      const report = { runsPerRound: RUNS, rows: ROWS, rssStartMb: mb() };
      // Hold some results to show the counters count what is alive.
      let held = [];
      for (let i = 0; i < HELD; i++) held.push(await session.run([input(i)]));
      await settle();
      report.liveWhileHeld = addon.liveOutputBuffers();
      held = null;
      await round();                                   // warm-up: ORT's arena and malloc reach steady state
      report.liveBeforeGc = addon.liveOutputBuffers();
      await settle();
      report.liveAfterWarmupGc = addon.liveOutputBuffers();
      report.rssAfterWarmupMb = mb();
      for (let r = 0; r < 3; r++) { await round(); await settle(); }
      report.liveAfterGc = addon.liveOutputBuffers();
      report.rssEndMb = mb();
      report.rssGrowthMb = Math.round((report.rssEndMb - report.rssAfterWarmupMb) * 10) / 10;
      session.release();
      console.log(JSON.stringify(report));
    `);
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', child, ADDON_PATH, paths.mlp!], {
      timeout: 120_000,
    });
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      liveWhileHeld: { owners: number; external: number };
      liveBeforeGc: { owners: number; external: number };
      liveAfterWarmupGc: { owners: number; external: number; uncountedBytes: number };
      liveAfterGc: { owners: number; external: number; uncountedBytes: number };
      rssGrowthMb: number;
    };
    console.log('finalizer test numbers:', JSON.stringify(report));
    // The 50 held results are all alive (one numeric output each).
    expect(report.liveWhileHeld.owners).toBeGreaterThanOrEqual(50);
    expect(report.liveWhileHeld.external).toBeGreaterThanOrEqual(50);
    // The child keeps no reference to any result once settle() runs, so the exact count is 0: anything left is a
    // buffer whose finalizer never ran or an owner that outlived its ArrayBuffer, i.e. a leak.
    expect(report.liveAfterWarmupGc).toMatchObject({ owners: 0, external: 0, uncountedBytes: 0 });
    expect(report.liveAfterGc).toMatchObject({ owners: 0, external: 0, uncountedBytes: 0 });
    // 3 × 2000 outputs of 12 KiB would leak ~70 MiB if ORT values were not released; allow 32 MiB of allocator noise.
    expect(report.rssGrowthMb).toBeLessThan(32);
  }, 120_000);

  // -------------------------------------------------------------------------------------------------------------
  // 7. errors keep the process working
  // -------------------------------------------------------------------------------------------------------------

  it('maps errors to stable codes naming the field, and keeps working after each', async () => {
    const x = (rows: number[][]) => new Map([['x', f32Tensor(rows)]]);

    // Wrong dtype, caught by ModelSession validation.
    let err = await rejectionOf(mlp.run(new Map([['x', { dtype: 'float64', shape: [1, 4], data: new Float64Array(4) }]])));
    expect(err).toBeInstanceOf(OrtServeError);
    expect(err.code).toBe('ERR_DTYPE');
    expect(err.message).toContain('inputs.x');
    await expectMlpStillWorks();

    // Wrong dtype through the raw binding: ORT itself refuses with ORT_INVALID_ARGUMENT (2).
    err = await rejectionOf(rawMlp.run([{ name: 'x', dtype: 'float64', shape: [1, 4], data: new Float64Array(4) }]));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.ortCode).toBe(2);
    expect(err.message).toMatch(/data type/i);
    const raw = await rawMlp.run([{ name: 'x', dtype: 'float32', shape: [1, 4], data: Float32Array.from([1, 2, 3, 4]) }]);
    expectClose(new Float32Array(raw[0]!.data as ArrayBuffer), mlpForward([[1, 2, 3, 4]]).flat());

    // Wrong rank.
    err = await rejectionOf(mlp.run(new Map([['x', { dtype: 'float32', shape: [4], data: new Float32Array(4) }]])));
    expect(err.code).toBe('ERR_SHAPE');
    expect(err.message).toContain('inputs.x');
    await expectMlpStillWorks();

    // Missing input: multi_io without `text`.
    err = await rejectionOf(multiIo.run(new Map<string, Tensor>([
      ['a', { dtype: 'float32', shape: [1, 3], data: new Float32Array(3) }],
      ['b', { dtype: 'int64', shape: [1, 2], data: new BigInt64Array(2) }],
    ])));
    expect(err.code).toBe('ERR_INVALID_INPUT');
    expect(err.message).toContain("'text'");
    const io = await multiIo.run(new Map<string, Tensor>([
      ['a', { dtype: 'float32', shape: [1, 3], data: Float32Array.from([1, 2, 3]) }],
      ['b', { dtype: 'int64', shape: [1, 2], data: BigInt64Array.from([-1n, 2n ** 63n - 2n]) }],
      ['text', { dtype: 'string', shape: [1], data: [utf8.encode('t')] }],
    ]), ['b_plus_one']);
    expect([...io.keys()]).toEqual(['b_plus_one']);
    expect(Array.from(io.get('b_plus_one')!.data as BigInt64Array)).toEqual([0n, 2n ** 63n - 1n]);

    // Unknown output.
    err = await rejectionOf(mlp.run(x([[1, 2, 3, 4]]), ['nope']));
    expect(err.code).toBe('ERR_UNKNOWN_OUTPUT');
    expect(err.message).toContain("'nope'");
    await expectMlpStillWorks();

    // Corrupt model file.
    err = await rejectionOf(ModelSession.load(paths.corrupt!));
    expect(err.code).toBe('ERR_MODEL_LOAD');
    expect(err.message).toContain(paths.corrupt!);
    await expectMlpStillWorks();
    const reloaded = await ModelSession.load(paths.mlp!);
    reloaded.release();

    // A run that ORT fails: Gather with an out-of-range index; ORT's message is kept.
    const failing = await ModelSession.load(paths.failing!);
    toRelease.push(failing);
    const idx = (values: bigint[]) => new Map<string, Tensor>([['idx', { dtype: 'int64', shape: [values.length], data: BigInt64Array.from(values) }]]);
    err = await rejectionOf(failing.run(idx([4n])));
    expect(err).toBeInstanceOf(OrtServeError);
    expect(err.code).toBe('ERR_INVALID_INPUT');   // ORT says INVALID_ARGUMENT: the client's index, not a server fault
    expect(err.message).toMatch(/out of data bounds/);
    expect(err.message).toMatch(/idx=4/);
    await expectMlpStillWorks();
    const table = [10, 20, 30, 40];
    const good = [0n, -1n, 3n, 2n, -4n];
    const gathered = (await failing.run(idx(good))).get('y');
    expect(Array.from(gathered!.data as Float32Array)).toEqual(good.map((i) => table[(Number(i) + 4) % 4]));

    // A fixed batch dim of 1, given 2.
    const fixed = await ModelSession.load(paths.fixedBatch!);
    toRelease.push(fixed);
    err = await rejectionOf(fixed.run(x([[1, 2, 3, 4], [5, 6, 7, 8]])));
    expect(err.code).toBe('ERR_SHAPE');
    expect(err.message).toContain('inputs.x');
    const one = (await fixed.run(x([[1, -2, 3.5, -4]]))).get('y');
    expect(Array.from(one!.data as Float32Array)).toEqual([1, -2, 3.5, -4]);
    await expectMlpStillWorks();
  });

  // -------------------------------------------------------------------------------------------------------------
  // 8. raw-binding argument checks
  // -------------------------------------------------------------------------------------------------------------

  it('throws TypeError INVALID_ARGUMENT naming the field for malformed raw arguments', async () => {
    const cases: Array<[string, () => unknown, string]> = [
      ['data byte length', () => rawMlp.run([{ name: 'x', dtype: 'float32', shape: [1, 4], data: new Float32Array(3) }]), 'inputs[0].data'],
      ['negative dim', () => rawMlp.run([{ name: 'x', dtype: 'float32', shape: [-1, 4], data: new Float32Array(4) }]), 'inputs[0].shape[0]'],
      ['unknown dtype', () => rawMlp.run([{ name: 'x', dtype: 'float33', shape: [1, 4], data: new Float32Array(4) }]), 'inputs[0].dtype'],
      ['non-array inputs', () => rawMlp.run({ x: new Float32Array(4) } as unknown as NativeInput[]), 'inputs'],
    ];
    for (const [what, call, field] of cases) {
      const err = thrownBy(call);   // synchronous: no promise is created for a malformed call
      expect(err, what).toBeInstanceOf(TypeError);
      expect(err.code, what).toBe('INVALID_ARGUMENT');
      expect(err.message.startsWith(`${field} `), `${what}: ${err.message}`).toBe(true);
    }
    const ok = await rawMlp.run([{ name: 'x', dtype: 'float32', shape: [1, 4], data: Float32Array.from([0, 0, 0, 0]) }]);
    expectClose(new Float32Array(ok[0]!.data as ArrayBuffer), mlpForward([[0, 0, 0, 0]]).flat());
  });

  // -------------------------------------------------------------------------------------------------------------
  // 9. GPU providers requested on a CPU-only library
  // -------------------------------------------------------------------------------------------------------------

  it('falls back to cpu when tensorrt and cuda are requested but unavailable, and says why', async () => {
    const session = await ModelSession.load(paths.mlp!, { executionProviders: [{ name: 'tensorrt' }, { name: 'cuda', deviceId: 0 }] });
    toRelease.push(session);
    const providers = session.metadata.providers;
    expect(providers.map((p) => [p.name, p.active])).toEqual([['tensorrt', false], ['cuda', false], ['cpu', true]]);
    expect(providers[0]!.reason).toMatch(/^TensorRT execution provider \(device 0\) could not be added, falling back: \S/);
    expect(providers[1]!.reason).toMatch(/^CUDA execution provider \(device 0\) could not be added, falling back: \S/);
    expect(providers[2]).toEqual({ name: 'cpu', active: true, reason: '', options: {} });
    const rows = [[0.5, -1, 2, 3]];
    const out = (await session.run(new Map([['x', f32Tensor(rows)]]))).get('scores');
    expectClose(outputFloats(out), mlpForward(rows).flat());
  });

  // -------------------------------------------------------------------------------------------------------------
  // 10. release
  // -------------------------------------------------------------------------------------------------------------

  it('release(): later calls throw, a run already in flight still resolves', async () => {
    const session = await addon.loadSession(paths.slow!, { intraOpThreads: 1 });
    const inFlight = session.run([{ name: 'x', dtype: 'float32', shape: [1, 1], data: Float32Array.from([2]) }]);
    session.release();
    const metaErr = thrownBy(() => session.metadata());
    expect(metaErr).toBeInstanceOf(TypeError);
    expect(metaErr.code).toBe('INVALID_ARGUMENT');
    expect(metaErr.message).toMatch(/released/);
    const runErr = thrownBy(() => session.run([{ name: 'x', dtype: 'float32', shape: [1, 1], data: Float32Array.from([1]) }]));
    expect(runErr.code).toBe('INVALID_ARGUMENT');
    const out = await inFlight;
    // y = x^(steps+1) / n, exact here: every intermediate is a power of two.
    expect(Array.from(new Float32Array(out[0]!.data as ArrayBuffer))).toEqual([2 ** (SLOW.steps + 1) / SLOW.n]);

    // The TS wrapper turns use-after-release into ERR_MODEL_UNAVAILABLE.
    const wrapped = await ModelSession.load(paths.mlp!);
    wrapped.release();
    const err = await rejectionOf(wrapped.run(new Map([['x', f32Tensor([[1, 2, 3, 4]])]])));
    expect(err.code).toBe('ERR_MODEL_UNAVAILABLE');
  });

  // -------------------------------------------------------------------------------------------------------------
  // 11. runs do not block the JS thread
  // -------------------------------------------------------------------------------------------------------------

  it('keeps the JS thread free while a slow model runs', async () => {
    const slow = await ModelSession.load(paths.slow!, { intraOpThreads: 1 });
    toRelease.push(slow);
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 10);
    try {
      const out = await slow.run(new Map<string, Tensor>([['x', { dtype: 'float32', shape: [1, 1], data: Float32Array.from([1]) }]]));
      expect(Array.from(out.get('y')!.data as Float32Array)).toEqual([1 / SLOW.n]);
    } finally {
      clearInterval(timer);
    }
    // If run() blocked the event loop, the interval could not fire at all before the promise settled.
    expect(ticks).toBeGreaterThanOrEqual(5);
  });

  // -------------------------------------------------------------------------------------------------------------
  // 12. runDirect: the lean inline entry point
  // -------------------------------------------------------------------------------------------------------------

  /** The TypedArray each dtype travels in, as the addon's contract states it (written out here, not imported). */
  const TYPED_ARRAYS: Partial<Record<DType, unknown>> = {
    float32: Float32Array, float64: Float64Array, float16: Uint16Array, int8: Int8Array, int16: Int16Array,
    int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array,
  };

  /** io for runDirect: bounds, then each input's rank and dims. */
  function directIo(shapes: number[][], bounds: [number, number] = [-1, -1]): Float64Array {
    const io = new Float64Array(2 + 65 * 8);
    io[0] = bounds[0];
    io[1] = bounds[1];
    let at = 2;
    for (const shape of shapes) {
      io[at++] = shape.length;
      for (const d of shape) io[at++] = d;
    }
    return io;
  }

  /** The dims runDirect wrote for each output, after the two timing slots. */
  function outputShapes(io: Float64Array, count: number): number[][] {
    const shapes: number[][] = [];
    let at = 2;
    for (let i = 0; i < count; i++) {
      const rank = io[at++]!;
      shapes.push(Array.from(io.subarray(at, at + rank)));
      at += rank;
    }
    return shapes;
  }

  it('runDirect answers as the mlp forward pass does, writing output dims and timings into io', () => {
    const rows = [[1, 2, 3, 4], [-0.5, 0.25, 2, -3], [0, 0, 0, 1]];
    const io = directIo([[3, 4]]);
    const out = rawMlp.runDirect([Float32Array.from(rows.flat())], io, undefined, false, true)!;
    expect(out).toHaveLength(1);
    expectClose(new Float32Array(out[0] as ArrayBuffer), mlpForward(rows).flat());
    expect(outputShapes(io, 1)).toEqual([[3, 3]]);
    expect(io[0]).toBeGreaterThanOrEqual(0);   // computeMicros
    expect(io[1]).toBeGreaterThanOrEqual(0);   // threadCpuMicros, asked for
    const unmeasured = directIo([[1, 4]]);
    rawMlp.runDirect([Float32Array.from(rows[0]!)], unmeasured, undefined, false, false);
    expect(unmeasured[1]).toBe(-1);
  });

  it('runDirect carries every numeric dtype through its own TypedArray, and copies an output that aliases its input', async () => {
    for (const dtype of ADD_DTYPES) {
      const session = await addon.loadSession(writeModel(`direct_add_${dtype}`, addModel(dtype)));
      toRelease.push(session);
      const values = dtype.endsWith('64') && dtype.startsWith('int') ? [1n, -2n, 3n, 2n ** 40n]
        : dtype === 'uint64' ? [1n, 2n, 3n, 2n ** 40n]
        : dtype === 'float16' ? [0x3c00, 0x4000, 0x4200, 0x4400]   // 1, 2, 3, 4
        : dtype.startsWith('uint') ? [1, 2, 3, 4] : [1, -2, 3, 4];
      const Ctor = TYPED_ARRAYS[dtype as DType] as unknown as new (v: unknown[]) => ArrayLike<number | bigint>;
      const input = new Ctor(values);
      const out = session.runDirect([input as unknown as ArrayBufferView], directIo([[2, 2]]), undefined, false, false)!;
      const result = Array.from(new (TYPED_ARRAYS[dtype as DType] as unknown as new (b: ArrayBuffer) => ArrayLike<number | bigint>)(out[0] as ArrayBuffer));
      const doubled = dtype === 'float16' ? [0x4000, 0x4400, 0x4600, 0x4800]   // 2, 4, 6, 8
        : values.map((v) => (typeof v === 'bigint' ? v * 2n : v * 2));
      expect(result, dtype).toEqual(doubled);
    }
    // Identity may hand back the input's own memory: what JS gets must be a copy that outlives the input's change.
    const identity = await addon.loadSession(writeModel('direct_identity', identityModel('float32')));
    toRelease.push(identity);
    const x = Float32Array.from([1, 2, 3, 4]);
    const out = identity.runDirect([x], directIo([[2, 2]]), undefined, false, false)!;
    x.fill(0);
    expect(Array.from(new Float32Array(out[0] as ArrayBuffer))).toEqual([1, 2, 3, 4]);
  });

  it('runDirect picks outputs by index in the order asked, and bounds them before converting', () => {
    // multi_io has a string input, so its lean path is not used by ModelSession; the mlp's single output is picked.
    const io = directIo([[1, 4]]);
    const picked = rawMlp.runDirect([Float32Array.from([1, 2, 3, 4])], io, Uint32Array.from([0, 0]), false, false)!;
    expect(picked).toHaveLength(2);
    expectClose(new Float32Array(picked[1] as ArrayBuffer), mlpForward([[1, 2, 3, 4]]).flat());
    expect(outputShapes(io, 2)).toEqual([[1, 3], [1, 3]]);
    const tooSmall = thrownBy(() => rawMlp.runDirect([Float32Array.from([1, 2, 3, 4])], directIo([[1, 4]], [-1, 8]), undefined, false, false));
    expect(tooSmall.code).toBe('RESOURCE_EXHAUSTED');
    expect(tooSmall.message).toContain('--max_response_bytes');
  });

  it('runDirect throws TypeError INVALID_ARGUMENT for malformed arguments and keeps working', async () => {
    const x = Float32Array.from([1, 2, 3, 4]);
    const cases: Array<[string, () => unknown, string]> = [
      ['wrong count', () => rawMlp.runDirect([x, x], directIo([[1, 4], [1, 4]]), undefined, false, false), 'datas has 2 entries'],
      ['wrong typed array', () => rawMlp.runDirect([Float64Array.from([1, 2, 3, 4])], directIo([[1, 4]]), undefined, false, false), 'datas[0] (input \'x\') must be'],
      ['byte length', () => rawMlp.runDirect([x], directIo([[2, 4]]), undefined, false, false), 'datas[0] (input \'x\') has 16 bytes'],
      ['fractional dim', () => rawMlp.runDirect([x], directIo([[1.5, 4]]), undefined, false, false), 'io: dim 0 of input'],
      ['rank out of io', () => rawMlp.runDirect([x], Float64Array.from([-1, -1, 2, 1]), undefined, false, false), 'io: the rank of input'],
      ['io not Float64Array', () => rawMlp.runDirect([x], new Float32Array(8) as unknown as Float64Array, undefined, false, false), 'io must be'],
      ['output index', () => rawMlp.runDirect([x], directIo([[1, 4]]), Uint32Array.from([1]), false, false), 'outputIndices[0]'],
      ['string input', () => rawMultiIo.runDirect([Float32Array.from([1, 2, 3]), BigInt64Array.from([1n, 2n]), x], directIo([[1, 3], [1, 2], [1]]), undefined, false, false), 'datas[2] (input \'text\')'],
    ];
    for (const [what, call, start] of cases) {
      const err = thrownBy(call);
      expect(err, what).toBeInstanceOf(TypeError);
      expect(err.code, what).toBe('INVALID_ARGUMENT');
      expect(err.message.startsWith(start), `${what}: ${err.message}`).toBe(true);
    }
    await expectMlpStillWorks();
  });
});
