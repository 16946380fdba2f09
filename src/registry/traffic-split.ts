// TrafficSplit: one model's weights over its AVAILABLE versions — which version a request naming none runs on.

/*
 * The rules:
 *   - only AVAILABLE versions with a positive weight take traffic (the routable table); a version that leaves the
 *     policy, fails or unloads drops out of it at the next reconcile and its share goes to the others in proportion;
 *     an empty routable table means "as without weights": the policy's latest version;
 *   - a request without a routing key takes the next turn of smooth weighted round-robin (Nginx's algorithm): over
 *     every `total` requests each version gets exactly its weight, interleaved, with no random number involved;
 *   - a request with a routing key goes where weighted rendezvous hashing sends it (the highest w / -ln(u) for a
 *     u hashed from key and version): the same key lands on the same version for a given table, and raising one
 *     version's weight moves keys only towards that version, so widening a rollout never bounces a user back;
 *   - the automatic rollback judges each version but the baseline over its last weighted requests; a verdict sets its
 *     weight to 0 at once, before the request that tipped it is answered, so later requests never reach it.
 * Credit: smooth weighted round-robin as Nginx's upstream module does it; rendezvous hashing (Thaler & Ravishankar
 * 1996) in its weighted form (Schindelhauer & Schomaker 2005).
 */

import type { TrafficRollbackConfig } from '../config/model-config.js';
import { OutcomeWindow } from './outcome-window.js';

/** Why and when a version lost its weight. */
export interface RollbackRecord {
  version: number;
  reason: string;
  /** True for a verdict of traffic_rollback, false for POST .../traffic:rollback. */
  automatic: boolean;
  /** Date.now() of the decision. */
  at: number;
}

interface Slot {
  version: number;
  weight: number;
  /** Smooth weighted round-robin's running credit. */
  current: number;
}

const TWO_32 = 2 ** 32;

/** 32-bit FNV-1a over the UTF-16 code units of `text`. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** MurmurHash3's finalizer: every input bit flips each output bit with probability about 1/2. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class TrafficSplit {
  /** The weights as set (config or management API), versions not AVAILABLE included. */
  readonly weights: Map<number, number>;
  /** The version automatic rollback never judges. */
  baseline: number | undefined;
  private routable: Slot[] = [];
  private total = 0;
  /** Versions of the last `recent.length` weighted requests (0: empty slot), for the measured shares. */
  private readonly recent: Float64Array;
  private recentNext = 0;
  private recentSize = 0;
  private readonly windows = new Map<number, OutcomeWindow>();
  /** Versions that lost their weight, with why (cleared for a version given a positive weight again). */
  readonly rollbacks = new Map<number, RollbackRecord>();

  constructor(
    weights: ReadonlyMap<number, number>,
    readonly source: 'config' | 'api',
    shareWindow: number,
    public policy: TrafficRollbackConfig | undefined,
  ) {
    this.weights = new Map(weights);
    this.recent = new Float64Array(Math.max(1, shareWindow));
    this.baseline = policy?.baselineVersion ?? this.lowestWeighted();
  }

  private lowestWeighted(): number | undefined {
    let low: number | undefined;
    for (const [v, w] of this.weights) if (w > 0 && (low === undefined || v < low)) low = v;
    return low;
  }

  /** Rebuilds the routable table from the versions that are AVAILABLE now (called on every registry change). */
  update(isAvailable: (version: number) => boolean): void {
    const previous = new Map(this.routable.map((s) => [s.version, s.current]));
    const slots: Slot[] = [];
    for (const [version, weight] of [...this.weights].sort((a, b) => a[0] - b[0])) {
      if (weight > 0 && isAvailable(version)) slots.push({ version, weight, current: previous.get(version) ?? 0 });
    }
    this.routable = slots;
    this.total = slots.reduce((sum, s) => sum + s.weight, 0);
  }

  /** Effective weights (version → weight) of the routable table. */
  effective(): Map<number, number> {
    return new Map(this.routable.map((s) => [s.version, s.weight]));
  }

  /** The version a request goes to, or undefined when no weighted version is AVAILABLE (then: the policy's latest). */
  choose(routeKey: string | undefined): number | undefined {
    const slots = this.routable;
    if (slots.length === 0) return undefined;
    const version = routeKey === undefined || routeKey === '' ? this.nextTurn(slots) : this.rendezvous(slots, routeKey);
    this.remember(version);
    return version;
  }

  private nextTurn(slots: Slot[]): number {
    let best = slots[0]!;
    for (const s of slots) {
      s.current += s.weight;
      if (s.current > best.current) best = s;
    }
    best.current -= this.total;
    return best.version;
  }

  private rendezvous(slots: Slot[], key: string): number {
    const keyHash = fnv1a(key);
    let best = slots[0]!;
    let bestScore = -1;
    for (const s of slots) {
      const u = (fmix32(keyHash ^ fmix32(Math.imul(s.version, 0x9e3779b1) + 1)) + 0.5) / TWO_32;
      const score = s.weight / -Math.log(u);
      if (score > bestScore) {
        bestScore = score;
        best = s;
      }
    }
    return best.version;
  }

  private remember(version: number): void {
    this.recent[this.recentNext] = version;
    this.recentNext = (this.recentNext + 1) % this.recent.length;
    if (this.recentSize < this.recent.length) this.recentSize++;
  }

  /** version → requests among the last weighted ones (at most the share window). */
  recentCounts(): { window: number; requests: number; counts: Map<number, number> } {
    const counts = new Map<number, number>();
    for (let i = 0; i < this.recentSize; i++) {
      const v = this.recent[i]!;
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    return { window: this.recent.length, requests: this.recentSize, counts };
  }

  /**
   * Counts one weighted request's outcome for `version`; returns the rollback it causes, if any (its weight is 0 by
   * the time this returns). `failed`: the server failed it (HTTP 500 class), not the client.
   */
  record(version: number, failed: boolean, ms: number): RollbackRecord | undefined {
    const policy = this.policy;
    if (policy === undefined || version === this.baseline) return undefined;
    let window = this.windows.get(version);
    if (window === undefined) {
      window = new OutcomeWindow(policy.windowRequests, policy.maxP99Ms ?? Number.POSITIVE_INFINITY);
      this.windows.set(version, window);
    }
    window.add(failed, ms);
    if ((this.weights.get(version) ?? 0) === 0) return undefined;
    const verdict = window.judge(policy);
    return verdict === undefined ? undefined : this.rollBack(version, verdict.reason, true);
  }

  /** Sets `version`'s weight to 0 and says why. */
  rollBack(version: number, reason: string, automatic: boolean): RollbackRecord {
    this.weights.set(version, 0);
    this.routable = this.routable.filter((s) => s.version !== version);
    this.total = this.routable.reduce((sum, s) => sum + s.weight, 0);
    this.windows.delete(version);
    const record: RollbackRecord = { version, reason, automatic, at: Date.now() };
    this.rollbacks.set(version, record);
    return record;
  }

  /** Drops the outcome windows (new weights or a new policy start the judgement afresh). */
  resetWindows(): void {
    this.windows.clear();
  }

  /** Outcomes currently in `version`'s window, for GET .../traffic. */
  windowOf(version: number): OutcomeWindow | undefined {
    return this.windows.get(version);
  }
}
