// Version policies, labels, swap policies, handles, retries and warmup, on the registry over a temporary repository.

import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ModelRegistry, VersionSelector } from '../src/registry/model-registry.js';
import { corruptModelBytes, fixedBatchModel } from './support/models.mjs';
import {
  MLP_ROWS, mlpModel, mlpVersionOf, modelConfig, states, tempDir, testRegistry, waitUntil, writeVersion,
} from './support/registry-helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

/** A repository with mlp versions `versions` and a registry (closed after the test). */
function setup(versions: number[], settings?: Parameters<typeof testRegistry>[0]) {
  const base = tempDir();
  for (const v of versions) writeVersion(base, v, mlpModel(v));
  const { registry, events } = testRegistry(settings);
  cleanups.push(() => {
    registry.close();
    rmSync(base, { recursive: true, force: true });
  });
  return { base, registry, events };
}

/** Runs MLP_ROWS through the version `selector` names; returns the version that answered, checked against its output. */
async function answeredBy(registry: ModelRegistry, selector: VersionSelector = {}): Promise<number> {
  return registry.use('mlp', selector, async (v) => {
    const out = await v.session.run(new Map([['x', { dtype: 'float32', shape: [2, 4], data: Float32Array.from(MLP_ROWS.flat()) }]]));
    const scores = out.get('scores')!.data as Float32Array;
    const rows = [Array.from(scores.subarray(0, 3)), Array.from(scores.subarray(3, 6))];
    expect(mlpVersionOf(rows, MLP_ROWS)).toBe(v.version);
    return v.version;
  });
}

describe('version policies', () => {
  it('latest{2} loads the two newest; latest (no selector) answers from the newest', async () => {
    const { base, registry } = setup([1, 2, 3]);
    await registry.applyConfig({ models: [modelConfig('mlp', base, { versionPolicy: { kind: 'latest', numVersions: 2 } })] }, { initial: true });
    expect(states(registry, 'mlp')).toEqual(['3:AVAILABLE', '2:AVAILABLE']);
    expect(await answeredBy(registry)).toBe(3);
    expect(await answeredBy(registry, { version: 2 })).toBe(2);
    expect(() => registry.resolve('mlp', { version: 1 })).toThrow(/Servable not found for request: Specific\(mlp, 1\)/);
  });

  it('all loads every version; specific loads exactly those listed that exist', async () => {
    const { base, registry } = setup([1, 2, 3]);
    await registry.applyConfig({ models: [modelConfig('mlp', base, { versionPolicy: { kind: 'all' } })] }, { initial: true });
    expect(states(registry, 'mlp')).toEqual(['3:AVAILABLE', '2:AVAILABLE', '1:AVAILABLE']);
    await registry.applyConfig({ models: [modelConfig('mlp', base, { versionPolicy: { kind: 'specific', versions: [7, 3, 1] } })] });
    await waitUntil(() => states(registry, 'mlp').join() === '3:AVAILABLE,2:END,1:AVAILABLE', 'version 2 is unloaded');
    expect(await answeredBy(registry, { version: 1 })).toBe(1);
    expect(await answeredBy(registry)).toBe(3);
  });

  it('a policy change in the config applies without a restart (all → latest{1})', async () => {
    const { base, registry } = setup([1, 2]);
    await registry.applyConfig({ models: [modelConfig('mlp', base, { versionPolicy: { kind: 'all' } })] }, { initial: true });
    await registry.applyConfig({ models: [modelConfig('mlp', base)] });
    await waitUntil(() => states(registry, 'mlp').join() === '2:AVAILABLE,1:END', 'version 1 is unloaded');
  });

  it('new, deleted and repaired versions are picked up by refresh()', async () => {
    const { base, registry } = setup([1]);
    await registry.applyConfig({ models: [modelConfig('mlp', base)] }, { initial: true });
    writeVersion(base, 2, mlpModel(2));
    await registry.refresh();
    await waitUntil(() => states(registry, 'mlp').join() === '2:AVAILABLE,1:END', 'version 2 replaced version 1');
    rmSync(path.join(base, '2'), { recursive: true });
    await registry.refresh();
    await waitUntil(() => states(registry, 'mlp').join() === '2:END,1:AVAILABLE', 'version 1 is back');
    expect(await answeredBy(registry)).toBe(1);
  });
});

describe('labels', () => {
  const labelled = (base: string, labels: Record<string, number>) =>
    modelConfig('mlp', base, { versionLabels: new Map(Object.entries(labels)) });

  it('a label loads and pins its version even outside the policy, and requests by label reach it', async () => {
    const { base, registry } = setup([1, 2, 3]);
    await registry.applyConfig({ models: [labelled(base, { stable: 1, canary: 3 })] }, { initial: true });
    expect(states(registry, 'mlp')).toEqual(['3:AVAILABLE', '1:AVAILABLE']);
    expect(Object.fromEntries(registry.labels('mlp'))).toEqual({ stable: 1, canary: 3 });
    expect(await answeredBy(registry, { label: 'stable' })).toBe(1);
    expect(await answeredBy(registry, { label: 'canary' })).toBe(3);
    expect(registry.status('mlp', { label: 'stable' }).map((v) => v.version)).toEqual([1]);
    expect(() => registry.resolve('mlp', { label: 'beta' })).toThrow(/Label\(mlp, beta\) \(no such label\)/);
  });

  it('a label moves only to an AVAILABLE version: it waits for a load, and stays put when the load fails', async () => {
    const { base, registry, events } = setup([1, 2]);
    await registry.applyConfig({ models: [labelled(base, { canary: 2 })] }, { initial: true });
    // Version 4 does not exist yet: the label stays on 2 and keeps serving.
    await registry.applyConfig({ models: [labelled(base, { canary: 4 })] });
    expect(registry.labels('mlp').get('canary')).toBe(2);
    expect(await answeredBy(registry, { label: 'canary' })).toBe(2);
    writeVersion(base, 4, mlpModel(4));
    await registry.refresh();
    await waitUntil(() => registry.labels('mlp').get('canary') === 4, 'canary moved to 4');
    const moves = events.filter((e) => e.type === 'label').map((e) => e.type === 'label' && `${e.label}:${e.previous}->${e.version}`);
    expect(moves).toEqual(['canary:undefined->2', 'canary:2->4']);
    const available = events.findIndex((e) => e.type === 'version' && e.version === 4 && e.state === 'AVAILABLE');
    expect(available).toBeLessThan(events.findIndex((e) => e.type === 'label' && e.version === 4));
    // A corrupt version 5 never gets the label.
    writeVersion(base, 5, corruptModelBytes());
    await registry.applyConfig({ models: [labelled(base, { canary: 5 })] });
    await registry.refresh();
    await waitUntil(() => registry.status('mlp', { version: 5 })[0]!.state === 'END', 'version 5 failed');
    expect(registry.labels('mlp').get('canary')).toBe(4);
    expect(await answeredBy(registry, { label: 'canary' })).toBe(4);
  });

  it('a label whose version never loaded is unavailable (503), and removing it from the config drops it', async () => {
    const { base, registry } = setup([1]);
    await registry.applyConfig({ models: [labelled(base, { stable: 1, next: 9 })] }, { initial: true });
    expect(() => registry.resolve('mlp', { label: 'next' })).toThrow(/version 9, which is not loaded/);
    await registry.applyConfig({ models: [labelled(base, {})] });
    expect([...registry.labels('mlp').keys()]).toEqual([]);
  });
});

describe('swaps and handles', () => {
  it('a handle keeps a replaced version loaded (UNLOADING) until released; then its session is released', async () => {
    const { base, registry } = setup([1]);
    await registry.applyConfig({ models: [modelConfig('mlp', base)] }, { initial: true });
    const handle = registry.acquire('mlp');
    writeVersion(base, 2, mlpModel(2));
    await registry.refresh();
    await waitUntil(() => states(registry, 'mlp').join() === '2:AVAILABLE,1:UNLOADING', 'version 1 is draining');
    const x = new Map([['x', { dtype: 'float32' as const, shape: [1, 4], data: new Float32Array(4) }]]);
    await expect(handle.version.session.run(x)).resolves.toBeInstanceOf(Map);   // still usable while held
    expect(await answeredBy(registry)).toBe(2);                                   // new requests go to 2
    const session = handle.version.session;
    handle.release();
    handle.release();   // idempotent
    expect(states(registry, 'mlp')).toEqual(['2:AVAILABLE', '1:END']);
    await expect(session.run(x)).rejects.toThrow(/unloaded/);
  });

  it('availability_preserving: the new version is AVAILABLE before the old one starts unloading', async () => {
    const { base, registry, events } = setup([1]);
    await registry.applyConfig({ models: [modelConfig('mlp', base)] }, { initial: true });
    writeVersion(base, 2, mlpModel(2));
    await registry.refresh();
    await waitUntil(() => states(registry, 'mlp').join() === '2:AVAILABLE,1:END', 'swap done');
    const order = events.filter((e) => e.type === 'version').map((e) => e.type === 'version' && `${e.version}:${e.state}`);
    expect(order.slice(order.indexOf('2:START'))).toEqual(['2:START', '2:LOADING', '2:AVAILABLE', '1:UNLOADING', '1:END']);
  });

  it('resource_preserving: the old version is unloaded before the new one loads', async () => {
    const { base, registry, events } = setup([1], { swapPolicy: 'resource_preserving' });
    await registry.applyConfig({ models: [modelConfig('mlp', base)] }, { initial: true });
    writeVersion(base, 2, mlpModel(2));
    await registry.refresh();
    await waitUntil(() => states(registry, 'mlp').join() === '2:AVAILABLE,1:END', 'swap done');
    const order = events.filter((e) => e.type === 'version').map((e) => e.type === 'version' && `${e.version}:${e.state}`);
    expect(order.slice(order.indexOf('2:START'))).toEqual(['2:START', '1:UNLOADING', '1:END', '2:LOADING', '2:AVAILABLE']);
  });
});

describe('failed loads', () => {
  it('END with the error and attempt count, retried with backoff, given up, then repaired when the files change', async () => {
    const { base, registry, events } = setup([1], { maxLoadRetries: 2, loadRetryIntervalMs: 30 });
    writeVersion(base, 2, corruptModelBytes());
    await registry.applyConfig({ models: [modelConfig('mlp', base)] }, { initial: true });
    // The corrupt newest version is retried while the one below it serves.
    expect(registry.status('mlp').map((v) => v.version)).toEqual([2, 1]);
    expect(await answeredBy(registry)).toBe(1);
    const failedAt = () => events.filter((e) => e.type === 'version' && e.version === 2 && e.state === 'END').map((e) => e.at);
    await waitUntil(() => failedAt().length === 3, 'three attempts failed');
    const v2 = registry.status('mlp', { version: 2 })[0]!;
    expect(v2.error!.code).toBe('ERR_MODEL_LOAD');
    expect(v2.error!.message).toMatch(/2\/model\.onnx.*gave up after 3 attempts/);
    expect(v2.loadFailures).toBe(3);
    const [a, b, c] = failedAt();
    expect(c! - b!).toBeGreaterThan(b! - a! - 5);  // the wait doubles (30 ms, then 60 ms), less timer jitter
    expect(events.some((e) => e.type === 'version' && e.version === 2 && /load attempt 1 of 3 failed; next attempt in 30 ms/.test(e.error?.message ?? ''))).toBe(true);
    writeVersion(base, 2, mlpModel(2));
    await registry.refresh();
    await waitUntil(() => states(registry, 'mlp').join() === '2:AVAILABLE,1:END', 'the repaired version 2 serves');
    expect(await answeredBy(registry)).toBe(2);
  });

  it('a wall clock that steps back does not stall load retries (the retry timer decides, not Date.now())', async () => {
    const { base, registry, events } = setup([1], { maxLoadRetries: 2, loadRetryIntervalMs: 30 });
    writeVersion(base, 2, corruptModelBytes());
    const realNow = Date.now.bind(Date);
    try {
      await registry.applyConfig({ models: [modelConfig('mlp', base)] }, { initial: true });
      // After the first failure the clock steps back 10 s: a retry due at "now + 30 ms" reads as 10 s away.
      vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 10_000);
      const failures = () => events.filter((e) => e.type === 'version' && e.version === 2 && e.state === 'END').length;
      await waitUntil(() => failures() === 3, 'three attempts failed despite the clock step', 5_000);
      expect(registry.status('mlp', { version: 2 })[0]!.loadFailures).toBe(3);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('a model with a fixed batch dimension fails to load when batching is configured, naming the input', async () => {
    const base = tempDir();
    writeVersion(base, 1, fixedBatchModel());
    const { registry } = testRegistry();
    cleanups.push(() => registry.close());
    const batching = { maxBatchSize: 8, allowedBatchSizes: [], preferredBatchSizes: [], padVariableLengthInputs: false };
    await registry.applyConfig({ models: [modelConfig('fixed', base, { batching })] }, { initial: true });
    const [v] = registry.status('fixed');
    expect(v!.state).toBe('END');
    // The engine refuses it (a batch is stacked along dim 0), so the version is END with that reason.
    expect(v!.error!.message).toMatch(/input 'x'.*(dim 0|first)/);
  });
});

describe('warmup', () => {
  it('replays warmup.json before AVAILABLE (iterations × repeat runs), and reports it', async () => {
    const base = tempDir();
    writeVersion(base, 1, mlpModel(1), {
      ortserve_warmup: 1,
      requests: [{ predict: { instances: [[1, 2, 3, 4]] }, repeat: 2 }, { predict: { inputs: { x: [[0, 0, 0, 0], [1, 1, 1, 1]] } } }],
    });
    const { registry } = testRegistry({ warmupIterations: 3 });
    cleanups.push(() => registry.close());
    await registry.applyConfig({ models: [modelConfig('mlp', base)] }, { initial: true });
    const [v] = registry.status('mlp');
    expect(v!.state).toBe('AVAILABLE');
    expect(v!.warmup).toMatchObject({ requests: 2, runs: 9 });
  });

  it.each([
    ['{"ortserve_warmup": 1, "requests": [{"predict": {"instances": [[1, 2, 3]]}}]}', /warmup\.json: requests\[0\]\.predict: .*shape/],
    ['{"ortserve_warmup": 1, "requests": [{"predict": {"inputs": {"y": [[1, 2, 3, 4]]}}}]}', /warmup\.json: requests\[0\]\.predict: .*unknown input "y"/],
    ['{"ortserve_warmup": 2, "requests": []}', /warmup\.json: ortserve_warmup: expected 1/],
    ['{"ortserve_warmup": 1, "requests": [{"predict": {"instances": [[1, 2, 3, 4]]}, "repeat": 0}]}', /requests\[0\]\.repeat: expected an integer from 1 to 1000/],
    ['{"ortserve_warmup": 1, "requests": [{"predict": {}, "extra": 1}]}', /requests\[0\]: unknown field "extra"/],
    ['{"ortserve_warmup": 1, "requests": [', /warmup\.json: not valid JSON/],
  ])('a bad warmup file fails the load, naming the field: %s', async (text, message) => {
    const base = tempDir();
    writeVersion(base, 1, mlpModel(1), text);
    const { registry } = testRegistry();
    cleanups.push(() => registry.close());
    await registry.applyConfig({ models: [modelConfig('mlp', base)] }, { initial: true });
    const [v] = registry.status('mlp');
    expect(v!.state).toBe('END');
    expect(v!.error!.message).toMatch(message);
  });

  it('warmup_iterations: 0 in the model config skips the file', async () => {
    const base = tempDir();
    writeVersion(base, 1, mlpModel(1));
    writeFileSync(path.join(base, '1', 'warmup.json'), 'not json');
    const { registry } = testRegistry();
    cleanups.push(() => registry.close());
    await registry.applyConfig({ models: [modelConfig('mlp', base, { warmupIterations: 0 })] }, { initial: true });
    expect(states(registry, 'mlp')).toEqual(['1:AVAILABLE']);
  });
});

describe('settling', () => {
  it('a new directory is taken only once its files have not changed for the settle time', async () => {
    const { base, registry } = setup([1], { settleSeconds: 0.3 });
    await registry.applyConfig({ models: [modelConfig('mlp', base)] }, { initial: true });
    writeVersion(base, 2, mlpModel(2));
    await registry.refresh();
    expect(registry.describe()[0]!.settling).toEqual([2]);
    expect(states(registry, 'mlp')).toEqual(['1:AVAILABLE']);
    await new Promise((r) => setTimeout(r, 350));
    await registry.refresh();
    await waitUntil(() => states(registry, 'mlp').join() === '2:AVAILABLE,1:END', 'version 2 taken after settling');
  });
});
