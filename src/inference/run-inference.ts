// THE inference function: every front end (TF Serving REST and gRPC, KServe REST and gRPC, FlatBuffers HTTP and
// WebSocket) resolves the model, applies the deadline and abort signal, runs, and counts through runInference.

import { fail } from '../errors.js';
import type { ModelRegistry, VersionSelector } from '../registry/model-registry.js';
import { deadlineClock } from './deadline.js';
import type { CallLimits, InferRequest, InferResponse, ProtocolNames } from './infer-request.js';
import { runOn } from './run-on-version.js';
import { runSequenceRequest } from './sequence-run.js';

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

/**
 * Runs a request on the version it names, inside registry.use (which keeps that version alive until the run
 * settles); the session counts it (success, failure, rows, queue and compute time) for metrics. Throws
 * ERR_MODEL_NOT_FOUND/UNAVAILABLE, ERR_DEADLINE_EXCEEDED, the decoder's and checkInputs' errors, and the engine's;
 * ERR_TOO_LARGE for inputs or outputs over the size limits (the engine checks outputs before converting them), and
 * ERR_QUEUE_FULL when the server's bytes in flight would pass --max_in_flight_bytes. A request with sequence fields
 * goes through runSequenceRequest (sequence-run.ts): in order within its sequence, on the sequence's version.
 */
export async function runInference(registry: ModelRegistry, request: InferRequest, names: ProtocolNames): Promise<InferResponse> {
  expireIfPast(request.limits);
  if (request.sequence !== undefined) return runSequenceRequest(registry, request, names);
  return registry.use(request.model, request.selector, (v) => runOn(v, request, names));
}
