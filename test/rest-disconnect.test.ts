// REST clients that disconnect while their request waits in the queue, over TF Serving JSON, KServe JSON and
// FlatBuffers over HTTP. With --rest_hold_pipelined=false the queued request is dropped instead of run; by default
// (the connection is not read while an answer is pending, for pipelining) the disconnect is seen only when the answer
// is written, so the request runs and its answer is discarded. Either way no task or count is left behind and the
// server keeps answering everyone else.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { requestBytes } from '../src/client/flatbuffers-http-client.js';
import { slowModel } from './support/models.mjs';
import { startTestServer, type TestServer } from './support/test-server.js';

let t: TestServer;
let port: number;
/** The default server: --rest_hold_pipelined on. */
let holding: TestServer;

beforeAll(async () => {
  // One worker, so every request but the first waits in the queue while a slow run (a fraction of a second) goes on.
  t = await startTestServer({ mlp: { 1: mlpModel(1) }, slow: { 1: slowModel() } }, { numBatchThreads: 1, restHoldPipelined: false });
  port = Number(new URL(t.baseUrl).port);
  holding = await startTestServer({ mlp: { 1: mlpModel(1) }, slow: { 1: slowModel() } }, { numBatchThreads: 1 });
});
afterAll(async () => {
  await t?.close();
  await holding?.close();
});

/** Opens a raw connection and writes one whole HTTP request on it; the caller destroys it to disconnect. */
function sendRaw(path: string, contentType: string, body: Uint8Array, to = port): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(to, '127.0.0.1', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body);
      resolve(socket);
    });
    socket.on('error', () => {});   // destroyed on purpose below
    socket.once('error', reject);
  });
}

const forms = [
  { name: 'TF Serving JSON :predict', path: '/v1/models/slow:predict', type: 'application/json',
    body: () => Buffer.from(JSON.stringify({ instances: [[1]] })) },
  { name: 'KServe JSON infer', path: '/v2/models/slow/infer', type: 'application/json',
    body: () => Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }] })) },
  { name: 'FlatBuffers over HTTP', path: '/v1/flatbuffers/infer', type: 'application/x-flatbuffers',
    body: () => requestBytes('1', 'slow', { x: { dtype: 'float32', shape: [1, 1], data: new Float32Array([1]) } }, {}) },
];

describe('--rest_hold_pipelined=false: a REST client that disconnects while its request is queued', () => {
  it.each(forms)('$name: the queued request is dropped, not run', async (form) => {
    const session = t.server.registry.resolve('slow')!.session;
    const before = session.stats();
    const N = 6;
    const sockets: net.Socket[] = [];
    for (let i = 0; i < N; i++) sockets.push(await sendRaw(form.path, form.type, form.body()));
    // All N are accepted; one runs at a time, so the rest wait in the queue.
    await vi.waitFor(() => expect(session.stats().enqueued - before.enqueued).toBe(N), { timeout: 30_000, interval: 5 });
    for (const socket of sockets) socket.destroy();
    await vi.waitFor(() => expect(session.stats().queued).toBe(0), { timeout: 30_000, interval: 20 });
    await vi.waitFor(() => {
      const after = session.stats();
      expect((after.tasksRun - before.tasksRun) + (after.expired - before.expired)).toBe(N);
    }, { timeout: 30_000, interval: 20 });
    const after = session.stats();
    // At most the one that was running (and possibly one the worker took as the sockets closed) actually ran.
    expect(after.tasksRun - before.tasksRun).toBeLessThanOrEqual(2);
    expect(after.expired - before.expired).toBeGreaterThanOrEqual(N - 2);
    // Everyone else is still served, with the right answer (x = [1, 2, 3, 4] → [2.75, -4.25, 0] from version 1).
    const res = await fetch(`${t.baseUrl}/v1/models/mlp:predict`, { method: 'POST', body: JSON.stringify({ instances: [[1, 2, 3, 4]] }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ predictions: [[2.75, -4.25, 0]] });
  });
});

/** The value of one gauge sample in a server's /metrics text. */
async function gauge(server: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no sample ${name}`);
  return Number(line.slice(name.length + 1));
}

describe('default (connections held while an answer is pending): a REST client that disconnects', () => {
  it.each(forms)('$name: its queued request runs, the answer is discarded, nothing is left behind', async (form) => {
    const session = holding.server.registry.resolve('slow')!.session;
    const before = session.stats();
    const N = 4;
    const holdingPort = Number(new URL(holding.baseUrl).port);
    const sockets: net.Socket[] = [];
    for (let i = 0; i < N; i++) sockets.push(await sendRaw(form.path, form.type, form.body(), holdingPort));
    await vi.waitFor(() => expect(session.stats().enqueued - before.enqueued).toBe(N), { timeout: 30_000, interval: 5 });
    for (const socket of sockets) socket.destroy();
    // The held connections are not read, so the close is not seen before the answers: every request runs.
    await vi.waitFor(() => expect(session.stats().tasksRun - before.tasksRun).toBe(N), { timeout: 60_000, interval: 20 });
    expect(session.stats().expired - before.expired).toBe(0);
    await vi.waitFor(async () => expect(await gauge(holding, 'ortserve_in_flight_bytes')).toBe(0), { timeout: 30_000, interval: 50 });
    const res = await fetch(`${holding.baseUrl}/v1/models/mlp:predict`, { method: 'POST', body: JSON.stringify({ instances: [[1, 2, 3, 4]] }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ predictions: [[2.75, -4.25, 0]] });
  });
});
