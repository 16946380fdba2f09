// The hand-written protobuf codec (src/protocol/protobuf/) against the generic path (protobufjs from schemas/ plus the
// codecs that read its objects): a corpus of requests, built by protobufjs and byte by byte, decoded both ways into
// the same fields and tensors (or refused by both with the same error); replies encoded both ways and decoded by
// protobufjs into the same object. Malformed messages are refused by both; where the new decoder is stricter or
// follows protobuf's rule instead of protobufjs's, the test says so.

import { describe, expect, it } from 'vitest';
import type { MethodDefinition } from '@grpc/grpc-js';
import type { Tensor } from '../src/engine/tensor.js';
import { toOrtServeError } from '../src/errors.js';
import { KSERVE_WIRE_CODECS, PREDICTION_WIRE_CODECS } from '../src/frontends/grpc/grpc-wire-codecs.js';
import { decodeModelInfer, encodeModelInfer, modelInferReply, type ModelInferMessage } from '../src/frontends/grpc/kserve-grpc-codec.js';
import { guardedService, MalformedMessage, serializeMessage } from '../src/frontends/grpc/proto-schemas.js';
import { tensorProtoToTensor, tensorToTensorProto } from '../src/frontends/grpc/tf-tensor-proto.js';
import { directTensor, tensorProtoWireToTensor } from '../src/frontends/grpc/tf-tensor-wire.js';
import { DEFAULT_SIZE_LIMITS, RequestTally } from '../src/engine/tensor-limits.js';
import type { InferResponse } from '../src/inference/infer-request.js';
import {
  encodeModelInferResponse, encodeModelStreamInferResponse, modelInferRequestSteps, type ModelInferRequestWire, type ParameterMap,
} from '../src/protocol/protobuf/kserve-infer-wire.js';
import {
  encodePredictResponse, predictRequestSteps, type PredictRequestWire, type TensorProtoWire,
} from '../src/protocol/protobuf/tf-predict-wire.js';
import { tensorToBytes } from '../src/protocol/tensor-bytes.js';
import { definition } from './support/grpc-client.js';
import { bytes, int, mapEntry, msg, str, varint } from './support/protobuf-wire.js';

const MAX_BYTES = 1 << 20;
type Method = MethodDefinition<unknown, unknown>;
const method = (service: string, name: string, codecs = {}) => guardedService(service, codecs)[name] as Method;
const KSERVE = 'inference.GRPCInferenceService';
const PREDICTION = 'tensorflow.serving.PredictionService';
const generic = { infer: method(KSERVE, 'ModelInfer'), predict: method(PREDICTION, 'Predict') };
const wire = { infer: method(KSERVE, 'ModelInfer', KSERVE_WIRE_CODECS), predict: method(PREDICTION, 'Predict', PREDICTION_WIRE_CODECS) };
// The client's side, as a user's grpc-js client builds it from schemas/ (the same PROTO_OPTIONS).
const client = (service: string, name: string) => (definition[service] as unknown as Record<string, Method>)[name]!;
const inferRequest = (request: object) => client(KSERVE, 'ModelInfer').requestSerialize(request);
const predictRequest = (request: object) => client(PREDICTION, 'Predict').requestSerialize(request);

// ---- Hand-built fields beyond test/support/protobuf-wire.ts: fixed32/fixed64 values and raw keys ----
const key = (field: number, wireType: number) => varint(field * 8 + wireType);
const f32 = (field: number, value: number) => { const b = Buffer.alloc(4); b.writeFloatLE(value); return Buffer.concat([key(field, 5), b]); };
const f64 = (field: number, value: number) => { const b = Buffer.alloc(8); b.writeDoubleLE(value); return Buffer.concat([key(field, 1), b]); };
const packedVarints = (field: number, values: Array<number | bigint>) => bytes(field, Buffer.concat(values.map((v) => varint(v))));
const packedF32 = (field: number, values: number[]) => bytes(field, Buffer.from(new Float32Array(values).buffer));
/** Unknown fields of every wire type, with field numbers no schema here uses. */
const unknownFields = Buffer.concat([int(99, 7), f32(100, 1.5), f64(101, 2.5), str(102, 'ignored'), int(536870911, 1)]);

// ---- Normal forms: the wire decoder's message written as the generic decoder gives it ----
const plain = (map: ParameterMap) => ({ ...map });
const strings = (a: ArrayLike<bigint>) => Array.from(a, String);

function kserveAsGeneric(m: ModelInferRequestWire) {
  return {
    model_name: m.model_name, model_version: m.model_version, id: m.id, parameters: plain(m.parameters),
    inputs: m.inputs.map((i) => ({
      name: i.name, datatype: i.datatype, shape: i.shape.map(String), parameters: plain(i.parameters),
      contents: i.contents === null ? null : {
        bool_contents: Array.from(i.contents.bool_contents, (b) => b !== 0), int_contents: Array.from(i.contents.int_contents),
        int64_contents: strings(i.contents.int64_contents), uint_contents: Array.from(i.contents.uint_contents),
        uint64_contents: strings(i.contents.uint64_contents), fp32_contents: Array.from(i.contents.fp32_contents),
        fp64_contents: Array.from(i.contents.fp64_contents), bytes_contents: i.contents.bytes_contents,
      },
    })),
    outputs: m.outputs.map((o) => ({ name: o.name, parameters: plain(o.parameters) })),
    raw_input_contents: m.raw_input_contents,
  };
}

function tensorAsGeneric(t: TensorProtoWire) {
  return {
    dtype: t.dtype, version_number: t.version_number, tensor_content: t.tensor_content,
    tensor_shape: t.tensor_shape === null ? null : { unknown_rank: t.tensor_shape.unknown_rank, dim: t.tensor_shape.dim.map((d) => ({ size: String(d.size), name: d.name })) },
    float_val: Array.from(t.float_val), double_val: Array.from(t.double_val), int_val: Array.from(t.int_val), string_val: t.string_val,
    scomplex_val: Array.from(t.scomplex_val), int64_val: strings(t.int64_val), bool_val: Array.from(t.bool_val, (b) => b !== 0),
    dcomplex_val: Array.from(t.dcomplex_val), half_val: Array.from(t.half_val), uint32_val: Array.from(t.uint32_val), uint64_val: strings(t.uint64_val),
  };
}

function predictAsGeneric(m: PredictRequestWire) {
  return {
    model_spec: m.model_spec,
    inputs: Object.fromEntries(Object.entries(m.inputs).map(([name, t]) => [name, tensorAsGeneric(t)])),
    output_filter: m.output_filter,
  };
}

/** A tensor as comparable data: its dtype, shape, typed array type and values (strings as hex). */
function tensorView(t: Tensor) {
  const values = t.dtype === 'string' ? (t.data as Uint8Array[]).map((b) => Buffer.from(b).toString('hex')) : Array.from(t.data as ArrayLike<number | bigint>);
  return { dtype: t.dtype, shape: t.shape, type: t.data.constructor.name, values };
}

/** What a decode step gave: its value, or the stable code and message it failed with. */
function outcome<T>(run: () => T): { value: T } | { code: string; message: string } {
  try {
    return { value: run() };
  } catch (err) {
    const e = toOrtServeError(err);
    return { code: e.code, message: e.message };
  }
}

function decodedInfer(decode: Method, bytes: Buffer) {
  const message = decode.requestDeserialize(bytes);
  if (message instanceof MalformedMessage) return { malformed: message.reason };
  return outcome(() => {
    const d = decodeModelInfer(message as ModelInferMessage, MAX_BYTES);
    return { ...d, inputs: [...d.inputs].map(([name, t]) => [name, tensorView(t)]) };
  });
}

/** Decodes with both paths and expects the same message fields and the same tensors or error. */
function expectSameInfer(bytes: Buffer) {
  const g = generic.infer.requestDeserialize(bytes);
  const w = wire.infer.requestDeserialize(bytes);
  expect(g).not.toBeInstanceOf(MalformedMessage);
  expect(w).not.toBeInstanceOf(MalformedMessage);
  expect(kserveAsGeneric(w as ModelInferRequestWire)).toEqual(g);
  const result = decodedInfer(wire.infer, bytes);
  expect(result).toEqual(decodedInfer(generic.infer, bytes));
  return result;
}

function decodedPredict(decode: Method, bytes: Buffer, toTensor: (tp: never, field: string, max: number) => Tensor) {
  const message = decode.requestDeserialize(bytes) as { inputs: Record<string, never> } | MalformedMessage;
  if (message instanceof MalformedMessage) return { malformed: message.reason };
  return Object.entries(message.inputs).map(([name, tp]) => [name, outcome(() => tensorView(toTensor(tp, `inputs[${JSON.stringify(name)}]`, MAX_BYTES)))]);
}

function expectSamePredict(bytes: Buffer) {
  const g = generic.predict.requestDeserialize(bytes);
  const w = wire.predict.requestDeserialize(bytes);
  expect(g).not.toBeInstanceOf(MalformedMessage);
  expect(w).not.toBeInstanceOf(MalformedMessage);
  expect(predictAsGeneric(w as PredictRequestWire)).toEqual(g);
  const result = decodedPredict(wire.predict, bytes, tensorProtoWireToTensor);
  expect(result).toEqual(decodedPredict(generic.predict, bytes, tensorProtoToTensor));
  // The server's path: directTensor where it applies, the rules above for the rest; same tensors, same errors.
  expect(decodedPredict(wire.predict, bytes, serverTensor)).toEqual(result);
  return result;
}

const prefixed = (prefix: string, inputs: Record<string, object>) =>
  Object.fromEntries(Object.entries(inputs).map(([name, tp]) => [prefix + name, tp]));

/** How Predict turns each input into a tensor (tf-serving-service.ts), with a tally of its own per tensor. */
function serverTensor(tp: TensorProtoWire, field: string, max: number): Tensor {
  const tally = new RequestTally(DEFAULT_SIZE_LIMITS, max);
  return directTensor(tp, max, tally) ?? tensorProtoWireToTensor(tp, field, max, tally);
}

// ---- KServe ModelInferRequest corpus ----

const le = (T: { new (v: number[] | bigint[]): ArrayBufferView }, values: number[] | bigint[]) => {
  const a = new T(values as number[]);
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
};
const lengthPrefixed = (...items: Buffer[]) => Buffer.concat(items.flatMap((b) => { const n = Buffer.alloc(4); n.writeUInt32LE(b.length); return [n, b]; }));

const I64 = ['9223372036854775807', '-9223372036854775808', '-1', '0', '9007199254740993'];
const U64 = ['18446744073709551615', '0', '9007199254740993'];

/** One typed-contents input per datatype (and value family), as a client that does not use raw bytes sends them. */
const TYPED_INPUTS = [
  { datatype: 'BOOL', shape: [3], contents: { bool_contents: [true, false, true] } },
  { datatype: 'INT8', shape: [3], contents: { int_contents: [-128, 0, 127] } },
  { datatype: 'INT16', shape: [3], contents: { int_contents: [-32768, 7, 32767] } },
  { datatype: 'INT32', shape: [4], contents: { int_contents: [-2147483648, -1, 0, 2147483647] } },
  { datatype: 'INT64', shape: [5], contents: { int64_contents: I64 } },
  { datatype: 'UINT8', shape: [2], contents: { uint_contents: [0, 255] } },
  { datatype: 'UINT16', shape: [2], contents: { uint_contents: [1, 65535] } },
  { datatype: 'UINT32', shape: [2], contents: { uint_contents: [0, 4294967295] } },
  { datatype: 'UINT64', shape: [3], contents: { uint64_contents: U64 } },
  { datatype: 'FP32', shape: [2, 2], contents: { fp32_contents: [1.5, -0, Infinity, 3.4e38] } },
  { datatype: 'FP64', shape: [3], contents: { fp64_contents: [Math.PI, -1e308, NaN] } },
  { datatype: 'BYTES', shape: [3], contents: { bytes_contents: [Buffer.from('ab'), Buffer.alloc(0), Buffer.from([0xff, 0])] } },
  { datatype: 'FP32', shape: [0, 4], contents: {} },
  { datatype: 'FP16', shape: [0], contents: null },
];

/** One raw input per datatype, FP16 and BF16 (no typed field) included. */
const RAW_INPUTS: Array<[string, number[], Buffer]> = [
  ['BOOL', [4], Buffer.from([1, 0, 0, 1])],
  ['INT8', [2], le(Int8Array, [-1, 5])],
  ['INT16', [2], le(Int16Array, [-300, 300])],
  ['INT32', [1, 2], le(Int32Array, [-7, 7])],
  ['INT64', [2], le(BigInt64Array, [-9223372036854775808n, 9223372036854775807n])],
  ['UINT8', [3], Buffer.from([0, 128, 255])],
  ['UINT16', [1], le(Uint16Array, [65535])],
  ['UINT32', [1], le(Uint32Array, [4294967295])],
  ['UINT64', [1], le(BigUint64Array, [18446744073709551615n])],
  ['FP16', [2], le(Uint16Array, [0x3c00, 0xc000])],
  ['BF16', [2], le(Uint16Array, [0x3f80, 0x4000])],
  ['FP32', [1, 3], le(Float32Array, [1, 2, 3])],
  ['FP64', [2], le(Float64Array, [1e-300, -2])],
  ['BYTES', [2], lengthPrefixed(Buffer.from('héllo'), Buffer.alloc(0))],
  ['FP32', [], le(Float32Array, [42])],
];

const PARAMETERS = {
  timeout: { int64_param: 2500 }, priority: { uint64_param: '18446744073709551615' }, note: { string_param: 'ünïcode' },
  flag: { bool_param: true }, ratio: { double_param: 0.25 }, __proto__x: { int64_param: '-9223372036854775808' },
};

describe('ModelInferRequest: both decoders give the same fields and tensors', () => {
  it('typed contents of every datatype, built by protobufjs', () => {
    for (const [i, input] of TYPED_INPUTS.entries()) {
      const result = expectSameInfer(inferRequest({ model_name: 'm', inputs: [{ name: `x${i}`, ...input }] }));
      expect(result, input.datatype).toHaveProperty('value');
    }
    // All of them in one request, with request, input and output parameters and requested outputs.
    expectSameInfer(inferRequest({
      model_name: 'm', model_version: '3', id: 'req-1', parameters: PARAMETERS,
      inputs: TYPED_INPUTS.map((input, i) => ({ name: `x${i}`, parameters: { binary_data_size: { int64_param: 12 } }, ...input })),
      outputs: [{ name: 'y', parameters: { classification: { int64_param: 3 } } }, { name: 'z' }],
    }));
  });

  it('raw_input_contents of every datatype, built by protobufjs', () => {
    const result = expectSameInfer(inferRequest({
      model_name: 'm', id: 'raw',
      inputs: RAW_INPUTS.map(([datatype, shape], i) => ({ name: `r${i}`, datatype, shape })),
      raw_input_contents: RAW_INPUTS.map(([, , data]) => data),
    }));
    expect(result).toHaveProperty('value');
  });

  it('numeric raw tensors are views of the received message where aligned (the decoder copies nothing)', () => {
    const data = le(Float32Array, [1, 2, 3, 4]);
    const built = inferRequest({ model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [4] }], raw_input_contents: [data] });
    // Place the message so that the tensor bytes start 4-byte aligned, as a received frame may place them.
    const at = built.indexOf(data);
    const holder = Buffer.alloc(built.length + 8);
    const offset = (4 - (at % 4)) % 4;
    built.copy(holder, offset);
    const message = holder.subarray(offset, offset + built.length);
    const decoded = wire.infer.requestDeserialize(message) as ModelInferRequestWire;
    const tensor = decodeModelInfer(decoded, MAX_BYTES).inputs.get('x')!;
    expect(tensor.data.buffer).toBe(holder.buffer);
    expect([...(tensor.data as Float32Array)]).toEqual([1, 2, 3, 4]);
  });

  it('packed and unpacked repeated fields, interleaved, byte by byte', () => {
    const input = msg(5,
      str(1, 'x'), str(2, 'INT64'),
      int(3, 2), packedVarints(3, [1]), int(3, 2), // shape [2,1,2]: unpacked, packed, unpacked
      msg(5, int(3, -1), packedVarints(3, [9223372036854775807n, 5n]), int(3, -9223372036854775808n)),
    );
    const fp = msg(5, str(1, 'f'), str(2, 'FP32'), packedVarints(3, [4]),
      msg(5, f32(6, 1.25), packedF32(6, [2, 3]), f32(6, -4)));
    const ints = msg(5, str(1, 'i'), str(2, 'INT8'), int(3, 3), msg(5, int(2, -128), packedVarints(2, [BigInt.asUintN(64, -5n), 127])));
    const bools = msg(5, str(1, 'b'), str(2, 'BOOL'), int(3, 3), msg(5, int(1, 1), packedVarints(1, [0, 7])));
    const doubles = msg(5, str(1, 'd'), str(2, 'FP64'), int(3, 2), msg(5, f64(7, -0.5), bytes(7, le(Float64Array, [1e300]))));
    const uints = msg(5, str(1, 'u'), str(2, 'UINT64'), int(3, 2), msg(5, int(5, 18446744073709551615n), packedVarints(5, [0])));
    const result = expectSameInfer(Buffer.concat([str(1, 'm'), input, fp, ints, bools, doubles, uints]));
    expect(result).toHaveProperty('value');
  });

  it('unknown fields at every level, fields out of order, repeated singular fields and odd map entries', () => {
    const parameter = (...parts: Buffer[]) => msg(4, ...parts);
    const request = Buffer.concat([
      bytes(7, le(Float32Array, [1, 2])), // raw before the inputs
      unknownFields,
      str(1, 'first'), str(1, 'm'), // a singular field sent twice: the last one counts
      parameter(bytes(2, Buffer.concat([int(2, 5), unknownFields])), str(1, 'value-first')), // key after value
      parameter(bytes(2, str(3, 'no key'))), // no key: the empty string
      parameter(str(1, '__proto__'), bytes(2, int(1, 1))), // an ordinary key, not a prototype
      parameter(str(1, 'dup'), bytes(2, int(2, 1))), parameter(str(1, 'dup'), bytes(2, int(2, 2))), // the later entry wins
      msg(5, unknownFields, str(1, 'x'), str(2, 'FP32'), packedVarints(3, [2]), unknownFields,
        msg(4, str(1, 'p'), bytes(2, Buffer.concat([unknownFields, str(3, 's')]))), unknownFields),
      msg(6, str(1, 'y'), unknownFields, msg(2, str(1, 'q'), bytes(2, f64(4, 1.5)))),
      str(3, 'id'), unknownFields,
    ]);
    expect(expectSameInfer(request)).toHaveProperty('value');
  });

  it('every member of the InferParameter oneof, one at a time', () => {
    for (const p of [int(1, 0), int(1, 1), int(2, -1), int(2, 9223372036854775807n), str(3, ''), str(3, 'x'), f64(4, -0), f64(4, 1e-9), int(5, 18446744073709551615n), Buffer.alloc(0)]) {
      expectSameInfer(Buffer.concat([str(1, 'm'), mapEntry(4, 'timeout', p)]));
    }
  });
});

/** Requests both paths refuse with the same stable code and message (the messages the gRPC tests assert). */
const SEMANTIC_ERRORS: Array<[string, object]> = [
  ['no model name', { inputs: [] }],
  ['typed values in the wrong field', { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [2], contents: { int_contents: [1, 2] } }] }],
  ['too few values', { model_name: 'm', inputs: [{ name: 'x', datatype: 'INT64', shape: [3], contents: { int64_contents: ['1'] } }] }],
  ['INT8 out of range', { model_name: 'm', inputs: [{ name: 'x', datatype: 'INT8', shape: [2], contents: { int_contents: [1, 300] } }] }],
  ['UINT16 out of range', { model_name: 'm', inputs: [{ name: 'x', datatype: 'UINT16', shape: [1], contents: { uint_contents: [70000] } }] }],
  ['FP16 in a typed field', { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP16', shape: [1], contents: { uint_contents: [1] } }] }],
  ['typed and raw contents', { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [1], contents: { fp32_contents: [1] } }], raw_input_contents: [le(Float32Array, [1])] }],
  ['raw entries not one per input', { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }], raw_input_contents: [le(Float32Array, [1]), le(Float32Array, [1])] }],
  ['raw bytes short of the shape', { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [2] }], raw_input_contents: [le(Float32Array, [1])] }],
  ['a BOOL byte that is not 0 or 1', { model_name: 'm', inputs: [{ name: 'x', datatype: 'BOOL', shape: [1] }], raw_input_contents: [Buffer.from([2])] }],
  ['BYTES lengths past the data', { model_name: 'm', inputs: [{ name: 'x', datatype: 'BYTES', shape: [1] }], raw_input_contents: [Buffer.from([9, 0, 0, 0, 1])] }],
  ['an unknown datatype', { model_name: 'm', inputs: [{ name: 'x', datatype: 'float', shape: [1] }] }],
  ['no datatype', { model_name: 'm', inputs: [{ name: 'x', shape: [1] }] }],
  ['no input name', { model_name: 'm', inputs: [{ datatype: 'FP32', shape: [1], contents: { fp32_contents: [1] } }] }],
  ['a negative dim', { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }] }],
  ['the largest int64 dim', { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: ['9223372036854775807'] }] }],
  ['the smallest int64 dim', { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: ['-9223372036854775808'] }] }],
  ['a dim just past 2^53', { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: ['9007199254740993'] }] }],
  ['dims whose product is over the limit', { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [100000, 100000] }] }],
  ['duplicate input names', { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [0] }, { name: 'x', datatype: 'FP32', shape: [0] }] }],
  ['an output without a name', { model_name: 'm', outputs: [{ name: 'y' }, {}] }],
  ['duplicate outputs', { model_name: 'm', outputs: [{ name: 'y' }, { name: 'y' }] }],
  ['a timeout that is a string', { model_name: 'm', parameters: { timeout: { string_param: 'soon' } } }],
  ['a negative timeout', { model_name: 'm', parameters: { timeout: { int64_param: -1 } } }],
  ['a timeout that is not an integer', { model_name: 'm', parameters: { timeout: { double_param: 1.5 } } }],
];

describe('ModelInferRequest: both paths refuse the same requests with the same code and message', () => {
  it.each(SEMANTIC_ERRORS)('%s', (_title, request) => {
    const result = expectSameInfer(inferRequest(request));
    expect(result).toHaveProperty('code');
  });
});

describe('malformed messages: both decoders refuse them (ERR_PROTOBUF at the handler)', () => {
  const malformed = (bytes: Buffer) => [generic.infer, wire.infer].map((m) => m.requestDeserialize(bytes));

  it('give the same reason at the top level', () => {
    for (const bytes of [
      Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x07]), // field 1 claims 2^31 bytes of a 6-byte message
      Buffer.from([0x0a, 0x05, 0x61]), // a string running past the end
      Buffer.from([0x78, 0xff]), // a varint (of an unknown field) running past the end
      Buffer.from([0x0b]), // wire type 3 (a group)
      Buffer.from([0x80]), // a key running past the end
      Buffer.concat([str(1, 'm'), Buffer.from([0x3f])]), // wire type 7 after a good field
    ]) {
      const [g, w] = malformed(bytes);
      expect(g).toBeInstanceOf(MalformedMessage);
      expect(w).toBeInstanceOf(MalformedMessage);
      expect((w as MalformedMessage).reason).toBe((g as MalformedMessage).reason);
    }
  });

  it('name the nested field that is broken', () => {
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.concat([str(1, 'm'), msg(5, Buffer.from([0x0f]))]), /^inputs\[0\]: field 1 at byte 0 has wire type 7/],
      [msg(5, str(1, 'x'), bytes(5, Buffer.from([0x32, 0x03, 0, 0, 0]))), /^inputs\[0\]\.contents: field 6 \(fp32_contents\) at byte 0: a packed run of 3 bytes is not a whole number of 4-byte values/],
      [msg(5, bytes(3, Buffer.from([0x80, 0x80]))), /^inputs\[0\]: field 3 \(shape\) at byte 0: the packed run ends inside a varint|inputs\[0\]\.shape/],
      [msg(5, Buffer.concat([key(3, 0), Buffer.alloc(11, 0xff)])), /^inputs\[0\]: field 3 at byte 0 runs past the end/], // an 11-byte varint
      [msg(5, msg(5, bytes(8, Buffer.from([1, 2]))), Buffer.from([0x2a, 0x05, 0x12])), /^inputs\[0\]: field 5 at byte \d+ runs past the end of the \d+-byte message/],
      [mapEntry(4, 'timeout', Buffer.from([0x10])), /^parameters\.value: field 2 at byte 0 runs past the end/],
      [msg(4, str(1, 'timeout')), /^parameters: the entry for key "timeout" has no value/],
    ];
    for (const [bytes, reason] of cases) {
      const [g, w] = malformed(bytes);
      expect(g, reason.source).toBeInstanceOf(MalformedMessage);
      expect(w, reason.source).toBeInstanceOf(MalformedMessage);
      expect((w as MalformedMessage).reason).toMatch(reason);
    }
  });

  it('are stricter than protobufjs where protobufjs reads on: a known field with the wrong wire type, groups', () => {
    for (const [bytes, reason] of [
      [Buffer.from([0x08, 0x05]), /field 1 \(model_name\) at byte 0 has wire type 0 \(varint\), not 2/], // protobufjs: model_name ''
      [Buffer.from([0x0d, 1, 2, 3, 4]), /field 1 \(model_name\) at byte 0 has wire type 5/], // protobufjs: a 2-byte string
      [msg(5, Buffer.from([0x0b, 0x0c])), /inputs\[0\]: field 1 at byte 0 has wire type 3/], // protobufjs skips a nested group
    ] as const) {
      expect(generic.infer.requestDeserialize(bytes)).not.toBeInstanceOf(MalformedMessage);
      expect((wire.infer.requestDeserialize(bytes) as MalformedMessage).reason).toMatch(reason);
    }
  });

  it('follow protobuf where protobufjs differs: the oneof member last on the wire is the one set', () => {
    const bytes = Buffer.concat([str(1, 'm'), mapEntry(4, 'timeout', Buffer.concat([str(3, 'soon'), int(2, 5)]))]);
    expect((generic.infer.requestDeserialize(bytes) as ModelInferMessage).parameters['timeout']!.parameter_choice).toBe('string_param');
    expect((wire.infer.requestDeserialize(bytes) as ModelInferRequestWire).parameters['timeout']).toEqual({ parameter_choice: 'int64_param', int64_param: '5' });
  });
});

// ---- TF Serving PredictRequest corpus ----

const tensor = (dtype: string, dims: Array<number | string>, values: object = {}) => ({ dtype, tensor_shape: { dim: dims.map((size) => ({ size })) }, ...values });

/** Every dtype in its typed field, exactly filling the shape. */
const TF_TYPED: Record<string, object> = {
  f: tensor('DT_FLOAT', [2, 2], { float_val: [1.5, -0, Infinity, 3.4e38] }),
  d: tensor('DT_DOUBLE', [3], { double_val: [Math.PI, -1e308, NaN] }),
  i8: tensor('DT_INT8', [2], { int_val: [-128, 127] }),
  i16: tensor('DT_INT16', [2], { int_val: [-32768, 32767] }),
  i32: tensor('DT_INT32', [3], { int_val: [-2147483648, 0, 2147483647] }),
  i64: tensor('DT_INT64', [5], { int64_val: I64 }),
  u8: tensor('DT_UINT8', [2], { int_val: [0, 255] }),
  u16: tensor('DT_UINT16', [1], { int_val: [65535] }),
  u32: tensor('DT_UINT32', [2], { uint32_val: [0, 4294967295] }),
  u64: tensor('DT_UINT64', [3], { uint64_val: U64 }),
  b: tensor('DT_BOOL', [3], { bool_val: [true, false, true] }),
  h: tensor('DT_HALF', [2], { half_val: [0x3c00, 0xc000] }),
  bf: tensor('DT_BFLOAT16', [1], { half_val: [0x3f80] }),
  s: tensor('DT_STRING', [2], { string_val: [Buffer.from('ab'), Buffer.from([0xff])] }),
  scalar: { dtype: 'DT_FLOAT', float_val: [7] },
  empty: tensor('DT_FLOAT', [0, 3]),
};

/** TensorFlow's fill rule (one value, a larger shape) for every family, and tensor_content for several dtypes. */
const TF_FILL_AND_CONTENT: Record<string, object> = {
  f: tensor('DT_FLOAT', [2, 3], { float_val: [2.5] }),
  i8: tensor('DT_INT8', [4], { int_val: [-3] }),
  i64: tensor('DT_INT64', [3], { int64_val: ['-9223372036854775808'] }),
  u64: tensor('DT_UINT64', [2], { uint64_val: ['18446744073709551615'] }),
  b: tensor('DT_BOOL', [3], { bool_val: [true] }),
  s: tensor('DT_STRING', [2], { string_val: [Buffer.from('x')] }),
  h: tensor('DT_HALF', [2], { half_val: [0x3c00] }),
  cf: tensor('DT_FLOAT', [1, 3], { tensor_content: le(Float32Array, [1, 2, 3]) }),
  ci64: tensor('DT_INT64', [1], { tensor_content: le(BigInt64Array, [-5n]) }),
  cb: tensor('DT_BOOL', [2], { tensor_content: Buffer.from([0, 1]) }),
  ch: tensor('DT_HALF', [1], { tensor_content: le(Uint16Array, [0x3c00]) }),
};

/** Inputs both paths refuse with the same message. */
const TF_ERRORS: Record<string, object> = {
  wrongField: tensor('DT_FLOAT', [2], { int_val: [1, 2] }),
  tooFew: tensor('DT_INT32', [3], { int_val: [1, 2] }),
  outOfRange: tensor('DT_UINT8', [2], { int_val: [1, 256] }),
  halfOutOfRange: tensor('DT_HALF', [1], { half_val: [70000] }),
  badContent: tensor('DT_FLOAT', [2], { tensor_content: Buffer.alloc(12) }),
  stringContent: tensor('DT_STRING', [1], { tensor_content: Buffer.from('abcd') }),
  complex: tensor('DT_COMPLEX64', [1], { scomplex_val: [1, 2] }),
  invalid: tensor('DT_INVALID', [1]),
  negative: tensor('DT_FLOAT', [-1, 4]),
  huge: tensor('DT_FLOAT', ['9223372036854775807']),
  tooLarge: tensor('DT_FLOAT', [1000000, 1000], { float_val: [1] }),
  unknownRank: { dtype: 'DT_FLOAT', tensor_shape: { unknown_rank: true }, float_val: [1] },
  strayScomplexWithFloat: tensor('DT_FLOAT', [1], { float_val: [1], double_val: [2] }),
};

describe('PredictRequest: both decoders give the same fields and tensors', () => {
  it('every dtype in its typed field, built by protobufjs', () => {
    const result = expectSamePredict(predictRequest({ model_spec: { name: 'm', signature_name: 'serving_default' }, inputs: TF_TYPED, output_filter: ['a', 'b'] }));
    for (const [name, r] of result as Array<[string, object]>) expect(r, name).toHaveProperty('value');
  });

  it('the fill rule and tensor_content', () => {
    const result = expectSamePredict(predictRequest({ model_spec: { name: 'm' }, inputs: TF_FILL_AND_CONTENT }));
    for (const [name, r] of result as Array<[string, object]>) expect(r, name).toHaveProperty('value');
  });

  it('directTensor takes the common numeric cases, counts them as the rules do, and leaves every other case', () => {
    const inputs = (bytes: Buffer) => (wire.predict.requestDeserialize(bytes) as PredictRequestWire).inputs;
    const corpus = { ...prefixed('typed.', TF_TYPED), ...prefixed('fill.', TF_FILL_AND_CONTENT) };
    const taken = inputs(predictRequest({ model_spec: { name: 'm' }, inputs: corpus }));
    const direct = Object.keys(taken).filter((name) => directTensor(taken[name]!, MAX_BYTES, new RequestTally(DEFAULT_SIZE_LIMITS, MAX_BYTES)) !== undefined);
    // Numeric values exactly filling their own typed field or tensor_content; not bool, string, narrow integers in
    // int_val, half_val, the fill rule, a scalar without a shape, or an empty tensor.
    expect(direct.sort()).toEqual(['typed.f', 'typed.d', 'typed.i32', 'typed.i64', 'typed.u32', 'typed.u64', 'fill.cf', 'fill.ci64', 'fill.ch'].sort());
    for (const name of direct) {
      const viaDirect = new RequestTally(DEFAULT_SIZE_LIMITS, MAX_BYTES);
      const viaRules = new RequestTally(DEFAULT_SIZE_LIMITS, MAX_BYTES);
      expect(tensorView(directTensor(taken[name]!, MAX_BYTES, viaDirect)!), name).toEqual(tensorView(tensorProtoWireToTensor(taken[name]!, name, MAX_BYTES, viaRules)));
      expect({ ...viaDirect }, name).toEqual({ ...viaRules });
    }
    const refused = inputs(predictRequest({ model_spec: { name: 'm' }, inputs: TF_ERRORS }));
    for (const [name, tp] of Object.entries(refused)) expect(directTensor(tp, MAX_BYTES, new RequestTally(DEFAULT_SIZE_LIMITS, MAX_BYTES)), name).toBeUndefined();
    // A tensor that would pass the request's limits is left to the rules, which name it; the tally is untouched.
    const full = new RequestTally({ ...DEFAULT_SIZE_LIMITS, maxRequestElements: 4 }, MAX_BYTES);
    expect(directTensor(taken['fill.cf']!, MAX_BYTES, full)).toBeDefined();
    expect(directTensor(taken['fill.cf']!, MAX_BYTES, full)).toBeUndefined();
    expect(full.elements).toBe(3);
    expect(directTensor(taken['typed.d']!, 16, new RequestTally(DEFAULT_SIZE_LIMITS, 16))).toBeUndefined();
  });

  it('refuses the same inputs with the same message', () => {
    const result = expectSamePredict(predictRequest({ model_spec: { name: 'm' }, inputs: TF_ERRORS }));
    for (const [name, r] of result as Array<[string, object]>) expect(r, name).toHaveProperty('code');
  });

  it('every variant of the model spec: version number, label, neither, an empty Int64Value, none at all', () => {
    for (const model_spec of [
      { name: 'm', version: { value: 7 } }, { name: 'm', version: { value: '-9223372036854775808' } }, { name: 'm', version_label: 'stable' },
      { name: 'm', signature_name: 'x' }, { name: 'm', version: {} }, null,
    ]) {
      expectSamePredict(predictRequest({ model_spec, inputs: { x: TF_TYPED['f'] } }));
    }
  });

  it('packed and unpacked values, dim names, version_number and unknown fields (reserved 14, 15 too), byte by byte', () => {
    const dim = (size: number | bigint, name?: string) => msg(2, int(1, size), ...(name === undefined ? [] : [str(2, name)]), unknownFields);
    const floats = Buffer.concat([
      int(1, 1), msg(2, dim(2, 'batch'), dim(2), int(3, 0), unknownFields), int(3, 4),
      f32(5, 1), packedF32(5, [2, 3]), f32(5, 4), str(14, 'resource'), str(15, 'variant'), unknownFields,
    ]);
    const int64s = Buffer.concat([int(1, 9), msg(2, dim(3)), int(10, -1), packedVarints(10, [9223372036854775807n, 0])]);
    const bools = Buffer.concat([int(1, 10), msg(2, dim(2)), packedVarints(11, [1]), int(11, 0)]);
    const uints = Buffer.concat([int(1, 22), msg(2, dim(2)), int(16, 4294967295), packedVarints(16, [1])]);
    const int8s = Buffer.concat([int(1, 6), msg(2, dim(2)), int(7, -128), int(7, 127)]);
    const request = Buffer.concat([
      unknownFields,
      msg(1, str(1, 'm'), msg(2, int(1, 3), unknownFields), unknownFields),
      mapEntry(2, 'f', floats), mapEntry(2, 'i64', int64s), mapEntry(2, 'b', bools), mapEntry(2, 'u', uints), mapEntry(2, 'i8', int8s),
      msg(2, bytes(2, Buffer.concat([int(1, 1), packedF32(5, [1])])), str(1, 'value-first')), // key after value
      str(3, 'f'), unknownFields, str(3, 'i64'),
    ]);
    const result = expectSamePredict(request);
    for (const [name, r] of result as Array<[string, object]>) expect(r, name).toHaveProperty('value');
  });

  it('an unknown DataType number is kept as the number, as protobufjs keeps it, and refused as a dtype', () => {
    const result = expectSamePredict(Buffer.concat([mapEntry(2, 'x', Buffer.concat([int(1, 99), msg(2, msg(2, int(1, 1)))]))]));
    expect(result).toEqual([['x', { code: 'ERR_DTYPE', message: expect.stringMatching(/^inputs\["x"\]\.dtype: 99 is not a dtype/) }]]);
  });

  it('refuses a map entry without a value, as protobufjs does', () => {
    const bytes = msg(2, str(1, 'x'));
    expect(generic.predict.requestDeserialize(bytes)).toBeInstanceOf(MalformedMessage);
    expect((wire.predict.requestDeserialize(bytes) as MalformedMessage).reason).toMatch(/^inputs: the entry for key "x" has no value/);
  });

  it('follows protobuf in the version oneof: the member last on the wire is the one set', () => {
    const bytes = msg(1, str(1, 'm'), str(4, 'stable'), msg(2, int(1, 3)));
    expect((wire.predict.requestDeserialize(bytes) as PredictRequestWire).model_spec).toEqual({
      name: 'm', signature_name: '', version: { value: '3' }, version_choice: 'version',
    });
  });
});

// ---- Replies: encoded both ways, decoded by protobufjs into the same object ----

const OUTPUTS: Array<[string, Tensor]> = [
  ['scores', { dtype: 'float32', shape: [2, 3], data: new Float32Array([1.5, -0, NaN, Infinity, -3.25, 1e-40]) }],
  ['f64', { dtype: 'float64', shape: [2], data: new Float64Array([Math.E, -1e300]) }],
  ['ids', { dtype: 'int64', shape: [3], data: new BigInt64Array([-9223372036854775808n, -1n, 9223372036854775807n]) }],
  ['u64', { dtype: 'uint64', shape: [2], data: new BigUint64Array([18446744073709551615n, 0n]) }],
  ['i32', { dtype: 'int32', shape: [3], data: new Int32Array([-2147483648, -1, 300]) }],
  ['i8', { dtype: 'int8', shape: [2], data: new Int8Array([-128, 127]) }],
  ['i16', { dtype: 'int16', shape: [1], data: new Int16Array([-2]) }],
  ['u8', { dtype: 'uint8', shape: [2], data: new Uint8Array([0, 255]) }],
  ['u16', { dtype: 'uint16', shape: [1], data: new Uint16Array([65535]) }],
  ['u32', { dtype: 'uint32', shape: [1], data: new Uint32Array([4294967295]) }],
  ['half', { dtype: 'float16', shape: [1], data: new Uint16Array([0xc000]) }],
  ['bf16', { dtype: 'bfloat16', shape: [1], data: new Uint16Array([0x3f80]) }],
  ['mask', { dtype: 'bool', shape: [3], data: new Uint8Array([1, 0, 1]) }],
  ['text_bytes', { dtype: 'string', shape: [3], data: [Buffer.from('ünï'), Buffer.alloc(0), Buffer.from([0xff])] }],
  ['scalar', { dtype: 'float32', shape: [], data: new Float32Array([5]) }],
  ['empty', { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) }],
  ['0', { dtype: 'int32', shape: [1], data: new Int32Array([0]) }],
];

const RESPONSES: InferResponse[] = [
  { model: 'mlp', version: 2, id: 'abc', outputs: new Map(OUTPUTS) },
  { model: 'mlp', version: 9007199254740991, outputs: new Map([OUTPUTS[0]!]) },
  { model: 'ünï', version: 1, id: '', outputs: new Map() },
];

const responseDeserialize = (service: string, name: string) => client(service, name).responseDeserialize;

describe('replies: protobufjs reads the new encoding as the object the generic encoding gives', () => {
  it('ModelInferResponse', () => {
    const read = responseDeserialize(KSERVE, 'ModelInfer');
    for (const response of RESPONSES) {
      const mine = encodeModelInferResponse(modelInferReply(response));
      expect(read(mine)).toEqual(read(serializeMessage('inference.ModelInferResponse', encodeModelInfer(response))));
    }
  });

  it('raw_output_contents carry the tensor bytes as they are (one copy each)', () => {
    const reply = modelInferReply(RESPONSES[0]!);
    const decoded = responseDeserialize(KSERVE, 'ModelInfer')(encodeModelInferResponse(reply)) as { raw_output_contents: Buffer[] };
    expect(decoded.raw_output_contents.map((b) => b.toString('hex'))).toEqual(OUTPUTS.map(([, t]) => Buffer.from(tensorToBytes(t)).toString('hex')));
  });

  it('ModelStreamInferResponse: an answer and an error', () => {
    const read = responseDeserialize(KSERVE, 'ModelStreamInfer');
    const answer = RESPONSES[0]!;
    expect(read(encodeModelStreamInferResponse({ error_message: '', infer_response: modelInferReply(answer) })))
      .toEqual(read(serializeMessage('inference.ModelStreamInferResponse', { error_message: '', infer_response: encodeModelInfer(answer) })));
    const parameters = { error_code: { parameter_choice: 'string_param' as const, string_param: 'ERR_SHAPE' }, n: { parameter_choice: 'int64_param' as const, int64_param: '-5' }, u: { parameter_choice: 'uint64_param' as const, uint64_param: '18446744073709551615' }, b: { parameter_choice: 'bool_param' as const, bool_param: true }, d: { parameter_choice: 'double_param' as const, double_param: 0.5 } };
    const error = { model_name: 'mlp', model_version: '', id: 'r-7', outputs: [], parameters };
    expect(read(encodeModelStreamInferResponse({ error_message: 'inputs[0]: bad', infer_response: error })))
      .toEqual(read(serializeMessage('inference.ModelStreamInferResponse', { error_message: 'inputs[0]: bad', infer_response: { ...error, parameters: {
        error_code: { string_param: 'ERR_SHAPE' }, n: { int64_param: '-5' }, u: { uint64_param: '18446744073709551615' }, b: { bool_param: true }, d: { double_param: 0.5 },
      } } })));
    expect(read(encodeModelStreamInferResponse({ error_message: 'x', infer_response: null }))).toEqual(read(serializeMessage('inference.ModelStreamInferResponse', { error_message: 'x' })));
  });

  it('PredictResponse: every dtype in its typed field, the answered model spec', () => {
    const read = responseDeserialize(PREDICTION, 'Predict');
    for (const response of RESPONSES) {
      const spec = { name: response.model, version: response.version, signature_name: 'serving_default' };
      const mine = encodePredictResponse({ outputs: response.outputs, model_spec: spec });
      const theirs = serializeMessage('tensorflow.serving.PredictResponse', {
        outputs: Object.fromEntries([...response.outputs].map(([name, t]) => [name, tensorToTensorProto(t)])),
        model_spec: { name: spec.name, version: { value: String(spec.version) }, signature_name: spec.signature_name },
      });
      expect(read(mine)).toEqual(read(theirs));
    }
    const zero = encodePredictResponse({ outputs: [], model_spec: { name: '', version: 0, signature_name: '' } });
    expect(read(zero)).toEqual(read(serializeMessage('tensorflow.serving.PredictResponse', { model_spec: { version: { value: '0' } } })));
  });
});

describe('repeated bytes fields held as places in the message', () => {
  // Three values, one empty, one not UTF-8, each behind its field key and length: [key][len][bytes]...
  const values = [Buffer.from('ab'), Buffer.alloc(0), Buffer.from([0xff, 0x00])];
  const hex = (items: readonly Uint8Array[]) => items.map((v) => Buffer.from(v).toString('hex'));
  /** Where each value's bytes start in `message`, found by searching it here, not by the decoder. */
  const spansIn = (message: Buffer, field: Buffer) => {
    const at = message.indexOf(field);
    return [at + 2, 2, at + 6, 0, at + 8, 2];   // key, length 2, "ab", key, length 0, key, length 2, ff 00
  };

  it('TF Serving string_val: the tensor takes the message and each value\'s place, string_val still reads as views', () => {
    const field = Buffer.concat(values.map((v) => bytes(8, v)));
    const message = Buffer.concat([msg(1, str(1, 'm')), mapEntry(2, 'x', Buffer.concat([int(1, 7), msg(2, msg(2, int(1, 3))), field]))]);
    const request = wire.predict.requestDeserialize(message) as PredictRequestWire;
    const tp = request.inputs.x!;
    expect(tp.string_spans!.count).toBe(3);
    expect(hex(tp.string_val)).toEqual(hex(values));
    const t = tensorProtoWireToTensor(tp, 'inputs["x"]', MAX_BYTES);
    expect(t.packed!.lengthPrefixed).toBe(false);
    expect(Buffer.from(t.packed!.data).equals(message)).toBe(true);
    expect(Array.from(t.packed!.spans)).toEqual(spansIn(message, field));
    expect(hex(t.data as Uint8Array[])).toEqual(hex(values));
    // Written out in the BYTES wire form from the places (the message itself is not that form).
    expect(Buffer.from(tensorToBytes(t)).toString('hex')).toBe('0200000061620000000002000000ff00');
  });

  it('a field of 3,000 values is walked in steps (the event loop may turn between them), to the same values', () => {
    const many = Array.from({ length: 3000 }, (_, i) => Buffer.from(`v${i}`));
    const field = Buffer.concat(many.map((v) => bytes(8, v)));
    const tf = Buffer.concat([mapEntry(2, 'x', Buffer.concat([int(1, 7), msg(2, msg(2, int(1, many.length))), field]))]);
    const kserve = Buffer.concat([str(1, 'm'), msg(5, str(1, 'x'), str(2, 'BYTES'), int(3, many.length), bytes(5, field))]);
    const stepsOf = <T>(steps: Generator<number, T, void>): { steps: number; result: T } => {
      let n = 0;
      for (;;) {
        const next = steps.next();
        if (next.done === true) return { steps: n, result: next.value };
        n++;
      }
    };
    const predict = stepsOf(predictRequestSteps(tf));
    const infer = stepsOf(modelInferRequestSteps(kserve));
    // A step per 1,024 values at least: 2 for 3,000 (more only if other fields took steps of their own).
    expect(predict.steps).toBeGreaterThanOrEqual(2);
    expect(infer.steps).toBeGreaterThanOrEqual(2);
    expect(hex(predict.result.inputs.x!.string_val)).toEqual(hex(many));
    expect(hex(infer.result.inputs[0]!.contents!.bytes_contents)).toEqual(hex(many));
  });

  it('KServe bytes_contents: the same, and a count that does not match the shape is refused by the count', () => {
    const field = Buffer.concat(values.map((v) => bytes(8, v)));
    const input = (n: number) => msg(5, str(1, 'x'), str(2, 'BYTES'), int(3, n), bytes(5, field));
    const message = Buffer.concat([str(1, 'm'), input(3)]);
    const request = wire.infer.requestDeserialize(message) as ModelInferRequestWire;
    expect(request.inputs[0]!.contents!.bytes_spans!.count).toBe(3);
    expect(hex(request.inputs[0]!.contents!.bytes_contents)).toEqual(hex(values));
    const t = decodeModelInfer(request, MAX_BYTES).inputs.get('x')!;
    expect(t.packed!.lengthPrefixed).toBe(false);
    expect(Array.from(t.packed!.spans)).toEqual(spansIn(message, field));
    expect(hex(t.data as Uint8Array[])).toEqual(hex(values));
    const short = wire.infer.requestDeserialize(Buffer.concat([str(1, 'm'), input(4)])) as ModelInferRequestWire;
    expect(() => decodeModelInfer(short, MAX_BYTES)).toThrow(/contents\.bytes_contents: 3 values, but shape \[4\] needs 4/);
  });
});
