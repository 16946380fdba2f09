// Weighted traffic between versions on a real server: shares, sticky routing keys on every protocol, the management
// API and its errors, weight changes and version removal under load, automatic and manual rollback, metrics.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { castModel, failingModel } from './support/models.mjs';
import { FlatBuffersHttpClient, FlatBuffersWsClient } from '../src/client/index.js';
import { grpc, grpcClients, unaryCall } from './support/grpc-client.js';
import { startTestServer, writeRepository, type TestServer } from './support/test-server.js';
import { mlpModel, mlpVersionOf, removeVersion, tempDir, waitUntil } from './support/registry-helpers.js';
import type { CreateServerOptions } from '../src/index.js';
import type { RegistryEvent } from '../src/registry/model-registry.js';

const TOKEN = 'traffic-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const ROW = [[1, 2, 3, 4]];
const servers: TestServer[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  while (cleanups.length > 0) cleanups.pop()!();
  while (servers.length > 0) await servers.pop()!.close();
});

/** A server whose model `m` serves every version in `versions` (policy all), with `extra` YAML lines in its config entry. */
async function serve(versions: Record<number, Uint8Array>, extra = '', options: CreateServerOptions = {}): Promise<TestServer & { base: string }> {
  const repo = writeRepository({ m: versions });
  const dir = tempDir('ortserve-traffic-');
  writeFileSync(path.join(dir, 'token'), TOKEN);
  const file = path.join(dir, 'models.yaml');
  const base = path.join(repo, 'm');
  writeFileSync(file, `model_config_list:\n  config:\n    - name: m\n      base_path: ${base}\n      model_version_policy: {all: {}}\n${extra}`);
  const t = await startTestServer({}, {
    modelConfigFile: file, modelBasePath: '', managementTokenFile: path.join(dir, 'token'),
    fileSystemPollWaitSeconds: 0.03, versionSettleSeconds: 0.05, ...options,
  });
  servers.push(t);
  return { ...t, base };
}

async function call(t: TestServer, method: string, url: string, body?: string, headers: Record<string, string> = AUTH) {
  const res = await fetch(t.baseUrl + url, { method, body, headers });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

/** The mlp version that answered a TF Serving REST predict (throws on any failure). */
async function restVersion(t: TestServer, headers: Record<string, string> = {}, url = '/v1/models/m:predict'): Promise<number> {
  const res = await fetch(t.baseUrl + url, { method: 'POST', body: JSON.stringify({ instances: ROW }), headers: { 'content-type': 'application/json', ...headers } });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`predict answered ${res.status}: ${JSON.stringify(json)}`);
  const version = mlpVersionOf(json.predictions, ROW);
  if (version === undefined) throw new Error(`predictions from no known version: ${JSON.stringify(json)}`);
  return version;
}

/** Runs fn(0..n-1) with `workers` in flight at a time; results in index order. */
async function drive<T>(n: number, workers: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  }));
  return out;
}

function tally(versions: number[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const v of versions) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

/** |count − np| within 5 standard deviations of Binomial(n, p): a false alarm has probability under 1e-6. */
function expectBinomial(count: number, n: number, p: number): void {
  const sigma = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(count - n * p), `count ${count} of ${n} for p = ${p} (5σ = ${(5 * sigma).toFixed(1)})`).toBeLessThanOrEqual(5 * sigma);
}

describe('weighted traffic', () => {
  it('PUT {"1": 90, "2": 10}: unkeyed requests split 90/10 and GET reports the shares the client measured', async () => {
    const t = await serve({ 1: mlpModel(1), 2: mlpModel(2) }, '', { trafficShareWindow: 5000 });
    expect(await restVersion(t)).toBe(2);   // no weights: the latest
    const put = await call(t, 'PUT', '/v1/management/models/m/traffic', '{"1": 90, "2": 10}');
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ model: 'm', source: 'api', weights: { 1: 90, 2: 10 }, effective: { 1: 90, 2: 10 }, baseline_version: '1' });
    const n = 2000;
    const counts = tally(await drive(n, 8, () => restVersion(t)));
    expect(counts.get(1)! + counts.get(2)!).toBe(n);
    expectBinomial(counts.get(2)!, n, 0.1);
    // Smooth weighted round-robin is exact: every cycle of 100 requests gives version 2 exactly 10.
    expect(counts.get(2)).toBe(200);
    const report = (await call(t, 'GET', '/v1/management/models/m/traffic')).json;
    expect(report.recent.requests).toBe(n);
    expect(report.recent.versions['1'].requests).toBe(counts.get(1));
    expect(report.recent.versions['2'].requests).toBe(counts.get(2));
    expect(report.recent.versions['2'].share).toBeCloseTo(counts.get(2)! / n, 10);
    // Requests that name a version are not routed by the weights.
    expect(await restVersion(t, {}, '/v1/models/m/versions/1:predict')).toBe(1);
    expect(await restVersion(t, {}, '/v1/models/m/versions/2:predict')).toBe(2);
    // DELETE removes the weights: the latest again.
    expect((await call(t, 'DELETE', '/v1/management/models/m/traffic')).json.weights).toBeNull();
    expect(tally(await drive(20, 4, () => restVersion(t)))).toEqual(new Map([[2, 20]]));
  }, 180_000);

  it('a routing key lands on one version on REST (header, KServe parameter), gRPC (metadata, KServe parameter) and FlatBuffers (route_key)', async () => {
    const t = await serve({ 1: mlpModel(1), 2: mlpModel(2) }, '      traffic: {"1": 70, "2": 30}\n');
    const c = grpcClients(t.grpcAddress);
    cleanups.push(() => c.close());
    const f32 = Buffer.from(new Float32Array(ROW[0]!).buffer);
    const kserveGrpc = async (key: string, asParameter: boolean) => {
      const metadata = new grpc.Metadata();
      if (!asParameter) metadata.set('x-ortserve-route-key', key);
      const request = {
        model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32],
        ...(asParameter ? { parameters: { route_key: { string_param: key } } } : {}),
      };
      const { error, response } = await unaryCall(c.kserve, 'ModelInfer', request, {}, metadata);
      if (error) throw error;
      return Number(response.model_version);
    };
    const tfGrpc = async (key: string) => {
      const metadata = new grpc.Metadata();
      metadata.set('x-ortserve-route-key', key);
      const { error, response } = await unaryCall(c.prediction, 'Predict', {
        model_spec: { name: 'm' }, inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 1 }, { size: 4 }] }, float_val: ROW[0] } },
      }, {}, metadata);
      if (error) throw error;
      return Number(response.model_spec.version.value);
    };
    const kserveRest = async (key: string) => {
      const body = { parameters: { route_key: key }, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: ROW[0] }] };
      const res = await fetch(`${t.baseUrl}/v2/models/m/infer`, { method: 'POST', body: JSON.stringify(body) });
      expect(res.status).toBe(200);
      return Number((await res.json()).model_version);
    };
    const fbHttp = new FlatBuffersHttpClient(t.baseUrl);
    const fbWs = await FlatBuffersWsClient.connect(`${t.baseUrl.replace('http', 'ws')}/v1/flatbuffers/ws`);
    cleanups.push(() => void fbHttp.close(), () => void fbWs.close());
    const x = { x: { dtype: 'float32' as const, shape: [1, 4], data: new Float32Array(ROW[0]!) } };
    const keys = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    for (const key of keys) {
      const seen = [
        await restVersion(t, { 'x-ortserve-route-key': key }), await restVersion(t, { 'x-ortserve-route-key': key }),
        await kserveRest(key), await kserveGrpc(key, false), await kserveGrpc(key, true), await tfGrpc(key),
        (await fbHttp.infer('m', x, { routeKey: key })).version, (await fbWs.infer('m', x, { routeKey: key })).version,
      ];
      expect(new Set(seen).size, `key ${key}: ${seen}`).toBe(1);
    }
    // A non-string route_key is refused naming the field.
    const bad = await fetch(`${t.baseUrl}/v2/models/m/infer`, { method: 'POST', body: JSON.stringify({ parameters: { route_key: 7 }, inputs: [] }) });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatch(/parameters\.route_key/);
  });

  it('keys spread by weight, and widening a version moves keys only towards it', async () => {
    const t = await serve({ 1: mlpModel(1), 2: mlpModel(2) }, '      traffic: {"1": 90, "2": 10}\n');
    const keys = Array.from({ length: 2000 }, (_, i) => `customer-${i * 7919}`);
    const route = (key: string) => restVersion(t, { 'x-ortserve-route-key': key });
    const before = await drive(keys.length, 8, (i) => route(keys[i]!));
    expectBinomial(before.filter((v) => v === 2).length, keys.length, 0.1);
    expect((await call(t, 'PUT', '/v1/management/models/m/traffic', '{"1": 50, "2": 50}')).status).toBe(200);
    const after = await drive(keys.length, 8, (i) => route(keys[i]!));
    expectBinomial(after.filter((v) => v === 2).length, keys.length, 0.5);
    // Every key on version 2 before stays there (rendezvous hashing); none moves from 2 to 1.
    expect(keys.filter((_, i) => before[i] === 2 && after[i] !== 2)).toEqual([]);
  }, 180_000);

  it('weights from the config file; a version leaving the policy leaves the table; no request fails while weights change', async () => {
    const t = await serve({ 1: mlpModel(1), 2: mlpModel(2), 3: mlpModel(3) }, '      traffic: {"1": 40, "2": 30, "3": 30}\n');
    expect((await call(t, 'GET', '/v1/management/models/m/traffic')).json).toMatchObject({ source: 'config', effective: { 1: 40, 2: 30, 3: 30 } });
    let stop = false;
    const seen: number[] = [];
    const failures: string[] = [];
    const load = Promise.all(Array.from({ length: 4 }, async (_, w) => {
      while (!stop) {
        try {
          seen.push(await restVersion(t, w % 2 === 0 ? {} : { 'x-ortserve-route-key': `k${seen.length}` }));
        } catch (err) {
          failures.push(String(err));
        }
      }
    }));
    const tables = ['{"1": 100}', '{"2": 1, "3": 1}', '{"1": 0, "3": 5}', '{"1": 1, "2": 1, "3": 1}'];
    for (const table of tables) {
      const mark = seen.length;
      expect((await call(t, 'PUT', '/v1/management/models/m/traffic', table)).status).toBe(200);
      await waitUntil(() => seen.length >= mark + 50, 'requests under the new weights');
    }
    // Version 3 leaves the policy (its directory goes): its share goes to 1 and 2, and nothing fails meanwhile.
    removeVersion(t.base, 3);
    await waitUntil(() => t.server.registry.status('m').find((v) => v.version === 3)?.state === 'END', 'version 3 unloaded');
    const report = (await call(t, 'GET', '/v1/management/models/m/traffic')).json;
    expect(report.weights).toEqual({ 1: 1, 2: 1, 3: 1 });
    expect(report.effective).toEqual({ 1: 1, 2: 1 });
    const mark = seen.length;
    await waitUntil(() => seen.length >= mark + 100, 'requests after version 3 left');
    stop = true;
    await load;
    expect(failures).toEqual([]);
    expect(seen.slice(mark + 8).filter((v) => v === 3)).toEqual([]);
    expect(new Set(seen.slice(mark + 8))).toEqual(new Set([1, 2]));
  });
});

describe('management API errors', () => {
  it('names the version or field; missing token is 401; a refused call changes nothing', async () => {
    const t = await serve({ 1: mlpModel(1), 2: mlpModel(2) }, '      traffic: {"1": 90, "2": 10}\n');
    const put = (body: string, headers?: Record<string, string>) => call(t, 'PUT', '/v1/management/models/m/traffic', body, headers);
    const cases: Array<[string, number, string, RegExp]> = [
      ['{"7": 10, "1": 90}', 404, 'ERR_MODEL_NOT_FOUND', /"7": model 'm' has no version 7/],
      ['{"1": -1, "2": 10}', 400, 'ERR_BAD_REQUEST', /"1": the weight must be an integer from 0 to 1000000 \(got -1\)/],
      ['{"1": 1.5}', 400, 'ERR_BAD_REQUEST', /"1": the weight must be an integer/],
      ['{"1": "90"}', 400, 'ERR_BAD_REQUEST', /"1": the weight must be an integer/],
      ['{"1": 0, "2": 0}', 400, 'ERR_BAD_REQUEST', /at least one version needs a positive weight/],
      ['{}', 400, 'ERR_BAD_REQUEST', /list at least one version/],
      ['{"one": 1}', 400, 'ERR_BAD_REQUEST', /"one": 'one' is not a version number/],
      ['[1, 2]', 400, 'ERR_BAD_REQUEST', /expected a JSON object/],
      ['', 400, 'ERR_BAD_REQUEST', /request body: required/],
      ['{"1": ', 400, 'ERR_JSON_SYNTAX', /./],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await put(body);
      expect(res.status, body).toBe(status);
      expect(res.json.code, body).toBe(code);
      expect(res.json.error, body).toMatch(message);
    }
    for (const headers of [{}, { authorization: 'Bearer not-the-token-at-all' }]) {
      expect((await put('{"1": 1}', headers)).status).toBe(401);
      expect((await call(t, 'GET', '/v1/management/models/m/traffic', undefined, headers)).json.code).toBe('ERR_UNAUTHENTICATED');
      expect((await call(t, 'POST', '/v1/management/models/m/traffic:rollback', '', headers)).status).toBe(401);
    }
    const unknownModel = await call(t, 'GET', '/v1/management/models/nope/traffic');
    expect([unknownModel.status, unknownModel.json.code]).toEqual([404, 'ERR_MODEL_NOT_FOUND']);
    expect((await call(t, 'POST', '/v1/management/models/m/traffic', '{"1": 1}')).status).toBe(405);
    expect((await call(t, 'POST', '/v1/management/models/m/traffic:promote', '{"version": "9"}')).json.error).toMatch(/version: model 'm' has no version 9/);
    expect((await call(t, 'POST', '/v1/management/models/m/traffic:rollback', '{"version": "1"}')).json.error).toMatch(/version: 1 is the baseline/);
    expect((await call(t, 'POST', '/v1/management/models/m/traffic:rollback', '{"release": "1"}')).json.error).toMatch(/unknown field "release"/);
    // Nothing changed.
    expect((await call(t, 'GET', '/v1/management/models/m/traffic')).json).toMatchObject({ source: 'config', weights: { 1: 90, 2: 10 }, rollbacks: [] });
  });

  it('refuses a version that is not AVAILABLE, naming it', async () => {
    const t = await serve({ 1: mlpModel(1), 2: mlpModel(2) });
    removeVersion(t.base, 2);
    await waitUntil(() => t.server.registry.status('m').find((v) => v.version === 2)?.state === 'END', 'version 2 unloaded');
    const res = await call(t, 'PUT', '/v1/management/models/m/traffic', '{"1": 50, "2": 50}');
    expect([res.status, res.json.code]).toEqual([400, 'ERR_BAD_REQUEST']);
    expect(res.json.error).toMatch(/"2": version 2 of model 'm' is END, not AVAILABLE/);
    expect((await call(t, 'GET', '/v1/management/models/m/traffic')).json.weights).toBeNull();
  });
});

describe('rollback', () => {
  const ROLLBACK = '      traffic: {"1": 50, "2": 50}\n      traffic_rollback: {max_error_percent: 20, window_requests: 20, min_requests: 10}\n';

  /** KServe REST infer of idx [7]: version 1 (Cast) answers 7, version 2 (Gather over 4 entries) fails. */
  async function inferOutOfRange(t: TestServer): Promise<{ ok: boolean; version?: number; code?: string }> {
    const body = { inputs: [{ name: 'idx', datatype: 'INT64', shape: [1], data: [7] }] };
    const res = await fetch(`${t.baseUrl}/v2/models/m/infer`, { method: 'POST', body: JSON.stringify(body) });
    const json = await res.json();
    if (res.status !== 200) return { ok: false, code: json.code };
    expect(json.outputs[0].data).toEqual([7]);
    return { ok: true, version: Number(json.model_version) };
  }

  it('a version failing on some inputs loses its weight; no request fails after the decision; GET and metrics say so', async () => {
    const t = await serve({ 1: castModel(), 2: failingModel() }, ROLLBACK);
    const events: RegistryEvent[] = [];
    t.server.registry.onEvent((e) => events.push(e));
    // Sequential: smooth round-robin alternates 1, 2, 1, 2...; each request to 2 fails, and the 10th failure (the
    // window's minimum, 100% > 20%) rolls 2 back before that request is answered.
    const sequential: Array<{ ok: boolean; version?: number; code?: string }> = [];
    for (let i = 0; i < 60; i++) sequential.push(await inferOutOfRange(t));
    const failed = sequential.filter((r) => !r.ok);
    expect(failed.length).toBe(10);
    expect(new Set(failed.map((r) => r.code))).toEqual(new Set(['ERR_INVALID_INPUT']));
    const lastFailure = sequential.findLastIndex((r) => !r.ok);
    expect(lastFailure).toBe(19);
    expect(sequential.slice(20).every((r) => r.ok && r.version === 1)).toBe(true);
    const rollbacks = events.filter((e) => e.type === 'traffic');
    expect(rollbacks).toMatchObject([{ model: 'm', version: 2, weight: 0, automatic: true }]);
    const report = (await call(t, 'GET', '/v1/management/models/m/traffic')).json;
    expect(report.weights).toEqual({ 1: 50, 2: 0 });
    expect(report.effective).toEqual({ 1: 50 });
    expect(report.rollbacks).toMatchObject([{ version: '2', automatic: true, reason: 'error rate 100.0% over the last 10 requests exceeds max_error_percent 20%' }]);
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toContain('ortserve_traffic_rollbacks_total{model="m",version="2"} 1');
    expect(metrics).toContain('ortserve_traffic_weight{model="m",version="1"} 50');
    expect(metrics).not.toContain('ortserve_traffic_weight{model="m",version="2"}');
  });

  it('under concurrent load: every request sent after the rollback decision succeeds', async () => {
    const t = await serve({ 1: castModel(), 2: failingModel() }, ROLLBACK);
    let decidedAt: number | undefined;
    t.server.registry.onEvent((e) => { if (e.type === 'traffic') decidedAt ??= e.at; });
    const results = await drive(300, 6, async () => {
      const sentAt = performance.now();
      return { sentAt, ...(await inferOutOfRange(t)) };
    });
    expect(decidedAt).toBeDefined();
    const after = results.filter((r) => r.sentAt > decidedAt!);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((r) => !r.ok)).toEqual([]);
    // Every request to version 2 fails: the verdict needs 10 of them (min_requests); at most the 5 others in flight
    // when it came can have been on version 2 too.
    const failures = results.filter((r) => !r.ok).length;
    expect(failures).toBeGreaterThanOrEqual(10);
    expect(failures).toBeLessThanOrEqual(10 + 5);
  });

  it(':rollback sets every non-baseline weight to 0; :promote gives a version all traffic and makes it the baseline', async () => {
    const t = await serve({ 1: mlpModel(1), 2: mlpModel(2) });
    expect((await call(t, 'POST', '/v1/management/models/m/traffic:rollback')).json.error).toMatch(/model 'm' has no traffic weights/);
    await call(t, 'PUT', '/v1/management/models/m/traffic', '{"1": 90, "2": 10}');
    const rolled = await call(t, 'POST', '/v1/management/models/m/traffic:rollback');
    expect(rolled.status).toBe(200);
    expect(rolled.json).toMatchObject({ weights: { 1: 90, 2: 0 }, rollbacks: [{ version: '2', automatic: false, reason: 'manual rollback through the management API' }] });
    expect(tally(await drive(20, 4, () => restVersion(t)))).toEqual(new Map([[1, 20]]));
    expect((await call(t, 'POST', '/v1/management/models/m/traffic:rollback')).json.error).toMatch(/nothing to roll back: only the baseline version 1 has weight/);
    const promoted = await call(t, 'POST', '/v1/management/models/m/traffic:promote', '{"version": "2"}');
    expect(promoted.json).toMatchObject({ weights: { 1: 0, 2: 100 }, effective: { 2: 100 }, baseline_version: '2', rollbacks: [] });
    expect(tally(await drive(20, 4, () => restVersion(t)))).toEqual(new Map([[2, 20]]));
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toContain('ortserve_traffic_rollbacks_total{model="m",version="2"} 1');
  });
});
