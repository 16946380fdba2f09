// Hot reload on a real server under load: 20 successive versions with zero failed requests, half-written and corrupt
// versions, deleting the newest, and config-file reloads (models added and removed, labels over REST).

import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RegistryEvent } from '../src/registry/model-registry.js';
import { corruptModelBytes } from './support/models.mjs';
import { getJson, postText, startTestServer, type TestServer } from './support/test-server.js';
import { mlpModel, mlpVersionOf, removeVersion, states, tempDir, waitUntil, writeVersion } from './support/registry-helpers.js';

// Short polls keep the suite fast; nothing below asserts how fast anything is.
const FAST = { fileSystemPollWaitSeconds: 0.03, versionSettleSeconds: 0.15 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const servers: TestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()!.close();
});

async function serve(spec: Parameters<typeof startTestServer>[0], options: Parameters<typeof startTestServer>[1] = {}) {
  const t = await startTestServer(spec, { ...FAST, ...options });
  servers.push(t);
  return t;
}

interface Outcome {
  status: number;
  version: number | undefined;
  start: number;
  end: number;
  error?: string;
}

/**
 * `clients` loops that each send random 2-row :predict requests until stopped, recording which version answered
 * (recognised from the outputs, which differ per version) and when the request started and ended.
 */
function loadGenerator(baseUrl: string, clients: number) {
  const outcomes: Outcome[] = [];
  let running = true;
  const loop = async () => {
    while (running) {
      const rows = [0, 1].map(() => [0, 1, 2, 3].map(() => Math.round(Math.random() * 8 - 4)));
      const start = performance.now();
      try {
        const res = await postText(`${baseUrl}/v1/models/mlp:predict`, JSON.stringify({ instances: rows }));
        const end = performance.now();
        outcomes.push({ status: res.status, version: mlpVersionOf(res.json?.predictions, rows), start, end, ...(res.status !== 200 ? { error: res.text } : {}) });
      } catch (err) {
        outcomes.push({ status: 0, version: undefined, start, end: performance.now(), error: String(err) });
      }
    }
  };
  const loops = Array.from({ length: clients }, loop);
  return { outcomes, stop: async () => { running = false; await Promise.all(loops); } };
}

/** Records when each version of `model` was AVAILABLE: [became AVAILABLE, left AVAILABLE). */
function availabilityWindows(t: TestServer, model: string) {
  const windows = new Map<number, { from: number; to: number }>();
  for (const v of t.server.registry.status(model)) if (v.state === 'AVAILABLE') windows.set(v.version, { from: 0, to: Infinity });
  t.server.registry.onEvent((e: RegistryEvent) => {
    if (e.type !== 'version' || e.model !== model) return;
    if (e.state === 'AVAILABLE') windows.set(e.version, { from: e.at, to: Infinity });
    else if (e.previous === 'AVAILABLE') windows.get(e.version)!.to = e.at;
  });
  return windows;
}

function expectAllServedByAvailable(outcomes: Outcome[], windows: Map<number, { from: number; to: number }>): void {
  const failed = outcomes.filter((o) => o.status !== 200 || o.version === undefined);
  expect(failed, JSON.stringify(failed.slice(0, 3))).toEqual([]);
  for (const o of outcomes) {
    const w = windows.get(o.version!);
    // The version that answered was AVAILABLE at some moment while the request was in flight (when it was routed).
    expect(w !== undefined && w.from <= o.end && w.to >= o.start, `version ${o.version} answered a request ${o.start}..${o.end} outside ${JSON.stringify(w)}`).toBe(true);
  }
}

describe('hot reload under continuous load', () => {
  it('20 successive versions: zero failed requests, each answered by an AVAILABLE version, old ones unloaded', async () => {
    const t = await serve({ mlp: { 1: mlpModel(1) } });
    const base = path.join(t.repository, 'mlp');
    const windows = availabilityWindows(t, 'mlp');
    const ended: number[] = [];
    t.server.registry.onEvent((e) => { if (e.type === 'version' && e.state === 'END' && e.previous === 'UNLOADING') ended.push(e.version); });
    const load = loadGenerator(t.baseUrl, 4);
    for (let v = 2; v <= 21; v++) {
      writeVersion(base, v, mlpModel(v));   // written in place: taken once it settled
      await waitUntil(() => load.outcomes.some((o) => o.version === v), `version ${v} answers`);
    }
    await load.stop();
    expectAllServedByAvailable(load.outcomes, windows);
    const answered = new Set(load.outcomes.map((o) => o.version));
    expect([...answered].sort((a, b) => a! - b!)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    await waitUntil(() => ended.length === 20, 'versions 1..20 unloaded');
    expect(ended.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const status = t.server.registry.status('mlp');
    expect(status[0]).toMatchObject({ version: 21, state: 'AVAILABLE' });
    for (const v of status.slice(1)) expect(v).toMatchObject({ state: 'END', session: undefined, inFlight: 0 });
    console.log(`hot reload: ${load.outcomes.length} requests over 20 swaps, 0 failed; answered by versions 1..21`);
  }, 120_000);

  it('a half-written model file is not loaded until it is complete', async () => {
    const t = await serve({ mlp: { 1: mlpModel(1) } }, { versionSettleSeconds: 0.5 });
    const base = path.join(t.repository, 'mlp');
    const touched: string[] = [];
    t.server.registry.onEvent((e) => { if (e.type === 'version' && e.version === 2) touched.push(e.state); });
    const bytes = mlpModel(2);
    mkdirSync(path.join(base, '2'));
    const fd = openSync(path.join(base, '2', 'model.onnx'), 'w');
    // A slow copy: ten chunks 100 ms apart, each gap shorter than the settle time.
    const chunk = Math.ceil(bytes.length / 10);
    for (let i = 0; i < bytes.length; i += chunk) {
      writeSync(fd, bytes, i, Math.min(chunk, bytes.length - i));
      await sleep(100);
      expect(touched, `after ${i + chunk} of ${bytes.length} bytes`).toEqual([]);
      expect(states(t.server.registry, 'mlp')).toEqual(['1:AVAILABLE']);
    }
    closeSync(fd);
    await waitUntil(() => states(t.server.registry, 'mlp').join() === '2:AVAILABLE,1:END', 'version 2 serves');
    expect(touched).toEqual(['START', 'LOADING', 'AVAILABLE']);   // one load, never a failed attempt
  });

  it('a corrupt new version leaves the previous one serving; its repaired files then load', async () => {
    const t = await serve({ mlp: { 1: mlpModel(1) } });
    const base = path.join(t.repository, 'mlp');
    const windows = availabilityWindows(t, 'mlp');
    const load = loadGenerator(t.baseUrl, 3);
    writeVersion(base, 2, corruptModelBytes());
    await waitUntil(() => states(t.server.registry, 'mlp').includes('2:END'), 'version 2 failed');
    const { json } = await getJson(`${t.baseUrl}/v1/models/mlp`);
    expect(json.model_version_status.map((s: any) => [s.version, s.state, s.status.error_code])).toEqual([['2', 'END', 'INTERNAL'], ['1', 'AVAILABLE', 'OK']]);
    expect(json.model_version_status[0].status.error_message).toMatch(/'2\/model\.onnx'.*load attempt 1 of 6 failed; next attempt in 60 s/);
    const before = load.outcomes.length;
    await waitUntil(() => load.outcomes.length > before + 20, 'more requests served');
    writeVersion(base, 2, mlpModel(2));   // repaired: new files, so it is tried again at once
    await waitUntil(() => load.outcomes.some((o) => o.version === 2), 'version 2 answers');
    await load.stop();
    expectAllServedByAvailable(load.outcomes, windows);
  });

  it('deleting the newest version falls back to the previous one under latest, without a failed request', async () => {
    const t = await serve({ mlp: { 1: mlpModel(1), 2: mlpModel(2) } });
    const base = path.join(t.repository, 'mlp');
    expect(states(t.server.registry, 'mlp')).toEqual(['2:AVAILABLE']);
    const windows = availabilityWindows(t, 'mlp');
    const load = loadGenerator(t.baseUrl, 3);
    await waitUntil(() => load.outcomes.some((o) => o.version === 2), 'version 2 answers');
    removeVersion(base, 2);
    await waitUntil(() => load.outcomes.some((o) => o.version === 1), 'version 1 answers');
    await load.stop();
    expectAllServedByAvailable(load.outcomes, windows);
    await waitUntil(() => states(t.server.registry, 'mlp').join() === '2:END,1:AVAILABLE', 'version 2 unloaded');
  });

  it('a new model directory in a repository is served without a restart', async () => {
    const t = await serve({ mlp: { 1: mlpModel(1) } });
    writeVersion(path.join(t.repository, 'other'), 3, mlpModel(3));
    await waitUntil(() => t.server.registry.modelNames().includes('other'), 'model "other" appears');
    await waitUntil(() => states(t.server.registry, 'other').join() === '3:AVAILABLE', 'other serves');
  });
});

describe('config file hot reload', () => {
  it('adds and removes models, moves labels (REST /labels/ paths), and ignores a broken file', async () => {
    const repo = tempDir();
    for (const v of [1, 2]) writeVersion(path.join(repo, 'mlp'), v, mlpModel(v));
    writeVersion(path.join(repo, 'other'), 1, mlpModel(5));
    const file = path.join(repo, 'models.config');
    const write = (body: string) => writeFileSync(file, `model_config_list {\n${body}\n}\n`);
    const mlp = (labels: string) => `config { name: "mlp" base_path: "mlp" model_version_policy { all {} } ${labels} }`;
    write(mlp('version_labels { key: "stable" value: 1 }'));
    const t = await serve({}, { modelConfigFile: file, modelConfigFilePollWaitSeconds: 0.03, modelBasePath: '' });
    const events: RegistryEvent[] = [];
    t.server.registry.onEvent((e) => events.push(e));
    const predictLabel = async (label: string) =>
      mlpVersionOf((await postText(`${t.baseUrl}/v1/models/mlp/labels/${label}:predict`, '{"instances": [[1, 2, 3, 4]]}')).json.predictions, [[1, 2, 3, 4]]);
    expect(await predictLabel('stable')).toBe(1);
    expect((await getJson(`${t.baseUrl}/v1/models/mlp/labels/stable`)).json.model_version_status[0].version).toBe('1');
    expect((await getJson(`${t.baseUrl}/v1/models/mlp/labels/stable/metadata`)).json.model_spec.version).toBe('1');
    expect((await getJson(`${t.baseUrl}/v1/models/mlp/labels/nope`)).status).toBe(404);

    write(`${mlp('version_labels { key: "stable" value: 2 }')}\nconfig { name: "other" base_path: "${path.join(repo, 'other')}" }`);
    await waitUntil(() => t.server.registry.modelNames().includes('other') && t.server.registry.labels('mlp').get('stable') === 2, 'config applied');
    expect(await predictLabel('stable')).toBe(2);
    await waitUntil(() => states(t.server.registry, 'other').join() === '1:AVAILABLE', 'other serves');

    write('config { name: "other" base_path: "other" }\nconfig { name: "broken" base_path: ');
    await waitUntil(() => events.some((e) => e.type === 'config' && !e.ok), 'the broken file is reported');
    const rejected = events.find((e) => e.type === 'config' && !e.ok);
    expect(rejected!.type === 'config' && rejected!.error).toMatch(/^models\.config:4:1: model_config_list\.config\[1\]\.base_path: expected a value/);
    expect(t.server.registry.modelNames().sort()).toEqual(['mlp', 'other']);   // unchanged

    write('config { name: "other" base_path: "other" }');
    await waitUntil(() => !t.server.registry.modelNames().includes('mlp'), 'mlp removed');
    await waitUntil(() => t.server.registry.describe().every((m) => m.name !== 'mlp'), 'mlp drained');
    expect((await getJson(`${t.baseUrl}/v1/models/mlp`)).status).toBe(404);
    rmSync(repo, { recursive: true, force: true });
  });
});
