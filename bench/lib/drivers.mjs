// Protocol drivers for the load generator: each builds the request for one payload once, then sends it over one
// wire protocol (TF Serving JSON, KServe JSON and binary, KServe gRPC, FlatBuffers over HTTP and WebSocket, and the
// echo baselines) and says whether the answer was right. Every response is checked for status; every CHECK_EVERY-th
// one is decoded and compared with the expected output so a fast wrong answer cannot pass as a fast answer.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Pool } from 'undici';
import WebSocket from 'ws';
import { FlatBuffersHttpClient, FlatBuffersWsClient } from '../../dist/src/client/index.js';
import { requestBytes } from '../../dist/src/client/flatbuffers-http-client.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHECK_EVERY = 64;

/** Every protocol a driver exists for; 'echo-*' talk to the uWebSockets.js echo baseline. */
export const PROTOCOLS = ['tf-json', 'kserve-json', 'kserve-binary', 'grpc', 'fb-http', 'fb-ws', 'echo-http', 'echo-ws'];

/**
 * @typedef {{model: string, input: {name: string, shape: number[], data: Float32Array}, output: string,
 *            expected: Float32Array, tolerance: number}} Payload
 * @typedef {{origin?: string, grpcAddress?: string, connections?: number}} Target
 * @typedef {{send: () => Promise<string>, close: () => Promise<void>, requestBytes: number}} Driver
 */

/** Throws unless `actual` matches the payload's expected output within its tolerance. */
export function assertOutput(payload, actual, where) {
  const expected = payload.expected;
  if (actual.length !== expected.length) throw new Error(`${where}: ${actual.length} output values, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= payload.tolerance * Math.max(1, Math.abs(expected[i])))) {
      throw new Error(`${where}: output[${i}] is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

/** A checker that decodes every CHECK_EVERY-th response (and the first) and returns 'ok' or 'wrong-output'. */
function sampledChecker(payload, decode, where) {
  let count = 0;
  let reported = false;
  return (response, headers) => {
    if (count++ % CHECK_EVERY !== 0) return 'ok';
    try {
      assertOutput(payload, decode(response, headers), where);
      return 'ok';
    } catch (err) {
      if (!reported) console.error(String(err.message));   // once per driver: the outcome counts carry the rest
      reported = true;
      return 'wrong-output';
    }
  };
}

const floatsOf = (bytes) => {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
};

/** The WebSocket URL of `path` on an http:// origin. */
const wsUrl = (origin, path) => `${origin.replace(/^http/, 'ws')}${path}`;

const bytesOf = (data) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

/**
 * The exact HTTP request a protocol sends for `payload`: {path, headers, body}. The drivers send it; bench/saturation.mjs
 * hands the same bytes to wrk. 'fb-http' is also what the echo baseline is sent ('echo-http').
 */
export function httpRequest(protocol, payload) {
  const { model, input, output } = payload;
  switch (protocol) {
    case 'tf-json':
      return { path: `/v1/models/${model}:predict`, headers: { 'content-type': 'application/json' }, body: tfJsonBody(payload) };
    case 'kserve-json':
      return { path: `/v2/models/${model}/infer`, headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify({ inputs: [{ name: input.name, shape: input.shape, datatype: 'FP32', data: Array.from(input.data) }] })) };
    case 'kserve-binary': {
      const inputBytes = bytesOf(input.data);
      const header = Buffer.from(JSON.stringify({
        inputs: [{ name: input.name, shape: input.shape, datatype: 'FP32', parameters: { binary_data_size: inputBytes.length } }],
        outputs: [{ name: output, parameters: { binary_data: true } }],
      }));
      return { path: `/v2/models/${model}/infer`, body: Buffer.concat([header, inputBytes]),
        headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) } };
    }
    case 'fb-http':
      return { path: '/v1/flatbuffers/infer', headers: { 'content-type': 'application/x-flatbuffers' }, body: flatBuffersRequest(payload) };
    default:
      throw new Error(`httpRequest: no HTTP request for protocol '${protocol}'`);
  }
}

/** The KServe gRPC ModelInferRequest (proto-loader object form) for `payload`, raw_input_contents carrying the tensor. */
export function grpcRequest({ model, input }) {
  return { model_name: model, inputs: [{ name: input.name, datatype: 'FP32', shape: input.shape }], raw_input_contents: [bytesOf(input.data)] };
}

/** The payload's input in ortserve's client form, and the FlatBuffers request that carries it. */
const clientInputs = ({ input }) => ({ [input.name]: { dtype: 'float32', shape: input.shape, data: input.data } });
const flatBuffersRequest = (payload) => Buffer.from(requestBytes('1', payload.model, clientInputs(payload), {}));

// Drivers let transport errors reject: openLoop records a rejection as 'error:<code or message>'.

function httpDriver(target, requestPath, body, headers, check) {
  const pool = new Pool(target.origin, { connections: target.connections ?? 32, pipelining: 1 });
  return {
    requestBytes: body.length,
    send: () => pool.request({ path: requestPath, method: 'POST', body, headers }).then(async (res) => {
      const bytes = Buffer.from(await res.body.arrayBuffer());
      return res.statusCode === 200 ? check(bytes, res.headers) : String(res.statusCode);
    }),
    close: () => pool.close(),
  };
}

function tfJsonBody(payload) {
  const { shape, data } = payload.input;
  const rowLength = shape.slice(1).reduce((a, b) => a * b, 1);
  const rows = [];
  for (let r = 0; r < shape[0]; r++) rows.push(nest(Array.from(data.subarray(r * rowLength, (r + 1) * rowLength)), shape.slice(1)));
  return Buffer.from(JSON.stringify({ instances: rows }));
}

function nest(flat, dims) {
  if (dims.length <= 1) return flat;
  const size = dims.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: dims[0] }, (_, i) => nest(flat.slice(i * size, (i + 1) * size), dims.slice(1)));
}

let protoDefinition;
/** The grpc-js client class of KServe's GRPCInferenceService (its `service.ModelInfer` serializes and deserializes). */
export function kserveGrpcService() {
  protoDefinition ??= loadSync(['kserve_grpc_inference.proto'], { includeDirs: [path.join(root, 'schemas')], keepCase: true, longs: String, defaults: true });
  return grpc.loadPackageDefinition(protoDefinition).inference.GRPCInferenceService;
}

function kserveGrpcClient(address) {
  const Service = kserveGrpcService();
  return new Service(address, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 256 * 1024 * 1024, 'grpc.max_send_message_length': 256 * 1024 * 1024,
  });
}

/** The FlatBuffers drivers: ortserve's own client over either transport (it encodes each request, as users' code does). */
function flatBuffersDriver(client, payload, protocol) {
  const inputs = clientInputs(payload);
  const check = sampledChecker(payload, (result) => result.outputs[payload.output].data, protocol);
  return {
    requestBytes: flatBuffersRequest(payload).length,
    send: () => client.infer(payload.model, inputs).then(check),
    close: () => client.close(),
  };
}

/**
 * Makes a driver sending `payload` over `protocol` to `target`.
 * @param {string} protocol one of PROTOCOLS
 * @param {Target} target
 * @param {Payload} payload
 * @returns {Promise<Driver>}
 */
export async function createDriver(protocol, target, payload) {
  const { output } = payload;
  const inputBytes = bytesOf(payload.input.data);
  switch (protocol) {
    case 'tf-json': {
      const check = sampledChecker(payload, (bytes) => Float32Array.from(JSON.parse(bytes.toString()).predictions.flat(Infinity)), protocol);
      const { path: requestPath, body, headers } = httpRequest(protocol, payload);
      return httpDriver(target, requestPath, body, headers, check);
    }
    case 'kserve-json': {
      const check = sampledChecker(payload, (bytes) => Float32Array.from(JSON.parse(bytes.toString()).outputs.find((o) => o.name === output).data), protocol);
      const { path: requestPath, body, headers } = httpRequest(protocol, payload);
      return httpDriver(target, requestPath, body, headers, check);
    }
    case 'kserve-binary': {
      // With one binary output, the binary section is everything after the JSON header.
      const check = sampledChecker(payload, (bytes, headers) => floatsOf(bytes.subarray(Number(headers['inference-header-content-length']))), protocol);
      const { path: requestPath, body, headers } = httpRequest(protocol, payload);
      return httpDriver(target, requestPath, body, headers, check);
    }
    case 'grpc': {
      const client = kserveGrpcClient(target.grpcAddress);
      await new Promise((resolve, reject) => client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())));
      const request = grpcRequest(payload);
      const check = sampledChecker(payload, (response) => floatsOf(response.raw_output_contents[response.outputs.findIndex((o) => o.name === output)]), protocol);
      return {
        requestBytes: inputBytes.length,
        send: () => new Promise((resolve) => client.ModelInfer(request, (err, response) => resolve(err ? `grpc:${err.code}` : check(response)))),
        close: async () => client.close(),
      };
    }
    case 'fb-http':
      return flatBuffersDriver(new FlatBuffersHttpClient(target.origin, { connections: target.connections ?? 32 }), payload, protocol);
    case 'fb-ws':
      return flatBuffersDriver(await FlatBuffersWsClient.connect(wsUrl(target.origin, '/v1/flatbuffers/ws'), { maxInFlight: 1024 }), payload, protocol);
    case 'echo-http': {
      // The echo returns the FlatBuffers request it was sent: the same bytes ortserve's FlatBuffers path receives.
      const body = flatBuffersRequest(payload);
      return httpDriver(target, '/echo', body, { 'content-type': 'application/octet-stream' },
        (bytes) => (bytes.length === body.length ? 'ok' : 'wrong-length'));
    }
    case 'echo-ws': {
      const body = flatBuffersRequest(payload);
      const socket = new WebSocket(wsUrl(target.origin, '/echo'));
      await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); });
      // An echo answers in order on one connection, so replies are matched first-in, first-out.
      const waiting = [];
      socket.on('message', (data) => waiting.shift()?.(data.length === body.length ? 'ok' : 'wrong-length'));
      socket.on('close', () => { for (const w of waiting.splice(0)) w('error:closed'); });
      return {
        requestBytes: body.length,
        send: () => new Promise((resolve) => { waiting.push(resolve); socket.send(body, { binary: true }); }),
        close: () => new Promise((resolve) => { socket.once('close', resolve); socket.close(1000); }),
      };
    }
    default:
      throw new Error(`no driver for protocol '${protocol}'`);
  }
}
