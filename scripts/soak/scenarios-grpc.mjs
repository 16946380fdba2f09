// The soak's gRPC traffic: KServe V2 ModelInfer and ModelStreamInfer, TF Serving Predict, valid and hostile
// (malformed protobuf, wrong shapes and dtypes, a fill-rule bomb, oversized messages, expiring deadlines, cancels).

import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { check, checkError, checkMlp, float32Bytes, mlpRows, randomInt, SLOW_ANSWER } from './checks.mjs';

const Status = grpc.status;

/** KServe and TF Serving clients as a typical Node user builds them from ortserve's schemas/. */
export function grpcClients(root, address) {
  const definition = loadSync(['kserve_grpc_inference.proto', 'tensorflow_serving_apis.proto'], {
    includeDirs: [path.join(root, 'schemas')], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  });
  const pkg = /** @type {any} */ (grpc.loadPackageDefinition(definition));
  const creds = grpc.credentials.createInsecure();
  const options = { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 };
  const kserve = new pkg.inference.GRPCInferenceService(address, creds, options);
  const prediction = new pkg.tensorflow.serving.PredictionService(address, creds, options);
  return { kserve, prediction, close: () => { kserve.close(); prediction.close(); } };
}

/** Calls a unary method; resolves with {error} or {response}, never rejects. */
function unary(client, method, request, { deadlineMs, cancelAfterMs } = {}) {
  return new Promise((resolve) => {
    const options = deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs };
    const call = client[method](request, new grpc.Metadata(), options, (error, response) => resolve(error ? { error } : { response }));
    if (cancelAfterMs !== undefined) setTimeout(() => call.cancel(), cancelAfterMs);
  });
}

/** Sends raw bytes to a method: a message no schema would write. */
function rawUnary(client, methodPath, body) {
  return new Promise((resolve) => {
    client.makeUnaryRequest(methodPath, (b) => b, (b) => b, body, (error, response) => resolve(error ? { error } : { response }));
  });
}

const errorOf = (error) => ({ status: error?.code ?? Status.OK, code: error?.metadata?.get('ortserve-error-code')[0], detail: error?.details });

function kserveRequest(rows, model = 'mlp') {
  return { model_name: model, id: 'soak', inputs: [{ name: 'x', datatype: 'FP32', shape: [rows.length, 4] }], raw_input_contents: [float32Bytes(rows)] };
}

function rawScores(response) {
  const raw = new Uint8Array(response.raw_output_contents[0]);
  return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4).slice();
}

function slowRequest() {
  return { model_name: 'slow', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1] }], raw_input_contents: [float32Bytes([[1]])] };
}

/** Opens a ModelStreamInfer stream, sends `requests`, half-closes, and collects every answer by id. */
function stream(ctx, requests) {
  return new Promise((resolve, reject) => {
    const call = ctx.grpc.kserve.ModelStreamInfer();
    /** @type {Map<string, any>} */
    const answers = new Map();
    const timer = setTimeout(() => { call.cancel(); reject(new Error(`stream: ${answers.size} of ${requests.length} answers after ${ctx.timeoutMs} ms`)); }, ctx.timeoutMs);
    call.on('data', (/** @type {any} */ m) => answers.set(m.infer_response?.id ?? '', m));
    call.on('error', (/** @type {Error} */ err) => { clearTimeout(timer); reject(err); });
    call.on('end', () => { clearTimeout(timer); resolve(answers); });
    for (const r of requests) call.write(r);
    call.end();
  });
}

/** @type {import('./soak.mjs').Scenario[]} */
export const grpcScenarios = [
  {
    name: 'grpc-kserve-raw', protocol: 'grpc-kserve', kind: 'valid', weight: 10,
    async run(ctx) {
      const rows = mlpRows(1 + randomInt(4));
      const sentAt = Date.now();
      const { error, response } = await unary(ctx.grpc.kserve, 'ModelInfer', kserveRequest(rows), { deadlineMs: ctx.timeoutMs });
      check(!error, `grpc ModelInfer: ${error?.code} ${error?.details}`);
      checkMlp(rows, rawScores(response), ctx.swapper.candidates(sentAt, Date.now()), Number(response.model_version));
    },
  },
  {
    name: 'grpc-kserve-typed', protocol: 'grpc-kserve', kind: 'valid', weight: 4,
    async run(ctx) {
      const rows = mlpRows(1 + randomInt(4));
      const request = { model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [rows.length, 4], contents: { fp32_contents: rows.flat() } }] };
      const sentAt = Date.now();
      const { error, response } = await unary(ctx.grpc.kserve, 'ModelInfer', request, { deadlineMs: ctx.timeoutMs });
      check(!error, `grpc ModelInfer typed: ${error?.code} ${error?.details}`);
      checkMlp(rows, rawScores(response), ctx.swapper.candidates(sentAt, Date.now()), Number(response.model_version));
    },
  },
  {
    name: 'grpc-stream-mixed', protocol: 'grpc-stream', kind: 'valid', weight: 4,
    async run(ctx) {
      // Four valid requests and one with a wrong shape on one stream: each answer carries its id, the bad one its code.
      const rowsById = new Map(Array.from({ length: 4 }, (_, i) => [`ok-${i}`, mlpRows(1 + randomInt(3))]));
      const requests = [...rowsById].map(([id, rows]) => ({ ...kserveRequest(rows), id }));
      requests.splice(randomInt(5), 0, { model_name: 'mlp', id: 'bad', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3] }], raw_input_contents: [float32Bytes([[1, 2, 3]])] });
      const sentAt = Date.now();
      const answers = await stream(ctx, requests);
      const candidates = ctx.swapper.candidates(sentAt, Date.now());
      for (const [id, rows] of rowsById) {
        const m = answers.get(id);
        check(m && !m.error_message, `stream ${id}: ${m ? m.error_message : 'no answer'}`);
        checkMlp(rows, rawScores(m.infer_response), candidates, Number(m.infer_response.model_version));
      }
      const bad = answers.get('bad');
      check(bad?.error_message, 'stream: the wrong-shape request was not answered with an error');
      const code = bad.infer_response?.parameters?.error_code?.string_param;
      check(code === 'ERR_SHAPE', `stream: the wrong-shape request's code is ${code}, expected ERR_SHAPE`);
    },
  },
  {
    name: 'grpc-tf-predict', protocol: 'grpc-tf', kind: 'valid', weight: 8,
    async run(ctx) {
      const rows = mlpRows(1 + randomInt(4));
      const request = { model_spec: { name: 'mlp' }, inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: rows.length }, { size: 4 }] }, float_val: rows.flat() } } };
      const sentAt = Date.now();
      const { error, response } = await unary(ctx.grpc.prediction, 'Predict', request, { deadlineMs: ctx.timeoutMs });
      check(!error, `grpc Predict: ${error?.code} ${error?.details}`);
      const version = response.model_spec?.version?.value;
      checkMlp(rows, response.outputs.scores.float_val, ctx.swapper.candidates(sentAt, Date.now()), version === undefined ? undefined : Number(version));
    },
  },
  {
    name: 'grpc-kserve-malformed-protobuf', protocol: 'grpc-kserve', kind: 'hostile', weight: 2,
    async run(ctx) {
      // Field 1 (model_name) claims more bytes than the message has.
      const body = Buffer.from([0x0a, 0x80 | randomInt(128), 0xff, 0xff, 0xff, 0x07, 0x6d]);
      const { error } = await rawUnary(ctx.grpc.kserve, '/inference.GRPCInferenceService/ModelInfer', body);
      checkError('length past the message', errorOf(error), { status: Status.INVALID_ARGUMENT, code: 'ERR_PROTOBUF' });
    },
  },
  {
    name: 'grpc-tf-malformed-protobuf', protocol: 'grpc-tf', kind: 'hostile', weight: 2,
    async run(ctx) {
      const { error } = await rawUnary(ctx.grpc.prediction, '/tensorflow.serving.PredictionService/Predict', Buffer.from([0x0a, 0x10, 0x0a]));
      checkError('truncated model_spec', errorOf(error), { status: Status.INVALID_ARGUMENT, code: 'ERR_PROTOBUF' });
    },
  },
  {
    name: 'grpc-kserve-wrong-shape', protocol: 'grpc-kserve', kind: 'hostile', weight: 2,
    async run(ctx) {
      const request = { model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3] }], raw_input_contents: [float32Bytes([[1, 2, 3]])] };
      const { error } = await unary(ctx.grpc.kserve, 'ModelInfer', request);
      checkError('3 columns for 4', errorOf(error), { status: Status.INVALID_ARGUMENT, code: 'ERR_SHAPE' });
    },
  },
  {
    name: 'grpc-tf-wrong-dtype', protocol: 'grpc-tf', kind: 'hostile', weight: 2,
    async run(ctx) {
      const request = { model_spec: { name: 'mlp' }, inputs: { x: { dtype: 'DT_DOUBLE', tensor_shape: { dim: [{ size: 1 }, { size: 4 }] }, double_val: [1, 2, 3, 4] } } };
      const { error } = await unary(ctx.grpc.prediction, 'Predict', request);
      checkError('DT_DOUBLE for DT_FLOAT', errorOf(error), { status: Status.INVALID_ARGUMENT, code: 'ERR_DTYPE' });
    },
  },
  {
    name: 'grpc-tf-fill-bomb', protocol: 'grpc-tf', kind: 'hostile', weight: 1,
    async run(ctx) {
      // TensorFlow's rule that one value fills the shape: 64 MiB of float32 asked for in a message of a few bytes.
      const request = { model_spec: { name: 'mlp' }, inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 1 << 22 }, { size: 4 }] }, float_val: [1] } } };
      const { error } = await unary(ctx.grpc.prediction, 'Predict', request);
      checkError('a 64 MiB fill', errorOf(error), { status: Status.RESOURCE_EXHAUSTED, code: 'ERR_TOO_LARGE' });
    },
  },
  {
    name: 'grpc-oversized-message', protocol: 'grpc-kserve', kind: 'hostile', weight: 1,
    async run(ctx) {
      const request = { ...kserveRequest([[1, 2, 3, 4]]), raw_input_contents: [Buffer.alloc(Math.floor(ctx.limits.grpcMaxReceiveMessageBytes * 1.25))] };
      const { error } = await unary(ctx.grpc.kserve, 'ModelInfer', request);
      // grpc-js refuses it before ortserve sees it, so there is no ortserve code to check.
      checkError('message over --grpc_max_receive_message_bytes', errorOf(error), { status: Status.RESOURCE_EXHAUSTED });
    },
  },
  {
    name: 'grpc-deadline-expires', protocol: 'grpc-kserve', kind: 'hostile', weight: 0.3,
    async run(ctx) {
      const holders = Array.from({ length: ctx.workers + 2 }, () => unary(ctx.grpc.kserve, 'ModelInfer', slowRequest(), { deadlineMs: ctx.timeoutMs }));
      await new Promise((r) => setTimeout(r, 5));
      const late = await unary(ctx.grpc.kserve, 'ModelInfer', slowRequest(), { deadlineMs: 5 });
      for (const { error, response } of await Promise.all(holders)) {
        check(!error && Math.abs(rawScores(response)[0] - SLOW_ANSWER) < 1e-6, `slow model over gRPC: ${error?.code} ${error?.details}`);
      }
      if (!late.error) return 'ran in time';
      checkError('5 ms deadline behind busy workers', errorOf(late.error), { status: Status.DEADLINE_EXCEEDED });
    },
  },
  {
    name: 'grpc-cancel', protocol: 'grpc-kserve', kind: 'hostile', weight: 0.3,
    async run(ctx) {
      const { error } = await unary(ctx.grpc.kserve, 'ModelInfer', slowRequest(), { cancelAfterMs: 1 + randomInt(20) });
      if (!error) return 'answered before the cancel';
      checkError('cancelled call', errorOf(error), { status: Status.CANCELLED });
    },
  },
];
