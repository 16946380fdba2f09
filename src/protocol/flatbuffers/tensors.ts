// Tensors in ortserve's FlatBuffers protocol: datatype names, reading tensor bytes as typed-array views over the
// message (no copy when aligned), and writing tensor bytes into a message in one bulk copy.

import * as flatbuffers from 'flatbuffers';
import { clientText, fail } from '../../errors.js';
import type { DType, StringData, Tensor } from '../../engine/tensor.js';
import type { RequestTally } from '../../engine/tensor-limits.js';
import { bytesToTensor, lengthPrefixedBytes, lengthPrefixedSteps, parseShape, tensorToBytesSteps } from '../tensor-bytes.js';
import { copySteps, runNow, type WorkSteps } from '../work-slices.js';
import { DataType } from './generated/ortserve/fb/data-type.js';
import { Tensor as FbTensor } from './generated/ortserve/fb/tensor.js';

const TO_DTYPE: Record<number, DType> = {
  [DataType.BOOL]: 'bool', [DataType.UINT8]: 'uint8', [DataType.UINT16]: 'uint16', [DataType.UINT32]: 'uint32',
  [DataType.UINT64]: 'uint64', [DataType.INT8]: 'int8', [DataType.INT16]: 'int16', [DataType.INT32]: 'int32',
  [DataType.INT64]: 'int64', [DataType.FP16]: 'float16', [DataType.FP32]: 'float32', [DataType.FP64]: 'float64',
  [DataType.BYTES]: 'string', [DataType.BF16]: 'bfloat16',
};
const FROM_DTYPE = Object.fromEntries(Object.entries(TO_DTYPE).map(([k, v]) => [v, Number(k)])) as Record<DType, DataType>;

/** Writers align tensor data to this many bytes so readers can view it as any typed array. */
export const DATA_ALIGNMENT = 16;
/** Most dims a tensor may have. */
export const MAX_RANK = 32;

/** Reads one tensor of a verified message. Numeric data is a view into the message when aligned (else one copy). */
export function readTensor(t: FbTensor, field: string, tally?: RequestTally): { name: string; tensor: Tensor } {
  const name = t.name();
  if (name === null || name === '') fail('ERR_INVALID_INPUT', `${field}.name is missing`);
  const dtype = TO_DTYPE[t.datatype()];
  if (dtype === undefined) fail('ERR_DTYPE', `${field} (${clientText(name)}): unknown datatype ${t.datatype()}`);
  const rank = t.shapeLength();
  if (rank > MAX_RANK) fail('ERR_SHAPE', `${field} (${clientText(name)}): rank ${rank} exceeds ${MAX_RANK}`);
  const dims = readDims(t, rank);
  const where = `${field} (${clientText(name)})`;
  const shape = parseShape(dims, `${where}.shape`);
  tally?.add(dtype, shape, `${where}.shape`);
  // Writers align data to 16 bytes, so bytesToTensor's aligned view is the rule and its copy the exception.
  return { name, tensor: bytesToTensor(dtype, shape, t.dataArray() ?? new Uint8Array(0), where, dtype) };
}

// vtable slot (4 + 2 × field id) of Tensor.shape, a [long] vector.
const SHAPE_SLOT = 8;

/**
 * The shape vector of a verified tensor: each dim as a number when its high word is 0 (every real dim), else as the
 * exact bigint the generated accessor gives (negative or huge, for parseShape to refuse by name). The generated
 * accessor makes several BigInts per dim.
 */
function readDims(t: FbTensor, rank: number): Array<number | bigint> {
  const dims = new Array<number | bigint>(rank);
  if (rank === 0) return dims;
  const bb = t.bb!;
  const start = bb.__vector(t.bb_pos + bb.__offset(t.bb_pos, SHAPE_SLOT));
  for (let i = 0; i < rank; i++) {
    const at = start + i * 8;
    dims[i] = bb.readUint32(at + 4) === 0 ? bb.readUint32(at) : bb.readInt64(at);
  }
  return dims;
}

// The builder grows downward from `space`; the pinned flatbuffers version keeps it a plain field.
type BuilderInternals = { space: number };

/** Writes `bytes` as a [ubyte] vector aligned to DATA_ALIGNMENT, in one bulk copy. */
export function writeByteVector(builder: flatbuffers.Builder, bytes: Uint8Array): flatbuffers.Offset {
  return runNow(byteVectorSteps(builder, bytes));
}

/**
 * writeByteVector in steps (src/protocol/work-slices.ts): the bytes are copied COPY_STEP_BYTES at a time. The builder
 * must not be used by anything else until the steps are done (a response built over several turns has its own).
 */
export function* byteVectorSteps(builder: flatbuffers.Builder, bytes: Uint8Array): WorkSteps<flatbuffers.Offset> {
  builder.startVector(1, bytes.length, DATA_ALIGNMENT);
  const internals = builder as unknown as BuilderInternals;
  internals.space -= bytes.length;
  yield* copySteps(builder.dataBuffer().bytes(), internals.space, bytes);
  return builder.endVector();
}

/**
 * Writes a shape as a [long] vector, each dim as two 32-bit words (dims are safe integers >= 0): the generated
 * createShapeVector takes BigInts and splits each with BigInt arithmetic.
 */
function writeShapeVector(builder: flatbuffers.Builder, shape: readonly number[]): flatbuffers.Offset {
  builder.startVector(8, shape.length, 8);
  const internals = builder as unknown as BuilderInternals;
  const bb = builder.dataBuffer();
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    internals.space -= 8;
    bb.writeUint32(internals.space, d % 0x1_0000_0000);
    bb.writeUint32(internals.space + 4, Math.floor(d / 0x1_0000_0000));
  }
  return builder.endVector();
}

/** UTF-8 of strings a server writes again and again (model and output names), so each is encoded once. */
const utf8Cache = new Map<string, Uint8Array>();
const UTF8_CACHE_ENTRIES = 1024;
const utf8 = new TextEncoder();

/** `text` as a FlatBuffers string; names the server repeats come from a small cache. */
export function createCachedString(builder: flatbuffers.Builder, text: string): flatbuffers.Offset {
  let bytes = utf8Cache.get(text);
  if (bytes === undefined) {
    bytes = utf8.encode(text);
    if (utf8Cache.size >= UTF8_CACHE_ENTRIES) utf8Cache.clear();   // names come from configs: a full cache is unusual
    utf8Cache.set(text, bytes);
  }
  return builder.createString(bytes);
}

/** Writes one Tensor table; its data is copied once, straight from `tensor`'s memory into the message. */
export function writeTensor(builder: flatbuffers.Builder, name: string, tensor: Tensor): flatbuffers.Offset {
  return runNow(tensorSteps(builder, name, tensor));
}

/**
 * Writes BYTES elements as one [ubyte] vector aligned to DATA_ALIGNMENT, each as a 4-byte little-endian length and
 * its bytes (tensorToBytes's layout), straight into the builder a step at a time: no intermediate buffer of the
 * whole tensor (for 16k × 3 KB strings: one 46 MB allocation and one pass over it fewer, on the event-loop thread).
 */
function* stringVectorSteps(builder: flatbuffers.Builder, tensor: Tensor): WorkSteps<flatbuffers.Offset> {
  // Strings packed in the wire form are copied whole; others (places in a gRPC message) element by element.
  const packed = tensor.packed?.lengthPrefixed === true ? tensor.packed.data : undefined;
  const items = packed === undefined ? tensor.data as StringData : undefined;
  const total = packed !== undefined ? packed.byteLength : lengthPrefixedBytes(items!);
  if (items !== undefined) yield items.length;
  builder.startVector(1, total, DATA_ALIGNMENT);
  const internals = builder as unknown as BuilderInternals;
  internals.space -= total;
  // After startVector, which may have grown (replaced) the builder's buffer. Packed strings are already in this
  // form: one copy of their buffer, a step at a time.
  const into = builder.dataBuffer().bytes();
  if (packed !== undefined) yield* copySteps(into, internals.space, packed);
  else yield* lengthPrefixedSteps(into, internals.space, items!);
  return builder.endVector();
}

/** writeTensor in steps (src/protocol/work-slices.ts): BYTES conversion and the data's copy a step at a time. */
export function* tensorSteps(builder: flatbuffers.Builder, name: string, tensor: Tensor): WorkSteps<flatbuffers.Offset> {
  const data = tensor.dtype === 'string'
    ? yield* stringVectorSteps(builder, tensor)
    : yield* byteVectorSteps(builder, yield* tensorToBytesSteps(tensor));
  const shape = writeShapeVector(builder, tensor.shape);
  const nameOffset = createCachedString(builder, name);
  FbTensor.startTensor(builder);
  FbTensor.addName(builder, nameOffset);
  FbTensor.addDatatype(builder, FROM_DTYPE[tensor.dtype]);
  FbTensor.addShape(builder, shape);
  FbTensor.addData(builder, data);
  return FbTensor.endTensor(builder);
}

