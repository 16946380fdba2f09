// Client-side tensors: typed arrays (or strings) in, typed arrays out; dtype inferred where the array type is unambiguous.

import type { DType, Tensor } from '../engine/tensor.js';

export type TypedArray =
  | Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

/** An input: a typed array (1-D, dtype from its type), string[] (1-D), or an explicit tensor. */
export type ClientInput = TypedArray | string[] | { dtype: DType; shape: number[]; data: TypedArray | Array<string | Uint8Array> };

/** An output as the client returns it: numeric data as the matching typed array, strings as byte strings. */
export interface ClientTensor {
  dtype: DType;
  shape: number[];
  data: TypedArray | Uint8Array[];
}

const DTYPE_OF: Array<[new (...args: never[]) => TypedArray, DType]> = [
  [Float32Array, 'float32'], [Float64Array, 'float64'], [Int8Array, 'int8'], [Int16Array, 'int16'],
  [Int32Array, 'int32'], [BigInt64Array, 'int64'], [Uint8Array, 'uint8'], [Uint32Array, 'uint32'],
  [BigUint64Array, 'uint64'],
];

const utf8 = new TextEncoder();

function dtypeOf(data: TypedArray, name: string): DType {
  if (data instanceof Uint16Array) {
    throw new TypeError(`input '${name}': a Uint16Array may be uint16, float16 or bfloat16; pass {dtype, shape, data}`);
  }
  for (const [ctor, dtype] of DTYPE_OF) if (data instanceof ctor) return dtype;
  throw new TypeError(`input '${name}': unsupported array type`);
}

function toBytes(values: Array<string | Uint8Array>): Uint8Array[] {
  return values.map((v) => (typeof v === 'string' ? utf8.encode(v) : v));
}

export function toTensor(name: string, input: ClientInput): Tensor {
  if (Array.isArray(input)) return { dtype: 'string', shape: [input.length], data: toBytes(input) };
  if (ArrayBuffer.isView(input)) return { dtype: dtypeOf(input, name), shape: [input.length], data: input };
  const data = input.dtype === 'string' ? toBytes(input.data as Array<string | Uint8Array>) : (input.data as TypedArray);
  return { dtype: input.dtype, shape: input.shape, data };
}

export function toTensors(inputs: Record<string, ClientInput>): Map<string, Tensor> {
  return new Map(Object.entries(inputs).map(([name, input]) => [name, toTensor(name, input)]));
}

/** Decodes a string tensor's elements as UTF-8 text. */
export function asStrings(tensor: ClientTensor): string[] {
  const decoder = new TextDecoder();
  return (tensor.data as Uint8Array[]).map((b) => decoder.decode(b));
}
