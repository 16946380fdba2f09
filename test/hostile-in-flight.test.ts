// Bodies and gRPC messages count in --max_in_flight_bytes from their first byte (issue 17): many concurrent large
// uploads past the limit are refused with a retryable 503 / UNAVAILABLE (ERR_QUEUE_FULL) naming the flag, the others
// are answered correctly, and once every exchange has ended (answered, refused or abandoned) the gauge reads 0.

import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { errorCodeOf, grpc, grpcClients, rawUnaryCall, unaryCall, type GrpcClients } from './support/grpc-client.js';
import { slowModel } from './support/models.mjs';
import { parsePrometheusText } from './support/prometheus-parser.js';
import { bytes, msg, str } from './support/protobuf-wire.js';
import { parseResponses, type RawResponse } from './support/raw-http.js';
import { closeTo, mlpReference } from './support/reference.js';
import { postText, startTestServer, type TestServer } from './support/test-server.js';
import { FlatBuffersWsClient } from '../src/client/index.js';

const ROW = [1, 2, 3, 4];
const LIMIT = 2_500_000;
/** Room for two of the padded gRPC messages (800,034 bytes each) and small calls, not for a third. */
const GRPC_LIMIT = 2_000_000;
/** Each large body: a small valid request padded with JSON whitespace, so its tensors and answer stay tiny. */
const BODY_BYTES = 800_000;

let t: TestServer | undefined;
let clients: GrpcClients | undefined;
const sockets: net.Socket[] = [];

afterEach(async () => {
  sockets.splice(0).forEach((s) => s.destroy());
  clients?.close();
  clients = undefined;
  await t?.close();
  t = undefined;
});

async function inFlightBytes(): Promise<number> {
  const text = await (await fetch(`${t!.baseUrl}/metrics`)).text();
  return parsePrometheusText(text).get('ortserve_in_flight_bytes')!.samples[0]!.value;
}

function paddedBody(): Buffer {
  const json = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: ROW }] });
  return Buffer.concat([Buffer.from(json), Buffer.alloc(BODY_BYTES - json.length, ' ')]);
}

/** A raw connection that sends a KServe infer request's head and the first `sent` bytes of `body`, collecting the reply. */
function upload(port: number, body: Buffer, sent: number) {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  const received: Buffer[] = [];
  const reply = new Promise<RawResponse>((resolve, reject) => {
    socket.on('data', (chunk) => {
      received.push(chunk);
      const { responses } = parseResponses(Buffer.concat(received));
      if (responses.length > 0) resolve(responses[0]!);
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('the server closed the connection without a complete answer')));
  });
  reply.catch(() => {});
  socket.write(`POST /v2/models/mlp/infer HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
  socket.write(body.subarray(0, sent));
  return { reply, rest: () => socket.write(body.subarray(sent)), socket };
}

function expectMlpAnswer(res: RawResponse): void {
  expect(res.status).toBe(200);
  const answer = JSON.parse(res.body.toString('utf8'));
  expect(closeTo([answer.outputs[0].data], mlpReference([ROW], 1))).toBe(true);
}

describe('REST bodies in --max_in_flight_bytes', () => {
  it('counts a body from its first chunk: past the limit, uploads get a retryable 503; the others are served; the gauge returns to 0', async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { maxInFlightBytes: LIMIT });
    const port = Number(new URL(t.baseUrl).port);
    const body = paddedBody();
    // Three uploads half sent: each counts its whole Content-Length at once (3 × 800,000 of 2,500,000).
    const held = [];
    for (let i = 0; i < 3; i++) {
      held.push(upload(port, body, 1000));
      await vi.waitFor(async () => expect(await inFlightBytes()).toBe((i + 1) * BODY_BYTES), { timeout: 20_000, interval: 20 });
    }
    // Five more whole uploads do not fit: each is read and dropped (nothing held), then refused with the retryable 503.
    const refused = Array.from({ length: 5 }, () => upload(port, body, body.length));
    for (const { reply } of refused) {
      const res = await reply;
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body.toString('utf8'))).toEqual({
        code: 'ERR_QUEUE_FULL',
        error: "the request body needs 800000 bytes while requests in flight hold 2400000; the server's limit is 2500000 (--max_in_flight_bytes); retry later",
      });
    }
    // A small request fits in what is left, and is answered while the three are held.
    const small = await postText(`${t.baseUrl}/v2/models/mlp/infer`, JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: ROW }] }));
    expect(small.status).toBe(200);
    expect(closeTo([small.json.outputs[0].data], mlpReference([ROW], 1))).toBe(true);
    expect(await inFlightBytes()).toBe(3 * BODY_BYTES);
    // The held uploads finish and are served, each with the right answer.
    for (const upload of held) upload.rest();
    for (const { reply } of held) expectMlpAnswer(await reply);
    await vi.waitFor(async () => expect(await inFlightBytes()).toBe(0), { timeout: 20_000, interval: 20 });
  }, 60_000);

  it('gives a body back when its client leaves mid-upload, and when a chunked body arrives piece by piece', async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { maxInFlightBytes: LIMIT });
    const port = Number(new URL(t.baseUrl).port);
    const left = upload(port, paddedBody(), 1000);
    await vi.waitFor(async () => expect(await inFlightBytes()).toBe(BODY_BYTES), { timeout: 20_000, interval: 20 });
    left.socket.destroy();
    await vi.waitFor(async () => expect(await inFlightBytes()).toBe(0), { timeout: 20_000, interval: 20 });
    // Chunked (no Content-Length): counted as it arrives, and given back once answered.
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    const received: Buffer[] = [];
    const reply = new Promise<RawResponse>((resolve) => socket.on('data', (chunk) => {
      received.push(chunk);
      const { responses } = parseResponses(Buffer.concat(received));
      if (responses.length > 0) resolve(responses[0]!);
    }));
    const body = paddedBody();
    socket.write('POST /v2/models/mlp/infer HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    socket.write(`${(300_000).toString(16)}\r\n`);
    socket.write(body.subarray(0, 300_000));
    socket.write('\r\n');
    await vi.waitFor(async () => expect(await inFlightBytes()).toBe(300_000), { timeout: 20_000, interval: 20 });
    socket.write(`${(body.length - 300_000).toString(16)}\r\n`);
    socket.write(body.subarray(300_000));
    socket.write('\r\n0\r\n\r\n');
    expectMlpAnswer(await reply);
    await vi.waitFor(async () => expect(await inFlightBytes()).toBe(0), { timeout: 20_000, interval: 20 });
  }, 60_000);
});

describe('gRPC messages in --max_in_flight_bytes', () => {
  it('counts a message until it is answered: past the limit, calls get a retryable UNAVAILABLE; the others are served; the gauge returns to 0', async () => {
    // One slow run at a time, never inline: the first two messages stay in flight while the others arrive.
    t = await startTestServer({ slow: { 1: slowModel({ steps: 32 }) }, mlp: { 1: mlpModel(1) } },
      { maxInFlightBytes: GRPC_LIMIT, maxConcurrentRunsPerModel: 1, inlineBudgetMicros: 0 });
    clients = grpcClients(t.grpcAddress);
    // ModelInfer for `slow` with x = 1, padded with an unknown field (skipped by the decoder, counted as message bytes).
    const message = (id: string) => Buffer.concat([
      str(1, 'slow'), str(3, id),
      msg(5, str(1, 'x'), str(2, 'FP32'), bytes(3, Buffer.from([1, 1]))),
      bytes(7, Buffer.from(new Float32Array([1]).buffer)),
      bytes(15, Buffer.alloc(BODY_BYTES)),
    ]);
    const size = message('a').length;
    const call = (id: string) => rawUnaryCall(clients!.kserve, '/inference.GRPCInferenceService/ModelInfer', message(id));
    const running = [call('a'), call('b')];
    await vi.waitFor(async () => expect(await inFlightBytes()).toBe(2 * size), { timeout: 20_000, interval: 20 });
    const refused = await Promise.all([call('c'), call('d'), call('e'), call('f')]);
    for (const { error } of refused) {
      expect(error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(errorCodeOf(error)).toBe('ERR_QUEUE_FULL');
      expect(error?.details).toBe(
        `the request message needs ${size} bytes while requests in flight hold ${2 * size}; the server's limit is ${GRPC_LIMIT} (--max_in_flight_bytes); retry later`);
    }
    // A small call fits and is answered meanwhile.
    const small = await unaryCall(clients.kserve, 'ModelInfer', {
      model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [Buffer.from(new Float32Array(ROW).buffer)],
    });
    expect(small.error).toBeUndefined();
    const scores = [...new Float32Array(new Uint8Array(small.response.raw_output_contents[0]).buffer)];
    expect(closeTo([scores], mlpReference([ROW], 1))).toBe(true);
    // The two slow ones are served: y = mean of (x^(steps+1) / n) over an n×n matrix = 1/1024 for x = 1, n = 1024.
    for (const result of await Promise.all(running)) {
      expect(result.error).toBeUndefined();
      const raw = readRawOutput(result.response!);
      expect(Math.abs(raw - 1 / 1024)).toBeLessThan(1e-6);
    }
    await vi.waitFor(async () => expect(await inFlightBytes()).toBe(0), { timeout: 20_000, interval: 20 });
  }, 120_000);
});

/** The one float32 of a ModelInferResponse's first raw_output_contents (field 6), read from the wire. */
function readRawOutput(response: Buffer): number {
  let at = 0;
  while (at < response.length) {
    const key = response[at++]!;
    let length = 0;
    for (let shift = 0; ; shift += 7) {
      const b = response[at++]!;
      length += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
    }
    if (key === ((6 << 3) | 2)) return response.readFloatLE(at);
    at += length;
  }
  throw new Error('no raw_output_contents in the response');
}

describe('FlatBuffers WebSocket messages in --max_in_flight_bytes', () => {
  it('a message that does not fit is refused with the retryable ERR_QUEUE_FULL on its own connection, which stays usable', async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { maxInFlightBytes: 100_000 });
    const ws = await FlatBuffersWsClient.connect(`${t.baseUrl.replace('http', 'ws')}/v1/flatbuffers/ws`);
    try {
      const rows = 30_000;   // 480,000 bytes of float32
      const big = ws.infer('mlp', { x: { dtype: 'float32', shape: [rows, 4], data: new Float32Array(rows * 4) } });
      await expect(big).rejects.toMatchObject({ code: 'ERR_QUEUE_FULL' });
      await expect(big).rejects.toThrow(/^the request message needs \d+ bytes while requests in flight hold 0; the server's limit is 100000 \(--max_in_flight_bytes\); retry later$/);
      const small = await ws.infer('mlp', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array(ROW) } });
      expect(closeTo([Array.from(small.outputs.scores!.data as Float32Array)], mlpReference([ROW], 1))).toBe(true);
    } finally {
      await ws.close();
    }
    await vi.waitFor(async () => expect(await inFlightBytes()).toBe(0), { timeout: 20_000, interval: 20 });
  }, 60_000);
});
