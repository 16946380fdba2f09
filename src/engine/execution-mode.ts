// ExecutionMode: decides, per request, whether a model version runs inline on the JS thread or on the native workers,
// from a recent high percentile of its measured compute time.

/*
 * The rule (README, Architecture): the JS thread never waits on inference longer than the inline budget. For a model
 * of a few µs, the two thread hand-offs of a queued run (JS → worker → JS) cost several times the run itself, so a
 * version that has proven cheap runs synchronously in the calling JS thread. "Proven cheap":
 *   - at least MIN_SAMPLES runs measured (warmup runs count), queued or inline alike;
 *   - of the last WINDOW runs, no more than OVER_BUDGET_ALLOWED took longer than the budget (a high percentile, not
 *     the mean: a model that is slow most of the time never qualifies because a few of its runs were fast);
 *   - no inline run went over the budget in the last COOLDOWN_MS: one that does sends the version back to the
 *     workers for that long (and its measurement counts against the window, so a model that got slower stays there).
 * Size counts too: a version is proven cheap only up to the inputs it was measured with. A request whose inputs hold
 * more than INLINE_GROWTH times the most input work of any run measured within budget (inline or queued) runs on the
 * workers, whose within-budget runs then raise that bound; so a model cheap at batch 1 never runs a 32 MB request on
 * the JS thread, while one that stays cheap as inputs grow earns larger inline runs step by step.
 * Batching keeps a request on the workers too. A version turns inline only at a moment when none of its requests
 * waits in the queue, so no waiting request is overtaken by the switch; once inline it stays so while it qualifies,
 * even if requests queued before the switch are still finishing on the workers (waiting for the queue to be empty
 * at every request would, under steady load, keep it queued forever: measured with wrk -c8, 4% of runs went inline).
 * The addon checks batching and the queue (SessionObject::RunInline). A budget of 0 turns inline runs off.
 */

/** Runs remembered for the percentile. */
export const WINDOW = 64;
/** Runs over budget the window may hold while the version stays inline: the 95th percentile is under budget. */
export const OVER_BUDGET_ALLOWED = 3;
/** Runs measured before a version may go inline. */
export const MIN_SAMPLES = 16;
/** How much more input work than the most proven within budget an inline run may have (see the rule above). */
export const INLINE_GROWTH = 2;
/** How long a version stays on the workers after an inline run over budget. */
export const COOLDOWN_MS = 250;

export type ExecutionModeName = 'inline' | 'queued';

export class ExecutionMode {
  /** A ring of the last WINDOW runs: whether each went over budget. */
  private readonly overBudget = new Uint8Array(WINDOW);
  private next = 0;
  private samples = 0;
  private overCount = 0;
  private queuedUntil = 0;
  /** Whether the version is inline already (its switch happened); cleared whenever it stops qualifying. */
  private entered = false;
  /** The last inline run passed the budget by the wall clock alone: the next one reads the thread CPU clock. */
  private confirmNext = false;
  /** The most input elements of a run measured within budget: larger inputs get their CPU time read. */
  private largestFastInput = 0;

  /** `now` (ms) is injectable so tests can step through the cooldown. */
  constructor(readonly budgetMicros: number, private readonly now: () => number = Date.now) {}

  /** Whether the next request should try to run inline (the addon may still send it to the queue). */
  inline(): boolean {
    const qualifies = this.budgetMicros > 0 && this.samples >= MIN_SAMPLES && this.overCount <= OVER_BUDGET_ALLOWED &&
      this.now() >= this.queuedUntil;
    if (!qualifies) this.entered = false;
    return qualifies;
  }

  /** Whether an inline attempt must wait for an empty queue: true until the switch to inline has happened. */
  get switching(): boolean {
    return !this.entered;
  }

  /** Whether a request of `inputWork` (inputWork in model-session.ts) should try to run inline: inline() and within inlineWorkCap. */
  inlineFor(inputWork: number): boolean {
    return this.inline() && inputWork <= this.inlineWorkCap();
  }

  /** The most input work an inline run may have now: INLINE_GROWTH times the most of any run measured within budget. */
  inlineWorkCap(): number {
    return INLINE_GROWTH * this.largestFastInput;
  }

  /** The mode a request would take now, for status and metrics. */
  get name(): ExecutionModeName {
    return this.inline() ? 'inline' : 'queued';
  }

  /**
   * Whether an inline run of `inputElements` elements should read the thread CPU clock (a system call each side of
   * the run, several µs on a busy VM: as much as a tiny model's run). The wall clock alone judges a run well when it
   * is under budget (the CPU time is then under budget too), so the CPU clock is read only when a run may be slow:
   * its inputs are larger than any run proven within budget so far, or the previous inline run passed the budget by
   * the wall clock (which may be the thread being preempted on a busy machine: that must not flap the mode).
   */
  measureCpuFor(inputElements: number): boolean {
    return this.confirmNext || inputElements > this.largestFastInput;
  }

  /** measureCpuFor as a threshold, for the addon to apply: read the CPU clock above this many elements (-1: always). */
  cpuThreshold(): number {
    return this.confirmNext ? -1 : this.largestFastInput;
  }

  /**
   * Records an inline run from its wall time and, when it was read, its thread CPU time (see measureCpuFor). With
   * the CPU time, the rule applies in full (a run over budget sends the version to the workers for COOLDOWN_MS). A
   * run over budget by the wall clock alone counts against the percentile, and the next run reads the CPU clock.
   */
  recordInline(wallMicros: number, cpuMicros: number | undefined, inputElements: number): void {
    if (cpuMicros !== undefined && cpuMicros >= 0) {
      this.confirmNext = false;
      this.record(cpuMicros, true, inputElements);
      return;
    }
    if (wallMicros <= this.budgetMicros) {
      this.record(wallMicros, true, inputElements);
      return;
    }
    this.confirmNext = true;
    this.remember(1);
  }

  /** Records one finished run's compute time; an inline run over budget sends the version to the workers a while. */
  record(computeMicros: number, ranInline: boolean, inputElements = 0): void {
    const over = computeMicros > this.budgetMicros ? 1 : 0;
    this.remember(over);
    if (over === 0 && inputElements > this.largestFastInput) this.largestFastInput = inputElements;
    if (ranInline) this.entered = true;
    if (ranInline && over === 1) {
      this.queuedUntil = this.now() + COOLDOWN_MS;
      this.entered = false;
    }
  }

  /** Adds one run to the window: over budget (1) or not (0). */
  private remember(over: number): void {
    this.overCount += over - this.overBudget[this.next]!;
    this.overBudget[this.next] = over;
    this.next = (this.next + 1) % WINDOW;
    this.samples = Math.min(this.samples + 1, WINDOW);
  }
}
