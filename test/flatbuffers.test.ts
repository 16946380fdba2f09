// End-to-end tests of the FlatBuffers protocol over HTTP and WebSocket: every dtype, equality with the JSON path,
// zero-copy input views, hostile buffers, pipelining, slow readers and closing with requests in flight.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mlpModel, multiIoModel } from '../scripts/make-example-models.mjs';
import { ALL_DTYPES, identityModel, slowModel } from './support/models.mjs';
import { mlpReference } from './support/reference.js';
import { postText, startTestServer, type TestServer } from './support/test-server.js';
import { FlatBuffersHttpClient, FlatBuffersWsClient, OrtServeClientError, asStrings, type ClientInput } from '../src/client/index.js';
import { decodeInferRequest, decodeInferResponse, encodeInferRequest } from '../src/protocol/flatbuffers/messages.js';
import { nativeAddon } from '../src/engine/native-binding.js';
import type { DType, Tensor } from '../src/engine/tensor.js';
import { DEFAULT_SIZE_LIMITS } from '../src/engine/tensor-limits.js';

let t: TestServer;
let http: FlatBuffersHttpClient;
const wsUrl = () => `${t.baseUrl.replace('http', 'ws')}/v1/flatbuffers/ws`;

beforeAll(async () => {
  const models: Record<string, Record<number, Uint8Array>> = { mlp: { 1: mlpModel(1) }, multi_io: { 1: multiIoModel() }, slow: { 1: slowModel() } };
  for (const dtype of ALL_DTYPES as DType[]) models[`id_${dtype}`] = { 1: identityModel(dtype) };
  t = await startTestServer(models, { wsMaxBackpressureBytes: 256 * 1024 });
  http = new FlatBuffersHttpClient(t.baseUrl);
});
afterAll(async () => {
  await http.close();
  await t.close();
});

/** Two rows of two elements of `dtype`, with values at the edges of its range, written as raw bit patterns. */
function sample(dtype: DType): ClientInput {
  const shape = [2, 2];
  switch (dtype) {
    case 'float32': return { dtype, shape, data: new Float32Array([0.1, -0, Number.POSITIVE_INFINITY, 3.4028234663852886e38]) };
    case 'float64': return { dtype, shape, data: new Float64Array([Math.PI, -1e-308, Number.NaN, 5e-324]) };
    case 'float16': case 'bfloat16': case 'uint16': return { dtype, shape, data: new Uint16Array([0x3c00, 0x7c00, 0x0001, 0xffff]) };
    case 'int8': return { dtype, shape, data: new Int8Array([-128, 127, 0, -1]) };
    case 'int16': return { dtype, shape, data: new Int16Array([-32768, 32767, 1, -2]) };
    case 'int32': return { dtype, shape, data: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 7, -7]) };
    case 'int64': return { dtype, shape, data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -5n]) };
    case 'uint8': case 'bool': return { dtype, shape, data: new Uint8Array(dtype === 'bool' ? [1, 0, 0, 1] : [0, 255, 128, 1]) };
    case 'uint32': return { dtype, shape, data: new Uint32Array([0, 2 ** 32 - 1, 1, 2 ** 31]) };
    case 'uint64': return { dtype, shape, data: new BigUint64Array([0n, 2n ** 64n - 1n, 2n ** 63n, 1n]) };
    case 'string': return { dtype, shape, data: ['', 'héllo', 'a\u0000b', '\u{1f600}'] };
  }
}

function bytesOf(data: unknown): number[] {
  if (Array.isArray(data)) return data.flatMap((e: Uint8Array | string) => [...(typeof e === 'string' ? new TextEncoder().encode(e) : e), -1]);
  const view = data as ArrayBufferView;
  return [...new Uint8Array(view.buffer, view.byteOffset, view.byteLength)];
}

describe('round trips', () => {
  for (const dtype of ALL_DTYPES as DType[]) {
    it(`${dtype}: identity returns the exact bytes over HTTP and WebSocket`, async () => {
      const input = sample(dtype) as { dtype: DType; shape: number[]; data: unknown };
      const ws = await FlatBuffersWsClient.connect(wsUrl());
      try {
        for (const result of [await http.infer(`id_${dtype}`, { x: input as ClientInput }), await ws.infer(`id_${dtype}`, { x: input as ClientInput })]) {
          const y = result.outputs.y!;
          expect(y.dtype).toBe(dtype);
          expect(y.shape).toEqual([2, 2]);
          expect(bytesOf(y.data)).toEqual(bytesOf(input.data));
        }
      } finally {
        await ws.close();
      }
    });
  }

  it('several inputs and outputs give what the JSON REST path gives', async () => {
    const a = new Float32Array([0.5, -1.25, 3, 1e-3, 2, 7]);
    const b = new BigInt64Array([9007199254740993n, -4n, 0n, 41n]);
    const text = ['one', 'twö'];
    const fb = await http.infer('multi_io', { a: { dtype: 'float32', shape: [2, 3], data: a }, b: { dtype: 'int64', shape: [2, 2], data: b }, text });
    const json = await postText(`${t.baseUrl}/v1/models/multi_io:predict`,
      '{"inputs":{"a":[[0.5,-1.25,3],[0.001,2,7]],"b":[[9007199254740993,-4],[0,41]],"text":["one","twö"]}}');
    expect(Array.from(fb.outputs.a_doubled!.data as Float32Array)).toEqual([1, -2.5, 6, Math.fround(1e-3) * 2, 4, 14]);
    expect(json.text).toContain('"b_plus_one":[[9007199254740994,-3],[1,42]]');
    expect(Array.from(fb.outputs.b_plus_one!.data as BigInt64Array)).toEqual([9007199254740994n, -3n, 1n, 42n]);
    expect(asStrings(fb.outputs.text_echo!)).toEqual(json.json.outputs.text_echo);
    expect(Array.from(fb.outputs.a_sum!.data as Float32Array).map((v) => Math.fround(v)))
      .toEqual((json.json.outputs.a_sum as number[]).map((v) => Math.fround(v)));
    expect(fb.outputs.text_bytes!.dtype).toBe('string');
  });

  it('honours requested outputs and versions', async () => {
    const result = await http.infer('multi_io', { a: { dtype: 'float32', shape: [1, 3], data: new Float32Array([1, 2, 3]) },
      b: { dtype: 'int64', shape: [1, 2], data: new BigInt64Array([1n, 2n]) }, text: ['x'] }, { outputs: ['a_sum'], version: 1 });
    expect(Object.keys(result.outputs)).toEqual(['a_sum']);
    expect(result.version).toBe(1);
    const rows = [[1, 2, 3, 4]];
    const mlp = await http.infer('mlp', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array(rows[0]!) } });
    expect(Array.from(mlp.outputs.scores!.data as Float32Array)).toEqual(mlpReference(rows, 1)[0]);
  });
});

describe('64-bit fields at their edges', () => {
  // The decoder reads version, timeout, sequence id and dims as numbers when their high word is 0 and exactly
  // otherwise; each case below crosses that word boundary or the sign.
  const x = { dtype: 'float32' as const, shape: [1, 4], data: new Float32Array(4) };
  const decode = (m: Partial<Parameters<typeof encodeInferRequest>[0]>) =>
    decodeInferRequest(encodeInferRequest({ id: 'r', model: 'mlp', inputs: new Map([['x', x]]), outputs: [], ...m }));

  it('keeps values past 32 bits exact and refuses negative ones by name', () => {
    expect(decode({ version: 2 ** 32 + 7 }).version).toBe(4294967303);
    expect(decode({ version: 4294967295 }).version).toBe(4294967295);
    expect(decode({ timeoutMicros: 2 ** 40 + 1 }).timeoutMicros).toBe(1099511627777);
    expect(decode({ sequenceId: 2n ** 64n - 1n }).sequenceId).toBe(18446744073709551615n);
    expect(decode({ sequenceId: 4294967296n }).sequenceId).toBe(4294967296n);
    expect(decode({ sequenceId: 5n }).sequenceId).toBe(5n);
    expect(decode({}).sequenceId).toBeUndefined();
    expect(() => decode({ version: -1 })).toThrow(/request\.model_version must be positive, got -1/);
  });

  it('reads dims past 32 bits, and refuses negative and oversized dims naming the input', () => {
    const withShape = (shape: number[]) => decodeInferRequest(encodeInferRequest({
      id: 'r', model: 'mlp', inputs: new Map([['x', { dtype: 'float32', shape, data: new Float32Array(0) }]]), outputs: [],
    }), { ...DEFAULT_SIZE_LIMITS, maxRequestElements: Number.MAX_SAFE_INTEGER });
    expect(() => withShape([0, -1])).toThrow(/request\.inputs\[0\] \(x\)\.shape\[1\]: -1 is negative/);
    expect(() => withShape([0, 2 ** 60])).toThrow(/request\.inputs\[0\] \(x\)\.shape\[1\]: 1152921504606846976 is larger than any tensor/);
    expect(withShape([0, 2 ** 32 + 3]).inputs.get('x')!.shape).toEqual([0, 4294967299]);
  });
});

describe('zero copy', () => {
  it('decoded inputs are views into the request buffer, and the engine reads them there', async () => {
    const x = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const bytes = encodeInferRequest({ id: '1', model: 'mlp', inputs: new Map([['x', { dtype: 'float32', shape: [2, 4], data: x } as Tensor]]), outputs: [] });
    const request = decodeInferRequest(bytes);
    const data = request.inputs.get('x')!.data as Float32Array;
    expect(data.buffer).toBe(bytes.buffer);   // a view, not a copy
    const addon = nativeAddon();
    const offset = addon.addressOf(data) - addon.addressOf(bytes);
    expect(offset > 0n && offset < BigInt(bytes.length)).toBe(true);
    const session = await addon.loadSession(`${t.repository}/mlp/1/model.onnx`);
    const result = await session.run([{ name: 'x', dtype: 'float32', shape: [2, 4], data }], undefined, { reportAddresses: true });
    expect(result.inputAddresses![0]).toBe(addon.addressOf(bytes) + offset);   // ORT read the request buffer itself
    session.release();
  });
});

describe('hostile buffers', () => {
  const valid = () => encodeInferRequest({ id: '7', model: 'mlp', inputs: new Map([['x', { dtype: 'float32', shape: [2, 4], data: new Float32Array(8).fill(1) } as Tensor]]), outputs: ['scores'] });

  it('never throws anything but our errors when decoding random corruptions (in process)', () => {
    const base = valid();
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 20_000; i++) {
      const bytes = base.slice(0, i % 3 === 0 ? Math.floor(random() * base.length) : base.length);
      for (let k = 0; k < 1 + Math.floor(random() * 4); k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      try {
        decodeInferRequest(bytes);
      } catch (err) {
        expect((err as { code?: string }).code, String(err)).toMatch(/^ERR_/);
      }
    }
  });

  it('answers truncated and corrupted requests with error responses and keeps serving', async () => {
    const base = valid();
    let seed = 99;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 300; i++) {
      const bytes = base.slice(0, i % 2 === 0 ? Math.floor(random() * base.length) : base.length);
      for (let k = 0; k < 3; k++) if (bytes.length) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      const res = await fetch(`${t.baseUrl}/v1/flatbuffers/infer`, { method: 'POST', body: bytes });
      const reply = decodeInferResponse(new Uint8Array(await res.arrayBuffer()));
      if (res.status === 200) expect(reply.error).toBeUndefined();
      else expect(reply.error!.code).toMatch(/^ERR_/);
    }
    const ok = await http.infer('mlp', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) } });
    expect(Array.from(ok.outputs.scores!.data as Float32Array)).toEqual([2.75, -4.25, 0]);
  });

  it.each([
    ['unknown model', () => http.infer('nope', { x: new Float32Array(4) }), 'ERR_MODEL_NOT_FOUND', 404, /nope/],
    ['shape and data disagree', () => http.infer('mlp', { x: { dtype: 'float32', shape: [2, 4], data: new Float32Array(4) } }), 'ERR_SHAPE', 400, /16 bytes of data, but shape \[2,4\] of float32 needs 32/],
    ['wrong dtype', () => http.infer('mlp', { x: { dtype: 'float64', shape: [1, 4], data: new Float64Array(4) } }), 'ERR_DTYPE', 400, /float64/],
    ['unknown output', () => http.infer('mlp', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array(4) } }, { outputs: ['nope'] }), 'ERR_UNKNOWN_OUTPUT', 400, /nope/],
  ])('%s: error response with code and status', async (_, call, code, status, message) => {
    const error = await call().then(() => undefined, (e: unknown) => e as OrtServeClientError);
    expect(error).toBeInstanceOf(OrtServeClientError);
    expect(error!.code).toBe(code);
    expect(error!.httpStatus).toBe(status);
    expect(error!.message).toMatch(message);
  });

  it('a body that is not ours, or BYTES lengths that overrun the data, get clear errors', async () => {
    const res = await fetch(`${t.baseUrl}/v1/flatbuffers/infer`, { method: 'POST', body: '{"not":"flatbuffers"}' });
    expect(res.status).toBe(400);
    expect(decodeInferResponse(new Uint8Array(await res.arrayBuffer())).error!.message).toMatch(/file identifier|malformed/);
    const bytes = encodeInferRequest({ id: '1', model: 'id_string', inputs: new Map([['x', { dtype: 'string', shape: [2, 2], data: ['a', 'b', 'c', 'd'].map((s) => new TextEncoder().encode(s)) } as Tensor]]), outputs: [] });
    // The first element's 4-byte length is 1; make it claim 1000 bytes.
    const at = bytes.findIndex((_, i) => bytes[i] === 1 && bytes[i + 1] === 0 && bytes[i + 2] === 0 && bytes[i + 3] === 0 && bytes[i + 4] === 97);
    bytes[at] = 0xe8;
    bytes[at + 1] = 0x03;
    const reply = await fetch(`${t.baseUrl}/v1/flatbuffers/infer`, { method: 'POST', body: bytes });
    expect(reply.status).toBe(400);
    expect(decodeInferResponse(new Uint8Array(await reply.arrayBuffer())).error!.message).toMatch(/BYTES element 0 declares 1000 bytes/);
  });
});

describe('WebSocket', () => {
  it('10,000 requests pipelined on one connection are all answered and matched', async () => {
    const ws = await FlatBuffersWsClient.connect(wsUrl(), { maxInFlight: 1000 });
    try {
      const results = await Promise.all(Array.from({ length: 10_000 }, (_, i) =>
        ws.infer('mlp', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array([i % 97, 0, 0, i % 5]) } })));
      results.forEach((r, i) => {
        expect(Array.from(r.outputs.scores!.data as Float32Array)).toEqual(mlpReference([[i % 97, 0, 0, i % 5]], 1)[0]);
      });
    } finally {
      await ws.close();
    }
  });

  it('a client that stops reading is disconnected once replies back up past the limit', async () => {
    const socket = new WebSocket(wsUrl());
    await new Promise((r) => socket.once('open', r));
    let received = 0;
    socket.on('message', () => received++);
    const closed = new Promise<number>((r) => socket.once('close', (code) => r(code)));
    (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const big = encodeInferRequest({ id: 'x', model: 'id_float32', inputs: new Map([['x', { dtype: 'float32', shape: [32768, 2], data: new Float32Array(65536) } as Tensor]]), outputs: [] });
    for (let i = 0; i < 20; i++) socket.send(big);   // 20 replies of 256 KiB against a 256 KiB limit
    await new Promise((r) => setTimeout(r, 500));
    (socket as unknown as { _socket: { resume(): void } })._socket.resume();
    await closed;
    expect(received).toBeLessThan(20);
    const ok = await http.infer('mlp', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) } });
    expect(ok.outputs.scores!.shape).toEqual([1, 3]);
  });

  it('closing with requests in flight fails them on the client and drops them on the server', async () => {
    const ws = await FlatBuffersWsClient.connect(wsUrl());
    const stats = () => t.server.registry.resolve('slow').session.stats();
    const before = stats();
    const pending = Array.from({ length: 6 }, () => ws.infer('slow', { x: { dtype: 'float32', shape: [1, 1], data: new Float32Array([1]) } })
      .then(() => 'answered', (e: OrtServeClientError) => e.code));
    await new Promise((r) => setTimeout(r, 50));
    await ws.close();
    const outcomes = await Promise.all(pending);
    expect(outcomes.filter((o) => o === 'ERR_CONNECTION_CLOSED').length).toBe(6);
    // Wait for the native queue to settle: requests not started when the socket closed were dropped, not run.
    for (let i = 0; i < 100 && stats().tasksRun + stats().expired < before.tasksRun + before.expired + 6; i++) await new Promise((r) => setTimeout(r, 50));
    const after = stats();
    expect(after.tasksRun + after.expired - before.tasksRun - before.expired).toBe(6);
    expect(after.expired - before.expired).toBeGreaterThan(0);
  });
});
