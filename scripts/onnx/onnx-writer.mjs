// Minimal dependency-free ONNX model writer: a tiny protobuf encoder plus a builder for ModelProto bytes.

/*
 * Field numbers and enum values below follow onnx/onnx.proto. Only the subset
 * needed to describe small test/example graphs is implemented: tensor-typed
 * graph inputs/outputs, initializers, nodes and their attributes.
 *
 * onnx.proto is a proto2 file, so its repeated numeric fields are not declared
 * [packed = true]. We still write them packed: every protobuf parser since 2.3
 * must accept either encoding, and packed is more compact.
 */

/** ONNX TensorProto.DataType numbers, keyed by the dtype names this project uses. */
export const ONNX_DTYPE = Object.freeze({
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
});

/** AttributeProto.AttributeType numbers for the attribute kinds we can write. */
export const ONNX_ATTR_TYPE = Object.freeze({
  float: 1,
  int: 2,
  string: 3,
  tensor: 4,
  graph: 5,
  floats: 6,
  ints: 7,
  strings: 8,
});

// Protobuf wire types.
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const TWO_POW_64 = 1n << 64n;
const textEncoder = new TextEncoder();

/**
 * Append-only protobuf message encoder. Fields are written in call order, which
 * keeps output deterministic for a given builder input.
 */
export class ProtoWriter {
  /** @type {Uint8Array[]} */
  #parts = [];
  #size = 0;

  /** @param {Uint8Array} bytes */
  #push(bytes) {
    this.#parts.push(bytes);
    this.#size += bytes.length;
  }

  /**
   * Encodes an unsigned or two's-complement varint. Negative values become the
   * 10-byte 64-bit form, which is what protobuf uses for negative int32/int64.
   * @param {number | bigint} value
   * @returns {Uint8Array}
   */
  static varint(value) {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      throw new RangeError(`varint needs an integer (pass a bigint beyond 2^53): ${value}`);
    }
    let v = typeof value === 'bigint' ? value : BigInt(value);
    if (v < 0n) v += TWO_POW_64;
    if (v < 0n || v >= TWO_POW_64) throw new RangeError(`varint out of 64-bit range: ${value}`);
    /** @type {number[]} */
    const out = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return Uint8Array.from(out);
  }

  /** @param {number} field @param {number} wire */
  #tag(field, wire) {
    this.#push(ProtoWriter.varint((field << 3) | wire));
  }

  /** int32 / int64 / uint64 / enum / bool field. @param {number} field @param {number | bigint | boolean} value */
  varintField(field, value) {
    this.#tag(field, WIRE_VARINT);
    this.#push(ProtoWriter.varint(typeof value === 'boolean' ? Number(value) : value));
    return this;
  }

  /** IEEE float field (wire type fixed32). @param {number} field @param {number} value */
  floatField(field, value) {
    this.#tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.#push(b);
    return this;
  }

  /** IEEE double field (wire type fixed64). @param {number} field @param {number} value */
  doubleField(field, value) {
    this.#tag(field, WIRE_FIXED64);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    this.#push(b);
    return this;
  }

  /** bytes field. @param {number} field @param {Uint8Array} bytes */
  bytesField(field, bytes) {
    this.#tag(field, WIRE_LEN);
    this.#push(ProtoWriter.varint(bytes.length));
    this.#push(bytes);
    return this;
  }

  /** UTF-8 string field. @param {number} field @param {string} text */
  stringField(field, text) {
    return this.bytesField(field, textEncoder.encode(text));
  }

  /** Embedded message field. @param {number} field @param {ProtoWriter} message */
  messageField(field, message) {
    return this.bytesField(field, message.finish());
  }

  /** Packed repeated varints (int64 / int32). @param {number} field @param {Iterable<number | bigint>} values */
  packedVarints(field, values) {
    const body = new ProtoWriter();
    for (const v of values) body.#push(ProtoWriter.varint(v));
    return this.bytesField(field, body.finish());
  }

  /** Packed repeated floats. @param {number} field @param {ArrayLike<number>} values */
  packedFloats(field, values) {
    return this.bytesField(field, leBytes('float32', Float32Array.from(values)));
  }

  /** Packed repeated doubles. @param {number} field @param {ArrayLike<number>} values */
  packedDoubles(field, values) {
    return this.bytesField(field, leBytes('float64', Float64Array.from(values)));
  }

  /** @returns {Uint8Array} the encoded message */
  finish() {
    const out = new Uint8Array(this.#size);
    let offset = 0;
    for (const p of this.#parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// Tensor data helpers
// ---------------------------------------------------------------------------

/**
 * @typedef {'float32'|'float64'|'float16'|'bfloat16'|'int8'|'int16'|'int32'|'int64'|
 *   'uint8'|'uint16'|'uint32'|'uint64'|'bool'|'string'} DType
 */

/**
 * Typed-array constructor and DataView setter for each fixed-width dtype.
 * float16/bfloat16 are carried as raw 16-bit patterns in a Uint16Array (Node 20
 * has no Float16Array); use float32ToFloat16Bits / float32ToBfloat16Bits.
 * bool is one byte per element (0 or 1), as ONNX stores it.
 * @type {Record<Exclude<DType, 'string'>, {Array: any, size: number, set: (dv: DataView, off: number, v: any) => void}>}
 */
const FIXED = {
  float32: { Array: Float32Array, size: 4, set: (dv, o, v) => dv.setFloat32(o, v, true) },
  float64: { Array: Float64Array, size: 8, set: (dv, o, v) => dv.setFloat64(o, v, true) },
  float16: { Array: Uint16Array, size: 2, set: (dv, o, v) => dv.setUint16(o, v, true) },
  bfloat16: { Array: Uint16Array, size: 2, set: (dv, o, v) => dv.setUint16(o, v, true) },
  int8: { Array: Int8Array, size: 1, set: (dv, o, v) => dv.setInt8(o, v) },
  int16: { Array: Int16Array, size: 2, set: (dv, o, v) => dv.setInt16(o, v, true) },
  int32: { Array: Int32Array, size: 4, set: (dv, o, v) => dv.setInt32(o, v, true) },
  int64: { Array: BigInt64Array, size: 8, set: (dv, o, v) => dv.setBigInt64(o, v, true) },
  uint8: { Array: Uint8Array, size: 1, set: (dv, o, v) => dv.setUint8(o, v) },
  uint16: { Array: Uint16Array, size: 2, set: (dv, o, v) => dv.setUint16(o, v, true) },
  uint32: { Array: Uint32Array, size: 4, set: (dv, o, v) => dv.setUint32(o, v, true) },
  uint64: { Array: BigUint64Array, size: 8, set: (dv, o, v) => dv.setBigUint64(o, v, true) },
  bool: { Array: Uint8Array, size: 1, set: (dv, o, v) => dv.setUint8(o, v ? 1 : 0) },
};

/**
 * Serialises tensor elements little-endian regardless of host byte order, so the
 * same input always yields the same bytes (ONNX raw_data is little-endian).
 * @param {Exclude<DType, 'string'>} dtype
 * @param {ArrayLike<any>} values
 */
function leBytes(dtype, values) {
  const spec = FIXED[dtype];
  const out = new Uint8Array(values.length * spec.size);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) spec.set(dv, i * spec.size, values[i]);
  return out;
}

/**
 * Converts plain JS numbers/bigints/booleans into the typed array the dtype
 * uses, so callers may pass either a TypedArray or a plain array.
 * @param {Exclude<DType, 'string'>} dtype
 * @param {ArrayLike<any>} data
 */
function toTypedArray(dtype, data) {
  const spec = FIXED[dtype];
  if (data instanceof spec.Array) return data;
  if (dtype === 'int64' || dtype === 'uint64') return spec.Array.from(data, (/** @type {any} */ v) => BigInt(v));
  if (dtype === 'bool') return Uint8Array.from(data, (v) => (v ? 1 : 0));
  return spec.Array.from(data);
}

/**
 * float32 → IEEE half-precision bit pattern (round to nearest even).
 * @param {number} value
 */
export function float32ToFloat16Bits(value) {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    // Subnormal half (or zero): shift the implicit-1 mantissa into place.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++; // may carry into exponent: still correct
  return sign | half;
}

/**
 * IEEE half-precision bit pattern → number.
 * @param {number} bits
 */
export function float16BitsToNumber(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * float32 → bfloat16 bit pattern (upper 16 bits, round to nearest even).
 * @param {number} value
 */
export function float32ToBfloat16Bits(value) {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0] ?? 0;
  if (Number.isNaN(value)) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * bfloat16 bit pattern → number.
 * @param {number} bits
 */
export function bfloat16BitsToNumber(bits) {
  return new Float32Array(new Uint32Array([bits << 16]).buffer)[0] ?? NaN;
}

// ---------------------------------------------------------------------------
// ONNX message encoders
// ---------------------------------------------------------------------------

/**
 * @typedef {number | string | null} Dim  number: fixed size; string: symbolic dim_param; null: unknown
 * @typedef {{ name: string, dtype: DType, shape?: Dim[] | null, docString?: string }} ValueInfo
 *   shape omitted/null means unknown rank.
 * @typedef {{ name?: string, dtype: DType, dims: number[], data: ArrayLike<any> | string[] }} TensorSpec
 *   data: TypedArray or plain array (written as raw_data), or string[] for dtype 'string'.
 * @typedef {number | bigint | string | number[] | string[] | TensorSpec | { type: keyof typeof ONNX_ATTR_TYPE, value: any }} AttrValue
 * @typedef {{ op: string, inputs: string[], outputs: string[], name?: string, domain?: string,
 *   attrs?: Record<string, AttrValue> }} NodeSpec
 * @typedef {{ name: string, inputs: ValueInfo[], outputs: ValueInfo[], initializers?: TensorSpec[],
 *   nodes: NodeSpec[], docString?: string }} GraphSpec
 * @typedef {{ graph: GraphSpec, opset?: number, irVersion?: number, producer?: string,
 *   producerVersion?: string, docString?: string }} ModelSpec
 */

/** @param {string} dtype */
function dtypeNumber(dtype) {
  const n = /** @type {Record<string, number>} */ (ONNX_DTYPE)[dtype];
  if (n === undefined) throw new Error(`unknown dtype '${dtype}' (known: ${Object.keys(ONNX_DTYPE).join(', ')})`);
  return n;
}

/** @param {number[]} dims */
function elementCount(dims) {
  return dims.reduce((a, b) => a * b, 1);
}

/**
 * TensorProto: dims=1, data_type=2, string_data=6, name=8, raw_data=9.
 * @param {TensorSpec} t
 */
export function encodeTensor(t) {
  const w = new ProtoWriter();
  const count = elementCount(t.dims);
  if (t.data.length !== count) {
    throw new Error(`tensor '${t.name ?? ''}': dims [${t.dims}] need ${count} elements, got ${t.data.length}`);
  }
  if (t.dims.length) w.packedVarints(1, t.dims);
  w.varintField(2, dtypeNumber(t.dtype));
  if (t.name !== undefined) w.stringField(8, t.name);
  if (t.dtype === 'string') {
    // Strings cannot go in raw_data; each element is its own bytes entry.
    for (const s of /** @type {any[]} */ (t.data)) {
      w.bytesField(6, typeof s === 'string' ? textEncoder.encode(s) : s);
    }
  } else {
    w.bytesField(9, leBytes(t.dtype, toTypedArray(t.dtype, t.data)));
  }
  return w;
}

/**
 * ValueInfoProto{name=1, type=2} → TypeProto{tensor_type=1} →
 * TypeProto.Tensor{elem_type=1, shape=2} → TensorShapeProto{dim=1} →
 * Dimension{dim_value=1 | dim_param=2}.
 * @param {ValueInfo} v
 */
function encodeValueInfo(v) {
  const tensorType = new ProtoWriter().varintField(1, dtypeNumber(v.dtype));
  if (v.shape) {
    const shape = new ProtoWriter();
    for (const d of v.shape) {
      const dim = new ProtoWriter();
      if (typeof d === 'number') dim.varintField(1, d);
      else if (typeof d === 'string') dim.stringField(2, d);
      else if (d !== null) throw new Error(`value '${v.name}': bad dim ${String(d)}`);
      shape.messageField(1, dim);
    }
    tensorType.messageField(2, shape);
  }
  const w = new ProtoWriter().stringField(1, v.name).messageField(2, new ProtoWriter().messageField(1, tensorType));
  if (v.docString) w.stringField(3, v.docString);
  return w;
}

/**
 * Picks the attribute type for a bare JS value. Integers become INT, other
 * numbers FLOAT; use { type: 'float', value: 1 } when a whole-number float is meant.
 * @param {string} name
 * @param {AttrValue} value
 * @returns {{ type: keyof typeof ONNX_ATTR_TYPE, value: any }}
 */
function inferAttr(name, value) {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'type' in value && 'value' in value) {
    return value;
  }
  if (typeof value === 'bigint') return { type: 'int', value };
  if (typeof value === 'number') return { type: Number.isInteger(value) ? 'int' : 'float', value };
  if (typeof value === 'string' || value instanceof Uint8Array) return { type: 'string', value };
  if (Array.isArray(value)) {
    if (value.length === 0) throw new Error(`attribute '${name}': empty list is ambiguous, pass { type, value }`);
    if (value.every((x) => typeof x === 'string')) return { type: 'strings', value };
    if (value.every((x) => typeof x === 'bigint' || Number.isInteger(x))) return { type: 'ints', value };
    if (value.every((x) => typeof x === 'number')) return { type: 'floats', value };
  }
  if (value && typeof value === 'object' && 'dtype' in value && 'dims' in value) return { type: 'tensor', value };
  throw new Error(`attribute '${name}': cannot infer type of ${String(value)}`);
}

/**
 * AttributeProto: name=1, f=2, i=3, s=4, t=5, g=6, floats=7, ints=8, strings=9, type=20.
 * @param {string} name
 * @param {AttrValue} raw
 */
function encodeAttribute(name, raw) {
  const { type, value } = inferAttr(name, raw);
  const typeNumber = ONNX_ATTR_TYPE[type];
  if (typeNumber === undefined) throw new Error(`attribute '${name}': unsupported type '${type}'`);
  const w = new ProtoWriter().stringField(1, name);
  switch (type) {
    case 'float': w.floatField(2, value); break;
    case 'int': w.varintField(3, value); break;
    case 'string': w.bytesField(4, typeof value === 'string' ? textEncoder.encode(value) : value); break;
    case 'tensor': w.messageField(5, encodeTensor(value)); break;
    case 'graph': w.messageField(6, encodeGraph(value)); break;
    case 'floats': w.packedFloats(7, value); break;
    case 'ints': w.packedVarints(8, value); break;
    case 'strings': for (const s of value) w.stringField(9, s); break;
  }
  w.varintField(20, typeNumber);
  return w;
}

/**
 * NodeProto: input=1, output=2, name=3, op_type=4, attribute=5, domain=7.
 * @param {NodeSpec} n
 * @param {string} defaultName
 */
function encodeNode(n, defaultName) {
  const w = new ProtoWriter();
  // An empty input name is ONNX's way of skipping an optional input.
  for (const i of n.inputs) w.stringField(1, i);
  for (const o of n.outputs) w.stringField(2, o);
  w.stringField(3, n.name ?? defaultName);
  w.stringField(4, n.op);
  for (const [k, v] of Object.entries(n.attrs ?? {})) w.messageField(5, encodeAttribute(k, v));
  if (n.domain) w.stringField(7, n.domain);
  return w;
}

/**
 * GraphProto: node=1, name=2, initializer=5, doc_string=10, input=11, output=12.
 * Also used for subgraph attributes (Loop/If bodies).
 * @param {GraphSpec} g
 */
export function encodeGraph(g) {
  const w = new ProtoWriter();
  g.nodes.forEach((n, i) => w.messageField(1, encodeNode(n, `${n.op}_${i}`)));
  w.stringField(2, g.name);
  for (const t of g.initializers ?? []) {
    if (!t.name) throw new Error(`graph '${g.name}': initializers need a name`);
    w.messageField(5, encodeTensor(t));
  }
  if (g.docString) w.stringField(10, g.docString);
  for (const v of g.inputs) w.messageField(11, encodeValueInfo(v));
  for (const v of g.outputs) w.messageField(12, encodeValueInfo(v));
  return w;
}

/**
 * Builds a serialized ONNX ModelProto.
 * ModelProto: ir_version=1, producer_name=2, producer_version=3, doc_string=6,
 * graph=7, opset_import=8 (OperatorSetIdProto{domain=1, version=2}).
 * @param {ModelSpec} spec
 * @returns {Uint8Array}
 */
export function buildModel({ graph, opset = 17, irVersion = 8, producer = 'ortserve-test', producerVersion, docString }) {
  const w = new ProtoWriter().varintField(1, irVersion).stringField(2, producer);
  if (producerVersion) w.stringField(3, producerVersion);
  if (docString) w.stringField(6, docString);
  w.messageField(7, encodeGraph(graph));
  // Default ('' = ai.onnx) domain only; that is all our graphs use.
  w.messageField(8, new ProtoWriter().stringField(1, '').varintField(2, opset));
  return w.finish();
}
