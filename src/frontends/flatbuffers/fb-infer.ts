// Runs one FlatBuffers InferRequest through the one inference function and returns the encoded InferResponse (or error response).

import { toOrtServeError } from '../../errors.js';
import { nativeAddon } from '../../engine/native-binding.js';
import type { DType } from '../../engine/tensor.js';
import type { CallLimits, InferResponse } from '../../inference/infer-request.js';
import { listedInputNames, withPriority } from '../../inference/infer-request.js';
import { runInference } from '../../inference/run-inference.js';
import type { ProtocolId } from '../../inference/request-stats.js';
import { runDirect } from '../../inference/direct-run.js';
import { sequenceFromParameters } from '../../inference/sequence-request.js';
import type { RequestSizes } from '../../inference/request-size.js';
import type { ModelRegistry, VersionSelector } from '../../registry/model-registry.js';
import { decodeInferRequest, encodeErrorResponse, encodeInferResponseInSlices, PROTOCOL_VERSION } from '../../protocol/flatbuffers/messages.js';

export interface FbInferResult {
  /** The encoded InferResponse (success or error). */
  bytes: Uint8Array;
  status: number;
}

/** FlatBuffers names dtypes as ortserve does (float32, int64, string). */
const fbDtypeName = (d: DType | 'unsupported'): string => d;

/**
 * Decodes, runs and encodes. Never throws and never rejects: every failure becomes an error response with the
 * registry's code. A request that ran inline is answered directly, one that queued through a promise.
 * `limitsFor` turns the request's own timeout_micros (0 = none) into its limits under the one deadline rule, counted
 * from when the request arrived; its signal drops the request if it has not started. `protocol`: HTTP or WebSocket.
 * `heldBytes`: the body's bytes the front end already counts in flight (InferRequest.heldBytes). `fastPath`: try
 * the one-call path first (runFlatBuffersFast below).
 */
export function runFlatBuffersInfer(
  registry: ModelRegistry,
  bytes: Uint8Array,
  limitsFor: (timeoutMicros: number) => CallLimits,
  sizes: RequestSizes,
  protocol: ProtocolId,
  heldBytes = 0,
  fastPath = true,
): FbInferResult | Promise<FbInferResult> {
  const direct = fastPath ? runFlatBuffersFast(registry, bytes, limitsFor(0), sizes, protocol) : undefined;
  if (direct !== undefined) return direct;
  let id = '';
  let model = '';
  const failed = (err: unknown): FbInferResult => {
    const error = toOrtServeError(err);
    return { bytes: encodeErrorResponse(id, model, error), status: error.httpStatus };
  };
  // A large answer is encoded over several turns of the event loop (--wire_slice_bytes), a small one in this turn.
  const encoded = (response: InferResponse): FbInferResult | Promise<FbInferResult> => {
    const bytes = encodeInferResponseInSlices(id, response.model, response.version, response.outputs, sizes.limits.wireSliceBytes);
    return bytes instanceof Promise ? bytes.then((b) => ({ bytes: b, status: 200 }), failed) : { bytes, status: 200 };
  };
  try {
    const request = decodeInferRequest(bytes, sizes.limits);
    id = request.id;
    model = request.model;
    const selector: VersionSelector = {};
    if (request.version !== undefined) selector.version = request.version;
    if (request.label) selector.label = request.label;
    if (request.routeKey !== undefined) selector.routeKey = request.routeKey;
    const sequence = sequenceFromParameters(request.sequenceId, request.sequenceStart, request.sequenceEnd, 'request');
    const response = runInference(registry, {
      model: request.model, selector, inputs: request.inputs,
      outputNames: request.outputs.length > 0 ? request.outputs : undefined,
      // priority: 0 = the model's default level (the field's default), as Triton's parameter.
      limits: withPriority(limitsFor(request.timeoutMicros), request.priority === 0 ? undefined : request.priority), sizes, protocol, sequence, heldBytes,
    }, listedInputNames(request.inputs, fbDtypeName, 'request.inputs'));
    if (response instanceof Promise) return response.then(encoded, failed);
    return encoded(response);
  } catch (err) {
    return failed(err);
  }
}

/**
 * The fast path of runFlatBuffersInfer (and of one-turn POSTs, fb-routes.ts): a plain request (no timeout, priority, sequence or BYTES; see
 * native/core/fb_direct_codec.h) to a numeric model version that runs inline now is read, run and answered by one
 * addon call, with no JS objects for its tensors (ModelSession.startFlatBuffers, src/inference/direct-run.ts).
 * Returns undefined, having run nothing and counted nothing, for every request it does not take, so the general
 * path answers those in full, errors included. Why: for a model of a few µs, the general path's decoding into tensor
 * objects, its checks by name and its FlatBuffers builder cost several times the run (README, Architecture).
 */
export function runFlatBuffersFast(registry: ModelRegistry, bytes: Uint8Array, limits: CallLimits, sizes: RequestSizes,
                                   protocol: ProtocolId): FbInferResult | undefined {
  const route = nativeAddon().flatBuffersRoute(bytes, routeIo);
  if (route === undefined) return undefined;
  const model = typeof route === 'string' ? route : route[0];
  const selector: VersionSelector = {};
  if (routeIo[0]! > 0) selector.version = routeIo[0]!;
  if (typeof route !== 'string') {
    if (route[1] !== '') selector.label = route[1];
    if (route[2] !== '') selector.routeKey = route[2];
  }
  const outcome = runDirect(registry, model, selector, limits, sizes, protocol,
    (v) => v.session.startFlatBuffers(bytes, v.version, PROTOCOL_VERSION, sizes.limits));
  if (outcome === undefined) return undefined;
  if ('run' in outcome) return { bytes: outcome.run.bytes, status: 200 };
  const error = toOrtServeError(outcome.error);
  // The id only a failed run's answer needs (the addon read the message already, so it decodes).
  let id = '';
  try {
    id = decodeInferRequest(bytes, sizes.limits).id;
  } catch {
    // answered without an id, as an undecodable message is
  }
  return { bytes: encodeErrorResponse(id, model, error), status: error.httpStatus };
}

/** The version flatBuffersRoute reads, written there (one array for every call: the JS thread runs one at a time). */
const routeIo = new Float64Array(1);
