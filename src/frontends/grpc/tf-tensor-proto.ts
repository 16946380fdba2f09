// tensorflow.TensorProto ⇄ Tensor: typed *_val fields (with TensorFlow's fill-from-one-value rule) and tensor_content.

import { clientText, fail } from '../../errors.js';
import { DTYPE_SIZE, elementCount, packedStringTensor, shapeText, type DType, type StringData, type Tensor } from '../../engine/tensor.js';
import type { ByteSpans } from '../../protocol/protobuf/wire.js';
import { COPY_STEP_BYTES, type WorkSteps } from '../../protocol/work-slices.js';
import type { RequestTally } from '../../engine/tensor-limits.js';
import { bytesToTensor, checkTensorFits, parseShape } from '../../protocol/tensor-bytes.js';
import { TF_DTYPE, dtypeOfTfName } from '../../protocol/tfserving/tf-vocabulary.js';
import type { TensorProto, TensorProto__Output } from './generated/tensorflow/TensorProto.js';

type ValField = 'float_val' | 'double_val' | 'int_val' | 'string_val' | 'int64_val' | 'bool_val' | 'half_val' | 'uint32_val' | 'uint64_val';

/** Where TensorFlow keeps each dtype's values (int_val also holds the 8- and 16-bit integers; half_val both halves). */
const VAL_FIELD: Record<DType, ValField> = {
  float32: 'float_val', float64: 'double_val', float16: 'half_val', bfloat16: 'half_val',
  int8: 'int_val', int16: 'int_val', int32: 'int_val', int64: 'int64_val',
  uint8: 'int_val', uint16: 'int_val', uint32: 'uint32_val', uint64: 'uint64_val',
  bool: 'bool_val', string: 'string_val',
};
const ALL_VAL_FIELDS: ValField[] = ['float_val', 'double_val', 'int_val', 'string_val', 'int64_val', 'bool_val', 'half_val', 'uint32_val', 'uint64_val'];
const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  int8: [-128, 127], int16: [-32768, 32767], uint8: [0, 255], uint16: [0, 65535], float16: [0, 65535], bfloat16: [0, 65535],
};

/**
 * Collects the fills of large tensors (TensorFlow's one-value rule) for the caller to run in slices: the tensor's
 * array is allocated at once (untouched memory, the kernel's zero pages), its values written by the steps.
 */
export type DeferFill = (steps: WorkSteps<void>) => void;

function convert(values: unknown[], dtype: DType, count: number, field: string, defer?: DeferFill): Tensor['data'] {
  const range = INT_RANGE[dtype];
  if (range !== undefined) {
    const bad = values.findIndex((v) => (v as number) < range[0] || (v as number) > range[1]);
    if (bad >= 0) fail('ERR_DTYPE', `${field}[${bad}]: ${String(values[bad])} is out of range for ${TF_DTYPE[dtype]}`);
  }
  // TensorFlow's rule: one value and a larger shape means that value everywhere. The count was tallied against the
  // request's limits already; a typed array is filled at memset speed, not element by element through a callback.
  if (values.length === 1 && count > 1) {
    if (defer === undefined || dtype === 'string' || count * DTYPE_SIZE[dtype] <= COPY_STEP_BYTES) return filled(values[0], dtype, count);
    const data = emptyOf(dtype, count);
    defer(fillSteps(data, fillValue(values[0], dtype)));
    return data;
  }
  const at = (i: number) => values[i];
  switch (dtype) {
    case 'bool': return Uint8Array.from({ length: count }, (_, i) => (at(i) ? 1 : 0));
    case 'int64': return BigInt64Array.from({ length: count }, (_, i) => BigInt(at(i) as string));
    case 'uint64': return BigUint64Array.from({ length: count }, (_, i) => BigInt(at(i) as string));
    case 'string': return Array.from({ length: count }, (_, i) => at(i) as Uint8Array) as StringData;
    case 'float32': return Float32Array.from({ length: count }, (_, i) => at(i) as number);
    case 'float64': return Float64Array.from({ length: count }, (_, i) => at(i) as number);
    case 'int8': return Int8Array.from({ length: count }, (_, i) => at(i) as number);
    case 'int16': return Int16Array.from({ length: count }, (_, i) => at(i) as number);
    case 'int32': return Int32Array.from({ length: count }, (_, i) => at(i) as number);
    case 'uint8': return Uint8Array.from({ length: count }, (_, i) => at(i) as number);
    case 'uint32': return Uint32Array.from({ length: count }, (_, i) => at(i) as number);
    default: return Uint16Array.from({ length: count }, (_, i) => at(i) as number); // uint16, float16, bfloat16 bits
  }
}

/** A new zeroed typed array of `count` elements of `dtype` (numeric). */
function emptyOf(dtype: DType, count: number): Exclude<Tensor['data'], StringData> {
  switch (dtype) {
    case 'bool': case 'uint8': return new Uint8Array(count);
    case 'int64': return new BigInt64Array(count);
    case 'uint64': return new BigUint64Array(count);
    case 'float32': return new Float32Array(count);
    case 'float64': return new Float64Array(count);
    case 'int8': return new Int8Array(count);
    case 'int16': return new Int16Array(count);
    case 'int32': return new Int32Array(count);
    case 'uint32': return new Uint32Array(count);
    default: return new Uint16Array(count); // uint16, float16, bfloat16 bits
  }
}

/** The element `filled` would write for `value`. */
function fillValue(value: unknown, dtype: DType): number | bigint {
  if (dtype === 'bool') return value ? 1 : 0;
  if (dtype === 'int64' || dtype === 'uint64') return BigInt(value as string);
  return value as number;
}

/** Writes `value` into every element of `data`, about COPY_STEP_BYTES per step (src/protocol/work-slices.ts). */
function* fillSteps(data: Exclude<Tensor['data'], StringData>, value: number | bigint): WorkSteps<void> {
  const perStep = Math.max(1, Math.floor(COPY_STEP_BYTES / data.BYTES_PER_ELEMENT));
  for (let from = 0; from < data.length; from += perStep) {
    (data as { fill(v: number | bigint, start: number, end: number): unknown }).fill(value, from, Math.min(data.length, from + perStep));
    yield COPY_STEP_BYTES;
  }
}

/** `count` copies of one value (TensorFlow's fill rule). */
function filled(value: unknown, dtype: DType, count: number): Tensor['data'] {
  switch (dtype) {
    case 'string': return new Array<Uint8Array>(count).fill(value as Uint8Array) as StringData;
    case 'bool': return new Uint8Array(count).fill(value ? 1 : 0);
    case 'int64': return new BigInt64Array(count).fill(BigInt(value as string));
    case 'uint64': return new BigUint64Array(count).fill(BigInt(value as string));
    default: return fillNumeric(value as number, dtype, count);
  }
}

function fillNumeric(value: number, dtype: DType, count: number): Tensor['data'] {
  switch (dtype) {
    case 'float32': return new Float32Array(count).fill(value);
    case 'float64': return new Float64Array(count).fill(value);
    case 'int8': return new Int8Array(count).fill(value);
    case 'int16': return new Int16Array(count).fill(value);
    case 'int32': return new Int32Array(count).fill(value);
    case 'uint8': return new Uint8Array(count).fill(value);
    case 'uint32': return new Uint32Array(count).fill(value);
    default: return new Uint16Array(count).fill(value); // uint16, float16, bfloat16 bits
  }
}

/**
 * Decodes one TensorProto; `field` (e.g. `inputs["x"]`) prefixes every error. The generated type says `dtype` is a
 * DataType name, but protobufjs gives an enum value the schema does not list as its number: hence String(tp.dtype).
 */
export function tensorProtoToTensor(tp: TensorProto__Output & { string_spans?: ByteSpans }, field: string, maxBytes: number, tally?: RequestTally, defer?: DeferFill): Tensor {
  const dtype = dtypeOfTfName(String(tp.dtype));
  if (dtype === undefined) {
    fail('ERR_DTYPE', `${field}.dtype: ${String(tp.dtype)} is not a dtype ortserve serves (one of ${Object.values(TF_DTYPE).join(', ')})`);
  }
  if (tp.tensor_shape?.unknown_rank) fail('ERR_SHAPE', `${field}.tensor_shape: unknown_rank is not allowed in a request tensor`);
  const shape = parseShape((tp.tensor_shape?.dim ?? []).map((d) => d.size), `${field}.tensor_shape.dim`);
  checkTensorFits(dtype, shape, `${field}.tensor_shape`, maxBytes, '--grpc_max_receive_message_bytes');
  tally?.add(dtype, shape, `${field}.tensor_shape`);
  const count = elementCount(shape);
  if (tp.tensor_content.length > 0) {
    if (dtype === 'string') fail('ERR_INVALID_INPUT', `${field}.tensor_content: DT_STRING values go in string_val`);
    return bytesToTensor(dtype, shape, tp.tensor_content, `${field}.tensor_content`, TF_DTYPE[dtype]);
  }
  const valField = VAL_FIELD[dtype];
  // The wire decoder's string_val as places in the message: taken as they are, no view made per value.
  const spans = valField === 'string_val' ? tp.string_spans : undefined;
  const valueCount = spans !== undefined ? spans.count : tp[valField].length;
  const stray = ALL_VAL_FIELDS.find((f) => f !== valField && tp[f].length > 0);
  if (stray !== undefined) fail('ERR_DTYPE', `${field}: ${TF_DTYPE[dtype]} values belong in ${valField} (or tensor_content), not ${stray}`);
  const fills = valueCount === count || (valueCount === 1 && count > 1);
  if (!fills) {
    fail('ERR_SHAPE', `${field}.${valField}: ${valueCount} values, but tensor_shape ${shapeText(shape)} needs ${count} (or exactly 1, which fills it)`);
  }
  if (spans !== undefined && valueCount === count) return packedStringTensor(shape, spans.packed());
  return { dtype, shape, data: convert(tp[valField], dtype, count, `${field}.${valField}`, defer) };
}

/** Encodes a tensor into its typed field, as TF Serving answers by default (clients read float_val etc. directly). */
export function tensorToTensorProto(t: Tensor): TensorProto {
  const valField = VAL_FIELD[t.dtype];
  let values: unknown[];
  if (t.dtype === 'string') values = t.data as StringData;
  else if (t.dtype === 'int64' || t.dtype === 'uint64') values = Array.from(t.data as BigInt64Array, (x) => x.toString());
  else if (t.dtype === 'bool') values = Array.from(t.data as Uint8Array, (x) => x !== 0);
  else values = Array.from(t.data as ArrayLike<number>);
  return { dtype: TF_DTYPE[t.dtype], tensor_shape: { dim: t.shape.map((size) => ({ size })) }, [valField]: values };
}

