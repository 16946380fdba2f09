// Loads one version: the ORT session with the model's options (batching included), then warmup — all or nothing.

import { wrapError, type OrtServeError } from '../errors.js';
import { ModelSession, type BatchingOptions, type SessionOptions } from '../engine/model-session.js';
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
  const limit = config.session.maxConcurrentRuns;
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
    logId,
  };
}

export interface LoadedVersion {
  session: ModelSession;
  warmup?: WarmupReport;
  /** Wall-clock seconds from the start of the load to the end of warmup (Triton's nv_model_load_duration_secs). */
  loadSeconds: number;
}

/** Loads and warms up; on any failure the session is released and the error (ERR_MODEL_LOAD) thrown. */
export async function loadVersion(modelPath: string, dir: string, options: SessionOptions, warmupIterations: number): Promise<LoadedVersion> {
  const started = performance.now();
  const session = await ModelSession.load(modelPath, options);
  try {
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
