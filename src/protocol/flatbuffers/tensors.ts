// Tensors in ortserve's FlatBuffers protocol: datatype names, reading tensor bytes as typed-array views over the
// message (no copy when aligned), and writing tensor bytes into a message in one bulk copy.

import * as flatbuffers from 'flatbuffers';
import { fail } from '../../errors.js';
import { DTYPE_SIZE, TYPED_ARRAY_FOR, elementCount, type DType, type Tensor } from '../../engine/tensor.js';
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
export function readTensor(t: FbTensor, field: string): { name: string; tensor: Tensor } {
  const name = t.name();
  if (name === null || name === '') fail('ERR_INVALID_INPUT', `${field}.name is missing`);
  const dtype = TO_DTYPE[t.datatype()];
  if (dtype === undefined) fail('ERR_DTYPE', `${field} (${name}): unknown datatype ${t.datatype()}`);
  const rank = t.shapeLength();
  if (rank > MAX_RANK) fail('ERR_SHAPE', `${field} (${name}): rank ${rank} exceeds ${MAX_RANK}`);
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) {
    const dim = t.shape(i)!;
    if (dim < 0n || dim > BigInt(Number.MAX_SAFE_INTEGER)) fail('ERR_SHAPE', `${field} (${name}).shape[${i}] = ${dim} is out of range`);
    shape.push(Number(dim));
  }
  const bytes = t.dataArray() ?? new Uint8Array(0);
  const count = elementCount(shape);
  if (dtype === 'string') return { name, tensor: { dtype, shape, data: readBytesElements(bytes, count, `${field} (${name})`) } };
  const size = DTYPE_SIZE[dtype];
  if (bytes.length !== count * size) {
    fail('ERR_SHAPE', `${field} (${name}): shape [${shape.join(',')}] of ${dtype} needs ${count * size} bytes, data has ${bytes.length}`);
  }
  // A view needs the data aligned to the element size; writers align to 16, so a copy happens only for other writers.
  const aligned = (bytes.byteOffset % size) === 0 ? bytes : bytes.slice();
  const data = new TYPED_ARRAY_FOR[dtype](aligned.buffer, aligned.byteOffset, count);
  return { name, tensor: { dtype, shape, data } };
}

/** BYTES elements: each a 4-byte little-endian length and that many bytes; views into `bytes`, bounds-checked. */
function readBytesElements(bytes: Uint8Array, count: number, field: string): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > bytes.length) fail('ERR_SHAPE', `${field}: element ${i} of ${count} starts past the end of data (${bytes.length} bytes)`);
    const length = view.getUint32(pos, true);
    pos += 4;
    if (pos + length > bytes.length) fail('ERR_SHAPE', `${field}: element ${i} claims ${length} bytes, only ${bytes.length - pos} remain`);
    out.push(bytes.subarray(pos, pos + length));
    pos += length;
  }
  if (pos !== bytes.length) fail('ERR_SHAPE', `${field}: ${bytes.length - pos} bytes left after the ${count} elements the shape needs`);
  return out;
}

// The builder grows downward from `space`; the pinned flatbuffers version keeps it a plain field.
type BuilderInternals = { space: number };

/** Writes `bytes` as a [ubyte] vector aligned to DATA_ALIGNMENT, in one bulk copy. */
export function writeByteVector(builder: flatbuffers.Builder, bytes: Uint8Array): flatbuffers.Offset {
  builder.startVector(1, bytes.length, DATA_ALIGNMENT);
  const internals = builder as unknown as BuilderInternals;
  internals.space -= bytes.length;
  builder.dataBuffer().bytes().set(bytes, internals.space);
  return builder.endVector();
}

/** The raw bytes of a tensor as they go on the wire (a view for numeric data; BYTES framed with lengths). */
export function tensorBytes(tensor: Tensor): Uint8Array {
  if (tensor.dtype === 'string') {
    const elements = tensor.data as Uint8Array[];
    const total = elements.reduce((n, e) => n + 4 + e.length, 0);
    const out = new Uint8Array(total);
    const view = new DataView(out.buffer);
    let pos = 0;
    for (const e of elements) {
      view.setUint32(pos, e.length, true);
      out.set(e, pos + 4);
      pos += 4 + e.length;
    }
    return out;
  }
  const data = tensor.data as ArrayBufferView;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Writes one Tensor table; its data is copied once, straight from `tensor`'s memory into the message. */
export function writeTensor(builder: flatbuffers.Builder, name: string, tensor: Tensor): flatbuffers.Offset {
  const data = writeByteVector(builder, tensorBytes(tensor));
  const shape = FbTensor.createShapeVector(builder, tensor.shape.map((d) => BigInt(d)));
  const nameOffset = builder.createString(name);
  FbTensor.startTensor(builder);
  FbTensor.addName(builder, nameOffset);
  FbTensor.addDatatype(builder, FROM_DTYPE[tensor.dtype]);
  FbTensor.addShape(builder, shape);
  FbTensor.addData(builder, data);
  return FbTensor.endTensor(builder);
}

