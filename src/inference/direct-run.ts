// A fast path's run on the version a request names: one addon call reads, runs and encodes it, or declines having
// run nothing, so the general path (runInference) answers instead. Keeps the version's handle, its statistics and
// the answer's bytes in flight as runOn keeps them.

import type { DirectRun } from '../engine/model-session.js';
import type { ModelRegistry, ResolvedVersion, VersionSelector } from '../registry/model-registry.js';
import type { CallLimits } from './infer-request.js';
import type { RequestSizes } from './request-size.js';
import { requestStats, type ProtocolId } from './request-stats.js';
import { expireIfPast } from './run-inference.js';

/** What a fast path did: answered (`run`), failed running (`error`, to be answered as the general path would), or declined. */
export type DirectOutcome = { run: DirectRun } | { error: unknown } | undefined;

/**
 * Runs `start` on the version `model` and `selector` name when the fast path may: the request's deadline has not
 * passed, the version is AVAILABLE and not chosen by traffic weights (acquirePlain). Returns undefined, having counted
 * nothing, when any of that fails or `start` declines; the general path then answers, errors included. A run that
 * failed (or whose answer does not fit in --max_in_flight_bytes) returns its error, counted as the general path
 * counts one.
 */
export function runDirect(registry: ModelRegistry, model: string, selector: VersionSelector, limits: CallLimits, sizes: RequestSizes,
                          protocol: ProtocolId, start: (v: ResolvedVersion) => DirectRun | undefined): DirectOutcome {
  try {
    expireIfPast(limits);
  } catch {
    return undefined;
  }
  const handle = registry.acquirePlain(model, selector);
  if (handle === undefined) return undefined;
  const v = handle.version;
  const received = performance.now();
  let run: DirectRun | undefined;
  try {
    run = start(v);
    if (run === undefined) {
      handle.finish();
      return undefined;
    }
    // Counted in flight as the general path counts an answer: until the turn after it is built.
    sizes.inFlight.takeForThisTurn(run.bytes.length, 'the answer');
  } catch (error) {
    handle.finish(error);
    requestStats(registry, v.session, v.model, v.version).failed(protocol, received, error);
    registry.logRequestFailure(v.model, v.version, error);
    return { error };
  }
  handle.finish();
  requestStats(registry, v.session, v.model, v.version).succeeded(protocol, received, run.info, run.rows);
  return { run };
}
