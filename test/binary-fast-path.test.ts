// The fast paths (one addon call reads, runs and answers a plain FlatBuffers, KServe binary-extension or TF Serving
// row-form request to an inline numeric version): answers equal an independent forward pass and the general path's,
// every request they do not take is answered exactly as the general path answers it, and mutated requests get the
// same answer from a server with the fast paths and one without.

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
import { countFastPath, type FastPathCalls } from './support/fast-path-calls.js';

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

/** x float32 [n] → y = x + x, float32 [n]: rank-1 rows, so each prediction is a bare number. */
function rowsModel(): Uint8Array {
  return buildModel({ graph: {
    name: 'rows', inputs: [{ name: 'x', dtype: 'float32', shape: ['n'] }], outputs: [{ name: 'y', dtype: 'float32', shape: ['n'] }],
    nodes: [{ op: 'Add', inputs: ['x', 'x'], outputs: ['y'] }],
  } });
}

const models = (): Record<string, Record<number, Uint8Array>> => {
  const spec: Record<string, Record<number, Uint8Array>> = {
    mlp: { 1: mlpModel(1) }, two: { 1: twoByTwoModel() }, strings: { 1: stringModel() }, scalar: { 1: scalarModel() },
    scalar_out: { 1: rowsModel() },
  };
  for (const dtype of NUMERIC) spec[`id_${dtype}`] = { 1: identityModel(dtype) };
  return spec;
};

let fast: TestServer;
let general: TestServer;
/** Fast-path calls that answered and that declined, on the fast server. */
let calls: FastPathCalls = { answered: 0, declined: 0, threw: 0 };

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
  // A budget far above these models' runs: a run slowed by a busy machine does not send a version back to the
  // queue (which the fast path leaves to the general one) in the middle of a comparison.
  fast = await startTestServer(models(), { inlineBudgetMicros: 100_000 });
  general = await startTestServer(models(), { fastPath: false, inlineBudgetMicros: 100_000 });
  calls = countFastPath(fast);
  // Three rows: a version runs inline only up to twice the input size it was proven with (execution-mode.ts), and
  // the cases below send up to three.
  const twoInputs: Record<string, Tensor> = {
    a: { dtype: 'float32', shape: [3, 3], data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) },
    b: { dtype: 'int64', shape: [3, 2], data: new BigInt64Array([1n, 2n, 3n, 4n, 5n, 6n]) },
  };
  for (const server of [fast, general]) {
    await warm(server, 'mlp', mlpInput([mlpRow(1)]));
    await warm(server, 'two', twoInputs);
    await warm(server, 'scalar_out', { x: { dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) } });
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

/** A KServe binary-extension body: the JSON header, then the tensors' bytes. */
function kserveBody(header: unknown, ...tensors: ArrayBufferView[]): { body: Buffer; length: number } {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  return { body: Buffer.concat([json, ...tensors.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength))]), length: json.length };
}

/** POSTs a KServe body; resolves with everything a client sees: status, the header length header and the body. */
async function postKserve(server: TestServer, model: string, request: { body: Buffer; length: number | string }): Promise<unknown> {
  const res = await fetch(`${server.baseUrl}/v2/models/${model}/infer`, {
    method: 'POST', body: request.body,
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(request.length) },
  });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type'), headerLength: res.headers.get('inference-header-content-length'), body: body.toString('base64') };
}

const mlpHeader = (n: number, extra: Record<string, unknown> = {}, input: Record<string, unknown> = {}) => ({
  inputs: [{ name: 'x', shape: [n, 4], datatype: 'FP32', parameters: { binary_data_size: 16 * n }, ...input }],
  outputs: [{ name: 'scores', parameters: { binary_data: true } }],
  ...extra,
});

describe('KServe binary-extension fast path', () => {
  it('answers plain requests in one addon call, equal to an independent forward pass', async () => {
    const before = calls.answered;
    for (let i = 0; i < 30; i++) {
      const rows = [mlpRow(i), mlpRow(2 * i + 1)];
      const res = await fetch(`${fast.baseUrl}/v2/models/mlp/infer`, {
        method: 'POST', ...(() => {
          const { body, length } = kserveBody({ ...mlpHeader(2), id: `r${i}` }, Float32Array.from(rows.flat()));
          return { body, headers: { 'inference-header-content-length': String(length) } };
        })(),
      });
      expect(res.status).toBe(200);
      const bytes = Buffer.from(await res.arrayBuffer());
      const length = Number(res.headers.get('inference-header-content-length'));
      const header = JSON.parse(bytes.subarray(0, length).toString()) as { id: string; model_name: string; outputs: Array<{ name: string; shape: number[]; parameters: { binary_data_size: number } }> };
      expect(header.id).toBe(`r${i}`);
      expect(header.model_name).toBe('mlp');
      expect(header.outputs[0]).toMatchObject({ name: 'scores', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } });
      const scores = new Float32Array(bytes.buffer.slice(bytes.byteOffset + length, bytes.byteOffset + bytes.length));
      const data = Array.from(scores);
      expect(closeTo([data.slice(0, 3), data.slice(3)], mlpReference(rows, 1))).toBe(true);
    }
    expect(calls.answered - before).toBeGreaterThanOrEqual(25);
  });

  it('gives the same answer as the general path: dtypes, binary_data_output, requested outputs, ids, empty tensors', async () => {
    const kserveName: Record<string, string> = { bool: 'BOOL', uint8: 'UINT8', int8: 'INT8', uint16: 'UINT16', int16: 'INT16', float16: 'FP16', bfloat16: 'BF16', uint32: 'UINT32', int32: 'INT32', float32: 'FP32', uint64: 'UINT64', int64: 'INT64', float64: 'FP64' };
    const size: Record<string, number> = { bool: 1, uint8: 1, int8: 1, uint16: 2, int16: 2, float16: 2, bfloat16: 2, uint32: 4, int32: 4, float32: 4, uint64: 8, int64: 8, float64: 8 };
    const r = rng(11);
    const cases: Array<[string, { body: Buffer; length: number }]> = [];
    for (const dtype of NUMERIC) {
      const bytes = new Uint8Array(6 * size[dtype]!).map(() => (dtype === 'bool' ? Math.floor(r() * 2) : Math.floor(r() * 256)));
      cases.push([`id_${dtype}`, kserveBody({ inputs: [{ name: 'x', shape: [3, 2], datatype: kserveName[dtype], parameters: { binary_data_size: bytes.length } }], parameters: { binary_data_output: true } }, bytes)]);
    }
    const a = Float32Array.from([1.5, -2, 3, 0.25, 5, 6]);
    const b = BigInt64Array.from([1n, -(2n ** 60n), 3n, 4n]);
    const twoInputs = [{ name: 'a', shape: [2, 3], datatype: 'FP32', parameters: { binary_data_size: 24 } }, { name: 'b', shape: [2, 2], datatype: 'INT64', parameters: { binary_data_size: 32 } }];
    cases.push(['two', kserveBody({ id: 'both', inputs: twoInputs, parameters: { binary_data_output: true } }, a, b)]);
    cases.push(['two', kserveBody({ inputs: twoInputs, outputs: [{ name: 'b_copy', parameters: { binary_data: true } }] }, a, b)]);
    cases.push(['two', kserveBody({ inputs: twoInputs, outputs: [{ name: 'b_copy' }, { name: 'a_doubled' }], parameters: { binary_data_output: true } }, a, b)]);
    cases.push(['two', kserveBody({ inputs: [{ ...twoInputs[0], shape: [0, 3], parameters: { binary_data_size: 0 } }, { ...twoInputs[1], shape: [0, 2], parameters: { binary_data_size: 0 } }], parameters: { binary_data_output: true } })]);
    cases.push(['scalar', kserveBody({ inputs: [{ name: 's', shape: [], datatype: 'FP32', parameters: { binary_data_size: 4 } }], parameters: { binary_data_output: true } }, new Float32Array([7.25]))]);
    for (const [model, request] of cases) {
      const before = calls.answered;
      const [x, y] = [await postKserve(fast, model, request), await postKserve(general, model, request)];
      expect((x as { status: number }).status, model).toBe(200);
      expect(x, model).toEqual(y);
      expect(calls.answered - before, `${model} took the fast path`).toBe(1);
    }
  });

  it('answers every request it does not take exactly as the general path does', async () => {
    const x = new Float32Array([1, 2, 3, 4]);
    const cases: Array<[string, string, { body: Buffer; length: number | string }]> = [
      ['JSON outputs (no binary_data)', 'mlp', kserveBody({ inputs: mlpHeader(1).inputs }, x)],
      ['an output asked as JSON', 'mlp', kserveBody({ ...mlpHeader(1), outputs: [{ name: 'scores', parameters: { binary_data: false } }] }, x)],
      ['an unknown output', 'mlp', kserveBody({ ...mlpHeader(1), outputs: [{ name: 'nope', parameters: { binary_data: true } }] }, x)],
      ['an output named twice', 'mlp', kserveBody({ ...mlpHeader(1), outputs: [{ name: 'scores', parameters: { binary_data: true } }, { name: 'scores', parameters: { binary_data: true } }] }, x)],
      ['a timeout', 'mlp', kserveBody(mlpHeader(1, { parameters: { timeout: 5000000 } }), x)],
      ['a priority', 'mlp', kserveBody(mlpHeader(1, { parameters: { priority: 1 } }), x)],
      ['a sequence id', 'mlp', kserveBody(mlpHeader(1, { parameters: { sequence_id: 3, sequence_start: true } }), x)],
      ['JSON data beside binary', 'mlp', kserveBody(mlpHeader(1, {}, { data: [1, 2, 3, 4] }), x)],
      ['binary size too small', 'mlp', kserveBody(mlpHeader(1, {}, { parameters: { binary_data_size: 12 } }), x)],
      ['binary size past the body', 'mlp', kserveBody(mlpHeader(1, {}, { parameters: { binary_data_size: 20 } }), x)],
      ['bytes after the tensors', 'mlp', kserveBody(mlpHeader(1), x, new Uint8Array(4))],
      ['wrong dtype', 'mlp', kserveBody(mlpHeader(1, {}, { datatype: 'FP64', parameters: { binary_data_size: 32 } }), new Float64Array(4))],
      ['wrong fixed dim', 'mlp', kserveBody(mlpHeader(1, {}, { shape: [1, 5], parameters: { binary_data_size: 20 } }), new Float32Array(5))],
      ['a negative dim', 'mlp', kserveBody(mlpHeader(1, {}, { shape: [-1, 4] }), x)],
      ['a fractional dim', 'mlp', kserveBody(mlpHeader(1, {}, { shape: [1.5, 4] }), x)],
      ['an unknown input', 'mlp', kserveBody(mlpHeader(1, {}, { name: 'z' }), x)],
      ['an input twice', 'mlp', kserveBody({ ...mlpHeader(1), inputs: [mlpHeader(1).inputs[0], mlpHeader(1).inputs[0]] }, x, x)],
      ['an id JSON escapes', 'mlp', kserveBody(mlpHeader(1, { id: 'say "hi"\n' }), x)],
      ['a non-ASCII id', 'mlp', kserveBody(mlpHeader(1, { id: 'héllo' }), x)],
      ['an id that is a number', 'mlp', kserveBody(mlpHeader(1, { id: 7 }), x)],
      ['a duplicate key', 'mlp', kserveBody('{"inputs":[{"name":"x","name":"x","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}],"parameters":{"binary_data_output":true}}', x)],
      ['a header that is not JSON', 'mlp', kserveBody('{"inputs":[', x)],
      ['a header length past the body', 'mlp', { body: Buffer.from('{}'), length: 99 }],
      ['a header length that is not a number', 'mlp', { body: Buffer.from('{}'), length: 'two' }],
      ['an unknown model', 'nope', kserveBody(mlpHeader(1), x)],
      ['a string model', 'strings', kserveBody({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 6 } }], parameters: { binary_data_output: true } }, new Uint8Array([2, 0, 0, 0, 104, 105]))],
      ['classification', 'mlp', kserveBody({ ...mlpHeader(1), outputs: [{ name: 'scores', parameters: { binary_data: true, classification: 2 } }] }, x)],
      ['a header over 4 KiB', 'mlp', kserveBody(mlpHeader(1, { id: 'k'.repeat(5000) }), x)],
    ];
    for (const [what, model, request] of cases) {
      const before = calls.answered;
      const [a, b] = [await postKserve(fast, model, request), await postKserve(general, model, request)];
      expect(a, what).toEqual(b);
      expect(calls.answered - before, `${what}: not answered by the fast path`).toBe(0);
    }
  });

  it('mutated headers and bodies: both servers give the same answer to each, and keep serving', async () => {
    const seed = kserveBody({ id: 'fz', inputs: [{ name: 'a', shape: [2, 3], datatype: 'FP32', parameters: { binary_data_size: 24 } }, { name: 'b', shape: [2, 2], datatype: 'INT64', parameters: { binary_data_size: 32 } }], outputs: [{ name: 'a_doubled', parameters: { binary_data: true } }] },
      new Float32Array([1, 2, 3, 4, 5, 6]), new BigInt64Array([1n, 2n, 3n, 4n]));
    const r = rng(99);
    let answeredFast = 0;
    for (let i = 0; i < 300; i++) {
      const body = Buffer.from(seed.body);
      const flips = 1 + Math.floor(r() * 2);
      // Mostly in the JSON header (printable characters, so most stay JSON), some in the tensor bytes.
      for (let f = 0; f < flips; f++) {
        const at = r() < 0.8 ? Math.floor(r() * seed.length) : seed.length + Math.floor(r() * (body.length - seed.length));
        body[at] = at < seed.length ? 32 + Math.floor(r() * 95) : Math.floor(r() * 256);
      }
      const request = { body, length: seed.length };
      const before = calls.answered;
      const [a, b] = [await postKserve(fast, 'two', request), await postKserve(general, 'two', request)];
      expect(a, `mutation ${i}: ${body.subarray(0, seed.length).toString()}`).toEqual(b);
      answeredFast += calls.answered - before;
    }
    expect(answeredFast).toBeGreaterThan(0);
    expect(((await postKserve(fast, 'two', seed)) as { status: number }).status).toBe(200);
  });
});

/** POSTs a TF Serving :predict body; resolves with its status, content type and text. */
async function postPredict(server: TestServer, model: string, body: string | Buffer): Promise<unknown> {
  const res = await fetch(`${server.baseUrl}/v1/models/${model}:predict`, { method: 'POST', body });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe('TF Serving :predict fast path', () => {
  it('answers plain row-form bodies in one addon call, equal to an independent forward pass', async () => {
    const before = calls.answered;
    for (let i = 0; i < 30; i++) {
      const rows = [mlpRow(i), mlpRow(3 * i - 2), mlpRow(-i)];
      const res = await fetch(`${fast.baseUrl}/v1/models/mlp:predict`, { method: 'POST', body: JSON.stringify({ instances: rows }) });
      expect(res.status).toBe(200);
      const body = await res.json() as { predictions: number[][] };
      expect(closeTo(body.predictions, mlpReference(rows, 1))).toBe(true);
    }
    expect(calls.answered - before).toBeGreaterThanOrEqual(25);
  });

  it('writes the same bytes as the general path: float edge values, NaN and Infinity tokens, rank-1 outputs', async () => {
    const floats = (n: number, r: () => number) => Array.from({ length: n }, () => {
      const kind = r();
      if (kind < 0.05) return 0;
      if (kind < 0.1) return 1e-40 * r();       // subnormal in float32
      if (kind < 0.15) return 3e38 * (r() - 0.5); // near float32's range
      if (kind < 0.2) return Math.round(r() * 1e6);
      return (r() - 0.5) * 10 ** Math.floor(r() * 16 - 8);
    });
    const r = rng(5);
    const cases: Array<[string, string]> = [];
    for (let i = 0; i < 20; i++) cases.push(['mlp', JSON.stringify({ instances: [floats(4, r), floats(4, r)] })]);
    cases.push(['mlp', '{"instances":[[NaN,Infinity,-Infinity,-0]]}']);
    cases.push(['mlp', '{"instances":[[1e-300,3e38,5e-324,-1.5]]}']);
    cases.push(['mlp', ' {"instances" : [ [1, 2, 3, 4] ] } ']);
    for (const dtype of ['float32'] as const) cases.push([`id_${dtype}`, JSON.stringify({ instances: [floats(2, r), floats(2, r), floats(2, r)] })]);
    cases.push(['scalar_out', '{"instances":[1.5,2.5,-3]}']);
    for (const [model, body] of cases) {
      const before = calls.answered;
      const [a, b] = [await postPredict(fast, model, body), await postPredict(general, model, body)];
      expect((a as { status: number }).status, body).toBe(200);
      expect(a, body).toEqual(b);
      expect(calls.answered - before, `${model} ${body} took the fast path`).toBe(1);
    }
  });

  it('answers every body it does not take exactly as the general path does', async () => {
    const cases: Array<[string, string, string]> = [
      ['columnar form', 'mlp', '{"inputs":[[1,2,3,4]]}'],
      ['named rows', 'mlp', '{"instances":[{"x":[1,2,3,4]}]}'],
      ['a signature name', 'mlp', '{"signature_name":"serving_default","instances":[[1,2,3,4]]}'],
      ['an unknown signature', 'mlp', '{"signature_name":"other","instances":[[1,2,3,4]]}'],
      ['an unknown key', 'mlp', '{"instances":[[1,2,3,4]],"extra":1}'],
      ['ragged rows', 'mlp', '{"instances":[[1,2,3,4],[1,2,3]]}'],
      ['a wrong row length', 'mlp', '{"instances":[[1,2,3]]}'],
      ['an empty list', 'mlp', '{"instances":[]}'],
      ['strings', 'mlp', '{"instances":[["a","b","c","d"]]}'],
      ['a big integer', 'mlp', '{"instances":[[12345678901234567890,2,3,4]]}'],
      ['a value past float32', 'mlp', '{"instances":[[1e300,2,3,4]]}'],
      ['a syntax error', 'mlp', '{"instances":[[1,2,3,4]]'],
      ['a duplicate key', 'mlp', '{"instances":[[1,2,3,4]],"instances":[[1,2,3,4]]}'],
      ['a two-input model', 'two', '{"instances":[[1,2,3]]}'],
      ['an int64 model', 'id_int64', '{"instances":[[1,2],[3,4]]}'],
      ['an unknown model', 'nope', '{"instances":[[1,2,3,4]]}'],
      ['a body over 64 KiB', 'mlp', JSON.stringify({ instances: Array.from({ length: 3000 }, (_, i) => mlpRow(i)) })],
    ];
    for (const [what, model, body] of cases) {
      const before = calls.answered;
      const [a, b] = [await postPredict(fast, model, body), await postPredict(general, model, body)];
      expect(a, what).toEqual(b);
      expect(calls.answered - before, `${what}: not answered by the fast path`).toBe(0);
    }
  });

  it('mutated bodies: both servers give the same answer to each', async () => {
    const seed = JSON.stringify({ instances: [[0.5, -1.25, 3, 4e-3], [1, 2, 3, 4]] });
    const alphabet = '0123456789.-+eE,[]{}" :NaIfity';
    const r = rng(31);
    let answeredFast = 0;
    for (let i = 0; i < 300; i++) {
      const chars = [...seed];
      const flips = 1 + Math.floor(r() * 2);
      for (let f = 0; f < flips; f++) chars[Math.floor(r() * chars.length)] = alphabet[Math.floor(r() * alphabet.length)]!;
      const body = chars.join('');
      const before = calls.answered;
      const [a, b] = [await postPredict(fast, 'mlp', body), await postPredict(general, 'mlp', body)];
      expect(a, `mutation ${i}: ${body}`).toEqual(b);
      answeredFast += calls.answered - before;
    }
    expect(answeredFast).toBeGreaterThan(0);
  });
});
