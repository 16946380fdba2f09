// Reads a Triton model repository (--model_repository): every <model>/config.pbtxt (or none) as a ModelConfig.

import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { OrtServeError, toOrtServeError } from '../errors.js';
import { readConfigText, type BatchingConfig, type ModelConfig, type ModelSessionConfig } from '../config/model-config.js';
import type { IgnoredField } from '../config/model-config-reader.js';
import { emptyTritonConfig, parseTritonConfig, type TritonModelConfig } from '../config/triton-config.js';
import { ORT_PROVIDER_KEYS, tritonProviderOptions, type ExecutionProviderRequest } from '../config/execution-providers.js';
import { MODEL_FILE, listVersions } from './repository.js';

export const TRITON_CONFIG_FILE = 'config.pbtxt';

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Triton's optimization.graph.level for the ONNX Runtime backend: -1 basic only, 1 basic and extended, 0 all. */
function graphLevel(level: number | undefined): ModelSessionConfig['graphOptimizationLevel'] {
  if (level === -1) return 'basic';
  if (level === 1) return 'extended';
  return undefined;
}

/** Provider options from Triton's parameters; a parameter that cannot be passed on fails the model, naming it. */
function providerOptions(provider: 'cuda' | 'tensorrt', parameters: Record<string, string>, field: string): Record<string, string> {
  const { options, problems } = tritonProviderOptions(provider, parameters);
  const first = problems[0];
  if (first !== undefined) throw new OrtServeError('ERR_CONFIG', `config.pbtxt: ${field}["${first.key}"]: ${first.problem}`);
  return options;
}

/** The CUDA provider's options: the cuda accelerator's parameters, the backend's CUDA keys, optimization.cuda.graphs. */
function cudaOptions(t: TritonModelConfig): Record<string, string> {
  const backend = Object.fromEntries(Object.entries(t.parameters).filter(([k]) => ORT_PROVIDER_KEYS.cuda.includes(k)));
  const accelerator = t.gpuAccelerators.find((a) => a.name === 'cuda')?.parameters ?? {};
  const options = providerOptions('cuda', { ...backend, ...accelerator }, 'parameters');
  if (t.cudaGraphs !== undefined) options['enable_cuda_graph'] = t.cudaGraphs ? '1' : '0';
  return options;
}

/** Execution providers from instance groups and accelerators: GPU instances try the gpu accelerators, then CUDA. */
function providersOf(t: TritonModelConfig, ignored: IgnoredField[]): ExecutionProviderRequest[] | undefined {
  const gpuGroup = t.instanceGroups.find((g) => g.kind === 'KIND_GPU' || g.gpus.length > 0);
  if (gpuGroup === undefined) {
    if (t.gpuAccelerators.length > 0) {
      ignored.push({ path: 'optimization.execution_accelerators.gpu_execution_accelerator', line: 0, reason: 'used only by instance groups of kind KIND_GPU (or with gpus)' });
    }
    const cudaKeys = Object.keys(t.parameters).filter((k) => ORT_PROVIDER_KEYS.cuda.includes(k));
    if (cudaKeys.length > 0 || t.cudaGraphs !== undefined) {
      ignored.push({ path: 'parameters', line: 0, reason: `CUDA settings (${[...cudaKeys, ...(t.cudaGraphs !== undefined ? ['optimization.cuda.graphs'] : [])].join(', ')}) apply only to instance groups of kind KIND_GPU` });
    }
    return undefined;
  }
  const deviceId = gpuGroup.gpus[0] ?? 0;
  if (t.instanceGroups.some((g) => g.gpus.length > 1)) {
    ignored.push({ path: 'instance_group.gpus', line: 0, reason: `each version's sessions all run on GPU ${deviceId} (one device per model)` });
  }
  const out: ExecutionProviderRequest[] = [];
  t.gpuAccelerators.forEach((a, i) => {
    const field = `optimization.execution_accelerators.gpu_execution_accelerator[${i}].parameters`;
    if (a.name === 'tensorrt') out.push({ name: 'tensorrt', deviceId, options: providerOptions('tensorrt', a.parameters, field) });
    else if (a.name !== 'cuda') ignored.push({ path: `optimization.execution_accelerators.gpu_execution_accelerator[${i}]`, line: 0, reason: `'${a.name}' is not an ONNX Runtime provider ortserve has (tensorrt, cuda)` });
  });
  out.push({ name: 'cuda', deviceId, options: cudaOptions(t) });
  return out;
}

/** What ortserve does with a parsed config.pbtxt (or, with autoComplete, with none). */
export function tritonModelConfig(t: TritonModelConfig, dir: string, autoComplete: boolean): ModelConfig {
  const ignored = [...t.ignored];
  const session: ModelSessionConfig = {};
  const threads = (key: string) => (t.parameters[key] !== undefined ? Number(t.parameters[key]) : undefined);
  const intra = threads('intra_op_thread_count');
  const inter = threads('inter_op_thread_count');
  if (intra !== undefined) session.intraOpThreads = intra;
  if (inter !== undefined) session.interOpThreads = inter;
  const level = graphLevel(t.graphLevel);
  if (level !== undefined) session.graphOptimizationLevel = level;
  const providers = providersOf(t, ignored);
  if (providers !== undefined) session.executionProviders = providers;
  t.cpuAccelerators.forEach((a, i) => ignored.push({
    path: `optimization.execution_accelerators.cpu_execution_accelerator[${i}]`, line: 0,
    reason: `'${a.name}' is not available in ortserve's ONNX Runtime build; the CPU provider runs the model`,
  }));
  const config: ModelConfig = {
    name: t.name,
    basePath: dir,
    platform: 'onnxruntime_onnx',
    versionPolicy: t.versionPolicy,
    versionLabels: new Map(),
    session,
    triton: t,
    autoComplete,
    ignoredFields: ignored,
  };
  const instances = t.instanceGroups.reduce((n, g) => n + g.count * Math.max(1, g.gpus.length), 0);
  if (instances > 0) config.instances = instances;
  if (t.defaultModelFilename !== undefined) config.modelFilename = t.defaultModelFilename;
  const d = t.dynamicBatching;
  if (t.maxBatchSizeGiven && t.maxBatchSize === 0) config.batchingOff = 'max_batch_size is 0 in config.pbtxt (the model has no batch dim)';
  if (d !== undefined && t.maxBatchSize > 0) {
    const batching: BatchingConfig = {
      maxBatchSize: t.maxBatchSize, batchTimeoutMicros: d.maxQueueDelayMicros, allowedBatchSizes: [],
      preferredBatchSizes: d.preferredBatchSizes, padVariableLengthInputs: false,
    };
    // Priority levels, each with its queue policy (its own, else the default one); without levels, the default
    // policy applies to the one queue.
    const levels = Math.max(1, d.priorityLevels);
    batching.priorityLevels = Array.from({ length: levels }, (_, i) => {
      const q = d.priorityQueuePolicy.get(i + 1) ?? d.defaultQueuePolicy;
      return { delayOnTimeout: q.timeoutAction === 'DELAY', timeoutMicros: q.defaultTimeoutMicros, allowTimeoutOverride: q.allowTimeoutOverride, maxQueueSize: q.maxQueueSize };
    });
    if (d.priorityLevels > 0) batching.defaultPriorityLevel = d.defaultPriorityLevel;
    config.batching = batching;
    if (d.preserveOrdering) ignored.push({ path: 'dynamic_batching.preserve_ordering', line: 0, reason: 'each request is answered when its batch completes' });
  }
  return config;
}

/** A model whose config.pbtxt cannot be used: it is listed (its status says why) and loads nothing. */
function brokenModel(name: string, dir: string, error: string): ModelConfig {
  return {
    name, basePath: dir, platform: 'onnxruntime_onnx', versionPolicy: { kind: 'latest', numVersions: 1 }, versionLabels: new Map(),
    session: {}, configError: error,
  };
}

/** One model directory of the repository; undefined when `dir` is not a model (no config.pbtxt, no version). */
export function readTritonModel(dir: string, maxBytes: number): ModelConfig | undefined {
  const name = path.basename(dir);
  const file = path.join(dir, TRITON_CONFIG_FILE);
  if (!existsSync(file)) {
    if (listVersions(dir, MODEL_FILE).length === 0) return undefined;
    return tritonModelConfig(emptyTritonConfig(name), dir, true);
  }
  try {
    const text = readConfigText(file, maxBytes, '--model_repository');
    return tritonModelConfig(parseTritonConfig(text, { source: `${name}/${TRITON_CONFIG_FILE}`, directoryName: name, maxBytes }), dir, false);
  } catch (err) {
    // That model alone fails: the others of the repository are served.
    return brokenModel(name, dir, toOrtServeError(err).message);
  }
}

/** Every model of a Triton repository, by directory name. Throws ERR_CONFIG when `root` is not a directory. */
export function readTritonRepository(root: string, maxBytes: number): ModelConfig[] {
  if (!isDirectory(root)) throw new OrtServeError('ERR_CONFIG', `--model_repository: '${root}' is not a directory`);
  const resolved = path.resolve(root);
  return readdirSync(resolved)
    .filter((entry) => !entry.startsWith('.'))
    .sort()
    .map((entry) => path.join(resolved, entry))
    .filter(isDirectory)
    .map((dir) => readTritonModel(dir, maxBytes))
    .filter((m): m is ModelConfig => m !== undefined);
}
