// Triton model repositories (--model_repository): config.pbtxt parsing, auto-completion, refusals, status, ModelConfig API.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type OrtServe } from '../src/index.js';
import { parseTritonConfig } from '../src/config/triton-config.js';
import { tritonProviderOptions } from '../src/config/execution-providers.js';
import { parseModelEntry } from '../src/config/model-config.js';
import { OrtServeError } from '../src/errors.js';
import { addModel, fixedBatchModel, identityModel } from './support/models.mjs';
import { mlpForward, writeTritonExample } from '../scripts/make-example-models.mjs';
import { getJson, postText } from './support/test-server.js';
import { decodeInferResponse, encodeInferRequest } from '../src/protocol/flatbuffers/messages.js';
import type { Tensor } from '../src/engine/tensor.js';
import { grpcClients, unaryCall, type GrpcClients } from './support/grpc-client.js';

const parse = (text: string, directoryName = 'm') => parseTritonConfig(text, { source: `${directoryName}/config.pbtxt`, directoryName });

function parseError(text: string): string {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(OrtServeError);
    expect((err as OrtServeError).code).toBe('ERR_CONFIG');
    return (err as Error).message;
  }
  throw new Error('expected a config error');
}

describe('config.pbtxt parsing', () => {
  it('reads the fields of a full Triton config', () => {
    const c = parse(`
      name: "m"
      platform: "onnxruntime_onnx"
      max_batch_size: 8
      input [ { name: "x" data_type: TYPE_FP32 dims: [ 2 ] } ]
      output [ { name: "y", data_type: TYPE_FP32, dims: [ -1 ] reshape: { shape: [ 2 ] } } ]
      version_policy: { specific: { versions: [ 1, 3 ] } }
      dynamic_batching {
        preferred_batch_size: [ 4, 8 ]
        max_queue_delay_microseconds: 100
        priority_levels: 2
        default_priority_level: 2
        default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 5000 allow_timeout_override: true }
        priority_queue_policy { key: 1 value: { max_queue_size: 3 } }
      }
      instance_group [ { count: 2 kind: KIND_CPU } ]
      optimization { graph { level: 1 } execution_accelerators { gpu_execution_accelerator: [ { name: "tensorrt" parameters { key: "precision_mode" value: "FP16" } } ] } }
      parameters { key: "intra_op_thread_count" value: { string_value: "1" } }
      default_model_filename: "net.onnx"
    `);
    expect(c).toMatchObject({
      name: 'm', platform: 'onnxruntime_onnx', maxBatchSize: 8, maxBatchSizeGiven: true,
      inputs: [{ name: 'x', dtype: 'float32', dims: [2], optional: false }],
      outputs: [{ name: 'y', dtype: 'float32', dims: [-1], reshape: [2] }],
      versionPolicy: { kind: 'specific', versions: [3, 1] },
      instanceGroups: [{ kind: 'KIND_CPU', count: 2, gpus: [] }],
      graphLevel: 1,
      gpuAccelerators: [{ name: 'tensorrt', parameters: { precision_mode: 'FP16' } }],
      parameters: { intra_op_thread_count: '1' },
      defaultModelFilename: 'net.onnx',
    });
    const d = c.dynamicBatching!;
    expect(d).toMatchObject({ preferredBatchSizes: [4, 8], maxQueueDelayMicros: 100, priorityLevels: 2, defaultPriorityLevel: 2 });
    expect(d.defaultQueuePolicy).toEqual({ timeoutAction: 'DELAY', defaultTimeoutMicros: 5000, allowTimeoutOverride: true, maxQueueSize: 0 });
    expect(d.priorityQueuePolicy.get(1)).toEqual({ timeoutAction: 'REJECT', defaultTimeoutMicros: 0, allowTimeoutOverride: false, maxQueueSize: 3 });
    expect(c.ignored).toEqual([]);
  });

  it('records unknown and unsupported fields by name instead of refusing or dropping them', () => {
    const c = parse('max_batch_size: 0\nfrobnicate: 3\nresponse_cache { enable: true }\nsequence_batching { }\ninput [ { name: "x" data_type: TYPE_FP32 dims: [1] format: FORMAT_NCHW } ]');
    expect(c.ignored.map((f) => f.path)).toEqual(['frobnicate', 'response_cache', 'sequence_batching', 'input[0].format']);
    expect(c.ignored[0]).toMatchObject({ line: 2, reason: expect.stringMatching(/unknown field/) });
    expect(c.ignored[2]!.reason).toMatch(/sequence batching/);
  });

  it.each([
    ['name: "other"', /config\.pbtxt:1:\d+: name: 'other' must equal the model's directory name 'm'/],
    ['platform: "tensorflow_savedmodel"', /platform: 'tensorflow_savedmodel' is not served/],
    ['input [ { name: "x" data_type: TYPE_NOPE dims: [1] } ]', /input\[0\]\.data_type: 'TYPE_NOPE' is not one of/],
    ['input [ { name: "x" data_type: TYPE_FP32 } ]', /input\[0\]: dims is required/],
    ['max_batch_size: 0 dynamic_batching { }', /dynamic_batching: needs max_batch_size > 0/],
    ['max_batch_size: 4 dynamic_batching { priority_levels: 2 default_priority_level: 3 }', /dynamic_batching\.default_priority_level: must be between 1 and priority_levels \(2\), got 3/],
    ['max_batch_size: 4 dynamic_batching { preferred_batch_size: 8 }', /dynamic_batching\.preferred_batch_size: 8 is larger than max_batch_size \(4\)/],
    ['instance_group [ { kind: KIND_CPU gpus: [0] } ]', /instance_group\[0\]\.gpus: cannot be given with kind KIND_CPU/],
    ['max_batch_size: -1', /max_batch_size: -1 is outside 0\.\./],
    ['parameters { key: "intra_op_thread_count" value: { string_value: "many" } }', /parameters: intra_op_thread_count: 'many' is not a thread count/],
  ])('refuses %s naming the field', (text, message) => {
    expect(parseError(text)).toMatch(message);
  });
});

function writeModel(root: string, name: string, bytes: Uint8Array | undefined, config?: string, versions = [1]): void {
  for (const v of versions) {
    mkdirSync(path.join(root, name, String(v)), { recursive: true });
    if (bytes !== undefined) writeFileSync(path.join(root, name, String(v), 'model.onnx'), bytes);
  }
  if (config !== undefined) writeFileSync(path.join(root, name, 'config.pbtxt'), config);
}

describe('--model_repository end to end', () => {
  let root: string;
  let server: OrtServe;
  let base: string;
  let grpc: GrpcClients;
  const logLines: string[] = [];

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'ortserve-triton-'));
    // y = x + x, batch dim free; two versions, the config serves both.
    writeModel(root, 'adder', addModel('float32'), `
      name: "adder"
      backend: "onnxruntime"
      max_batch_size: 8
      input [ { name: "x", data_type: TYPE_FP32, dims: [ 2 ] } ]
      output [ { name: "y", data_type: TYPE_FP32, dims: [ 2 ] } ]
      version_policy: { all { } }
      dynamic_batching { max_queue_delay_microseconds: 100 }
      frobnicate: 1
      response_cache { enable: true }
    `, [1, 2]);
    writeModel(root, 'auto', identityModel('int32'));                       // no config.pbtxt: auto-completed
    writeModel(root, 'wrong_type', identityModel('float32'), 'input [ { name: "x" data_type: TYPE_INT32 dims: [ -1, 2 ] } ]');
    writeModel(root, 'wrong_dim', identityModel('float32'), 'max_batch_size: 4\ninput [ { name: "x" data_type: TYPE_FP32 dims: [ 3 ] } ]');
    writeModel(root, 'fixed_batched', fixedBatchModel(), 'max_batch_size: 4\ndynamic_batching { }');
    writeModel(root, 'broken', identityModel('float32'), 'max_batch_size: 4\ninput [ { name: "x" \n');
    writeModel(root, 'fixed', fixedBatchModel());                           // no config, cannot batch: served unbatched
    writeModel(root, 'ranked', addModel('float32'), `
      max_batch_size: 4
      dynamic_batching {
        priority_levels: 2
        default_priority_level: 2
        default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 60000000 }
        priority_queue_policy { key: 1 value { max_queue_size: 5 } }
      }`);
    writeModel(root, 'twins', addModel('float32'), 'max_batch_size: 0\ninstance_group [ { count: 2 kind: KIND_CPU } ]');
    server = createServer({
      host: '127.0.0.1', restApiPort: 0, grpcPort: 0, modelRepository: root, intraOpThreads: 1, enableBatching: true,
      batching: { maxBatchSize: 16 }, maxNumLoadRetries: 0,
      logger: pino({ level: 'warn' }, { write: (line: string) => logLines.push(line) }),
    });
    const ports = await server.start();
    base = `http://127.0.0.1:${ports.restPort}`;
    grpc = grpcClients(`127.0.0.1:${ports.grpcPort}`);
  });
  afterAll(async () => {
    grpc.close();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const statusOf = (name: string) => server.status().models.find((m) => m.name === name)!;

  it('serves every version the config asks for, batched as configured', async () => {
    expect(statusOf('adder').versions.map((v) => [v.version, v.state, v.batching])).toEqual([[2, 'AVAILABLE', true], [1, 'AVAILABLE', true]]);
    const res = await postText(`${base}/v2/models/adder/versions/1/infer`, JSON.stringify({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: [1, 2, 3, 4.5] }],
    }));
    expect(res.status).toBe(200);
    expect(res.json.outputs[0]).toMatchObject({ name: 'y', shape: [2, 2], data: [2, 4, 6, 9] });
  });

  it('names unknown and unsupported fields in the model status', () => {
    const ignored = statusOf('adder').ignoredFields.map((f) => f.field);
    expect(ignored).toEqual(['frobnicate', 'response_cache']);
  });

  it('refuses a config that contradicts its model, naming the field; that model alone fails', () => {
    const wrongType = statusOf('wrong_type').versions[0]!;
    expect(wrongType.state).toBe('END');
    expect(wrongType.error).toMatch(/config\.pbtxt: input\[0\]\.data_type: TYPE_INT32, but the model's input 'x' is TYPE_FP32/);
    expect(statusOf('wrong_dim').versions[0]!.error).toMatch(/input\[0\]\.dims\[0\]: 3, but the model's input 'x' has 2 there/);
    expect(statusOf('fixed_batched').versions[0]!.error).toMatch(/max_batch_size: 4 needs a batch dim, but the model's input 'x' has a fixed dim 0 of 1/);
  });

  it('lists a model whose config.pbtxt does not parse, with the line, and loads nothing for it', async () => {
    const broken = statusOf('broken');
    expect(broken.versions).toEqual([]);
    expect(broken.configError).toMatch(/broken\/config\.pbtxt:2:\d+: input\[0\]: '\{' at line 2 is never closed/);
    const res = await postText(`${base}/v2/models/broken/infer`, JSON.stringify({ inputs: [] }));
    expect(res.status).toBe(404);
    expect(res.json.error).toMatch(/never closed/);
  });

  it('serves a model that cannot batch unbatched under --enable_batching, with the reason in status and log', async () => {
    const fixed = statusOf('fixed').versions[0]!;
    expect(fixed).toMatchObject({ state: 'AVAILABLE', batching: false });
    expect(fixed.batchingNote).toMatch(/fixed dim 0 of 1/);
    expect(logLines.some((l) => /"model":"fixed"/.test(l) && /unbatched/.test(l))).toBe(true);
    const res = await postText(`${base}/v2/models/fixed/infer`, JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }));
    expect(res.status).toBe(200);
    expect(res.json.outputs[0].data).toEqual([1, 2, 3, 4]);
  });

  it('GET /v2/models/{m}/config returns the effective config in Triton\'s JSON form', async () => {
    const { status, json } = await getJson(`${base}/v2/models/adder/config`);
    expect(status).toBe(200);
    expect(json).toMatchObject({
      name: 'adder', platform: 'onnxruntime_onnx', backend: 'onnxruntime', max_batch_size: 8,
      version_policy: { all: {} },
      input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [2], format: 'FORMAT_NONE', optional: false }],
      output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [2] }],
      dynamic_batching: { max_queue_delay_microseconds: 100, preferred_batch_size: [], priority_levels: 0 },
      instance_group: [{ kind: 'KIND_CPU', count: 1 }],
      default_model_filename: 'model.onnx',
    });
    const v1 = await getJson(`${base}/v2/models/adder/versions/1/config`);
    expect(v1.json.name).toBe('adder');
    const missing = await getJson(`${base}/v2/models/adder/versions/7/config`);
    expect(missing.status).toBe(404);
  });

  it('auto-completes a model without config.pbtxt from its metadata (batched: max_batch_size and dims without dim 0)', async () => {
    const { json } = await getJson(`${base}/v2/models/auto/config`);
    expect(json).toMatchObject({
      name: 'auto', max_batch_size: 16,
      input: [{ name: 'x', data_type: 'TYPE_INT32', dims: [2] }],
      output: [{ name: 'y', data_type: 'TYPE_INT32', dims: [2] }],
      dynamic_batching: { max_queue_delay_microseconds: 0 },
    });
    // Unbatched: max_batch_size 0 and the model's full dims.
    const fixed = await getJson(`${base}/v2/models/fixed/config`);
    expect(fixed.json).toMatchObject({ max_batch_size: 0, input: [{ name: 'x', dims: [1, 4] }] });
    expect(fixed.json.dynamic_batching).toBeUndefined();
  });

  it('instance_group count: 2 gives two sessions of the version, and requests spread over them', async () => {
    const version = statusOf('twins').versions[0]!;
    expect(version).toMatchObject({ state: 'AVAILABLE', instances: 2, batching: false });
    const session = server.registry.resolve('twins').session;
    const before = session.instanceStats().map((s) => s.tasksRun);
    const x = { dtype: 'float32' as const, shape: [1, 2], data: new Float32Array([1, 2]) };
    // Issued in one turn: each goes to the instance with fewer requests unsettled, so they alternate.
    const results = await Promise.all([1, 2, 3, 4].map(() => session.run(new Map([['x', x]]))));
    results.forEach((r) => expect([...(r.get('y')!.data as Float32Array)]).toEqual([2, 4]));
    const after = session.instanceStats().map((s) => s.tasksRun);
    expect(after.map((n, i) => n - before[i]!)).toEqual([2, 2]);
    expect(session.stats().tasksRun).toBe(after[0]! + after[1]!);
    const { json } = await getJson(`${base}/v2/models/twins/config`);
    expect(json.instance_group).toMatchObject([{ kind: 'KIND_CPU', count: 2 }]);
  });

  it('priority levels reach the native queue, and every protocol passes a request\'s priority, refusing one past the levels', async () => {
    const session = server.registry.resolve('ranked').session;
    expect(session.metadata.batching.priorityLevels).toBe(2);
    const body = (priority: number) => JSON.stringify({ parameters: { priority }, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
    for (const priority of [0, 1, 2]) {
      const ok = await postText(`${base}/v2/models/ranked/infer`, body(priority));
      expect(ok.status).toBe(200);
      expect(ok.json.outputs[0].data).toEqual([2, 4]);
    }
    const bad = await postText(`${base}/v2/models/ranked/infer`, body(3));
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 'ERR_INVALID_INPUT', error: expect.stringMatching(/priority: 3 is not one of the model's priority levels \(1\.\.2/) });
    // A model without priority levels ignores it, as Triton does.
    const plain = await postText(`${base}/v2/models/adder/infer`, body(7));
    expect(plain.status).toBe(200);
    const grpcBad = await unaryCall(grpc.kserve, 'ModelInfer', {
      model_name: 'ranked', parameters: { priority: { int64_param: '3' } },
      inputs: [{ name: 'x', datatype: 'FP32', shape: ['1', '2'], contents: { fp32_contents: [1, 2] } }],
    });
    expect(grpcBad.error?.code).toBe(3);   // INVALID_ARGUMENT
    expect(grpcBad.error?.details).toMatch(/priority: 3/);
    const fbRequest = (priority: number) => encodeInferRequest({
      id: 'p', model: 'ranked', inputs: new Map([['x', { dtype: 'float32', shape: [1, 2], data: new Float32Array([1, 2]) } as Tensor]]), outputs: [], priority,
    });
    const fb = async (priority: number) => decodeInferResponse(new Uint8Array(await (await fetch(`${base}/v1/flatbuffers/infer`, { method: 'POST', body: fbRequest(priority) })).arrayBuffer()));
    expect([...((await fb(1)).outputs.get('y')!.data as Float32Array)]).toEqual([2, 4]);
    expect((await fb(3)).error).toMatchObject({ code: 'ERR_INVALID_INPUT', message: expect.stringMatching(/priority: 3/) });
    const { json } = await getJson(`${base}/v2/models/ranked/config`);
    expect(json.dynamic_batching).toMatchObject({
      priority_levels: 2, default_priority_level: 2,
      default_queue_policy: { timeout_action: 'DELAY', default_timeout_microseconds: 60000000 },
      priority_queue_policy: { 1: { timeout_action: 'REJECT', max_queue_size: 5 } },
    });
    expect(statusOf('ranked').ignoredFields).toEqual([]);
  });

  it('gRPC ModelConfig returns the same config', async () => {
    const { error, response } = await unaryCall(grpc.kserve, 'ModelConfig', { name: 'adder', version: '' });
    expect(error).toBeUndefined();
    expect(response.config).toMatchObject({
      name: 'adder', max_batch_size: 8, backend: 'onnxruntime',
      input: [{ name: 'x', data_type: 'TYPE_FP32', dims: ['2'] }],
      dynamic_batching: { max_queue_delay_microseconds: '100' },
      version_policy: { all: {}, policy_choice: 'all' },
    });
    const unknown = await unaryCall(grpc.kserve, 'ModelConfig', { name: 'nope', version: '' });
    expect(unknown.error?.code).toBe(5);   // NOT_FOUND
  });
});

describe('--model_repository beside --model_config_file', () => {
  it('serves both, and refuses a model name both define', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'ortserve-triton-both-'));
    try {
      writeModel(path.join(root, 'repo'), 'a', identityModel('float32'));
      writeModel(path.join(root, 'tf'), 'b', identityModel('float32'));
      const file = path.join(root, 'models.config');
      writeFileSync(file, 'model_config_list { config { name: "b" base_path: "tf/b" } }');
      const common = { host: '127.0.0.1', restApiPort: 0, grpcPort: 0, modelConfigFile: file, modelRepository: path.join(root, 'repo'), logger: pino({ level: 'silent' }) };
      const both = createServer(common);
      await both.start();
      expect(both.status().models.map((m) => [m.name, m.versions[0]?.state])).toEqual([['b', 'AVAILABLE'], ['a', 'AVAILABLE']]);
      await both.stop();
      writeModel(path.join(root, 'repo'), 'b', identityModel('float32'));
      const clash = createServer(common);
      await expect(clash.start()).rejects.toThrow(/--model_repository: model 'b' is also in --model_config_file/);
      await clash.stop();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the committed Triton example repository (examples/triton)', () => {
  const example = path.resolve(__dirname, '..', 'examples', 'triton');

  it('is what scripts/make-example-models.mjs writes, byte for byte', () => {
    const fresh = mkdtempSync(path.join(os.tmpdir(), 'ortserve-triton-example-'));
    try {
      for (const written of writeTritonExample(fresh)) {
        const rel = path.relative(fresh, written);
        expect(readFileSync(path.join(example, rel)).equals(readFileSync(written)), rel).toBe(true);
      }
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('runs unchanged: both versions batched over two instances, with priorities, and multi_io auto-completed', async () => {
    const server = createServer({ host: '127.0.0.1', restApiPort: 0, grpcPort: 0, modelRepository: example, logger: pino({ level: 'silent' }) });
    const { restPort } = await server.start();
    try {
      const base = `http://127.0.0.1:${restPort}`;
      const mlp = server.status().models.find((m) => m.name === 'mlp')!;
      expect(mlp.ignoredFields).toEqual([]);
      expect(mlp.versions.map((v) => [v.version, v.state, v.batching, v.instances])).toEqual([[2, 'AVAILABLE', true, 2], [1, 'AVAILABLE', true, 2]]);
      expect(server.registry.resolve('mlp').session.metadata.batching).toMatchObject({ maxBatchSize: 8, batchTimeoutMicros: 500, priorityLevels: 2 });
      const x = [[1, 2, 3, 4], [0, -1, 2, 1]];
      for (const version of [1, 2]) {
        const res = await postText(`${base}/v2/models/mlp/versions/${version}/infer`, JSON.stringify({
          parameters: { priority: 1 }, inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], data: x.flat() }],
        }));
        expect(res.status).toBe(200);
        expect(res.json.outputs[0].data).toEqual(mlpForward(x, version).flat());
      }
      const auto = await getJson(`${base}/v2/models/multi_io/config`);
      expect(auto.json).toMatchObject({ max_batch_size: 0, input: [{ name: 'a', data_type: 'TYPE_FP32', dims: [-1, 3] }, { name: 'b', data_type: 'TYPE_INT64' }, { name: 'text', data_type: 'TYPE_STRING', dims: [-1] }] });
    } finally {
      await server.stop();
    }
  });
});

describe('editing a config.pbtxt while serving', () => {
  it('reloads the model with the new config once the file reads the same twice; a broken edit keeps the old one', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'ortserve-triton-edit-'));
    writeModel(root, 'adder', addModel('float32'), 'max_batch_size: 4\ndynamic_batching { }');
    const server = createServer({
      host: '127.0.0.1', restApiPort: 0, grpcPort: 0, modelRepository: root, fileSystemPollWaitSeconds: 1, versionSettleSeconds: 0,
      logger: pino({ level: 'silent' }),
    });
    await server.start();
    const waitFor = async (done: () => boolean) => {
      for (let i = 0; i < 600 && !done(); i++) await new Promise((r) => setTimeout(r, 50));
      expect(done()).toBe(true);
    };
    try {
      const batchSize = () => {
        try {
          return server.registry.resolve('adder').session.metadata.batching.maxBatchSize;
        } catch {
          return undefined;
        }
      };
      expect(batchSize()).toBe(4);
      writeFileSync(path.join(root, 'adder', 'config.pbtxt'), 'max_batch_size: 16\ndynamic_batching { }');
      await waitFor(() => batchSize() === 16);
      const events: string[] = [];
      server.registry.onEvent((e) => { if (e.type === 'config' && !e.ok) events.push(e.error ?? ''); });
      writeFileSync(path.join(root, 'adder', 'config.pbtxt'), 'max_batch_size: 16\ndynamic_batching { priority_levels: 2 }');
      await waitFor(() => events.length > 0);
      expect(events[0]).toMatch(/default_priority_level: must be between 1 and priority_levels \(2\)/);
      expect(batchSize()).toBe(16);   // still serving with the config it had
      expect(server.status().models.find((m) => m.name === 'adder')!.versions[0]!.state).toBe('AVAILABLE');
    } finally {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('execution-provider options (CPU-only machine: the providers cannot load)', () => {
  it('maps Triton\'s TensorRT and CUDA parameters onto ONNX Runtime\'s provider option keys', () => {
    expect(tritonProviderOptions('tensorrt', {
      precision_mode: 'FP16', max_workspace_size_bytes: '1073741824', trt_engine_cache_enable: 'true',
      trt_engine_cache_path: '/cache/trt', trt_timing_cache_enable: '1',
    })).toEqual({
      options: {
        trt_fp16_enable: '1', trt_max_workspace_size: '1073741824', trt_engine_cache_enable: '1', trt_engine_cache_path: '/cache/trt',
        trt_timing_cache_enable: '1',
      },
      problems: [],
    });
    expect(tritonProviderOptions('tensorrt', { precision_mode: 'INT8' }).options).toEqual({ trt_int8_enable: '1' });
    expect(tritonProviderOptions('cuda', { cudnn_conv_algo_search: '1', gpu_mem_limit: '2147483648', enable_cuda_graph: 'true' }).options)
      .toEqual({ cudnn_conv_algo_search: 'HEURISTIC', gpu_mem_limit: '2147483648', enable_cuda_graph: '1' });
    expect(tritonProviderOptions('tensorrt', { precision_mode: 'FP8', trt_bogus: '1' }).problems).toEqual([
      { key: 'precision_mode', problem: "'FP8' is not FP32, FP16 or INT8" },
      { key: 'trt_bogus', problem: expect.stringMatching(/not a tensorrt provider option ortserve passes on/) },
    ]);
  });

  it('hands the options to the providers\' options structs, and the fallback reason names the provider', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'ortserve-triton-ep-'));
    writeModel(root, 'gpu', addModel('float32'), `
      instance_group [ { kind: KIND_GPU, count: 1, gpus: [ 1 ] } ]
      optimization { cuda { graphs: true } execution_accelerators { gpu_execution_accelerator: [ {
        name: "tensorrt"
        parameters { key: "precision_mode" value: "FP16" }
        parameters { key: "max_workspace_size_bytes" value: "1073741824" }
        parameters { key: "trt_engine_cache_enable" value: "1" }
        parameters { key: "trt_engine_cache_path" value: "/tmp/trt-cache" }
      } ] } }
      parameters { key: "cudnn_conv_algo_search" value: { string_value: "0" } }
      parameters { key: "gpu_mem_limit" value: { string_value: "4294967296" } }`);
    writeModel(root, 'bad_precision', addModel('float32'), `
      instance_group [ { kind: KIND_GPU } ]
      optimization { execution_accelerators { gpu_execution_accelerator: [ { name: "tensorrt" parameters { key: "precision_mode" value: "FP8" } } ] } }`);
    const lines: string[] = [];
    const server = createServer({
      host: '127.0.0.1', restApiPort: 0, grpcPort: 0, modelRepository: root,
      logger: pino({ level: 'warn' }, { write: (line: string) => lines.push(line) }),
    });
    await server.start();
    try {
      const providers = server.status().models.find((m) => m.name === 'gpu')!.versions[0]!.providers!;
      expect(providers.map((p) => [p.name, p.active])).toEqual([['tensorrt', false], ['cuda', false], ['cpu', true]]);
      const [trt, cuda] = providers as Array<{ options: Record<string, string>; reason: string }>;
      expect(trt!.options).toEqual({
        device_id: '1', trt_fp16_enable: '1', trt_max_workspace_size: '1073741824', trt_engine_cache_enable: '1', trt_engine_cache_path: '/tmp/trt-cache',
      });
      expect(cuda!.options).toEqual({ device_id: '1', cudnn_conv_algo_search: 'EXHAUSTIVE', gpu_mem_limit: '4294967296', enable_cuda_graph: '1' });
      expect(trt!.reason).toMatch(/^TensorRT execution provider \(device 1\) could not be added, falling back: /);
      expect(cuda!.reason).toMatch(/^CUDA execution provider \(device 1\) could not be added, falling back: /);
      expect(lines.some((l) => /execution provider tensorrt skipped/.test(l) && /TensorRT execution provider \(device 1\)/.test(l))).toBe(true);
      const res = await postText(`http://127.0.0.1:${server.status().restPort}/v2/models/gpu/infer`, JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] }));
      expect(res.json.outputs[0].data).toEqual([2, 4]);   // served by the CPU provider
      expect(server.status().models.find((m) => m.name === 'bad_precision')!.configError)
        .toMatch(/config\.pbtxt: optimization\.execution_accelerators\.gpu_execution_accelerator\[0\]\.parameters\["precision_mode"\]: 'FP8' is not FP32, FP16 or INT8/);
    } finally {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('takes ONNX Runtime\'s own keys from a TF-style config\'s provider_options, refusing unknown ones by name', () => {
    const entry = (extra: string) => parseModelEntry(`name: "m" base_path: "/m" execution_providers: "tensorrt:0,cuda:1" ${extra}`, { format: 'pbtxt', source: 'models.config', baseDir: '/' }, 'm');
    const ok = entry('provider_options { name: "tensorrt" options { key: "trt_fp16_enable" value: "true" } } provider_options { name: "cuda" options { key: "gpu_mem_limit" value: "1024" } }');
    expect(ok.session.executionProviders).toEqual([
      { name: 'tensorrt', deviceId: 0, options: { trt_fp16_enable: '1' } },
      { name: 'cuda', deviceId: 1, options: { gpu_mem_limit: '1024' } },
    ]);
    expect(() => entry('provider_options { name: "cuda" options { key: "trt_fp16_enable" value: "1" } }')).toThrow(/config\.provider_options\[0\]\.options: "trt_fp16_enable": not a cuda provider option/);
    expect(() => parseModelEntry('name: "m" base_path: "/m" provider_options { name: "cuda" }', { format: 'pbtxt', source: 'models.config', baseDir: '/' }, 'm'))
      .toThrow(/provider_options\[0\]\.name: 'cuda' is not in this model's execution_providers/);
    const yaml = parseModelEntry('{"name": "m", "base_path": "/m", "execution_providers": "cuda:0", "provider_options": [{"name": "cuda", "options": {"cudnn_conv_algo_search": "DEFAULT"}}]}', { format: 'yaml', source: 'body', baseDir: '/' }, 'm');
    expect(yaml.session.executionProviders).toEqual([{ name: 'cuda', deviceId: 0, options: { cudnn_conv_algo_search: 'DEFAULT' } }]);
  });
});

describe('instance_count in a TF-style model config', () => {
  it('is the number of sessions per version, 1..64', () => {
    const entry = (extra: string) => parseModelEntry(`name: "m" base_path: "/m" ${extra}`, { format: 'pbtxt', source: 'models.config', baseDir: '/' }, 'm');
    expect(entry('instance_count: 3').instances).toBe(3);
    expect(entry('').instances).toBeUndefined();
    expect(() => entry('instance_count: 0')).toThrow(/config\.instance_count: 0 is outside 1\.\.64/);
  });
});
