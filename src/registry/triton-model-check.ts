// A Triton config checked against its loaded model, and the effective config (auto-completed) in Triton's JSON form.

import { OrtServeError } from '../errors.js';
import type { ModelSignature, TensorSpec } from '../engine/model-session.js';
import type { ModelConfig, VersionPolicy } from '../config/model-config.js';
import { TRITON_DATA_TYPE, type QueuePolicy, type TritonTensor } from '../config/triton-config.js';
import { MODEL_FILE } from './repository.js';

function shapeText(dims: readonly number[]): string {
  return `[${dims.join(', ')}]`;
}

function tritonType(spec: TensorSpec): string {
  return spec.dtype === 'unsupported' ? 'TYPE_INVALID' : TRITON_DATA_TYPE[spec.dtype];
}

function refuse(field: string, problem: string): never {
  throw new OrtServeError('ERR_MODEL_LOAD', `config.pbtxt: ${field}: ${problem}`);
}

/** One configured tensor against the model's: name, type, rank, fixed dims and the batch dim. */
function checkTensor(kind: 'input' | 'output', index: number, t: TritonTensor, specs: readonly TensorSpec[], maxBatchSize: number): void {
  const field = `${kind}[${index}]`;
  const spec = specs.find((s) => s.name === t.name);
  if (spec === undefined) refuse(`${field}.name`, `'${t.name}' is not an ${kind} of the model (its ${kind}s: ${specs.map((s) => s.name).join(', ')})`);
  if (tritonType(spec) !== TRITON_DATA_TYPE[t.dtype]) {
    refuse(`${field}.data_type`, `${TRITON_DATA_TYPE[t.dtype]}, but the model's ${kind} '${t.name}' is ${tritonType(spec)}`);
  }
  const dimsField = t.reshape !== undefined ? `${field}.reshape.shape` : `${field}.dims`;
  const own = t.reshape ?? t.dims;
  const batched = maxBatchSize > 0;
  const full = batched ? [-1, ...own] : own;
  if (full.length !== spec.shape.length) {
    const withBatch = batched ? ` (${shapeText(full)} with the batch dim of max_batch_size ${maxBatchSize})` : '';
    refuse(dimsField, `${shapeText(own)}${withBatch} has rank ${full.length}, but the model's ${kind} '${t.name}' has shape ${shapeText(spec.shape)}`);
  }
  if (batched && spec.shape[0]! >= 0) {
    refuse('max_batch_size', `${maxBatchSize} needs a batch dim, but the model's ${kind} '${t.name}' has a fixed dim 0 of ${spec.shape[0]} (write max_batch_size: 0 and the full dims)`);
  }
  own.forEach((dim, j) => {
    const modelDim = spec.shape[j + (batched ? 1 : 0)]!;
    if (dim >= 0 && modelDim >= 0 && dim !== modelDim) {
      refuse(`${dimsField}[${j}]`, `${dim}, but the model's ${kind} '${t.name}' has ${modelDim} there (shape ${shapeText(spec.shape)})`);
    }
  });
}

/**
 * Refuses a Triton config that contradicts the loaded model: an unknown tensor name, another type, another rank, a
 * different fixed dim, or max_batch_size > 0 on a model whose dim 0 is fixed. Throws ERR_MODEL_LOAD naming the field.
 */
export function checkTritonConfig(config: ModelConfig, signature: ModelSignature): void {
  const t = config.triton;
  if (t === undefined) return;
  t.inputs.forEach((tensor, i) => checkTensor('input', i, tensor, signature.inputs, t.maxBatchSize));
  t.outputs.forEach((tensor, i) => checkTensor('output', i, tensor, signature.outputs, t.maxBatchSize));
  if (t.maxBatchSize > 0 && t.inputs.length === 0) {
    const fixed = signature.inputs.find((s) => s.shape.length === 0 || s.shape[0]! >= 0);
    if (fixed !== undefined) {
      const why = fixed.shape.length === 0 ? 'is a scalar' : `has a fixed dim 0 of ${fixed.shape[0]} (shape ${shapeText(fixed.shape)})`;
      refuse('max_batch_size', `${t.maxBatchSize} needs a batch dim, but the model's input '${fixed.name}' ${why}`);
    }
  }
}

/** What the effective config says about the loaded version (undefined: none is loaded). */
export interface LoadedFacts {
  signature: ModelSignature;
  batching: { enabled: boolean; maxBatchSize: number; batchTimeoutMicros: number };
  instances: number;
}

function policyJson(p: VersionPolicy): Record<string, unknown> {
  if (p.kind === 'latest') return { latest: { num_versions: p.numVersions } };
  if (p.kind === 'all') return { all: {} };
  return { specific: { versions: [...p.versions].sort((a, b) => a - b) } };
}

function queuePolicyJson(q: QueuePolicy): Record<string, unknown> {
  return {
    timeout_action: q.timeoutAction, default_timeout_microseconds: q.defaultTimeoutMicros,
    allow_timeout_override: q.allowTimeoutOverride, max_queue_size: q.maxQueueSize,
  };
}

function tensorJson(kind: 'input' | 'output', t: { name: string; dataType: string; dims: number[]; reshape?: number[]; optional: boolean }): Record<string, unknown> {
  const common = { name: t.name, data_type: t.dataType, dims: t.dims, ...(t.reshape !== undefined ? { reshape: { shape: t.reshape } } : {}), is_shape_tensor: false };
  if (kind === 'output') return { ...common, label_filename: '', is_non_linear_format_io: false };
  return { ...common, format: 'FORMAT_NONE', allow_ragged_batch: false, optional: t.optional, is_non_linear_format_io: false };
}

/** Configured tensors first (as written), then the model's tensors the config leaves out (auto-completed). */
function tensorsJson(kind: 'input' | 'output', configured: TritonTensor[], specs: readonly TensorSpec[] | undefined, maxBatchSize: number): unknown[] {
  const out = configured.map((t) => tensorJson(kind, { name: t.name, dataType: TRITON_DATA_TYPE[t.dtype], dims: t.dims, ...(t.reshape ? { reshape: t.reshape } : {}), optional: t.optional }));
  for (const spec of specs ?? []) {
    if (configured.some((t) => t.name === spec.name)) continue;
    const dims = maxBatchSize > 0 ? spec.shape.slice(1) : spec.shape;
    out.push(tensorJson(kind, { name: spec.name, dataType: tritonType(spec), dims, optional: false }));
  }
  return out;
}

/**
 * The model's effective configuration in Triton's JSON form (model_config.proto field names, numbers as numbers),
 * after auto-completion from the loaded version: what tritonclient's get_model_config reads.
 */
export function effectiveTritonConfig(config: ModelConfig, loaded: LoadedFacts | undefined): Record<string, unknown> {
  const t = config.triton;
  // The batch dim: as written; else (auto-complete) the loaded version's batch size when it batches, else none.
  const maxBatchSize = t?.maxBatchSizeGiven ? t.maxBatchSize : loaded?.batching.enabled ? loaded.batching.maxBatchSize : 0;
  const d = t?.dynamicBatching;
  const batching = d !== undefined
    ? {
        preferred_batch_size: d.preferredBatchSizes, max_queue_delay_microseconds: d.maxQueueDelayMicros, preserve_ordering: d.preserveOrdering,
        priority_levels: d.priorityLevels, default_priority_level: d.defaultPriorityLevel, default_queue_policy: queuePolicyJson(d.defaultQueuePolicy),
        priority_queue_policy: Object.fromEntries([...d.priorityQueuePolicy].map(([level, q]) => [String(level), queuePolicyJson(q)])),
      }
    : loaded?.batching.enabled
      ? { preferred_batch_size: [], max_queue_delay_microseconds: loaded.batching.batchTimeoutMicros, preserve_ordering: false, priority_levels: 0, default_priority_level: 0 }
      : undefined;
  const groups = t !== undefined && t.instanceGroups.length > 0
    ? t.instanceGroups.map((g, i) => ({ name: g.name ?? `${config.name}_${i}`, kind: g.kind, count: g.count, gpus: g.gpus, secondary_devices: [], profile: [], passive: false, host_policy: '' }))
    : [{ name: `${config.name}_0`, kind: 'KIND_CPU', count: loaded?.instances ?? config.instances ?? 1, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: '' }];
  const accelerators = t !== undefined && (t.gpuAccelerators.length > 0 || t.cpuAccelerators.length > 0)
    ? { execution_accelerators: { gpu_execution_accelerator: t.gpuAccelerators, cpu_execution_accelerator: t.cpuAccelerators } }
    : {};
  return {
    name: config.name,
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    runtime: '',
    version_policy: policyJson(config.versionPolicy),
    max_batch_size: maxBatchSize,
    input: tensorsJson('input', t?.inputs ?? [], loaded?.signature.inputs, maxBatchSize),
    output: tensorsJson('output', t?.outputs ?? [], loaded?.signature.outputs, maxBatchSize),
    batch_input: [],
    batch_output: [],
    optimization: { graph: { level: t?.graphLevel ?? 0 }, priority: 'PRIORITY_DEFAULT', ...accelerators, input_pinned_memory: { enable: true }, output_pinned_memory: { enable: true }, gather_kernel_buffer_threshold: 0, eager_batching: false },
    ...(batching !== undefined ? { dynamic_batching: batching } : {}),
    instance_group: groups,
    default_model_filename: config.modelFilename ?? MODEL_FILE,
    cc_model_filenames: {},
    metric_tags: {},
    parameters: Object.fromEntries(Object.entries(t?.parameters ?? {}).map(([k, v]) => [k, { string_value: v }])),
    model_warmup: [],
  };
}
