// Question: what does the hand-written protobuf codec (src/protocol/protobuf/) save against protobufjs objects on the
// server's gRPC hot path? Each task decodes a received request into tensors and encodes the reply, as the server does
// per call: the generic path (proto-loader's protobufjs decode + toObject, decodeModelInfer / tensorProtoToTensor,
// then a protobufjs object serialized) against the wire codec. Run: node bench/protocol/grpc-codec.bench.mjs (needs dist/).
import { pathToFileURL } from 'node:url';
import { loadSync } from '@grpc/proto-loader';
import { KSERVE_WIRE_CODECS, PREDICTION_WIRE_CODECS } from '../../dist/src/frontends/grpc/grpc-wire-codecs.js';
import { decodeModelInfer, encodeModelInfer, modelInferReply } from '../../dist/src/frontends/grpc/kserve-grpc-codec.js';
import { guardedService, PROTO_OPTIONS, schemasDir, SCHEMA_FILES } from '../../dist/src/frontends/grpc/proto-schemas.js';
import { tensorProtoToTensor, tensorToTensorProto } from '../../dist/src/frontends/grpc/tf-tensor-proto.js';
import { tensorProtoWireToTensor } from '../../dist/src/frontends/grpc/tf-tensor-wire.js';
import { compare } from '../lib/compare.mjs';

const MAX_BYTES = 64 << 20;
const KSERVE = 'inference.GRPCInferenceService';
const PREDICTION = 'tensorflow.serving.PredictionService';
const generic = { infer: guardedService(KSERVE).ModelInfer, predict: guardedService(PREDICTION).Predict };
const wire = { infer: guardedService(KSERVE, KSERVE_WIRE_CODECS).ModelInfer, predict: guardedService(PREDICTION, PREDICTION_WIRE_CODECS).Predict };
// The client's serializers, as a user's grpc-js client builds them from schemas/.
const client = loadSync(SCHEMA_FILES, { ...PROTO_OPTIONS, includeDirs: [schemasDir()] });

const floats = (n) => new Float32Array(n).map((_, i) => Math.fround(Math.sin(i) * 100));
/** The request as the server receives it: a Buffer of its own (a copy at offset 0). */
const received = (bytes) => Buffer.from(bytes);

/** ModelInfer with raw_input_contents; the reply echoes a tensor of the same shape (the output size a model gives varies). */
function inferCase(shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = floats(n);
  const request = received(client[KSERVE].ModelInfer.requestSerialize({
    model_name: 'model', id: 'request-1', inputs: [{ name: 'x', datatype: 'FP32', shape }],
    raw_input_contents: [Buffer.from(data.buffer)],
  }));
  const response = { model: 'model', version: 1, id: 'request-1', outputs: new Map([['y', { dtype: 'float32', shape, data }]]) };
  const run = (decode, encode) => () => {
    const decoded = decodeModelInfer(decode(request), MAX_BYTES);
    if (decoded.inputs.get('x').data.length !== n) throw new Error('decode lost data');
    return encode(response);
  };
  return {
    generic: run(generic.infer.requestDeserialize, (r) => generic.infer.responseSerialize(encodeModelInfer(r))),
    wire: run(wire.infer.requestDeserialize, (r) => wire.infer.responseSerialize(modelInferReply(r))),
  };
}

/** TF Predict with one input in float_val (or tensor_content) and one output answered in float_val, as TF Serving does. */
function predictCase(shape, form) {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = floats(n);
  const values = form === 'float_val' ? { float_val: Array.from(data) } : { tensor_content: Buffer.from(data.buffer) };
  const request = received(client[PREDICTION].Predict.requestSerialize({
    model_spec: { name: 'model', signature_name: 'serving_default' },
    inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: shape.map((size) => ({ size })) }, ...values } },
  }));
  const outputs = new Map([['y', { dtype: 'float32', shape, data }]]);
  const run = (decode, toTensor, encode) => () => {
    const msg = decode(request);
    const inputs = new Map(Object.entries(msg.inputs).map(([name, tp]) => [name, toTensor(tp, `inputs["${name}"]`, MAX_BYTES)]));
    if (inputs.get('x').data.length !== n) throw new Error('decode lost data');
    return encode(outputs);
  };
  const spec = { name: 'model', version: 1, signature_name: 'serving_default' };
  return {
    generic: run(generic.predict.requestDeserialize, tensorProtoToTensor, (o) => generic.predict.responseSerialize({
      outputs: Object.fromEntries([...o].map(([name, t]) => [name, tensorToTensorProto(t)])),
      model_spec: { name: spec.name, version: { value: String(spec.version) }, signature_name: spec.signature_name },
    })),
    wire: run(wire.predict.requestDeserialize, tensorProtoWireToTensor, (o) => wire.predict.responseSerialize({ outputs: o, model_spec: spec })),
  };
}

const CASES = [
  ['ModelInfer, [1,64] FP32 in raw_input_contents', () => inferCase([1, 64])],
  ['ModelInfer, [1,3,48,192] FP32 in raw_input_contents', () => inferCase([1, 3, 48, 192])],
  ['TF Predict, [1,64] DT_FLOAT in float_val', () => predictCase([1, 64], 'float_val')],
  ['TF Predict, [1,64] DT_FLOAT in tensor_content', () => predictCase([1, 64], 'tensor_content')],
];

/** Runs every comparison; returns one record per question. */
export async function run({ rounds = 5, timeMs = 300 } = {}) {
  const records = [];
  for (const [label, make] of CASES) {
    const c = make();
    records.push((await compare(`decode + encode, ${label}`,
      { name: 'protobufjs objects (generic path)', fn: c.generic },
      { name: 'wire codec (src/protocol/protobuf)', fn: c.wire },
      { rounds, timeMs })).record);
  }
  return records;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run({ rounds: 5, timeMs: 300 });
}
