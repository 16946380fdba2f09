// The JSON parse worker's copy of a declined body counts in --max_in_flight_bytes (issue 17): a large body the native
// reader declines is copied to the worker thread for its error, and that copy counts beside the body until the
// worker answers. Past the limit: the retryable 503 (ERR_QUEUE_FULL) naming the flag; the gauge returns to 0 on
// every path (answered, refused, client gone), and a valid request is answered meanwhile.

import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { parsePrometheusText } from './support/prometheus-parser.js';
import { closeTo, mlpReference } from './support/reference.js';
import { postOnOwnConnection } from './support/server-child.js';
import { postText, startTestServer, type TestServer } from './support/test-server.js';

const ROW = [1, 2, 3, 4];
const LIMIT = 2_500_000;

let t: TestServer | undefined;
const sockets: net.Socket[] = [];

afterEach(async () => {
  sockets.splice(0).forEach((s) => s.destroy());
  await t?.close();
  t = undefined;
});

async function inFlightBytes(): Promise<number> {
  const text = await (await fetch(`${t!.baseUrl}/metrics`)).text();
  return parsePrometheusText(text).get('ortserve_in_flight_bytes')!.samples[0]!.value;
}

/**
 * A valid request padded with JSON whitespace to `size` bytes, its closing brace missing: the native reader declines
 * it (over --json_native_offthread_bytes, 1 MiB, and --json_js_inline_bytes), so the worker thread words the error.
 */
function declined(kind: 'tf' | 'kserve', size: number): string {
  const open = kind === 'tf'
    ? `{"instances": [${JSON.stringify(ROW)}]`
    : `{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": ${JSON.stringify(ROW)}}]`;
  return open + ' '.repeat(size - open.length);
}

const path = (kind: 'tf' | 'kserve') => (kind === 'tf' ? '/v1/models/mlp:predict' : '/v2/models/mlp/infer');
const syntaxError = (size: number) => ({ code: 'ERR_JSON_SYNTAX', error: `JSON syntax error at byte ${size}: expected ',' or '}', got end of input` });
const copyRefusal = (size: number, held: number) => ({
  code: 'ERR_QUEUE_FULL',
  error: `the JSON parse worker's copy of the body needs ${size} bytes while requests in flight hold ${held}; the server's limit is ${LIMIT} (--max_in_flight_bytes); retry later`,
});

async function expectSmallServed(): Promise<void> {
  const small = await postText(`${t!.baseUrl}/v1/models/mlp:predict`, JSON.stringify({ instances: [ROW] }));
  expect(small.status).toBe(200);
  expect(closeTo(small.json.predictions, mlpReference([ROW], 1))).toBe(true);
}

describe('the JSON parse worker copy in --max_in_flight_bytes', () => {
  it('a declined body whose copy would pass the limit gets the retryable 503 naming the flag (TF and KServe); one that fits gets its error', async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { maxInFlightBytes: LIMIT });
    for (const kind of ['tf', 'kserve'] as const) {
      // 1.5 MB: the body fits (1.5 of 2.5 MB), its copy beside it would not (3.0 MB).
      const big = 1_500_000;
      const refused = await postOnOwnConnection(`${t.baseUrl}${path(kind)}`, declined(kind, big));
      expect(refused.status).toBe(503);
      expect(JSON.parse(refused.body.toString('utf8'))).toEqual(copyRefusal(big, big));
      // 1.2 MB: body and copy fit together (2.4 MB), so the worker words its error.
      const fits = 1_200_000;
      const answered = await postOnOwnConnection(`${t.baseUrl}${path(kind)}`, declined(kind, fits));
      expect(answered.status).toBe(400);
      expect(JSON.parse(answered.body.toString('utf8'))).toEqual(syntaxError(fits));
      await vi.waitFor(async () => expect(await inFlightBytes()).toBe(0), { timeout: 20_000, interval: 20 });
    }
    await expectSmallServed();
  }, 60_000);

  it('a flood of declined bodies: each gets its error or the retryable 503, a valid request is answered, the gauge returns to 0', async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { maxInFlightBytes: LIMIT });
    const size = 1_100_000;
    const flood = Array.from({ length: 8 }, (_, i) => postOnOwnConnection(`${t!.baseUrl}${path(i % 2 === 0 ? 'tf' : 'kserve')}`, declined(i % 2 === 0 ? 'tf' : 'kserve', size)));
    await expectSmallServed();
    for (const res of await Promise.all(flood)) {
      const json = JSON.parse(res.body.toString('utf8')) as { code: string; error: string };
      if (res.status === 400) {
        expect(json).toEqual(syntaxError(size));
        continue;
      }
      expect(res.status).toBe(503);
      expect(json.code).toBe('ERR_QUEUE_FULL');
      // Refused as a body (before it was read) or as the worker's copy (after): both name the flag and retry.
      expect(json.error).toMatch(/^the (request body|JSON parse worker's copy of the body) needs 1100000 bytes while requests in flight hold \d+; the server's limit is 2500000 \(--max_in_flight_bytes\); retry later$/);
    }
    await vi.waitFor(async () => expect(await inFlightBytes()).toBe(0), { timeout: 20_000, interval: 20 });
    await expectSmallServed();
  }, 60_000);

  it('a copy counts while another upload holds the rest; clients that leave give body and copy back', async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { maxInFlightBytes: LIMIT });
    const port = Number(new URL(t.baseUrl).port);
    // An upload half sent holds its whole Content-Length (1,000,000 bytes).
    const holder = net.connect(port, '127.0.0.1');
    sockets.push(holder);
    holder.write(`POST /v2/models/mlp/infer HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{`);
    await vi.waitFor(async () => expect(await inFlightBytes()).toBe(1_000_000), { timeout: 20_000, interval: 20 });
    // 1.2 MB more fits as a body (2.2 MB), its copy does not (3.4 MB).
    const size = 1_200_000;
    const refused = await postOnOwnConnection(`${t.baseUrl}${path('kserve')}`, declined('kserve', size));
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body.toString('utf8'))).toEqual(copyRefusal(size, 1_000_000 + size));
    await expectSmallServed();
    expect(await inFlightBytes()).toBe(1_000_000);
    holder.destroy();
    await vi.waitFor(async () => expect(await inFlightBytes()).toBe(0), { timeout: 20_000, interval: 20 });
    // Declined bodies whose clients leave right after sending: whether the worker parsed or skipped their copies,
    // every byte comes back.
    for (let i = 0; i < 4; i++) {
      const s = net.connect(port, '127.0.0.1');
      sockets.push(s);
      const body = declined('tf', 1_050_000);
      s.write(`POST /v1/models/mlp:predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      s.end(body, () => s.destroy());
    }
    await vi.waitFor(async () => expect(await inFlightBytes()).toBe(0), { timeout: 20_000, interval: 20 });
    await expectSmallServed();
  }, 60_000);
});

describe('the JSON parse worker failing a declined body gives its copy back', () => {
  /** Values a body may hold on this server (--max_json_values), so that a 1.1 MB body can pass it. */
  const MAX_VALUES = 200_000;
  const rowsOf = (n: number) => Array.from({ length: n }, (_, r) => `[${r % 7},${-(r % 5)},0.5,${r % 11}]`).join(',');
  /** A valid TF body of `n` rows, padded with JSON whitespace to `size` bytes. */
  const padded = (n: number, size: number) => {
    const open = `{"instances": [${rowsOf(n)}]`;
    return open + ' '.repeat(size - open.length - 1) + '}';
  };

  it('depth, a syntax error inside, the value limit, bad UTF-8: each worded by the worker; then a body needing nearly the whole budget is answered', async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { maxInFlightBytes: LIMIT, maxJsonValues: MAX_VALUES });
    const size = 1_100_000;   // over --json_js_inline_bytes: the worker words the error; body and copy fit (2.2 of 2.5 MB)
    // 100 nested lists after 1.1 MB of whitespace: the root object is level 1, so the 64th '[' is level 65.
    const depthOpen = `{"instances": ${' '.repeat(size - 200)}`;
    const depth = `${depthOpen}${'['.repeat(100)}1${']'.repeat(100)}}`;
    // A bad token in the middle of valid rows: the native reader declines it, the worker finds it.
    const valid = padded(40_000, size);
    const badAt = valid.indexOf(',[', 300_000) + 2;   // the first value of a row in the middle
    const syntax = `${valid.slice(0, badAt)}x${valid.slice(badAt + 1)}`;
    // One row past --max_json_values: each row is 5 values (itself in "instances", and its 4 numbers), so the list of
    // row 40,000 is value 200,001.
    const values = padded(MAX_VALUES / 5 + 1, size);
    const valuesStop = `{"instances": [${rowsOf(MAX_VALUES / 5)},`.length;
    // A byte that is not UTF-8 inside a string, after valid rows.
    const utf8Open = `{"signature_name": "ok`;
    const utf8 = Buffer.concat([Buffer.from(utf8Open), Buffer.from([0xff]), Buffer.from(`", "instances": [${rowsOf(1000)}]${' '.repeat(size - 30_000)}}`)]);
    const cases: Array<[string, string | Buffer, number, { code: string; error: string | RegExp }]> = [
      ['depth', depth, 400, { code: 'ERR_JSON_DEPTH', error: `JSON nesting at byte ${depthOpen.length + 63} is deeper than the limit of 64` }],
      ['syntax', syntax, 400, { code: 'ERR_JSON_SYNTAX', error: new RegExp(`^JSON syntax error at byte ${badAt}: `) }],
      ['values', values, 413, { code: 'ERR_TOO_LARGE', error: `JSON body: its lists hold more values than the limit of ${MAX_VALUES} (--max_json_values); parsing stopped at byte ${valuesStop}` }],
      ['utf8', utf8, 400, { code: 'ERR_JSON_SYNTAX', error: `JSON syntax error at byte ${utf8Open.length}: invalid UTF-8` }],
    ];
    for (const [label, body, status, expected] of cases) {
      const res = await postOnOwnConnection(`${t.baseUrl}${path('tf')}`, body);
      const json = JSON.parse(res.body.toString('utf8')) as { code: string; error: string };
      expect(res.status, label).toBe(status);
      expect(json.code, label).toBe(expected.code);
      if (typeof expected.error === 'string') expect(json.error, label).toBe(expected.error);
      else expect(json.error, label).toMatch(expected.error);
      await vi.waitFor(async () => expect(await inFlightBytes(), label).toBe(0), { timeout: 20_000, interval: 20 });
    }
    // The same four at once: each its error or, past the budget, the retryable 503; every copy comes back.
    const flood = await Promise.all(cases.map(([, body]) => postOnOwnConnection(`${t!.baseUrl}${path('tf')}`, body)));
    flood.forEach((res, i) => expect([cases[i]![2], 503]).toContain(res.status));
    await vi.waitFor(async () => expect(await inFlightBytes()).toBe(0), { timeout: 20_000, interval: 20 });
    // 2.45 of the 2.5 MB budget: answered only if no copy is still counted.
    const rows = Array.from({ length: 3 }, (_, r) => [r % 7, -(r % 5), 0.5, r % 11]);
    const whole = await postOnOwnConnection(`${t.baseUrl}${path('tf')}`, padded(3, LIMIT - 50_000));
    expect(whole.status).toBe(200);
    expect(closeTo(JSON.parse(whole.body.toString('utf8')).predictions, mlpReference(rows, 1))).toBe(true);
  }, 90_000);
});
