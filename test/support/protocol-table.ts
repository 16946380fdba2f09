// The table of requests every protocol must answer identically, with answers computed here in plain JS.

import { mlpModel, multiIoModel } from '../../scripts/make-example-models.mjs';
import { addModel, identityModel } from './models.mjs';
import { mlpReference } from './reference.js';

/** A tensor value as tests write it: 64-bit integers as bigint, BYTES as strings, FP16/BF16 as the numbers they hold. */
export type Value = number | bigint | boolean | string;

export interface TensorCase {
  name: string;
  datatype: string;
  shape: number[];
  values: Value[];
}

export interface ProtocolCase {
  title: string;
  model: string;
  inputs: TensorCase[];
  /** Expected outputs, in the order the server must answer them. */
  outputs: TensorCase[];
  /** Requested outputs (in this order); undefined = all. */
  requested?: string[];
  /** Compare floats with a relative tolerance (results of real arithmetic). */
  approx?: boolean;
}

/** KServe datatype → the dtype name the ONNX test models use. */
export const DTYPE_OF: Record<string, string> = {
  BOOL: 'bool', UINT8: 'uint8', UINT16: 'uint16', UINT32: 'uint32', UINT64: 'uint64',
  INT8: 'int8', INT16: 'int16', INT32: 'int32', INT64: 'int64',
  FP16: 'float16', BF16: 'bfloat16', FP32: 'float32', FP64: 'float64', BYTES: 'string',
};

/** Six values per datatype, chosen at the edges of each range; FP16/BF16 values are exact in their format. */
const SAMPLES: Record<string, Value[]> = {
  BOOL: [true, false, false, true, true, false],
  UINT8: [0, 255, 1, 128, 7, 42],
  INT8: [-128, 127, 0, -1, 5, -7],
  UINT16: [0, 65535, 1, 300, 7, 42],
  INT16: [-32768, 32767, 0, -1, 300, -7],
  UINT32: [0, 4294967295, 1, 70000, 7, 42],
  INT32: [-2147483648, 2147483647, 0, -1, 70000, -7],
  UINT64: [0n, 18446744073709551615n, 9007199254740993n, 1n, 7n, 42n],
  INT64: [-9223372036854775808n, 9223372036854775807n, 9007199254740993n, -1n, 0n, -42n],
  FP16: [1, -2.25, 65504, 0.5, 0, 2 ** -14],
  BF16: [1, -3, 0.5, 256, 0, 1.5],
  FP32: [1.5, Math.fround(-0.1), Math.fround(3.4e38), 0, Math.fround(1e-7), Math.fround(123456.789)],
  FP64: [0.1, -1e300, 5e-324, 0, 1.7976931348623157e308, -2.5],
  BYTES: ['héllo', '', 'x', 'tab\there', '日本', 'quote"'],
};
export const DATATYPES = Object.keys(SAMPLES);

/** Values for the Add models: doubling them stays in range, so x + x is exact. */
const ADD_SAMPLES: Record<string, { x: Value[]; y: Value[] }> = {
  UINT8: { x: [0, 100, 1, 7], y: [0, 200, 2, 14] },
  INT8: { x: [-60, 60, 0, -1], y: [-120, 120, 0, -2] },
  UINT16: { x: [0, 30000, 1, 7], y: [0, 60000, 2, 14] },
  INT16: { x: [-16000, 16000, 0, -1], y: [-32000, 32000, 0, -2] },
  UINT32: { x: [0, 2000000000, 1, 7], y: [0, 4000000000, 2, 14] },
  INT32: { x: [-1000000000, 1000000000, 0, -1], y: [-2000000000, 2000000000, 0, -2] },
  UINT64: { x: [0n, 9223372036854775807n, 1n, 4503599627370497n], y: [0n, 18446744073709551614n, 2n, 9007199254740994n] },
  INT64: { x: [-4611686018427387904n, 4611686018427387903n, 4503599627370497n, -1n], y: [-9223372036854775808n, 9223372036854775806n, 9007199254740994n, -2n] },
  FP16: { x: [1, -2.25, 0.5, 0], y: [2, -4.5, 1, 0] },
  FP32: { x: [1.5, Math.fround(-0.1), Math.fround(1e-7), 2], y: [3, Math.fround(-0.2), Math.fround(2e-7), 4] },
  FP64: { x: [0.1, -1e300, 2.5, 3], y: [0.2, -2e300, 5, 6] },
};

export function modelName(kind: 'identity' | 'add', datatype: string): string {
  return `${kind}_${datatype.toLowerCase()}`;
}

/** Every model the table uses, for the test repository. */
export function tableRepository(): Record<string, Record<number, Uint8Array>> {
  const repo: Record<string, Record<number, Uint8Array>> = { mlp: { 1: mlpModel(1) }, multi_io: { 1: multiIoModel() } };
  for (const dt of DATATYPES) repo[modelName('identity', dt)] = { 1: identityModel(DTYPE_OF[dt] as any) };
  for (const dt of Object.keys(ADD_SAMPLES)) repo[modelName('add', dt)] = { 1: addModel(DTYPE_OF[dt] as any) };
  return repo;
}

function tensor(name: string, datatype: string, shape: number[], values: Value[]): TensorCase {
  return { name, datatype, shape, values };
}

function identityCases(): ProtocolCase[] {
  const cases: ProtocolCase[] = [];
  for (const dt of DATATYPES) {
    for (const batch of [1, 3]) {
      const x = tensor('x', dt, [batch, 2], SAMPLES[dt]!.slice(0, batch * 2));
      cases.push({ title: `identity ${dt} batch ${batch}`, model: modelName('identity', dt), inputs: [x], outputs: [{ ...x, name: 'y' }] });
    }
  }
  cases.push({ title: 'identity FP32 batch 0', model: 'identity_fp32', inputs: [tensor('x', 'FP32', [0, 2], [])], outputs: [tensor('y', 'FP32', [0, 2], [])] });
  return cases;
}

function addCases(): ProtocolCase[] {
  return Object.entries(ADD_SAMPLES).map(([dt, { x, y }]) => ({
    title: `add ${dt} batch 2`, model: modelName('add', dt), inputs: [tensor('x', dt, [2, 2], x)], outputs: [tensor('y', dt, [2, 2], y)],
  }));
}

function multiIoCases(): ProtocolCase[] {
  const a = [1, 2, 3, 0.5, -1, 0];
  const b = [9007199254740993n, -9223372036854775807n, 0n, 41n];
  const text = ['héllo', ''];
  const inputs = [tensor('a', 'FP32', [2, 3], a), tensor('b', 'INT64', [2, 2], b), tensor('text', 'BYTES', [2], text)];
  const all = [
    tensor('a_doubled', 'FP32', [2, 3], a.map((v) => 2 * v)),
    tensor('b_plus_one', 'INT64', [2, 2], b.map((v) => v + 1n)),
    tensor('text_echo', 'BYTES', [2], text),
    tensor('text_bytes', 'BYTES', [2], text),
    tensor('a_sum', 'FP32', [2], [6, -0.5]),
  ];
  return [
    { title: 'multi_io: three inputs, five outputs', model: 'multi_io', inputs, outputs: all },
    { title: 'multi_io: requested outputs, in the requested order', model: 'multi_io', inputs, requested: ['a_sum', 'text_echo'], outputs: [all[4]!, all[2]!] },
  ];
}

function mlpCase(): ProtocolCase {
  const rows = [[1, 2, 3, 4], [0, 0, 0, 0], [-1.5, 0.25, 2, -3]];
  return {
    title: 'mlp batch 3 (real arithmetic)', model: 'mlp', approx: true,
    inputs: [tensor('x', 'FP32', [3, 4], rows.flat())], outputs: [tensor('scores', 'FP32', [3, 3], mlpReference(rows, 1).flat())],
  };
}

export function protocolCases(): ProtocolCase[] {
  return [...identityCases(), ...addCases(), ...multiIoCases(), mlpCase()];
}

/** Half-precision bits → number, written out here so the tests do not lean on the server's converters. */
export function halfBitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Number → half-precision bits, for values exact in half precision (the table holds only such values). */
export function numberToHalfBits(v: number): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === 0) return sign;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24);
  const exp = Math.floor(Math.log2(a));
  return sign | ((exp + 15) << 10) | Math.round((a / 2 ** exp - 1) * 1024);
}

/** bfloat16 is the top half of a float32. */
export function bf16BitsToNumber(bits: number): number {
  return new Float32Array(new Uint32Array([bits << 16]).buffer)[0]!;
}

/** Rounds to nearest, ties to even (exact values keep their bits; shortest decimals printed for BF16 round back). */
export function numberToBf16Bits(v: number): number {
  const f32 = new Uint32Array(new Float32Array([v]).buffer)[0]!;
  return ((f32 + 0x7fff + ((f32 >>> 16) & 1)) >>> 16) & 0xffff;
}
