// Metrics, Triton's statistics extension and the access log on a real server: requests are sent by every protocol's
// real client, then /metrics (read with a Prometheus text parser), GET .../stats and gRPC ModelStatistics must count
// exactly those requests, and queue + compute time must fit inside the requests' total time.

import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { FlatBuffersHttpClient, FlatBuffersWsClient } from '../src/client/index.js';
import { parseCliArgs } from '../src/config/cli-args.js';
import { grpc, grpcClients, unaryCall, type GrpcClients } from './support/grpc-client.js';
import { parsePrometheusText, type Family, type Histogram } from './support/prometheus-parser.js';
import { getJson, postText, startTestServer, writeRepository, type TestServer } from './support/test-server.js';

const row = (i: number) => [i % 3, 1, -(i % 2), 0.5];
const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);

/** What the traffic below sends to mlp version 1: successes per protocol, their rows, and failures. */
const SENT = { tfservingRest: 5, tfservingGrpc: 4, kserveRest: 3, kserveGrpc: 2, flatbuffersHttp: 2, flatbuffersWs: 3 };
const SUCCESSES = Object.values(SENT).reduce((a, b) => a + b, 0);
const FAILURES = 2;
// The TF Serving REST requests carry 3 rows each; every other request 1 row.
const ROWS = SENT.tfservingRest * 3 + (SUCCESSES - SENT.tfservingRest);

let t: TestServer;
let c: GrpcClients;
let sentFrom = 0;
let sentUntil = 0;

async function sendTraffic(): Promise<void> {
  for (let i = 0; i < SENT.tfservingRest; i++) {
    const res = await postText(`${t.baseUrl}/v1/models/mlp/versions/1:predict`, JSON.stringify({ instances: [row(i), row(i + 1), row(i + 2)] }));
    expect(res.status).toBe(200);
  }
  for (let i = 0; i < SENT.tfservingGrpc; i++) {
    const { error } = await unaryCall(c.prediction, 'Predict', {
      model_spec: { name: 'mlp', version: { value: 1 } },
      inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 1 }, { size: 4 }] }, float_val: row(i) } },
    });
    expect(error).toBeUndefined();
  }
  const kserveBody = (shape: number[]) => JSON.stringify({ inputs: [{ name: 'x', shape, datatype: 'FP32', data: row(1) }] });
  for (let i = 0; i < SENT.kserveRest; i++) expect((await postText(`${t.baseUrl}/v2/models/mlp/versions/1/infer`, kserveBody([1, 4]))).status).toBe(200);
  for (let i = 0; i < FAILURES; i++) {
    // Reaches version 1 and fails its input check: a failure of that version.
    const res = await postText(`${t.baseUrl}/v2/models/mlp/versions/1/infer`, kserveBody([2, 2]));
    expect(res.json.code).toBe('ERR_SHAPE');
  }
  for (let i = 0; i < SENT.kserveGrpc; i++) {
    const { error } = await unaryCall(c.kserve, 'ModelInfer', {
      model_name: 'mlp', model_version: '1', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32(row(i))],
    });
    expect(error).toBeUndefined();
  }
  const x = { dtype: 'float32' as const, shape: [1, 4], data: new Float32Array(row(2)) };
  const http = new FlatBuffersHttpClient(t.baseUrl);
  for (let i = 0; i < SENT.flatbuffersHttp; i++) await http.infer('mlp', { x }, { version: 1 });
  await http.close();
  const ws = await FlatBuffersWsClient.connect(`${t.baseUrl.replace('http', 'ws')}/v1/flatbuffers/ws`);
  for (let i = 0; i < SENT.flatbuffersWs; i++) await ws.infer('mlp', { x }, { version: 1 });
  ws.close();
  // One request to version 2, so per-version counts are seen to stay apart.
  expect((await postText(`${t.baseUrl}/v2/models/mlp/versions/2/infer`, kserveBody([1, 4]))).status).toBe(200);
}

let repository = '';

beforeAll(async () => {
  // Both versions served (policy all), from a model config file over a repository of its own.
  repository = writeRepository({ mlp: { 1: mlpModel(1), 2: mlpModel(2) } });
  const configFile = path.join(repository, 'models.json');
  writeFileSync(configFile, JSON.stringify({
    model_config_list: { config: [{ name: 'mlp', base_path: path.join(repository, 'mlp'), model_platform: 'onnx', model_version_policy: { all: {} } }] },
  }));
  t = await startTestServer({}, { modelConfigFile: configFile });
  c = grpcClients(t.grpcAddress);
  sentFrom = Date.now();
  await sendTraffic();
  sentUntil = Date.now();
});
afterAll(async () => {
  c.close();
  await t.close();
  rmSync(repository, { recursive: true, force: true });
});

/**
 * The metrics page, read by our strict parser (test/support/prometheus-parser.ts: histogram buckets cumulative,
 * +Inf = count, no series twice) and, as a second opinion on the syntax, by the npm parser (which throws on a bad line).
 */
async function scrape(): Promise<Map<string, Family>> {
  const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
  expect(() => parsePrometheusTextFormat(text)).not.toThrow();
  return parsePrometheusText(text);
}

const matches = (have: Record<string, string>, want: Record<string, string>) => Object.entries(want).every(([k, v]) => have[k] === v);

function histogram(families: Map<string, Family>, name: string, labels: Record<string, string>): Histogram | undefined {
  return families.get(name)?.histograms.find((h) => matches(h.labels, labels));
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string>): number {
  return families.get(name)?.samples.find((x) => matches(x.labels, labels))?.value ?? NaN;
}

describe('/metrics', () => {
  it('counts each protocol\'s requests in the latency, queue and compute histograms, and queue + compute fit in the latency', async () => {
    const m = await scrape();
    const protocols: Record<string, number> = {
      tfserving_rest: SENT.tfservingRest, tfserving_grpc: SENT.tfservingGrpc, kserve_rest: SENT.kserveRest,
      kserve_grpc: SENT.kserveGrpc, flatbuffers_http: SENT.flatbuffersHttp, flatbuffers_ws: SENT.flatbuffersWs,
    };
    for (const [protocol, sent] of Object.entries(protocols)) {
      const labels = { model: 'mlp', version: '1', protocol };
      const latency = histogram(m, 'ortserve_request_duration_us', labels)!;
      const queue = histogram(m, 'ortserve_queue_duration_us', labels)!;
      const compute = histogram(m, 'ortserve_compute_duration_us', labels)!;
      expect(latency.count, protocol).toBe(sent);
      expect(queue.count, protocol).toBe(sent);
      expect(compute.count, protocol).toBe(sent);
      expect(queue.sum + compute.sum).toBeLessThanOrEqual(latency.sum);
      expect(latency.sum).toBeGreaterThan(0);
    }
    // Version 2 answered one KServe REST request and nothing else.
    expect(histogram(m, 'ortserve_request_duration_us', { model: 'mlp', version: '2', protocol: 'kserve_rest' })!.count).toBe(1);
    expect(histogram(m, 'ortserve_request_duration_us', { model: 'mlp', version: '2', protocol: 'tfserving_rest' })).toBeUndefined();
  });

  it('keeps Triton\'s counters, now counting failures that reached the version', async () => {
    const m = await scrape();
    const v1 = { model: 'mlp', version: '1' };
    expect(value(m, 'nv_inference_request_success', v1)).toBe(SUCCESSES);
    expect(value(m, 'nv_inference_request_failure', v1)).toBe(FAILURES);
    expect(value(m, 'nv_inference_count', v1)).toBe(ROWS);
    expect(value(m, 'nv_inference_exec_count', v1)).toBe(SUCCESSES);   // no batching: one run per request
    expect(value(m, 'ortserve_inline_runs_total', v1) + value(m, 'ortserve_queued_runs_total', v1)).toBe(SUCCESSES);
    expect(value(m, 'nv_inference_queue_duration_us', v1) + value(m, 'nv_inference_compute_infer_duration_us', v1))
      .toBeLessThanOrEqual(value(m, 'nv_inference_request_duration_us', v1));
    expect(value(m, 'nv_model_load_duration_secs', v1)).toBeGreaterThan(0);
    expect(value(m, 'nv_model_load_duration_secs', { model: 'mlp', version: '2' })).toBeGreaterThan(0);
    // Every run of version 1 had batch size 1.
    const batch = histogram(m, 'ortserve_batch_size', v1)!;
    expect(batch.count).toBe(SUCCESSES);
    expect(batch.buckets.get('1')).toBe(SUCCESSES);
    expect(batch.sum).toBe(SUCCESSES);
  });

  it('adds TF Serving\'s request_count by status and request_latency by API and entrypoint, per model', async () => {
    const m = await scrape();
    // Both versions together: TF Serving's labels have no version.
    expect(value(m, ':tensorflow:serving:request_count', { model_name: 'mlp', status: 'OK' })).toBe(SUCCESSES + 1);
    expect(value(m, ':tensorflow:serving:request_count', { model_name: 'mlp', status: 'INVALID_ARGUMENT' })).toBe(FAILURES);
    const latency = (API: string, entrypoint: string) => histogram(m, ':tensorflow:serving:request_latency', { model_name: 'mlp', API, entrypoint })?.count;
    expect(latency('Predict', 'REST')).toBe(SENT.tfservingRest);
    expect(latency('Predict', 'GRPC')).toBe(SENT.tfservingGrpc);
    expect(latency('ModelInfer', 'REST')).toBe(SENT.kserveRest + 1);
    expect(latency('ModelInfer', 'GRPC')).toBe(SENT.kserveGrpc);
    expect(latency('FlatBuffersInfer', 'WEBSOCKET')).toBe(SENT.flatbuffersWs);
    expect([...histogram(m, ':tensorflow:serving:request_latency', { API: 'Predict', entrypoint: 'REST' })!.buckets.keys()]).toContain('32.4');
  });

  it('serves the process\'s CPU, resident memory and event-loop delay', async () => {
    const m = await scrape();
    expect(m.get('process_cpu_seconds_total')!.samples[0]!.value).toBeGreaterThan(0);
    expect(m.get('process_resident_memory_bytes')!.samples[0]!.value).toBeGreaterThan(1 << 20);
    expect(m.get('nodejs_eventloop_lag_p99_seconds')!.samples).toHaveLength(1);
    // TF Serving's path serves the same page.
    const tf = await (await fetch(`${t.baseUrl}/monitoring/prometheus/metrics`)).text();
    expect(tf).toContain('# TYPE ortserve_request_duration_us histogram');
  });
});

/** Triton's statistics of one version, as numbers (gRPC sends uint64 as strings). */
function numeric(stats: any): any {
  return JSON.parse(JSON.stringify(stats), (k, v) => (k !== 'version' && typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v));
}

function checkVersion1(s: any): void {
  expect(s.name).toBe('mlp');
  expect(s.version).toBe('1');
  expect(s.inference_count).toBe(ROWS);
  expect(s.execution_count).toBe(SUCCESSES);
  const i = s.inference_stats;
  expect(i.success.count).toBe(SUCCESSES);
  expect(i.fail.count).toBe(FAILURES);
  expect(i.fail.ns).toBeGreaterThan(0);
  expect(i.queue.count).toBe(SUCCESSES);
  for (const phase of ['compute_input', 'compute_infer', 'compute_output']) expect(i[phase].count).toBe(SUCCESSES);
  expect(i.compute_infer.ns).toBeGreaterThan(0);
  expect(i.queue.ns + i.compute_input.ns + i.compute_infer.ns + i.compute_output.ns).toBeLessThanOrEqual(i.success.ns);
  expect(i.cache_hit.count).toBe(0);
  expect(s.batch_stats).toHaveLength(1);
  expect(s.batch_stats[0].batch_size).toBe(1);
  expect(s.batch_stats[0].compute_infer.count).toBe(SUCCESSES);
  expect(s.batch_stats[0].compute_infer.ns).toBe(i.compute_infer.ns);   // batch size 1: one request per run
  expect(s.last_inference).toBeGreaterThanOrEqual(sentFrom - 1);
  expect(s.last_inference).toBeLessThanOrEqual(sentUntil + 1);
}

describe('statistics extension', () => {
  it('GET /v2/models/{m}/versions/{v}/stats counts the requests sent, with queue + compute inside the total', async () => {
    const { status, json } = await getJson(`${t.baseUrl}/v2/models/mlp/versions/1/stats`);
    expect(status).toBe(200);
    expect(json.model_stats).toHaveLength(1);
    checkVersion1(json.model_stats[0]);
  });

  it('lists every loaded version of a model, and every model', async () => {
    const model = await getJson(`${t.baseUrl}/v2/models/mlp/stats`);
    expect(model.json.model_stats.map((s: any) => s.version)).toEqual(['2', '1']);
    const v2 = model.json.model_stats[0];
    expect(v2.inference_stats.success.count).toBe(1);
    expect(v2.inference_stats.fail.count).toBe(0);
    const all = await getJson(`${t.baseUrl}/v2/models/stats`);
    expect(all.json.model_stats.map((s: any) => `${s.name}/${s.version}`)).toEqual(['mlp/2', 'mlp/1']);
    expect((await getJson(`${t.baseUrl}/v2`)).json.extensions).toContain('statistics');
  });

  it('gRPC ModelStatistics answers the same counts', async () => {
    const { error, response } = await unaryCall(c.kserve, 'ModelStatistics', { name: 'mlp', version: '1' });
    expect(error).toBeUndefined();
    expect(response.model_stats).toHaveLength(1);
    checkVersion1(numeric(response.model_stats[0]));
    const all = await unaryCall(c.kserve, 'ModelStatistics', {});
    expect(all.response.model_stats).toHaveLength(2);
  });

  it('refuses unknown models and versions, a version without a model, and other methods', async () => {
    const unknown = await getJson(`${t.baseUrl}/v2/models/nope/stats`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.code).toBe('ERR_MODEL_NOT_FOUND');
    const version = await getJson(`${t.baseUrl}/v2/models/mlp/versions/9/stats`);
    expect(version.status).toBe(404);
    expect(version.json.error).toMatch(/mlp/);
    const post = await postText(`${t.baseUrl}/v2/models/mlp/stats`, '{}');
    expect(post.status).toBe(405);
    expect((await unaryCall(c.kserve, 'ModelStatistics', { name: 'nope' })).error?.code).toBe(grpc.status.NOT_FOUND);
    const noModel = await unaryCall(c.kserve, 'ModelStatistics', { version: '1' });
    expect(noModel.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(noModel.error?.details).toMatch(/^version: /);
    // Nothing was counted by the refusals.
    const after = await getJson(`${t.baseUrl}/v2/models/mlp/versions/1/stats`);
    checkVersion1(after.json.model_stats[0]);
  });
});

describe('access log', () => {
  /** A server whose log lines are collected, over the same model. */
  async function loggedServer(options: object): Promise<{ server: TestServer; lines: any[] }> {
    const lines: any[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(...String(chunk).trim().split('\n').map((l) => JSON.parse(l))); done(); } });
    const server = await startTestServer({ mlp: { 1: mlpModel(1) } }, { logger: pino({ level: 'info' }, sink), ...options });
    return { server, lines };
  }
  const body = (shape: number[]) => JSON.stringify({ inputs: [{ name: 'x', shape, datatype: 'FP32', data: [1, 2, 3, 4] }] });

  it('writes one line per request with model, version, protocol, status and µs', async () => {
    const { server, lines } = await loggedServer({ accessLog: true });
    try {
      expect((await postText(`${server.baseUrl}/v2/models/mlp/infer`, body([1, 4]))).status).toBe(200);
      expect((await postText(`${server.baseUrl}/v2/models/mlp/infer`, body([4, 1]))).status).toBe(400);
      expect((await postText(`${server.baseUrl}/v1/models/mlp:predict`, JSON.stringify({ instances: [[1, 2, 3, 4]] }))).status).toBe(200);
      const clients = grpcClients(server.grpcAddress);
      const bad = await unaryCall(clients.kserve, 'ModelInfer', {
        model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [4, 1] }], raw_input_contents: [f32([1, 2, 3, 4])],
      });
      clients.close();
      expect(bad.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
      const access = lines.filter((l) => l.msg === 'access');
      expect(access).toHaveLength(4);
      expect(access[0]).toMatchObject({ model: 'mlp', version: 1, protocol: 'kserve_rest', status: 200 });
      expect(access[1]).toMatchObject({ model: 'mlp', version: 1, protocol: 'kserve_rest', status: 400, code: 'ERR_SHAPE' });
      expect(access[2]).toMatchObject({ protocol: 'tfserving_rest', status: 200 });
      // gRPC: the status name the client sees.
      expect(access[3]).toMatchObject({ protocol: 'kserve_grpc', status: 'INVALID_ARGUMENT', code: 'ERR_SHAPE' });
      for (const line of access) expect(line.micros).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });

  it('is off by default, and a sample rate of 0 logs nothing', async () => {
    for (const options of [{}, { accessLog: true, accessLogSampleRate: 0 }]) {
      const { server, lines } = await loggedServer(options);
      try {
        expect((await postText(`${server.baseUrl}/v2/models/mlp/infer`, body([1, 4]))).status).toBe(200);
        expect(lines.filter((l) => l.msg === 'access')).toHaveLength(0);
      } finally {
        await server.close();
      }
    }
  });

  it('takes its flags from the command line and names a bad value', () => {
    const parsed = parseCliArgs(['--access_log', '--access_log_sample_rate=0.25']);
    expect(parsed.help === false && parsed.options.accessLog).toBe(true);
    expect(parsed.help === false && parsed.options.accessLogSampleRate).toBe(0.25);
    expect(() => parseCliArgs(['--access_log_sample_rate=1.5'])).toThrow(/--access_log_sample_rate: 1.5 is outside 0..1/);
    expect(() => parseCliArgs(['--access_log_sample_rate=abc'])).toThrow(/--access_log_sample_rate: 'abc' is not a number/);
  });
});
