// Sequences over time: an abandoned sequence freed at its idle timeout, the state-bytes bound, and a hot swap in the
// middle of open sequences (old ones finish on the old version, which stays loaded until they end; new ones start
// on the new version). Answers are compared with onnxruntime-node stepped by hand.

import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accumulatorModel, accumulatorSequenceConfig } from '../scripts/sequence-models.mjs';
import { waitUntil } from './support/registry-helpers.js';
import {
  HandStepper, accumulatorFeed, closeFloats, ortSession, restOutput, restStep, startSequenceServer, type SequenceServer,
} from './support/sequence-helpers.js';

let t: SequenceServer;
const v1 = accumulatorModel({ bonus: 1000 });
const v2 = accumulatorModel({ bonus: 2000 });

beforeAll(async () => {
  t = await startSequenceServer([
    { name: 'acc', versions: { 1: v1 }, entry: { sequence_batching: accumulatorSequenceConfig({ oldest: { max_candidate_sequences: 64 } }) } },
    { name: 'acc_idle', versions: { 1: v1 }, entry: { sequence_batching: accumulatorSequenceConfig({ max_sequence_idle_microseconds: 300_000 }) } },
    { name: 'acc_bytes', versions: { 1: v1 }, entry: { sequence_batching: accumulatorSequenceConfig({ oldest: { max_candidate_sequences: 100 } }) } },
    { name: 'acc_inline', versions: { 1: v1 }, entry: { sequence_batching: accumulatorSequenceConfig({ oldest: { max_candidate_sequences: 8 } }) } },
  ], {
    // A budget no run of these models reaches: an unbatched version goes inline after its first 16 runs.
    inlineBudgetMicros: 100_000,
    // 16 bytes of state per sequence: four sequences per model.
    maxSequenceStateBytes: 64,
    // Short polls keep the swap quick; nothing below asserts how fast anything is.
    fileSystemPollWaitSeconds: 0.03, versionSettleSeconds: 0.1,
  });
}, 120_000);
afterAll(async () => {
  await t?.close();
});

const versionOf = (model: string, version: number) => t.server.status().models.find((m) => m.name === model)!.versions.find((v) => v.version === version);

describe('idle timeout', () => {
  it('frees an abandoned sequence and its state; its next request is refused, and the id can start again', async () => {
    expect((await restStep(t.baseUrl, 'acc_idle', [1, 2, 3, 4], [4], { id: 21, start: true })).status).toBe(200);
    expect(versionOf('acc_idle', 1)!.sequences).toMatchObject({ open: 1, stateBytes: 16 });
    await waitUntil(() => versionOf('acc_idle', 1)!.sequences!.expired === 1, 'the sequence to idle out');
    expect(versionOf('acc_idle', 1)!.sequences).toMatchObject({ open: 0, stateBytes: 0, started: 1, ended: 0 });
    expect(t.server.registry.sequences.pinned('acc_idle', 'u:21')).toBeUndefined();
    const late = await restStep(t.baseUrl, 'acc_idle', [1, 1, 1, 1], [4], { id: 21 });
    expect(late.status).toBe(400);
    expect(late.json.code).toBe('ERR_SEQUENCE_UNKNOWN');
    const again = await restStep(t.baseUrl, 'acc_idle', [1, 1, 1, 1], [4], { id: 21, start: true, end: true });
    expect(restOutput(again, 'y')).toEqual([1001, 1001, 1001, 1001]);   // from the zero state, not the old one
  });
});

describe('inline runs', () => {
  it('keeps the state right when an unbatched stateful version runs inline on the JS thread', async () => {
    const ref = new HandStepper(await ortSession(v1), accumulatorFeed(false, 61n), 'state_out');
    const other = new HandStepper(await ortSession(v1), accumulatorFeed(false, 62n), 'state_out');
    for (let step = 0; step < 40; step++) {
      const x = [step, 1, -step, 0.5];
      const [a, b] = await Promise.all([
        restStep(t.baseUrl, 'acc_inline', x, [4], { id: 61, start: step === 0, end: step === 39 }),
        restStep(t.baseUrl, 'acc_inline', x.map((v) => v * 2), [4], { id: 62, start: step === 0, end: step === 39 }),
      ]);
      expect(closeFloats(restOutput(a, 'y'), await ref.step(x))).toBe(true);
      expect(closeFloats(restOutput(b, 'y'), await other.step(x.map((v) => v * 2)))).toBe(true);
    }
    const session = t.server.registry.resolve('acc_inline').session;
    expect(session.counters.inlineRuns).toBeGreaterThan(0);
    expect(session.counters.queuedRuns).toBeGreaterThan(0);
    expect(session.sequenceStats()).toMatchObject({ open: 0, started: 2, ended: 2 });
  });
});

describe('state bytes', () => {
  it('refuses a new sequence once the model holds --max_sequence_state_bytes (retryable), until one ends', async () => {
    for (const id of [1, 2, 3, 4]) expect((await restStep(t.baseUrl, 'acc_bytes', [0, 0, 0, 0], [4], { id, start: true })).status).toBe(200);
    const full = await restStep(t.baseUrl, 'acc_bytes', [0, 0, 0, 0], [4], { id: 5, start: true });
    expect(full.status).toBe(503);
    expect(full.json.code).toBe('ERR_SEQUENCE_TABLE_FULL');
    expect(full.json.error).toMatch(/64 of 64 bytes, --max_sequence_state_bytes/);
    // Other models have their own bound.
    expect((await restStep(t.baseUrl, 'acc', [0, 0, 0, 0], [4], { id: 5, start: true, end: true })).status).toBe(200);
    expect((await restStep(t.baseUrl, 'acc_bytes', [0, 0, 0, 0], [4], { id: 2, end: true })).status).toBe(200);
    expect((await restStep(t.baseUrl, 'acc_bytes', [0, 0, 0, 0], [4], { id: 5, start: true })).status).toBe(200);
    for (const id of [1, 3, 4, 5]) expect((await restStep(t.baseUrl, 'acc_bytes', [0, 0, 0, 0], [4], { id, end: true })).status).toBe(200);
    expect(versionOf('acc_bytes', 1)!.sequences).toMatchObject({ open: 0, stateBytes: 0, started: 5, ended: 5 });
  });

  it('exposes open, started, ended, expired and state bytes per model and version on /metrics', async () => {
    expect((await restStep(t.baseUrl, 'acc_bytes', [0, 0, 0, 0], [4], { id: 50, start: true })).status).toBe(200);
    const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
    const sample = (name: string, model: string) => text.match(new RegExp(`^${name}\\{model="${model}",version="1"\\} (\\d+)$`, 'm'))?.[1];
    expect(sample('ortserve_sequences_open', 'acc_bytes')).toBe('1');
    expect(sample('ortserve_sequence_state_bytes', 'acc_bytes')).toBe('16');
    expect(sample('ortserve_sequences_started_total', 'acc_bytes')).toBe('6');
    expect(sample('ortserve_sequences_ended_total', 'acc_bytes')).toBe('5');
    expect(sample('ortserve_sequences_expired_total', 'acc_idle')).toBe('1');
    expect((await restStep(t.baseUrl, 'acc_bytes', [0, 0, 0, 0], [4], { id: 50, end: true })).status).toBe(200);
  });
});

describe('hot swap', () => {
  it('finishes open sequences on the version they started on, starts new ones on the new version, then unloads the old', async () => {
    const refs = new Map<bigint, HandStepper>();
    const step = async (id: bigint, x: number[], p: { start?: boolean; end?: boolean }, bytes: Uint8Array, expectVersion: string) => {
      if (p.start) refs.set(id, new HandStepper(await ortSession(bytes), accumulatorFeed(false, id), 'state_out'));
      const answer = await restStep(t.baseUrl, 'acc', x, [4], { id, ...p });
      expect(answer.status, JSON.stringify(answer.json)).toBe(200);
      expect(answer.json.model_version).toBe(expectVersion);
      expect(closeFloats(restOutput(answer, 'y'), await refs.get(id)!.step(x))).toBe(true);
    };
    await step(100n, [1, 2, 3, 4], { start: true }, v1, '1');
    await step(200n, [4, 3, 2, 1], { start: true }, v1, '1');
    await step(100n, [1, 1, 1, 1], {}, v1, '1');

    // Version 2 appears (written aside, then renamed in, as a deployment would).
    const staging = mkdtempSync(path.join(t.root, 'acc', '.staging-'));
    writeFileSync(path.join(staging, 'model.onnx'), v2);
    renameSync(staging, path.join(t.root, 'acc', '2'));
    await waitUntil(() => versionOf('acc', 2)?.state === 'AVAILABLE', 'version 2 to become AVAILABLE');
    // Version 1 is retired but stays loaded while its sequences are open; the status says how many.
    await waitUntil(() => versionOf('acc', 1)?.state === 'UNLOADING', 'version 1 to be retired');
    expect(versionOf('acc', 1)!.sequences!.open).toBe(2);

    await step(300n, [5, 5, 5, 5], { start: true }, v2, '2');   // a new sequence starts on the new version
    await step(100n, [2, 2, 2, 2], {}, v1, '1');                // old ones go on where they started
    const pinnedElsewhere = await restStep(t.baseUrl, 'acc', [0, 0, 0, 0], [4], { id: 200n }, undefined, 2);
    expect(pinnedElsewhere.status).toBe(400);
    expect(pinnedElsewhere.json.error).toMatch(/runs on version 1, where it started; the request names version 2/);
    await step(100n, [3, 3, 3, 3], { end: true }, v1, '1');
    expect(versionOf('acc', 1)!.state).toBe('UNLOADING');
    await step(200n, [1, 0, 1, 0], { end: true }, v1, '1');
    await waitUntil(() => versionOf('acc', 1)?.state === 'END', 'version 1 to unload after its last sequence ended');
    await step(300n, [1, 1, 1, 1], { end: true }, v2, '2');
    expect(versionOf('acc', 2)!.sequences).toMatchObject({ open: 0, started: 1, ended: 1 });
  });
});
