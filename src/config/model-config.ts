// The model config (--model_config_file): what each model's entry means, decoded from TF Serving text format or YAML/JSON.

import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { OrtServeError } from '../errors.js';
import { GRAPH_OPTIMIZATION_LEVELS, type GraphOptimizationLevel } from '../engine/native-binding.js';
import { ProviderEntryError, ortProviderOptions, parseExecutionProviderList, type ExecutionProviderRequest } from './execution-providers.js';
import { DEFAULT_MAX_CONFIG_BYTES, checkConfigSize } from './config-limits.js';
import { MessageReader, configError, type ConfigFormat, type ReaderContext, type SourcePos } from './model-config-reader.js';
import { parsePbtxt } from './model-config-pbtxt.js';
import { parseYaml } from './model-config-yaml.js';
import { decodeSequenceBatching, sequenceBatchingToJson, type SequenceBatchingConfig } from './model-config-sequence.js';
import type { IgnoredField } from './model-config-reader.js';
import type { TritonModelConfig } from './triton-config.js';

export type { ConfigFormat } from './model-config-reader.js';
export type { ExecutionProviderRequest } from './execution-providers.js';
export type { SequenceBatchingConfig } from './model-config-sequence.js';

/** TF Serving's ServableVersionPolicy: which version directories are loaded. */
export type VersionPolicy =
  | { kind: 'latest'; numVersions: number }
  | { kind: 'all' }
  | { kind: 'specific'; versions: number[] };

/** availability_preserving loads the new version before unloading the old; resource_preserving unloads first. */
export const SWAP_POLICIES = ['availability_preserving', 'resource_preserving'] as const;
export type SwapPolicy = (typeof SWAP_POLICIES)[number];


/** The batching section, stored and passed through to the batcher (undefined fields: the batcher's defaults). */
export interface BatchingConfig {
  maxBatchSize?: number;
  batchTimeoutMicros?: number;
  maxEnqueuedBatches?: number;
  numBatchThreads?: number;
  allowedBatchSizes: number[];
  preferredBatchSizes: number[];
  padVariableLengthInputs: boolean;
  /** Priority levels with their queue policies, level 1 first (from a Triton config's dynamic_batching). */
  priorityLevels?: Array<{ delayOnTimeout: boolean; timeoutMicros: number; allowTimeoutOverride: boolean; maxQueueSize: number }>;
  /** The level of a request that names none, 1-based. */
  defaultPriorityLevel?: number;
}


/** Per-model ONNX Runtime session settings; undefined fields fall back to the server's flags. */
export interface ModelSessionConfig {
  intraOpThreads?: number;
  interOpThreads?: number;
  graphOptimizationLevel?: GraphOptimizationLevel;
  executionProviders?: ExecutionProviderRequest[];
  /**
   * Most batches (or single requests) of this model running at once on the shared native workers (`max_concurrent_runs`);
   * undefined: batching.num_batch_threads, else the server's --max_concurrent_runs_per_model.
   */
  maxConcurrentRuns?: number;
}

export interface ModelConfig {
  name: string;
  /** Absolute: a relative base_path is resolved against the config file's directory. */
  basePath: string;
  platform: string;
  versionPolicy: VersionPolicy;
  /** label → version. */
  versionLabels: ReadonlyMap<string, number>;
  batching?: BatchingConfig;
  /** Triton's sequence_batching: the model is stateful and its requests belong to sequences. */
  sequenceBatching?: SequenceBatchingConfig;
  session: ModelSessionConfig;
  /** undefined: the server's --version_swap_policy. */
  swapPolicy?: SwapPolicy;
  /** undefined: the server's --num_request_iterations_for_warmup. */
  warmupIterations?: number;
  /** version → weight for requests naming neither version nor label; undefined: the policy's latest serves them. */
  traffic?: ReadonlyMap<number, number>;
  /** When a version other than the baseline loses its weight automatically; undefined: never. */
  trafficRollback?: TrafficRollbackConfig;
  /** The model file in each version directory (Triton's default_model_filename); undefined: model.onnx. */
  modelFilename?: string;
  /** Independent sessions of each version that run at once (Triton's instance_group count); undefined: 1. */
  instances?: number;
  /** Why this model never batches, whatever --enable_batching says (Triton's max_batch_size: 0). */
  batchingOff?: string;
  /** Fields of the model's config that ortserve read but does not act on, with why (shown in its status). */
  ignoredFields?: IgnoredField[];
  /** Why the model's own config cannot be used: no version loads and the model's status says this. */
  configError?: string;
  /**
   * The model's Triton config (from --model_repository): its config.pbtxt as parsed, or an empty one auto-completed
   * from the model (`autoComplete`). Versions are checked against it when they load.
   */
  triton?: TritonModelConfig;
  /** No config.pbtxt: inputs, outputs and max_batch_size come from the model (Triton's --strict-model-config=false). */
  autoComplete?: boolean;
}

/** The automatic rollback of weighted traffic (`traffic_rollback`): thresholds over a version's recent requests. */
export interface TrafficRollbackConfig {
  /** The version never rolled back; undefined: the lowest version with a positive weight when the weights were set. */
  baselineVersion?: number;
  /** Outcomes remembered per version: the window the rates are measured over. */
  windowRequests: number;
  /** No verdict before the window holds this many outcomes. */
  minRequests: number;
  /** Roll back when more than this percentage of the window failed in the version (HTTP 500, or ONNX Runtime refused the run). */
  maxErrorPercent?: number;
  /** Roll back when the window's 99th-percentile latency exceeds this many ms. */
  maxP99Ms?: number;
}

/** Largest weight a version may have in a traffic table (weights are relative; 1,000,000 leaves room for ppm). */
export const MAX_TRAFFIC_WEIGHT = 1_000_000;
/** Defaults of traffic_rollback's window. */
export const DEFAULT_ROLLBACK_WINDOW = 100;
export const DEFAULT_ROLLBACK_MIN_REQUESTS = 20;

export interface ModelServerConfig {
  models: ModelConfig[];
}

const MODEL_FIELDS = [
  'name', 'base_path', 'model_platform', 'model_version_policy', 'version_labels', 'batching', 'execution_providers',
  'intra_op_threads', 'inter_op_threads', 'graph_optimization_level', 'version_swap_policy', 'warmup_iterations',
  'max_concurrent_runs', 'traffic', 'traffic_rollback', 'sequence_batching', 'instance_count', 'provider_options',
] as const;
const ROLLBACK_FIELDS = ['baseline_version', 'window_requests', 'min_requests', 'max_error_percent', 'max_p99_ms'] as const;
const TF_SERVING_ONLY: Record<string, string> = {
  logging_config: "TF Serving's request logging is not supported by ortserve",
  model_type: 'is deprecated in TF Serving and means TensorFlow; use model_platform: "onnx"',
};
const BATCHING_FIELDS = [
  'max_batch_size', 'batch_timeout_micros', 'max_enqueued_batches', 'num_batch_threads', 'allowed_batch_sizes',
  'preferred_batch_sizes', 'pad_variable_length_inputs',
] as const;
export const PLATFORMS = ['onnx', 'onnxruntime', 'onnxruntime_onnx'] as const;
/** Model names and labels appear in URL paths, where '/' separates segments and ':' starts a verb. */
const NAME = /^[^/:\s]{1,256}$/;
const MAX_VERSION = 2 ** 53 - 1;

/** A version policy message (TF Serving's model_version_policy, Triton's version_policy: the same three choices). */
export function decodePolicy(model: MessageReader, field = 'model_version_policy'): VersionPolicy {
  const policy = model.message(field, ['latest', 'all', 'specific']);
  if (policy === undefined) return { kind: 'latest', numVersions: 1 };
  const chosen = [...new Set(policy.fields.map((f) => f.name))];
  if (chosen.length > 1) policy.fail(chosen[1]!, `only one of latest, all, specific may be given (also ${chosen[0]})`);
  if (policy.has('all')) {
    policy.message('all', []);
    return { kind: 'all' };
  }
  if (policy.has('specific')) {
    const specific = policy.message('specific', ['versions'])!;
    const versions = specific.ints('versions', { min: 1, max: MAX_VERSION });
    if (versions.length === 0) specific.fail(undefined, 'versions: at least one version is required');
    const seen = new Set<number>();
    const duplicate = versions.find((v) => {
      if (seen.has(v)) return true;
      seen.add(v);
      return false;
    });
    if (duplicate !== undefined) specific.fail('versions', `version ${duplicate} is listed twice`);
    return { kind: 'specific', versions: [...versions].sort((a, b) => b - a) };
  }
  // `latest {}` (or no policy at all) serves the single newest version, as in TF Serving.
  const latest = policy.message('latest', ['num_versions']);
  return { kind: 'latest', numVersions: latest?.int('num_versions', { min: 1, max: 1_000_000 }) ?? 1 };
}

function decodeBatching(model: MessageReader): BatchingConfig | undefined {
  const b = model.message('batching', BATCHING_FIELDS);
  return b === undefined ? undefined : decodeBatchingFields(b);
}

/** The fields of a batching message (a model's `batching { }`, or a whole --batching_parameters_file). */
function decodeBatchingFields(b: MessageReader): BatchingConfig {
  // TF Serving's batching_parameters file wraps each value ({ value: N }); both spellings are accepted.
  const rule = { min: 1, max: 2 ** 31 - 1, wrapped: true };
  const batching: BatchingConfig = {
    maxBatchSize: b.int('max_batch_size', rule),
    batchTimeoutMicros: b.int('batch_timeout_micros', { ...rule, min: 0 }),
    maxEnqueuedBatches: b.int('max_enqueued_batches', rule),
    numBatchThreads: b.int('num_batch_threads', { ...rule, max: 1024 }),
    allowedBatchSizes: b.ints('allowed_batch_sizes', rule),
    preferredBatchSizes: b.ints('preferred_batch_sizes', rule),
    padVariableLengthInputs: b.bool('pad_variable_length_inputs', true) ?? false,
  };
  const allowed = batching.allowedBatchSizes;
  const unsorted = allowed.findIndex((v, i) => i > 0 && v <= allowed[i - 1]!);
  if (unsorted >= 0) b.fail('allowed_batch_sizes', `must increase strictly (${allowed[unsorted - 1]} is followed by ${allowed[unsorted]})`);
  const max = batching.maxBatchSize;
  if (max !== undefined && allowed.length > 0 && allowed.at(-1) !== max) {
    b.fail('allowed_batch_sizes', `the last entry (${allowed.at(-1)}) must equal max_batch_size (${max})`);
  }
  const tooBig = batching.preferredBatchSizes.find((v) => max !== undefined && v > max);
  if (tooBig !== undefined) b.fail('preferred_batch_sizes', `${tooBig} exceeds max_batch_size (${max})`);
  return batching;
}

function decodeProviders(model: MessageReader): ExecutionProviderRequest[] | undefined {
  if (!model.has('execution_providers')) return undefined;
  const out: ExecutionProviderRequest[] = [];
  for (const { node, path: fieldPath } of model.repeated('execution_providers')) {
    if (node.kind !== 'scalar' || typeof node.value !== 'string') throw configError(model.ctx, node, fieldPath, 'expected a string such as "cuda:0"');
    try {
      out.push(...parseExecutionProviderList(node.value));
    } catch (err) {
      if (!(err instanceof ProviderEntryError)) throw err;
      throw configError(model.ctx, node, fieldPath, err.message);
    }
  }
  return out;
}

/** A map<string, string>: repeated `{ key: "" value: "" }` entries in text format, a mapping in YAML/JSON. */
function stringMap(m: MessageReader, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of m.fields.filter((x) => x.name === name)) {
    const entries = m.ctx.format === 'yaml' && f.value.kind === 'message'
      ? f.value.fields.map((e) => ({ key: e.name, node: e.value, at: e as SourcePos }))
      : (f.value.kind === 'list' ? f.value.items : [f.value]).map((node) => {
          const entry: MessageReader = new MessageReader(node, m.sub(name), m.ctx, ['key', 'value']);
          const value = entry.single('value');
          if (value === undefined) entry.fail(undefined, 'value is required');
          return { key: entry.string('key', true)!, node: value.value, at: node as SourcePos };
        });
    for (const { key, node, at } of entries) {
      const path = `${m.sub(name)}[${JSON.stringify(key)}]`;
      if (Object.hasOwn(out, key)) throw configError(m.ctx, at, path, 'given twice');
      if (node.kind !== 'scalar' || node.value === null) throw configError(m.ctx, at, path, 'expected a string value');
      out[key] = String(node.value);
    }
  }
  return out;
}

/**
 * provider_options { name: "tensorrt" options { key: "trt_fp16_enable" value: "1" } }: ONNX Runtime's own option keys
 * for a provider listed in execution_providers. Throws ERR_CONFIG naming the entry and key.
 */
function applyProviderOptions(model: MessageReader, providers: ExecutionProviderRequest[] | undefined): void {
  model.messages('provider_options', ['name', 'options']).forEach((entry: MessageReader) => {
    const name = entry.enumOf('name', ['cuda', 'tensorrt'] as const);
    if (name === undefined) entry.fail(undefined, 'name is required (cuda or tensorrt)');
    const targets = (providers ?? []).filter((p) => p.name === name);
    if (targets.length === 0) entry.fail('name', `'${name}' is not in this model's execution_providers`);
    const { options, problems } = ortProviderOptions(name, stringMap(entry, 'options'));
    const problem = problems[0];
    if (problem !== undefined) entry.fail('options', `${JSON.stringify(problem.key)}: ${problem.problem}`);
    for (const target of targets) target.options = { ...target.options, ...options };
  });
}

function decodeLabels(model: MessageReader): Map<string, number> {
  const labels = new Map<string, number>();
  for (const entry of model.intMap('version_labels', { min: 1, max: MAX_VERSION })) {
    if (!NAME.test(entry.key) || /^\d+$/.test(entry.key)) {
      throw configError(model.ctx, entry.pos, entry.path, 'a label is 1-256 characters without \'/\', \':\' or spaces, and not a number');
    }
    labels.set(entry.key, entry.value);
  }
  return labels;
}

/** `traffic`: version → weight; keys are version numbers, weights non-negative integers with at least one positive. */
function decodeTraffic(model: MessageReader): Map<number, number> | undefined {
  if (!model.has('traffic')) return undefined;
  const weights = new Map<number, number>();
  for (const entry of model.intMap('traffic', { min: 0, max: MAX_TRAFFIC_WEIGHT })) {
    const version = /^[1-9]\d{0,15}$/.test(entry.key) ? Number(entry.key) : Number.NaN;
    if (!Number.isSafeInteger(version)) throw configError(model.ctx, entry.pos, entry.path, `'${entry.key}' is not a version number`);
    weights.set(version, entry.value);
  }
  if (![...weights.values()].some((w) => w > 0)) model.fail('traffic', 'at least one version needs a positive weight');
  return weights;
}

function decodeRollback(model: MessageReader): TrafficRollbackConfig | undefined {
  const r = model.message('traffic_rollback', ROLLBACK_FIELDS);
  if (r === undefined) return undefined;
  const config: TrafficRollbackConfig = {
    baselineVersion: r.int('baseline_version', { min: 1, max: MAX_VERSION }),
    windowRequests: r.int('window_requests', { min: 1, max: 100_000 }) ?? DEFAULT_ROLLBACK_WINDOW,
    minRequests: r.int('min_requests', { min: 1, max: 100_000 }) ?? DEFAULT_ROLLBACK_MIN_REQUESTS,
    maxErrorPercent: r.int('max_error_percent', { min: 0, max: 100 }),
    maxP99Ms: r.int('max_p99_ms', { min: 1, max: 86_400_000 }),
  };
  if (config.maxErrorPercent === undefined && config.maxP99Ms === undefined) r.fail(undefined, 'give max_error_percent, max_p99_ms or both');
  if (config.minRequests > config.windowRequests) r.fail('min_requests', `${config.minRequests} exceeds window_requests (${config.windowRequests})`);
  return config;
}

function decodeModel(model: MessageReader, baseDir: string, defaultName?: string): ModelConfig {
  const name = model.string('name', defaultName === undefined) ?? defaultName!;
  if (!NAME.test(name)) model.fail('name', `'${name}' must be 1-256 characters without '/', ':' or spaces`);
  const basePath = model.string('base_path', true)!;
  if (basePath === '') model.fail('base_path', 'must not be empty');
  const platform = model.string('model_platform') ?? 'onnx';
  if (!(PLATFORMS as readonly string[]).includes(platform)) {
    model.fail('model_platform', `'${platform}' is not served by ortserve (use one of ${PLATFORMS.join(', ')})`);
  }
  const session: ModelSessionConfig = {
    intraOpThreads: model.int('intra_op_threads', { min: 0, max: 1024 }),
    interOpThreads: model.int('inter_op_threads', { min: 0, max: 1024 }),
    graphOptimizationLevel: model.enumOf('graph_optimization_level', GRAPH_OPTIMIZATION_LEVELS),
    executionProviders: decodeProviders(model),
    maxConcurrentRuns: model.int('max_concurrent_runs', { min: 1, max: 1024 }),
  };
  const resolvedBase = path.resolve(baseDir, basePath);
  const sequenceBatching = decodeSequenceBatching(model, resolvedBase);
  applyProviderOptions(model, session.executionProviders);
  return {
    name,
    basePath: resolvedBase,
    platform,
    versionPolicy: decodePolicy(model),
    versionLabels: decodeLabels(model),
    batching: decodeBatching(model),
    ...(sequenceBatching !== undefined ? { sequenceBatching } : {}),
    session,
    swapPolicy: model.enumOf('version_swap_policy', SWAP_POLICIES),
    warmupIterations: model.int('warmup_iterations', { min: 0, max: 1000 }),
    traffic: decodeTraffic(model),
    trafficRollback: decodeRollback(model),
    ...instanceCount(model),
  };
}

/** instance_count: independent sessions of each version (Triton's instance_group count). */
function instanceCount(model: MessageReader): { instances?: number } {
  const count = model.int('instance_count', { min: 1, max: 64 });
  return count === undefined ? {} : { instances: count };
}

export interface ParseOptions {
  format: ConfigFormat;
  /** Named at the start of every error message. */
  source: string;
  /** Relative base paths resolve against this directory. */
  baseDir: string;
  /** Longest accepted text in UTF-8 bytes (--max_config_bytes); longer is ERR_TOO_LARGE. Default 4 MiB. */
  maxBytes?: number;
}

/** The config tree of `text`, its size checked first. */
function parseTree(text: string, options: ParseOptions, ctx: ReaderContext) {
  checkConfigSize(text, options.maxBytes ?? DEFAULT_MAX_CONFIG_BYTES, options.source);
  return options.format === 'pbtxt' ? parsePbtxt(text, ctx) : parseYaml(text, ctx);
}

/**
 * Parses a whole config: `model_config_list { config { ... } ... }` in text format, or the same structure in YAML/JSON.
 * Throws ERR_CONFIG naming the line and the field for syntax errors, unknown fields and bad values.
 */
export function parseModelServerConfig(text: string, options: ParseOptions): ModelServerConfig {
  const ctx: ReaderContext = { source: options.source, format: options.format };
  const tree = parseTree(text, options, ctx);
  const top = new MessageReader(tree, '', ctx, ['model_config_list'], {
    custom_model_config: 'custom model configs are not supported by ortserve; use model_config_list',
  });
  // An empty or truncated file must not silently mean "serve nothing": the list has to be written out.
  if (!top.has('model_config_list')) top.fail(undefined, 'model_config_list is required (write `model_config_list {}` to serve no models)');
  const list = top.message('model_config_list', ['config'])!;
  const models = list.messages('config', MODEL_FIELDS, TF_SERVING_ONLY).map((m) => decodeModel(m, options.baseDir));
  const first = new Map<string, number>();
  models.forEach((m, i) => {
    const earlier = first.get(m.name);
    if (earlier !== undefined) {
      const entry = list.repeated('config')[i]!;
      throw configError(ctx, entry.node, `${entry.path}.name`, `'${m.name}' is already used by model_config_list.config[${earlier}]`);
    }
    first.set(m.name, i);
  });
  return { models };
}

/**
 * One model's entry on its own (the fields of a `config { ... }`), as the management API's load takes it; `name`
 * defaults to `defaultName`. Throws ERR_CONFIG naming the line and field.
 */
export function parseModelEntry(text: string, options: ParseOptions, defaultName: string): ModelConfig {
  const ctx: ReaderContext = { source: options.source, format: options.format };
  const tree = parseTree(text, options, ctx);
  return decodeModel(new MessageReader(tree, 'config', ctx, MODEL_FIELDS, TF_SERVING_ONLY), options.baseDir, defaultName);
}

/**
 * TF Serving's --batching_parameters_file: the fields of one batching message at top level (text format, each value
 * optionally wrapped as `max_batch_size { value: 128 }`), or the same in YAML/JSON. Throws ERR_CONFIG naming line and field.
 */
export function readBatchingParametersFile(file: string, maxBytes = DEFAULT_MAX_CONFIG_BYTES): BatchingConfig {
  const text = readConfigText(file, maxBytes, '--batching_parameters_file');
  return parseBatchingParameters(text, { format: configFormatForFile(file), source: path.basename(file), maxBytes });
}

/** The text of a --batching_parameters_file (see readBatchingParametersFile). Throws ERR_CONFIG naming line and field. */
export function parseBatchingParameters(text: string, options: Omit<ParseOptions, 'baseDir'>): BatchingConfig {
  const ctx: ReaderContext = { source: options.source, format: options.format };
  const tree = parseTree(text, { ...options, baseDir: '' }, ctx);
  return decodeBatchingFields(new MessageReader(tree, '', ctx, BATCHING_FIELDS));
}

/** YAML for .yaml/.yml/.json files; TF Serving's text format for anything else (models.config, *.pbtxt). */
export function configFormatForFile(file: string): ConfigFormat {
  return /\.(ya?ml|json)$/i.test(file) ? 'yaml' : 'pbtxt';
}

/** For a config sent in a request: by Content-Type, else JSON when it starts with '{', else text format. */
export function configFormatForBody(contentType: string, text: string): ConfigFormat {
  if (/json|yaml/i.test(contentType)) return 'yaml';
  return text.trimStart().startsWith('{') ? 'yaml' : 'pbtxt';
}

/**
 * Reads the file's text, never more than `maxBytes` + 1 bytes (a file that grows while it is read cannot get past
 * the limit); throws ERR_CONFIG naming the flag and --max_config_bytes.
 */
export function readConfigText(file: string, maxBytes = DEFAULT_MAX_CONFIG_BYTES, flag = '--model_config_file'): string {
  const buffer = Buffer.allocUnsafe(Math.min(maxBytes + 1, 64 * 1024));
  const chunks: Buffer[] = [];
  let total = 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    for (;;) {
      const n = readSync(fd, buffer, 0, Math.min(buffer.length, maxBytes + 1 - total), null);
      if (n === 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, n)));
      total += n;
      if (total > maxBytes) throw new OrtServeError('ERR_CONFIG', `${flag}: '${file}' is larger than ${maxBytes} bytes (--max_config_bytes)`);
    }
  } catch (err) {
    if (err instanceof OrtServeError) throw err;
    throw new OrtServeError('ERR_CONFIG', `${flag}: cannot read '${file}': ${(err as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

/** Reads and parses a config file; relative base paths resolve against the file's directory. */
export function readModelConfigFile(file: string, maxBytes = DEFAULT_MAX_CONFIG_BYTES): ModelServerConfig {
  return parseModelServerConfig(readConfigText(file, maxBytes), {
    format: configFormatForFile(file), source: path.basename(file), baseDir: path.dirname(path.resolve(file)), maxBytes,
  });
}

/** The config in its JSON form (the YAML/JSON schema), for the management API and logs. */
export function modelConfigToJson(model: ModelConfig): Record<string, unknown> {
  const p = model.versionPolicy;
  const policy = p.kind === 'latest' ? { latest: { num_versions: p.numVersions } } : p.kind === 'all' ? { all: {} } : { specific: { versions: p.versions } };
  const b = model.batching;
  return {
    name: model.name,
    base_path: model.basePath,
    model_platform: model.platform,
    model_version_policy: policy,
    version_labels: Object.fromEntries(model.versionLabels),
    ...(b ? {
      batching: {
        max_batch_size: b.maxBatchSize, batch_timeout_micros: b.batchTimeoutMicros, max_enqueued_batches: b.maxEnqueuedBatches,
        num_batch_threads: b.numBatchThreads, allowed_batch_sizes: b.allowedBatchSizes, preferred_batch_sizes: b.preferredBatchSizes,
        pad_variable_length_inputs: b.padVariableLengthInputs,
      },
    } : {}),
    ...(model.sequenceBatching ? { sequence_batching: sequenceBatchingToJson(model.sequenceBatching) } : {}),
    ...(model.session.executionProviders ? { execution_providers: model.session.executionProviders.map((e) => `${e.name}:${e.deviceId}`) } : {}),
    ...(model.session.executionProviders?.some((e) => e.options !== undefined)
      ? { provider_options: model.session.executionProviders.filter((e) => e.options !== undefined).map((e) => ({ name: e.name, options: e.options })) }
      : {}),
    intra_op_threads: model.session.intraOpThreads,
    inter_op_threads: model.session.interOpThreads,
    graph_optimization_level: model.session.graphOptimizationLevel,
    max_concurrent_runs: model.session.maxConcurrentRuns,
    version_swap_policy: model.swapPolicy,
    warmup_iterations: model.warmupIterations,
    ...(model.traffic ? { traffic: Object.fromEntries([...model.traffic].map(([v, w]) => [String(v), w])) } : {}),
    ...(model.trafficRollback ? { traffic_rollback: rollbackToJson(model.trafficRollback) } : {}),
    ...(model.modelFilename !== undefined ? { model_filename: model.modelFilename } : {}),
    ...(model.instances !== undefined ? { instances: model.instances } : {}),
    ...(model.batchingOff !== undefined ? { batching_off: model.batchingOff } : {}),
    ...(model.ignoredFields !== undefined && model.ignoredFields.length > 0 ? { ignored_fields: model.ignoredFields.map((f) => `${f.path}: ${f.reason}`) } : {}),
    ...(model.configError !== undefined ? { config_error: model.configError } : {}),
    ...(model.triton !== undefined ? { triton: { ...model.triton, dynamicBatching: model.triton.dynamicBatching && { ...model.triton.dynamicBatching, priorityQueuePolicy: Object.fromEntries(model.triton.dynamicBatching.priorityQueuePolicy) } }, auto_complete: model.autoComplete ?? false } : {}),
  };
}

/** traffic_rollback in its JSON form. */
export function rollbackToJson(r: TrafficRollbackConfig): Record<string, unknown> {
  return {
    baseline_version: r.baselineVersion, window_requests: r.windowRequests, min_requests: r.minRequests,
    max_error_percent: r.maxErrorPercent, max_p99_ms: r.maxP99Ms,
  };
}
