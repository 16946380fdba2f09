// Management REST API on a real server: off by default, bearer token, config reload, repository index/load/unload.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { corruptModelBytes } from './support/models.mjs';
import { getJson, postText, startTestServer, type TestServer } from './support/test-server.js';
import { mlpModel, mlpVersionOf, states, tempDir, writeVersion } from './support/registry-helpers.js';

const TOKEN = 'test-token-0123456789abcdef';
const servers: TestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()!.close();
});

function tokenFile(token = TOKEN): string {
  const file = path.join(tempDir('ortserve-token-'), 'token');
  writeFileSync(file, `${token}\n`);
  return file;
}

async function serve(options: Parameters<typeof startTestServer>[1] = {}, spec: Parameters<typeof startTestServer>[0] = { mlp: { 1: mlpModel(1) } }) {
  const t = await startTestServer(spec, { fileSystemPollWaitSeconds: 0.03, versionSettleSeconds: 0.1, ...options });
  servers.push(t);
  return t;
}

async function call(t: TestServer, method: string, url: string, body?: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) {
  const res = await fetch(t.baseUrl + url, { method, body, headers });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

const predictVersion = async (t: TestServer, model = 'mlp') => {
  const res = await postText(`${t.baseUrl}/v1/models/${model}:predict`, '{"instances": [[1, 2, 3, 4]]}');
  return res.status === 200 ? mlpVersionOf(res.json.predictions, [[1, 2, 3, 4]]) : res.status;
};

describe('access', () => {
  it('is off by default: the routes answer 404 saying how to turn it on', async () => {
    const t = await serve();
    for (const url of ['/v2/repository/index', '/v1/management/config:reload']) {
      const res = await call(t, 'POST', url, '{}');
      expect(res.status).toBe(404);
      expect(res.json.error).toMatch(/management API is off \(start ortserve with --management_token_file\)/);
    }
  });

  it('needs the bearer token: none or a wrong one is 401 and changes nothing', async () => {
    const t = await serve({ managementTokenFile: tokenFile() });
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
      const res = await call(t, 'POST', '/v2/repository/models/mlp/unload', '', headers);
      expect(res.status).toBe(401);
      expect(res.json.code).toBe('ERR_UNAUTHENTICATED');
    }
    expect(states(t.server.registry, 'mlp')).toEqual(['1:AVAILABLE']);
    expect((await call(t, 'POST', '/v2/repository/index')).status).toBe(200);
  });

  it('refuses to start with a short token or a missing token file, naming the flag', async () => {
    await expect(serve({ managementTokenFile: tokenFile('short') })).rejects.toThrow(/--management_token_file: the token .* at least 16 characters/);
    await expect(serve({ managementTokenFile: '/nonexistent/token' })).rejects.toThrow(/--management_token_file: cannot read '\/nonexistent\/token'/);
  });
});

describe('KServe repository extension', () => {
  it('index, unload (predict then 503), load again (predict works), ready filter', async () => {
    const t = await serve({ managementTokenFile: tokenFile() });
    expect((await call(t, 'POST', '/v2/repository/index')).json).toEqual([{ name: 'mlp', version: '1', state: 'READY', reason: '' }]);
    expect((await call(t, 'POST', '/v2/repository/models/mlp/unload')).status).toBe(200);
    expect(states(t.server.registry, 'mlp')).toEqual(['1:END']);
    expect(await predictVersion(t)).toBe(503);
    expect((await call(t, 'POST', '/v2/repository/index', '{"ready": false}')).json)
      .toEqual([{ name: 'mlp', version: '1', state: 'UNAVAILABLE', reason: 'unloaded through the management API' }]);
    expect((await call(t, 'POST', '/v2/repository/index', '{"ready": true}')).json).toEqual([]);
    // Polling does not bring an unloaded model back.
    await new Promise((r) => setTimeout(r, 100));
    expect(states(t.server.registry, 'mlp')).toEqual(['1:END']);
    const loaded = await call(t, 'POST', '/v2/repository/models/mlp/load', '');
    expect(loaded.status).toBe(200);
    expect(loaded.json.models[0].versions[0]).toMatchObject({ version: '1', state: 'AVAILABLE' });
    expect(await predictVersion(t)).toBe(1);
  });

  it('load with parameters.config adds a model; unknown models are 404; bad configs name the field', async () => {
    const t = await serve({ managementTokenFile: tokenFile() });
    const base = tempDir();
    writeVersion(base, 1, mlpModel(1));
    writeVersion(base, 2, mlpModel(2));
    const config = JSON.stringify({ base_path: base, model_version_policy: { all: {} }, version_labels: { stable: 1 } });
    const res = await call(t, 'POST', '/v2/repository/models/extra/load', JSON.stringify({ parameters: { config } }));
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(states(t.server.registry, 'extra')).toEqual(['2:AVAILABLE', '1:AVAILABLE']);
    expect(res.json.models[0].labels).toEqual({ stable: 1 });
    expect(await predictVersion(t, 'extra/labels/stable')).toBe(1);
    expect((await call(t, 'POST', '/v2/repository/models/nope/load')).json.code).toBe('ERR_MODEL_NOT_FOUND');
    const bad = await call(t, 'POST', '/v2/repository/models/extra/load', JSON.stringify({ parameters: { config: '{"base_path": "/x", "labels": {}}' } }));
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/^parameters\.config:1:21: config\.labels: unknown field/);
  });

  it('a load that leaves no version AVAILABLE fails with the load error', async () => {
    const t = await serve({ managementTokenFile: tokenFile() });
    const base = tempDir();
    writeVersion(base, 1, corruptModelBytes());
    const res = await call(t, 'POST', '/v2/repository/models/broken/load', JSON.stringify({ parameters: { config: { base_path: base } } }));
    expect(res.status).toBe(500);
    expect(res.json.code).toBe('ERR_MODEL_LOAD');
    expect(res.json.error).toMatch(/model 'broken' has no AVAILABLE version: loading model '.*1\/model\.onnx'/);
  });
});

describe('config reload', () => {
  it('applies a config sent in the body (text format or JSON); models left out are unloaded', async () => {
    const t = await serve({ managementTokenFile: tokenFile() }, { mlp: { 1: mlpModel(1), 2: mlpModel(2) }, other: { 1: mlpModel(7) } });
    const mlpBase = path.join(t.repository, 'mlp');
    const pbtxt = `model_config_list { config { name: "mlp" base_path: "${mlpBase}" model_version_policy { specific { versions: 1 } } } }`;
    const res = await call(t, 'POST', '/v1/management/config:reload', pbtxt);
    expect(res.status).toBe(200);
    expect(res.json.status).toEqual({ error_code: 'OK', error_message: '' });
    expect(await predictVersion(t)).toBe(1);
    expect(t.server.registry.modelNames()).toEqual(['mlp']);
    expect((await getJson(`${t.baseUrl}/v1/models/other`)).status).toBe(404);
    const json = JSON.stringify({ model_config_list: { config: [{ name: 'mlp', base_path: mlpBase }] } });
    expect((await call(t, 'POST', '/v1/management/config:reload', json, { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' })).status).toBe(200);
    expect(await predictVersion(t)).toBe(2);
  });

  it('a bad config is refused with its line and field, and nothing changes', async () => {
    const t = await serve({ managementTokenFile: tokenFile() });
    const res = await call(t, 'POST', '/v1/management/config:reload', 'model_config_list {\n config { name: "mlp" base_path: "/x" model_version_policy { newest {} } }\n}');
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: 'ERR_CONFIG' });
    expect(res.json.error).toMatch(/^request body:2:62: model_config_list\.config\[0\]\.model_version_policy\.newest: unknown field/);
    expect(states(t.server.registry, 'mlp')).toEqual(['1:AVAILABLE']);
  });

  it('an empty body re-reads --model_config_file (400 when there is none)', async () => {
    const plain = await serve({ managementTokenFile: tokenFile() });
    const none = await call(plain, 'POST', '/v1/management/config:reload');
    expect(none.status).toBe(400);
    expect(none.json.error).toMatch(/there is no --model_config_file to reload/);

    const repo = tempDir();
    writeVersion(path.join(repo, 'a'), 1, mlpModel(1));
    writeVersion(path.join(repo, 'b'), 1, mlpModel(2));
    const file = path.join(repo, 'models.yaml');
    writeFileSync(file, 'model_config_list:\n  config:\n    - {name: a, base_path: a}\n');
    const t = await serve({ managementTokenFile: tokenFile(), modelConfigFile: file });
    writeFileSync(file, 'model_config_list:\n  config:\n    - {name: b, base_path: b}\n');
    expect((await call(t, 'POST', '/v1/management/config:reload')).status).toBe(200);
    expect(t.server.registry.modelNames()).toEqual(['b']);
  });

  it('GET /v1/management/models reports versions with load failures and retry times; wrong methods are 405', async () => {
    const t = await serve({ managementTokenFile: tokenFile() }, { mlp: { 1: mlpModel(1), 2: corruptModelBytes() } });
    const res = await call(t, 'GET', '/v1/management/models');
    const [v2, v1] = res.json.models[0].versions;
    expect(v1).toMatchObject({ version: '1', state: 'AVAILABLE', load_failures: 0, in_flight: 0 });
    expect(v2).toMatchObject({ version: '2', state: 'END', load_failures: 1 });
    expect(v2.next_retry_in_ms).toBeGreaterThan(0);
    expect(v2.status.error_message).toMatch(/load attempt 1 of 6 failed/);
    expect((await call(t, 'GET', '/v1/management/config:reload')).status).toBe(405);
    expect((await call(t, 'POST', '/v2/repository/nothing')).status).toBe(404);
  });
});
