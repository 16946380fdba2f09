// Deadlines fire on time and one model cannot starve the others (issue 17, rows 3 and 9), end to end on a real
// server with two native workers and a slow model whose runs last seconds: a queued request gets its 504 at its
// deadline while long runs hold every worker; a running request past its deadline is stopped (ONNX Runtime's run
// termination) instead of running on; a fast model is answered at once while the slow model has a queue of its own.
// Checked by order of events, not by time (a loaded machine cannot fail them): the 504 comes while the runs that
// hold the workers are still going, a stopped run is counted as terminated, the fast answer comes while every slow
// request is still queued.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { grpcClients, unaryCall, type GrpcClients } from './support/grpc-client.js';
import { slowModel } from './support/models.mjs';
import { startTestServer, type TestServer } from './support/test-server.js';

// One run: 128 MatMuls of 1024², about 4 s on an idle core (30 ms each), longer on a busy one; ORT checks the
// terminate flag between them.
const SLOW = slowModel({ steps: 128 });
// The long runs' own deadline: they are stopped then, so the tests do not wait out whole runs.
const HOLD_MS = 2500;
const WORKERS = 2;

type Reply = { status: number; json: any };

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, json: await res.json() };
}

const slowPredict = (t: TestServer, headers: Record<string, string> = {}) =>
  post(`${t.baseUrl}/v1/models/slow:predict`, { instances: [[1]] }, headers);

/** How many of `replies` have arrived so far (read it to check the order of answers, not their timing). */
function arrivals(replies: Promise<unknown>[]): () => number {
  let n = 0;
  for (const r of replies) void r.then(() => n++, () => n++);
  return () => n;
}

/** Sends `count` slow requests (each with a HOLD_MS deadline) and waits until `running` of them have started. */
async function holdWorkers(t: TestServer, count: number, running: number): Promise<Promise<Reply>[]> {
  const session = t.server.registry.resolve('slow')!.session;
  const before = session.stats();
  const held = Array.from({ length: count }, () => slowPredict(t, { 'x-request-timeout-ms': String(HOLD_MS) }));
  await vi.waitFor(() => {
    const now = session.stats();
    expect(now.enqueued - before.enqueued).toBe(count);
    expect(now.queued).toBe(count - running);   // the others were taken by workers
  }, { timeout: 2000, interval: 2 });
  await new Promise((r) => setTimeout(r, 30));
  expect(session.stats().tasksRun).toBe(before.tasksRun);   // none finished: they hold their workers
  return held;
}

describe('deadlines fire on time, whatever the workers are doing', () => {
  let t: TestServer;
  let grpcs: GrpcClients;
  beforeAll(async () => {
    // The slow model alone: it may use both workers (the automatic per-model limit applies only among several).
    t = await startTestServer({ slow: { 1: SLOW } }, { numBatchThreads: WORKERS });
    grpcs = grpcClients(t.grpcAddress);
    // Connected before any test: on a loaded machine a first call's connection set-up can outlast a 300 ms deadline.
    await Promise.all([grpcs.kserve, grpcs.prediction].map((client) =>
      new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 10_000, (err?: Error) => (err ? reject(err) : resolve())))));
  });
  afterAll(async () => {
    grpcs.close();
    await t.close();
  });

  const QUEUED: Record<string, (t: TestServer) => Promise<Reply>> = {
    'TF Serving REST, x-request-timeout-ms: 300': (s) => slowPredict(s, { 'x-request-timeout-ms': '300' }),
    'KServe REST, parameters.timeout: 300000 µs': (s) => post(`${s.baseUrl}/v2/models/slow/infer`, {
      inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }], parameters: { timeout: 300_000 },
    }),
    'KServe gRPC, parameters.timeout: 300000 µs': async () => {
      const result = await unaryCall(grpcs.kserve, 'ModelInfer', {
        model_name: 'slow', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], contents: { fp32_contents: [1] } }],
        parameters: { timeout: { int64_param: '300000' } },
      });
      const code = result.error?.metadata.get('ortserve-error-code')[0];
      return { status: result.error ? 504 : 200, json: { code } };
    },
  };

  it.each(Object.keys(QUEUED))('%s, queued behind runs holding every worker: 504 at the deadline, not when a worker frees up', async (name) => {
    const session = t.server.registry.resolve('slow')!.session;
    const held = await holdWorkers(t, WORKERS, WORKERS);
    const heldAnswered = arrivals(held);
    const before = session.stats();
    const reply = await QUEUED[name]!(t);
    expect(reply.status).toBe(504);
    expect(reply.json.code).toBe('ERR_DEADLINE_EXCEEDED');
    expect(heldAnswered()).toBe(0);   // before the runs holding the workers ended (at HOLD_MS, 2.5 s, or later)
    const after = session.stats();
    expect(after.expired - before.expired).toBe(1);
    expect(after.tasksRun - before.tasksRun).toBe(0);   // answered while both runs were still going
    await Promise.all(held);
  });

  it('a gRPC deadline: the queued request is dropped on the server at the deadline', async () => {
    const session = t.server.registry.resolve('slow')!.session;
    const held = await holdWorkers(t, WORKERS, WORKERS);
    const heldAnswered = arrivals(held);
    const before = session.stats();
    const call = unaryCall(grpcs.prediction, 'Predict', {
      model_spec: { name: 'slow' },
      inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 1 }, { size: 1 }] }, float_val: [1] } },
    }, { deadline: Date.now() + 300 });
    // The client ends the call itself at its deadline; the server must drop the request then too.
    await vi.waitFor(() => expect(session.stats().expired - before.expired).toBe(1), { timeout: 20_000, interval: 5 });
    expect(heldAnswered()).toBe(0);   // dropped while the runs holding the workers were still going
    expect(session.stats().tasksRun - before.tasksRun).toBe(0);
    expect((await call).error).toBeDefined();
    await Promise.all(held);
  });

  it('a gRPC deadline on ModelInfer (served on the HTTP/2 stream, --grpc_raw_unary): the queued request is dropped at the deadline', async () => {
    const session = t.server.registry.resolve('slow')!.session;
    const held = await holdWorkers(t, WORKERS, WORKERS);
    const before = session.stats();
    const call = unaryCall(grpcs.kserve, 'ModelInfer', {
      model_name: 'slow', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1] }], raw_input_contents: [Buffer.from(new Float32Array([1]).buffer)],
    }, { deadline: Date.now() + 300 });
    // Dropped while the held runs still hold both workers: it never ran.
    await vi.waitFor(() => expect(session.stats().expired - before.expired).toBe(1), { timeout: 1500, interval: 5 });
    expect(session.stats().tasksRun - before.tasksRun).toBe(0);
    expect((await call).error?.code).toBe(4);   // DEADLINE_EXCEEDED
    await Promise.all(held);
  });

  it('a running request past its deadline is stopped: DEADLINE_EXCEEDED long before the run would end', async () => {
    const session = t.server.registry.resolve('slow')!.session;
    const before = session.stats();
    const reply = await slowPredict(t, { 'x-request-timeout-ms': '500' });   // starts at once: both workers are free
    expect(reply.status).toBe(504);
    expect(reply.json.code).toBe('ERR_DEADLINE_EXCEEDED');
    expect(reply.json.error).toMatch(/while it ran.*stopped/);
    // Stopped by ONNX Runtime's run termination (the counter below), not run to its end (4 s or more on an idle core).
    const after = session.stats();
    expect(after.terminated - before.terminated).toBe(1);
    expect(after.expired - before.expired).toBe(0);   // it ran: stopped, not expired in the queue
    // And its worker is free again (counted down just after the answer is handed over).
    await vi.waitFor(() => expect(session.stats().running).toBe(0), { timeout: 10_000, interval: 2 });
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`ortserve_runs_terminated_total\\{model="slow",version="1"\\} ${after.terminated}\n`));
  });
});

describe('one model cannot starve the others', () => {
  let t: TestServer;
  beforeAll(async () => {
    // Two models, two workers, the automatic per-model limit: the slow model may run one batch at a time.
    t = await startTestServer({ slow: { 1: SLOW }, mlp: { 1: mlpModel(1) } }, { numBatchThreads: WORKERS });
  });
  afterAll(async () => {
    await t.close();
  });

  it('a fast model is answered at once while the slow model has many requests queued', async () => {
    const slow = t.server.registry.resolve('slow')!.session;
    const held = await holdWorkers(t, 6, 1);
    expect(slow.stats().queued).toBe(5);
    const reply = await post(`${t.baseUrl}/v1/models/mlp:predict`, { instances: [[1, 2, 3, 4]] });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ predictions: [[2.75, -4.25, 0]] });
    // Answered while every slow request still waits: none has run, ended or expired (the first ends at HOLD_MS or later).
    expect(slow.stats().queued).toBe(5);
    expect(slow.stats().running).toBe(1);
    await Promise.all(held);
  });
});
