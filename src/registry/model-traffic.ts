// ModelTraffic: what the management API does to one model's traffic weights — set, clear, promote, roll back, report.

import { OrtServeError, fail } from '../errors.js';
import { rollbackToJson } from '../config/model-config.js';
import type { ManagedModel } from './managed-model.js';
import type { RollbackRecord, TrafficSplit } from './traffic-split.js';

/**
 * Whether a failed request counts against the version that ran it: the server failed it (HTTP 500 class), or ONNX
 * Runtime refused the run (an input the version cannot handle though ortserve's own checks passed it: ORT's verdict
 * travels as the error's cause). Malformed requests, full queues, deadlines and size limits do not count.
 */
export function isServerFault(err: unknown): boolean {
  if (!(err instanceof OrtServeError)) return true;
  if (err.httpStatus === 500) return true;
  const cause = err.cause as { ortCode?: unknown } | undefined;
  return err.code === 'ERR_INVALID_INPUT' && typeof cause?.ortCode === 'number' && cause.ortCode !== 0;
}

const MANUAL = 'manual rollback through the management API';

export class ModelTraffic {
  constructor(private readonly model: ManagedModel) {}

  get name(): string {
    return this.model.name;
  }

  /** ERR_MODEL_NOT_FOUND for a version never seen, ERR_BAD_REQUEST for one that is not AVAILABLE; `field` names it. */
  private requireAvailable(version: number, field: string): void {
    const entry = this.model.entries.get(version);
    if (entry === undefined) throw new OrtServeError('ERR_MODEL_NOT_FOUND', `${field}: model '${this.name}' has no version ${version}`);
    if (entry.state !== 'AVAILABLE') {
      fail('ERR_BAD_REQUEST', `${field}: version ${version} of model '${this.name}' is ${entry.state}, not AVAILABLE; only AVAILABLE versions take traffic`);
    }
  }

  private requireTraffic(): TrafficSplit {
    const traffic = this.model.traffic;
    if (traffic === undefined) fail('ERR_BAD_REQUEST', `model '${this.name}' has no traffic weights (set them with PUT /v1/management/models/${this.name}/traffic)`);
    return traffic;
  }

  /** Replaces the weights. Every version listed must be AVAILABLE; at least one weight positive (the caller checked values). */
  set(weights: ReadonlyMap<number, number>): void {
    for (const version of weights.keys()) this.requireAvailable(version, `"${version}"`);
    if (![...weights.values()].some((w) => w > 0)) fail('ERR_BAD_REQUEST', 'request body: at least one version needs a positive weight');
    this.model.setTraffic(weights, 'api');
  }

  /** Removes the weights: requests naming no version go to the policy's latest again. */
  clear(): void {
    this.model.setTraffic(undefined, 'api');
  }

  /**
   * Gives `version` (default: the highest version in the table other than the baseline) all the traffic and makes it
   * the baseline; the other versions stay in the table with weight 0. Returns the version promoted.
   */
  promote(version?: number): number {
    const traffic = this.requireTraffic();
    const candidates = [...traffic.weights.keys()].filter((v) => v !== traffic.baseline);
    const target = version ?? (candidates.length > 0 ? Math.max(...candidates) : undefined);
    if (target === undefined) fail('ERR_BAD_REQUEST', 'version: the table holds only the baseline; name the version to promote ({"version": "2"})');
    this.requireAvailable(target, 'version');
    const weights = new Map([...traffic.weights.keys()].map((v) => [v, 0]));
    weights.set(target, 100);
    this.model.setTraffic(weights, 'api');
    return target;
  }

  /** Sets `version`'s weight to 0 (default: every version but the baseline with a positive weight). */
  rollback(version?: number): RollbackRecord[] {
    const traffic = this.requireTraffic();
    if (version !== undefined) {
      if (version === traffic.baseline) fail('ERR_BAD_REQUEST', `version: ${version} is the baseline; promote another version instead`);
      if ((traffic.weights.get(version) ?? 0) === 0) fail('ERR_BAD_REQUEST', `version: ${version} has no traffic to roll back`);
    }
    const targets = version !== undefined ? [version] : [...traffic.weights].filter(([v, w]) => w > 0 && v !== traffic.baseline).map(([v]) => v);
    if (targets.length === 0) fail('ERR_BAD_REQUEST', `nothing to roll back: only the baseline version ${traffic.baseline} has weight`);
    return targets.map((v) => {
      const record = traffic.rollBack(v, MANUAL, false);
      this.model.rolledBack(record);
      return record;
    });
  }

  /** Effective weights (routable versions only) and rollback counts, for metrics. */
  metrics(): { weights: Map<number, number>; rollbacks: ReadonlyMap<number, number> } {
    return { weights: this.model.traffic?.effective() ?? new Map(), rollbacks: this.model.rollbackCounts };
  }

  /** GET .../traffic: weights as set and as routed now, measured shares of the last requests, rollbacks and why. */
  report(): Record<string, unknown> {
    const traffic = this.model.traffic;
    if (traffic === undefined) {
      return { model: this.name, weights: null, routing: 'no weights: requests naming no version go to the latest version of the policy' };
    }
    const byVersion = (m: ReadonlyMap<number, number>) => Object.fromEntries([...m].sort((a, b) => a[0] - b[0]).map(([v, w]) => [String(v), w]));
    const recent = traffic.recentCounts();
    const shares = Object.fromEntries([...recent.counts].sort((a, b) => a[0] - b[0]).map(([v, n]) => [String(v), { requests: n, share: n / recent.requests }]));
    const windows = Object.fromEntries([...traffic.weights.keys()].flatMap((v) => {
      const w = traffic.windowOf(v);
      return w === undefined ? [] : [[String(v), { requests: w.size, failures: w.failures, over_p99_bound: w.slows }]];
    }));
    return {
      model: this.name,
      source: traffic.source,
      weights: byVersion(traffic.weights),
      effective: byVersion(traffic.effective()),
      baseline_version: traffic.baseline === undefined ? null : String(traffic.baseline),
      recent: { window: recent.window, requests: recent.requests, versions: shares },
      rollback_policy: traffic.policy === undefined ? null : rollbackToJson(traffic.policy),
      rollback_windows: windows,
      rollbacks: [...traffic.rollbacks.values()].map((r) => ({
        version: String(r.version), reason: r.reason, automatic: r.automatic, at: new Date(r.at).toISOString(),
      })),
    };
  }
}
