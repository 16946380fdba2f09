// Polling before sleeping. Busy polling (--busy_poll_micros): the event loop polls before it sleeps, answers stay
// right, timers stay on time, polling turns itself off through long gaps and on after short ones, the metrics count
// the polls, and a stopped server leaves the loop sleeping at once.
// Worker spinning (--worker_spin_micros): queued runs stay right while an idle worker watches for work.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { nativeAddon } from '../src/engine/native-binding.js';
import { closeTo, mlpReference } from './support/reference.js';
import { startTestServer, type TestServer } from './support/test-server.js';

/** The value of one un-labelled sample in a Prometheus text. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no sample ${name} in /metrics`);
  return Number(line.slice(name.length + 1));
}

describe('--busy_poll_micros', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { busyPollMicros: 300 });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers every request right while the loop polls, and counts polls that found the next event', async () => {
    const before = nativeAddon().busyPollStats();
    for (let i = 0; i < 40; i++) {
      const row = [i / 10, -i / 7, 1, 0.25 * i];
      const res = await fetch(`${t.baseUrl}/v1/models/mlp:predict`, { method: 'POST', body: JSON.stringify({ instances: [row] }) });
      expect(res.status).toBe(200);
      const body = await res.json() as { predictions: number[][] };
      expect(closeTo(body.predictions, mlpReference([row], 1))).toBe(true);
    }
    const after = nativeAddon().busyPollStats();
    expect(after.spins).toBeGreaterThan(before.spins);
    // The client is in this process: each answer it waits for arrives while the loop polls.
    expect(after.hits).toBeGreaterThan(before.hits);
    expect(after.spinMicros).toBeGreaterThan(before.spinMicros);
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(sample(metrics, 'ortserve_busy_poll_spins_total')).toBeGreaterThanOrEqual(after.spins);
    expect(sample(metrics, 'ortserve_busy_poll_hits_total')).toBeGreaterThanOrEqual(after.hits);
    expect(sample(metrics, 'ortserve_busy_poll_seconds_total')).toBeGreaterThan(0);
  });

  it('never holds a due timer: with a one-second budget, ten 5 ms timers in a row do not wait for the budget', async () => {
    expect(nativeAddon().setBusyPoll(1_000_000)).toBe(true);
    try {
      const started = performance.now();
      for (let i = 0; i < 10; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      // A poll that ignored the timers would hold each for the whole second: 10 s in all.
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      nativeAddon().setBusyPoll(300);
    }
  });

  it('turns itself off while the loop sleeps longer than the budget, and on again after a short sleep', async () => {
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const before = nativeAddon().busyPollStats();
    // Nothing but 5 ms timers: the first poll finds nothing within its 300 µs, and the sleeps after it are skipped.
    for (let i = 0; i < 20; i++) await sleep(5);
    const idle = nativeAddon().busyPollStats();
    expect(idle.skips - before.skips).toBeGreaterThanOrEqual(15);
    expect(idle.spins - before.spins).toBeLessThanOrEqual(5);
    // Requests whose answers come back within the budget: a short sleep turns polling on again, and polls find events.
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${t.baseUrl}/v1/models/mlp/metadata`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const busy = nativeAddon().busyPollStats();
    expect(busy.spins).toBeGreaterThan(idle.spins);
    expect(busy.hits).toBeGreaterThan(idle.hits);
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(sample(metrics, 'ortserve_busy_poll_skips_total')).toBeGreaterThanOrEqual(idle.skips);
  });

  it('refuses a budget that is not an integer from 0 to 1,000,000', () => {
    for (const bad of [-1, 1.5, 1_000_001, Number.NaN]) expect(() => nativeAddon().setBusyPoll(bad)).toThrow(TypeError);
    expect(() => (nativeAddon().setBusyPoll as (v: unknown) => boolean)('300')).toThrow(TypeError);
  });

  it('stops polling when the server stops', async () => {
    const other = await startTestServer({ mlp: { 1: mlpModel(1) } }, { busyPollMicros: 300 });
    await other.close();
    const stopped = nativeAddon().busyPollStats().spins;
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(nativeAddon().busyPollStats().spins).toBe(stopped);
    nativeAddon().setBusyPoll(300);   // back on for the rest of this file's server
  });
});

describe('--worker_spin_micros', () => {
  it('queued runs, one after another and concurrent, answer right while an idle worker spins', async () => {
    const t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { workerSpinMicros: 500, inlineBudgetMicros: 0 });
    try {
      const predict = async (row: number[]) => {
        const res = await fetch(`${t.baseUrl}/v1/models/mlp:predict`, { method: 'POST', body: JSON.stringify({ instances: [row] }) });
        expect(res.status).toBe(200);
        const body = await res.json() as { predictions: number[][] };
        expect(closeTo(body.predictions, mlpReference([row], 1))).toBe(true);
      };
      for (let i = 0; i < 30; i++) await predict([i, 1 - i, 0.5, -i / 3]);
      await Promise.all(Array.from({ length: 30 }, (_, i) => predict([i / 2, i, -1, 2])));
      // Every run went through the queue (inline runs are off), so the workers served them all.
      const session = t.server.registry.resolve('mlp')!.session;
      expect(session.stats().tasksRun).toBeGreaterThanOrEqual(60);
    } finally {
      await t.close();
    }
  });

  it('refuses a budget that is not an integer from 0 to 1,000,000', () => {
    for (const bad of [-1, 0.5, 1_000_001]) expect(() => nativeAddon().configure({ workerSpinMicros: bad })).toThrow(TypeError);
  });
});
