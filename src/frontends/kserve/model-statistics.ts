// Triton's statistics extension: per model version, request outcomes and where their time went (queue, input
// assembly, ONNX Runtime, output splitting), by batch size; the same answer for REST and gRPC ModelStatistics.

import { clientText, fail } from '../../errors.js';
import type { ModelRegistry } from '../../registry/model-registry.js';
import type { ModelVersion } from '../../registry/model-version.js';
import { existingRequestStats } from '../../inference/request-stats.js';
import { versionSelector } from './model-info.js';

/** Triton's StatisticDuration: how many, and their summed duration in ns. */
export interface StatisticDuration {
  count: number;
  ns: number;
}

export interface InferStatistics {
  success: StatisticDuration;
  fail: StatisticDuration;
  queue: StatisticDuration;
  compute_input: StatisticDuration;
  compute_infer: StatisticDuration;
  compute_output: StatisticDuration;
  cache_hit: StatisticDuration;
  cache_miss: StatisticDuration;
}

export interface InferBatchStatistics {
  batch_size: number;
  compute_input: StatisticDuration;
  compute_infer: StatisticDuration;
  compute_output: StatisticDuration;
}

/** One version's statistics, with Triton's field names. */
export interface ModelStatistics {
  name: string;
  version: string;
  /** ms since the epoch of the last request that finished (0 = none). */
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: InferStatistics;
  batch_stats: InferBatchStatistics[];
}

const duration = (count: number, micros: number): StatisticDuration => ({ count, ns: micros * 1000 });

/**
 * One loaded version's statistics. Requests (success, fail, queue, inference_count, last_inference) are counted
 * by runInference; executions (execution_count, compute_*, batch_stats) by the addon, so they include warmup runs
 * and count a request whose outputs were then refused (over --max_response_bytes) as computed.
 */
function versionStatistics(v: ModelVersion): ModelStatistics {
  const session = v.session!;
  const requests = existingRequestStats(session);
  const native = session.stats();
  const executions = native.batchSizes.reduce((n, b) => n + b.executions, 0);
  const lastInference = requests !== undefined && requests.lastInference > 0
    ? Math.floor(performance.timeOrigin + requests.lastInference) : 0;
  return {
    name: v.model,
    version: String(v.version),
    last_inference: lastInference,
    inference_count: requests?.inferences ?? 0,
    execution_count: executions,
    inference_stats: {
      success: duration(requests?.success ?? 0, requests?.successMicros ?? 0),
      fail: duration(requests?.fail ?? 0, requests?.failMicros ?? 0),
      queue: duration(requests?.success ?? 0, requests?.queueMicros ?? 0),
      compute_input: duration(native.executedRequests, native.requestInputMicros),
      compute_infer: duration(native.executedRequests, native.requestInferMicros),
      compute_output: duration(native.executedRequests, native.requestOutputMicros),
      // ortserve has no response cache.
      cache_hit: duration(0, 0),
      cache_miss: duration(0, 0),
    },
    batch_stats: native.batchSizes.map((b) => ({
      batch_size: b.batchSize,
      compute_input: duration(b.executions, b.inputMicros),
      compute_infer: duration(b.executions, b.inferMicros),
      compute_output: duration(b.executions, b.outputMicros),
    })),
  };
}

/**
 * Statistics of every loaded version of `model` ('' = every model), or of one `version` ('' = all). Throws
 * ERR_MODEL_NOT_FOUND naming the model or version when either is not served.
 */
export function modelStatistics(registry: ModelRegistry, model: string, version: string): { model_stats: ModelStatistics[] } {
  if (model === '' && version !== '') fail('ERR_BAD_REQUEST', `version: '${clientText(version)}' given without a model name`);
  const names = model === '' ? registry.modelNames() : [model];
  const model_stats: ModelStatistics[] = [];
  for (const name of names) {
    // A version without a model makes no sense: Triton refuses it too.
    const selector = versionSelector(name, model === '' ? '' : version);
    for (const v of registry.status(name, selector)) {
      if (v.session !== undefined) model_stats.push(versionStatistics(v));
      else if (selector.version !== undefined) fail('ERR_MODEL_NOT_FOUND', `Servable not found for request: Specific(${clientText(name)}, ${v.version}) (the version is not loaded)`);
    }
  }
  return { model_stats };
}
