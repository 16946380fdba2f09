// Triton's per-model config.pbtxt (its ModelConfig message, text format) decoded into what ortserve acts on.

/*
 * Field names and meanings follow Triton's public model_config.proto (package inference). Fields ortserve reads but
 * does not act on, and fields it does not know, are not refused: they are collected (path and why) into `ignored`,
 * which the model's status shows, so nothing a Triton user wrote is dropped without a word. Values of known fields
 * are checked as strictly as the TF Serving config's (ERR_CONFIG naming line and field).
 */

import type { DType } from '../engine/tensor.js';
import { MessageReader, configError, type IgnoredField, type ReaderContext } from './model-config-reader.js';
import { decodePolicy, type VersionPolicy } from './model-config.js';
import { parsePbtxt } from './model-config-pbtxt.js';
import { DEFAULT_MAX_CONFIG_BYTES, checkConfigSize } from './config-limits.js';
import { ORT_PROVIDER_KEYS } from './execution-providers.js';

/** Triton's TYPE_* names ⇄ ortserve dtypes (TYPE_STRING is BYTES, ortserve's string). */
export const TRITON_DATA_TYPE: Record<DType, string> = {
  bool: 'TYPE_BOOL',
  uint8: 'TYPE_UINT8', uint16: 'TYPE_UINT16', uint32: 'TYPE_UINT32', uint64: 'TYPE_UINT64',
  int8: 'TYPE_INT8', int16: 'TYPE_INT16', int32: 'TYPE_INT32', int64: 'TYPE_INT64',
  float16: 'TYPE_FP16', bfloat16: 'TYPE_BF16', float32: 'TYPE_FP32', float64: 'TYPE_FP64',
  string: 'TYPE_STRING',
};
const DTYPE_OF_TRITON = new Map(Object.entries(TRITON_DATA_TYPE).map(([d, t]) => [t, d as DType]));

export interface TritonTensor {
  name: string;
  dtype: DType;
  /** Without the batch dim when max_batch_size > 0; -1 = any size. */
  dims: number[];
  /** The shape the model itself takes (Triton's reshape); undefined: dims. */
  reshape?: number[];
  optional: boolean;
}

export const TIMEOUT_ACTIONS = ['REJECT', 'DELAY'] as const;
export type TimeoutAction = (typeof TIMEOUT_ACTIONS)[number];

/** ModelQueuePolicy: what happens to a request of one priority level that waits too long or finds its queue full. */
export interface QueuePolicy {
  timeoutAction: TimeoutAction;
  /** 0 = no timeout. */
  defaultTimeoutMicros: number;
  /** A request may ask for a shorter timeout than the default (never a longer one). */
  allowTimeoutOverride: boolean;
  /** 0 = no bound of its own (the model's queue bound still applies). */
  maxQueueSize: number;
}

export const DEFAULT_QUEUE_POLICY: QueuePolicy = { timeoutAction: 'REJECT', defaultTimeoutMicros: 0, allowTimeoutOverride: false, maxQueueSize: 0 };

export interface DynamicBatching {
  preferredBatchSizes: number[];
  maxQueueDelayMicros: number;
  preserveOrdering: boolean;
  /** 0 = one level (no priorities). Level 1 is served first. */
  priorityLevels: number;
  /** The level of a request that names none; 0 when priorityLevels is 0. */
  defaultPriorityLevel: number;
  defaultQueuePolicy: QueuePolicy;
  /** level → its own policy. */
  priorityQueuePolicy: Map<number, QueuePolicy>;
}

export const INSTANCE_KINDS = ['KIND_AUTO', 'KIND_GPU', 'KIND_CPU', 'KIND_MODEL'] as const;
export type InstanceKind = (typeof INSTANCE_KINDS)[number];

export interface InstanceGroup {
  name?: string;
  kind: InstanceKind;
  count: number;
  gpus: number[];
}

/** An execution accelerator (gpu: tensorrt, cuda; cpu: openvino) and its string parameters. */
export interface Accelerator {
  name: string;
  parameters: Record<string, string>;
}

export interface TritonModelConfig {
  /** The model directory's name when the config names none (Triton: they must agree). */
  name: string;
  platform?: string;
  backend?: string;
  /** 0: the model has no batch dim; > 0: every input and output has a leading batch dim not written in dims. */
  maxBatchSize: number;
  /** Whether max_batch_size was written (auto-completion fills it from the model when not). */
  maxBatchSizeGiven: boolean;
  inputs: TritonTensor[];
  outputs: TritonTensor[];
  versionPolicy: VersionPolicy;
  dynamicBatching?: DynamicBatching;
  /**
   * Reserved for Triton's sequence_batching (stateful models, issue 16): undefined until that decoder exists; the
   * section is meanwhile reported in `ignored`.
   */
  sequenceBatching?: undefined;
  instanceGroups: InstanceGroup[];
  gpuAccelerators: Accelerator[];
  cpuAccelerators: Accelerator[];
  /** optimization.graph.level: -1 basic, 0 (default) all, 1 extended (the ONNX Runtime backend's reading). */
  graphLevel?: number;
  /** optimization.cuda.graphs: capture CUDA graphs (ORT's enable_cuda_graph on the CUDA provider). */
  cudaGraphs?: boolean;
  /** The backend's `parameters` map (string values). */
  parameters: Record<string, string>;
  defaultModelFilename?: string;
  /** Fields read but not acted on, and unknown fields, with why. */
  ignored: IgnoredField[];
}

const TOP_FIELDS = [
  'name', 'platform', 'backend', 'max_batch_size', 'input', 'output', 'version_policy', 'dynamic_batching',
  'instance_group', 'optimization', 'parameters', 'default_model_filename', 'model_warmup',
] as const;
/** Triton fields ortserve recognises but does not implement, and why: reported, never refused. */
const NOT_SUPPORTED: Record<string, string> = {
  sequence_batching: 'sequence batching (stateful models) is not supported yet; requests are scheduled as independent ones',
  ensemble_scheduling: 'ensembles are not supported by ortserve',
  batch_input: 'batch inputs are not supported by ortserve',
  batch_output: 'batch outputs are not supported by ortserve',
  runtime: 'ortserve has one runtime (ONNX Runtime)',
  cc_model_filenames: 'compute-capability model files are not supported; default_model_filename is used',
  metric_tags: 'metric tags are not supported',
  model_operations: 'custom operator libraries are not supported',
  model_transaction_policy: 'decoupled models are not supported',
  model_repository_agents: 'repository agents are not supported',
  response_cache: 'the response cache is not supported',
  model_metrics: 'per-model metric options are not supported',
  model_warmup: "Triton's warmup samples are not replayed; ortserve replays <version>/assets.extra/warmup.json (docs/warmup-format.md)",
};
const TENSOR_FIELDS = ['name', 'data_type', 'dims', 'reshape', 'optional'];
const TENSOR_NOT_SUPPORTED: Record<string, string> = {
  format: 'image formats are descriptive only; dims are checked as written',
  is_shape_tensor: 'shape tensors are a TensorRT-backend feature',
  allow_ragged_batch: 'ragged batches are not supported',
  is_non_linear_format_io: 'a TensorRT-backend feature',
  label_filename: 'classification labels are not supported',
};
/** The ONNX Runtime backend's parameters keys ortserve applies. */
export const APPLIED_PARAMETERS = ['intra_op_thread_count', 'inter_op_thread_count'] as const;

const INT32 = { min: 0, max: 2 ** 31 - 1 };
const DIM = { min: -1, max: 2 ** 53 - 1 };

function decodeTensor(t: MessageReader, isInput: boolean): TritonTensor {
  const name = t.string('name', true)!;
  const typeName = t.enumOf('data_type', [...DTYPE_OF_TRITON.keys(), 'TYPE_INVALID']);
  if (typeName === undefined) t.fail(undefined, 'data_type is required');
  const dtype = DTYPE_OF_TRITON.get(typeName);
  if (dtype === undefined) t.fail('data_type', `${typeName} is not a type a model can take`);
  const reshapeMsg = t.message('reshape', ['shape']);
  const tensor: TritonTensor = {
    name,
    dtype,
    dims: t.ints('dims', DIM),
    optional: isInput ? t.bool('optional') ?? false : false,
  };
  if (reshapeMsg !== undefined) tensor.reshape = reshapeMsg.ints('shape', DIM);
  if (!t.has('dims')) t.fail(undefined, 'dims is required (dims: [ ] for a scalar)');
  return tensor;
}

function decodeQueuePolicy(q: MessageReader): QueuePolicy {
  return {
    timeoutAction: q.enumOf('timeout_action', TIMEOUT_ACTIONS) ?? 'REJECT',
    defaultTimeoutMicros: q.int('default_timeout_microseconds', { min: 0, max: 2 ** 53 - 1 }) ?? 0,
    allowTimeoutOverride: q.bool('allow_timeout_override') ?? false,
    maxQueueSize: q.int('max_queue_size', { min: 0, max: 2 ** 32 - 1 }) ?? 0,
  };
}

const QUEUE_FIELDS = ['timeout_action', 'default_timeout_microseconds', 'allow_timeout_override', 'max_queue_size'];

function decodeDynamicBatching(d: MessageReader): DynamicBatching {
  const priorityLevels = d.int('priority_levels', { min: 0, max: 1000 }) ?? 0;
  const defaultPriorityLevel = d.int('default_priority_level', { min: 0, max: 1000 }) ?? 0;
  if (priorityLevels > 0 && (defaultPriorityLevel < 1 || defaultPriorityLevel > priorityLevels)) {
    d.fail('default_priority_level', `must be between 1 and priority_levels (${priorityLevels}), got ${defaultPriorityLevel}`);
  }
  if (priorityLevels === 0 && defaultPriorityLevel !== 0) d.fail('default_priority_level', 'needs priority_levels');
  const byLevel = new Map<number, QueuePolicy>();
  d.repeated('priority_queue_policy').forEach(({ node, path }) => {
    const entry: MessageReader = new MessageReader(node, path, d.ctx, ['key', 'value']);
    const level = entry.int('key', { min: 1, max: 1000 });
    if (level === undefined) entry.fail(undefined, 'key is required');
    if (level > priorityLevels) entry.fail('key', `level ${level} is past priority_levels (${priorityLevels})`);
    if (byLevel.has(level)) entry.fail('key', `level ${level} is given twice`);
    const value = entry.message('value', QUEUE_FIELDS);
    byLevel.set(level, value === undefined ? { ...DEFAULT_QUEUE_POLICY } : decodeQueuePolicy(value));
  });
  const defaults = d.message('default_queue_policy', QUEUE_FIELDS);
  return {
    preferredBatchSizes: d.ints('preferred_batch_size', { min: 1, max: 2 ** 31 - 1 }),
    maxQueueDelayMicros: d.int('max_queue_delay_microseconds', { min: 0, max: 3.6e9 }) ?? 0,
    preserveOrdering: d.bool('preserve_ordering') ?? false,
    priorityLevels,
    defaultPriorityLevel,
    defaultQueuePolicy: defaults === undefined ? { ...DEFAULT_QUEUE_POLICY } : decodeQueuePolicy(defaults),
    priorityQueuePolicy: byLevel,
  };
}

function decodeInstanceGroup(g: MessageReader): InstanceGroup {
  const kind = g.enumOf('kind', INSTANCE_KINDS) ?? 'KIND_AUTO';
  const gpus = g.ints('gpus', { min: 0, max: 1023 });
  if (gpus.length > 0 && (kind === 'KIND_CPU' || kind === 'KIND_MODEL')) g.fail('gpus', `cannot be given with kind ${kind}`);
  const group: InstanceGroup = { kind, count: g.int('count', { min: 1, max: 64 }) ?? 1, gpus };
  const name = g.string('name');
  if (name !== undefined) group.name = name;
  return group;
}

/** map<string, string> written as repeated { key: "" value: "" } entries. */
function stringMap(m: MessageReader, field: string, valueOf: (entry: MessageReader) => string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { node, path } of m.repeated(field)) {
    const entry = new MessageReader(node, path, m.ctx, ['key', 'value']);
    const key = entry.string('key', true)!;
    if (Object.hasOwn(out, key)) entry.fail('key', `'${key}' is given twice`);
    out[key] = valueOf(entry);
  }
  return out;
}

function decodeAccelerators(x: MessageReader, field: string): Accelerator[] {
  return x.messages(field, ['name', 'parameters']).map((a) => ({
    name: a.string('name', true)!,
    parameters: stringMap(a, 'parameters', (e) => e.string('value') ?? ''),
  }));
}

function decodeOptimization(t: MessageReader, config: TritonModelConfig): void {
  const o = t.message('optimization', ['graph', 'execution_accelerators', 'cuda'], {
    priority: 'model priorities are a TensorRT-backend feature',
    input_pinned_memory: 'pinned memory settings are not applied', output_pinned_memory: 'pinned memory settings are not applied',
    gather_kernel_buffer_threshold: 'a TensorRT-backend feature', eager_batching: 'a TensorRT-backend feature',
  });
  if (o === undefined) return;
  const graph = o.message('graph', ['level']);
  const level = graph?.int('level', { min: -1, max: 1 });
  if (level !== undefined) config.graphLevel = level;
  const cuda = o.message('cuda', ['graphs'], {
    busy_wait_events: 'a TensorRT-backend feature', graph_spec: 'CUDA graph specs are a TensorRT-backend feature',
    output_copy_stream: 'a TensorRT-backend feature',
  });
  const graphs = cuda?.bool('graphs');
  if (graphs !== undefined) config.cudaGraphs = graphs;
  const x = o.message('execution_accelerators', ['gpu_execution_accelerator', 'cpu_execution_accelerator']);
  if (x === undefined) return;
  config.gpuAccelerators = decodeAccelerators(x, 'gpu_execution_accelerator');
  config.cpuAccelerators = decodeAccelerators(x, 'cpu_execution_accelerator');
}

export interface TritonParseOptions {
  /** Named at the start of every error message (e.g. "mlp/config.pbtxt"). */
  source: string;
  /** The model directory's name: the config's name must equal it (Triton's rule), and it is the default. */
  directoryName: string;
  maxBytes?: number;
}

/** Parses one config.pbtxt. Throws ERR_CONFIG naming the line and the field; unknown fields land in `ignored`. */
export function parseTritonConfig(text: string, options: TritonParseOptions): TritonModelConfig {
  checkConfigSize(text, options.maxBytes ?? DEFAULT_MAX_CONFIG_BYTES, options.source);
  const ignored: IgnoredField[] = [];
  const ctx: ReaderContext = { source: options.source, format: 'pbtxt', ignored };
  const tree = parsePbtxt(text, ctx);
  const t = new MessageReader(tree, '', ctx, TOP_FIELDS, NOT_SUPPORTED);
  const name = t.string('name') ?? options.directoryName;
  if (name !== options.directoryName) t.fail('name', `'${name}' must equal the model's directory name '${options.directoryName}'`);
  const platform = t.string('platform');
  const backend = t.string('backend');
  if (platform !== undefined && platform !== 'onnxruntime_onnx') t.fail('platform', `'${platform}' is not served by ortserve (use "onnxruntime_onnx")`);
  if (backend !== undefined && backend !== 'onnxruntime') t.fail('backend', `'${backend}' is not served by ortserve (use "onnxruntime")`);
  const maxBatchSize = t.int('max_batch_size', INT32);
  const tensorReaders = (field: string) => t.messages(field, TENSOR_FIELDS, TENSOR_NOT_SUPPORTED);
  const config: TritonModelConfig = {
    name,
    maxBatchSize: maxBatchSize ?? 0,
    maxBatchSizeGiven: maxBatchSize !== undefined,
    inputs: tensorReaders('input').map((r) => decodeTensor(r, true)),
    outputs: tensorReaders('output').map((r) => decodeTensor(r, false)),
    versionPolicy: decodePolicy(t, 'version_policy'),
    instanceGroups: t.messages('instance_group', ['name', 'kind', 'count', 'gpus'], {
      rate_limiter: 'the rate limiter is not supported', secondary_devices: 'secondary devices are not supported',
      profile: 'TensorRT profiles are a TensorRT-backend feature', passive: 'passive instances are not supported',
      host_policy: 'host policies are not supported',
    }).map(decodeInstanceGroup),
    gpuAccelerators: [],
    cpuAccelerators: [],
    parameters: stringMap(t, 'parameters', (e) => e.message('value', ['string_value'])?.string('string_value') ?? ''),
    ignored,
  };
  if (platform !== undefined) config.platform = platform;
  if (backend !== undefined) config.backend = backend;
  for (const [kind, list] of [['input', config.inputs], ['output', config.outputs]] as const) {
    const seen = new Set<string>();
    list.forEach((tensor, i) => {
      if (seen.has(tensor.name)) throw configError(ctx, t.repeated(kind)[i]!.node, `${kind}[${i}].name`, `'${tensor.name}' is listed twice`);
      seen.add(tensor.name);
    });
  }
  const dynamic = t.message('dynamic_batching', [
    'preferred_batch_size', 'max_queue_delay_microseconds', 'preserve_ordering', 'priority_levels', 'default_priority_level',
    'default_queue_policy', 'priority_queue_policy',
  ]);
  if (dynamic !== undefined) {
    if (config.maxBatchSize === 0) dynamic.fail(undefined, 'needs max_batch_size > 0 (a model without a batch dim cannot batch)');
    config.dynamicBatching = decodeDynamicBatching(dynamic);
    const tooBig = config.dynamicBatching.preferredBatchSizes.find((s) => s > config.maxBatchSize);
    if (tooBig !== undefined) dynamic.fail('preferred_batch_size', `${tooBig} is larger than max_batch_size (${config.maxBatchSize})`);
  }
  decodeOptimization(t, config);
  const filename = t.string('default_model_filename');
  if (filename !== undefined) {
    if (filename === '' || /[/\\]/.test(filename) || filename === '.' || filename === '..') t.fail('default_model_filename', `'${filename}' must be a file name in the version directory`);
    config.defaultModelFilename = filename;
  }
  for (const [key, value] of Object.entries(config.parameters)) {
    if ((APPLIED_PARAMETERS as readonly string[]).includes(key)) {
      if (!/^\d{1,4}$/.test(value)) t.fail('parameters', `${key}: '${value}' is not a thread count`);
    } else if (!ORT_PROVIDER_KEYS.cuda.includes(key)) {
      ignored.push({ path: `parameters["${key}"]`, line: 0, reason: 'not an ONNX Runtime backend parameter ortserve applies' });
    }
  }
  return config;
}

/** The config Triton's --strict-model-config=false starts from when a model has no config.pbtxt. */
export function emptyTritonConfig(name: string): TritonModelConfig {
  return {
    name, maxBatchSize: 0, maxBatchSizeGiven: false, inputs: [], outputs: [], versionPolicy: { kind: 'latest', numVersions: 1 },
    instanceGroups: [], gpuAccelerators: [], cpuAccelerators: [], parameters: {}, ignored: [],
  };
}
