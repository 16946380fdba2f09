// One-turn POSTs (src/frontends/http/one-turn-post.ts): a small body that arrives whole is answered by the fast path
// as it arrives, wherever the request's headers leave it in the socket's buffer; a body in several writes, pipelined
// requests, declined requests and failed runs get exactly what a server without fast paths answers.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import WebSocket from 'ws';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { closeTo, mlpReference } from './support/reference.js';
import { startTestServer, type TestServer } from './support/test-server.js';
import { converse, type RawResponse, type RawWrite } from './support/raw-http.js';
import { countFastPath, type FastPathCalls } from './support/fast-path-calls.js';
import { decodeInferResponse, encodeInferRequest } from '../src/protocol/flatbuffers/messages.js';

const mlpRow = (i: number): number[] => [i / 10, -i / 7, 1, 0.25 * i];

/** The three request forms with a fast path, for `rows` of the MLP: the path, extra headers and the body. */
function flatBuffers(rows: number[][], id = 'r'): { path: string; headers: string; body: Buffer } {
  const x = { dtype: 'float32' as const, shape: [rows.length, 4], data: Float32Array.from(rows.flat()) };
  const body = Buffer.from(encodeInferRequest({ id, model: 'mlp', inputs: new Map([['x', x]]), outputs: [] }));
  return { path: '/v1/flatbuffers/infer', headers: 'Content-Type: application/x-flatbuffers\r\n', body };
}
function kserveBinary(rows: number[][], id = 'r'): { path: string; headers: string; body: Buffer } {
  const json = Buffer.from(JSON.stringify({
    id, inputs: [{ name: 'x', datatype: 'FP32', shape: [rows.length, 4], parameters: { binary_data_size: rows.length * 16 } }],
    outputs: [{ name: 'scores', parameters: { binary_data: true } }],
  }));
  const data = Float32Array.from(rows.flat());
  return {
    path: '/v2/models/mlp/infer', headers: `Inference-Header-Content-Length: ${json.length}\r\nContent-Type: application/octet-stream\r\n`,
    body: Buffer.concat([json, Buffer.from(data.buffer)]),
  };
}
function tfPredict(rows: number[][]): { path: string; headers: string; body: Buffer } {
  return { path: '/v1/models/mlp:predict', headers: 'Content-Type: application/json\r\n', body: Buffer.from(JSON.stringify({ instances: rows })) };
}

/** The request's bytes, with a padding header of `pad` characters that moves the body's place in the server's buffer. */
function requestBytes(form: { path: string; headers: string; body: Buffer }, pad = 0): Buffer {
  const head = `POST ${form.path} HTTP/1.1\r\nHost: t\r\n${pad > 0 ? `X-Pad: ${'p'.repeat(pad)}\r\n` : ''}${form.headers}Content-Length: ${form.body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), form.body]);
}

/** The MLP's scores in an answer of each form, as rows. */
function scores(kind: 'fb' | 'kserve' | 'tf', res: RawResponse): number[][] {
  let flat: number[];
  if (kind === 'fb') flat = Array.from(decodeInferResponse(new Uint8Array(res.body)).outputs.get('scores')!.data as Float32Array);
  else if (kind === 'tf') return (JSON.parse(res.body.toString()) as { predictions: number[][] }).predictions;
  else {
    const length = Number(res.headers['inference-header-content-length']);
    const data = Buffer.from(res.body.subarray(length));
    flat = Array.from(new Float32Array(data.buffer, data.byteOffset, data.length / 4));
  }
  const rows: number[][] = [];
  for (let i = 0; i < flat.length; i += 3) rows.push(flat.slice(i, i + 3));
  return rows;
}

const FORMS = [['fb', flatBuffers], ['kserve', kserveBinary], ['tf', tfPredict]] as const;

/** Enough one-row runs for the MLP's version to go inline on each server (execution-mode.ts). */
async function warm(...servers: TestServer[]): Promise<void> {
  for (const server of servers) {
    for (let i = 0; i < 24; i++) {
      const res = await fetch(`${server.baseUrl}/v1/models/mlp:predict`, { method: 'POST', body: JSON.stringify({ instances: [mlpRow(i)] }) });
      expect(res.status).toBe(200);
    }
  }
}

let fast: TestServer;
let general: TestServer;
let calls: FastPathCalls;
const portOf = (server: TestServer) => Number(new URL(server.baseUrl).port);

beforeAll(async () => {
  // A budget far above this model's runs: a run slowed by a busy machine does not send it back to the queue.
  fast = await startTestServer({ mlp: { 1: mlpModel(1) } }, { inlineBudgetMicros: 100_000 });
  general = await startTestServer({ mlp: { 1: mlpModel(1) } }, { fastPath: false, inlineBudgetMicros: 100_000 });
  calls = countFastPath(fast);
  await warm(fast, general);
}, 60_000);
afterAll(async () => {
  await fast?.close();
  await general?.close();
});

describe('one-turn POSTs', () => {
  it('answer every form from the fast path wherever the headers leave the body (alignment 0..15)', async () => {
    for (const [kind, form] of FORMS) {
      for (let pad = 0; pad < 16; pad++) {
        const rows = [mlpRow(pad), mlpRow(pad + 20)];
        const before = calls.answered;
        const { responses } = await converse(portOf(fast), [{ bytes: requestBytes(form(rows), pad) }], 1);
        expect(responses[0]?.status, `${kind} pad ${pad}`).toBe(200);
        expect(closeTo(scores(kind, responses[0]!), mlpReference(rows, 1)), `${kind} pad ${pad}`).toBe(true);
        expect(calls.answered - before, `${kind} pad ${pad}: answered by the fast path`).toBe(1);
      }
    }
  });

  it('FlatBuffers requests naming a version or a route key are answered by the fast path; an unknown version as the general path answers it', async () => {
    const x = { dtype: 'float32' as const, shape: [1, 4], data: Float32Array.from(mlpRow(9)) };
    const form = (extra: { version?: number; routeKey?: string }) => ({
      ...flatBuffers([]), body: Buffer.from(encodeInferRequest({ id: 'v', model: 'mlp', inputs: new Map([['x', x]]), outputs: [], ...extra })),
    });
    for (const extra of [{ version: 1 }, { routeKey: 'user-7' }, { version: 1, routeKey: 'user-8' }]) {
      const before = calls.answered;
      const { responses } = await converse(portOf(fast), [{ bytes: requestBytes(form(extra)) }], 1);
      expect(responses[0]?.status, JSON.stringify(extra)).toBe(200);
      expect(closeTo(scores('fb', responses[0]!), mlpReference([mlpRow(9)], 1))).toBe(true);
      expect(calls.answered - before, JSON.stringify(extra)).toBe(1);
    }
    const unknown = requestBytes(form({ version: 2 }));
    const [a, b] = [await converse(portOf(fast), [{ bytes: unknown }], 1), await converse(portOf(general), [{ bytes: unknown }], 1)];
    expect(a.responses[0]?.status).toBe(404);
    expect(a.responses[0]!.body.equals(b.responses[0]!.body)).toBe(true);
  });

  it('WebSocket messages are answered by the fast path as they arrive, each matched by id; declined ones as the general path answers them', async () => {
    const sockets = [fast, general].map((server) => new WebSocket(`${server.baseUrl.replace('http', 'ws')}/v1/flatbuffers/ws`));
    const answers = sockets.map(() => new Map<string, Uint8Array>());
    await Promise.all(sockets.map((ws, i) => new Promise<void>((resolve, reject) => {
      ws.on('open', () => resolve());
      ws.on('error', reject);
      ws.on('message', (data: Buffer) => {
        const bytes = new Uint8Array(data);
        answers[i]!.set(decodeInferResponse(bytes).id, bytes);
      });
    })));
    try {
      const before = calls.answered;
      const ids: string[] = [];
      // Several in flight at once on each connection, then a few the fast path declines.
      for (let i = 0; i < 12; i++) {
        ids.push(`w${i}`);
        for (const ws of sockets) ws.send(flatBuffers([mlpRow(i), mlpRow(i + 1)], `w${i}`).body);
      }
      const declined = Buffer.from(encodeInferRequest({ id: 'nope', model: 'nope', inputs: new Map(), outputs: [] }));
      for (const ws of sockets) ws.send(declined);
      ids.push('nope');
      await expect.poll(() => answers.every((got) => ids.every((id) => got.has(id))), { timeout: 20_000 }).toBe(true);
      for (let i = 0; i < 12; i++) {
        const got = decodeInferResponse(answers[0]!.get(`w${i}`)!);
        const flat = Array.from(got.outputs.get('scores')!.data as Float32Array);
        expect(closeTo([flat.slice(0, 3), flat.slice(3)], mlpReference([mlpRow(i), mlpRow(i + 1)], 1)), `w${i}`).toBe(true);
      }
      expect(decodeInferResponse(answers[0]!.get('nope')!).error).toEqual(decodeInferResponse(answers[1]!.get('nope')!).error);
      expect(decodeInferResponse(answers[0]!.get('nope')!).error?.code).toBe('ERR_MODEL_NOT_FOUND');
      expect(calls.answered - before).toBe(12);
    } finally {
      for (const ws of sockets) ws.close();
    }
  });

  it('routes of many URLs (past the route cache\'s bound) are each answered for their own model', async () => {
    for (let i = 0; i < 300; i++) {
      const bytes = requestBytes({ ...kserveBinary([mlpRow(1)]), path: `/v2/models/m${i}/infer` });
      const { responses } = await converse(portOf(fast), [{ bytes }], 1);
      expect(responses[0]?.status, `m${i}`).toBe(404);
      expect(responses[0]!.body.toString(), `m${i}`).toContain(`m${i}`);
    }
    for (const [kind, form] of FORMS) {
      const before = calls.answered;
      const { responses } = await converse(portOf(fast), [{ bytes: requestBytes(form([mlpRow(2)])) }], 1);
      expect(closeTo(scores(kind, responses[0]!), mlpReference([mlpRow(2)], 1)), kind).toBe(true);
      expect(calls.answered - before, kind).toBe(1);
    }
  });

  it('a body in several writes is answered as the general path answers it', async () => {
    for (const [kind, form] of FORMS) {
      const rows = [mlpRow(3), mlpRow(4), mlpRow(5)];
      const bytes = requestBytes(form(rows));
      // Headers and part of the body, then the rest once the server has surely read the first part.
      const cut = bytes.length - 7;
      const writes: RawWrite[] = [{ bytes: bytes.subarray(0, cut) }, { bytes: bytes.subarray(cut), afterMs: 50 }];
      const [a, b] = [await converse(portOf(fast), writes, 1), await converse(portOf(general), writes, 1)];
      expect(a.responses[0]?.status, kind).toBe(200);
      expect(closeTo(scores(kind, a.responses[0]!), mlpReference(rows, 1)), kind).toBe(true);
      // KServe and TF answers are the same bytes; FlatBuffers' two writers lay the same message out differently.
      if (kind === 'fb') expect(scores(kind, a.responses[0]!), kind).toEqual(scores(kind, b.responses[0]!));
      else expect(a.responses[0]!.body.equals(b.responses[0]!.body), `${kind}: same bytes as the general path`).toBe(true);
    }
  });

  it('a client that leaves mid-body after the fallback gives its body\'s bytes back (the exchange took over the abort)', async () => {
    const inFlight = async () => {
      const text = await (await fetch(`${fast.baseUrl}/metrics`)).text();
      return Number(/^ortserve_in_flight_bytes (\d+)/m.exec(text)![1]);
    };
    for (const [kind, form] of FORMS) {
      const rows = Array.from({ length: 500 }, (_, i) => mlpRow(i));
      const bytes = requestBytes(form(rows));
      const bodyLength = form(rows).body.length;
      expect(bodyLength, kind).toBeLessThan(64 * 1024);
      const socket = net.connect(portOf(fast), '127.0.0.1');
      socket.on('error', () => {});
      await new Promise<void>((resolve) => socket.on('connect', resolve));
      socket.write(bytes.subarray(0, bytes.length - 100));
      // The exchange counts the whole declared body from its first chunk.
      await expect.poll(inFlight, { timeout: 20_000, interval: 20 }).toBe(bodyLength);
      socket.destroy();
      await expect.poll(inFlight, { timeout: 20_000, interval: 20 }).toBe(0);
    }
    // And the server goes on answering.
    const { responses } = await converse(portOf(fast), [{ bytes: requestBytes(flatBuffers([mlpRow(1)])) }], 1);
    expect(responses[0]?.status).toBe(200);
  });

  it('pipelined requests in one write are all answered, in order', async () => {
    for (const [kind, form] of FORMS) {
      const batches = [[mlpRow(1)], [mlpRow(2), mlpRow(3)], [mlpRow(4)]];
      const write = Buffer.concat(batches.map((rows) => requestBytes(form(rows))));
      const { responses, closed } = await converse(portOf(fast), [{ bytes: write }], 3);
      expect(closed, kind).toBe(false);
      expect(responses.map((r) => r.status), kind).toEqual([200, 200, 200]);
      batches.forEach((rows, i) => expect(closeTo(scores(kind, responses[i]!), mlpReference(rows, 1)), `${kind} #${i}`).toBe(true));
    }
  });

  it('requests the fast path declines get the general path\'s answer, status and headers', async () => {
    const cases: Array<[string, Buffer]> = [
      ['FlatBuffers, an unknown model', requestBytes({ ...flatBuffers([mlpRow(1)]), body: Buffer.from(encodeInferRequest({ id: 'q', model: 'nope', inputs: new Map(), outputs: [] })) })],
      ['FlatBuffers, garbage', requestBytes({ ...flatBuffers([mlpRow(1)]), body: Buffer.from('not a flatbuffer at all') })],
      ['KServe, a header length past the body', requestBytes({ ...kserveBinary([mlpRow(1)]), headers: 'Inference-Header-Content-Length: 9999\r\n' })],
      ['KServe, a malformed header length', requestBytes({ ...kserveBinary([mlpRow(1)]), headers: 'Inference-Header-Content-Length: 12x\r\n' })],
      ['KServe, wrong input shape', requestBytes(kserveBinary([[1, 2, 3]]))],
      ['TF, ragged rows', requestBytes(tfPredict([[1, 2, 3, 4], [1, 2]]))],
      ['TF, not JSON', requestBytes({ ...tfPredict([]), body: Buffer.from('{"instances": [[1, 2') })],
      ['KServe, no such route', requestBytes({ ...kserveBinary([mlpRow(1)]), path: '/v2/repository/index' })],
      ['KServe, a malformed version', requestBytes({ ...kserveBinary([mlpRow(1)]), path: '/v2/models/mlp/versions/x1/infer' })],
      ['TF, an unknown verb', requestBytes({ ...tfPredict([mlpRow(1)]), path: '/v1/models/mlp:explain' })],
      ['TF, bad percent-encoding', requestBytes({ ...tfPredict([mlpRow(1)]), path: '/v1/models/%zz:predict' })],
    ];
    for (const [what, bytes] of cases) {
      const before = calls.answered;
      const [a, b] = [await converse(portOf(fast), [{ bytes }], 1), await converse(portOf(general), [{ bytes }], 1)];
      expect(a.responses[0]?.status, what).toBeGreaterThanOrEqual(400);
      expect(a.responses[0]?.status, what).toBe(b.responses[0]?.status);
      expect(a.responses[0]?.headers['content-type'], what).toBe(b.responses[0]?.headers['content-type']);
      expect(a.responses[0]!.body.equals(b.responses[0]!.body), `${what}: same body`).toBe(true);
      expect(calls.answered - before, what).toBe(0);
    }
  });
});

describe('one-turn POSTs whose run fails', () => {
  let small: TestServer;
  let smallGeneral: TestServer;
  beforeAll(async () => {
    // Answers over 20 bytes fail after the run: the MLP's scores for one row are 12 bytes, for two 24.
    small = await startTestServer({ mlp: { 1: mlpModel(1) } }, { inlineBudgetMicros: 100_000, maxResponseBytes: 20 });
    smallGeneral = await startTestServer({ mlp: { 1: mlpModel(1) } }, { fastPath: false, inlineBudgetMicros: 100_000, maxResponseBytes: 20 });
    await warm(small, smallGeneral);
  }, 60_000);
  afterAll(async () => {
    await small?.close();
    await smallGeneral?.close();
  });

  it('get the error the general path sends, and the server keeps serving', async () => {
    const smallCalls = countFastPath(small);
    for (let i = 0; i < 30; i++) {
      for (const [kind, form] of FORMS) {
        const bytes = requestBytes(form([mlpRow(i), mlpRow(i + 1)]));
        const [a, b] = [await converse(portOf(small), [{ bytes }], 1), await converse(portOf(smallGeneral), [{ bytes }], 1)];
        expect(a.responses[0]?.status, `${kind} #${i}`).toBe(413);
        expect(a.responses[0]?.status, kind).toBe(b.responses[0]?.status);
        expect(a.responses[0]!.body.toString(), kind).toBe(b.responses[0]!.body.toString());
        expect(a.closed, `${kind}: the connection closes as the general path closes it`).toBe(b.closed);
      }
    }
    // Those failed inside the fast path (the version runs inline), answered through one-turn's error route.
    expect(smallCalls.threw).toBeGreaterThan(45);
    const res = await fetch(`${small.baseUrl}/v1/models/mlp`);
    expect(res.status).toBe(200);
    const metrics = await (await fetch(`${small.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/ortserve_execution_inline\{model="mlp",version="1"\} 1/);
    expect(smallCalls.answered).toBe(0);
  });
});
