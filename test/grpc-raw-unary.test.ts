// ModelInfer and Predict served on the HTTP/2 stream directly (--grpc_raw_unary, src/frontends/grpc/raw-unary.ts)
// answer as grpc-js does: the same calls, sent byte by byte over node:http2 to a server with it on and one with it off, get
// the same response headers, message bytes and trailers; and it is really in use (the listening log says so).

import http2 from 'node:http2';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { definition, grpc } from './support/grpc-client.js';
import { mlpReference } from './support/reference.js';
import { startTestServer, type TestServer } from './support/test-server.js';

const pkg = grpc.loadPackageDefinition(definition) as any;
const ModelInfer = pkg.inference.GRPCInferenceService.service.ModelInfer;
const PATH = '/inference.GRPCInferenceService/ModelInfer';
const Predict = pkg.tensorflow.serving.PredictionService.service.Predict;
const PREDICT = { ':path': '/tensorflow.serving.PredictionService/Predict' };
const MAX_RECEIVE = 4096;

const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);
const ROW = [0.5, -1, 2, 0.25];
const inferRequest = (model = 'mlp', row = ROW): Buffer => ModelInfer.requestSerialize({
  model_name: model, id: 'r1', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32(row)],
});
/** A gRPC length-prefixed message: the flag byte, the length (big-endian), the message. */
function framed(message: Buffer, flag = 0): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame[0] = flag;
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

interface Exchange {
  headers: Record<string, unknown>;
  trailers: Record<string, unknown>;
  body: Buffer;
}

/** Sends one call on `session`: its headers, then `chunks` as DATA frames, then the end; resolves with what came back. */
function exchange(session: http2.ClientHttp2Session, chunks: Buffer[], headers: Record<string, string> = {}): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    const out: Exchange = { headers: {}, trailers: {}, body: Buffer.alloc(0) };
    const body: Buffer[] = [];
    stream.on('response', (h) => { out.headers = { ...h }; });
    stream.on('trailers', (t) => { out.trailers = { ...t }; });
    stream.on('data', (chunk: Buffer) => body.push(chunk));
    stream.on('error', reject);
    stream.on('close', () => {
      out.body = Buffer.concat(body);
      // The date header differs from one answer to the next: it is left out of the comparison.
      delete out.headers['date'];
      delete out.trailers['date'];
      resolve(out);
    });
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  });
}

let on: TestServer;
let off: TestServer;
let sessions: http2.ClientHttp2Session[] = [];
const listening: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  const lines = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line !== '') listening.push(JSON.parse(line));
      done();
    },
  });
  const spec = { mlp: { 1: mlpModel(1) } };
  on = await startTestServer(spec, { grpcMaxReceiveMessageBytes: MAX_RECEIVE, logger: pino({ level: 'info' }, lines) });
  off = await startTestServer(spec, { grpcMaxReceiveMessageBytes: MAX_RECEIVE, grpcRawUnary: false });
  sessions = [http2.connect(`http://${on.grpcAddress}`), http2.connect(`http://${off.grpcAddress}`)];
});

afterAll(async () => {
  for (const s of sessions) s.close();
  await on?.close();
  await off?.close();
});

/** The same call to both servers; expects equal answers and returns the one with the fast path. */
async function same(chunks: Buffer[], headers: Record<string, string> = {}): Promise<Exchange> {
  const [raw, grpcJs] = await Promise.all([exchange(sessions[0]!, chunks, headers), exchange(sessions[1]!, chunks, headers)]);
  expect(raw).toEqual(grpcJs);
  return raw;
}

describe('--grpc_raw_unary: ModelInfer and Predict on the HTTP/2 stream', () => {
  it('is in use by default (the listening log line says so)', () => {
    const line = listening.find((l) => l['msg'] === 'ortserve listening (REST and gRPC)');
    expect(line?.['grpcRawUnary']).toBe(true);
  });

  it('answers a request with the same headers, message bytes and trailers as grpc-js, and the right scores', async () => {
    const answer = await same([framed(inferRequest())]);
    expect(answer.headers).toMatchObject({ ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-encoding': 'identity' });
    expect(answer.trailers).toMatchObject({ 'grpc-status': '0', 'grpc-message': 'OK' });
    expect(answer.body.readUInt32BE(1)).toBe(answer.body.length - 5);
    const reply = ModelInfer.responseDeserialize(answer.body.subarray(5));
    const scores = [...new Float32Array(new Uint8Array(reply.raw_output_contents[0]).buffer)];
    mlpReference([ROW], 1)[0]!.forEach((expected, k) => expect(Math.abs(scores[k]! - expected)).toBeLessThan(1e-4));
    expect(reply.id).toBe('r1');
  });

  it('reads a message split over several DATA frames, and a route key and a deadline in the metadata', async () => {
    const frame = framed(inferRequest());
    const answer = await same([frame.subarray(0, 3), frame.subarray(3, 40), frame.subarray(40)], { 'x-ortserve-route-key': 'user-7', 'grpc-timeout': '30S' });
    expect(answer.trailers['grpc-status']).toBe('0');
  });

  it('errors: the same trailers-only status, message and ortserve-error-code', async () => {
    const notFound = await same([framed(inferRequest('no_such_model'))]);
    expect(notFound.headers).toMatchObject({ 'grpc-status': '5', 'ortserve-error-code': 'ERR_MODEL_NOT_FOUND' });
    const malformed = await same([framed(Buffer.from([0x0a, 0x10, 0x61]))]);
    expect(malformed.headers).toMatchObject({ 'grpc-status': '3', 'ortserve-error-code': 'ERR_PROTOBUF' });
    const wrongShape = await same([framed(ModelInfer.requestSerialize({
      model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3] }], raw_input_contents: [f32([1, 2, 3])],
    }))]);
    expect(wrongShape.headers).toMatchObject({ 'grpc-status': '3', 'ortserve-error-code': 'ERR_SHAPE' });
  });

  it('transport rules as grpc-js: the size limit, no message, two messages, the compressed flag under identity', async () => {
    const tooLarge = await same([framed(Buffer.alloc(MAX_RECEIVE + 1))]);
    expect(tooLarge.headers['grpc-status']).toBe('8');
    expect(decodeURI(String(tooLarge.headers['grpc-message']))).toBe(`Received message larger than max (${MAX_RECEIVE + 1} vs ${MAX_RECEIVE})`);
    const none = await same([]);
    expect(none.headers['grpc-status']).toBe('12');
    const truncated = await same([framed(inferRequest()).subarray(0, 20)]);
    expect(truncated.headers['grpc-status']).toBe('12');
    const two = await same([framed(inferRequest()), framed(inferRequest())]);
    expect(two.headers['grpc-status']).toBe('12');
    const flagged = await same([framed(inferRequest(), 1)]);
    expect(flagged.trailers['grpc-status']).toBe('0');
    // A second message's prefix over the limit is refused as soon as it arrives (nothing more is buffered for it)...
    const secondTooLarge = await same([framed(inferRequest()), framed(Buffer.alloc(0)).fill(0xff, 1, 5)]);
    expect(secondTooLarge.headers['grpc-status']).toBe('8');
    // ...and a second message that never completes is ignored, as grpc-js's decoder ignores it.
    const trailing = await same([framed(inferRequest()), framed(Buffer.alloc(100)).subarray(0, 20)]);
    expect(trailing.trailers['grpc-status']).toBe('0');
  });

  it('leaves to grpc-js what it does not serve: compression, a malformed grpc-timeout, another content type', async () => {
    // (An uncompressed message, flag 0, under grpc-encoding gzip: grpc-js reads it as it is.)
    const gzip = await same([framed(inferRequest())], { 'grpc-encoding': 'gzip' });
    expect(gzip.trailers['grpc-status']).toBe('0');
    const badTimeout = await same([framed(inferRequest())], { 'grpc-timeout': 'soon' });
    expect(badTimeout.headers['grpc-status'] ?? badTimeout.trailers['grpc-status']).toBe('13');
    const json = await same([Buffer.from('{}')], { 'content-type': 'application/json' });
    expect(json.headers[':status']).toBe(415);
  });

  it('TF Serving Predict: the same answer as grpc-js, and the same errors', async () => {
    const request = (name: string) => framed(Predict.requestSerialize({
      model_spec: { name }, inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 1 }, { size: 4 }] }, float_val: ROW } },
    }));
    const answer = await same([request('mlp')], PREDICT);
    expect(answer.trailers['grpc-status']).toBe('0');
    const reply = Predict.responseDeserialize(answer.body.subarray(5));
    const scores = Object.values(reply.outputs as Record<string, { float_val: number[] }>)[0]!.float_val;
    mlpReference([ROW], 1)[0]!.forEach((expected, k) => expect(Math.abs(scores[k]! - expected)).toBeLessThan(1e-4));
    const notFound = await same([request('nope')], PREDICT);
    expect(notFound.headers).toMatchObject({ 'grpc-status': '5', 'ortserve-error-code': 'ERR_MODEL_NOT_FOUND' });
  });

  it('a call the client resets before its message ends leaves the session serving', async () => {
    const stream = sessions[0]!.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
    stream.on('error', () => {});
    stream.write(framed(inferRequest()).subarray(0, 10));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await new Promise((resolve) => stream.on('close', resolve));
    const after = await same([framed(inferRequest())]);
    expect(after.trailers['grpc-status']).toBe('0');
  });
});
