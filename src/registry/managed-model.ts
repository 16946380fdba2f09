// ManagedModel: one model's versions — scanning its base path, choosing aspired versions, loading, swapping, retiring.

/*
 * Every change (a scan, a finished load, a drained version, a retry timer, a config change) ends in reconcile(), a
 * synchronous step that compares what should be loaded (the aspired versions) with what is, and starts loads and
 * retirements. Loads are the only asynchronous part. The invariants:
 *   - only AVAILABLE versions are routable; a version becomes AVAILABLE after its session loaded and warmup ran;
 *   - availability_preserving: a version that is no longer aspired keeps serving until an aspired one is AVAILABLE
 *     and no other aspired one is still loading; resource_preserving: it is retired at once and loads wait for it;
 *   - a retired version is UNLOADING while handles are out, then its session is released and it is END;
 *   - a label only ever points at an AVAILABLE version, and a version a label points at is never retired for policy;
 *   - with traffic weights, a request naming neither version nor label runs on an AVAILABLE version with a positive
 *     weight (traffic-split.ts; its table is rebuilt at the end of every step), else on the latest AVAILABLE one.
 */

import type { Logger } from 'pino';
import { OrtServeError, hideServerPaths, toOrtServeError, withoutServerPaths } from '../errors.js';
import type { ModelSession, SessionOptions } from '../engine/model-session.js';
import type { ModelConfig, SwapPolicy } from '../config/model-config.js';
import { scanVersionDirs, type VersionDirState } from './repository.js';
import { aspiredVersions, retryDelayMs } from './version-policy.js';
import { failureError, loadVersion, sessionOptionsFor, unbatchableReason } from './version-loader.js';
import { checkTritonConfig } from './triton-model-check.js';
import { sequenceOptionsFor } from './sequence-options.js';
import type { NativeStateBudget } from '../engine/native-binding.js';
import { VersionEntry, describeRequest, type RegistryEvent, type VersionChange, type VersionSelector } from './model-version.js';
import { TrafficSplit, type RollbackRecord } from './traffic-split.js';

/** What the registry gives every model: server-wide settings and where to report. */
export interface ModelRuntime {
  readonly sessionDefaults: SessionOptions;
  readonly swapPolicy: SwapPolicy;
  readonly warmupIterations: number;
  /** A new version directory is taken once unchanged for this long (0: at once). */
  readonly settleMs: number;
  readonly maxLoadRetries: number;
  readonly loadRetryIntervalMs: number;
  /** Weighted requests remembered for the measured shares of GET .../traffic (--traffic_share_window). */
  readonly trafficShareWindow: number;
  readonly log: Logger;
  emit(event: RegistryEvent): void;
  /** The bound on implicit state bytes of model `name`, shared by its versions (sequence batching). */
  stateBudget(name: string): NativeStateBudget;
}

/** END versions kept in the status list after they stop being aspired (the newest are kept). */
const HISTORY = 10;

export class ManagedModel {
  readonly entries = new Map<number, VersionEntry>();
  /** Effective labels: label → an AVAILABLE version. */
  readonly labels = new Map<string, number>();
  /** Version directories seen but still being written. */
  settling: number[] = [];
  scanError: string | undefined;
  /** Set by the management API's unload; cleared by its load or a config change of this model. */
  unloadedByRequest = false;
  private removed = false;
  private closed = false;
  private scanned = false;
  /** Version directories on disk that have settled (or were seen settled before), by version. */
  private versionDirs = new Map<number, VersionDirState>();
  /** Versions whose directories have stopped changing in the latest scan: only these may be (re)loaded. */
  private settledVersions = new Set<number>();
  private lastFingerprints = new Map<number, string>();
  private reconciling = false;
  private again = false;
  private readonly waiters = new Set<() => void>();
  /** Weights over the versions for requests naming none; undefined: the policy's latest serves them. */
  traffic: TrafficSplit | undefined;
  /** Rollbacks per version since the model was created, for metrics. */
  readonly rollbackCounts = new Map<number, number>();

  constructor(public config: ModelConfig, private readonly runtime: ModelRuntime) {
    if (config.traffic !== undefined) this.setTraffic(config.traffic, 'config');
  }

  /** Replaces the weights (undefined: none); the rollback policy is the config's. */
  setTraffic(weights: ReadonlyMap<number, number> | undefined, source: 'config' | 'api'): void {
    this.traffic = weights === undefined ? undefined : new TrafficSplit(weights, source, this.runtime.trafficShareWindow, this.config.trafficRollback);
    this.traffic?.update((v) => this.entries.get(v)?.state === 'AVAILABLE');
  }

  /** Counts, logs and reports a version losing its weight. */
  rolledBack(record: RollbackRecord): void {
    this.rollbackCounts.set(record.version, (this.rollbackCounts.get(record.version) ?? 0) + 1);
    this.runtime.log.warn({ model: this.name, version: record.version, reason: record.reason, automatic: record.automatic }, 'traffic rolled back: version weight set to 0');
    this.runtime.emit({ type: 'traffic', model: this.name, version: record.version, weight: 0, reason: record.reason, automatic: record.automatic, at: performance.now() });
  }

  /**
   * The version a request naming neither version nor label runs on when weights are set: the weighted choice, or the
   * policy's latest when no weighted version is AVAILABLE. `routed` says whether the weights chose it.
   */
  resolveWeighted(traffic: TrafficSplit, routeKey: string | undefined): { entry: VersionEntry; routed: boolean } {
    const version = traffic.choose(routeKey);
    const entry = version === undefined ? undefined : this.entries.get(version);
    // The table is rebuilt on every state change, so this holds; the check keeps a request off a version mid-swap.
    if (entry?.state === 'AVAILABLE' && entry.session !== undefined) return { entry, routed: true };
    return { entry: this.resolve({}), routed: false };
  }

  get name(): string {
    return this.config.name;
  }

  get swapPolicy(): SwapPolicy {
    return this.config.swapPolicy ?? this.runtime.swapPolicy;
  }

  /**
   * Scans the base path and reconciles. `takeAll` takes every complete-looking directory at once (server start, an
   * explicit load); otherwise a new directory waits until its files have not changed for the settle time.
   */
  async refresh(takeAll: boolean): Promise<void> {
    const basePath = this.config.basePath;
    const scan = await scanVersionDirs(basePath, this.config.modelFilename);
    if (this.closed || basePath !== this.config.basePath) return;
    if (!scan.ok) {
      // An unreadable base path (a flaky mount) says nothing about the versions: keep serving what is loaded.
      if (scan.error !== this.scanError) this.runtime.log.warn({ model: this.name, err: scan.error }, 'cannot scan the base path; keeping loaded versions');
      this.scanError = scan.error;
      this.scanned = true;
      this.notify();
      return;
    }
    this.scanError = undefined;
    this.scanned = true;
    const now = Date.now();
    const taken = new Map<number, VersionDirState>();
    this.settledVersions = new Set();
    this.settling = [];
    for (const d of scan.versions) {
      const settled = takeAll || this.runtime.settleMs === 0 ||
        (now - d.newestMtimeMs >= this.runtime.settleMs && this.lastFingerprints.get(d.version) === d.fingerprint);
      if (settled) this.settledVersions.add(d.version);
      // Once taken, a version stays taken while its directory exists (versions are immutable; rewrites are ignored).
      if (settled || this.versionDirs.has(d.version)) taken.set(d.version, d);
      else this.settling.push(d.version);
      const entry = this.entries.get(d.version);
      if (entry?.failed && settled && entry.loadedFingerprint !== d.fingerprint) {
        // The files of a failed version were replaced and have settled: try again from scratch.
        entry.loadFailures = 0;
        entry.clearRetry();
      }
    }
    this.lastFingerprints = new Map(scan.versions.map((d) => [d.version, d.fingerprint]));
    this.versionDirs = taken;
    this.reconcile();
  }

  /** Re-evaluates everything; re-entrant calls (from a release inside a step) run one more step. */
  reconcile(): void {
    if (this.reconciling) {
      this.again = true;
      return;
    }
    this.reconciling = true;
    try {
      do {
        this.again = false;
        if (!this.closed) this.step();
      } while (this.again);
    } finally {
      this.reconciling = false;
    }
    this.notify();
  }

  private step(): void {
    const aspired = this.aspired();
    this.applyLabels();
    const keep = new Set([...aspired, ...this.labels.values()]);
    this.startLoads(aspired, keep);
    this.retireUnaspired(aspired, keep);
    this.trimHistory(keep);
    this.traffic?.update((v) => this.entries.get(v)?.state === 'AVAILABLE');
  }

  private aspired(): Set<number> {
    // A model whose own config is unusable loads nothing; its status says why (emptyReason).
    if (this.removed || this.unloadedByRequest || !this.scanned || this.config.configError !== undefined) return new Set();
    const failed = new Set([...this.entries.values()].filter((e) => e.failed).map((e) => e.version));
    return aspiredVersions({
      policy: this.config.versionPolicy, onDisk: [...this.versionDirs.keys()], failed, labelTargets: this.config.versionLabels.values(),
    });
  }

  /** Moves each configured label to its version once that version is AVAILABLE; drops labels no longer configured. */
  private applyLabels(): void {
    const wanted = this.removed || this.unloadedByRequest ? new Map<string, number>() : this.config.versionLabels;
    for (const [label, version] of wanted) {
      if (this.labels.get(label) !== version && this.entries.get(version)?.state === 'AVAILABLE') this.setLabel(label, version);
    }
    for (const [label, version] of this.labels) {
      if (!wanted.has(label) || this.entries.get(version)?.state !== 'AVAILABLE') this.setLabel(label, undefined);
    }
  }

  private setLabel(label: string, version: number | undefined): void {
    const previous = this.labels.get(label);
    if (version === undefined) this.labels.delete(label);
    else this.labels.set(label, version);
    this.runtime.log.info({ model: this.name, label, version, previous }, 'label moved');
    this.runtime.emit({ type: 'label', model: this.name, label, version, previous, at: performance.now() });
  }

  private startLoads(aspired: Set<number>, keep: Set<number>): void {
    // resource_preserving: nothing loads while a version on its way out still holds memory.
    const blocked = this.swapPolicy === 'resource_preserving' && [...this.entries.values()].some(
      (e) => !keep.has(e.version) && (e.state === 'AVAILABLE' || e.state === 'UNLOADING' || e.state === 'LOADING'));
    for (const v of aspired) {
      const dir = this.versionDirs.get(v);
      if (dir === undefined) continue;
      let entry = this.entries.get(v);
      if (entry === undefined) {
        entry = new VersionEntry(this.name, v, dir.dir, dir.modelPath, this.config,
          (c) => this.changed(c), (e) => this.finishUnload(e));
        this.entries.set(v, entry);
        this.changed({ entry, previous: 'START' });
      }
      if (entry.state === 'UNLOADING' && entry.session !== undefined) {
        entry.setState('AVAILABLE');   // wanted again before it drained: it never stopped being loaded
        continue;
      }
      if (!blocked && this.shouldLoad(entry)) void this.load(entry, dir);
    }
  }

  private shouldLoad(entry: VersionEntry): boolean {
    if (entry.state === 'START') return true;
    if (entry.state !== 'END') return false;
    if (!entry.failed) return true;   // unloaded earlier, aspired again (e.g. the newest version was deleted)
    // Files of a failed version that are being replaced: wait until they settle rather than load half a file.
    if (!this.settledVersions.has(entry.version)) return false;
    return entry.loadFailures <= this.runtime.maxLoadRetries && (entry.nextRetryAt ?? 0) <= Date.now();
  }

  private async load(entry: VersionEntry, dir: VersionDirState): Promise<void> {
    entry.clearRetry();
    entry.config = this.config;
    entry.loadedFingerprint = dir.fingerprint;
    entry.setState('LOADING', entry.error);
    const options = sessionOptionsFor(this.config, this.runtime.sessionDefaults, `${this.name}:${entry.version}`);
    try {
      if (this.config.sequenceBatching !== undefined) options.sequence = await sequenceOptionsFor(this.config, this.runtime.stateBudget(this.name));
      const config = this.config;
      const loaded = await loadVersion(entry.modelPath, entry.dir, options, config.warmupIterations ?? this.runtime.warmupIterations,
        (session) => checkTritonConfig(config, session.signature));
      if (this.closed) {
        loaded.session.release();
        entry.setState('END');
        return;
      }
      entry.session = loaded.session;
      entry.warmup = loaded.warmup;
      entry.loadSeconds = loaded.loadSeconds;
      entry.batchingNote = this.batchingNote(options, loaded.session);
      entry.loadFailures = 0;
      entry.setState('AVAILABLE');
      const active = loaded.session.providers.filter((p) => p.active).map((p) => p.name);
      for (const p of loaded.session.providers.filter((x) => !x.active)) {
        this.runtime.log.warn({ model: this.name, version: entry.version, provider: p.name, reason: p.reason }, `execution provider ${p.name} skipped; falling back`);
      }
      this.runtime.log.info({ model: this.name, version: entry.version, providers: active, warmup: loaded.warmup }, 'model version AVAILABLE');
    } catch (err) {
      // Clients read the version's error: paths relative to the base path, no native source locations (the detail,
      // for the log and the management API, keeps the full text).
      this.loadFailed(entry, hideServerPaths(toOrtServeError(err), this.config.basePath));
    }
    this.reconcile();
  }

  /** Why a version asked to batch serves unbatched (the model cannot batch, or its config says so); logged once per load. */
  private batchingNote(options: SessionOptions, session: ModelSession): string | undefined {
    if (this.config.batchingOff !== undefined) return this.runtime.sessionDefaults.batching?.enabled === true ? `unbatched: ${this.config.batchingOff}` : undefined;
    if (options.batching?.enabled !== true || session.metadata.batching.enabled) return undefined;
    const note = `unbatched: ${unbatchableReason(session.signature) ?? 'the model cannot batch'}; --enable_batching does not apply to it`;
    this.runtime.log.warn({ model: this.name, reason: note }, 'model cannot batch; serving it unbatched');
    return note;
  }

  private loadFailed(entry: VersionEntry, cause: OrtServeError): void {
    entry.loadFailures++;
    let delay: number | undefined;
    if (entry.loadFailures <= this.runtime.maxLoadRetries && !this.closed) {
      delay = retryDelayMs(this.runtime.loadRetryIntervalMs, entry.loadFailures);
      entry.nextRetryAt = Date.now() + delay;
      entry.retryTimer = setTimeout(() => {
        // The timer is what says the wait is over: Date.now() can read a little earlier than the timer's own clock,
        // or step back, and a retry found "not yet due" here would never be tried again.
        entry.retryTimer = undefined;
        entry.nextRetryAt = undefined;
        this.reconcile();
      }, delay);
      entry.retryTimer.unref();
    }
    entry.setState('END', failureError(cause, entry.loadFailures, this.runtime.maxLoadRetries, delay));
    this.runtime.log.error({ model: this.name, version: entry.version, err: entry.error!.detail }, 'model version failed to load');
  }

  private retireUnaspired(aspired: Set<number>, keep: Set<number>): void {
    const leaving = [...this.entries.values()].filter((e) => !keep.has(e.version) && e.state === 'AVAILABLE');
    if (leaving.length === 0) return;
    if (this.swapPolicy === 'availability_preserving' && aspired.size > 0) {
      const states = [...aspired].map((v) => this.entries.get(v)?.state);
      const pending = states.some((s) => s === undefined || s === 'START' || s === 'LOADING');
      // Keep serving until a replacement is AVAILABLE and nothing else aspired is still on its way.
      if (!states.includes('AVAILABLE') || pending) return;
    }
    for (const entry of leaving) {
      entry.setState('UNLOADING');
      if (entry.inFlight === 0) this.finishUnload(entry);
    }
  }

  /** Releases a retired version's session once no handle is out (also the handles' drain callback). */
  private finishUnload(entry: VersionEntry): void {
    if (entry.state !== 'UNLOADING') return;
    entry.session?.release();
    entry.session = undefined;
    entry.setState('END');
    this.runtime.log.info({ model: this.name, version: entry.version }, 'model version unloaded');
    this.reconcile();
  }

  /** Forgets START entries no longer aspired and all but the newest HISTORY ended ones. */
  private trimHistory(keep: Set<number>): void {
    const ended: VersionEntry[] = [];
    for (const entry of this.entries.values()) {
      if (keep.has(entry.version)) continue;
      if (entry.state === 'START') this.entries.delete(entry.version);
      else if (entry.state === 'END') ended.push(entry);
    }
    ended.sort((a, b) => b.endedAt - a.endedAt || b.version - a.version);
    for (const entry of ended.slice(HISTORY)) {
      entry.clearRetry();
      this.entries.delete(entry.version);
    }
  }

  private changed({ entry, previous }: VersionChange): void {
    this.runtime.emit({ type: 'version', model: this.name, version: entry.version, state: entry.state, previous, error: entry.error, at: performance.now() });
  }

  /** Every known version matching the selector, newest first, for the status API. Throws ERR_MODEL_NOT_FOUND. */
  status(selector: VersionSelector): VersionEntry[] {
    const notFound = (why: string): never => {
      throw new OrtServeError('ERR_MODEL_NOT_FOUND', `Servable not found for request: ${describeRequest(this.name, selector)} (${why})`);
    };
    if (selector.label !== undefined) {
      const version = this.labels.get(selector.label) ?? this.config.versionLabels.get(selector.label);
      if (version === undefined) return notFound('no such label');
      return [this.entries.get(version) ?? notFound(`label '${selector.label}' points at version ${version}, which is not loaded`)];
    }
    if (selector.version !== undefined) return [this.entries.get(selector.version) ?? notFound('no such version')];
    // A configured model with no version yet is listed empty (metrics and readiness iterate over models).
    return [...this.entries.values()].sort((a, b) => b.version - a.version);
  }

  /** Why the model has no version, as a client may read it: the scan error, directories still being written, or none found. */
  emptyReason(): string {
    if (this.config.configError !== undefined) return withoutServerPaths(this.config.configError, this.config.basePath);
    if (this.scanError !== undefined) return withoutServerPaths(this.scanError, this.config.basePath);
    if (this.settling.length > 0) return `version ${this.settling.join(', ')} is still being written`;
    return 'no version found in the model\'s base path';
  }

  /** The AVAILABLE version a request should run on. Throws ERR_MODEL_NOT_FOUND / ERR_MODEL_UNAVAILABLE. */
  resolve(selector: VersionSelector): VersionEntry {
    // Every request comes through here: the common case allocates nothing; messages are built only for failures.
    let found: VersionEntry | undefined;
    if (selector.label !== undefined) {
      const version = this.labels.get(selector.label);
      found = version === undefined ? undefined : this.entries.get(version);
    } else if (selector.version !== undefined) {
      found = this.entries.get(selector.version);
    } else {
      for (const e of this.entries.values()) if (e.state === 'AVAILABLE' && (found === undefined || e.version > found.version)) found = e;
    }
    if (found?.state === 'AVAILABLE' && found.session !== undefined) return found;
    return this.unavailable(selector);
  }

  /** Throws the reason `selector` has no AVAILABLE version. */
  private unavailable(selector: VersionSelector): never {
    const what = describeRequest(this.name, selector);
    const all = this.status(selector);   // throws ERR_MODEL_NOT_FOUND for unknown versions and labels
    if (all.length === 0) throw new OrtServeError('ERR_MODEL_NOT_FOUND', `Servable not found for request: ${what} (${this.emptyReason()})`);
    const candidate = all[0]!;
    if (candidate.state === 'END' && !candidate.failed && selector.version !== undefined) {
      throw new OrtServeError('ERR_MODEL_NOT_FOUND', `Servable not found for request: ${what} (the version was unloaded)`);
    }
    const why = candidate.error ? `: ${candidate.error.message}` : this.unloadedByRequest ? ' (unloaded through the management API)' : '';
    const target = selector.label !== undefined ? ` (label '${selector.label}' → version ${candidate.version})` : '';
    throw new OrtServeError('ERR_MODEL_UNAVAILABLE', `${what}${target} is ${candidate.state}, not AVAILABLE${why}`);
  }

  /** Applies a changed entry of the config (same base path): policy, labels, session options for later loads. */
  updateConfig(config: ModelConfig): void {
    const previous = this.config;
    this.config = config;
    // The config's weights replace the live ones only when the config's weights changed: weights set through the
    // management API survive an unrelated config change (and a reload of the same file).
    if (JSON.stringify([...previous.traffic ?? []]) !== JSON.stringify([...config.traffic ?? []])) this.setTraffic(config.traffic, 'config');
    else if (this.traffic !== undefined && JSON.stringify(previous.trafficRollback) !== JSON.stringify(config.trafficRollback)) {
      this.traffic.policy = config.trafficRollback;
      this.traffic.resetWindows();
    }
    this.unloadedByRequest = false;
    this.reconcile();
  }

  /** Explicit load: clears an API unload, forgets retry limits, and takes every directory now. */
  async reloadNow(): Promise<void> {
    this.unloadedByRequest = false;
    for (const entry of this.entries.values()) {
      if (entry.failed) {
        entry.loadFailures = 0;
        entry.clearRetry();
      }
    }
    await this.refresh(true);
  }

  unloadByRequest(): void {
    this.unloadedByRequest = true;
    this.reconcile();
  }

  /** The model left the config: retire every version (in-flight requests finish first). */
  remove(): void {
    this.removed = true;
    this.reconcile();
  }

  /** Server stop: releases every session now (native runs in flight still finish) and cancels retries. */
  close(): void {
    this.closed = true;
    for (const entry of this.entries.values()) {
      entry.clearRetry();
      entry.session?.release();
      entry.session = undefined;
      if (entry.state !== 'END') entry.setState('END');
    }
    this.labels.clear();
    this.notify();
  }

  /** No load pending: nothing START/LOADING and no directory still settling. */
  isSettled(): boolean {
    if (!this.scanned) return false;
    return this.settling.length === 0 && ![...this.entries.values()].some((e) => e.state === 'START' || e.state === 'LOADING');
  }

  /** Nothing holds a session any more. */
  isDrained(): boolean {
    return [...this.entries.values()].every((e) => e.state === 'END');
  }

  /** Resolves true once `predicate` holds (checked after every change), or false after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    if (predicate()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = (): void => {
        if (!predicate() && !this.closed) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(predicate());
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve(predicate());
      }, timeoutMs);
      timer.unref();
      this.waiters.add(check);
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
