// The soak's counters: runs by protocol and outcome, by scenario and outcome label, and the failures (first ones kept).

const KEPT_FAILURES = 100;

export class Tally {
  constructor() {
    /** protocol → {valid, hostile, failed} */
    this.byProtocol = new Map();
    /** scenario name → {protocol, kind, runs, failed, outcomes: {label: count}} */
    this.byScenario = new Map();
    /** @type {Array<{atS: number, scenario: string, message: string}>} */
    this.failures = [];
    this.failureCount = 0;
    this.inFlight = 0;
    this.skipped = 0;
    // Since the last interval() call, for the per-sample rates.
    this.intervalRuns = 0;
    this.intervalFailures = 0;
    /** name → {count, sum, max}: numbers a scenario measured on the side (e.g. how late a 504 came). */
    this.observations = new Map();
  }

  /** Adds one measurement to `name`'s count, mean and max. */
  observe(name, value) {
    const o = this.observations.get(name) ?? { count: 0, sum: 0, max: -Infinity };
    this.observations.set(name, o);
    o.count++;
    o.sum += value;
    o.max = Math.max(o.max, value);
  }

  /** Records one run of `scenario`: `label` is its outcome (undefined = 'ok'), or `error` why it failed. */
  record(scenario, atS, label, error) {
    const protocol = this.byProtocol.get(scenario.protocol) ?? { valid: 0, hostile: 0, failed: 0 };
    this.byProtocol.set(scenario.protocol, protocol);
    const entry = this.byScenario.get(scenario.name) ?? { protocol: scenario.protocol, kind: scenario.kind, runs: 0, failed: 0, outcomes: {} };
    this.byScenario.set(scenario.name, entry);
    entry.runs++;
    this.intervalRuns++;
    if (error === undefined) {
      protocol[scenario.kind]++;
      const key = label ?? (scenario.kind === 'valid' ? 'correct' : 'expected error');
      entry.outcomes[key] = (entry.outcomes[key] ?? 0) + 1;
      return;
    }
    protocol.failed++;
    entry.failed++;
    this.failureCount++;
    this.intervalFailures++;
    const message = error instanceof Error ? `${error.name === 'SoakFailure' ? '' : `${error.name}: `}${error.message}` : String(error);
    if (this.failures.length < KEPT_FAILURES) this.failures.push({ atS: atS, scenario: scenario.name, message });
  }

  /** Runs and failures since the previous call. */
  interval() {
    const result = { runs: this.intervalRuns, failures: this.intervalFailures };
    this.intervalRuns = 0;
    this.intervalFailures = 0;
    return result;
  }

  get runs() {
    let n = 0;
    for (const s of this.byScenario.values()) n += s.runs;
    return n;
  }

  toJSON() {
    return {
      runs: this.runs,
      failures: this.failureCount,
      skippedAtConcurrencyCap: this.skipped,
      byProtocol: Object.fromEntries(this.byProtocol),
      byScenario: Object.fromEntries(this.byScenario),
      observations: Object.fromEntries([...this.observations].map(([k, o]) => [k, { count: o.count, mean: Math.round(o.sum / o.count), max: o.max }])),
      firstFailures: this.failures,
    };
  }
}
