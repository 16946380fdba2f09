// Large tensors are converted for the wire and from it in slices of --wire_slice_bytes, with the event loop turning in
// between (issue 17: nothing big on the JS thread): the sliced encoders and decoders give the bytes and values the
// one-shot ones give, on varied inputs, and do turn the loop; a real server answers a concurrent client while one
// large request of each such kind is being converted, and answers the large one right.

import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '../src/engine/tensor.js';
import type { InferResponse } from '../src/inference/infer-request.js';
import { encodedModelInferReply, encodeModelInfer } from '../src/frontends/grpc/kserve-grpc-codec.js';
import { serializeMessage } from '../src/frontends/grpc/proto-schemas.js';
import { tensorToTensorProto } from '../src/frontends/grpc/tf-tensor-proto.js';
import * as flatbuffers from 'flatbuffers';
import { PROTOCOL_VERSION, decodeInferResponse, encodeInferRequest, encodeInferResponse, encodeInferResponseInSlices } from '../src/protocol/flatbuffers/messages.js';
import { writeByteVector } from '../src/protocol/flatbuffers/tensors.js';
import { DataType } from '../src/protocol/flatbuffers/generated/ortserve/fb/data-type.js';
import { InferResponse as FbInferResponse } from '../src/protocol/flatbuffers/generated/ortserve/fb/infer-response.js';
import { Tensor as FbTensor } from '../src/protocol/flatbuffers/generated/ortserve/fb/tensor.js';
import { tensorSteps, textNow } from '../src/protocol/json/json-slices.js';
import { tensorToJson } from '../src/protocol/json/tensor-json.js';
import { decodeModelInferRequest, modelInferRequestSteps } from '../src/protocol/protobuf/kserve-infer-wire.js';
import { decodePredictRequest, encodePredictResponse, predictRequestSteps, predictResponseSteps } from '../src/protocol/protobuf/tf-predict-wire.js';
import { tensorToBytes, tensorToBytesSteps } from '../src/protocol/tensor-bytes.js';
import { TIMED_FROM_UNITS, runInSlices, runNow, setSliceTimeLimit, type WorkSteps } from '../src/protocol/work-slices.js';
import { DEFAULT_WIRE_SLICE_MICROS } from '../src/engine/tensor-limits.js';
import { buildModel } from '../scripts/onnx/onnx-writer.mjs';
import { definition, grpc, grpcClients, rawUnaryCall, type GrpcClients } from './support/grpc-client.js';
import { bytes, int, msg, readFields, str, varint } from './support/protobuf-wire.js';
import { mlpModel } from './support/registry-helpers.js';
import { postOnOwnConnection, startServerChild, whileLarge, type OwnConnectionAnswer, type ServerChild } from './support/server-child.js';
import { writeRepository } from './support/test-server.js';


// ---- Inputs: deterministic pseudo-random, so a failure repeats ----
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** int64 values whose varints take every length from 1 to 10 bytes (negative ones 10). */
function int64s(n: number, seed: number): BigInt64Array {
  const next = random(seed);
  const out = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const bits = BigInt(Math.floor(next() * 63));
    const magnitude = BigInt(Math.floor(next() * 2 ** 31)) << (bits > 31n ? bits - 31n : 0n);
    out[i] = next() < 0.2 ? -magnitude - 1n : magnitude;
  }
  return out;
}

function strings(n: number, maxLength: number, seed: number): Buffer[] {
  const next = random(seed);
  return Array.from({ length: n }, () => {
    const b = Buffer.alloc(Math.floor(next() * maxLength));
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(next() * 256);
    return b;
  });
}

const BIG_OUTPUTS: Array<[string, Tensor]> = (() => {
  const next = random(7);
  return [
    ['ids', { dtype: 'int64', shape: [40_000], data: int64s(40_000, 1) }],
    ['u64', { dtype: 'uint64', shape: [10_000], data: new BigUint64Array(int64s(10_000, 2).buffer) }],
    ['i32', { dtype: 'int32', shape: [20_000], data: Int32Array.from({ length: 20_000 }, () => Math.floor((next() - 0.5) * 2 ** 32)) }],
    ['u8', { dtype: 'uint8', shape: [20_000], data: Uint8Array.from({ length: 20_000 }, () => Math.floor(next() * 256)) }],
    ['mask', { dtype: 'bool', shape: [60_000], data: Uint8Array.from({ length: 60_000 }, () => (next() < 0.5 ? 1 : 0)) }],
    ['scores', { dtype: 'float32', shape: [100, 1000], data: Float32Array.from({ length: 100_000 }, () => next() * 1e6 - 5e5) }],
    ['f64', { dtype: 'float64', shape: [20_000], data: Float64Array.from({ length: 20_000 }, () => next()) }],
    ['text_bytes', { dtype: 'string', shape: [3000], data: strings(3000, 2000, 3) }],
    ['small', { dtype: 'float32', shape: [2], data: new Float32Array([1.5, -2]) }],
  ];
})();
const BIG_RESPONSE: InferResponse = { model: 'big', version: 3, id: 'r-1', outputs: new Map(BIG_OUTPUTS) };

/** A FlatBuffers InferResponse built with the generated code, tensor data by tensorToBytes then one bulk copy. */
function referenceResponse(id: string, model: string, version: number, outputs: Map<string, Tensor>): Buffer {
  const b = new flatbuffers.Builder(1024);
  const tensors = [...outputs].map(([name, t]) => {
    const data = writeByteVector(b, tensorToBytes(t));
    const shape = FbTensor.createShapeVector(b, t.shape.map((d) => BigInt(d)));
    const nameOffset = b.createString(name);
    FbTensor.startTensor(b);
    FbTensor.addName(b, nameOffset);
    FbTensor.addDatatype(b, DATA_TYPE[t.dtype]!);
    FbTensor.addShape(b, shape);
    FbTensor.addData(b, data);
    return FbTensor.endTensor(b);
  });
  const vector = FbInferResponse.createOutputsVector(b, tensors);
  const idOffset = b.createString(id);
  const modelOffset = b.createString(model);
  FbInferResponse.startInferResponse(b);
  FbInferResponse.addProtocolVersion(b, PROTOCOL_VERSION);
  FbInferResponse.addId(b, idOffset);
  FbInferResponse.addModelName(b, modelOffset);
  FbInferResponse.addModelVersion(b, BigInt(version));
  FbInferResponse.addOutputs(b, vector);
  b.finish(FbInferResponse.endInferResponse(b), 'OSV1');
  return Buffer.from(b.asUint8Array());
}
const DATA_TYPE: Partial<Record<string, DataType>> = {
  int64: DataType.INT64, uint64: DataType.UINT64, int32: DataType.INT32, uint8: DataType.UINT8, bool: DataType.BOOL,
  float32: DataType.FP32, float64: DataType.FP64, string: DataType.BYTES,
};

/**
 * Runs `steps` in slices of `sliceBytes` and counts the turns of the event loop that passed meanwhile (a setImmediate
 * ticker): more than one proves the work was spread out rather than done in one piece.
 */
async function sliced<T>(steps: WorkSteps<T>, sliceBytes: number): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let done = false;
  const tick = () => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const value = await runInSlices(steps, sliceBytes);
  done = true;
  return { value, turns };
}

const SLICE = 16 * 1024;
const client = (service: string, name: string) => (definition[service] as unknown as Record<string, grpc.MethodDefinition<unknown, unknown>>)[name]!;

describe('sliced conversions give the one-shot bytes and values', () => {
  it('TF PredictResponse: every typed field, byte for byte, and protobufjs reads what the generic encoder writes', async () => {
    const reply = { outputs: BIG_OUTPUTS, model_spec: { name: 'big', version: 3, signature_name: 'serving_default' } };
    const oneShot = encodePredictResponse(reply);
    const { value, turns } = await sliced(predictResponseSteps(reply), SLICE);
    expect(turns).toBeGreaterThan(10);
    expect(Buffer.compare(value, oneShot)).toBe(0);
    // An answer encoded in slices by the handler is sent as it is.
    expect(encodePredictResponse({ ...reply, encoded: value })).toBe(value);
    const read = client('tensorflow.serving.PredictionService', 'Predict').responseDeserialize;
    const theirs = serializeMessage('tensorflow.serving.PredictResponse', {
      outputs: Object.fromEntries(BIG_OUTPUTS.map(([name, t]) => [name, tensorToTensorProto(t)])),
      model_spec: { name: 'big', version: { value: '3' }, signature_name: 'serving_default' },
    });
    expect(read(value)).toEqual(read(theirs));
  }, 120_000);

  it('KServe ModelInferResponse: BYTES converted and raw_output_contents copied in slices, byte for byte', async () => {
    const oneShot = encodedModelInferReply(BIG_RESPONSE, Number.POSITIVE_INFINITY) as { encoded?: Buffer };
    const slicedReply = await encodedModelInferReply(BIG_RESPONSE, SLICE);
    expect(Buffer.compare(slicedReply.encoded!, oneShot.encoded!)).toBe(0);
    const read = client('inference.GRPCInferenceService', 'ModelInfer').responseDeserialize;
    expect(read(slicedReply.encoded!)).toEqual(read(serializeMessage('inference.ModelInferResponse', encodeModelInfer(BIG_RESPONSE))));
  }, 120_000);

  it('BYTES tensors length-prefixed in slices: the 4-byte lengths and bytes, computed here independently', async () => {
    const text = BIG_OUTPUTS.find(([name]) => name === 'text_bytes')![1];
    const { value, turns } = await sliced(tensorToBytesSteps(text), SLICE);
    expect(turns).toBeGreaterThan(10);
    const expected = Buffer.concat((text.data as Buffer[]).flatMap((s) => { const l = Buffer.alloc(4); l.writeUInt32LE(s.length); return [l, s]; }));
    expect(Buffer.compare(Buffer.from(value), expected)).toBe(0);
  });

  it('FlatBuffers answers built in slices in a builder of their own equal the one-shot answer', async () => {
    const outputs = new Map(BIG_OUTPUTS.filter(([name]) => name !== 'u64' && name !== 'mask'));
    const oneShot = encodeInferResponse('r-1', 'big', 3, outputs);
    const slicedBytes = await encodeInferResponseInSlices('r-1', 'big', 3, outputs, SLICE);
    expect(Buffer.compare(Buffer.from(slicedBytes), Buffer.from(oneShot))).toBe(0);
    // Both equal the answer built with the generated API, each tensor's data length-prefixed into a buffer of its own
    // first (tensorToBytes), as before BYTES elements were written straight into the message.
    expect(Buffer.compare(Buffer.from(oneShot), referenceResponse('r-1', 'big', 3, outputs))).toBe(0);
    // A small answer is built at once, in the shared builder, as before.
    const small = new Map([BIG_OUTPUTS.at(-1)!]);
    const now = encodeInferResponseInSlices('r-2', 'big', 3, small, SLICE);
    expect(now).toBeInstanceOf(Uint8Array);
    expect(decodeInferResponse(now as Uint8Array).outputs.get('small')!.data).toEqual(new Float32Array([1.5, -2]));
  }, 60_000);

  it('JSON answers weigh strings by their bytes: long strings take several steps, the text is unchanged', () => {
    const text = BIG_OUTPUTS.find(([name]) => name === 'text_bytes')![1];
    let steps = 0;
    const gen = tensorSteps(text, { bytesAsB64: true }, 16_384);
    let result: IteratorResult<number, string>;
    while (!(result = gen.next()).done) steps++;
    // 3,000 strings of 1 KB on average: about 47,000 "values" of weight, so at least 3 steps of 16,384.
    expect(steps).toBeGreaterThanOrEqual(3);
    expect(result.value).toBe(tensorToJson(text, { bytesAsB64: true }));
    expect(textNow(tensorSteps(text, { bytesAsB64: true }, 16_384))).toBe(result.value);
  });

  it('TF PredictRequest decoded in slices: packed int64, int32, bool and float runs give the values that were sent', async () => {
    const ids = int64s(100_000, 11);
    const ints = Int32Array.from(int64s(100_000, 12), (v) => Number(BigInt.asIntN(32, v)));
    const floats = Float32Array.from({ length: 100_000 }, (_, i) => i / 7);
    const flags = Uint8Array.from({ length: 100_000 }, (_, i) => i % 3 === 0 ? 1 : 0);
    const packed = (field: number, values: Iterable<number | bigint>) => bytes(field, Buffer.concat([...values].map((v) => varint(v))));
    const tensor = (dtype: number, n: number, ...fields: Buffer[]) => Buffer.concat([int(1, dtype), msg(2, msg(2, int(1, n))), ...fields]);
    const message = Buffer.concat([
      msg(1, str(1, 'm')),
      msg(2, str(1, 'ids'), bytes(2, tensor(9, ids.length, packed(10, ids)))),
      msg(2, str(1, 'ints'), bytes(2, tensor(3, ints.length, packed(7, ints)))),
      msg(2, str(1, 'flags'), bytes(2, tensor(10, flags.length, packed(11, flags)))),
      msg(2, str(1, 'floats'), bytes(2, tensor(1, floats.length, bytes(5, Buffer.from(floats.buffer))))),
    ]);
    const { value, turns } = await sliced(predictRequestSteps(message), SLICE);
    expect(turns).toBeGreaterThan(10);
    expect(value.inputs['ids']!.int64_val).toEqual(ids);
    expect(value.inputs['ints']!.int_val).toEqual(ints);
    expect(value.inputs['flags']!.bool_val).toEqual(flags);
    expect(value.inputs['floats']!.float_val).toEqual(floats);
    expect(value).toEqual(decodePredictRequest(message));
    // A malformed run is refused in slices with the one-shot decoder's message.
    const bad = Buffer.concat([message, msg(2, str(1, 'x'), bytes(2, tensor(9, 2, bytes(10, Buffer.from([0x80])))))]);
    expect(() => decodePredictRequest(bad)).toThrow(/the packed run ends inside a varint/);
    await expect(runInSlices(predictRequestSteps(bad), SLICE)).rejects.toThrow(/the packed run ends inside a varint/);
  }, 60_000);

  it('KServe ModelInferRequest decoded in slices: int64_contents and fp32_contents give the values that were sent', async () => {
    const ids = int64s(100_000, 21);
    const floats = Float32Array.from({ length: 100_000 }, (_, i) => -i / 3);
    const message = Buffer.concat([
      str(1, 'm'),
      msg(5, str(1, 'ids'), str(2, 'INT64'), bytes(3, varint(ids.length)), msg(5, bytes(3, Buffer.concat([...ids].map((v) => varint(v)))))),
      msg(5, str(1, 'f'), str(2, 'FP32'), bytes(3, varint(floats.length)), msg(5, bytes(6, Buffer.from(floats.buffer)))),
    ]);
    const { value, turns } = await sliced(modelInferRequestSteps(message), SLICE);
    expect(turns).toBeGreaterThan(5);
    expect(value.inputs[0]!.contents!.int64_contents).toEqual(ids);
    expect(value.inputs[1]!.contents!.fp32_contents).toEqual(floats);
    expect(value).toEqual(decodeModelInferRequest(message));
  }, 60_000);

  it('runInSlices gives the result itself when the work fits in one slice', () => {
    function* small(): WorkSteps<number> {
      yield 10;
      return 42;
    }
    expect(runInSlices(small(), 1024)).toBe(42);
    expect(runNow(small())).toBe(42);
  });

  it('a slice also ends once --wire_slice_micros have passed, never before TIMED_FROM_UNITS of work; 0 (or Infinity units) ends it by units only', async () => {
    // Steps that each stay busy 2 ms, twice the 1 ms limit set below, so the clock always says a step ran over it.
    let ran = 0;
    function* slow(count: number, units: number): WorkSteps<number> {
      for (let i = 0; i < count; i++) {
        const until = performance.now() + 2;
        while (performance.now() < until) { /* a step slower than the limit */ }
        ran++;
        yield units;
      }
      return count;
    }
    const NO_UNIT_LIMIT = 2 ** 30;
    try {
      setSliceTimeLimit(1000);
      // Over time after the first step, which did TIMED_FROM_UNITS: the slice ends there, the rest in later turns.
      const sliced = runInSlices(slow(5, TIMED_FROM_UNITS), NO_UNIT_LIMIT);
      expect(sliced).toBeInstanceOf(Promise);
      expect(ran).toBe(1);
      await expect(sliced).resolves.toBe(5);
      expect(ran).toBe(5);
      // Steps of half that work: the slice goes on until TIMED_FROM_UNITS is done (two steps), over time or not.
      ran = 0;
      const halves = runInSlices(slow(5, TIMED_FROM_UNITS / 2), NO_UNIT_LIMIT);
      expect(ran).toBe(2);
      await expect(halves).resolves.toBe(5);
      // Work under TIMED_FROM_UNITS in all is done in the turn it starts, however long it takes.
      ran = 0;
      expect(runInSlices(slow(3, 100), NO_UNIT_LIMIT)).toBe(3);
      // Infinity units: the caller asks for everything in this turn.
      expect(runInSlices(slow(3, TIMED_FROM_UNITS), Number.POSITIVE_INFINITY)).toBe(3);
      // 0: no time limit, the units alone end a slice (none here).
      setSliceTimeLimit(0);
      ran = 0;
      expect(runInSlices(slow(5, TIMED_FROM_UNITS), NO_UNIT_LIMIT)).toBe(5);
      expect(ran).toBe(5);
    } finally {
      setSliceTimeLimit(DEFAULT_WIRE_SLICE_MICROS);
    }
  });
});

// ---- A real server: one large request of each kind, and a concurrent client answered meanwhile ----

/**
 * A behaviour bound, not a benchmark (as in test/hostile-sizes.test.ts): the concurrent client's answer must not
 * wait for the large request to be done. Generous, so that a loaded machine cannot fail it.
 */

function identity(name: string, dtype: string): Uint8Array {
  return buildModel({ graph: {
    name, inputs: [{ name: 'x', dtype, shape: ['n'] }], outputs: [{ name: 'y', dtype, shape: ['n'] }],
    nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
  } });
}
const stringModel = () => buildModel({ graph: {
  name: 'strings', inputs: [{ name: 'text', dtype: 'string', shape: ['n'] }], outputs: [{ name: 'text_bytes', dtype: 'string', shape: ['n'] }],
  nodes: [{ op: 'Identity', inputs: ['text'], outputs: ['text_bytes'] }],
} });

type Child = ServerChild;

function startChild(options: Record<string, unknown> = {}): Promise<Child> {
  const repository = writeRepository({ mlp: { 1: mlpModel(1) }, id_i64: { 1: identity('id_i64', 'int64') }, strings: { 1: stringModel() } });
  return startServerChild({ modelBasePath: repository, fileSystemPollWaitSeconds: 0, ...options });
}

/** A server child (startChild with `options`) and gRPC clients to it for the tests of one describe block. */
function serverChild(options: Record<string, unknown> = {}): { child: Child; clients: GrpcClients } {
  const server = {} as { child: Child; clients: GrpcClients };
  beforeAll(async () => {
    server.child = await startChild(options);
    server.clients = grpcClients(server.child.grpcAddress);
  }, 30_000);
  afterAll(() => {
    server.clients?.close();
    server.child?.process.kill('SIGKILL');
  });
  return server;
}

/**
 * A TF Predict of `n` seeded int64_val to id_i64 (raw unary gRPC) while another client is answered: the answer's
 * outputs (1) → entry value (2) → TensorProto int64_val (10) must be the same canonical varints that were sent.
 */
async function int64PredictRoundTrip(server: { child: Child; clients: GrpcClients }, n: number, seed: number): Promise<void> {
  const ids = int64s(n, seed);
  const packed = Buffer.concat([...ids].map((v) => varint(v)));
  const tensor = Buffer.concat([int(1, 9), msg(2, msg(2, int(1, ids.length))), bytes(10, packed)]);
  const message = Buffer.concat([msg(1, str(1, 'id_i64')), msg(2, str(1, 'x'), bytes(2, tensor))]);
  const result = await whileLarge(server.child.baseUrl, () => rawUnaryCall(server.clients.prediction, '/tensorflow.serving.PredictionService/Predict', message));
  expect(result.error).toBeUndefined();
  expect(Buffer.compare(fieldAt(result.response!, 1, 2, 10), packed)).toBe(0);
}

function post(child: Child, urlPath: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<OwnConnectionAnswer> {
  return postOnOwnConnection(`${child.baseUrl}${urlPath}`, body, headers, 60_000);
}


/** The bytes of a packed field `field` inside the first length-delimited field `outer` of `message`, recursively by path. */
function fieldAt(message: Buffer, ...fieldPath: number[]): Buffer {
  let current = message;
  for (const f of fieldPath) current = readFields(current).find((x) => x.field === f)!.value as Buffer;
  return current;
}

describe('a real server converts one large request in slices while another client is answered', () => {
  const server = serverChild();

  it('TF gRPC Predict, 2M int64_val in and out (varints decoded and encoded in slices): the answer holds the values sent', async () => {
    await int64PredictRoundTrip(server, 2_000_000, 31);
  }, 120_000);

  it('TF gRPC Predict, [2M] int64 filled from one int64_val (written in slices before the run): every value is it', async () => {
    const tensor = Buffer.concat([int(1, 9), msg(2, msg(2, int(1, 2_000_000))), bytes(10, varint(-300n))]);
    const message = Buffer.concat([msg(1, str(1, 'id_i64')), msg(2, str(1, 'x'), bytes(2, tensor))]);
    const result = await whileLarge(server.child.baseUrl, () => rawUnaryCall(server.clients.prediction, '/tensorflow.serving.PredictionService/Predict', message));
    expect(result.error).toBeUndefined();
    expect(Buffer.compare(fieldAt(result.response!, 1, 2, 10), Buffer.concat(Array.from({ length: 2_000_000 }, () => varint(-300n))))).toBe(0);
  }, 120_000);

  it('KServe gRPC ModelInfer, 2M int64_contents in, raw_output_contents out: the answer holds the values sent', async () => {
    const ids = int64s(2_000_000, 41);
    const message = Buffer.concat([str(1, 'id_i64'),
      msg(5, str(1, 'x'), str(2, 'INT64'), bytes(3, varint(ids.length)), msg(5, bytes(3, Buffer.concat([...ids].map((v) => varint(v))))))]);
    const result = await whileLarge(server.child.baseUrl, () => rawUnaryCall(server.clients.kserve, '/inference.GRPCInferenceService/ModelInfer', message));
    expect(result.error).toBeUndefined();
    expect(Buffer.compare(fieldAt(result.response!, 6), Buffer.from(ids.buffer))).toBe(0);
  }, 120_000);

  it('KServe gRPC ModelInfer, 16,384 BYTES of up to 3 KB (views into ORT, converted in slices): each string comes back', async () => {
    const text = strings(16_384, 3000, 51);
    const message = Buffer.concat([str(1, 'strings'),
      msg(5, str(1, 'text'), str(2, 'BYTES'), bytes(3, varint(text.length)), msg(5, ...text.map((s) => bytes(8, s))))]);
    const result = await whileLarge(server.child.baseUrl, () => rawUnaryCall(server.clients.kserve, '/inference.GRPCInferenceService/ModelInfer', message));
    expect(result.error).toBeUndefined();
    const expected = Buffer.concat(text.flatMap((s) => { const l = Buffer.alloc(4); l.writeUInt32LE(s.length); return [l, s]; }));
    expect(Buffer.compare(fieldAt(result.response!, 6), expected)).toBe(0);
  }, 120_000);

  it('FlatBuffers HTTP, 16,384 strings of up to 3 KB: each string comes back', async () => {
    const text = strings(16_384, 3000, 61);
    const body = encodeInferRequest({ id: 'big', model: 'strings', outputs: [], inputs: new Map([['text', { dtype: 'string', shape: [text.length], data: text }]]) });
    const res = await whileLarge(server.child.baseUrl, () => post(server.child, '/v1/flatbuffers/infer', body, { 'content-type': 'application/x-flatbuffers' }));
    expect(res.status).toBe(200);
    const out = decodeInferResponse(res.body).outputs.get('text_bytes')!.data as Uint8Array[];
    expect(out).toHaveLength(text.length);
    for (let i = 0; i < text.length; i += 997) expect(Buffer.compare(Buffer.from(out[i]!), text[i]!)).toBe(0);
    expect(Buffer.compare(Buffer.from(out.at(-1)!), text.at(-1)!)).toBe(0);
  }, 120_000);

  it('KServe REST binary, 2M int64 in (placed aligned, viewed) and out (written in pieces as the socket takes them): the bytes sent', async () => {
    const ids = int64s(2_000_000, 81);
    // A header whose length is not a multiple of 8: the binary data after it lands misaligned unless the body is placed.
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'INT64', shape: [ids.length], parameters: { binary_data_size: ids.byteLength } }],
      parameters: { binary_data_output: true }, id: 'odd' }));
    const body = Buffer.concat([header, Buffer.from(ids.buffer)]);
    const res = await whileLarge(server.child.baseUrl, () => post(server.child, '/v2/models/id_i64/infer', body, { 'inference-header-content-length': String(header.length) }));
    expect(res.status).toBe(200);
    const jsonLength = Number(res.headers['inference-header-content-length']);
    expect(JSON.parse(res.body.subarray(0, jsonLength).toString()).outputs[0].parameters.binary_data_size).toBe(ids.byteLength);
    expect(res.body.length).toBe(jsonLength + ids.byteLength);
    expect(Buffer.compare(res.body.subarray(jsonLength), Buffer.from(ids.buffer))).toBe(0);
  }, 120_000);

  it('a large binary answer to a client that stops reading for a while: written on as the socket drains, whole and in order', async () => {
    const ids = int64s(2_000_000, 91);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'INT64', shape: [ids.length], parameters: { binary_data_size: ids.byteLength } }],
      parameters: { binary_data_output: true } }));
    const body = Buffer.concat([header, Buffer.from(ids.buffer)]);
    const url = new URL(server.child.baseUrl);
    const socket = net.connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    socket.write(`POST /v2/models/id_i64/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nInference-Header-Content-Length: ${header.length}\r\n\r\n`);
    socket.write(body);
    // Not reading: the server's socket buffer fills and the rest of the answer waits for onWritable.
    socket.pause();
    await new Promise((r) => setTimeout(r, 500));
    const chunks: Buffer[] = [];
    let received = 0;
    socket.on('data', (chunk: Buffer) => { chunks.push(chunk); received += chunk.length; });
    socket.resume();
    const headEnd = () => Buffer.concat(chunks).indexOf('\r\n\r\n');
    let total = -1;
    while (total < 0 || received < total) {
      await once(socket, 'data');
      if (total >= 0) continue;
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end >= 0) total = end + 4 + Number(/\r\ncontent-length: (\d+)/i.exec(all.subarray(0, end).toString())![1]);
    }
    socket.destroy();
    const all = Buffer.concat(chunks);
    const head = all.subarray(0, headEnd()).toString();
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    const jsonLength = Number(/inference-header-content-length: (\d+)/i.exec(head)![1]);
    const payload = all.subarray(headEnd() + 4);
    expect(payload.length).toBe(jsonLength + ids.byteLength);
    expect(Buffer.compare(payload.subarray(jsonLength), Buffer.from(ids.buffer))).toBe(0);
  }, 120_000);

  it('a large JSON answer of non-ASCII text (written in encoded pieces, surrogate pairs kept whole): each string comes back', async () => {
    // 3M UTF-16 units of emoji and accents: piece boundaries (every 256K characters) fall inside surrogate pairs.
    const text = Array.from({ length: 16_384 }, (_, i) => `${i}é${'😀'.repeat(90 + (i % 7))}`).map((t) => Buffer.from(t, 'utf8'));
    const data = Buffer.concat(text.flatMap((s) => { const l = Buffer.alloc(4); l.writeUInt32LE(s.length); return [l, s]; }));
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [text.length], parameters: { binary_data_size: data.length } }] }));
    const res = await whileLarge(server.child.baseUrl, () => post(server.child, '/v2/models/strings/infer', Buffer.concat([header, data]), { 'inference-header-content-length': String(header.length) }));
    expect(res.status).toBe(200);
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    expect(JSON.parse(res.body.toString('utf8')).outputs[0].data).toEqual(text.map((s) => s.toString('utf8')));
  }, 120_000);

  it('KServe REST, 16,384 BYTES of up to 3 KB as binary data in, as JSON out (weighed by their bytes): each string comes back', async () => {
    const text = strings(16_384, 3000, 71).map((b) => Buffer.from(b.toString('hex').slice(0, b.length)));   // printable
    const data = Buffer.concat(text.flatMap((s) => { const l = Buffer.alloc(4); l.writeUInt32LE(s.length); return [l, s]; }));
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [text.length], parameters: { binary_data_size: data.length } }] }));
    const res = await whileLarge(server.child.baseUrl, () => post(server.child, '/v2/models/strings/infer', Buffer.concat([header, data]), { 'inference-header-content-length': String(header.length) }));
    expect(res.status).toBe(200);
    const answer = JSON.parse(res.body.toString());
    expect(answer.outputs[0].data).toEqual(text.map((s) => s.toString()));
  }, 120_000);
});

describe('with --wire_slice_micros=1, every slice and every turn of writing ends after one step: the answers are whole', () => {
  // A 1 µs limit is over after any step, so each conversion goes on a step per turn and a large HTTP answer a piece
  // per turn (HttpExchange.sendInPieces resuming on the next turn): an answer lost, cut or written twice shows here.
  const server = serverChild({ wireSliceMicros: 1 });

  it('TF gRPC Predict, 1M int64_val in and out: the varints sent come back', async () => {
    await int64PredictRoundTrip(server, 1_000_000, 101);
  }, 120_000);

  it('KServe REST binary, 2M int64 out in pieces a turn each, twice on one connection: the bytes sent, in order', async () => {
    const url = new URL(server.child.baseUrl);
    const socket = net.connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]); });
    try {
      for (const seed of [111, 112]) {
        const ids = int64s(2_000_000, seed);
        const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'INT64', shape: [ids.length], parameters: { binary_data_size: ids.byteLength } }],
          parameters: { binary_data_output: true } }));
        socket.write(`POST /v2/models/id_i64/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${header.length + ids.byteLength}\r\nInference-Header-Content-Length: ${header.length}\r\n\r\n`);
        socket.write(Buffer.concat([header, Buffer.from(ids.buffer)]));
        // The whole answer: its head, then Content-Length bytes (a second answer on the connection only after it).
        let total = -1;
        while (total < 0 || received.length < total) {
          await once(socket, 'data');
          const end = received.indexOf('\r\n\r\n');
          if (total < 0 && end >= 0) total = end + 4 + Number(/\r\ncontent-length: (\d+)/i.exec(received.subarray(0, end).toString())![1]);
        }
        const end = received.indexOf('\r\n\r\n');
        const head = received.subarray(0, end).toString();
        expect(head).toMatch(/^HTTP\/1\.1 200/);
        const jsonLength = Number(/inference-header-content-length: (\d+)/i.exec(head)![1]);
        const payload = received.subarray(end + 4, total);
        expect(payload.length).toBe(jsonLength + ids.byteLength);
        expect(Buffer.compare(payload.subarray(jsonLength), Buffer.from(ids.buffer))).toBe(0);
        received = received.subarray(total);
      }
      expect(received.length).toBe(0);
    } finally {
      socket.destroy();
    }
  }, 120_000);

  it('a large JSON answer in text pieces a turn each: each string comes back', async () => {
    const text = strings(16_384, 1000, 121).map((b) => Buffer.from(b.toString('hex').slice(0, b.length)));
    const data = Buffer.concat(text.flatMap((t) => { const l = Buffer.alloc(4); l.writeUInt32LE(t.length); return [l, t]; }));
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [text.length], parameters: { binary_data_size: data.length } }] }));
    const res = await whileLarge(server.child.baseUrl, () => post(server.child, '/v2/models/strings/infer', Buffer.concat([header, data]), { 'inference-header-content-length': String(header.length) }));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString()).outputs[0].data).toEqual(text.map((t) => t.toString()));
  }, 120_000);
});

describe('a message decoded in slices counts in the server\'s bytes in flight meanwhile', () => {
  const server = serverChild({ maxInFlightBytes: 4_000_000 });

  const inFlightGauge = async () => {
    const text = await (await fetch(`${server.child.baseUrl}/metrics`)).text();
    return Number(/^ortserve_in_flight_bytes (\d+)$/m.exec(text)![1]);
  };
  const int64Message = (n: number) => Buffer.concat([msg(1, str(1, 'id_i64')),
    msg(2, str(1, 'x'), bytes(2, Buffer.concat([int(1, 9), msg(2, msg(2, int(1, n))), bytes(10, Buffer.alloc(n, 3))])))]);

  it('over --max_in_flight_bytes: a retryable UNAVAILABLE naming the flag, and nothing left counted', async () => {
    const message = int64Message(5_000_000);   // 5 MB: over the 1 MiB slice, so decoded in slices, and over the limit
    const result = await rawUnaryCall(server.clients.prediction, '/tensorflow.serving.PredictionService/Predict', message);
    expect(result.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(result.error?.details).toBe(
      `the request message needs ${message.length} bytes while requests in flight hold 0; the server's limit is 4000000 (--max_in_flight_bytes); retry later`);
    expect(await inFlightGauge()).toBe(0);
  }, 60_000);

  it('under it: decoded; an answer over it refused after the run, a small one answered; the count back to 0 after', async () => {
    const message = int64Message(1_500_000);   // 1.5 MB in, 1.5M int64 (12 MB) out: over the limit only as an answer
    const result = await rawUnaryCall(server.clients.prediction, '/tensorflow.serving.PredictionService/Predict', message);
    // The answer's 12 MB of tensors are over the 4 MB limit too: refused the same way, after the run.
    expect(result.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(result.error?.details).toMatch(/--max_in_flight_bytes/);
    const small = await rawUnaryCall(server.clients.prediction, '/tensorflow.serving.PredictionService/Predict', int64Message(200_000));
    expect(small.error).toBeUndefined();
    expect(Buffer.compare(fieldAt(small.response!, 1, 2, 10), Buffer.alloc(200_000, 3))).toBe(0);
    expect(await inFlightGauge()).toBe(0);
  }, 60_000);
});
