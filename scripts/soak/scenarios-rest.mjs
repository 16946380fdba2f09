// The soak's REST traffic: TF Serving JSON, KServe JSON and binary, valid and hostile, plus raw-socket clients that
// send oversized bodies, hang up mid-request, read slowly, or ask for deadlines that expire.

import { check, checkError, checkMlp, float32Bytes, mlpRows, randomInt, SLOW_ANSWER } from './checks.mjs';
import { exchange, httpRequest } from './raw-socket.mjs';

/** POSTs through the shared keep-alive pool; returns status, headers, body bytes and the parsed JSON (if it is). */
async function post(ctx, path, body, headers = {}) {
  const res = await ctx.rest.request({ path, method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, headersTimeout: ctx.timeoutMs, bodyTimeout: ctx.timeoutMs });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, bytes, json: parseJson(bytes) };
}

async function get(ctx, path) {
  const res = await ctx.rest.request({ path, method: 'GET', headersTimeout: ctx.timeoutMs, bodyTimeout: ctx.timeoutMs });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, bytes, json: parseJson(bytes) };
}

function parseJson(bytes) {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

const errorOf = (r) => ({ status: r.status, code: r.json?.code, detail: r.json?.error ?? r.bytes?.subarray(0, 200).toString() });

/** A KServe binary-extension body: JSON header, then the tensor bytes; `binary_data_size` may lie. */
function kserveBinaryBody(rows, { declaredBytes, sentBytes } = {}) {
  const data = float32Bytes(rows);
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: 'x', shape: [rows.length, 4], datatype: 'FP32', parameters: { binary_data_size: declaredBytes ?? data.length } }],
    parameters: { binary_data_output: true },
  }));
  return { body: Buffer.concat([header, data.subarray(0, sentBytes ?? data.length)]), headerLength: header.length };
}

/** Decodes a binary KServe reply's one FP32 output. */
function kserveBinaryScores(r) {
  const jsonLength = Number(r.headers['inference-header-content-length']);
  check(Number.isInteger(jsonLength), `kserve binary: no Inference-Header-Content-Length in a ${r.status} reply`);
  const header = JSON.parse(r.bytes.subarray(0, jsonLength).toString('utf8'));
  const raw = r.bytes.subarray(jsonLength);
  const copy = new Uint8Array(raw);   // aligned for Float32Array
  return { version: Number(header.model_version), scores: new Float32Array(copy.buffer, 0, copy.length / 4) };
}

/** A slow-model request over TF REST (x = 1). */
function slowPredict(ctx, headers = {}) {
  return post(ctx, '/v1/models/slow:predict', '{"instances": [[1]]}', headers);
}

/** @type {import('./soak.mjs').Scenario[]} */
export const restScenarios = [
  {
    name: 'tf-rest-rows', protocol: 'rest-tf', kind: 'valid', weight: 10,
    async run(ctx) {
      const rows = mlpRows(1 + randomInt(4));
      const sentAt = Date.now();
      const r = await post(ctx, '/v1/models/mlp:predict', JSON.stringify({ instances: rows }));
      check(r.status === 200, `tf rest: ${r.status} ${r.bytes.subarray(0, 200)}`);
      checkMlp(rows, r.json.predictions, ctx.swapper.candidates(sentAt, Date.now()));
    },
  },
  {
    name: 'tf-rest-columnar', protocol: 'rest-tf', kind: 'valid', weight: 4,
    async run(ctx) {
      const rows = mlpRows(1 + randomInt(4));
      const sentAt = Date.now();
      const r = await post(ctx, '/v1/models/mlp:predict', JSON.stringify({ inputs: rows }));
      check(r.status === 200, `tf rest columnar: ${r.status} ${r.bytes.subarray(0, 200)}`);
      checkMlp(rows, r.json.outputs, ctx.swapper.candidates(sentAt, Date.now()));
    },
  },
  {
    name: 'tf-rest-multi-io', protocol: 'rest-tf', kind: 'valid', weight: 3,
    async run(ctx) {
      // int64 past 2^53 must come back exact, so the reply is checked as text, not through JSON.parse.
      const big = 2n ** 53n + BigInt(2 * randomInt(1000) + 1);
      const a = [randomInt(9) - 4, randomInt(9), 0.5];
      const text = `héllo-${randomInt(100)}`;
      const r = await post(ctx, '/v1/models/multi_io:predict', `{"instances": [{"a": ${JSON.stringify(a)}, "b": [${big}, -5], "text": ${JSON.stringify(text)}}]}`);
      check(r.status === 200, `multi_io: ${r.status} ${r.bytes.subarray(0, 200)}`);
      const body = r.bytes.toString('utf8');
      check(body.includes(`"b_plus_one":[${big + 1n},-4]`), `multi_io: b_plus_one is not [${big + 1n},-4] in ${body.slice(0, 300)}`);
      check(JSON.stringify(r.json.predictions[0].a_doubled) === JSON.stringify(a.map((v) => 2 * v)), `multi_io: a_doubled ${JSON.stringify(r.json.predictions[0].a_doubled)}`);
      check(r.json.predictions[0].text_echo === text, `multi_io: text_echo ${r.json.predictions[0].text_echo}`);
    },
  },
  {
    name: 'kserve-rest-json', protocol: 'rest-kserve', kind: 'valid', weight: 10,
    async run(ctx) {
      const rows = mlpRows(1 + randomInt(4));
      const sentAt = Date.now();
      const r = await post(ctx, '/v2/models/mlp/infer', JSON.stringify({ id: 'soak', inputs: [{ name: 'x', shape: [rows.length, 4], datatype: 'FP32', data: rows.flat() }] }));
      check(r.status === 200, `kserve json: ${r.status} ${r.bytes.subarray(0, 200)}`);
      checkMlp(rows, r.json.outputs[0].data, ctx.swapper.candidates(sentAt, Date.now()), Number(r.json.model_version));
    },
  },
  {
    name: 'kserve-rest-binary', protocol: 'rest-kserve', kind: 'valid', weight: 8,
    async run(ctx) {
      const rows = mlpRows(1 + randomInt(8));
      const { body, headerLength } = kserveBinaryBody(rows);
      const sentAt = Date.now();
      const r = await post(ctx, '/v2/models/mlp/infer', body, { 'inference-header-content-length': String(headerLength), 'content-type': 'application/octet-stream' });
      check(r.status === 200, `kserve binary: ${r.status} ${r.bytes.subarray(0, 200)}`);
      const { version, scores } = kserveBinaryScores(r);
      checkMlp(rows, scores, ctx.swapper.candidates(sentAt, Date.now()), version);
    },
  },
  {
    name: 'rest-health-metrics', protocol: 'rest-other', kind: 'valid', weight: 2,
    async run(ctx) {
      const ready = await get(ctx, '/v2/health/ready');
      check(ready.status === 200 && ready.json?.ready === true, `health/ready: ${ready.status} ${ready.bytes.subarray(0, 100)}`);
      const metrics = await get(ctx, '/metrics');
      check(metrics.status === 200 && metrics.bytes.includes('nv_inference_request_success'), `metrics: ${metrics.status}`);
    },
  },
  {
    name: 'tf-rest-malformed-json', protocol: 'rest-tf', kind: 'hostile', weight: 3,
    async run(ctx) {
      const cut = JSON.stringify({ instances: mlpRows(2) });
      const r = await post(ctx, '/v1/models/mlp:predict', cut.slice(0, 1 + randomInt(cut.length - 2)));
      checkError('truncated JSON', errorOf(r), { status: 400, code: 'ERR_JSON_SYNTAX' });
    },
  },
  {
    name: 'tf-rest-wrong-shape', protocol: 'rest-tf', kind: 'hostile', weight: 3,
    async run(ctx) {
      const r = await post(ctx, '/v1/models/mlp:predict', '{"instances": [[1, 2, 3]]}');
      checkError('3 columns for 4', errorOf(r), { status: 400, code: 'ERR_SHAPE' });
    },
  },
  {
    name: 'rest-unknown-model', protocol: 'rest-tf', kind: 'hostile', weight: 1,
    async run(ctx) {
      const r = await post(ctx, '/v1/models/nope:predict', '{"instances": [[1, 2, 3, 4]]}');
      checkError('unknown model', errorOf(r), { status: 404, code: 'ERR_MODEL_NOT_FOUND' });
    },
  },
  {
    name: 'kserve-rest-wrong-dtype', protocol: 'rest-kserve', kind: 'hostile', weight: 3,
    async run(ctx) {
      const r = await post(ctx, '/v2/models/mlp/infer', '{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}');
      checkError('FP64 for FP32', errorOf(r), { status: 400, code: 'ERR_DTYPE' });
    },
  },
  {
    name: 'kserve-rest-deep-json', protocol: 'rest-kserve', kind: 'hostile', weight: 1,
    async run(ctx) {
      const r = await post(ctx, '/v2/models/mlp/infer', `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": ${'['.repeat(200)}${']'.repeat(200)}}]}`);
      checkError('200-deep JSON', errorOf(r), { status: 400, code: 'ERR_JSON_DEPTH' });
    },
  },
  {
    name: 'kserve-binary-lying-header', protocol: 'rest-kserve', kind: 'hostile', weight: 2,
    async run(ctx) {
      const { body } = kserveBinaryBody(mlpRows(1));
      const r = await post(ctx, '/v2/models/mlp/infer', body, { 'inference-header-content-length': String(body.length + 1 + randomInt(10_000)) });
      checkError('Inference-Header-Content-Length past the body', errorOf(r), { status: 400, code: 'ERR_BAD_REQUEST' });
    },
  },
  {
    name: 'kserve-binary-truncated', protocol: 'rest-kserve', kind: 'hostile', weight: 2,
    async run(ctx) {
      // binary_data_size says 32 bytes; only 8 follow the header.
      const { body, headerLength } = kserveBinaryBody(mlpRows(2), { sentBytes: 8 });
      const r = await post(ctx, '/v2/models/mlp/infer', body, { 'inference-header-content-length': String(headerLength) });
      checkError('binary_data_size past the body', errorOf(r), { status: 400, code: 'ERR_BAD_REQUEST' });
    },
  },
  {
    name: 'rest-oversized-body', protocol: 'rest-raw', kind: 'hostile', weight: 1,
    async run(ctx) {
      const body = Buffer.alloc(Math.floor(ctx.limits.maxBodyBytes * 1.25), 0x20);
      const r = await exchange(ctx.restPort, httpRequest('POST', '/v1/models/mlp:predict', body), { timeoutMs: ctx.timeoutMs });
      check(r !== undefined, 'oversized body: the connection closed without a 413');
      checkError('body over --max_body_bytes', { status: r.status, code: parseJson(r.body)?.code }, { status: 413, code: 'ERR_TOO_LARGE' });
    },
  },
  {
    name: 'rest-hang-up-mid-body', protocol: 'rest-raw', kind: 'hostile', weight: 2,
    async run(ctx) {
      const body = Buffer.from(JSON.stringify({ instances: mlpRows(50) }));
      await exchange(ctx.restPort, httpRequest('POST', '/v1/models/mlp:predict', body.subarray(0, body.length >> 1), {}, body.length), { hangUpAfterMs: randomInt(20) });
      return 'hung up';
    },
  },
  {
    name: 'rest-hang-up-while-queued', protocol: 'rest-raw', kind: 'hostile', weight: 0.3,
    async run(ctx) {
      await exchange(ctx.restPort, httpRequest('POST', '/v1/models/slow:predict', Buffer.from('{"instances": [[1]]}')), { hangUpAfterMs: 2 + randomInt(30) });
      return 'hung up';
    },
  },
  {
    name: 'rest-slow-reader', protocol: 'rest-raw', kind: 'hostile', weight: 0.3,
    async run(ctx) {
      // 16k rows: 256 KiB in, 192 KiB of binary scores out, not read for 2 s.
      const rows = mlpRows(16_384);
      const { body, headerLength } = kserveBinaryBody(rows);
      const sentAt = Date.now();
      const r = await exchange(ctx.restPort, httpRequest('POST', '/v2/models/mlp/infer', body, { 'inference-header-content-length': String(headerLength) }), { pauseMs: 2000, timeoutMs: ctx.timeoutMs });
      check(r !== undefined && r.status === 200, `slow reader: ${r ? `${r.status} ${r.body.subarray(0, 200)}` : 'closed without an answer'}`);
      const { version, scores } = kserveBinaryScores({ headers: r.headers, bytes: r.body, status: r.status });
      checkMlp(rows, scores, ctx.swapper.candidates(sentAt, Date.now()), version);
      return 'answered in full';
    },
  },
  {
    name: 'rest-deadline-expires', protocol: 'rest-tf', kind: 'hostile', weight: 0.3,
    async run(ctx) {
      // More slow runs than workers, then a request whose 5 ms deadline passes while it waits behind them.
      const holders = Array.from({ length: ctx.workers + 2 }, () => slowPredict(ctx));
      await new Promise((r) => setTimeout(r, 5));
      const sentAt = Date.now();
      const late = await slowPredict(ctx, { 'x-request-timeout-ms': '5' });
      const lateness = Date.now() - sentAt - 5;
      for (const r of await Promise.all(holders)) {
        check(r.status === 200 && Math.abs(r.json.predictions[0][0] - SLOW_ANSWER) < 1e-6, `slow model: ${r.status} ${r.bytes.subarray(0, 200)}`);
      }
      if (late.status === 200) return 'ran in time';
      checkError('5 ms deadline behind busy workers', errorOf(late), { status: 504, code: 'ERR_DEADLINE_EXCEEDED' });
      ctx.tally.observe('rest 504 after the deadline (ms)', lateness);
    },
  },
];
