// One deadline rule for every protocol: the same client timeout, sent through each protocol in its own field, gives
// the same outcome (src/inference/deadline.ts states the rule: units, origin, "0 = the server's default").

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { requestDeadline } from '../src/inference/deadline.js';
import { decimalHeader } from '../src/frontends/http/http-exchange.js';
import { decodeInferResponse, encodeInferRequest } from '../src/protocol/flatbuffers/messages.js';
import { grpcClients, grpc, unaryCall, type GrpcClients } from './support/grpc-client.js';
import { slowModel } from './support/models.mjs';
import { mlpReference } from './support/reference.js';
import { converse, type RawResponse } from './support/raw-http.js';
import { startTestServer, type TestServer } from './support/test-server.js';

/** What a request ended as: its scores (rounded) when it ran, or the error code it got. */
type Outcome = { ok: number[] } | { error: string };

/** A client timeout, in ms, as the table gives it; each protocol converts it to its own unit and field. */
interface Send {
  timeoutMs: number;
  /** Send the body this long after the headers (HTTP protocols only). */
  bodyDelayMs?: number;
}

const X = [1, 2, 3, 4];
const EXPECTED: Outcome = { ok: mlpReference([X], 1)[0]!.map(round) };
const EXPIRED: Outcome = { error: 'ERR_DEADLINE_EXCEEDED' };

function round(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}

let t: TestServer;
let port: number;
let grpcs: GrpcClients;

beforeAll(async () => {
  // One native worker, so a request waits in the queue while a slow run holds it; inline runs off, so the tiny
  // model takes the queue too (test/execution-mode.test.ts covers inline runs). The slow run (64 MatMuls of 1024²,
  // ~1.5 s on an idle core) must outlast the 100 ms timeout by a wide margin on a loaded machine: with 24 (~0.6 s) a
  // full-suite run once saw it end before the queued request's deadline.
  t = await startTestServer({ mlp: { 1: mlpModel(1) }, slow: { 1: slowModel({ steps: 64 }) } }, { numBatchThreads: 1, inlineBudgetMicros: 0 });
  port = Number(new URL(t.baseUrl).port);
  grpcs = grpcClients(t.grpcAddress);
});
afterAll(async () => {
  grpcs.close();
  await t.close();
});

/** One HTTP/1.1 POST on a raw socket, the body written `bodyDelayMs` after the headers; resolves with the answer. */
async function rawHttp(path: string, headers: Record<string, string>, body: Uint8Array, bodyDelayMs = 0): Promise<RawResponse> {
  const lines = Object.entries({ Host: '127.0.0.1', 'Content-Length': String(body.length), ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
  const reply = await converse(port, [{ bytes: `POST ${path} HTTP/1.1\r\n${lines.join('')}\r\n` }, { bytes: body, afterMs: bodyDelayMs }], 1);
  expect(reply.responses).toHaveLength(1);
  return reply.responses[0]!;
}

function jsonOutcome(reply: RawResponse, scores: (json: any) => number[]): Outcome {
  const json = JSON.parse(reply.body.toString('utf8'));
  return reply.status === 200 ? { ok: scores(json).map(round) } : { error: json.code };
}

function fbRequest(timeoutMs: number): Uint8Array {
  return encodeInferRequest({
    id: 'r', model: 'mlp', outputs: [], timeoutMicros: Math.round(timeoutMs * 1000),
    inputs: new Map([['x', { dtype: 'float32', shape: [1, 4], data: new Float32Array(X) }]]),
  });
}

function fbOutcome(bytes: Uint8Array): Outcome {
  const reply = decodeInferResponse(bytes);
  if (reply.error) return { error: reply.error.code };
  return { ok: Array.from(reply.outputs.get('scores')!.data as Float32Array, round) };
}

function grpcOutcome(result: { error?: grpc.ServiceError; response?: any }, scores: (response: any) => number[]): Outcome {
  if (result.error) {
    const code = result.error.metadata.get('ortserve-error-code')[0];
    // A gRPC client ends the call itself when its deadline passes: the same outcome, without the server's trailer.
    if (code === undefined && result.error.code === grpc.status.DEADLINE_EXCEEDED) return EXPIRED;
    return { error: String(code ?? result.error.code) };
  }
  return { ok: scores(result.response).map(round) };
}

const kserveBody = (timeoutMs: number) => ({
  inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: X }],
  parameters: { timeout: Math.round(timeoutMs * 1000) },
});

/** Every protocol, each putting the client's timeout in its own field and unit. */
const PROTOCOLS: Record<string, (s: Send) => Promise<Outcome>> = {
  'TF Serving REST (x-request-timeout-ms)': async (s) =>
    jsonOutcome(await rawHttp('/v1/models/mlp/versions/1:predict', { 'x-request-timeout-ms': String(s.timeoutMs) },
      Buffer.from(JSON.stringify({ instances: [X] })), s.bodyDelayMs), (j) => j.predictions[0]),
  'KServe REST (parameters.timeout, µs)': async (s) =>
    jsonOutcome(await rawHttp('/v2/models/mlp/versions/1/infer', { 'Content-Type': 'application/json' },
      Buffer.from(JSON.stringify(kserveBody(s.timeoutMs))), s.bodyDelayMs), (j) => j.outputs[0].data),
  'FlatBuffers HTTP (timeout_micros)': async (s) => {
    const reply = await rawHttp('/v1/flatbuffers/infer', { 'Content-Type': 'application/x-flatbuffers' }, fbRequest(s.timeoutMs), s.bodyDelayMs);
    return fbOutcome(reply.body);
  },
  'FlatBuffers WebSocket (timeout_micros)': (s) => new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/flatbuffers/ws`);
    ws.on('error', reject);
    ws.on('open', () => ws.send(fbRequest(s.timeoutMs)));
    ws.on('message', (data: Buffer) => {
      ws.close();
      resolve(fbOutcome(new Uint8Array(data)));
    });
  }),
  'KServe gRPC (parameters.timeout, µs)': async (s) => grpcOutcome(await unaryCall(grpcs.kserve, 'ModelInfer', {
    model_name: 'mlp', model_version: '1',
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: X } }],
    parameters: { timeout: { int64_param: String(Math.round(s.timeoutMs * 1000)) } },
  }), (r) => Array.from(new Float32Array(new Uint8Array(r.raw_output_contents[0]).buffer))),
  'TF Serving gRPC (grpc-timeout)': async (s) => grpcOutcome(await unaryCall(grpcs.prediction, 'Predict', {
    model_spec: { name: 'mlp', version: { value: '1' } },
    inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 1 }, { size: 4 }] }, float_val: X } },
  }, { deadline: Date.now() + s.timeoutMs }), (r) => r.outputs.scores.float_val),
};

/** Holds the one native worker with a slow run until `done` settles (wrapped: an async function would await it). */
async function occupyWorker(): Promise<{ done: Promise<unknown> }> {
  const session = t.server.registry.resolve('slow').session;
  const before = session.stats().tasksRun;
  const running = fetch(`${t.baseUrl}/v1/models/slow:predict`, { method: 'POST', body: '{"inputs":[[1]]}' });
  // Wait until the worker has taken it (the queue is empty again and nothing has finished yet).
  for (let i = 0; i < 500 && session.stats().enqueued === 0; i++) await new Promise((r) => setTimeout(r, 2));
  await new Promise((r) => setTimeout(r, 20));
  expect(session.stats().tasksRun).toBe(before);
  return { done: running };
}

describe('one deadline rule, every protocol', () => {
  // TF Serving gRPC has no "0": a gRPC deadline is a point in time, not a timeout field.
  it.each(Object.keys(PROTOCOLS).filter((n) => !n.startsWith('TF Serving gRPC')))(
    '%s: a timeout of 0 sets no limit (the server default: none here), so the request runs',
    async (name) => {
      expect(await PROTOCOLS[name]!({ timeoutMs: 0 })).toEqual(EXPECTED);
    },
  );

  it.each(Object.keys(PROTOCOLS))('%s: a generous timeout (10 s) runs', async (name) => {
    expect(await PROTOCOLS[name]!({ timeoutMs: 10_000 })).toEqual(EXPECTED);
  });

  it.each(Object.keys(PROTOCOLS))('%s: a timeout that passes while the request is queued is DEADLINE_EXCEEDED', async (name) => {
    const slow = await occupyWorker();
    const outcome = await PROTOCOLS[name]!({ timeoutMs: 100 });
    await slow.done;
    expect(outcome).toEqual(EXPIRED);
  });

  // The protocols whose field is in µs: 1 µs keeps its precision, so it has passed by the time the body is decoded
  // (rounding it down to 0 would mean "none" under the 0 rule; rounding up to 1 ms would let it run).
  it.each(Object.keys(PROTOCOLS).filter((n) => n.includes('µs') || n.includes('timeout_micros')))(
    '%s: a 1 µs timeout has passed before the request runs: DEADLINE_EXCEEDED',
    async (name) => {
      expect(await PROTOCOLS[name]!({ timeoutMs: 0.001 })).toEqual(EXPIRED);
    },
  );

  it.each(Object.keys(PROTOCOLS).filter((n) => /REST|HTTP/.test(n)))(
    '%s: the deadline counts from the headers, so a body that arrives after it has passed is DEADLINE_EXCEEDED',
    async (name) => {
      expect(await PROTOCOLS[name]!({ timeoutMs: 150, bodyDelayMs: 400 })).toEqual(EXPIRED);
      // The same slow body with time to spare runs: the delay itself is not what fails it.
      expect(await PROTOCOLS[name]!({ timeoutMs: 10_000, bodyDelayMs: 400 })).toEqual(EXPECTED);
    },
  );
});

describe('requestDeadline', () => {
  it('keeps microseconds: 500 µs is half a millisecond, neither 0 nor 1 ms', () => {
    expect(requestDeadline({ receivedAt: 1000, timeoutMicros: 500 })).toBe(1000.5);
    expect(requestDeadline({ receivedAt: 1000, timeoutMicros: 1 })).toBe(1000.001);
  });

  it('treats 0 and absent timeouts as none, and takes the earliest of the rest', () => {
    expect(requestDeadline({ receivedAt: 1000 })).toBeUndefined();
    expect(requestDeadline({ receivedAt: 1000, serverTimeoutMs: 0, timeoutMs: 0, timeoutMicros: 0 })).toBeUndefined();
    expect(requestDeadline({ receivedAt: 1000, serverTimeoutMs: 0, timeoutMs: 50 })).toBe(1050);
    expect(requestDeadline({ receivedAt: 1000, serverTimeoutMs: 30, timeoutMs: 50, timeoutMicros: 40_000 })).toBe(1030);
    expect(requestDeadline({ receivedAt: 1000, timeoutMicros: 20_000, absoluteDeadline: 1010 })).toBe(1010);
    expect(requestDeadline({ receivedAt: 1000, timeoutMs: 5, absoluteDeadline: 1010 })).toBe(1005);
  });
});

describe('x-request-timeout-ms and content-length are read as plain decimals', () => {
  it('takes 1 to 9 digits for the timeout and refuses anything else', () => {
    expect(decimalHeader('300', 9)).toBe(300);
    expect(decimalHeader('0', 9)).toBe(0);
    expect(decimalHeader('999999999', 9)).toBe(999_999_999);
    for (const bad of ['', '1000000000', '-1', '+5', '1.5', '1e3', ' 300', '300 ', '0x10', '３']) expect(decimalHeader(bad, 9)).toBeUndefined();
  });

  it('takes any length of digits for a content length (huge values are refused later by the body limit)', () => {
    expect(decimalHeader('1234567890123456789', Number.POSITIVE_INFINITY)).toBe(1234567890123456789);
    expect(decimalHeader('9'.repeat(400), Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  });
});
