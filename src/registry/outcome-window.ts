// OutcomeWindow: the last N outcomes of one version's weighted requests — failures and slow answers, counted in O(1).

/*
 * The rollback verdict needs an error rate and a 99th percentile over a window. Both are kept as counts over a ring:
 * the error rate is failures / n, and "p99 > bound" holds exactly when more than n - ceil(0.99 n) samples exceed the
 * bound (the nearest-rank p99 is the ceil(0.99 n)-th smallest sample). So a request costs two array writes, never a
 * sort, and the verdict is exact for the samples in the window.
 */

export interface WindowVerdict {
  /** Why the version should lose its weight, in words for the log and GET .../traffic. */
  reason: string;
}

export interface WindowThresholds {
  minRequests: number;
  /** Percent (0-100) of failures the window may hold; undefined: not judged. */
  maxErrorPercent?: number;
  /** ms the window's p99 may reach; undefined: not judged. */
  maxP99Ms?: number;
}

export class OutcomeWindow {
  private readonly failed: Uint8Array;
  private readonly slow: Uint8Array;
  private next = 0;
  /** Outcomes in the window (up to its size). */
  size = 0;
  failures = 0;
  slows = 0;

  constructor(readonly capacity: number, private readonly boundMs: number) {
    this.failed = new Uint8Array(capacity);
    this.slow = new Uint8Array(capacity);
  }

  /** Adds one outcome (dropping the oldest when full). */
  add(failed: boolean, ms: number): void {
    const i = this.next;
    if (this.size === this.capacity) {
      this.failures -= this.failed[i]!;
      this.slows -= this.slow[i]!;
    } else {
      this.size++;
    }
    const f = failed ? 1 : 0;
    const s = ms > this.boundMs ? 1 : 0;
    this.failed[i] = f;
    this.slow[i] = s;
    this.failures += f;
    this.slows += s;
    this.next = i + 1 === this.capacity ? 0 : i + 1;
  }

  /** The verdict on the window as it is now; undefined while it holds fewer than minRequests outcomes or is within bounds. */
  judge(t: WindowThresholds): WindowVerdict | undefined {
    const n = this.size;
    if (n < t.minRequests || n === 0) return undefined;
    // Integer comparison: failures / n > p / 100 without rounding.
    if (t.maxErrorPercent !== undefined && this.failures * 100 > t.maxErrorPercent * n) {
      return { reason: `error rate ${(100 * this.failures / n).toFixed(1)}% over the last ${n} requests exceeds max_error_percent ${t.maxErrorPercent}%` };
    }
    if (t.maxP99Ms !== undefined && this.slows > n - Math.ceil(0.99 * n)) {
      return { reason: `p99 latency over the last ${n} requests exceeds max_p99_ms ${t.maxP99Ms} ms (${this.slows} requests took longer)` };
    }
    return undefined;
  }
}
