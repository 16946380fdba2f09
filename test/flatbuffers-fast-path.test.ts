// The FlatBuffers fast path (one addon call reads, runs and answers a plain request to an inline numeric version):
// its answers equal an independent forward pass and the general path's, every request it does not take is answered
// exactly as the general path answers it, and mutated messages get the same answer from both servers.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { buildModel } from '../scripts/onnx/onnx-writer.mjs';
import { ALL_DTYPES, identityModel } from './support/models.mjs';
import { closeTo, mlpReference } from './support/reference.js';
import { rng } from './support/seeded-random.js';
import { startTestServer, type TestServer } from './support/test-server.js';
import { FlatBuffersHttpClient, FlatBuffersWsClient, type ClientInput } from '../src/client/index.js';
import { decodeInferResponse, encodeInferRequest, type InferRequestMessage } from '../src/protocol/flatbuffers/messages.js';
import type { DType, Tensor } from '../src/engine/tensor.js';
import type { NativeSession } from '../src/engine/native-binding.js';

const NUMERIC = (ALL_DTYPES as DType[]).filter((d) => d !== 'string');

/** a float32 [n,3] doubled and b int64 [n,2] copied: two numeric inputs and two outputs. */
function twoByTwoModel(): Uint8Array {
  return buildModel({ graph: {
    name: 'two_by_two',
    inputs: [{ name: 'a', dtype: 'float32', shape: ['n', 3] }, { name: 'b', dtype: 'int64', shape: ['n', 2] }],
    outputs: [{ name: 'a_doubled', dtype: 'float32', shape: ['n', 3] }, { name: 'b_copy', dtype: 'int64', shape: ['n', 2] }],
    nodes: [{ op: 'Add', inputs: ['a', 'a'], outputs: ['a_doubled'] }, { op: 'Identity', inputs: ['b'], outputs: ['b_copy'] }],
  } });
}

/** A version of a string model: the fast path never takes it. */
function stringModel(): Uint8Array {
  return buildModel({ graph: {
    name: 'strings', inputs: [{ name: 'text', dtype: 'string', shape: ['n'] }],
    outputs: [{ name: 'same', dtype: 'string', shape: ['n'] }], nodes: [{ op: 'Identity', inputs: ['text'], outputs: ['same'] }],
  } });
}

/** A rank-0 float32 in and out. */
function scalarModel(): Uint8Array {
  return buildModel({ graph: {
    name: 'scalar', inputs: [{ name: 's', dtype: 'float32', shape: [] }], outputs: [{ name: 't', dtype: 'float32', shape: [] }],
    nodes: [{ op: 'Identity', inputs: ['s'], outputs: ['t'] }],
  } });
}

const models = (): Record<string, Record<number, Uint8Array>> => {
  const spec: Record<string, Record<number, Uint8Array>> = {
    mlp: { 1: mlpModel(1) }, two: { 1: twoByTwoModel() }, strings: { 1: stringModel() }, scalar: { 1: scalarModel() },
  };
  for (const dtype of NUMERIC) spec[`id_${dtype}`] = { 1: identityModel(dtype) };
  return spec;
};

let fast: TestServer;
let general: TestServer;
/** Fast-path calls that answered (the addon returned bytes) and that declined, on the fast server. */
const calls = { answered: 0, declined: 0 };

/** Counts the addon's fast-path outcomes by wrapping runFlatBuffers on every loaded session of `server`. */
function countFastPath(server: TestServer): void {
  for (const name of server.server.registry.modelNames()) {
    const session = server.server.registry.resolve(name)!.session as unknown as { natives: NativeSession[] };
    for (const native of session.natives) {
      const original = native.runFlatBuffers.bind(native);
      // The class's methods are read-only; an own property shadows it for this instance.
      Object.defineProperty(native, 'runFlatBuffers', {
        value: (...args: Parameters<NativeSession['runFlatBuffers']>) => {
          const result = original(...args);
          if (result === undefined) calls.declined++;
          else calls.answered++;
          return result;
        },
      });
    }
  }
}

/** POSTs raw FlatBuffers bytes; resolves with the status and the decoded answer (or the decoder's complaint). */
async function post(server: TestServer, body: Uint8Array): Promise<{ status: number; answer: unknown }> {
  const res = await fetch(`${server.baseUrl}/v1/flatbuffers/infer`, { method: 'POST', body });
  const bytes = new Uint8Array(await res.arrayBuffer());
  let answer: unknown;
  try {
    const m = decodeInferResponse(bytes);
    answer = { id: m.id, model: m.model, version: m.version, error: m.error, outputs: [...m.outputs].map(([name, t]) => tensorFacts(name, t)) };
  } catch (err) {
    answer = { undecodable: String(err) };
  }
  return { status: res.status, answer };
}

/** A tensor as comparable plain data: name, dtype, shape and its exact bytes. */
function tensorFacts(name: string, t: Tensor): unknown {
  const view = t.data as ArrayBufferView;
  return { name, dtype: t.dtype, shape: t.shape, bytes: Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('hex') };
}

function request(model: string, inputs: Record<string, Tensor>, extra: Partial<InferRequestMessage> = {}): Uint8Array {
  return encodeInferRequest({ id: 'req-1', model, inputs: new Map(Object.entries(inputs)), outputs: [], ...extra });
}

const mlpRow = (i: number): number[] => [i / 10, -i / 7, 1, 0.25 * i];
const mlpInput = (rows: number[][]): Record<string, Tensor> => ({ x: { dtype: 'float32', shape: [rows.length, 4], data: Float32Array.from(rows.flat()) } });

/** Enough runs for a version to go inline (execution-mode.ts: MIN_SAMPLES measured runs). */
async function warm(server: TestServer, model: string, inputs: Record<string, Tensor>): Promise<void> {
  for (let i = 0; i < 24; i++) expect((await post(server, request(model, inputs))).status).toBe(200);
}

beforeAll(async () => {
  fast = await startTestServer(models());
  general = await startTestServer(models(), { flatbuffersFastPath: false });
  countFastPath(fast);
  const twoInputs: Record<string, Tensor> = {
    a: { dtype: 'float32', shape: [1, 3], data: new Float32Array([1, 2, 3]) },
    b: { dtype: 'int64', shape: [1, 2], data: new BigInt64Array([1n, 2n]) },
  };
  for (const server of [fast, general]) {
    await warm(server, 'mlp', mlpInput([mlpRow(1)]));
    await warm(server, 'two', twoInputs);
  }
}, 60_000);
afterAll(async () => {
  await fast?.close();
  await general?.close();
});

describe('FlatBuffers fast path', () => {
  it('answers plain requests in one addon call, equal to an independent forward pass, over HTTP and WebSocket', async () => {
    const before = calls.answered;
    const http = new FlatBuffersHttpClient(fast.baseUrl, { connections: 2 });
    const ws = await FlatBuffersWsClient.connect(`${fast.baseUrl.replace('http', 'ws')}/v1/flatbuffers/ws`);
    try {
      for (let i = 0; i < 20; i++) {
        const rows = [mlpRow(i), mlpRow(i + 7)];
        const input: Record<string, ClientInput> = { x: { dtype: 'float32', shape: [2, 4], data: Float32Array.from(rows.flat()) } };
        for (const client of [http, ws]) {
          const answer = await client.infer('mlp', input);
          expect(answer.model).toBe('mlp');
          expect(answer.version).toBe(1);
          const y = answer.outputs.scores!;
          expect(y.shape).toEqual([2, 3]);
          const data = Array.from(y.data as Float32Array);
          expect(closeTo([data.slice(0, 3), data.slice(3)], mlpReference(rows, 1))).toBe(true);
        }
      }
    } finally {
      await http.close();
      ws.close();
    }
    // Most went the fast way (a run preempted past the inline budget sends the version to the workers a while).
    expect(calls.answered - before).toBeGreaterThanOrEqual(20);
    const metrics = await (await fetch(`${fast.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/nv_inference_request_success\{model="mlp",version="1"\} [1-9]/);
  });

  it('gives the same answer as the general path for every numeric dtype, requested outputs, empty and rank-0 tensors', async () => {
    const cases: Array<[string, Record<string, Tensor>, string[]]> = [];
    const r = rng(7);
    for (const dtype of NUMERIC) {
      const bytes = new Uint8Array(2 * 3 * 8).map(() => Math.floor(r() * 256));
      const size = { bool: 1, uint8: 1, int8: 1, uint16: 2, int16: 2, float16: 2, bfloat16: 2, uint32: 4, int32: 4, float32: 4, uint64: 8, int64: 8, float64: 8 }[dtype as Exclude<DType, 'string'>];
      const raw = dtype === 'bool' ? bytes.slice(0, 6).map((b) => b & 1) : bytes.slice(0, 6 * size);
      const ctor = { bool: Uint8Array, uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, float16: Uint16Array, bfloat16: Uint16Array, uint32: Uint32Array, int32: Int32Array, float32: Float32Array, uint64: BigUint64Array, int64: BigInt64Array, float64: Float64Array }[dtype as Exclude<DType, 'string'>];
      cases.push([`id_${dtype}`, { x: { dtype, shape: [3, 2], data: new ctor(raw.buffer) as Tensor['data'] } }, []]);
    }
    const two = (n: number): Record<string, Tensor> => ({
      a: { dtype: 'float32', shape: [n, 3], data: Float32Array.from({ length: 3 * n }, (_, i) => i - 1.5) },
      b: { dtype: 'int64', shape: [n, 2], data: BigInt64Array.from({ length: 2 * n }, (_, i) => BigInt(i) * 10n ** 15n) },
    });
    cases.push(['two', two(3), []], ['two', two(3), ['b_copy']], ['two', two(2), ['b_copy', 'a_doubled']], ['two', two(0), []]);
    cases.push(['scalar', { s: { dtype: 'float32', shape: [], data: new Float32Array([-2.5]) } }, []]);
    for (const [model, inputs, outputs] of cases) {
      // Identity versions go inline after their own warm-up runs, on both servers.
      if (model.startsWith('id_') || model === 'scalar') {
        await warm(fast, model, inputs);
        await warm(general, model, inputs);
      }
      const before = calls.answered;
      const body = request(model, inputs, { outputs, id: `case-${model}` });
      const [a, b] = [await post(fast, body), await post(general, body)];
      expect(a.status, model).toBe(200);
      expect(a, `${model} ${outputs.join(',')}`).toEqual(b);
      expect(calls.answered - before, `${model} took the fast path`).toBe(1);
    }
  });

  it('answers every request it does not take exactly as the general path does', async () => {
    const x = mlpInput([mlpRow(3)]).x!;
    const cases: Array<[string, Uint8Array]> = [
      ['unknown input name', request('mlp', { z: x })],
      ['an extra input', request('mlp', { x, z: x })],
      ['no inputs', request('mlp', {})],
      ['wrong dtype', request('mlp', { x: { dtype: 'float64', shape: [1, 4], data: new Float64Array(4) } })],
      ['wrong fixed dim', request('mlp', { x: { dtype: 'float32', shape: [1, 5], data: new Float32Array(5) } })],
      ['wrong rank', request('mlp', { x: { dtype: 'float32', shape: [4], data: new Float32Array(4) } })],
      ['unknown output', request('mlp', { x }, { outputs: ['nope'] })],
      ['a timeout', request('mlp', { x }, { timeoutMicros: 5_000_000 })],
      ['a priority', request('mlp', { x }, { priority: 1 })],
      ['an unknown version', request('mlp', { x }, { version: 9 })],
      ['an unknown label', request('mlp', { x }, { label: 'canary' })],
      ['an unknown model', request('nope', { x })],
      ['a string model', request('strings', { text: { dtype: 'string', shape: [1], data: [new Uint8Array([104, 105])] } })],
      ['a sequence id on a stateless model', request('mlp', { x }, { sequenceId: 5n, sequenceStart: true })],
      ['too short to be a message', new Uint8Array([1, 2, 3])],
    ];
    for (const [what, body] of cases) {
      const before = calls.answered;
      const [a, b] = [await post(fast, body), await post(general, body)];
      expect(a, what).toEqual(b);
      expect(calls.answered - before, `${what}: not answered by the fast path`).toBe(0);
    }
    // The data length is checked against the dims before the run: a short tensor is refused by the general path.
    const short = encodeInferRequest({ id: 's', model: 'mlp', inputs: new Map([['x', { dtype: 'float32', shape: [2, 4], data: new Float32Array(4) }]]), outputs: [] });
    const [a, b] = [await post(fast, short), await post(general, short)];
    expect(a).toEqual(b);
  });

  it('mutated messages: both servers give the same answer to each, and keep serving', async () => {
    const seed = request('two', {
      a: { dtype: 'float32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      b: { dtype: 'int64', shape: [2, 2], data: new BigInt64Array([1n, -2n, 3n, -4n]) },
    }, { outputs: ['a_doubled'], id: 'fuzz' });
    const r = rng(1234);
    let answeredFast = 0;
    for (let i = 0; i < 300; i++) {
      const body = seed.slice(0, i % 10 === 9 ? Math.floor(r() * seed.length) : seed.length);
      const flips = 1 + Math.floor(r() * 3);
      for (let f = 0; f < flips && body.length > 0; f++) body[Math.floor(r() * body.length)] = Math.floor(r() * 256);
      const before = calls.answered;
      const [a, b] = [await post(fast, body), await post(general, body)];
      expect(a, `mutation ${i}`).toEqual(b);
      answeredFast += calls.answered - before;
    }
    // Some mutations leave a valid plain request (a changed value, an id byte): those went the fast way.
    expect(answeredFast).toBeGreaterThan(0);
    const after = await post(fast, seed);
    expect(after.status).toBe(200);
  });
});
