// TF Serving's Predict on the wire, by hand: PredictRequest → model spec, TensorProtos with tensor_content as a view
// and typed *_val fields as typed arrays; PredictResponse written into one Buffer from the output tensors.
//
// Field numbers from schemas/tensorflow_serving_apis.proto and tensorflow_framework.proto. The decoded request has
// the shape the generic decoder (protobufjs with PROTO_OPTIONS) gives, except that *_val fields are typed arrays of
// each field's own type and dim sizes are numbers (bigints past 2^53). In the version oneof the member last on the
// wire wins (protobuf's rule; protobufjs keeps both and names the later-declared one).

import { elementsHeld, type PackedStringSpans, type Tensor } from '../../engine/tensor.js';
import { fail } from '../../errors.js';
import { TF_DTYPE } from '../tfserving/tf-vocabulary.js';
import {
  ByteSpans, ScalarRuns, WIRE_BYTES, WIRE_VARINT, WireReader, WireWriter, delimitedSize, int32Size, utf8Length, varint64Size, varintSize,
} from './wire.js';
import { DecodeCounts, UNLIMITED, type DecodeLimits } from './decode-counts.js';
import { COPY_STEP_BYTES, VALUE_UNITS, copySteps, runNow, type WorkSteps } from '../work-slices.js';

/** tensorflow.DataType's numbers, from schemas/tensorflow_framework.proto; index = number. */
const DATA_TYPE_NAMES = [
  'DT_INVALID', 'DT_FLOAT', 'DT_DOUBLE', 'DT_INT32', 'DT_UINT8', 'DT_INT16', 'DT_INT8', 'DT_STRING', 'DT_COMPLEX64',
  'DT_INT64', 'DT_BOOL', 'DT_QINT8', 'DT_QUINT8', 'DT_QINT32', 'DT_BFLOAT16', 'DT_QINT16', 'DT_QUINT16', 'DT_UINT16',
  'DT_COMPLEX128', 'DT_HALF', 'DT_RESOURCE', 'DT_VARIANT', 'DT_UINT32', 'DT_UINT64',
] as const;
const DATA_TYPE_NUMBER = new Map<string, number>(DATA_TYPE_NAMES.map((name, i) => [name, i]));

export interface ModelSpecWire {
  name: string;
  version_choice?: 'version' | 'version_label';
  /** google.protobuf.Int64Value; its value as a decimal string (exact). */
  version?: { value: string } | null;
  version_label?: string;
  signature_name: string;
}

export interface TensorShapeWire {
  dim: Array<{ size: number | bigint; name: string }>;
  unknown_rank: boolean;
}

export interface TensorProtoWire {
  /** The DataType's name; its number when the schema does not list it (as the generic decoder gives it). */
  dtype: string | number;
  tensor_shape: TensorShapeWire | null;
  version_number: number;
  /** A view over the message. */
  tensor_content: Buffer;
  float_val: Float32Array;
  double_val: Float64Array;
  int_val: Int32Array;
  /** Views over the message, made when first read (see string_spans). */
  string_val: Buffer[];
  /**
   * Not a protobuf field: string_val's values as places in the message, for the tensor decoder to take as they are
   * (tf-tensor-proto.ts) without a view each. Absent when the tensor has no string_val.
   */
  string_spans?: ByteSpans;
  scomplex_val: Float32Array;
  int64_val: BigInt64Array;
  /** One byte per value, 0 or 1. */
  bool_val: Uint8Array;
  dcomplex_val: Float64Array;
  half_val: Int32Array;
  uint32_val: Uint32Array;
  uint64_val: BigUint64Array;
}

export interface PredictRequestWire {
  model_spec: ModelSpecWire | null;
  /** Prototype-less, so any input name is an ordinary key. */
  inputs: Record<string, TensorProtoWire>;
  output_filter: string[];
  /** Not a protobuf field: the size of the message it was decoded from (counted in the server's bytes in flight). */
  messageBytes: number;
}

function readInt64Value(r: WireReader): { value: string } {
  let value = '0';
  while (r.more()) {
    r.key();
    if (r.field === 1) {
      r.expect(WIRE_VARINT, 'value');
      value = r.int64String();
    } else r.skip();
  }
  return { value };
}

function readModelSpec(r: WireReader): ModelSpecWire {
  const spec: ModelSpecWire = { name: '', signature_name: '' };
  while (r.more()) {
    r.key();
    switch (r.field) {
      case 1: r.expect(WIRE_BYTES, 'name'); spec.name = r.string(); break;
      case 2: {
        r.expect(WIRE_BYTES, 'version');
        const end = r.bytesEnd();
        spec.version = readInt64Value(r.nested(r.pos, end, `${r.where}.version`));
        r.pos = end;
        delete spec.version_label;
        spec.version_choice = 'version';
        break;
      }
      case 3: r.expect(WIRE_BYTES, 'signature_name'); spec.signature_name = r.string(); break;
      case 4:
        r.expect(WIRE_BYTES, 'version_label');
        spec.version_label = r.string();
        delete spec.version;
        spec.version_choice = 'version_label';
        break;
      default: r.skip();
    }
  }
  return spec;
}

function readDim(r: WireReader): { size: number | bigint; name: string } {
  const dim = { size: 0 as number | bigint, name: '' };
  while (r.more()) {
    r.key();
    if (r.field === 1) {
      r.expect(WIRE_VARINT, 'size');
      dim.size = r.int64();
    } else if (r.field === 2) {
      r.expect(WIRE_BYTES, 'name');
      dim.name = r.string();
    } else r.skip();
  }
  return dim;
}

function readShape(r: WireReader, counts: DecodeCounts): TensorShapeWire {
  const shape: TensorShapeWire = { dim: [], unknown_rank: false };
  while (r.more()) {
    r.key();
    if (r.field === 2) {
      r.expect(WIRE_BYTES, 'dim');
      counts.entry(`${r.where}.dim`);
      const end = r.bytesEnd();
      shape.dim.push(readDim(r.nested(r.pos, end, `${r.where}.dim[${shape.dim.length}]`)));
      r.pos = end;
    } else if (r.field === 3) {
      r.expect(WIRE_VARINT, 'unknown_rank');
      shape.unknown_rank = r.bool();
    } else r.skip();
  }
  return shape;
}

const EMPTY_BYTES = Buffer.alloc(0);

function* readTensor(r: WireReader, counts: DecodeCounts): WorkSteps<TensorProtoWire> {
  let dtype: string | number = 'DT_INVALID';
  let shape: TensorShapeWire | null = null;
  let version = 0;
  let content: Buffer = EMPTY_BYTES;
  let strings: ByteSpans | undefined;
  let stringsField: string | undefined;
  // Made on each field's first run: most tensors use one field of the ten.
  let float: ScalarRuns<'float'> | undefined;
  let double: ScalarRuns<'double'> | undefined;
  let int: ScalarRuns<'int32'> | undefined;
  let scomplex: ScalarRuns<'float'> | undefined;
  let int64: ScalarRuns<'int64'> | undefined;
  let bool: ScalarRuns<'bool'> | undefined;
  let dcomplex: ScalarRuns<'double'> | undefined;
  let half: ScalarRuns<'int32'> | undefined;
  let uint32: ScalarRuns<'uint32'> | undefined;
  let uint64: ScalarRuns<'uint64'> | undefined;
  while (r.more()) {
    r.key();
    switch (r.field) {
      case 1: {
        r.expect(WIRE_VARINT, 'dtype');
        const n = r.int32();
        dtype = DATA_TYPE_NAMES[n] ?? n;
        break;
      }
      case 2: {
        r.expect(WIRE_BYTES, 'tensor_shape');
        const end = r.bytesEnd();
        shape = readShape(r.nested(r.pos, end, `${r.where}.tensor_shape`), counts);
        r.pos = end;
        break;
      }
      case 3: r.expect(WIRE_VARINT, 'version_number'); version = r.int32(); break;
      case 4: r.expect(WIRE_BYTES, 'tensor_content'); content = r.bytes(); break;
      case 5: float = yield* r.scalarRunSteps(float, 'float', 'float_val'); break;
      case 6: double = yield* r.scalarRunSteps(double, 'double', 'double_val'); break;
      case 7: int = yield* r.scalarRunSteps(int, 'int32', 'int_val'); break;
      case 8:
        r.expect(WIRE_BYTES, 'string_val');
        counts.value(stringsField ??= `${r.where}.string_val`);
        yield* (strings ??= new ByteSpans(r.buf)).addSteps(r);
        break;
      case 9: scomplex = yield* r.scalarRunSteps(scomplex, 'float', 'scomplex_val'); break;
      case 10: int64 = yield* r.scalarRunSteps(int64, 'int64', 'int64_val'); break;
      case 11: bool = yield* r.scalarRunSteps(bool, 'bool', 'bool_val'); break;
      case 12: dcomplex = yield* r.scalarRunSteps(dcomplex, 'double', 'dcomplex_val'); break;
      case 13: half = yield* r.scalarRunSteps(half, 'int32', 'half_val'); break;
      case 16: uint32 = yield* r.scalarRunSteps(uint32, 'uint32', 'uint32_val'); break;
      case 17: uint64 = yield* r.scalarRunSteps(uint64, 'uint64', 'uint64_val'); break;
      default: r.skip();
    }
  }
  let stringViews: Buffer[] | undefined;
  const tensor: TensorProtoWire = {
    dtype, tensor_shape: shape, version_number: version, tensor_content: content,
    float_val: yield* r.scalarsSteps('float', float), double_val: yield* r.scalarsSteps('double', double),
    int_val: yield* r.scalarsSteps('int32', int),
    get string_val(): Buffer[] {
      return (stringViews ??= strings?.views() ?? []);
    },
    scomplex_val: yield* r.scalarsSteps('float', scomplex),
    int64_val: yield* r.scalarsSteps('int64', int64), bool_val: yield* r.scalarsSteps('bool', bool),
    dcomplex_val: yield* r.scalarsSteps('double', dcomplex), half_val: yield* r.scalarsSteps('int32', half),
    uint32_val: yield* r.scalarsSteps('uint32', uint32), uint64_val: yield* r.scalarsSteps('uint64', uint64),
  };
  if (strings !== undefined) tensor.string_spans = strings;
  return tensor;
}

/** One map<string, TensorProto> entry into `inputs`; an entry without a value is refused, as the generic decoder does. */
function* readTensorEntry(r: WireReader, inputs: Record<string, TensorProtoWire>, counts: DecodeCounts): WorkSteps<void> {
  counts.entry('inputs');
  const { key, value } = yield* r.mapEntrySteps('inputs', (k) => `inputs[${JSON.stringify(k)}]`, (tensor) => readTensor(tensor, counts));
  inputs[key] = value;
}

/**
 * Decodes a PredictRequest; throws WireError naming the field and byte for a message that is not well formed, and
 * ERR_TOO_LARGE past `limits` (string_val values; inputs and output_filter entries: see DecodeCounts), before making
 * the objects for them.
 */
export function decodePredictRequest(bytes: Buffer, limits: DecodeLimits = UNLIMITED): PredictRequestWire {
  return runNow(predictRequestSteps(bytes, limits));
}

/**
 * decodePredictRequest in steps (src/protocol/work-slices.ts): typed fields are counted, copied and decoded about
 * COPY_STEP_BYTES of work at a time, so a large message can be decoded over several turns of the event loop.
 */
export function* predictRequestSteps(bytes: Buffer, limits: DecodeLimits = UNLIMITED): WorkSteps<PredictRequestWire> {
  const r = new WireReader(bytes, 0, bytes.length, '');
  const counts = new DecodeCounts(limits);
  const msg: PredictRequestWire = {
    model_spec: null, inputs: Object.create(null) as Record<string, TensorProtoWire>, output_filter: [], messageBytes: bytes.length,
  };
  while (r.more()) {
    r.key();
    switch (r.field) {
      case 1: {
        r.expect(WIRE_BYTES, 'model_spec');
        const end = r.bytesEnd();
        msg.model_spec = readModelSpec(r.nested(r.pos, end, 'model_spec'));
        r.pos = end;
        break;
      }
      case 2: r.expect(WIRE_BYTES, 'inputs'); yield* readTensorEntry(r, msg.inputs, counts); break;
      case 3: r.expect(WIRE_BYTES, 'output_filter'); counts.entry('output_filter'); msg.output_filter.push(r.string()); break;
      default: r.skip();
    }
  }
  return msg;
}

// ---- Responses ----

export interface PredictReply {
  /** Output name → tensor, written in this order as map entries of PredictResponse.outputs. */
  outputs: Iterable<readonly [string, Tensor]>;
  model_spec: { name: string; version: number; signature_name: string };
  /**
   * The message already encoded (predictResponseSteps run in slices by the handler, for a large answer): the encoder
   * sends it as it is.
   */
  encoded?: Buffer;
}

/** TensorProto field numbers of the typed field each dtype is answered in (as TF Serving answers by default). */
const VAL_FIELD_NUMBER: Record<Tensor['dtype'], number> = {
  float32: 5, float64: 6, int8: 7, int16: 7, int32: 7, uint8: 7, uint16: 7, string: 8, int64: 10, bool: 11,
  float16: 13, bfloat16: 13, uint32: 16, uint64: 17,
};

/** Values encoded one at a time per step (about COPY_STEP_BYTES of work). */
const VALUES_PER_STEP = COPY_STEP_BYTES / VALUE_UNITS;

/** Bytes of the values of a tensor's typed field (for string: the whole repeated bytes field, keys included). */
function* valuesSize(t: Tensor): WorkSteps<number> {
  if (t.packed !== undefined) return yield* packedStringsSize(t.packed.spans);
  const d = t.data;
  switch (t.dtype) {
    case 'float32': case 'float64': return (d as Float32Array).byteLength;
    case 'bool': return (d as Uint8Array).length;
    case 'string': {
      const items = d as Uint8Array[];
      let n = 0;
      for (let i = 0; i < items.length; i++) {
        n += delimitedSize(1, items[i]!.byteLength);
        if ((i + 1) % VALUES_PER_STEP === 0) yield COPY_STEP_BYTES;
      }
      return n;
    }
    case 'int64': case 'uint64': {
      const h = halvesOf(d as BigInt64Array);
      let n = 0;
      for (let i = 0; i < h.length; i += 2) {
        n += varint64Size(h[i]!, h[i + 1]!);
        if ((i / 2 + 1) % VALUES_PER_STEP === 0) yield COPY_STEP_BYTES;
      }
      return n;
    }
    default: {
      const ints = d as Int32Array;
      let n = 0;
      for (let i = 0; i < ints.length; i++) {
        n += int32Size(ints[i]!);
        if ((i + 1) % VALUES_PER_STEP === 0) yield COPY_STEP_BYTES;
      }
      return n;
    }
  }
}

function halvesOf(d: BigInt64Array | BigUint64Array): Uint32Array {
  return new Uint32Array(d.buffer, d.byteOffset, d.length * 2);
}

/** valuesSize of packed strings: each element's key, length and bytes, from its span (no view of it made). */
function* packedStringsSize(spans: Uint32Array): WorkSteps<number> {
  let n = 0;
  for (let i = 0; i < spans.length >>> 1; i++) {
    n += delimitedSize(1, spans[2 * i + 1]!);
    if ((i + 1) % VALUES_PER_STEP === 0) yield COPY_STEP_BYTES;
  }
  return n;
}

/** writeValues of packed strings: each element as a string_val entry, copied from its span of the packed buffer. */
function* writePackedStrings(w: WireWriter, packed: PackedStringSpans): WorkSteps<void> {
  const { data, spans } = packed;
  let units = 0;
  for (let i = 0; i < spans.length; i += 2) {
    const offset = spans[i]!, length = spans[i + 1]!;
    w.key(8, WIRE_BYTES);
    w.varint(length);
    w.raw(data.subarray(offset, offset + length));
    units += VALUE_UNITS + length;
    if (units >= COPY_STEP_BYTES) {
      yield units;
      units = 0;
    }
  }
}

function* writeValues(w: WireWriter, t: Tensor): WorkSteps<void> {
  if (t.packed !== undefined) return yield* writePackedStrings(w, t.packed);
  const d = t.data;
  switch (t.dtype) {
    case 'float32': case 'float64': {
      const v = d as Float32Array;
      yield* copySteps(w.buf, w.pos, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      w.pos += v.byteLength;
      return;
    }
    case 'bool': {
      const b = d as Uint8Array;
      for (let i = 0; i < b.length; i++) {
        w.buf[w.pos++] = b[i] !== 0 ? 1 : 0;
        if ((i + 1) % COPY_STEP_BYTES === 0) yield COPY_STEP_BYTES;
      }
      return;
    }
    case 'string': {
      let units = 0;
      for (const s of d as Uint8Array[]) {
        w.key(8, WIRE_BYTES);
        w.varint(s.byteLength);
        w.raw(s);
        units += VALUE_UNITS + s.byteLength;
        if (units >= COPY_STEP_BYTES) {
          yield units;
          units = 0;
        }
      }
      return;
    }
    case 'int64': case 'uint64': {
      const h = halvesOf(d as BigInt64Array);
      for (let i = 0; i < h.length; i += 2) {
        w.varint64(h[i]!, h[i + 1]!);
        if ((i / 2 + 1) % VALUES_PER_STEP === 0) yield COPY_STEP_BYTES;
      }
      return;
    }
    default: {
      const ints = d as Int32Array;
      for (let i = 0; i < ints.length; i++) {
        w.int32(ints[i]!);
        if ((i + 1) % VALUES_PER_STEP === 0) yield COPY_STEP_BYTES;
      }
    }
  }
}

interface TensorSizes { shape: number; values: number; tensor: number }

function dimsSize(shape: readonly number[]): number {
  let n = 0;
  for (const d of shape) n += delimitedSize(1, d === 0 ? 0 : 1 + varintSize(d));
  return n;
}

function* tensorSizes(t: Tensor): WorkSteps<TensorSizes> {
  const shape = dimsSize(t.shape);
  const values = elementsHeld(t) === 0 ? 0 : yield* valuesSize(t);
  let tensor = 1 + varintSize(DATA_TYPE_NUMBER.get(TF_DTYPE[t.dtype])!) + delimitedSize(1, shape);
  if (values > 0) tensor += t.dtype === 'string' ? values : delimitedSize(varintSize(VAL_FIELD_NUMBER[t.dtype] * 8 + 2), values);
  return { shape, values, tensor };
}

function* writeTensor(w: WireWriter, t: Tensor, s: TensorSizes): WorkSteps<void> {
  w.key(1, WIRE_VARINT);
  w.varint(DATA_TYPE_NUMBER.get(TF_DTYPE[t.dtype])!);
  w.key(2, WIRE_BYTES);
  w.varint(s.shape);
  for (const d of t.shape) {
    w.key(2, WIRE_BYTES);
    if (d === 0) w.varint(0);
    else {
      w.varint(1 + varintSize(d));
      w.key(1, WIRE_VARINT);
      w.varint(d);
    }
  }
  if (s.values === 0) return;
  if (t.dtype !== 'string') {
    w.key(VAL_FIELD_NUMBER[t.dtype], WIRE_BYTES);
    w.varint(s.values);
  }
  yield* writeValues(w, t);
}

function specSize(spec: PredictReply['model_spec']): { version: number; spec: number } {
  const version = spec.version === 0 ? 0 : 1 + varintSize(spec.version);
  const name = utf8Length(spec.name);
  const signature = utf8Length(spec.signature_name);
  const total = (name === 0 ? 0 : delimitedSize(1, name)) + delimitedSize(1, version) + (signature === 0 ? 0 : delimitedSize(1, signature));
  return { version, spec: total };
}

/** Encodes a PredictResponse into one Buffer of its exact size: float and double values copied once, in bulk. */
export function encodePredictResponse(reply: PredictReply): Buffer {
  return reply.encoded ?? runNow(predictResponseSteps(reply));
}

/**
 * encodePredictResponse in steps (src/protocol/work-slices.ts): sizes and values are computed and written about
 * COPY_STEP_BYTES of work at a time, so a large answer can be encoded over several turns of the event loop. An answer
 * over `maxBytes` throws ERR_TOO_LARGE once its size is known, before anything is allocated or written.
 */
export function* predictResponseSteps(reply: PredictReply, maxBytes = Number.POSITIVE_INFINITY): WorkSteps<Buffer> {
  const outputs = [...reply.outputs];
  const sizes: TensorSizes[] = [];
  for (const [, t] of outputs) sizes.push(yield* tensorSizes(t));
  const entries = outputs.map(([name], i) => {
    const key = utf8Length(name);
    return { key, entry: (key === 0 ? 0 : delimitedSize(1, key)) + delimitedSize(1, sizes[i]!.tensor) };
  });
  const spec = specSize(reply.model_spec);
  let size = delimitedSize(1, spec.spec);
  for (const e of entries) size += delimitedSize(1, e.entry);
  // Sizes are counted (without writing) before the message is allocated: an answer over the send limit stops here.
  if (size > maxBytes) {
    fail('ERR_TOO_LARGE', `the answer's PredictResponse would be ${size} bytes, more than the limit of ${maxBytes} (--grpc_max_send_message_bytes)`);
  }
  const w = new WireWriter(size);
  for (let i = 0; i < outputs.length; i++) {
    const [name, t] = outputs[i]!;
    w.key(1, WIRE_BYTES);
    w.varint(entries[i]!.entry);
    if (entries[i]!.key > 0) {
      w.key(1, WIRE_BYTES);
      w.varint(entries[i]!.key);
      w.utf8(name, entries[i]!.key);
    }
    w.key(2, WIRE_BYTES);
    w.varint(sizes[i]!.tensor);
    yield* writeTensor(w, t, sizes[i]!);
  }
  const { name, version, signature_name: signature } = reply.model_spec;
  w.key(2, WIRE_BYTES);
  w.varint(spec.spec);
  if (name !== '') {
    w.key(1, WIRE_BYTES);
    w.varint(utf8Length(name));
    w.utf8(name, utf8Length(name));
  }
  w.key(2, WIRE_BYTES);
  w.varint(spec.version);
  if (version !== 0) {
    w.key(1, WIRE_VARINT);
    w.varint(version);
  }
  if (signature !== '') {
    w.key(3, WIRE_BYTES);
    w.varint(utf8Length(signature));
    w.utf8(signature, utf8Length(signature));
  }
  return w.buf;
}
