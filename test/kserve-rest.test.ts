// KServe V2 REST on a real server: health, metadata, readiness, infer (JSON and binary), and every bad-input case.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel, multiIoModel } from '../scripts/make-example-models.mjs';
import { corruptModelBytes, identityModel } from './support/models.mjs';
import { startTestServer, type TestServer } from './support/test-server.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    mlp: { 1: mlpModel(1), 2: mlpModel(2) },
    multi_io: { 1: multiIoModel() },
    identity_bool: { 1: identityModel('bool') },
  }, { maxBodyBytes: 1 << 20 });
});
afterAll(async () => {
  await t.close();
});

interface Reply { status: number; headers: Headers; bytes: Buffer; json: any }

async function send(path: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(t.baseUrl + path, init);
  const bytes = Buffer.from(await res.arrayBuffer());
  const jsonLength = Number(res.headers.get('inference-header-content-length') ?? bytes.length);
  let json: any;
  try {
    json = JSON.parse(bytes.subarray(0, jsonLength).toString());
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, bytes, json };
}

const infer = (model: string, body: unknown, headers: Record<string, string> = {}) =>
  send(`/v2/models/${model}/infer`, { method: 'POST', body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body), headers });

/** A binary-extension body: the JSON header, then the given byte sections. */
function binaryBody(header: unknown, ...sections: Buffer[]): { body: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...sections]), headers: { 'inference-header-content-length': String(json.length) } };
}

const mlpInput = (data: unknown, shape = [1, 4], datatype = 'FP32') => ({ inputs: [{ name: 'x', shape, datatype, data }] });

describe('health, server and model metadata', () => {
  it('answers live and ready with 200 and a JSON body', async () => {
    expect(await send('/v2/health/live')).toMatchObject({ status: 200, json: { live: true } });
    expect(await send('/v2/health/ready')).toMatchObject({ status: 200, json: { ready: true } });
  });

  it('describes the server and advertises the binary tensor data extension', async () => {
    const { status, json } = await send('/v2');
    expect(status).toBe(200);
    expect(json).toEqual({ name: 'ortserve', version: expect.stringMatching(/^\d+\.\d+\.\d+/), extensions: ['binary_tensor_data', 'statistics'] });
    expect((await send('/v2/')).json).toEqual(json);
  });

  it('describes a model with KServe datatypes and -1 for dynamic dims, with and without a version', async () => {
    const { status, json } = await send('/v2/models/multi_io');
    expect(status).toBe(200);
    expect(json).toEqual({
      name: 'multi_io', versions: ['1'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'a', datatype: 'FP32', shape: [-1, 3] }, { name: 'b', datatype: 'INT64', shape: [-1, 2] }, { name: 'text', datatype: 'BYTES', shape: [-1] }],
      outputs: [
        { name: 'a_doubled', datatype: 'FP32', shape: [-1, 3] }, { name: 'b_plus_one', datatype: 'INT64', shape: [-1, 2] },
        { name: 'text_echo', datatype: 'BYTES', shape: [-1] }, { name: 'text_bytes', datatype: 'BYTES', shape: [-1] },
        { name: 'a_sum', datatype: 'FP32', shape: [-1] },
      ],
    });
    expect((await send('/v2/models/mlp/versions/2')).json).toMatchObject({ name: 'mlp', versions: ['2'] });
  });

  it('answers model readiness, and 404 naming the servable for unknown models and versions', async () => {
    expect(await send('/v2/models/mlp/ready')).toMatchObject({ status: 200, json: { name: 'mlp', ready: true } });
    expect(await send('/v2/models/mlp/versions/2/ready')).toMatchObject({ status: 200, json: { name: 'mlp', ready: true } });
    for (const p of ['/v2/models/nope', '/v2/models/nope/ready', '/v2/models/mlp/versions/1', '/v2/models/mlp/versions/v2/ready', '/v2/models/nope/infer']) {
      const { status, json } = await send(p, p.endsWith('/infer') ? { method: 'POST', body: '{}' } : {});
      expect(status, p).toBe(404);
      expect(json, p).toMatchObject({ code: 'ERR_MODEL_NOT_FOUND', error: expect.stringMatching(/Servable not found/) });
    }
  });

  it('answers 404 for unknown /v2 paths and 405 for the wrong method', async () => {
    expect(await send('/v2/models/mlp/trace/setting')).toMatchObject({ status: 404, json: { code: 'ERR_NOT_FOUND' } });
    expect(await send('/v2/health/alive')).toMatchObject({ status: 404 });
    expect(await send('/v2/models/mlp/infer')).toMatchObject({ status: 405, json: { code: 'ERR_METHOD_NOT_ALLOWED', error: expect.stringContaining('use POST') } });
    expect(await send('/v2/models/mlp', { method: 'POST', body: '{}' })).toMatchObject({ status: 405 });
  });
});

describe('infer', () => {
  it('runs the named version, echoes the id and returns flat row-major data', async () => {
    const { status, json } = await infer('mlp', { id: 'req-1', ...mlpInput([[1, 2, 3, 4], [0, 0, 0, 0]], [2, 4]) });
    expect(status).toBe(200);
    expect(json).toEqual({
      model_name: 'mlp', model_version: '2', id: 'req-1',
      outputs: [{ name: 'scores', datatype: 'FP32', shape: [2, 3], data: [3.75, -3.25, 1, 0, 0.75, 1.5] }],
    });
    const v2 = await send('/v2/models/mlp/versions/2/infer', { method: 'POST', body: JSON.stringify(mlpInput([1, 2, 3, 4])) });
    expect(v2.json.outputs[0].data).toEqual([3.75, -3.25, 1]);
    expect(v2.json.id).toBeUndefined();
  });

  it('mixes JSON and binary outputs per output, over binary_data_output', async () => {
    const text = Buffer.from([0xff, 0x00, 0xfe]); // not UTF-8: only binary data carries it unchanged
    const len = Buffer.alloc(4);
    len.writeUInt32LE(text.length);
    const a = Buffer.from(new Float32Array([1, 2, 3]).buffer);
    const b = Buffer.from(new BigInt64Array([9007199254740993n, -1n]).buffer);
    const { body, headers } = binaryBody({
      parameters: { binary_data_output: true },
      inputs: [
        { name: 'a', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: 12 } },
        { name: 'b', shape: [1, 2], datatype: 'INT64', parameters: { binary_data_size: 16 } },
        { name: 'text', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 7 } },
      ],
      outputs: [{ name: 'text_bytes' }, { name: 'b_plus_one', parameters: { binary_data: false } }, { name: 'a_sum' }],
    }, a, b, Buffer.concat([len, text]));
    const res = await infer('multi_io', body, headers);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const jsonLength = Number(res.headers.get('inference-header-content-length'));
    expect(res.json.outputs).toEqual([
      { name: 'text_bytes', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 7 } },
      { name: 'b_plus_one', datatype: 'INT64', shape: [1, 2], data: [9007199254740994, 0] },
      { name: 'a_sum', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } },
    ]);
    expect(res.bytes.toString('latin1')).toContain('9007199254740994'); // exact int64 in the JSON text
    const tail = res.bytes.subarray(jsonLength);
    expect(tail.length).toBe(11);
    expect(tail.subarray(0, 7)).toEqual(Buffer.concat([len, text]));
    expect(tail.readFloatLE(7)).toBe(6);
  });

  it('accepts nested data, a bare-JSON request and BYTES as strings', async () => {
    const { status, json } = await infer('multi_io', {
      inputs: [
        { name: 'a', shape: [2, 3], datatype: 'FP32', data: [[1, 2, 3], [4, 5, 6]] },
        { name: 'b', shape: [2, 2], datatype: 'INT64', data: [1, 2, 3, 4] },
        { name: 'text', shape: [2], datatype: 'BYTES', data: ['héllo', ''] },
      ],
      outputs: [{ name: 'text_echo' }],
    });
    expect(status).toBe(200);
    expect(json.outputs).toEqual([{ name: 'text_echo', datatype: 'BYTES', shape: [2], data: ['héllo', ''] }]);
  });
});

interface BadCase { title: string; model?: string; body: unknown; headers?: Record<string, string>; status: number; code: string; message: RegExp }

const len4 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

const BAD: BadCase[] = [
  { title: 'malformed JSON', body: '{"inputs": [', status: 400, code: 'ERR_JSON_SYNTAX', message: /JSON syntax error at byte 12/ },
  { title: 'a body that is not an object', body: '[1]', status: 400, code: 'ERR_BAD_REQUEST', message: /request body: expected a JSON object/ },
  { title: 'no inputs', body: { id: 'x' }, status: 400, code: 'ERR_BAD_REQUEST', message: /^inputs: expected a list/ },
  { title: 'a datatype the model does not take', body: mlpInput([1, 2, 3, 4], [1, 4], 'FP64'), status: 400, code: 'ERR_DTYPE', message: /inputs\[0\] \(x\): datatype FP64 does not match the model's FP32/ },
  { title: 'an unknown datatype', body: mlpInput([1, 2, 3, 4], [1, 4], 'FLOAT32'), status: 400, code: 'ERR_DTYPE', message: /inputs\[0\]\.datatype: 'FLOAT32' is not a datatype/ },
  { title: 'a value that does not fit the datatype', body: mlpInput([1, 2, 'three', 4]), status: 400, code: 'ERR_DTYPE', message: /inputs\[0\]\.data\[2\]: expected a number for float32/ },
  { title: 'data shorter than the shape', body: mlpInput([1, 2, 3]), status: 400, code: 'ERR_SHAPE', message: /inputs\[0\]\.data: holds 3 elements .* needs 4/ },
  { title: 'a shape the model does not take', body: mlpInput([1, 2, 3, 4, 5], [1, 5]), status: 400, code: 'ERR_SHAPE', message: /inputs\[0\] \(x\): shape \[1,5\] does not match the model's \[-1,4\]/ },
  { title: 'a negative dim', body: mlpInput([], [-1, 4]), status: 400, code: 'ERR_SHAPE', message: /inputs\[0\]\.shape\[0\]: -1 is negative/ },
  { title: 'a huge dim', body: mlpInput([], [1e15, 4]), status: 413, code: 'ERR_TOO_LARGE', message: /inputs\[0\]\.shape: shape \[1000000000000000,4\] needs 16000000000000000 bytes/ },
  { title: 'duplicate input names', body: { inputs: [mlpInput([1, 2, 3, 4]).inputs[0], mlpInput([1, 2, 3, 4]).inputs[0]] }, status: 400, code: 'ERR_INVALID_INPUT', message: /inputs\[1\]\.name: duplicate input 'x' \(also inputs\[0\]\.name\)/ },
  { title: 'an unknown input', body: { inputs: [{ ...mlpInput([1, 2, 3, 4]).inputs[0], name: 'y' }] }, status: 400, code: 'ERR_INVALID_INPUT', message: /inputs\[0\] \(y\): the model has no input 'y'/ },
  { title: 'an unknown output', body: { ...mlpInput([1, 2, 3, 4]), outputs: [{ name: 'logits' }] }, status: 400, code: 'ERR_UNKNOWN_OUTPUT', message: /unknown output 'logits'/ },
  { title: 'an output asked for twice', body: { ...mlpInput([1, 2, 3, 4]), outputs: [{ name: 'scores' }, { name: 'scores' }] }, status: 400, code: 'ERR_BAD_REQUEST', message: /outputs\[1\]\.name: duplicate output 'scores'/ },
  {
    title: 'Inference-Header-Content-Length larger than the body', body: JSON.stringify(mlpInput([1, 2, 3, 4])),
    headers: { 'inference-header-content-length': '9999' }, status: 400, code: 'ERR_BAD_REQUEST', message: /Inference-Header-Content-Length: 9999 is larger than the body/,
  },
  {
    title: 'an Inference-Header-Content-Length that is not a number', body: JSON.stringify(mlpInput([1, 2, 3, 4])),
    headers: { 'inference-header-content-length': 'ten' }, status: 400, code: 'ERR_BAD_REQUEST', message: /Inference-Header-Content-Length: 'ten'/,
  },
  { title: 'binary_data_size past the end of the body', ...binaryBody({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } }] }, Buffer.alloc(8)), status: 400, code: 'ERR_BAD_REQUEST', message: /inputs\[0\]\.parameters\.binary_data_size: 16 bytes at offset 0 run past the 8 bytes/ },
  { title: 'binary bytes no input claims', ...binaryBody({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } }] }, Buffer.alloc(20)), status: 400, code: 'ERR_BAD_REQUEST', message: /4 bytes after the JSON header are not claimed/ },
  { title: 'binary data that does not fill the shape', ...binaryBody({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 12 } }] }, Buffer.alloc(12)), status: 400, code: 'ERR_SHAPE', message: /inputs\[0\] \(x\): 12 bytes of data, but shape \[1,4\] of FP32 needs 16/ },
  {
    title: 'a BYTES length that overruns its data', model: 'multi_io', status: 400, code: 'ERR_INVALID_INPUT', message: /inputs\[2\] \(text\): BYTES element 0 declares 100 bytes at offset 4, but only 3 remain/,
    ...binaryBody({ inputs: [
      { name: 'a', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }, { name: 'b', shape: [1, 2], datatype: 'INT64', data: [1, 2] },
      { name: 'text', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 7 } },
    ] }, Buffer.concat([len4(100), Buffer.from('abc')])),
  },
  { title: 'a BOOL byte other than 0 or 1', model: 'identity_bool', ...binaryBody({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'BOOL', parameters: { binary_data_size: 2 } }] }, Buffer.from([1, 7])), status: 400, code: 'ERR_DTYPE', message: /BOOL element 1 is the byte 7/ },
  { title: 'both data and binary_data_size', body: { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4], parameters: { binary_data_size: 0 } }] }, status: 400, code: 'ERR_BAD_REQUEST', message: /has both "data" and parameters\.binary_data_size/ },
  { title: 'an expired Triton timeout parameter', body: { parameters: { timeout: 1 }, ...mlpInput([1, 2, 3, 4]) }, status: 504, code: 'ERR_DEADLINE_EXCEEDED', message: /deadline passed/ },
];

describe('bad input gets the right status and a message naming the field; the server keeps serving', () => {
  it.each(BAD.map((c) => [c.title, c] as const))('%s', async (_title, c) => {
    const { status, json } = await infer(c.model ?? 'mlp', c.body, c.headers);
    expect(status).toBe(c.status);
    expect(json.code).toBe(c.code);
    expect(json.error).toMatch(c.message);
    const ok = await infer('mlp', mlpInput([1, 2, 3, 4]));
    expect(ok.json.outputs[0].data).toEqual([3.75, -3.25, 1]);
  });

  it('refuses a body over --max_body_bytes with 413', async () => {
    const { status, json } = await infer('mlp', Buffer.alloc(2 << 20, 0x20));
    expect(status).toBe(413);
    expect(json.code).toBe('ERR_TOO_LARGE');
  });
});

describe('readiness with a model that failed to load', () => {
  it('is not ready (400, ready: false) while the healthy model is', async () => {
    const s = await startTestServer({ broken: { 1: corruptModelBytes() }, mlp: { 1: mlpModel(1) } });
    try {
      const base = s.baseUrl;
      expect(await (await fetch(`${base}/v2/health/ready`)).json()).toEqual({ ready: false });
      expect((await fetch(`${base}/v2/health/ready`)).status).toBe(400);
      const broken = await fetch(`${base}/v2/models/broken/ready`);
      expect([broken.status, await broken.json()]).toEqual([400, { name: 'broken', ready: false }]);
      expect((await fetch(`${base}/v2/models/mlp/ready`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('server metadata with the management API on', () => {
  it('advertises model_repository', async () => {
    const s = await startTestServer({ mlp: { 1: mlpModel(1) } });
    const tokenFile = path.join(s.repository, 'token');
    writeFileSync(tokenFile, 'a-long-enough-management-token');
    const m = await startTestServer({ mlp: { 1: mlpModel(1) } }, { managementTokenFile: tokenFile });
    try {
      expect((await (await fetch(`${m.baseUrl}/v2`)).json()).extensions).toEqual(['binary_tensor_data', 'statistics', 'model_repository']);
    } finally {
      await m.close();
      await s.close();
    }
  });
});
