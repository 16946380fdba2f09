// Error messages tell an unauthenticated client nothing it did not send (issue 17, rows 10 and 11): no absolute server
// paths, no ONNX Runtime source locations, and echoed client data (names, shapes) elided; the management API (token)
// and the log keep the full detail.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { corruptModelBytes } from './support/models.mjs';
import { grpcClients, unaryCall, type GrpcClients } from './support/grpc-client.js';
import { getJson, postText, startTestServer, type TestServer } from './support/test-server.js';
import { mlpModel, tempDir } from './support/registry-helpers.js';

const TOKEN = 'test-token-0123456789abcdef';
/** A model file ORT refuses with a source location and a C++ signature in its message ("…/model.cc:187 onnxruntime::Model::Model(…)"). */
const EMPTY_MODEL = new Uint8Array(0);
/** What a client must never read: a '/'-rooted path (after a quote, a space, a colon or a paren) or a native source location. */
const ABSOLUTE_PATH = /(?:^|[\s'"(:=])\/[\w.-]+\//;
const SOURCE_LOCATION = /\.(?:cc|h|cpp|hpp):\d+/;

let t: TestServer;
let c: GrpcClients;
const logLines: string[] = [];

/** Asserts `text` (what an unauthenticated client got) holds no server path and no native source location. */
function expectNothingDisclosed(text: string): void {
  expect(text).not.toContain(t.repository);
  expect(text).not.toMatch(ABSOLUTE_PATH);
  expect(text).not.toMatch(SOURCE_LOCATION);
  expect(text).not.toMatch(/onnxruntime::/);
}

beforeAll(async () => {
  const tokenFile = path.join(tempDir('ortserve-token-'), 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const log = new Writable({ write(chunk, _encoding, done) { logLines.push(String(chunk)); done(); } });
  t = await startTestServer(
    { mlp: { 1: mlpModel(1) }, broken: { 1: corruptModelBytes() }, empty: { 1: EMPTY_MODEL } },
    { managementTokenFile: tokenFile, logger: pino({ level: 'info' }, log) },
  );
  c = grpcClients(t.grpcAddress);
});
afterAll(async () => {
  c.close();
  await t.close();
});

describe('a model that failed to load, asked about without a token', () => {
  it.each(['broken', 'empty'])('TF REST status of %s: the reason, with the model path relative to its base path', async (model) => {
    const status = await getJson(`${t.baseUrl}/v1/models/${model}`);
    const message = status.json.model_version_status[0].status.error_message as string;
    expect(message).toMatch(/^loading model '1\/model\.onnx' \[ORT_\w+\]: .*(Protobuf parsing failed|does not have a graph)/);
    expectNothingDisclosed(message);
    const predict = await postText(`${t.baseUrl}/v1/models/${model}:predict`, '{"instances":[[1,2,3,4]]}');
    expect(predict.status).toBe(503);
    expectNothingDisclosed(predict.text);
  });

  it('KServe REST metadata and ready', async () => {
    for (const model of ['broken', 'empty']) {
      const metadata = await fetch(`${t.baseUrl}/v2/models/${model}`);
      const text = await metadata.text();
      expect([metadata.status, JSON.parse(text).code]).toEqual([503, 'ERR_MODEL_UNAVAILABLE']);
      expect(text).toMatch(/1\/model\.onnx/);
      expectNothingDisclosed(text);
      const ready = await fetch(`${t.baseUrl}/v2/models/${model}/ready`);
      expectNothingDisclosed(await ready.text());
    }
  });

  it('gRPC: TF GetModelStatus, KServe ModelMetadata and ModelReady', async () => {
    for (const model of ['broken', 'empty']) {
      const status = await unaryCall(c.modelService, 'GetModelStatus', { model_spec: { name: model } });
      const message = status.response.model_version_status[0].status.error_message as string;
      expect(message).toMatch(/'1\/model\.onnx'/);
      expectNothingDisclosed(message);
      const metadata = await unaryCall(c.kserve, 'ModelMetadata', { name: model });
      expect(metadata.error?.details).toMatch(/not AVAILABLE/);
      expectNothingDisclosed(metadata.error!.details);
      const ready = await unaryCall(c.kserve, 'ModelReady', { name: model });
      expectNothingDisclosed(JSON.stringify(ready));
    }
  });

  it('the management API (with the token) and the log keep the full detail', async () => {
    const res = await fetch(`${t.baseUrl}/v1/management/models`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const models = (await res.json()).models as Array<{ name: string; versions: Array<{ status: { error_message: string } }> }>;
    const detail = (name: string) => models.find((m) => m.name === name)!.versions[0]!.status.error_message;
    expect(detail('broken')).toContain(path.join(t.repository, 'broken', '1', 'model.onnx'));
    expect(detail('empty')).toContain(path.join(t.repository, 'empty', '1', 'model.onnx'));
    expect(detail('empty')).toMatch(/model\.cc:\d+ onnxruntime::Model::Model\(/);
    const index = await fetch(`${t.baseUrl}/v2/repository/index`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(JSON.stringify(await index.json())).toMatch(/model\.cc:\d+/);
    const logged = logLines.filter((l) => l.includes('model version failed to load')).join('\n');
    expect(logged).toContain(path.join(t.repository, 'empty', '1', 'model.onnx'));
    expect(logged).toMatch(/model\.cc:\d+/);
  });
});

describe('404s name no server path', () => {
  it('a configured model whose base path is missing or empty', async () => {
    const root = tempDir('ortserve-cfg-');
    mkdirSync(path.join(root, 'hollow'));
    const file = path.join(root, 'models.yaml');
    writeFileSync(file, `model_config_list:\n  config:\n    - {name: ghost, base_path: ${path.join(root, 'ghost')}}\n    - {name: hollow, base_path: ${path.join(root, 'hollow')}}\n`);
    const s = await startTestServer({}, { modelConfigFile: file, modelBasePath: '' });
    try {
      for (const [model, reason] of [['ghost', /cannot read base path '<base path>': ENOENT/], ['hollow', /no version found in the model's base path/]] as const) {
        const res = await getJson(`${s.baseUrl}/v2/models/${model}`);
        expect(res.status).toBe(404);
        expect(res.json.error).toMatch(reason);
        expect(res.json.error).not.toContain(root);
        expect(res.json.error).not.toMatch(ABSOLUTE_PATH);
      }
    } finally {
      await s.close();
    }
  });
});

describe('echoed client data is elided', () => {
  const longName = 'n'.repeat(10 * 1024 * 1024);
  const manyDims = 1_000_000;
  /** The reply is small and names the elision rather than the whole name or shape. */
  function expectBounded(text: string, marker: RegExp): void {
    expect(text.length).toBeLessThan(1024);
    expect(text).toMatch(marker);
  }
  const NAME_ELIDED = /n{128}…\(10485632 more characters\)/;
  const SHAPE_ELIDED = /\[1,1,1,1,1,1,1,1,…\(999992 more\)\]/;
  // Over gRPC the decoder stops counting dims at --max_request_entries (4,096): 4,000 show the same elision, and
  // 100k are refused while decoding, before any shape is echoed.
  const grpcDims = 4_000;
  const GRPC_SHAPE_ELIDED = /\[1,1,1,1,1,1,1,1,…\(3992 more\)\]/;
  const ENTRIES_REFUSED = /^inputs(\[0\]|\["x"\]\.tensor_shape)\.(shape|dim): the message carries more entries .* \(--max_request_entries\); decoding stopped there$/;

  it('TF REST: a 10 MB input name, columnar and row forms', async () => {
    for (const body of [`{"inputs":{"${longName}":[[1,2,3,4]]}}`, `{"instances":[{"${longName}":[1,2,3,4]}]}`]) {
      const res = await postText(`${t.baseUrl}/v1/models/mlp:predict`, body);
      expect([res.status, res.json?.code]).toEqual([400, 'ERR_INVALID_INPUT']);
      expectBounded(res.text, NAME_ELIDED);
    }
  });

  it('KServe REST: a 10 MB input name and a 1M-dimension shape', async () => {
    const named = await postText(`${t.baseUrl}/v2/models/mlp/infer`,
      JSON.stringify({ inputs: [{ name: longName, datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }));
    expect(named.status).toBe(400);
    expectBounded(named.text, NAME_ELIDED);
    const shaped = await postText(`${t.baseUrl}/v2/models/mlp/infer`,
      JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: new Array(manyDims).fill(1), data: [1] }] }));
    expect([shaped.status, shaped.json?.code]).toEqual([400, 'ERR_SHAPE']);
    expectBounded(shaped.text, SHAPE_ELIDED);
  });

  it('gRPC: KServe ModelInfer and TF Predict with a 10 MB input name, a 4k- and a 100k-dimension shape; a 10 MB model name', async () => {
    const kserve = (name: string, shape: number[], contents: number[]) =>
      unaryCall(c.kserve, 'ModelInfer', { model_name: 'mlp', inputs: [{ name, datatype: 'FP32', shape, contents: { fp32_contents: contents } }] });
    const tf = (name: string, dims: number, values: number[]) => unaryCall(c.prediction, 'Predict', {
      model_spec: { name: 'mlp' },
      inputs: { [name]: { dtype: 'DT_FLOAT', tensor_shape: { dim: new Array(dims).fill(0).map((_, i) => ({ size: dims === 2 && i === 1 ? 4 : 1 })) }, float_val: values } },
    });
    for (const [call, marker] of [
      [kserve(longName, [1, 4], [1, 2, 3, 4]), NAME_ELIDED],
      [kserve('x', new Array(grpcDims).fill(1), [1]), GRPC_SHAPE_ELIDED],
      [tf(longName, 2, [1, 2, 3, 4]), NAME_ELIDED],
      [tf('x', grpcDims, [1]), GRPC_SHAPE_ELIDED],
      [kserve('x', new Array(100_000).fill(1), [1]), ENTRIES_REFUSED],
      [tf('x', 100_000, [1]), ENTRIES_REFUSED],
      [unaryCall(c.modelService, 'GetModelStatus', { model_spec: { name: longName } }), NAME_ELIDED],
    ] as const) {
      const { error } = await call;
      expect(error?.code).toBeGreaterThan(0);
      expectBounded(error!.details, marker);
    }
  });
});
