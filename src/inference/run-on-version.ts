// Runs one decoded request on a version the caller holds: input checks in the protocol's words, bytes in flight,
// the engine run (with the request's sequence fields), the response.

import { fail } from '../errors.js';
import type { RunOptions } from '../engine/model-session.js';
import type { ResolvedVersion } from '../registry/model-registry.js';
import { checkInputs, type CallLimits, type InferRequest, type InferResponse, type ProtocolNames } from './infer-request.js';
import { checkRequestTensors, checkResponseTensors, type SizeLimits } from './request-size.js';

/** The client's limits and the server's bounds on the outputs, as the engine takes them. */
function engineRunOptions(limits: CallLimits, sizes: SizeLimits): RunOptions {
  const options: RunOptions = { maxOutputStrings: sizes.maxStringElements, maxOutputBytes: sizes.maxResponseBytes };
  if (limits.deadline !== undefined) options.deadline = limits.deadline;
  if (limits.signal !== undefined) options.signal = limits.signal;
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

/** Runs `request` on version `v` (the caller holds a handle on it), counting its bytes in flight. */
export async function runOn(v: ResolvedVersion, request: InferRequest, names: ProtocolNames): Promise<InferResponse> {
  const { limits, inFlight } = request.sizes;
  // Said before the inputs are judged: no input would make a request without its sequence runnable.
  if (v.session.stateful && request.sequence === undefined) {
    fail('ERR_SEQUENCE', `model '${v.model}' is stateful (sequence_batching): every request needs parameters sequence_id, and sequence_start on the first of a sequence`);
  }
  const signature = v.session.signature;
  const inputs = typeof request.inputs === 'function' ? request.inputs(signature) : request.inputs;
  checkInputs(inputs, signature, names);
  const releases = [inFlight.reserve(checkRequestTensors(inputs, limits), 'the request')];
  try {
    const options = engineRunOptions(request.limits, limits);
    if (request.sequence !== undefined) options.sequence = request.sequence;
    const outputs = await v.session.run(inputs, request.outputNames, options);
    releases.push(inFlight.reserve(checkResponseTensors(outputs, limits), 'the answer'));
    const response: InferResponse = { model: v.model, version: v.version, outputs };
    if (request.id !== undefined) response.id = request.id;
    return response;
  } finally {
    // Held one more turn of the event loop: front ends encode the answer in the continuation of this promise, so
    // the bytes stay counted until the reply has been built.
    releaseNextTurn(releases);
  }
}
