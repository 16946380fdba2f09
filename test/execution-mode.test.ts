// Adaptive execution: which versions run inline on the JS thread and which on the native workers, the switch back
// after a slow run (with an injected clock), equal results in both modes, and what status and metrics say.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { COOLDOWN_MS, ExecutionMode, INLINE_GROWTH, MIN_SAMPLES, OVER_BUDGET_ALLOWED, WINDOW } from '../src/engine/execution-mode.js';
import { ModelSession } from '../src/engine/model-session.js';
import { nativeAddon } from '../src/engine/native-binding.js';
import type { Tensor } from '../src/engine/tensor.js';
import { addModel, slowModel } from './support/models.mjs';
import { mlpReference } from './support/reference.js';
import { startTestServer, type TestServer } from './support/test-server.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-exec-'));
function writeModel(name: string, bytes: Uint8Array): string {
  const file = path.join(dir, `${name}.onnx`);
  fs.writeFileSync(file, bytes);
  return file;
}
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

const mlpInput = (row: number[]): Map<string, Tensor> => new Map([['x', { dtype: 'float32', shape: [1, 4], data: new Float32Array(row) }]]);
const scores = (outputs: Map<string, Tensor>) => Array.from(outputs.get('scores')!.data as Float32Array);

describe('ExecutionMode (the rule, with an injected clock)', () => {
  it('starts queued, goes inline after MIN_SAMPLES cheap runs, and never with a budget of 0', () => {
    const mode = new ExecutionMode(100);
    const off = new ExecutionMode(0);
    for (let i = 0; i < MIN_SAMPLES - 1; i++) {
      mode.record(10, false);
      off.record(10, false);
    }
    expect(mode.name).toBe('queued');
    mode.record(10, false);
    off.record(10, false);
    expect(mode.name).toBe('inline');
    expect(off.name).toBe('queued');
  });

  it('judges a high percentile, not the mean: a model slow more than 1 run in 16 stays queued', () => {
    const mode = new ExecutionMode(100);
    for (let i = 0; i < WINDOW; i++) mode.record(i % 8 === 0 ? 5_000 : 1, false);   // mean ~626 µs; 8 of 64 over
    expect(mode.name).toBe('queued');
    const fine = new ExecutionMode(100);
    for (let i = 0; i < WINDOW; i++) fine.record(i < OVER_BUDGET_ALLOWED ? 5_000 : 1, false);
    expect(fine.name).toBe('inline');
    // Old slow runs leave the window: the version qualifies again once they are 64 runs behind.
    for (let i = 0; i < WINDOW; i++) mode.record(1, false);
    expect(mode.name).toBe('inline');
  });

  it('reads the CPU clock only for a run that may be slow: inputs larger than any proven fast, or after a wall-clock overrun', () => {
    const clock = manualClock();
    const mode = new ExecutionMode(100, clock.now);
    expect(mode.measureCpuFor(1)).toBe(true);   // nothing proven yet
    for (let i = 0; i < MIN_SAMPLES; i++) mode.record(10, false, 64);
    expect(mode.name).toBe('inline');
    expect(mode.measureCpuFor(64)).toBe(false);
    expect(mode.measureCpuFor(65)).toBe(true);
    // Under budget by the wall clock: judged without the CPU clock.
    mode.recordInline(50, undefined, 64);
    expect(mode.name).toBe('inline');
    // Over budget by the wall clock alone (maybe preempted): no cooldown, but the next run is measured...
    mode.recordInline(5_000, undefined, 64);
    expect(mode.name).toBe('inline');
    expect(mode.measureCpuFor(64)).toBe(true);
    // ...and its CPU time decides: within budget, nothing changes and the clock is left alone again.
    mode.recordInline(5_000, 20, 64);
    expect(mode.name).toBe('inline');
    expect(mode.measureCpuFor(64)).toBe(false);
    // A larger input is measured and, over budget by CPU time, sends the version to the workers at once.
    expect(mode.measureCpuFor(1_000_000)).toBe(true);
    mode.recordInline(9_000, 8_500, 1_000_000);
    expect(mode.name).toBe('queued');
    clock.advance(COOLDOWN_MS);
    // The slow input did not become "proven fast": the next one that large is measured again.
    expect(mode.measureCpuFor(1_000_000)).toBe(true);
  });

  it('counts wall-clock overruns against the percentile: a model often over budget leaves the JS thread without a CPU reading', () => {
    const mode = new ExecutionMode(100);
    for (let i = 0; i < MIN_SAMPLES; i++) mode.record(10, false, 64);
    for (let i = 0; i <= OVER_BUDGET_ALLOWED; i++) {
      mode.recordInline(5_000, undefined, 64);
      mode.recordInline(50, undefined, 64);
    }
    expect(mode.name).toBe('queued');
  });

  it('an inline run over budget sends the version to the workers for COOLDOWN_MS, then it comes back', () => {
    const clock = manualClock();
    const mode = new ExecutionMode(100, clock.now);
    for (let i = 0; i < MIN_SAMPLES; i++) mode.record(10, false);
    expect(mode.name).toBe('inline');
    mode.record(900, true);
    expect(mode.name).toBe('queued');
    clock.advance(COOLDOWN_MS - 1);
    expect(mode.name).toBe('queued');
    clock.advance(1);
    expect(mode.name).toBe('inline');
    // A queued run over budget only counts towards the percentile: no cooldown.
    mode.record(900, false);
    expect(mode.name).toBe('inline');
  });

  it('waits for an empty queue only to switch: once a run went inline, queued requests finishing do not hold it back', () => {
    const clock = manualClock();
    const mode = new ExecutionMode(100, clock.now);
    for (let i = 0; i < MIN_SAMPLES; i++) mode.record(10, false);
    expect(mode.inline()).toBe(true);
    expect(mode.switching).toBe(true);
    mode.record(10, true);
    expect(mode.switching).toBe(false);
    mode.record(10, false);   // a request queued before the switch finishes on a worker
    expect(mode.switching).toBe(false);
    mode.record(500, true);   // over budget: back to the workers, and the next switch waits for an empty queue again
    expect(mode.inline()).toBe(false);
    clock.advance(COOLDOWN_MS);
    expect(mode.inline()).toBe(true);
    expect(mode.switching).toBe(true);
  });
});

describe('ModelSession: inline and queued runs', () => {
  it('runs a cheap version inline once measured, with the same results as queued runs', async () => {
    const session = await ModelSession.load(writeModel('mlp', mlpModel(1)), { inlineBudgetMicros: 50_000 });
    try {
      const rows = [[1, 2, 3, 4], [0.5, -1, 2, 8], [0, 0, 0, 0]];
      const results: Array<{ inline: boolean; values: number[] }> = [];
      for (let i = 0; i < MIN_SAMPLES + 6; i++) {
        const row = rows[i % rows.length]!;
        const result = await session.runWithInfo(mlpInput(row));
        results.push({ inline: result.ranInline, values: scores(result.outputs) });
        expect(scores(result.outputs).map((v) => Math.round(v * 1e4) / 1e4))
          .toEqual(mlpReference([row], 1)[0]!.map((v) => Math.round(v * 1e4) / 1e4));
      }
      expect(results.slice(0, MIN_SAMPLES).every((r) => !r.inline)).toBe(true);
      expect(results.slice(MIN_SAMPLES).every((r) => r.inline)).toBe(true);
      expect(session.counters.queuedRuns).toBe(MIN_SAMPLES);
      expect(session.counters.inlineRuns).toBe(6);
      // Inline runs do not touch the native queue.
      expect(session.stats().tasksRun).toBe(MIN_SAMPLES);
    } finally {
      session.release();
    }
  });

  it('an inline run answers directly (no promise); a queued one through a promise; both count', async () => {
    const session = await ModelSession.load(writeModel('direct', mlpModel(1)), { inlineBudgetMicros: 1_000_000 });
    try {
      const row = [0.5, -1, 2, 0.25];
      const expected = mlpReference([row], 1)[0]!.map((v) => Math.round(v * 1e4) / 1e4);
      const first = session.start(mlpInput(row), undefined, {});
      expect(first).toBeInstanceOf(Promise);   // no measurements yet: the workers
      expect(scores((await first).outputs).map((v) => Math.round(v * 1e4) / 1e4)).toEqual(expected);
      for (let i = 1; i < MIN_SAMPLES; i++) await session.run(mlpInput(row));
      const direct = session.start(mlpInput(row), ['scores'], {});
      expect(direct).not.toBeInstanceOf(Promise);
      const result = direct as Exclude<typeof direct, Promise<unknown>>;
      expect(result.ranInline).toBe(true);
      expect(result.outputs.get('scores')!.shape).toEqual([1, 3]);
      expect(scores(result.outputs).map((v) => Math.round(v * 1e4) / 1e4)).toEqual(expected);
      expect(session.counters.inlineRuns).toBe(1);
      expect(session.counters.success).toBe(MIN_SAMPLES + 1);
      // A bad input throws at once, on either path, and counts as a failure.
      expect(() => session.start(new Map([['x', { dtype: 'float32', shape: [1, 5], data: new Float32Array(5) }]]), undefined, {})).toThrow(/shape/);
      expect(session.counters.failure).toBe(1);
    } finally {
      session.release();
    }
  });

  it('an input far larger than any proven within budget runs on the workers, not inline; the version stays inline', async () => {
    const session = await ModelSession.load(writeModel('add', addModel('float32')), { inlineBudgetMicros: 2_000 });
    const small = new Map<string, Tensor>([['x', { dtype: 'float32', shape: [1, 2], data: new Float32Array([1, 2]) }]]);
    const double = new Map<string, Tensor>([['x', { dtype: 'float32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }]]);
    // 8M floats: far over a 2 ms budget on any machine (it writes 32 MB); inline it would hold the JS thread that long.
    const big = new Map<string, Tensor>([['x', { dtype: 'float32', shape: [4_000_000, 2], data: new Float32Array(8_000_000).fill(1.5) }]]);
    try {
      for (let i = 0; i < MIN_SAMPLES; i++) await session.run(small);
      expect(session.executionMode.name).toBe('inline');
      expect(session.executionMode.inlineWorkCap()).toBe(INLINE_GROWTH * 2);
      const queued = await session.runWithInfo(big);
      expect(queued.ranInline).toBe(false);
      expect((queued.outputs.get('y')!.data as Float32Array)[7_999_999]).toBe(3);
      // Not a cooldown: the next small request runs inline at once, and so does one of twice the proven size.
      expect(session.executionMode.name).toBe('inline');
      const next = await session.runWithInfo(small);
      expect(next.ranInline).toBe(true);
      expect(Array.from(next.outputs.get('y')!.data as Float32Array)).toEqual([2, 4]);
      const grown = await session.runWithInfo(double);
      expect(grown.ranInline).toBe(true);
      expect(Array.from(grown.outputs.get('y')!.data as Float32Array)).toEqual([2, 4, 6, 8]);
    } finally {
      session.release();
    }
  });

  it('the inline bound grows only with runs measured within budget, on the workers or inline', () => {
    const mode = new ExecutionMode(100);
    for (let i = 0; i < MIN_SAMPLES; i++) mode.record(10, false, 4);
    expect(mode.inlineFor(8)).toBe(true);
    expect(mode.inlineFor(9)).toBe(false);
    mode.record(500, false, 1000);   // over budget: proves nothing
    expect(mode.inlineFor(9)).toBe(false);
    mode.record(50, false, 1000);    // within budget on the workers: inline up to twice that now
    expect(mode.inlineFor(2000)).toBe(true);
    expect(mode.inlineFor(2001)).toBe(false);
    expect(new ExecutionMode(0).inlineFor(0)).toBe(false);
  });

  it('the addon sends a switching request to the queue while requests of the version wait for a worker, and any with batching', async () => {
    const addon = nativeAddon();
    const slow = await addon.loadSession(writeModel('slow', slowModel()), {});
    const batched = await addon.loadSession(writeModel('mlp-batched', mlpModel(1)), { batching: { enabled: true, maxBatchSize: 4, batchTimeoutMicros: 100 } });
    const x = [{ name: 'x', dtype: 'float32', shape: [1, 1], data: new Float32Array([1]) }];
    try {
      // One more slow run than there are workers: the last one waits in the queue for a fraction of a second.
      const runs = Array.from({ length: addon.schedulerInfo().threads + 1 }, () => slow.run(x));
      expect(slow.runInline(x, undefined, { requireEmptyQueue: true })).toBeUndefined();
      const queuedResult = (await Promise.all(runs))[0]!;
      const inline = slow.runInline(x, undefined, { requireEmptyQueue: true });
      expect(inline).toBeDefined();
      // y = x^(steps+1) / n for x = 1: 1/1024, computed the same both ways.
      expect(Array.from(new Float32Array(inline![0]!.data as ArrayBuffer))).toEqual([1 / 1024]);
      expect(Array.from(new Float32Array(queuedResult[0]!.data as ArrayBuffer))).toEqual([1 / 1024]);
      expect(inline!.info).toMatchObject({ batchRows: 1, batchRequests: 1, queueMicros: 0 });
      expect(batched.runInline([{ name: 'x', dtype: 'float32', shape: [1, 4], data: new Float32Array(4) }])).toBeUndefined();
    } finally {
      slow.release();
      batched.release();
    }
  });

  it('an inline run that fails throws the engine error, and counts as a failure', async () => {
    const session = await ModelSession.load(writeModel('mlp2', mlpModel(1)), { inlineBudgetMicros: 50_000 });
    try {
      for (let i = 0; i < MIN_SAMPLES; i++) await session.run(mlpInput([1, 2, 3, 4]));
      expect(session.executionMode.name).toBe('inline');
      await expect(session.run(new Map([['x', { dtype: 'float32', shape: [2, 4], data: new Float32Array(4) }]])))
        .rejects.toMatchObject({ code: 'ERR_SHAPE' });
      expect(session.counters.failure).toBe(1);
    } finally {
      session.release();
    }
  });
});

describe('server: status and metrics say which mode a version is in', () => {
  let t: TestServer;
  let off: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { managementTokenFile: tokenFile() });
    off = await startTestServer({ mlp: { 1: mlpModel(1) } }, { inlineBudgetMicros: 0 });
  });
  afterAll(async () => {
    await t.close();
    await off.close();
  });

  function tokenFile(): string {
    const file = path.join(dir, 'token');
    fs.writeFileSync(file, 'secret-token-0123456789\n');
    return file;
  }

  async function predict(server: TestServer, row: number[]): Promise<number[]> {
    const res = await fetch(`${server.baseUrl}/v1/models/mlp:predict`, { method: 'POST', body: JSON.stringify({ instances: [row] }) });
    expect(res.status).toBe(200);
    return ((await res.json()) as { predictions: number[][] }).predictions[0]!;
  }

  const metric = (text: string, name: string) => Number(new RegExp(`^${name}\\{model="mlp",version="1"\\} (\\d+)$`, 'm').exec(text)?.[1]);

  it('by default a tiny model goes inline after its first measured runs; with --inline_budget_micros=0 it never does', async () => {
    const row = [1, 2, 3, 4];
    const expected = mlpReference([row], 1)[0]!.map((v) => Math.round(v * 1e4) / 1e4);
    for (let i = 0; i < MIN_SAMPLES + 4; i++) {
      expect((await predict(t, row)).map((v) => Math.round(v * 1e4) / 1e4)).toEqual(expected);
      expect((await predict(off, row)).map((v) => Math.round(v * 1e4) / 1e4)).toEqual(expected);
    }
    const on = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metric(on, 'ortserve_execution_inline')).toBe(1);
    expect(metric(on, 'ortserve_inline_runs_total')).toBe(4);
    expect(metric(on, 'ortserve_queued_runs_total')).toBe(MIN_SAMPLES);
    expect(metric(on, 'nv_inference_exec_count')).toBe(MIN_SAMPLES + 4);
    const none = await (await fetch(`${off.baseUrl}/metrics`)).text();
    expect(metric(none, 'ortserve_execution_inline')).toBe(0);
    expect(metric(none, 'ortserve_inline_runs_total')).toBe(0);
    expect(metric(none, 'ortserve_queued_runs_total')).toBe(MIN_SAMPLES + 4);

    const report = await fetch(`${t.baseUrl}/v1/management/models`, { headers: { authorization: 'Bearer secret-token-0123456789' } });
    expect(report.status).toBe(200);
    const models = ((await report.json()) as { models: Array<{ name: string; versions: Array<Record<string, unknown>> }> }).models;
    const version = models.find((m) => m.name === 'mlp')!.versions[0]!;
    expect(version).toMatchObject({ version: '1', execution_mode: 'inline', inline_runs: 4, queued_runs: MIN_SAMPLES });
  });
});
