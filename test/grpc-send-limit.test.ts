// --grpc_max_send_message_bytes is applied before an answer is encoded (issue 17): a KServe ModelInfer, a
// ModelStreamInfer or a TF Serving Predict whose answer would encode past it gets RESOURCE_EXHAUSTED (ERR_TOO_LARGE)
// naming the flag and the exact size the message would have had; a following valid request gets its answer.

import { afterEach, describe, expect, it } from 'vitest';
import type { MessageTypeDefinition } from '@grpc/proto-loader';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { definition, errorCodeOf, grpc, grpcClients, unaryCall, type GrpcClients } from './support/grpc-client.js';
import { mlpReference } from './support/reference.js';
import { startTestServer, type TestServer } from './support/test-server.js';

const MAX_SEND = 1000;
const ROWS = 100; // 100 rows of scores: well past 1,000 bytes
const row = (i: number) => [i % 7, -(i % 5), (i % 3) / 4, 1];
const rows = (n: number) => Array.from({ length: n }, (_, i) => row(i));
const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);
const OUT = mlpReference([row(0)], 1)[0]!.length;

let t: TestServer | undefined;
let c: GrpcClients | undefined;

afterEach(async () => {
  c?.close();
  c = undefined;
  await t?.close();
  t = undefined;
});

/** The size protobufjs gives the message `value` of type `typeName` (an independent encoder). */
function encodedSize(typeName: string, value: object): number {
  return (definition[typeName] as MessageTypeDefinition<object, object>).serialize(value).length;
}

const kserveRequest = (n: number, id = '') => ({
  model_name: 'mlp', id, inputs: [{ name: 'x', datatype: 'FP32', shape: [n, 4] }], raw_input_contents: [f32(rows(n).flat())],
});
// Empty strings left out: protobufjs writes a field set to '' (2 bytes), proto3 writers and ortserve do not.
const kserveAnswer = (n: number, id = '') => ({
  model_name: 'mlp', model_version: '1', ...(id === '' ? {} : { id }), outputs: [{ name: 'scores', datatype: 'FP32', shape: [n, OUT] }], raw_output_contents: [Buffer.alloc(n * OUT * 4)],
});

function expectScores(raw: Uint8Array, n: number): void {
  const scores = [...new Float32Array(new Uint8Array(raw).buffer)];
  const expected = mlpReference(rows(n), 1).flat();
  expect(scores.length).toBe(expected.length);
  scores.forEach((s, k) => expect(Math.abs(s - expected[k]!)).toBeLessThan(1e-4));
}

describe('--grpc_max_send_message_bytes before encoding', () => {
  for (const grpcRawUnary of [true, false]) {
    it(`KServe ModelInfer (raw unary ${grpcRawUnary ? 'on' : 'off'}): RESOURCE_EXHAUSTED naming the flag; a small answer follows`, async () => {
      t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { grpcMaxSendMessageBytes: MAX_SEND, grpcRawUnary });
      c = grpcClients(t.grpcAddress);
      const size = encodedSize('inference.ModelInferResponse', kserveAnswer(ROWS));
      const big = await unaryCall(c.kserve, 'ModelInfer', kserveRequest(ROWS));
      expect(big.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(errorCodeOf(big.error)).toBe('ERR_TOO_LARGE');
      expect(big.error?.details).toBe(`the answer's ModelInferResponse would be ${size} bytes, more than the limit of ${MAX_SEND} (--grpc_max_send_message_bytes)`);
      const small = await unaryCall(c.kserve, 'ModelInfer', kserveRequest(2));
      expect(small.error).toBeUndefined();
      expectScores(small.response.raw_output_contents[0], 2);
    }, 60_000);
  }

  it('ModelStreamInfer: the too-large answer is an error answer carrying its id; the stream goes on', async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { grpcMaxSendMessageBytes: MAX_SEND });
    c = grpcClients(t.grpcAddress);
    const inner = encodedSize('inference.ModelInferResponse', kserveAnswer(ROWS, 'big'));
    const size = encodedSize('inference.ModelStreamInferResponse', { infer_response: kserveAnswer(ROWS, 'big') });
    expect(size).toBeGreaterThan(inner);
    const stream = c.kserve['ModelStreamInfer']();
    const answers: any[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: any) => answers.push(m));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    stream.write(kserveRequest(ROWS, 'big'));
    stream.write(kserveRequest(3, 'small'));
    stream.end();
    await done;
    const byId = new Map(answers.map((m) => [m.infer_response.id, m]));
    expect(byId.get('big').error_message).toBe(`the answer's ModelStreamInferResponse would be ${size} bytes, more than the limit of ${MAX_SEND} (--grpc_max_send_message_bytes)`);
    expect(byId.get('big').infer_response.parameters.error_code.string_param).toBe('ERR_TOO_LARGE');
    expect(byId.get('small').error_message).toBe('');
    expectScores(byId.get('small').infer_response.raw_output_contents[0], 3);
  }, 60_000);

  it('TF Serving Predict: RESOURCE_EXHAUSTED naming the flag; a small answer follows', async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { grpcMaxSendMessageBytes: MAX_SEND });
    c = grpcClients(t.grpcAddress);
    const predict = (n: number) => ({
      model_spec: { name: 'mlp' },
      inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: n }, { size: 4 }] }, float_val: rows(n).flat() } },
    });
    const size = encodedSize('tensorflow.serving.PredictResponse', {
      outputs: { scores: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: ROWS }, { size: OUT }] }, float_val: new Array(ROWS * OUT).fill(0.5) } },
      model_spec: { name: 'mlp', version: { value: 1 }, signature_name: 'serving_default' },
    });
    const big = await unaryCall(c.prediction, 'Predict', predict(ROWS));
    expect(big.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(errorCodeOf(big.error)).toBe('ERR_TOO_LARGE');
    expect(big.error?.details).toBe(`the answer's PredictResponse would be ${size} bytes, more than the limit of ${MAX_SEND} (--grpc_max_send_message_bytes)`);
    const small = await unaryCall(c.prediction, 'Predict', predict(2));
    expect(small.error).toBeUndefined();
    const expected = mlpReference(rows(2), 1).flat();
    small.response.outputs.scores.float_val.forEach((s: number, k: number) => expect(Math.abs(s - expected[k]!)).toBeLessThan(1e-4));
  }, 60_000);
});
