// Large hostile JSON bodies a real server used to re-parse on the JS thread (issue 17, "nothing big runs on the JS
// thread"): each gets its exact error while a concurrent client is answered, and big integers stay exact end to end.
//
// A million-value body with a syntax error at its end, a duplicate key, an integer out of int64's range, or the wrong
// shape: the native reader declines it or its decode fails, and before, the JS parser then read the whole body again
// on the JS thread (~0.4 s). Now the worker thread words the error; these tests pin the errors and the service.

import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel, multiIoModel } from '../scripts/make-example-models.mjs';
import { identityModel } from './support/models.mjs';
import { closeTo, mlpReference } from './support/reference.js';
import { startTestServer, type TestServer } from './support/test-server.js';

const SMALL = [[1, 2, 3, 4], [-1.5, 0.25, 2, -3]];
/** A behaviour bound, not a benchmark: the concurrent answer must come while the hostile body is handled, not after seconds. */
const PROMPT_MS = 15_000;
const ROWS = 200_000; // 4 numbers and a list each: a million values (--max_json_values' default is 1,048,576)

const row = (r: number) => `[${(r % 7) / 4},${-(r % 5)},0.5,${r % 11}]`;
const rows = Array.from({ length: ROWS }, (_, r) => row(r)).join(',');
const flat = Array.from({ length: ROWS }, (_, r) => row(r).slice(1, -1)).join(',');

function post(server: TestServer, urlPath: string, body: string | Buffer): Promise<{ status: number; text: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.baseUrl}${urlPath}`, { method: 'POST', agent: false, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
    });
    req.on('timeout', () => req.destroy(new Error(`POST ${urlPath} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends `body` and, a moment later, a small MLP predict on another connection; returns the hostile answer. */
async function withConcurrentClient(server: TestServer, urlPath: string, body: string): Promise<{ status: number; error: string; code: string }> {
  const hostile = post(server, urlPath, body);
  await new Promise((r) => setTimeout(r, 5));
  const [res, small] = await Promise.all([hostile, post(server, '/v1/models/mlp:predict', JSON.stringify({ instances: SMALL }))]);
  expect(small.status).toBe(200);
  expect(closeTo(JSON.parse(small.text).predictions, mlpReference(SMALL, 1))).toBe(true);
  expect(small.ms).toBeLessThan(PROMPT_MS);
  const json = JSON.parse(res.text) as { error: string; code: string };
  return { status: res.status, error: json.error, code: json.code };
}

describe('large hostile JSON bodies: exact errors, other clients served', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ mlp: { 1: mlpModel(1) }, identity_int64: { 1: identityModel('int64') }, multi_io: { 1: multiIoModel() } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('TF :predict, a syntax error at the end (the closing brace missing): ERR_JSON_SYNTAX at the last byte', async () => {
    const body = `{"instances": [${rows}]`;
    const res = await withConcurrentClient(server, '/v1/models/mlp:predict', body);
    expect(res).toEqual({ status: 400, code: 'ERR_JSON_SYNTAX', error: `JSON syntax error at byte ${body.length}: expected ',' or '}', got end of input` });
  }, 60_000);

  it('KServe /infer, a syntax error inside the data near the end: the byte offset of the bad character', async () => {
    const body = `{"inputs": [{"name": "x", "shape": [${ROWS}, 4], "datatype": "FP32", "data": [${flat},x]}]}`;
    const res = await withConcurrentClient(server, '/v2/models/mlp/infer', body);
    expect(res).toEqual({ status: 400, code: 'ERR_JSON_SYNTAX', error: `JSON syntax error at byte ${body.length - 5}: expected a value` });
  }, 60_000);

  it('TF :predict, a duplicate key at the end: ERR_BAD_REQUEST at the second key', async () => {
    const body = `{"instances": [${rows}], "instances": [[1, 2, 3, 4]]}`;
    const res = await withConcurrentClient(server, '/v1/models/mlp:predict', body);
    expect(res).toEqual({ status: 400, code: 'ERR_BAD_REQUEST', error: `duplicate key "instances" in a JSON object at byte ${body.lastIndexOf('"instances"')}` });
  }, 60_000);

  it('KServe /infer INT64, an integer past int64 at the end: ERR_DTYPE naming the element and its exact value', async () => {
    const ints = Array.from({ length: 2 * ROWS - 1 }, (_, i) => String(2n ** 53n + BigInt(i))).join(',');
    const body = `{"inputs": [{"name": "x", "shape": [${ROWS}, 2], "datatype": "INT64", "data": [${ints},9223372036854775808]}]}`;
    const res = await withConcurrentClient(server, '/v2/models/identity_int64/infer', body);
    expect(res).toEqual({ status: 400, code: 'ERR_DTYPE', error: `inputs[0].data[${2 * ROWS - 1}]: 9223372036854775808 is out of range for int64` });
  }, 60_000);

  it('wrong shapes: TF rows of 3 for a [-1,4] input, KServe data one row short of its shape', async () => {
    const threes = Array.from({ length: ROWS }, (_, r) => `[${r % 3},1,2]`).join(',');
    const tf = await withConcurrentClient(server, '/v1/models/mlp:predict', `{"instances": [${threes}]}`);
    expect(tf).toEqual({ status: 400, code: 'ERR_SHAPE', error: `instances: shape [${ROWS},3] does not match the model's [-1,4]` });
    const ks = await withConcurrentClient(server, '/v2/models/mlp/infer',
      `{"inputs": [{"name": "x", "shape": [${ROWS + 1}, 4], "datatype": "FP32", "data": [${flat}]}]}`);
    expect(ks).toEqual({
      status: 400, code: 'ERR_SHAPE',
      error: `inputs[0].data: holds ${4 * ROWS} elements as [${4 * ROWS}], but the shape [${ROWS + 1},4] needs ${4 * (ROWS + 1)}`,
    });
    // The shape is checked before a value is converted (no tensor is made for data of the wrong size): a body whose
    // data is both one value off its shape and holds a value float32 cannot (1e40, at the end) gets the shape error.
    const overflowing = await withConcurrentClient(server, '/v2/models/mlp/infer',
      `{"inputs": [{"name": "x", "shape": [${ROWS + 2}, 4], "datatype": "FP32", "data": [${flat},1e40]}]}`);
    expect(overflowing).toEqual({
      status: 400, code: 'ERR_SHAPE',
      error: `inputs[0].data: holds ${4 * ROWS + 1} elements as [${4 * ROWS + 1}], but the shape [${ROWS + 2},4] needs ${4 * (ROWS + 2)}`,
    });
    // Nested data too: rows of 4 declared as rows of 5, the last value out of range.
    const nested = await withConcurrentClient(server, '/v2/models/mlp/infer',
      `{"inputs": [{"name": "x", "shape": [${ROWS}, 5], "datatype": "FP32", "data": [${rows.slice(0, -1)}1e40]]}]}`);
    expect(nested).toEqual({
      status: 400, code: 'ERR_SHAPE',
      error: `inputs[0].data: holds ${4 * ROWS} elements as [${ROWS},4], but the shape [${ROWS},5] needs ${5 * ROWS}`,
    });
    // A list where a tensor object belongs (the decoder meets a packed list it does not expect): the JS tree's words.
    const listed = await withConcurrentClient(server, '/v2/models/mlp/infer', `{"inputs": [${flat}]}`);
    expect(listed).toEqual({ status: 400, code: 'ERR_BAD_REQUEST', error: 'inputs[0]: expected an input tensor object, got 0' });
  }, 60_000);
});

describe('TF named rows are checked against the model before any input is converted', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ multi_io: { 1: multiIoModel() } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('rows of `b` one value too long and `a` (converted first until now) holding a value float32 cannot: the shape error; a valid body is answered', async () => {
    const N = 10_000; // strings within --max_string_elements (16,384)
    const row = (i: number, last: string) => `{"a": [${i % 5}, 1.5, ${last}], "b": [${i}, 2, 3], "text": "t${i}"}`;
    const instances = Array.from({ length: N }, (_, i) => row(i, i === N - 1 ? '1e40' : '-2')).join(',');
    const res = await post(server, '/v1/models/multi_io:predict', `{"instances": [${instances}]}`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual({ code: 'ERR_SHAPE', error: `instances[*].b: shape [${N},3] does not match the model's [-1,2]` });
    const ok = await post(server, '/v1/models/multi_io:predict', JSON.stringify({ instances: [{ a: [1, 2, 3], b: [4, 5], text: 'hi' }] }));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text).predictions[0]).toMatchObject({ a_doubled: [2, 4, 6], b_plus_one: [5, 6], text_echo: 'hi', a_sum: 6 });
  }, 60_000);
});

describe('integers past 2^53 stay exact through a large body (no JS re-parse)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ identity_int64: { 1: identityModel('int64') } });
  });
  afterAll(async () => {
    await server?.close();
  });

  // Values a double cannot hold: 2^53 + odd, int64's extremes, and negatives; computed with BigInt, independently.
  const N = 20_000; // rows of 2: ~0.8 MB, over --json_js_inline_bytes
  const value = (i: number): bigint => {
    switch (i % 4) {
      case 0: return 2n ** 53n + 2n * BigInt(i) + 1n;
      case 1: return -(2n ** 63n) + BigInt(i);
      case 2: return 2n ** 63n - 1n - BigInt(i);
      default: return -(2n ** 60n) - 3n * BigInt(i);
    }
  };
  const values = Array.from({ length: 2 * N }, (_, i) => value(i));
  /** The integers of a JSON list of integers, read as BigInt (no double in between). */
  const bigints = (text: string) => text.split(',').map((s) => BigInt(s.replace(/[[\]\s]/g, '')));

  it('KServe /infer INT64: the answer holds every value exactly', async () => {
    const body = `{"inputs": [{"name": "x", "shape": [${N}, 2], "datatype": "INT64", "data": [${values.join(',')}]}]}`;
    expect(body.length).toBeGreaterThan(128 * 1024);
    const res = await post(server, '/v2/models/identity_int64/infer', body);
    expect(res.status).toBe(200);
    const data = /"data":\[([^\]]*)\]/.exec(res.text)![1]!;
    expect(bigints(data)).toEqual(values);
  }, 60_000);

  it('TF :predict row form: the predictions hold every value exactly', async () => {
    const instances = Array.from({ length: N }, (_, r) => `[${values[2 * r]},${values[2 * r + 1]}]`).join(',');
    const res = await post(server, '/v1/models/identity_int64:predict', `{"instances": [${instances}]}`);
    expect(res.status).toBe(200);
    const predictions = /"predictions":\s*\[(.*)\]\s*\}$/s.exec(res.text)![1]!;
    expect(bigints(predictions)).toEqual(values);
  }, 60_000);
});
