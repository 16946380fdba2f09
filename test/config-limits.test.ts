// Configs are bounded before the work they cause: a YAML alias bomb, deep nesting and oversized bodies are refused
// promptly with a clear error, the server keeps serving, and the served models do not change (issue 17, row 2).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { parseModelServerConfig } from '../src/config/model-config.js';
import { grpc, grpcClients, unaryCall } from './support/grpc-client.js';
import { closeTo, mlpReference } from './support/reference.js';
import { mlpModel, tempDir } from './support/registry-helpers.js';
import { startTestServer, writeRepository, type TestServer } from './support/test-server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOKEN = 'config-limits-token-0123456789';
/** The children get a small heap: if a bomb still expands, the child aborts in seconds and the test fails, bounded. */
const CHILD_HEAP = '--max-old-space-size=256';
const ROWS = [[1, 2, 3, 4], [-1.5, 0.25, 2, -3]];

/** The billion-laughs shape in 324 bytes: nine levels, each a list of nine aliases of the level below (9^9 leaves). */
function aliasBomb(): string {
  const names = 'abcdefghi';
  let text = `a: &a [${Array(9).fill('lol').join(',')}]\n`;
  for (let i = 1; i < 9; i++) text += `${names[i]}: &${names[i]} [${Array(9).fill(`*${names[i - 1]}`).join(',')}]\n`;
  return text;
}

function tokenFile(): string {
  const file = path.join(tempDir('ortserve-token-'), 'token');
  writeFileSync(file, `${TOKEN}\n`);
  return file;
}

const children: ChildProcess[] = [];
const servers: TestServer[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  while (servers.length > 0) await servers.pop()!.close();
});

/** A real ortserve in a child process with a capped heap; resolves with its REST base URL once it serves. */
async function startChildServer(options: Record<string, unknown>): Promise<{ baseUrl: string; grpcAddress: string }> {
  const child = spawn(process.execPath, [CHILD_HEAP, path.join(root, 'test/support/config-server-child.mjs'), root, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const [line] = (await Promise.race([
    once(createInterface({ input: child.stdout! }), 'line'),
    once(child, 'exit').then(([code]) => { throw new Error(`the server child exited (${code}) before serving`); }),
  ])) as [string];
  const ports = JSON.parse(line) as { restPort: number; grpcPort: number };
  return { baseUrl: `http://127.0.0.1:${ports.restPort}`, grpcAddress: `127.0.0.1:${ports.grpcPort}` };
}

/** A TF Serving REST predict on a connection of its own (agent: false), so it cannot queue behind another request. */
function predictOnNewConnection(baseUrl: string, model: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${baseUrl}/v1/models/${model}:predict`, { method: 'POST', agent: false, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    });
    req.on('timeout', () => req.destroy(new Error('predict timed out')));
    req.on('error', reject);
    req.end(JSON.stringify({ instances: ROWS }));
  });
}

async function management(baseUrl: string, method: string, url: string, body?: string | Buffer, contentType = 'application/yaml') {
  const res = await fetch(baseUrl + url, {
    method, body, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': contentType }, signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

/** name → "version:state" of every model, from the management API. */
async function modelSet(baseUrl: string): Promise<Record<string, string[]>> {
  const { json } = await management(baseUrl, 'GET', '/v1/management/models');
  return Object.fromEntries(json.models.map((m: any) => [m.name, m.versions.map((v: any) => `${v.version}:${v.state}`)]));
}

async function expectServesMlp(baseUrl: string): Promise<void> {
  const res = await predictOnNewConnection(baseUrl, 'mlp');
  expect(res.status).toBe(200);
  expect(closeTo(res.json.predictions, mlpReference(ROWS, 1))).toBe(true);
}

describe('a YAML alias bomb', () => {
  it('is 324 bytes and nine levels deep', () => {
    expect(Buffer.byteLength(aliasBomb())).toBe(324);
    expect(aliasBomb().split('\n').filter((l) => l !== '')).toHaveLength(9);
  });

  it('to POST /v1/management/config:reload: a prompt 400 naming the limit and line; predicts stay right; models unchanged', async () => {
    const repository = writeRepository({ mlp: { 1: mlpModel(1) } });
    const { baseUrl } = await startChildServer({ modelBasePath: repository, managementTokenFile: tokenFile(), fileSystemPollWaitSeconds: 0 });
    const before = await modelSet(baseUrl);
    expect(before).toEqual({ mlp: ['1:AVAILABLE'] });
    const started = performance.now();
    const [reload, concurrent] = await Promise.all([
      management(baseUrl, 'POST', '/v1/management/config:reload', aliasBomb()),
      predictOnNewConnection(baseUrl, 'mlp'),
    ]);
    const ms = performance.now() - started;
    expect(reload.status).toBe(400);
    expect(reload.json.code).toBe('ERR_CONFIG');
    expect(reload.json.error).toMatch(/^request body:\d+:\d+: .*more than 100 YAML alias uses/);
    expect(ms).toBeLessThan(15_000);   // generous; measured ~20 ms; the old code aborted this child after ~13 s (256 MB heap)
    expect(concurrent.status).toBe(200);
    expect(closeTo(concurrent.json.predictions, mlpReference(ROWS, 1))).toBe(true);
    await expectServesMlp(baseUrl);
    expect(await modelSet(baseUrl)).toEqual(before);
  }, 30_000);

  it('as --model_config_file: ortserve refuses to start with a config error naming the file, line and limit', async () => {
    const dir = tempDir('ortserve-bomb-');
    const file = path.join(dir, 'models.yaml');
    writeFileSync(file, aliasBomb());
    const result = await promisify(execFile)(process.execPath, [CHILD_HEAP, path.join(root, 'bin/ortserve.js'), `--model_config_file=${file}`,
      '--host=127.0.0.1', '--rest_api_port=0', '--port=0', '--log_level=silent'], { timeout: 20_000, killSignal: 'SIGKILL' })
      .then(() => ({ code: 0, stderr: '' }), (err: { code?: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ortserve: models\.yaml:\d+:\d+: .*more than 100 YAML alias uses/);
    // (No time bound: the old code ran out of memory or past execFile's 20 s timeout, which fails the checks above.)
  }, 30_000);

  it('in a gRPC RepositoryModelLoad config parameter: INVALID_ARGUMENT, nothing loaded, predicts stay right', async () => {
    const repository = writeRepository({ mlp: { 1: mlpModel(1) } });
    const { baseUrl, grpcAddress } = await startChildServer({ modelBasePath: repository, managementTokenFile: tokenFile(), fileSystemPollWaitSeconds: 0 });
    const clients = grpcClients(grpcAddress);
    const auth = new grpc.Metadata();
    auth.set('authorization', `Bearer ${TOKEN}`);
    try {
      const load = await unaryCall(clients.kserve, 'RepositoryModelLoad', { model_name: 'other', parameters: { config: { string_param: aliasBomb() } } },
        { deadline: Date.now() + 10_000 }, auth);
      expect(load.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(load.error?.details).toMatch(/parameters\["config"\]:\d+:\d+: .*more than 100 YAML alias uses/);
      await expectServesMlp(baseUrl);
      expect(await modelSet(baseUrl)).toEqual({ mlp: ['1:AVAILABLE'] });
    } finally {
      clients.close();
    }
  }, 30_000);
});

describe('deep nesting and oversized configs over the management API', () => {
  async function serve(options: Record<string, unknown> = {}): Promise<TestServer> {
    const t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { managementTokenFile: tokenFile(), fileSystemPollWaitSeconds: 0, ...options });
    servers.push(t);
    return t;
  }

  it('text format nested 100,000 levels: 400 naming the depth limit and line, models unchanged', async () => {
    const t = await serve();
    const before = await modelSet(t.baseUrl);
    const deep = `model_config_list {\n  config { ${'model_version_policy { '.repeat(100_000)}${'}'.repeat(100_000)} }\n}\n`;
    const reload = await management(t.baseUrl, 'POST', '/v1/management/config:reload', deep, 'text/plain');
    expect(reload.status).toBe(400);
    expect(reload.json.code).toBe('ERR_CONFIG');
    expect(reload.json.error).toMatch(/^request body:2:\d+: model_config_list\.config(\.model_version_policy)+: messages nested deeper than 32 levels$/);
    await expectServesMlp(t.baseUrl);
    expect(await modelSet(t.baseUrl)).toEqual(before);
  });

  it('a body over --max_config_bytes: 413 ERR_TOO_LARGE naming the flag, models unchanged', async () => {
    const t = await serve({ maxConfigBytes: 64 * 1024 });
    const before = await modelSet(t.baseUrl);
    const big = `# ${'x'.repeat(100 * 1024)}\nmodel_config_list {}\n`;
    const reload = await management(t.baseUrl, 'POST', '/v1/management/config:reload', big, 'text/plain');
    expect(reload.status).toBe(413);
    expect(reload.json.code).toBe('ERR_TOO_LARGE');
    expect(reload.json.error).toMatch(/exceeds the limit of 65536 bytes \(--max_config_bytes\)/);
    await expectServesMlp(t.baseUrl);
    expect(await modelSet(t.baseUrl)).toEqual(before);
  });

  it('a gRPC load whose config is over --max_config_bytes: RESOURCE_EXHAUSTED naming the flag', async () => {
    const t = await serve({ maxConfigBytes: 64 * 1024 });
    const clients = grpcClients(t.grpcAddress);
    const auth = new grpc.Metadata();
    auth.set('authorization', `Bearer ${TOKEN}`);
    try {
      const config = `# ${'x'.repeat(100 * 1024)}\nbase_path: /nowhere\n`;
      const load = await unaryCall(clients.kserve, 'RepositoryModelLoad', { model_name: 'other', parameters: { config: { string_param: config } } }, {}, auth);
      expect(load.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(load.error?.details).toMatch(/over the limit of 65536 bytes \(--max_config_bytes\)/);
    } finally {
      clients.close();
    }
  });
});

describe('the parser bounds (each named with its line)', () => {
  const parse = (text: string, format: 'pbtxt' | 'yaml') => () => parseModelServerConfig(text, { format, source: 'c', baseDir: '/' });

  it('YAML flow nesting is refused before the YAML parser sees it', () => {
    // 1M open brackets (2 MB) took the YAML parser past 500 MB; 100k (kept here so the old code fails fast) took 0.7 s.
    expect(parse('['.repeat(100_000), 'yaml')).toThrow(/^c:1:65: more than 64 '\[' or '\{' open at once \(nesting is limited to 32 levels\)$/);
  });

  it('an alias cycle and deep YAML nesting stop at 32 levels', () => {
    expect(parse('model_config_list: &x\n  config: [*x]\n', 'yaml')).toThrow(/^c:\d+:\d+: model_config_list(\.config\[0\])+: nested deeper than 32 levels/);
  });

  it('a list over 10,000 entries', () => {
    const versions = Array.from({ length: 10_001 }, (_, i) => i + 1).join(',');
    const text = `model_config_list { config { name: "m" base_path: "/m" model_version_policy { specific { versions: [${versions}] } } } }`;
    expect(parse(text, 'pbtxt')).toThrow(/^c:1:\d+: model_config_list\.config\.model_version_policy\.specific\.versions: more than 10000 entries in one list$/);
  });

  it('a repeated field over 10,000 values, however it is split', () => {
    const half = Array.from({ length: 6_000 }, (_, i) => i + 1);
    const text = `model_config_list: {config: [{name: m, base_path: /m, model_version_policy: {specific: {versions: [${half.join(',')}]}}}]}`;
    expect(parse(text, 'yaml')).not.toThrow();
    const twice = `model_config_list { config { name: "m" base_path: "/m" model_version_policy { specific { versions: [${half.join(',')}] versions: [${half.map((v) => v + 6_000).join(',')}] } } } }`;
    expect(parse(twice, 'pbtxt')).toThrow(/model_version_policy\.specific\.versions: more than 10000 values$/);
  });

  it('a long unknown field name is elided in the message', () => {
    expect(parse(`model_config_list { config { ${'x'.repeat(250)}: 1 } }`, 'pbtxt')).toThrow(/config\[0\]\.x{48}… \(250 characters\): unknown field/);
  });
});
