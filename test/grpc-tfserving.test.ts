// TF Serving's gRPC API on a real server: Predict, GetModelMetadata, GetModelStatus, HandleReloadConfigRequest, a
// PredictRequest written by hand from field numbers, and every bad-input case with its status.

import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel, multiIoModel } from '../scripts/make-example-models.mjs';
import { corruptModelBytes, identityModel } from './support/models.mjs';
import { decodeMessage, errorCodeOf, grpc, grpcClients, rawUnaryCall, unaryCall, type GrpcClients } from './support/grpc-client.js';
import { bytes, int, mapEntry, msg, one, readFields, str } from './support/protobuf-wire.js';
import { startTestServer, type TestServer } from './support/test-server.js';

const Status = grpc.status;
let t: TestServer;
let c: GrpcClients;

beforeAll(async () => {
  t = await startTestServer({
    mlp: { 1: mlpModel(1), 2: mlpModel(2) }, multi_io: { 1: multiIoModel() }, int8: { 1: identityModel('int8') }, broken: { 1: corruptModelBytes() },
  }, { grpcMaxReceiveMessageBytes: 1 << 20 });
  c = grpcClients(t.grpcAddress);
});
afterAll(async () => {
  c.close();
  await t.close();
});

const x = (extra: object = {}) => ({ dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 1 }, { size: 4 }] }, float_val: [1, 2, 3, 4], ...extra });
const predict = (request: object) => unaryCall(c.prediction, 'Predict', request);
const mlpPredict = (tensor: object = x(), spec: object = {}) => predict({ model_spec: { name: 'mlp', ...spec }, inputs: { x: tensor } });

describe('Predict', () => {
  it('answers in float_val with the version that ran, by version number', async () => {
    const { response } = await mlpPredict(x(), { version: { value: 2 } });
    expect(response.model_spec).toMatchObject({ name: 'mlp', version: { value: '2' }, signature_name: 'serving_default' });
    expect(response.outputs.scores).toMatchObject({ dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '1' }, { size: '3' }] }, float_val: [3.75, -3.25, 1] });
  });

  it('fills the whole tensor from a single typed value (TensorFlow\'s rule)', async () => {
    const { response } = await mlpPredict(x({ tensor_shape: { dim: [{ size: 2 }, { size: 4 }] }, float_val: [1] }));
    expect(response.outputs.scores.float_val).toHaveLength(6);
    const single = (await mlpPredict(x({ float_val: [1, 1, 1, 1] }))).response.outputs.scores.float_val;
    expect(response.outputs.scores.float_val).toEqual([...single, ...single]);
  });

  it('honours output_filter and answers with exact int64 and string values', async () => {
    const { response } = await predict({
      model_spec: { name: 'multi_io' },
      inputs: {
        a: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 1 }, { size: 3 }] }, float_val: [1, 2, 3] },
        b: { dtype: 'DT_INT64', tensor_shape: { dim: [{ size: 1 }, { size: 2 }] }, int64_val: ['9223372036854775806', '-9223372036854775808'] },
        text: { dtype: 'DT_STRING', tensor_shape: { dim: [{ size: 1 }] }, string_val: [Buffer.from([0xff, 0x00])] },
      },
      output_filter: ['b_plus_one', 'text_bytes'],
    });
    expect(Object.keys(response.outputs).sort()).toEqual(['b_plus_one', 'text_bytes']);
    expect(response.outputs.b_plus_one.int64_val).toEqual(['9223372036854775807', '-9223372036854775807']);
    expect(response.outputs.text_bytes.string_val).toEqual([Buffer.from([0xff, 0x00])]);
  });

  it('decodes a PredictRequest written byte by byte from the field numbers, and its answer reads back the same way', async () => {
    const floats = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);
    const tensor = Buffer.concat([
      int(1, 1), // dtype DT_FLOAT
      msg(2, msg(2, int(1, 1)), msg(2, int(1, 4))), // tensor_shape { dim { size: 1 } dim { size: 4 } }
      bytes(5, floats), // float_val, packed
    ]);
    const request = Buffer.concat([
      msg(1, str(1, 'mlp'), msg(2, int(1, 2)), str(3, 'serving_default')), // model_spec { name, version { value: 2 }, signature_name }
      mapEntry(2, 'x', tensor), // inputs["x"]
      str(3, 'scores'), // output_filter
    ]);
    const { error, response } = await rawUnaryCall(c.prediction, '/tensorflow.serving.PredictionService/Predict', request);
    expect(error).toBeUndefined();
    const fields = readFields(response!);
    const spec = readFields(one(fields, 2) as Buffer);
    expect((one(spec, 1) as Buffer).toString()).toBe('mlp');
    expect(one(readFields(one(spec, 2) as Buffer), 1)).toBe(2n);
    const entry = readFields(one(fields, 1) as Buffer);
    expect((one(entry, 1) as Buffer).toString()).toBe('scores');
    const out = readFields(one(entry, 2) as Buffer);
    expect(one(out, 1)).toBe(1n);
    const values = one(out, 5) as Buffer;
    expect([...new Float32Array(new Uint8Array(values).buffer)]).toEqual([3.75, -3.25, 1]);
  });
});

interface BadCase { title: string; request: object; status: number; code: string; message: RegExp }

const BAD: BadCase[] = [
  { title: 'no model_spec', request: { inputs: { x: x() } }, status: Status.INVALID_ARGUMENT, code: 'ERR_BAD_REQUEST', message: /model_spec: required/ },
  { title: 'an unknown model', request: { model_spec: { name: 'resnet' }, inputs: { x: x() } }, status: Status.NOT_FOUND, code: 'ERR_MODEL_NOT_FOUND', message: /Servable not found for request: Latest\(resnet\)/ },
  { title: 'an unknown version', request: { model_spec: { name: 'mlp', version: { value: 7 } }, inputs: { x: x() } }, status: Status.NOT_FOUND, code: 'ERR_MODEL_NOT_FOUND', message: /Specific\(mlp, 7\)/ },
  { title: 'an unknown label', request: { model_spec: { name: 'mlp', version_label: 'canary' }, inputs: { x: x() } }, status: Status.NOT_FOUND, code: 'ERR_MODEL_NOT_FOUND', message: /canary/ },
  { title: 'another signature', request: { model_spec: { name: 'mlp', signature_name: 'classify' }, inputs: { x: x() } }, status: Status.INVALID_ARGUMENT, code: 'ERR_BAD_REQUEST', message: /model_spec\.signature_name: 'classify' not found/ },
  { title: 'a dtype the model does not take', request: { model_spec: { name: 'mlp' }, inputs: { x: x({ dtype: 'DT_DOUBLE', float_val: [], double_val: [1, 2, 3, 4] }) } }, status: Status.INVALID_ARGUMENT, code: 'ERR_DTYPE', message: /inputs\["x"\]: datatype DT_DOUBLE does not match the model's DT_FLOAT/ },
  { title: 'a dtype ONNX models here do not take', request: { model_spec: { name: 'mlp' }, inputs: { x: x({ dtype: 'DT_COMPLEX64' }) } }, status: Status.INVALID_ARGUMENT, code: 'ERR_DTYPE', message: /inputs\["x"\]\.dtype: DT_COMPLEX64 is not a dtype ortserve serves/ },
  { title: 'values in the wrong field', request: { model_spec: { name: 'mlp' }, inputs: { x: x({ float_val: [], int_val: [1, 2, 3, 4] }) } }, status: Status.INVALID_ARGUMENT, code: 'ERR_DTYPE', message: /inputs\["x"\]: DT_FLOAT values belong in float_val \(or tensor_content\), not int_val/ },
  { title: 'too few values', request: { model_spec: { name: 'mlp' }, inputs: { x: x({ float_val: [1, 2, 3] }) } }, status: Status.INVALID_ARGUMENT, code: 'ERR_SHAPE', message: /inputs\["x"\]\.float_val: 3 values, but tensor_shape \[1,4\] needs 4/ },
  { title: 'tensor_content of the wrong size', request: { model_spec: { name: 'mlp' }, inputs: { x: x({ float_val: [], tensor_content: Buffer.alloc(12) }) } }, status: Status.INVALID_ARGUMENT, code: 'ERR_SHAPE', message: /inputs\["x"\]\.tensor_content: 12 bytes of data, but shape \[1,4\] of DT_FLOAT needs 16/ },
  { title: 'an int_val out of range for DT_INT8', request: { model_spec: { name: 'int8' }, inputs: { x: { dtype: 'DT_INT8', tensor_shape: { dim: [{ size: 1 }, { size: 2 }] }, int_val: [1, 300] } } }, status: Status.INVALID_ARGUMENT, code: 'ERR_DTYPE', message: /inputs\["x"\]\.int_val\[1\]: 300 is out of range for DT_INT8/ },
  { title: 'a negative dim', request: { model_spec: { name: 'mlp' }, inputs: { x: x({ tensor_shape: { dim: [{ size: -1 }, { size: 4 }] } }) } }, status: Status.INVALID_ARGUMENT, code: 'ERR_SHAPE', message: /inputs\["x"\]\.tensor_shape\.dim\[0\]: -1 is negative/ },
  { title: 'a huge dim', request: { model_spec: { name: 'mlp' }, inputs: { x: x({ tensor_shape: { dim: [{ size: '4000000000000' }, { size: 4 }] } }) } }, status: Status.RESOURCE_EXHAUSTED, code: 'ERR_TOO_LARGE', message: /inputs\["x"\]\.tensor_shape: shape \[4000000000000,4\] needs 64000000000000 bytes/ },
  { title: 'an unknown rank', request: { model_spec: { name: 'mlp' }, inputs: { x: x({ tensor_shape: { unknown_rank: true } }) } }, status: Status.INVALID_ARGUMENT, code: 'ERR_SHAPE', message: /unknown_rank is not allowed/ },
  { title: 'an unknown input', request: { model_spec: { name: 'mlp' }, inputs: { x: x(), y: x() } }, status: Status.INVALID_ARGUMENT, code: 'ERR_INVALID_INPUT', message: /inputs\["y"\]: the model has no input 'y'/ },
  { title: 'a missing input', request: { model_spec: { name: 'mlp' }, inputs: {} }, status: Status.INVALID_ARGUMENT, code: 'ERR_INVALID_INPUT', message: /missing input 'x'/ },
  { title: 'an unknown output_filter name', request: { model_spec: { name: 'mlp' }, inputs: { x: x() }, output_filter: ['logits'] }, status: Status.INVALID_ARGUMENT, code: 'ERR_UNKNOWN_OUTPUT', message: /unknown output 'logits'/ },
  { title: 'a duplicate output_filter name', request: { model_spec: { name: 'mlp' }, inputs: { x: x() }, output_filter: ['scores', 'scores'] }, status: Status.INVALID_ARGUMENT, code: 'ERR_BAD_REQUEST', message: /output_filter\[1\]: duplicate output 'scores'/ },
];

describe('bad Predict input gets the right status and a message naming the field; the server keeps serving', () => {
  it.each(BAD.map((b) => [b.title, b] as const))('%s', async (_title, b) => {
    const { error } = await predict(b.request);
    expect(error?.code).toBe(b.status);
    expect(errorCodeOf(error)).toBe(b.code);
    expect(error?.details).toMatch(b.message);
    expect((await mlpPredict()).response?.outputs.scores.float_val).toEqual([3.75, -3.25, 1]);
  });

  it('answers a truncated PredictRequest with INVALID_ARGUMENT', async () => {
    const { error } = await rawUnaryCall(c.prediction, '/tensorflow.serving.PredictionService/Predict', Buffer.from([0x0a, 0x10, 0x0a]));
    expect(error?.code).toBe(Status.INVALID_ARGUMENT);
    expect(errorCodeOf(error)).toBe('ERR_PROTOBUF');
  });
});

describe('GetModelMetadata', () => {
  it('packs the signature in a google.protobuf.Any holding a SignatureDefMap', async () => {
    const { response } = await unaryCall(c.prediction, 'GetModelMetadata', { model_spec: { name: 'mlp' }, metadata_field: ['signature_def'] });
    expect(response.model_spec).toMatchObject({ name: 'mlp', version: { value: '2' } });
    const any = response.metadata.signature_def;
    expect(any.type_url).toBe('type.googleapis.com/tensorflow.serving.SignatureDefMap');
    const map = decodeMessage('tensorflow.serving.SignatureDefMap', any.value);
    const sig = map.signature_def.serving_default;
    expect(sig.method_name).toBe('tensorflow/serving/predict');
    expect(sig.inputs.x).toMatchObject({ name: 'x', dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1', name: 'batch' }, { size: '4', name: '' }] } });
    expect(sig.outputs.scores.dtype).toBe('DT_FLOAT');
  });

  it('refuses an empty or unknown metadata_field', async () => {
    for (const fields of [[], ['signature_def', 'graph']]) {
      const { error } = await unaryCall(c.prediction, 'GetModelMetadata', { model_spec: { name: 'mlp' }, metadata_field: fields });
      expect(error?.code).toBe(Status.INVALID_ARGUMENT);
      expect(error?.details).toMatch(/metadata_field/);
    }
  });
});

describe('GetModelStatus', () => {
  it('reports versions with TF Serving states and error codes', async () => {
    const ok = await unaryCall(c.modelService, 'GetModelStatus', { model_spec: { name: 'mlp', version: { value: 2 } } });
    expect(ok.response.model_version_status).toEqual([{ version: '2', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }]);
    const broken = await unaryCall(c.modelService, 'GetModelStatus', { model_spec: { name: 'broken' } });
    expect(broken.response.model_version_status[0]).toMatchObject({ version: '1', state: 'END', status: { error_code: 'INTERNAL', error_message: expect.stringMatching(/\S/) } });
    const missing = await unaryCall(c.modelService, 'GetModelStatus', { model_spec: { name: 'nope' } });
    expect(missing.error?.code).toBe(Status.NOT_FOUND);
  });

  it('makes the server not ready while a model has no AVAILABLE version (KServe ServerReady and gRPC health)', async () => {
    expect((await unaryCall(c.kserve, 'ServerReady', {})).response).toEqual({ ready: false });
    expect((await unaryCall(c.kserve, 'ModelReady', { name: 'broken' })).response).toEqual({ ready: false });
    expect((await unaryCall(c.health, 'Check', { service: '' })).response).toEqual({ status: 'NOT_SERVING' });
  });
});

describe('HandleReloadConfigRequest and the repository RPCs (management API)', () => {
  it('are UNIMPLEMENTED while the management API is off', async () => {
    const { error } = await unaryCall(c.modelService, 'HandleReloadConfigRequest', { config: { model_config_list: { config: [] } } });
    expect(error?.code).toBe(Status.UNIMPLEMENTED);
  });

  it('with the token: reloads the config, unloads and loads models; without it: UNAUTHENTICATED', async () => {
    const token = 'a-long-enough-management-token';
    writeFileSync(path.join(t.repository, 'token'), token);
    const s = await startTestServer({ a: { 1: mlpModel(1) }, b: { 1: mlpModel(2) } }, { managementTokenFile: path.join(t.repository, 'token') });
    const mc = grpcClients(s.grpcAddress);
    const auth = new grpc.Metadata();
    auth.set('authorization', `Bearer ${token}`);
    try {
      const denied = await unaryCall(mc.modelService, 'HandleReloadConfigRequest', { config: { model_config_list: { config: [] } } });
      expect(denied.error?.code).toBe(Status.UNAUTHENTICATED);
      const index = await unaryCall(mc.kserve, 'RepositoryIndex', { ready: true }, {}, auth);
      expect(index.response.models.map((e: any) => [e.name, e.version, e.state]).sort()).toEqual([['a', '1', 'READY'], ['b', '1', 'READY']]);
      expect((await unaryCall(mc.kserve, 'RepositoryModelUnload', { model_name: 'b' }, {}, auth)).error).toBeUndefined();
      expect((await unaryCall(mc.kserve, 'ModelReady', { name: 'b' })).response).toEqual({ ready: false });
      expect((await unaryCall(mc.kserve, 'RepositoryModelLoad', { model_name: 'b' }, {}, auth)).error).toBeUndefined();
      expect((await unaryCall(mc.kserve, 'ModelReady', { name: 'b' })).response).toEqual({ ready: true });
      const config = { model_config_list: { config: [{ name: 'b', base_path: path.join(s.repository, 'b'), model_platform: 'onnx', model_version_policy: { latest: {} } }] } };
      const reload = await unaryCall(mc.modelService, 'HandleReloadConfigRequest', { config }, {}, auth);
      expect(reload.error).toBeUndefined();
      expect(reload.response.status).toEqual({ error_code: 'OK', error_message: '' });
      expect((await unaryCall(mc.kserve, 'ModelReady', { name: 'a' })).error?.code).toBe(Status.NOT_FOUND);
      const bad = await unaryCall(mc.modelService, 'HandleReloadConfigRequest', { config: { model_config_list: { config: [{ name: 'c' }] } } }, {}, auth);
      expect(bad.error?.code).toBe(Status.INVALID_ARGUMENT);
      expect(bad.error?.details).toMatch(/base_path/);
    } finally {
      mc.close();
      await s.close();
    }
  });
});
