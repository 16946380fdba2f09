// inference.GRPCInferenceService on a real server with @grpc/grpc-js clients: health, metadata, infer, wire bytes
// written by hand from field numbers, deadlines, and every bad-input case with its status.

import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel, multiIoModel } from '../scripts/make-example-models.mjs';
import { grpc, grpcClients, rawUnaryCall, unaryCall, errorCodeOf, type GrpcClients } from './support/grpc-client.js';
import { all, bytes, grpcFrame, int, mapEntry, msg, one, packedInt64, readFields, str } from './support/protobuf-wire.js';
import { closeTo, mlpReference } from './support/reference.js';
import { startTestServer, type TestServer } from './support/test-server.js';

const Status = grpc.status;
let t: TestServer;
let c: GrpcClients;

beforeAll(async () => {
  t = await startTestServer({ mlp: { 1: mlpModel(1), 2: mlpModel(2) }, multi_io: { 1: multiIoModel() } }, { grpcMaxReceiveMessageBytes: 1 << 20 });
  c = grpcClients(t.grpcAddress);
});
afterAll(async () => {
  c.close();
  await t.close();
});

const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);
const mlpRequest = (extra: object = {}) => ({
  model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32([1, 2, 3, 4])], ...extra,
});

describe('health and metadata', () => {
  it('answers ServerLive, ServerReady, ModelReady and ServerMetadata', async () => {
    expect((await unaryCall(c.kserve, 'ServerLive', {})).response).toEqual({ live: true });
    expect((await unaryCall(c.kserve, 'ServerReady', {})).response).toEqual({ ready: true });
    expect((await unaryCall(c.kserve, 'ModelReady', { name: 'mlp', version: '2' })).response).toEqual({ ready: true });
    const meta = (await unaryCall(c.kserve, 'ServerMetadata', {})).response;
    expect(meta).toEqual({ name: 'ortserve', version: expect.stringMatching(/^\d/), extensions: ['binary_tensor_data', 'statistics'] });
  });

  it('answers ModelMetadata with -1 for dynamic dims', async () => {
    const { response } = await unaryCall(c.kserve, 'ModelMetadata', { name: 'mlp' });
    expect(response).toEqual({
      name: 'mlp', versions: ['2'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: ['-1', '4'] }], outputs: [{ name: 'scores', datatype: 'FP32', shape: ['-1', '3'] }],
    });
  });

  it('answers NOT_FOUND naming the servable for an unknown model or version, with the stable code in the trailers', async () => {
    for (const [method, req] of [['ModelReady', { name: 'nope' }], ['ModelMetadata', { name: 'mlp', version: '1' }], ['ModelInfer', { ...mlpRequest(), model_name: 'nope' }]] as const) {
      const { error } = await unaryCall(c.kserve, method, req);
      expect(error?.code, method).toBe(Status.NOT_FOUND);
      expect(error?.details, method).toMatch(/Servable not found/);
      expect(errorCodeOf(error), method).toBe('ERR_MODEL_NOT_FOUND');
    }
  });
});

describe('grpc.health.v1.Health', () => {
  it('answers Check SERVING for the server and its services, NOT_FOUND for others, and Watch with the status now', async () => {
    for (const service of ['', 'inference.GRPCInferenceService', 'tensorflow.serving.PredictionService']) {
      expect((await unaryCall(c.health, 'Check', { service })).response, service).toEqual({ status: 'SERVING' });
    }
    expect((await unaryCall(c.health, 'Check', { service: 'nope.Service' })).error?.code).toBe(Status.NOT_FOUND);
    const watch = c.health['Watch']({ service: 'nope.Service' });
    const first = await new Promise<any>((resolve, reject) => { watch.once('data', resolve); watch.once('error', reject); });
    watch.on('error', () => {});
    watch.cancel();
    expect(first).toEqual({ status: 'SERVICE_UNKNOWN' });
  });
});

describe('ModelInfer', () => {
  it('runs the requested version, echoes the id and answers in raw_output_contents', async () => {
    const { response } = await unaryCall(c.kserve, 'ModelInfer', mlpRequest({ id: 'abc', model_version: '2' }));
    expect(response).toMatchObject({ model_name: 'mlp', model_version: '2', id: 'abc', outputs: [{ name: 'scores', datatype: 'FP32', shape: ['1', '3'] }] });
    expect([...new Float32Array(new Uint8Array(response.raw_output_contents[0]).buffer)]).toEqual([3.75, -3.25, 1]);
  });

  it('decodes a request written byte by byte from the field numbers, and its answer reads back the same way', async () => {
    const input = msg(5,
      str(1, 'x'), str(2, 'FP32'),
      int(3, 2), int(3, 4), // shape written unpacked: proto3 parsers accept both encodings
    );
    const request = Buffer.concat([
      str(1, 'mlp'), str(3, 'hand-built'),
      mapEntry(4, 'priority', int(2, 1)), // an InferParameter (int64_param) the server does not use
      input,
      msg(6, str(1, 'scores')),
      bytes(7, f32([1, 2, 3, 4, 0, 0, 0, 0])),
    ]);
    const { error, response } = await rawUnaryCall(c.kserve, '/inference.GRPCInferenceService/ModelInfer', request);
    expect(error).toBeUndefined();
    const fields = readFields(response!);
    expect((one(fields, 1) as Buffer).toString()).toBe('mlp');
    expect((one(fields, 2) as Buffer).toString()).toBe('2');
    expect((one(fields, 3) as Buffer).toString()).toBe('hand-built');
    const output = readFields(one(fields, 5) as Buffer);
    expect((one(output, 1) as Buffer).toString()).toBe('scores');
    expect((one(output, 2) as Buffer).toString()).toBe('FP32');
    expect(packedInt64(one(output, 3) as Buffer)).toEqual([2n, 3n]);
    const raw = all(fields, 6);
    expect(raw).toHaveLength(1);
    const scores = new Float32Array(new Uint8Array(raw[0] as Buffer).buffer);
    expect(closeTo([[...scores.subarray(0, 3)], [...scores.subarray(3)]], mlpReference([[1, 2, 3, 4], [0, 0, 0, 0]], 2))).toBe(true);
  });

  it('honours a deadline that has passed when the call arrives (grpc-timeout: 1n, sent over raw HTTP/2)', async () => {
    const session = http2.connect(`http://${t.grpcAddress}`);
    try {
      const status = await new Promise<string | undefined>((resolve, reject) => {
        const req = session.request({
          ':method': 'POST', ':path': '/inference.GRPCInferenceService/ModelInfer',
          'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '1n',
        });
        let headerStatus: string | undefined;
        req.on('response', (h) => { headerStatus = h['grpc-status'] as string | undefined; });
        req.on('trailers', (h) => resolve(h['grpc-status'] as string));
        req.on('end', () => resolve(headerStatus));
        req.on('error', reject);
        req.resume();
        req.end(grpcFrame(Buffer.concat([str(1, 'mlp')])));
      });
      expect(Number(status)).toBe(Status.DEADLINE_EXCEEDED);
    } finally {
      session.close();
    }
  });
});

interface BadCase { title: string; request: object; status: number; code: string; message: RegExp }

const len4 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const multiIo = (text: Buffer, shape = ['1']) => ({
  model_name: 'multi_io',
  inputs: [
    { name: 'a', datatype: 'FP32', shape: [1, 3] }, { name: 'b', datatype: 'INT64', shape: [1, 2] }, { name: 'text', datatype: 'BYTES', shape },
  ],
  raw_input_contents: [f32([1, 2, 3]), Buffer.from(new BigInt64Array([1n, 2n]).buffer), text],
});

const BAD: BadCase[] = [
  { title: 'a datatype the model does not take', request: mlpRequest({ inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 4] }] }), status: Status.INVALID_ARGUMENT, code: 'ERR_DTYPE', message: /inputs\[0\] \(x\): datatype INT32 does not match the model's FP32/ },
  { title: 'an unknown datatype', request: mlpRequest({ inputs: [{ name: 'x', datatype: 'float', shape: [1, 4] }] }), status: Status.INVALID_ARGUMENT, code: 'ERR_DTYPE', message: /inputs\[0\]\.datatype: 'float' is not a datatype/ },
  { title: 'raw bytes that do not fill the shape', request: mlpRequest({ raw_input_contents: [f32([1, 2, 3])] }), status: Status.INVALID_ARGUMENT, code: 'ERR_SHAPE', message: /raw_input_contents\[0\] \(x\): 12 bytes of data, but shape \[1,4\] of FP32 needs 16/ },
  { title: 'typed contents that do not fill the shape', request: { model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2] } }] }, status: Status.INVALID_ARGUMENT, code: 'ERR_SHAPE', message: /inputs\[0\] \(x\)\.contents\.fp32_contents: 2 values, but shape \[1,4\] needs 4/ },
  { title: 'typed contents in the wrong field', request: { model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { int_contents: [1, 2, 3, 4] } }] }, status: Status.INVALID_ARGUMENT, code: 'ERR_DTYPE', message: /FP32 data belongs in contents\.fp32_contents, not contents\.int_contents/ },
  { title: 'both typed and raw contents', request: mlpRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } }] }), status: Status.INVALID_ARGUMENT, code: 'ERR_BAD_REQUEST', message: /inputs\[0\]\.contents: must be empty when the request uses raw_input_contents/ },
  { title: 'raw contents not one per input', request: mlpRequest({ raw_input_contents: [f32([1, 2, 3, 4]), f32([1])] }), status: Status.INVALID_ARGUMENT, code: 'ERR_BAD_REQUEST', message: /raw_input_contents: 2 entries for 1 inputs/ },
  { title: 'a shape the model does not take', request: mlpRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2] }] }), status: Status.INVALID_ARGUMENT, code: 'ERR_SHAPE', message: /inputs\[0\] \(x\): shape \[2,2\] does not match the model's \[-1,4\]/ },
  { title: 'a negative dim', request: mlpRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }] }), status: Status.INVALID_ARGUMENT, code: 'ERR_SHAPE', message: /inputs\[0\]\.shape\[0\]: -1 is negative/ },
  { title: 'a huge dim', request: mlpRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: ['9223372036854775807', 4] }] }), status: Status.RESOURCE_EXHAUSTED, code: 'ERR_TOO_LARGE', message: /inputs\[0\]\.shape\[0\]: 9223372036854775807 is larger than any tensor/ },
  { title: 'dims whose product is huge', request: mlpRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1000000000, 4] }] }), status: Status.RESOURCE_EXHAUSTED, code: 'ERR_TOO_LARGE', message: /inputs\[0\]\.shape: shape \[1000000000,4\] needs 16000000000 bytes, more than the limit of 1048576 \(--grpc_max_receive_message_bytes\)/ },
  { title: 'duplicate input names', request: mlpRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }, { name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32([1, 2, 3, 4]), f32([1, 2, 3, 4])] }), status: Status.INVALID_ARGUMENT, code: 'ERR_INVALID_INPUT', message: /inputs\[1\]\.name: duplicate input 'x'/ },
  { title: 'a missing input', request: { ...multiIo(Buffer.concat([len4(1), Buffer.from('a')])), inputs: multiIo(Buffer.alloc(0)).inputs.slice(0, 2), raw_input_contents: multiIo(Buffer.alloc(0)).raw_input_contents.slice(0, 2) }, status: Status.INVALID_ARGUMENT, code: 'ERR_INVALID_INPUT', message: /missing input 'text'/ },
  { title: 'BYTES lengths that overrun the data', request: multiIo(Buffer.concat([len4(1000), Buffer.from('abc')])), status: Status.INVALID_ARGUMENT, code: 'ERR_INVALID_INPUT', message: /raw_input_contents\[2\] \(text\): BYTES element 0 declares 1000 bytes at offset 4, but only 3 remain/ },
  { title: 'BYTES data with bytes to spare', request: multiIo(Buffer.concat([len4(1), Buffer.from('ab')])), status: Status.INVALID_ARGUMENT, code: 'ERR_INVALID_INPUT', message: /1 bytes remain after the 1 BYTES elements/ },
  { title: 'an unknown requested output', request: mlpRequest({ outputs: [{ name: 'logits' }] }), status: Status.INVALID_ARGUMENT, code: 'ERR_UNKNOWN_OUTPUT', message: /unknown output 'logits'/ },
  { title: 'no model name', request: mlpRequest({ model_name: '' }), status: Status.INVALID_ARGUMENT, code: 'ERR_BAD_REQUEST', message: /model_name: required/ },
  { title: 'an expired Triton timeout parameter', request: mlpRequest({ parameters: { timeout: { int64_param: 1 } } }), status: Status.DEADLINE_EXCEEDED, code: 'ERR_DEADLINE_EXCEEDED', message: /deadline passed/ },
];

describe('bad input gets the right status and a message naming the field; the server keeps serving', () => {
  it.each(BAD.map((b) => [b.title, b] as const))('%s', async (_title, b) => {
    const { error } = await unaryCall(c.kserve, 'ModelInfer', b.request);
    expect(error?.code).toBe(b.status);
    expect(errorCodeOf(error)).toBe(b.code);
    expect(error?.details).toMatch(b.message);
    expect((await unaryCall(c.kserve, 'ModelInfer', mlpRequest())).response?.model_version).toBe('2');
  });

  it('answers a message that is not protobuf with INVALID_ARGUMENT and the decoder\'s reason', async () => {
    // Field 1 (model_name) claims 2^31 bytes of a 6-byte message.
    const { error } = await rawUnaryCall(c.kserve, '/inference.GRPCInferenceService/ModelInfer', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x07]));
    expect(error?.code).toBe(Status.INVALID_ARGUMENT);
    expect(error?.details).toMatch(/ModelInfer: the request is not a valid protobuf message: field 1 at byte 0 runs past the end of the 6-byte message/);
    expect(errorCodeOf(error)).toBe('ERR_PROTOBUF');
    // A nested message with a wire type that does not exist: the decoder's own complaint is passed on.
    const nested = await rawUnaryCall(c.kserve, '/inference.GRPCInferenceService/ModelInfer', Buffer.concat([str(1, 'mlp'), msg(5, Buffer.from([0x0f]))]));
    expect(nested.error?.code).toBe(Status.INVALID_ARGUMENT);
    expect(nested.error?.details).toMatch(/ModelInfer: the request is not a valid protobuf message: \S/);
  });

  it('answers a message over --grpc_max_receive_message_bytes with RESOURCE_EXHAUSTED', async () => {
    const { error } = await unaryCall(c.kserve, 'ModelInfer', mlpRequest({ raw_input_contents: [Buffer.alloc(2 << 20)] }));
    expect(error?.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect((await unaryCall(c.kserve, 'ModelInfer', mlpRequest())).response?.model_version).toBe('2');
  });

  it('answers the repository RPCs with UNIMPLEMENTED while the management API is off', async () => {
    for (const method of ['RepositoryIndex', 'RepositoryModelLoad', 'RepositoryModelUnload']) {
      const { error } = await unaryCall(c.kserve, method, { model_name: 'mlp' });
      expect(error?.code, method).toBe(Status.UNIMPLEMENTED);
      expect(error?.details, method).toMatch(/the management API is off \(start ortserve with --management_token_file\)/);
    }
  });
});
