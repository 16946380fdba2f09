// A TensorProto from the wire decoder → Tensor: the common case directly, the rest through tensorProtoToTensor (one set
// of TensorFlow's rules and messages).

import type { RequestTally } from '../../engine/tensor-limits.js';
import { DTYPE_SIZE, elementCount, type DType, type Tensor } from '../../engine/tensor.js';
import { alignedView } from '../../protocol/tensor-bytes.js';
import type { TensorProtoWire } from '../../protocol/protobuf/tf-predict-wire.js';
import type { ByteSpans } from '../../protocol/protobuf/wire.js';
import { dtypeOfTfName } from '../../protocol/tfserving/tf-vocabulary.js';
import type { TensorProto__Output } from './generated/tensorflow/TensorProto.js';
import { tensorProtoToTensor, type DeferFill } from './tf-tensor-proto.js';

type TypedValField = 'float_val' | 'double_val' | 'int_val' | 'int64_val' | 'bool_val' | 'half_val' | 'uint32_val' | 'uint64_val' | 'scomplex_val' | 'dcomplex_val';
const TYPED_VAL_FIELDS: TypedValField[] = [
  'float_val', 'double_val', 'int_val', 'int64_val', 'bool_val', 'half_val', 'uint32_val', 'uint64_val', 'scomplex_val', 'dcomplex_val',
];

/** The dtypes whose typed field the wire decoder already gives as the tensor's own typed array (bool: bytes 0/1). */
const OWN_FIELD: Partial<Record<DType, TypedValField>> = {
  float32: 'float_val', float64: 'double_val', int32: 'int_val', int64: 'int64_val', uint32: 'uint32_val', uint64: 'uint64_val', bool: 'bool_val',
};

// Absent fields (all but one, usually) share these; tensorProtoToTensor only reads them.
const NO_NUMBERS: number[] = [];
const NO_STRINGS: string[] = [];
const NO_BOOLS: boolean[] = [];
const NO_BUFFERS: Buffer[] = [];

/** Typed values as the plain array the generic decoder gives (a loop: Array.from on a typed array is slow). */
function numbers(values: ArrayLike<number>): number[] {
  if (values.length === 0) return NO_NUMBERS;
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i]!;
  return out;
}

function decimals(values: BigInt64Array | BigUint64Array): string[] {
  if (values.length === 0) return NO_STRINGS;
  const out = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = String(values[i]);
  return out;
}

function booleans(values: Uint8Array): boolean[] {
  if (values.length === 0) return NO_BOOLS;
  const out = new Array<boolean>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] !== 0;
  return out;
}

/** The element count the dims declare when they are ordinary numbers, else undefined (tensorProtoToTensor will say why). */
function declaredCount(tp: TensorProtoWire): number | undefined {
  const shape = tp.tensor_shape;
  if (shape === null || shape.unknown_rank) return shape === null ? 1 : undefined;
  const dims: number[] = [];
  for (const d of shape.dim) {
    if (typeof d.size !== 'number' || d.size < 0) return undefined;
    dims.push(d.size);
  }
  return elementCount(dims);
}

/**
 * The TensorProto as the generic decoder gives it. A typed field that alone holds every value of the tensor in the
 * tensor's own element type is handed over as tensor_content instead — the same little-endian bytes — so the tensor
 * becomes a view of the array the wire decoder filled rather than a value-by-value conversion. Anything else (the
 * fill-from-one-value rule, narrower integers, half_val, values in another field, errors) takes the generic route.
 */
function asTensorProto(tp: TensorProtoWire): TensorProto__Output & { string_spans?: ByteSpans } {
  const shape = tp.tensor_shape === null ? null
    : { dim: tp.tensor_shape.dim.map((d) => ({ size: String(d.size), name: d.name })), unknown_rank: tp.tensor_shape.unknown_rank };
  const dtype = typeof tp.dtype === 'string' ? dtypeOfTfName(tp.dtype) : undefined;
  const own = dtype === undefined ? undefined : OWN_FIELD[dtype];
  const fast = own !== undefined && tp.tensor_content.length === 0 && tp.string_spans === undefined && tp[own].length > 0
    && tp[own].length === declaredCount(tp) && TYPED_VAL_FIELDS.every((f) => f === own || tp[f].length === 0);
  if (fast) {
    const values = tp[own];
    return {
      dtype: tp.dtype as TensorProto__Output['dtype'], tensor_shape: shape, version_number: tp.version_number, string_val: NO_BUFFERS,
      tensor_content: Buffer.from(values.buffer, values.byteOffset, values.byteLength),
      float_val: NO_NUMBERS, double_val: NO_NUMBERS, int_val: NO_NUMBERS, scomplex_val: NO_NUMBERS, int64_val: NO_STRINGS, bool_val: NO_BOOLS,
      dcomplex_val: NO_NUMBERS, half_val: NO_NUMBERS, uint32_val: NO_NUMBERS, uint64_val: NO_STRINGS,
    };
  }
  // (Fields written out: an object spread here costs microseconds.) string_val's views are made only if read: a
  // string tensor takes string_spans instead.
  return {
    dtype: tp.dtype as TensorProto__Output['dtype'], tensor_shape: shape, version_number: tp.version_number,
    get string_val(): Buffer[] {
      return tp.string_val;
    },
    string_spans: tp.string_spans,
    tensor_content: tp.tensor_content,
    float_val: numbers(tp.float_val), double_val: numbers(tp.double_val), int_val: numbers(tp.int_val),
    scomplex_val: numbers(tp.scomplex_val), int64_val: decimals(tp.int64_val), bool_val: booleans(tp.bool_val),
    dcomplex_val: numbers(tp.dcomplex_val), half_val: numbers(tp.half_val), uint32_val: numbers(tp.uint32_val),
    uint64_val: decimals(tp.uint64_val),
  };
}

/**
 * Decodes one TensorProto from the wire decoder; `field` (e.g. `inputs["x"]`) prefixes every error, as for the
 * generic path, and `tally` counts its expanded size against the request's limits before anything is allocated.
 * `defer`: large fills (one value for the whole shape) are handed to it as steps instead of written now.
 */
export function tensorProtoWireToTensor(tp: TensorProtoWire, field: string, maxBytes: number, tally?: RequestTally, defer?: DeferFill): Tensor {
  return tensorProtoToTensor(asTensorProto(tp), field, maxBytes, tally, defer);
}

/**
 * The tensor straight from the wire decoder's fields, counted in `tally`, in the common case: a numeric dtype other
 * than bool, every dim a plain non-negative number, within `maxBytes` and the tally's limits, and the values exactly
 * filling either tensor_content or the dtype's own typed field with every other value field empty. Undefined for
 * anything else, which tensorProtoWireToTensor then handles (and, for a bad tensor, refuses naming its field). Gives
 * the same tensor tensorProtoWireToTensor would, without building the field's name or the generic message.
 */
export function directTensor(tp: TensorProtoWire, maxBytes: number, tally: RequestTally): Tensor | undefined {
  if (typeof tp.dtype !== 'string') return undefined;
  const dtype = dtypeOfTfName(tp.dtype);
  if (dtype === undefined || dtype === 'string' || dtype === 'bool') return undefined;
  const tensorShape = tp.tensor_shape;
  if (tensorShape === null || tensorShape.unknown_rank) return undefined;
  const dims = tensorShape.dim;
  const shape = new Array<number>(dims.length);
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i]!.size;
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return undefined;
    shape[i] = d;
  }
  const count = elementCount(shape);
  const bytes = count * DTYPE_SIZE[dtype];
  if (bytes > maxBytes || !tally.fits(dtype, count)) return undefined;
  let data: Tensor['data'];
  if (tp.tensor_content.length > 0) {
    if (tp.tensor_content.length !== bytes) return undefined;
    data = alignedView(dtype, tp.tensor_content);
  } else {
    const own = OWN_FIELD[dtype];
    if (own === undefined || tp[own].length !== count || count === 0 || tp.string_spans !== undefined) return undefined;
    for (const f of TYPED_VAL_FIELDS) if (f !== own && tp[f].length > 0) return undefined;
    const values = tp[own];
    data = alignedView(dtype, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  tally.add(dtype, shape, '');   // fits: checked above, so the name it would put in a message is never read
  return { dtype, shape, data };
}
