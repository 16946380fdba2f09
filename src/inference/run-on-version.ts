// Runs one decoded request on a version the caller holds: input checks in the protocol's words, bytes in flight, the
// engine run (inline: answered directly; queued: a promise), statistics, and the version handle let go with the outcome.

import { fail } from '../errors.js';
import type { RunOptions, RunResult } from '../engine/model-session.js';
import type { ModelRegistry, RequestHandle } from '../registry/model-registry.js';
import { checkInputs, type CallLimits, type InferRequest, type InferResponse, type ProtocolNames } from './infer-request.js';
import { checkRequestTensors, checkResponseTensors, type SizeLimits } from './request-size.js';
import { requestStats } from './request-stats.js';

/**
 * The client's limits and the server's bounds on the outputs, as the engine takes them. `signal` is passed through a
 * getter: a front end may make it on demand, and only a request that goes to the queue reads it.
 */
class EngineRunOptions implements RunOptions {
  readonly deadline: number | undefined;
  readonly maxOutputStrings: number;
  readonly maxOutputBytes: number;

  readonly priority: number | undefined;

  constructor(private readonly limits: CallLimits, sizes: SizeLimits, readonly sequence: RunOptions['sequence']) {
    this.deadline = limits.deadline;
    this.priority = limits.priority;
    this.maxOutputStrings = sizes.maxStringElements;
    this.maxOutputBytes = sizes.maxResponseBytes;
  }

  get signal(): AbortSignal | undefined {
    return this.limits.signal;
  }

  get aborted(): boolean {
    return this.limits.aborted ?? this.limits.signal?.aborted ?? false;
  }
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
 * Runs `request` on the version `handle` holds and calls handle.finish() with the outcome once the answer is ready
 * (before it goes out). A run that goes inline on the JS thread returns the answer itself (no promise, no microtask:
 * the front end can reply in the same turn); a queued one returns a promise. The version's recorder counts the
 * request (request-stats.ts). Throws (or rejects with) ERR_SEQUENCE for a stateful version without sequence fields,
 * the decoder's and checkInputs' errors, and the engine's; ERR_TOO_LARGE for inputs or outputs over the size limits
 * (the engine checks outputs before converting them), and ERR_QUEUE_FULL when the server's bytes in flight would
 * pass --max_in_flight_bytes.
 */
export function runOn(registry: ModelRegistry, handle: RequestHandle, request: InferRequest, names: ProtocolNames): InferResponse | Promise<InferResponse> {
  const { limits, inFlight } = request.sizes;
  const received = performance.now();
  const v = handle.version;
  // Statistics: the one recorder of this version (request-stats.ts), told of the outcome in answer() or failed().
  const stats = requestStats(registry, v.session, v.model, v.version);
  const releases: Array<() => void> = [];
  // Held one more turn of the event loop: front ends encode the answer right after this returns (or in the
  // continuation of its promise), so the bytes stay counted until the reply has been built. The version's handle
  // is let go now, with the outcome (a weighted request's outcome feeds its version's rollback window).
  const settle = (err?: unknown) => {
    handle.finish(err);
    releaseNextTurn(releases);
  };
  const answer = (result: RunResult): InferResponse => {
    try {
      releases.push(inFlight.reserve(checkResponseTensors(result.outputs, limits), 'the answer'));
    } catch (err) {
      return failed(err);
    }
    const response: InferResponse = { model: v.model, version: v.version, outputs: result.outputs };
    if (request.id !== undefined) response.id = request.id;
    stats.succeeded(request.protocol, received, result.info, result.rows);
    return response;
  };
  const failed = (err: unknown): never => {
    stats.failed(request.protocol, received, err);
    registry.logRequestFailure(v.model, v.version, err);
    throw err;
  };
  let started: RunResult | Promise<RunResult>;
  try {
    // Said before the inputs are judged: no input would make a request without its sequence runnable.
    if (v.session.stateful && request.sequence === undefined) {
      fail('ERR_SEQUENCE', `model '${v.model}' is stateful (sequence_batching): every request needs parameters sequence_id, and sequence_start on the first of a sequence`);
    }
    const signature = v.session.signature;
    const inputs = typeof request.inputs === 'function' ? request.inputs(signature) : request.inputs;
    checkInputs(inputs, signature, names);
    // Tensors decoded from a body (or message) already counted are counted only beyond it: binary tensors are views of it.
    releases.push(inFlight.reserve(Math.max(0, checkRequestTensors(inputs, limits) - (request.heldBytes ?? 0)), 'the request'));
    started = v.session.start(inputs, request.outputNames, new EngineRunOptions(request.limits, limits, request.sequence));
  } catch (err) {
    settle(err);
    return failed(err);
  }
  if (started instanceof Promise) {
    return started.then(answer, failed).then((response) => {
      settle();
      return response;
    }, (err: unknown) => {
      settle(err);
      throw err;
    });
  }
  let outcome: unknown;
  try {
    return answer(started);
  } catch (err) {
    outcome = err;
    throw err;
  } finally {
    settle(outcome);
  }
}
