// End-to-end tests of the native queue and dynamic batching through the TF Serving REST front end.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { failingModel, fixedBatchModel, slowModel } from './support/models.mjs';
import { mlpReference } from './support/reference.js';
import { getJson, postText, startTestServer, type TestServer } from './support/test-server.js';
import { nativeAddon } from '../src/engine/native-binding.js';
import { pino } from 'pino';

/** Row i of client c: small integers, so float32 results are exact and batched equals unbatched bit for bit. */
function rowsFor(client: number, count: number): number[][] {
  return Array.from({ length: count }, (_, r) => [client % 7, (client + r) % 5, r % 3, -((client * 3 + r) % 4)]);
}

describe('dynamic batching', () => {
  let batched: TestServer;
  let plain: TestServer;
  beforeAll(async () => {
    // A 20 ms window gathers the concurrent requests below into a few runs.
    batched = await startTestServer({ mlp: { 1: mlpModel(1) }, gather: { 1: failingModel() } }, {
      enableBatching: true,
      batching: { maxBatchSize: 64, batchTimeoutMicros: 20_000 },
    });
    plain = await startTestServer({ mlp: { 1: mlpModel(1) } });
  });
  afterAll(async () => {
    await batched.close();
    await plain.close();
  });

  it('merges concurrent requests into fewer runs and gives each client exactly its own rows', async () => {
    const clients = 48;
    const bodies = Array.from({ length: clients }, (_, c) => rowsFor(c, 1 + (c % 3)));
    const before = batched.server.registry.resolve('mlp').session.stats();
    const results = await Promise.all(bodies.map((rows) =>
      postText(`${batched.baseUrl}/v1/models/mlp:predict`, JSON.stringify({ instances: rows }))));
    results.forEach((res, c) => {
      expect(res.status).toBe(200);
      expect(res.json.predictions).toEqual(mlpReference(bodies[c]!, 1));
    });
    const after = batched.server.registry.resolve('mlp').session.stats();
    const runs = after.batches - before.batches;
    const requests = after.tasksRun - before.tasksRun;
    expect(requests).toBe(clients);
    expect(after.rowsRun - before.rowsRun).toBe(bodies.reduce((n, rows) => n + rows.length, 0));
    expect(runs).toBeLessThan(clients);
    console.log(`batching: ${requests} requests in ${runs} ORT runs (${(requests / runs).toFixed(1)} requests per run)`);
  });

  it('exposes the counts in Prometheus text under Triton\'s names', async () => {
    const text = await (await fetch(`${batched.baseUrl}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name}\\{model="mlp",version="1"\\} (\\d+)$`, 'm').exec(text)?.[1]);
    const stats = batched.server.registry.resolve('mlp').session.stats();
    expect(value('nv_inference_request_success')).toBe(48);   // the 48 requests of the test above
    expect(value('nv_inference_request_failure')).toBe(0);
    expect(value('nv_inference_count')).toBe(48 + 48 / 3 * (0 + 1 + 2));   // rows: 1 + (c % 3) per client
    expect(value('nv_inference_exec_count')).toBe(stats.batches);
    expect(value('nv_inference_exec_count')).toBeLessThan(48);
    expect(text).toContain(':tensorflow:serving:request_count{model_name="mlp",status="OK"} 48');
  });

  it('reports the runs by batch size in Triton\'s statistics, each phase counted once per request in the run', async () => {
    const { json } = await getJson(`${batched.baseUrl}/v2/models/mlp/versions/1/stats`);
    const s = json.model_stats[0];
    const stats = batched.server.registry.resolve('mlp').session.stats();
    const sizes = s.batch_stats as Array<{ batch_size: number; compute_infer: { count: number; ns: number }; compute_input: { count: number } }>;
    // Every run is in exactly one batch size, and the sizes add up to the rows run.
    expect(sizes.reduce((n, b) => n + b.compute_infer.count, 0)).toBe(stats.batches);
    expect(sizes.reduce((n, b) => n + b.batch_size * b.compute_infer.count, 0)).toBe(stats.rowsRun);
    expect(sizes.every((b) => b.compute_input.count === b.compute_infer.count)).toBe(true);
    // Fewer runs than requests (the first test), so some run merged two requests or more: at least 2 rows.
    expect(Math.max(...sizes.map((b) => b.batch_size))).toBeGreaterThan(1);
    expect(s.execution_count).toBe(stats.batches);
    expect(s.inference_stats.success.count).toBe(48);
    expect(s.inference_stats.compute_infer.count).toBe(stats.tasksRun);
    const i = s.inference_stats;
    expect(i.queue.ns + i.compute_input.ns + i.compute_infer.ns + i.compute_output.ns).toBeLessThanOrEqual(i.success.ns);
  });

  it('answers exactly what the unbatched server answers', async () => {
    const bodies = Array.from({ length: 24 }, (_, c) => JSON.stringify({ instances: rowsFor(c + 100, 2) }));
    const [a, b] = await Promise.all([batched, plain].map((t) =>
      Promise.all(bodies.map((body) => postText(`${t.baseUrl}/v1/models/mlp:predict`, body)))));
    expect(a!.map((r) => r.text)).toEqual(b!.map((r) => r.text));
  });

  it('a failing batch fails only its requests, with ORT\'s message, and the server keeps serving', async () => {
    const table = [10, 20, 30, 40];
    const gather = (idx: number[]) => postText(`${batched.baseUrl}/v1/models/gather:predict`, JSON.stringify({ inputs: idx }));
    const goodRound = async (offset: number) => {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => gather([(i + offset) % 4, (i + offset + 1) % 4])));
      results.forEach((res, i) => {
        expect(res.status).toBe(200);
        expect(res.json.outputs).toEqual([table[(i + offset) % 4], table[(i + offset + 1) % 4]]);
      });
    };
    await goodRound(0);
    // Sent together, these normally share one batch (20 ms window): index 4 makes ORT fail that whole run.
    const [bad, ...others] = await Promise.all([gather([1, 4]), ...Array.from({ length: 5 }, (_, i) => gather([i % 4]))]);
    const stats = batched.server.registry.resolve('gather').session.stats();
    expect(bad!.status).toBe(400);
    expect(bad!.json.error).toMatch(/out of data bounds, idx=4/);
    others.forEach((res, i) => {
      // In the bad request's batch: the same ORT error; in another batch (if the window split them): its answer.
      if (res.status === 200) expect(res.json.outputs).toEqual([table[i % 4]]);
      else expect(res.json.error).toMatch(/out of data bounds, idx=4/);
    });
    await goodRound(1);   // the next batches are untouched
    expect(batched.server.registry.resolve('gather').session.stats().batches).toBeGreaterThan(stats.batches);
  });

  it('serves a model whose dim 0 is fixed unbatched under --enable_batching, with the reason in its status and the log', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const t = await startTestServer({ fixed: { 1: fixedBatchModel() }, mlp: { 1: mlpModel(1) } }, { enableBatching: true, logger });
    try {
      const res = await postText(`${t.baseUrl}/v1/models/fixed:predict`, JSON.stringify({ instances: [[1, 2, 3, 4]] }));
      expect(res.status).toBe(200);
      expect(res.json.predictions).toEqual([[1, 2, 3, 4]]);   // Identity
      const models = t.server.status().models;
      const fixed = models.find((m) => m.name === 'fixed')!.versions[0]!;
      expect(fixed).toMatchObject({ state: 'AVAILABLE', batching: false });
      expect(fixed.batchingNote).toMatch(/unbatched: input 'x' has a fixed dim 0 of 1/);
      // The other model of the same server still batches.
      expect(models.find((m) => m.name === 'mlp')!.versions[0]).toMatchObject({ batching: true });
      expect(lines.some((l) => /"model":"fixed"/.test(l) && /serving it unbatched/.test(l))).toBe(true);
    } finally {
      await t.close();
    }
  });
});

describe('--batching_parameters_file', () => {
  it('sets the policy for every model, in TF Serving\'s text format, and pads to allowed sizes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ortserve-batching-'));
    const file = path.join(dir, 'batching.txt');
    writeFileSync(file, 'max_batch_size { value: 8 }\nbatch_timeout_micros { value: 20000 }\nallowed_batch_sizes: 4\nallowed_batch_sizes: 8\n');
    const t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { enableBatching: true, batchingParametersFile: file });
    try {
      const session = t.server.registry.resolve('mlp').session;
      expect(session.metadata.batching).toMatchObject({ enabled: true, maxBatchSize: 8, batchTimeoutMicros: 20000 });
      const rows = rowsFor(3, 3);
      const res = await postText(`${t.baseUrl}/v1/models/mlp:predict`, JSON.stringify({ instances: rows }));
      expect(res.json.predictions).toEqual(mlpReference(rows, 1));
      expect(session.stats().paddedRows).toBe(1);   // 3 rows ran as an allowed batch of 4
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a bad file stops the start with the line and field named', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ortserve-batching-'));
    const file = path.join(dir, 'batching.txt');
    writeFileSync(file, 'max_batch_size { value: 8 }\nallowed_batch_sizes: 4\nmax_batch_sise { value: 2 }\n');
    await expect(startTestServer({ mlp: { 1: mlpModel(1) } }, { enableBatching: true, batchingParametersFile: file }))
      .rejects.toThrow(/batching\.txt:3:1: .*max_batch_sise/);
    writeFileSync(file, 'max_batch_size { value: 8 }\nallowed_batch_sizes: 4\n');
    await expect(startTestServer({ mlp: { 1: mlpModel(1) } }, { enableBatching: true, batchingParametersFile: file }))
      .rejects.toThrow(/allowed_batch_sizes.*must equal max_batch_size/);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('queue bounds and deadlines', () => {
  let t: TestServer;
  let workers: number;
  beforeAll(async () => {
    t = await startTestServer({ slow: { 1: slowModel() }, mlp: { 1: mlpModel(1) } }, { maxQueuedRequests: 2 });
    workers = nativeAddon().schedulerInfo().threads;
  });
  afterAll(async () => {
    await t.close();
  });

  const slow = (headers: Record<string, string> = {}) =>
    fetch(`${t.baseUrl}/v1/models/slow:predict`, { method: 'POST', body: '{"inputs":[[1]]}', headers })
      .then(async (r) => ({ status: r.status, json: await r.json() }));

  it('a full queue answers 503 at once, and the accepted requests all succeed', async () => {
    const count = workers + 2 + 6;   // every worker busy, the queue (2) full, 6 more refused
    const results = await Promise.all(Array.from({ length: count }, () => slow()));
    const refused = results.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThanOrEqual(6 - workers);
    for (const r of refused) {
      expect(r.json.code).toBe('ERR_QUEUE_FULL');
      expect(r.json.error).toMatch(/queue is full/);
    }
    for (const r of results.filter((x) => x.status !== 503)) expect(r.json.outputs).toEqual([[1 / 1024]]);
  });

  it('a request still queued at its deadline gets 504 and never runs', async () => {
    const session = t.server.registry.resolve('slow').session;
    const start = session.stats();
    const busy = Array.from({ length: workers }, () => slow());
    // Let them occupy every worker the slow model may use (with two models loaded it leaves one to the other, so
    // one of them may still wait in the queue of 2, leaving a place for the late request).
    await vi.waitFor(() => {
      const now = session.stats();
      expect(now.enqueued - start.enqueued).toBe(workers);
      expect(now.running).toBeGreaterThan(0);
    }, { timeout: 5000, interval: 2 });
    const before = session.stats();
    const late = await slow({ 'x-request-timeout-ms': '20' });
    expect(late.status).toBe(504);
    expect(late.json.code).toBe('ERR_DEADLINE_EXCEEDED');
    expect(late.json.error).toMatch(/deadline/);
    for (const r of await Promise.all(busy)) expect(r.status).toBe(200);
    const after = t.server.registry.resolve('slow').session.stats();
    expect(after.expired - before.expired).toBe(1);
    expect(after.tasksRun - before.tasksRun).toBe(workers);   // the late request never reached the model
  });
});
