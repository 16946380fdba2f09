// Loads one version: the ORT session with the model's options (batching included), then warmup — all or nothing.

import { wrapError, type OrtServeError } from '../errors.js';
import { ModelSession, type BatchingOptions, type ModelSignature, type SessionOptions } from '../engine/model-session.js';
import type { BatchingConfig, ModelConfig } from '../config/model-config.js';
import { runWarmup, type WarmupReport } from './warmup.js';
import { sequenceBatchingOptions } from './sequence-options.js';

/** A parsed batching section in the engine's terms: only the fields it sets (the rest keep the engine's defaults). */
export function toBatchingOptions(b: BatchingConfig): BatchingOptions {
  return Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0)));
}

/**
 * The batching section as the engine takes it: on top of the server's batch options, and turning batching on. The
 * model's max_concurrent_runs is the engine's per-version limit (numBatchThreads), batched or not, and wins over
 * the batching section's num_batch_threads.
 */
function batchingFor(config: ModelConfig, defaults: SessionOptions): SessionOptions['batching'] {
  const b = config.batching;
  let batching = b === undefined ? defaults.batching : { ...defaults.batching, ...toBatchingOptions(b), enabled: true };
  if (b !== undefined && batching !== undefined && config.sequenceBatching !== undefined) batching = sequenceBatchingOptions(config, batching);
  if (config.batchingOff !== undefined) {
    batching = { enabled: false, ...(defaults.batching?.maxQueuedRequests !== undefined ? { maxQueuedRequests: defaults.batching.maxQueuedRequests } : {}) };
  } else if (batching?.enabled === true && (b === undefined || config.triton !== undefined)) {
    // Batching is a per-model property: asked server-wide (or by a Triton config, checked against the model after
    // the load with a message naming max_batch_size), a model that cannot batch loads unbatched rather than failing.
    batching = { ...batching, unbatchedIfUnbatchable: true };
  }
  // Instances are Triton's unit of concurrency: each runs one batch at a time unless max_concurrent_runs says more.
  const limit = config.session.maxConcurrentRuns ?? (config.instances !== undefined ? 1 : undefined);
  if (limit === undefined) return batching;
  return { ...(batching ?? { enabled: false }), numBatchThreads: limit };
}

/** The server's session flags with the model's own settings (threads, providers, batching) on top. */
export function sessionOptionsFor(config: ModelConfig, defaults: SessionOptions, logId: string): SessionOptions {
  const own = config.session;
  const batching = batchingFor(config, defaults);
  return {
    ...defaults,
    ...(batching !== undefined ? { batching } : {}),
    ...(own.intraOpThreads !== undefined ? { intraOpThreads: own.intraOpThreads } : {}),
    ...(own.interOpThreads !== undefined ? { interOpThreads: own.interOpThreads } : {}),
    ...(own.graphOptimizationLevel !== undefined ? { graphOptimizationLevel: own.graphOptimizationLevel } : {}),
    ...(own.executionProviders !== undefined ? { executionProviders: own.executionProviders } : {}),
    ...(config.instances !== undefined ? { instances: config.instances } : {}),
    logId,
  };
}

export interface LoadedVersion {
  session: ModelSession;
  warmup?: WarmupReport;
  /** Wall-clock seconds from the start of the load to the end of warmup (Triton's nv_model_load_duration_secs). */
  loadSeconds: number;
}

/**
 * Why a model cannot batch (merged requests need a free dim 0 on every input), or undefined when it can. The same
 * rule as the addon's CheckBatchable, worded for the model's status.
 */
export function unbatchableReason(signature: ModelSignature): string | undefined {
  for (const input of signature.inputs) {
    if (input.shape.length === 0) return `input '${input.name}' is a scalar (no batch dim)`;
    if (input.shape[0]! >= 0) return `input '${input.name}' has a fixed dim 0 of ${input.shape[0]}`;
  }
  return undefined;
}

/**
 * Loads, checks the session against the model's config (`check` throws to refuse it), and warms up; on any failure
 * the session is released and the error (ERR_MODEL_LOAD) thrown.
 */
export async function loadVersion(
  modelPath: string, dir: string, options: SessionOptions, warmupIterations: number, check?: (session: ModelSession) => void,
): Promise<LoadedVersion> {
  const started = performance.now();
  const session = await ModelSession.load(modelPath, options);
  try {
    check?.(session);
    const warmup = await runWarmup(session, dir, warmupIterations);
    return { session, warmup, loadSeconds: (performance.now() - started) / 1000 };
  } catch (err) {
    session.release();
    throw err;
  }
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

/** The error a failed version shows: the cause, then the attempt count and what happens next. */
export function failureError(cause: OrtServeError, failures: number, maxRetries: number, nextDelayMs: number | undefined): OrtServeError {
  const note = nextDelayMs !== undefined
    ? `load attempt ${failures} of ${maxRetries + 1} failed; next attempt in ${seconds(nextDelayMs)}`
    : `gave up after ${failures} attempt${failures === 1 ? '' : 's'}; replace the version's files or load the model again`;
  return wrapError(cause.code, cause, (text) => `${text} (${note})`);
}
