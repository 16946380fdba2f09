// THE inference function: every front end (TF Serving REST and gRPC, KServe REST and gRPC, FlatBuffers HTTP and
// WebSocket) resolves the model, applies the deadline and abort signal, runs, and counts through runInference.

import { fail } from '../errors.js';
import type { RunOptions } from '../engine/model-session.js';
import type { ModelRegistry, VersionSelector } from '../registry/model-registry.js';
import { deadlineClock } from './deadline.js';
import { checkInputs, type CallLimits, type InferRequest, type InferResponse, type ProtocolNames } from './infer-request.js';
import { checkRequestTensors, checkResponseTensors, type SizeLimits } from './request-size.js';

/** ERR_MODEL_NOT_FOUND before anything is decoded when the request names a model or version never seen. */
export function checkServable(registry: ModelRegistry, model: string, selector: VersionSelector): void {
  registry.status(model, selector);
}

/** ERR_DEADLINE_EXCEEDED if the client's deadline has already passed or it went away: such a request is not worth decoding. */
export function expireIfPast(limits: CallLimits): void {
  if (limits.deadline !== undefined && limits.deadline <= deadlineClock()) {
    fail('ERR_DEADLINE_EXCEEDED', 'the request deadline passed before it ran');
  }
  if (limits.signal?.aborted) fail('ERR_DEADLINE_EXCEEDED', 'the request was cancelled before it ran');
}

/** The client's limits and the server's bounds on the outputs, as the engine takes them. */
function engineRunOptions(limits: CallLimits, sizes: SizeLimits): RunOptions {
  const options: RunOptions = { maxOutputStrings: sizes.maxStringElements, maxOutputBytes: sizes.maxResponseBytes };
  if (limits.deadline !== undefined) options.deadline = limits.deadline;
  if (limits.signal !== undefined) options.signal = limits.signal;
  if (limits.priority !== undefined) options.priority = limits.priority;
  return options;
}

/** Releases waiting for the next turn of the event loop: one setImmediate serves every request of a turn. */
let pendingReleases: Array<() => void> = [];

function releaseNextTurn(releases: ReadonlyArray<() => void>): void {
  if (pendingReleases.length === 0) {
    setImmediate(() => {
      const due = pendingReleases;
      pendingReleases = [];
      for (const release of due) release();
    });
  }
  pendingReleases.push(...releases);
}

/**
 * Runs a request on the version it names, inside registry.use (which keeps that version alive until the run
 * settles); the session counts it (success, failure, rows, queue and compute time) for metrics. Throws
 * ERR_MODEL_NOT_FOUND/UNAVAILABLE, ERR_DEADLINE_EXCEEDED, the decoder's and checkInputs' errors, and the engine's;
 * ERR_TOO_LARGE for inputs or outputs over the size limits (the engine checks outputs before converting them), and
 * ERR_QUEUE_FULL when the server's bytes in flight would pass --max_in_flight_bytes.
 */
export async function runInference(registry: ModelRegistry, request: InferRequest, names: ProtocolNames): Promise<InferResponse> {
  expireIfPast(request.limits);
  const { limits, inFlight } = request.sizes;
  return registry.use(request.model, request.selector, async (v) => {
    const signature = v.session.signature;
    const inputs = typeof request.inputs === 'function' ? request.inputs(signature) : request.inputs;
    checkInputs(inputs, signature, names);
    const releases = [inFlight.reserve(checkRequestTensors(inputs, limits), 'the request')];
    try {
      const outputs = await v.session.run(inputs, request.outputNames, engineRunOptions(request.limits, limits));
      releases.push(inFlight.reserve(checkResponseTensors(outputs, limits), 'the answer'));
      const response: InferResponse = { model: v.model, version: v.version, outputs };
      if (request.id !== undefined) response.id = request.id;
      return response;
    } finally {
      // Held one more turn of the event loop: front ends encode the answer in the continuation of this promise, so
      // the bytes stay counted until the reply has been built.
      releaseNextTurn(releases);
    }
  });
}
