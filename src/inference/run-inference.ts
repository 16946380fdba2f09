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
  if (limits.aborted ?? limits.signal?.aborted) fail('ERR_DEADLINE_EXCEEDED', 'the request was cancelled before it ran');
}

/**
 * Runs a request on the version it names (or, for a model with traffic weights and a request naming neither version
 * nor label, the version the weights pick), holding that version until the run settles so a newer version replacing
 * it meanwhile does not unload it. A request of a sequence runs in order behind its sequence's earlier requests, on
 * the version the sequence started on (sequence-run.ts). A run that goes inline on the JS thread returns the answer
 * directly; a queued one returns a promise (run-on-version.ts). Throws (or rejects with) ERR_MODEL_NOT_FOUND /
 * UNAVAILABLE, ERR_DEADLINE_EXCEEDED, the ERR_SEQUENCE family, and whatever runOn throws.
 */
export function runInference(registry: ModelRegistry, request: InferRequest, names: ProtocolNames): InferResponse | Promise<InferResponse> {
  expireIfPast(request.limits);
  if (request.sequence !== undefined) return runSequenceRequest(registry, request, names);
  return runOn(registry, registry.acquireForRequest(request.model, request.selector), request, names);
}
