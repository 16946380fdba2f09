// Tensor: the in-memory form every front end decodes into and encodes from (dtype, shape, data).

/** Element types, named as ONNX Runtime's CPU provider knows them. */
export const DTYPES = [
  'float32', 'float64', 'float16', 'bfloat16',
  'int8', 'int16', 'int32', 'int64',
  'uint8', 'uint16', 'uint32', 'uint64',
  'bool', 'string',
] as const;
export type DType = (typeof DTYPES)[number];
export type NumericDType = Exclude<DType, 'string'>;

/**
 * The typed array that holds each dtype. float16 and bfloat16 travel as their raw 16-bit patterns
 * (Uint16Array); bool is one byte per element (0 or 1); int64/uint64 are exact (BigInt arrays).
 */
export interface TypedArrayFor {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
}

export type NumericData = TypedArrayFor[NumericDType];
/** A string tensor is an array of byte strings (ONNX strings are bytes; UTF-8 by convention). */
export type StringData = Uint8Array[];

export interface Tensor {
  dtype: DType;
  /** Row-major dims; every dim is a non-negative integer. */
  shape: number[];
  data: NumericData | StringData;
  /**
   * Strings held as one buffer and each element's place in it (packedStringTensor): set by the decoder of a
   * length-prefixed buffer (bytesToTensor), by the gRPC decoders for string_val / bytes_contents (places in the
   * message) and for a queued run's outputs (outputToTensor). The addon reads these two typed arrays instead of one
   * object per element, and the binary encoders send `data` as it is when it is the BYTES wire form. Code that makes
   * a tensor of other strings makes a new object without it.
   */
  packed?: PackedStringSpans;
}

/**
 * String elements as places in one buffer: per element its (offset of the bytes, length) in `data`, 2 × elements
 * numbers. When `lengthPrefixed`, `data` holds each element as its 4-byte little-endian length then its bytes,
 * nothing else (the BYTES form of KServe binary data, raw_input_contents / raw_output_contents and FlatBuffers), so
 * it can be sent as it is; otherwise the elements lie among other bytes (a protobuf message's repeated bytes field,
 * each value after its field key and length), and only the spans say where.
 */
export interface PackedStringSpans {
  data: Uint8Array;
  spans: Uint32Array;
  lengthPrefixed: boolean;
}

/**
 * A string tensor over `packed`. Its `data`, a view per element, is made the first time something reads it, and
 * kept: the addon and the binary encoders read `packed` instead, so strings that only pass through the server
 * (16k of them in one request) make no JS object each, nor the garbage-collector work of keeping those alive.
 * `data` cannot be assigned (a TypeError): it must stay the bytes `packed` holds.
 */
export function packedStringTensor(shape: number[], packed: PackedStringSpans): Tensor {
  let views: StringData | undefined;
  return {
    dtype: 'string',
    shape,
    packed,
    get data(): StringData {
      return (views ??= packedViews(packed));
    },
  };
}

/** How many elements a tensor's data holds (for strings held packed, without making their views). */
export function elementsHeld(t: Tensor): number {
  return t.packed !== undefined ? t.packed.spans.length >>> 1 : t.data.length;
}

/** The bytes of all of `packed`'s elements, their lengths not counted. */
export function packedElementBytes(packed: PackedStringSpans): number {
  const { data, spans } = packed;
  if (packed.lengthPrefixed) return data.byteLength - 4 * (spans.length >>> 1);
  let n = 0;
  for (let i = 1; i < spans.length; i += 2) n += spans[i]!;
  return n;
}

/** A view per element of `packed`. */
function packedViews(packed: PackedStringSpans): StringData {
  const { data, spans } = packed;
  const count = spans.length >>> 1;
  const views = new Array<Uint8Array>(count);
  for (let i = 0; i < count; i++) views[i] = new Uint8Array(data.buffer, data.byteOffset + spans[2 * i]!, spans[2 * i + 1]!);
  return views;
}

/** Bytes per element for each numeric dtype. */
export const DTYPE_SIZE: Record<NumericDType, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2,
  int8: 1, int16: 2, int32: 4, int64: 8,
  uint8: 1, uint16: 2, uint32: 4, uint64: 8,
  bool: 1,
};

type TypedArrayCtor = {
  new (length: number): NumericData;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericData;
};

export const TYPED_ARRAY_FOR: Record<NumericDType, TypedArrayCtor> = {
  float32: Float32Array, float64: Float64Array, float16: Uint16Array, bfloat16: Uint16Array,
  int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array,
  uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array,
  bool: Uint8Array,
} as unknown as Record<NumericDType, TypedArrayCtor>;

export function isDType(value: string): value is DType {
  return (DTYPES as readonly string[]).includes(value);
}

/** Product of dims; 1 for a scalar (shape []). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A typed view of `dtype` over `bytes` without copying; the caller guarantees alignment and length. */
export function viewAs(dtype: NumericDType, bytes: ArrayBufferView): NumericData {
  const size = DTYPE_SIZE[dtype];
  return new TYPED_ARRAY_FOR[dtype](bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
}

/** Dims a message shows of a shape; a longer one shows the first SHAPE_DIMS_SHOWN_WHEN_LONG and counts the rest. */
const MAX_SHAPE_DIMS_SHOWN = 16;
const SHAPE_DIMS_SHOWN_WHEN_LONG = 8;

/**
 * A shape as error messages write it: `[2,5]` (wire dims may still be strings or bigints there). A client's shape can
 * have a million dims, so a long one is elided (`[1,1,1,1,1,1,1,1,…(999992 more)]`) and each dim is at most 24 characters.
 */
export function shapeText(shape: readonly (number | bigint | string)[]): string {
  const long = shape.length > MAX_SHAPE_DIMS_SHOWN;
  const shown = (long ? shape.slice(0, SHAPE_DIMS_SHOWN_WHEN_LONG) : shape).map((d) => {
    const text = String(d);
    return text.length > 24 ? `${text.slice(0, 24)}…` : text;
  });
  return `[${shown.join(',')}${long ? `,…(${shape.length - SHAPE_DIMS_SHOWN_WHEN_LONG} more)` : ''}]`;
}

/** Whether a request shape fits a model's declared one: the same rank, and every fixed (>= 0) dim equal. */
export function shapeFits(shape: readonly number[], modelShape: readonly number[]): boolean {
  return shape.length === modelShape.length && modelShape.every((d, i) => d < 0 || d === shape[i]);
}
