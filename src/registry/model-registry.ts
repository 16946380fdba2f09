// ModelRegistry: the models being served, their versions and labels; front ends resolve requests to versions here.

import type { Logger } from 'pino';
import { OrtServeError } from '../errors.js';
import type { SessionOptions } from '../engine/model-session.js';
import { modelConfigToJson, type ModelConfig, type ModelServerConfig, type SwapPolicy } from '../config/model-config.js';
import { ManagedModel, type ModelRuntime } from './managed-model.js';
import type { TrafficSplit } from './traffic-split.js';
import { ModelTraffic, isServerFault } from './model-traffic.js';
import { SequenceBook } from './sequence-book.js';
import { nativeAddon, type NativeStateBudget } from '../engine/native-binding.js';
import {
  describeRequest, type ModelVersion, type RegistryEvent, type RegistryListener, type ResolvedVersion, type VersionHandle,
  type VersionSelector,
} from './model-version.js';

export { withRouteKey, ROUTE_KEY_HEADER } from './model-version.js';
export type {
  ModelVersion, ResolvedVersion, VersionHandle, VersionSelector, VersionState, RegistryEvent, RegistryListener,
} from './model-version.js';

/** Server-wide version management settings (the flags of the same names). */
export interface RegistrySettings {
  swapPolicy: SwapPolicy;
  /** Times each warmup request is replayed; 0 turns warmup off. */
  warmupIterations: number;
  /** A new version directory is taken once its files have not changed for this long; 0 takes it at once. */
  settleSeconds: number;
  maxLoadRetries: number;
  loadRetryIntervalMs: number;
  /** Weighted requests remembered per model for the measured shares (--traffic_share_window). */
  trafficShareWindow: number;
  /** Bytes of implicit sequence state one model may hold, all its versions together (--max_sequence_state_bytes). */
  maxSequenceStateBytes: number;
}

export const DEFAULT_REGISTRY_SETTINGS: RegistrySettings = {
  swapPolicy: 'availability_preserving', warmupIterations: 1, settleSeconds: 1, maxLoadRetries: 5, loadRetryIntervalMs: 60_000,
  trafficShareWindow: 1000,
  maxSequenceStateBytes: 256 * 1024 * 1024,
};

/** How long management calls wait for loads or drains before answering with the state reached so far. */
export const DEFAULT_WAIT_MS = 5 * 60_000;

/** One model as the management API and server.status() show it. */
export interface ModelReport {
  name: string;
  config: ModelConfig;
  /** Effective labels (label → AVAILABLE version). */
  labels: Record<string, number>;
  /** Version directories still being written. */
  settling: number[];
  scanError?: string;
  unloadedByRequest: boolean;
  versions: ModelVersion[];
}

function sameConfig(a: ModelConfig, b: ModelConfig): boolean {
  return JSON.stringify(modelConfigToJson(a)) === JSON.stringify(modelConfigToJson(b));
}

export class ModelRegistry {
  private readonly models = new Map<string, ManagedModel>();
  /** Models removed from the config whose versions are still draining (their status stays visible meanwhile). */
  private readonly retiring = new Set<ManagedModel>();
  private readonly listeners = new Set<RegistryListener>();
  private readonly runtime: ModelRuntime;
  /** Config changes apply one at a time, in the order they came. */
  private applying: Promise<unknown> = Promise.resolve();
  private closed = false;
  /**
   * Set when the server starts to shut down (its drain): every readiness answer (server and model) turns false so
   * load balancers stop sending, while the versions keep serving what still arrives.
   */
  shuttingDown = false;
  /** Open sequences of stateful models and the versions they are pinned to. */
  readonly sequences = new SequenceBook();
  /** Per model name: its bound on implicit state bytes (kept across config changes, so a reload keeps counting). */
  private readonly stateBudgets = new Map<string, NativeStateBudget>();
  /** Finds a model that is not configured by name (a repository's new directory); set by the server. */
  discoverModel?: (name: string) => ModelConfig | undefined;

  constructor(sessionOptions: SessionOptions, log: Logger, settings: Partial<RegistrySettings> = {}) {
    const s = { ...DEFAULT_REGISTRY_SETTINGS, ...settings };
    this.runtime = {
      sessionDefaults: sessionOptions,
      swapPolicy: s.swapPolicy,
      warmupIterations: s.warmupIterations,
      settleMs: Math.round(s.settleSeconds * 1000),
      maxLoadRetries: s.maxLoadRetries,
      loadRetryIntervalMs: s.loadRetryIntervalMs,
      trafficShareWindow: s.trafficShareWindow,
      log,
      emit: (event) => this.emit(event),
      stateBudget: (name) => {
        let budget = this.stateBudgets.get(name);
        if (budget === undefined) this.stateBudgets.set(name, (budget = nativeAddon().createStateBudget(s.maxSequenceStateBytes)));
        return budget;
      },
    };
  }

  /** Calls `listener` on every version state change, label move and config change. Returns the unsubscribe. */
  onEvent(listener: RegistryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: RegistryEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.runtime.log.error({ err }, 'registry event listener threw');
      }
    }
  }

  private create(config: ModelConfig): ManagedModel {
    return new ManagedModel(config, this.runtime);
  }

  private retire(model: ManagedModel): void {
    model.remove();
    this.retiring.add(model);
    void model.waitFor(() => model.isDrained(), 2 ** 31 - 1).then(() => this.retiring.delete(model));
  }

  /**
   * Replaces the config: models no longer listed are unloaded (after their requests finish), new ones loaded, changed
   * ones updated. A model whose base path changed is loaded anew and swapped in once settled. Resolves when every
   * model's loads have settled (or after `timeoutMs`). `initial` takes all version directories at once (server start).
   * `config` may be a function of the config current when this change's turn comes (changes apply one at a time).
   */
  applyConfig(
    config: ModelServerConfig | ((current: ModelServerConfig) => ModelServerConfig),
    options: { initial?: boolean; timeoutMs?: number; source?: string } = {},
  ): Promise<void> {
    const run = this.applying.then(() => this.doApply(typeof config === 'function' ? config(this.config()) : config,
      options.initial ?? false, options.timeoutMs ?? DEFAULT_WAIT_MS, options.source ?? 'config'));
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async doApply(config: ModelServerConfig, initial: boolean, timeoutMs: number, source: string): Promise<void> {
    if (this.closed) return;
    const next = new Map(config.models.map((m) => [m.name, m]));
    for (const [name, model] of this.models) {
      if (!next.has(name)) {
        this.models.delete(name);
        this.retire(model);
      }
    }
    const scans: Array<Promise<void>> = [];
    const replacements: Array<[ManagedModel, ManagedModel]> = [];
    for (const cfg of config.models) {
      const existing = this.models.get(cfg.name);
      if (existing === undefined) {
        const model = this.create(cfg);
        this.models.set(cfg.name, model);
        scans.push(model.refresh(initial));
      } else if (existing.config.basePath !== cfg.basePath || (cfg.triton !== undefined && !sameConfig(existing.config, cfg))) {
        // A new base path, or a changed Triton config.pbtxt (its versions load again with the new settings, as in
        // Triton): loaded anew and swapped in once settled.
        const model = this.create(cfg);
        replacements.push([existing, model]);
        scans.push(model.refresh(initial));
      } else if (!sameConfig(existing.config, cfg)) {
        existing.updateConfig(cfg);
      }
    }
    await Promise.all(scans);
    const all = [...this.models.values(), ...replacements.map(([, m]) => m)];
    await Promise.all(all.map((m) => m.waitFor(() => m.isSettled(), timeoutMs)));
    if (this.closed) {
      for (const [, model] of replacements) model.close();
      return;
    }
    // The old source keeps serving until the new one has loaded: an availability-preserving swap of base paths.
    for (const [old, model] of replacements) {
      this.models.set(model.name, model);
      this.retire(old);
    }
    this.runtime.log.info({ source, models: [...this.models.keys()] }, 'model config applied');
    this.emit({ type: 'config', ok: true, source, at: performance.now() });
  }

  /** Reports a config that could not be applied (parse error): nothing changes, the event tells listeners why. */
  configRejected(source: string, error: string): void {
    this.runtime.log.error({ source, err: error }, 'model config not applied; keeping the current one');
    this.emit({ type: 'config', ok: false, source, error, at: performance.now() });
  }

  /** Polls every base path once: new versions, deleted ones, repaired ones. */
  async refresh(): Promise<void> {
    await Promise.all([...this.models.values()].map((m) => m.refresh(false)));
  }

  /** The current config (what applyConfig and management loads made it). */
  config(): ModelServerConfig {
    return { models: [...this.models.values()].map((m) => m.config) };
  }

  modelNames(): string[] {
    return [...this.models.keys()];
  }

  private model(name: string, selector: VersionSelector, includeRetiring = false): ManagedModel {
    let model = this.models.get(name);
    if (model === undefined && includeRetiring) model = [...this.retiring].reverse().find((m) => m.name === name);
    if (model === undefined) throw new OrtServeError('ERR_MODEL_NOT_FOUND', `Servable not found for request: ${describeRequest(name, selector)}`);
    return model;
  }

  /** Every known version of `model` matching the selector (newest first), for the status API. Throws ERR_MODEL_NOT_FOUND. */
  status(model: string, selector: VersionSelector = {}): ModelVersion[] {
    return this.model(model, selector, true).status(selector);
  }

  /** The AVAILABLE version a request names (for metadata). Throws ERR_MODEL_NOT_FOUND / ERR_MODEL_UNAVAILABLE. */
  resolve(model: string, selector: VersionSelector = {}): ResolvedVersion {
    return this.model(model, selector).resolve(selector) as ResolvedVersion;
  }

  /**
   * A handle on the AVAILABLE version a request names; the version's session stays loaded until the handle is
   * released, even if a newer version replaces it meanwhile. Release it exactly once (extra calls are ignored).
   */
  acquire(model: string, selector: VersionSelector = {}): VersionHandle {
    return this.model(model, selector).resolve(selector).acquire();
  }

  /**
   * Runs `fn` on the AVAILABLE version the request names, keeping that version alive until `fn` settles (even if a
   * newer version replaces it meanwhile). Front ends run inference only through this. Throws like resolve().
   */
  async use<T>(model: string, selector: VersionSelector, fn: (v: ResolvedVersion) => Promise<T>): Promise<T> {
    const request = this.acquireForRequest(model, selector);
    try {
      const result = await fn(request.version);
      request.finish();
      return result;
    } catch (err) {
      this.logRequestFailure(model, request.version.version, err);
      request.finish(err);
      throw err;
    }
  }

  /**
   * The handle one request runs on: the version it names, or, when it names neither version nor label and the
   * model has traffic weights, the version the weights pick (by its route key when it has one). Call finish() once,
   * when the request is answered or failed (`err`): it releases the version and, for a weighted request, records its
   * outcome and latency in the version's rollback window, so a verdict takes the version out of the table before
   * this request's answer goes out. Throws like resolve().
   */
  acquireForRequest(model: string, selector: VersionSelector): RequestHandle {
    const m = this.model(model, selector);
    // The one test a request pays when the model has no traffic weights.
    if (m.traffic !== undefined && selector.version === undefined && selector.label === undefined) {
      const { entry, routed } = m.resolveWeighted(m.traffic, selector.routeKey);
      return new WeightedRequest(m, m.traffic, entry.acquire(), entry.version, routed);
    }
    return new PlainRequest(m.resolve(selector).acquire());
  }

  /**
   * acquireForRequest for a fast path that may still hand the request to the general one: the plain handle on the
   * version the request names, or undefined when the model is unknown or not servable now (the general path says
   * why), or when traffic weights would pick the version (a pick feeds the rollback window, so it is made once, by
   * the general path).
   */
  acquirePlain(model: string, selector: VersionSelector): RequestHandle | undefined {
    const m = this.models.get(model);
    if (m === undefined || (m.traffic !== undefined && selector.version === undefined && selector.label === undefined)) return undefined;
    try {
      return new PlainRequest(m.resolve(selector).acquire());
    } catch {
      return undefined;
    }
  }

  /** Logs a failed request's full error text when the client was told less (ORT's source locations are left out). */
  logRequestFailure(model: string, version: number, err: unknown): void {
    if (err instanceof OrtServeError && err.detail !== err.message) {
      this.runtime.log.warn({ model, version, code: err.code, err: err.detail }, 'request failed');
    }
  }

  /** The model's traffic controls (weights, promote, rollback, report). Throws ERR_MODEL_NOT_FOUND. */
  trafficOf(model: string): ModelTraffic {
    return new ModelTraffic(this.model(model, {}));
  }

  /** Every model with weights, for metrics. */
  trafficModels(): ModelTraffic[] {
    return [...this.models.values()].filter((m) => m.traffic !== undefined || m.rollbackCounts.size > 0).map((m) => new ModelTraffic(m));
  }

  /** Effective labels of `model` (label → AVAILABLE version). */
  labels(model: string): ReadonlyMap<string, number> {
    return this.model(model, {}).labels;
  }

  /** Every configured model (and any still draining after removal), for the management API and server.status(). */
  describe(): ModelReport[] {
    const models = [...this.models.values(), ...[...this.retiring].filter((m) => !this.models.has(m.name))];
    return models.map((m) => ({
      name: m.name,
      config: m.config,
      labels: Object.fromEntries(m.labels),
      settling: [...m.settling],
      ...(m.scanError !== undefined ? { scanError: m.scanError } : {}),
      unloadedByRequest: m.unloadedByRequest,
      versions: [...m.entries.values()].sort((a, b) => b.version - a.version),
    }));
  }

  /**
   * Loads `name` now (the repository extension's load): with `config`, adds or replaces the model's entry; clears an
   * earlier unload and retry limits, takes every version directory at once and waits until loads settle. Throws
   * ERR_MODEL_NOT_FOUND for an unknown model and ERR_MODEL_LOAD when no version ends up AVAILABLE.
   */
  async loadModel(name: string, config?: ModelConfig, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    const cfg = config ?? (this.models.has(name) ? undefined : this.discoverModel?.(name));
    if (cfg !== undefined && cfg.name !== name) throw new OrtServeError('ERR_BAD_REQUEST', `config.name: '${cfg.name}' does not match the model '${name}' in the URL`);
    const existing = this.models.get(name);
    if (existing === undefined && cfg === undefined) {
      throw new OrtServeError('ERR_MODEL_NOT_FOUND', `model '${name}' is not in the model config (send its config to add it)`);
    }
    let model = existing;
    if (cfg !== undefined && (existing === undefined || !sameConfig(existing.config, cfg))) {
      const withModel = (current: ModelServerConfig) => ({ models: [...current.models.filter((m) => m.name !== name), cfg] });
      await this.applyConfig(withModel, { initial: true, timeoutMs, source: `load ${name}` });
      model = this.models.get(name)!;
    }
    await model!.reloadNow();
    await model!.waitFor(() => model!.isSettled(), timeoutMs);
    const versions = [...model!.entries.values()];
    if (!versions.some((v) => v.state === 'AVAILABLE')) {
      const failure = versions.find((v) => v.error !== undefined)?.error?.detail ?? model!.scanError ?? `no version found under ${model!.config.basePath}`;
      throw new OrtServeError('ERR_MODEL_LOAD', `model '${name}' has no AVAILABLE version: ${failure}`);
    }
  }

  /** Unloads every version of `name` (the repository extension's unload) and waits until they drained. */
  async unloadModel(name: string, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    const model = this.model(name, {});
    model.unloadByRequest();
    await model.waitFor(() => model.isDrained(), timeoutMs);
  }

  /** Unloads everything now; sessions with runs in flight are freed when those finish. */
  close(): void {
    this.closed = true;
    this.sequences.close();
    for (const model of [...this.models.values(), ...this.retiring]) model.close();
    this.models.clear();
    this.retiring.clear();
  }
}

/** One request's hold on its version (ModelRegistry.acquireForRequest). */
export interface RequestHandle {
  readonly version: ResolvedVersion;
  /** Releases the version; `err` is the request's failure, if it failed. Idempotent. */
  finish(err?: unknown): void;
}

/** A request on the version it named (or the policy's latest): finishing only releases it. */
class PlainRequest implements RequestHandle {
  constructor(private readonly handle: VersionHandle) {}

  get version(): ResolvedVersion {
    return this.handle.version;
  }

  finish(): void {
    this.handle.release();
  }
}

/** A request the weights routed: finishing also feeds the version's rollback window. */
class WeightedRequest implements RequestHandle {
  private readonly started = performance.now();
  private finished = false;

  constructor(
    private readonly model: ManagedModel,
    private readonly traffic: TrafficSplit,
    private readonly handle: VersionHandle,
    private readonly versionNumber: number,
    private readonly routed: boolean,
  ) {}

  get version(): ResolvedVersion {
    return this.handle.version;
  }

  finish(err?: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.handle.release();
    // Weights replaced meanwhile: the outcome belongs to a table that is gone.
    if (this.routed && this.model.traffic === this.traffic) {
      const failed = err !== undefined && isServerFault(err);
      const rollback = this.traffic.record(this.versionNumber, failed, performance.now() - this.started);
      if (rollback !== undefined) this.model.rolledBack(rollback);
    }
  }
}
