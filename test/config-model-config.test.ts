// Model config parsing: TF Serving's text format and the YAML/JSON form, the same meaning, and every error path.

import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createServer } from '../src/index.js';
import {
  configFormatForBody, configFormatForFile, modelConfigToJson, parseModelEntry, parseModelServerConfig, readModelConfigFile,
  type ConfigFormat, type ModelServerConfig,
} from '../src/config/model-config.js';
import { sessionOptionsFor } from '../src/registry/version-loader.js';

const parse = (text: string, format: ConfigFormat = 'pbtxt', source = 'models.config'): ModelServerConfig =>
  parseModelServerConfig(text, { format, source, baseDir: '/etc/ortserve' });
const asJson = (c: ModelServerConfig) => c.models.map(modelConfigToJson);

const FULL_PBTXT = `
# Two models, every field ortserve reads.
model_config_list {
  config {
    name: 'mlp'
    base_path: "/models/mlp"
    model_platform: "onnx"
    model_version_policy { specific { versions: 1 versions: 2 } }
    version_labels { key: 'stable' value: 1 }
    version_labels { key: 'canary' value: 2 }
    batching {
      max_batch_size { value: 8 }          # TF Serving's wrapper form
      batch_timeout_micros: 500
      max_enqueued_batches: 4
      num_batch_threads: 2
      allowed_batch_sizes: [2, 4, 8]
      preferred_batch_sizes: 4
      pad_variable_length_inputs: true
    }
    execution_providers: "cuda:0"
    execution_providers: "cpu"
    intra_op_threads: 2
    inter_op_threads: 1
    graph_optimization_level: EXTENDED
    version_swap_policy: RESOURCE_PRESERVING
    warmup_iterations: 3
    max_concurrent_runs: 3
  },
  config: < name: "b" base_path: "rel/b" model_version_policy: { latest: { num_versions: 2 } } >;
  config { name: "c" base_path: "/c" model_version_policy { all {} } }
}
`;

const FULL_YAML = `
model_config_list:
  config:
    - name: mlp
      base_path: /models/mlp
      model_platform: onnx
      model_version_policy: { specific: { versions: [1, 2] } }
      version_labels: { stable: 1, canary: 2 }
      batching: &batching
        max_batch_size: 8
        batch_timeout_micros: 500
        max_enqueued_batches: 4
        num_batch_threads: 2
        allowed_batch_sizes: [2, 4, 8]
        preferred_batch_sizes: [4]
        pad_variable_length_inputs: true
      execution_providers: "cuda:0,cpu"
      intra_op_threads: 2
      inter_op_threads: 1
      graph_optimization_level: extended
      version_swap_policy: resource_preserving
      warmup_iterations: 3
      max_concurrent_runs: 3
    - name: b
      base_path: rel/b
      model_version_policy:
        latest:
          num_versions: 2
    - { name: c, base_path: /c, model_version_policy: { all: } }
`;

describe('valid configs', () => {
  it('text format: every field, both block styles, separators, comments, relative base paths', () => {
    const config = parse(FULL_PBTXT);
    expect(config.models.map((m) => m.name)).toEqual(['mlp', 'b', 'c']);
    const [mlp, b, c] = config.models;
    expect(mlp).toMatchObject({
      basePath: '/models/mlp', platform: 'onnx', versionPolicy: { kind: 'specific', versions: [2, 1] },
      batching: { maxBatchSize: 8, batchTimeoutMicros: 500, maxEnqueuedBatches: 4, numBatchThreads: 2, allowedBatchSizes: [2, 4, 8], preferredBatchSizes: [4], padVariableLengthInputs: true },
      session: { intraOpThreads: 2, interOpThreads: 1, graphOptimizationLevel: 'extended', executionProviders: [{ name: 'cuda', deviceId: 0 }, { name: 'cpu', deviceId: 0 }], maxConcurrentRuns: 3 },
      swapPolicy: 'resource_preserving', warmupIterations: 3,
    });
    expect(Object.fromEntries(mlp!.versionLabels)).toEqual({ stable: 1, canary: 2 });
    expect(b).toMatchObject({ basePath: '/etc/ortserve/rel/b', versionPolicy: { kind: 'latest', numVersions: 2 } });
    expect(c!.versionPolicy).toEqual({ kind: 'all' });
  });

  it('YAML and JSON mean the same as the text format', () => {
    const fromText = asJson(parse(FULL_PBTXT));
    expect(asJson(parse(FULL_YAML, 'yaml'))).toEqual(fromText);
    const json = JSON.stringify({ model_config_list: { config: fromText } });
    expect(asJson(parse(json, 'yaml', 'models.json'))).toEqual(fromText);
  });

  it('max_concurrent_runs is the engine\'s per-version limit, batched or not, and wins over batching.num_batch_threads', () => {
    const defaults = { batching: { enabled: false, maxQueuedRequests: 7 } };
    const [limited, both, neither] = parse(`model_config_list {
      config { name: "a" base_path: "/a" max_concurrent_runs: 1 }
      config { name: "b" base_path: "/b" max_concurrent_runs: 2 batching { num_batch_threads: 5 } }
      config { name: "c" base_path: "/c" }
    }`).models;
    expect(sessionOptionsFor(limited!, defaults, 'a:1').batching).toEqual({ enabled: false, maxQueuedRequests: 7, numBatchThreads: 1 });
    expect(sessionOptionsFor(both!, defaults, 'b:1').batching).toMatchObject({ enabled: true, numBatchThreads: 2 });
    expect(sessionOptionsFor(neither!, defaults, 'c:1').batching).toEqual({ enabled: false, maxQueuedRequests: 7 });
  });

  it('defaults: latest{1}, platform onnx, no labels; an empty list is allowed when written out', () => {
    const [m] = parse('model_config_list { config { name: "m" base_path: "/m" } }').models;
    expect(m).toMatchObject({ platform: 'onnx', versionPolicy: { kind: 'latest', numVersions: 1 }, session: {} });
    expect(m!.versionLabels.size).toBe(0);
    expect(parse('model_config_list {}').models).toEqual([]);
    expect(parse('model_config_list: {config: []}', 'yaml').models).toEqual([]);
  });

  it('text format strings: escapes, adjacent strings concatenate, octal and unicode', () => {
    const [m] = parse(String.raw`model_config_list { config { name: "a\x62" 'c' base_path: "/p\101th\u00e9\n" } }`).models;
    expect(m!.name).toBe('abc');
    expect(m!.basePath).toBe('/pAthé\n');
  });

  it('reads files by extension, resolving relative paths against the file, and bodies by content type', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ortserve-cfg-'));
    writeFileSync(path.join(dir, 'models.config'), 'model_config_list { config { name: "m" base_path: "m" } }');
    writeFileSync(path.join(dir, 'models.yaml'), 'model_config_list: {config: [{name: m, base_path: m}]}');
    for (const file of ['models.config', 'models.yaml']) {
      expect(readModelConfigFile(path.join(dir, file)).models[0]!.basePath).toBe(path.join(dir, 'm'));
    }
    expect(configFormatForFile('a/models.json')).toBe('yaml');
    expect(configFormatForFile('a/models.pbtxt')).toBe('pbtxt');
    expect(configFormatForBody('application/json', 'x')).toBe('yaml');
    expect(configFormatForBody('', ' {"model_config_list": {}}')).toBe('yaml');
    expect(configFormatForBody('text/plain', 'model_config_list {}')).toBe('pbtxt');
    expect(() => readModelConfigFile(path.join(dir, 'missing.config'))).toThrow(/--model_config_file: cannot read '.*missing\.config'/);
  });

  it('a server refuses to start on a bad config file, naming the file, line and field', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ortserve-cfg-'));
    const file = path.join(dir, 'models.config');
    writeFileSync(file, 'model_config_list {\n  config { name: "m" base_path: "m" model_version_policy { latest { num_versions: -2 } } }\n}\n');
    const server = createServer({ modelConfigFile: file, host: '127.0.0.1', restApiPort: 0, logger: pino({ level: 'silent' }) });
    await expect(server.start()).rejects.toThrow(/^models\.config:2:83: model_config_list\.config\[0\]\.model_version_policy\.latest\.num_versions: -2 is outside 1\.\.1000000$/);
    await server.stop();
  });

  it('one model entry alone (the management API\'s load), with the name defaulting to the URL\'s', () => {
    const m = parseModelEntry('{"base_path": "/x", "version_labels": {"stable": 3}}', { format: 'yaml', source: 'parameters.config', baseDir: '/' }, 'x');
    expect(m).toMatchObject({ name: 'x', basePath: '/x' });
    expect(() => parseModelEntry('{"base_path": "/x", "nme": 1}', { format: 'yaml', source: 'parameters.config', baseDir: '/' }, 'x'))
      .toThrow(/parameters\.config:1:21: config\.nme: unknown field \(did you mean name\?/);
  });
});

const cfg = (fields: string) => `model_config_list {\n  config {\n    name: "m"\n    base_path: "/m"\n    ${fields}\n  }\n}\n`;

describe('text format errors name the line, column and field', () => {
  it.each([
    [cfg('basepath: "/x"'), /^models\.config:5:5: model_config_list\.config\[0\]\.basepath: unknown field \(did you mean base_path\?/],
    [cfg('logging_config {}'), /:5:5: model_config_list\.config\[0\]\.logging_config: TF Serving's request logging is not supported/],
    [cfg('model_type: TENSORFLOW'), /:5:5: .*model_type: is deprecated in TF Serving/],
    ['custom_model_config {}', /:1:1: custom_model_config: custom model configs are not supported/],
    [cfg('name: "again"'), /:5:5: model_config_list\.config\[0\]\.name: given twice \(first at line 3\)/],
    [cfg('model_version_policy { latest { num_versions: 0 } }'), /:5:51: .*model_version_policy\.latest\.num_versions: 0 is outside 1\.\.1000000/],
    [cfg('model_version_policy { latest { num_versions: 1.5 } }'), /latest\.num_versions: 1\.5 is not an integer/],
    [cfg('model_version_policy { latest { num_versions: "2" } }'), /latest\.num_versions: expected an integer, got '2'/],
    [cfg('model_version_policy { latest {} all {} }'), /:5:38: .*model_version_policy\.all: only one of latest, all, specific may be given \(also latest\)/],
    [cfg('model_version_policy { specific {} }'), /model_version_policy\.specific: versions: at least one version is required/],
    [cfg('model_version_policy { specific { versions: [3, 3] } }'), /specific\.versions: version 3 is listed twice/],
    [cfg('model_version_policy { specific { versions: -1 } }'), /specific\.versions\[0\]: -1 is outside 1\.\./],
    [cfg('model_version_policy: "latest"'), /model_version_policy: expected a message, got 'latest'/],
    [cfg('version_labels { key: "stable" value: 1 } version_labels { key: "stable" value: 2 }'), /version_labels\["stable"\]: given twice \(first at line 5\)/],
    [cfg('version_labels { key: "a/b" value: 1 }'), /version_labels\["a\/b"\]: a label is 1-256 characters/],
    [cfg('version_labels { key: "42" value: 1 }'), /version_labels\["42"\]: .*not a number/],
    [cfg('version_labels { key: "x" }'), /version_labels\[0\]: value is required/],
    [cfg('version_labels { key: "x" value: 1 extra: 2 }'), /version_labels\[0\]\.extra: unknown field/],
    [cfg('model_platform: "tensorflow"'), /model_platform: 'tensorflow' is not served by ortserve/],
    [cfg('version_swap_policy: FASTEST'), /version_swap_policy: 'FASTEST' is not one of availability_preserving, resource_preserving/],
    [cfg('graph_optimization_level: 3'), /graph_optimization_level: expected a string, got 3/],
    [cfg('intra_op_threads: 5000'), /intra_op_threads: 5000 is outside 0\.\.1024/],
    [cfg('max_concurrent_runs: 0'), /max_concurrent_runs: 0 is outside 1\.\.1024/],
    [cfg('execution_providers: "rocm:0"'), /execution_providers\[0\]: 'rocm' is not one of tensorrt, cuda, cpu/],
    [cfg('execution_providers: "cuda:x"'), /execution_providers\[0\]: 'cuda:x': the device id must be a non-negative integer/],
    [cfg('batching { allowed_batch_sizes: [4, 2] }'), /batching\.allowed_batch_sizes: must increase strictly \(4 is followed by 2\)/],
    [cfg('batching { max_batch_size: 16 allowed_batch_sizes: [4, 8] }'), /allowed_batch_sizes: the last entry \(8\) must equal max_batch_size \(16\)/],
    [cfg('batching { max_batch_size: 8 preferred_batch_sizes: 16 }'), /preferred_batch_sizes: 16 exceeds max_batch_size \(8\)/],
    [cfg('batching { max_batch_size {} }'), /batching\.max_batch_size: value is required/],
    [cfg('batching { max_batch_size: 0 }'), /batching\.max_batch_size: 0 is outside 1\.\./],
    [cfg('batching { pad_variable_length_inputs: maybe }'), /pad_variable_length_inputs: 'maybe' is not true or false/],
    [cfg('warmup_iterations: 1001'), /warmup_iterations: 1001 is outside 0\.\.1000/],
    ['model_config_list { config { base_path: "/m" } }', /:1:28: model_config_list\.config\[0\]: name is required/],
    ['model_config_list { config { name: "m" } }', /model_config_list\.config\[0\]: base_path is required/],
    ['model_config_list { config { name: "m" base_path: "" } }', /base_path: must not be empty/],
    ['model_config_list { config { name: "a:b" base_path: "/m" } }', /name: 'a:b' must be 1-256 characters without/],
    ['model_config_list { config { name: m base_path: "/m" } }', /config\[0\]\.name: expected a string, got 'm'/],
    ['model_config_list { config { name: "m" base_path: "/a" } config { name: "m" base_path: "/b" } }', /model_config_list\.config\[1\]\.name: 'm' is already used by model_config_list\.config\[0\]/],
    ['', /models\.config:1:1: model_config_list is required \(write `model_config_list \{\}` to serve no models\)/],
    ['model_config_list { config { name: "m" base_path: "/m" }', /:1:19: model_config_list: '\{' at line 1 is never closed with '\}'/],
    ['model_config_list {\n config { name: "m\n" } }', /:2:17: unterminated string/],
    ['model_config_list { config { name: "\\q" } }', /invalid escape '\\q'/],
    ['model_config_list { config { name "m" } }', /:1:35: model_config_list\.config\.name: expected ':' or '\{' after 'name', found '"m"'/],
    ['model_config_list { config { name: } }', /model_config_list\.config\.name: expected a value, found '\}'/],
    ['model_config_list { config { name: "m" base_path: "/m" model_version_policy { specific { versions: [1 2] } } } }', /specific\.versions: expected ',' or '\]' in the list, found '2'/],
    ['model_config_list { [ext.field]: 1 }', /model_config_list: extension and Any fields/],
    ['model_config_list { config { name: "m" = } }', /:1:40: unexpected character "="/],
    ['model_config_list { 42 }', /model_config_list: expected a field name, found '42'/],
  ])('%#: %j', (text, message) => {
    expect(() => parse(text)).toThrow(message);
    try {
      parse(text);
    } catch (err) {
      expect((err as { code: string }).code).toBe('ERR_CONFIG');
    }
  });
});

describe('YAML/JSON errors name the line, column and field', () => {
  const y = (fields: string) => `model_config_list:\n  config:\n    - name: m\n      base_path: /m\n      ${fields}\n`;
  it.each([
    [y('basepath: /x'), 'yaml', /^models\.yaml:5:7: model_config_list\.config\[0\]\.basepath: unknown field \(did you mean base_path\?/],
    [y('model_version_policy: {latest: {num_versions: two}}'), 'yaml', /:5:53: .*latest\.num_versions: 'two' is not an integer/],
    [y('model_version_policy: {latest: {num_versions: "2"}}'), 'yaml', /latest\.num_versions: expected an integer, got '2'/],
    [y('version_labels: {stable: 1, stable: 2}'), 'yaml', /:5:35: model_config_list\.config\[0\]\.version_labels\.stable: given twice \(first at line 5\)/],
    [y('version_labels: [{key: a, value: 1}, {key: a, value: 2}]'), 'yaml', /version_labels\["a"\]: given twice/],
    [y('version_labels: {stable: 0}'), 'yaml', /version_labels\["stable"\]: 0 is outside 1\.\./],
    [y('version_labels: [1]'), 'yaml', /version_labels\[0\]: expected a message, got 1/],
    [y('name: again'), 'yaml', /:5:7: model_config_list\.config\[0\]\.name: given twice \(first at line 3\)/],
    [y('model_version_policy: [latest]'), 'yaml', /model_version_policy: expected one value, got a list/],
    [y('batching: {pad_variable_length_inputs: "yes"}'), 'yaml', /pad_variable_length_inputs: 'yes' is not true or false/],
    [y('intra_op_threads: 1e400'), 'yaml', /intra_op_threads: Infinity is not an integer/],
    [y('intra_op_threads: 9007199254740993'), 'yaml', /intra_op_threads: 9007199254740992 is not an integer|outside/],
    [y('base: &a {x: *a}'), 'yaml', /base: unknown field|alias/i],
    [y('? [a, b]\n      : 1'), 'yaml', /keys must be plain strings/],
    ['model_config_list:\n  config:\n    - name: m\n     base_path: /m\n', 'yaml', /models\.yaml:4:\d+: YAML: /],
    ['{"model_config_list": {"config": [{"name": "m",, }]}}', 'json', /models\.yaml:1:48: YAML: /],
    ['{"model_config_list": {"config": [{"name": "m", "base_path": 7}]}}', 'json', /config\[0\]\.base_path: expected a string, got 7/],
    ['[1, 2]', 'json', /models\.yaml:1:1: expected a message, got a list/],
    ['model_config_list: {}\nextra: 1', 'yaml', /:2:1: extra: unknown field \(known fields: model_config_list\)/],
  ])('%#: %j', (text, _kind, message) => {
    expect(() => parse(text, 'yaml', 'models.yaml')).toThrow(message);
  });

  it('refuses an alias cycle instead of recursing forever', () => {
    expect(() => parse('model_config_list: &x\n  config: [*x]\n', 'yaml', 'models.yaml')).toThrow(/nested deeper than 32 levels \(or an alias cycle\)|expected a message/);
  });
});
