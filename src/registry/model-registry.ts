// ModelRegistry: which model versions are loaded and in what state, and resolving a request's model + version to one.

import type { Logger } from 'pino';
import { OrtServeError, fail, toOrtServeError } from '../errors.js';
import { ModelSession, type SessionOptions } from '../engine/model-session.js';
import { listVersions, type ModelSource } from './repository.js';

/** TF Serving's servable states. */
export type VersionState = 'START' | 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';

export interface ModelVersion {
  model: string;
  version: number;
  modelPath: string;
  state: VersionState;
  /** Why the version is in END after a failure. */
  error?: OrtServeError;
  session?: ModelSession;
}

/** A version that is AVAILABLE, with its session. */
export type ResolvedVersion = ModelVersion & { session: ModelSession };

/** What a request names: a specific version, a label, or neither (the latest available). */
export interface VersionSelector {
  version?: number;
  label?: string;
}

function describe(model: string, selector: VersionSelector): string {
  if (selector.version !== undefined) return `Specific(${model}, ${selector.version})`;
  if (selector.label !== undefined) return `Label(${model}, ${selector.label})`;
  return `Latest(${model})`;
}

export class ModelRegistry {
  private readonly models = new Map<string, ModelVersion[]>();

  constructor(
    private readonly sessionOptions: SessionOptions,
    private readonly log: Logger,
  ) {}

  /** Loads the highest version of `source`. A failed load leaves the version in END with its error (never throws). */
  async loadLatest(source: ModelSource): Promise<ModelVersion | undefined> {
    const newest = listVersions(source.basePath)[0];
    if (newest === undefined) return undefined;
    const entry: ModelVersion = { model: source.name, version: newest.version, modelPath: newest.modelPath, state: 'LOADING' };
    this.models.set(source.name, [entry]);
    try {
      entry.session = await ModelSession.load(newest.modelPath, { ...this.sessionOptions, logId: `${source.name}:${newest.version}` });
      entry.state = 'AVAILABLE';
      for (const provider of entry.session.providers.filter((p) => !p.active)) {
        this.log.warn({ model: source.name, version: newest.version, provider: provider.name, reason: provider.reason },
          `execution provider ${provider.name} skipped; falling back`);
      }
      this.log.info({ model: source.name, version: newest.version, providers: entry.session.providers.filter((p) => p.active).map((p) => p.name) }, 'model version AVAILABLE');
    } catch (err) {
      entry.state = 'END';
      entry.error = toOrtServeError(err);
      this.log.error({ model: source.name, version: newest.version, err: entry.error.message }, 'model version failed to load');
    }
    return entry;
  }

  modelNames(): string[] {
    return [...this.models.keys()];
  }

  /** Every known version of `model` matching the selector, for the status API. Throws ERR_MODEL_NOT_FOUND. */
  status(model: string, selector: VersionSelector = {}): ModelVersion[] {
    const versions = this.models.get(model);
    if (versions === undefined) fail('ERR_MODEL_NOT_FOUND', `Servable not found for request: ${describe(model, selector)}`);
    if (selector.label !== undefined) fail('ERR_MODEL_NOT_FOUND', `Servable not found for request: ${describe(model, selector)} (no such label)`);
    if (selector.version === undefined) return versions;
    const matching = versions.filter((v) => v.version === selector.version);
    if (matching.length === 0) fail('ERR_MODEL_NOT_FOUND', `Servable not found for request: ${describe(model, selector)}`);
    return matching;
  }

  /** The AVAILABLE version a request should run on. Throws ERR_MODEL_NOT_FOUND / ERR_MODEL_UNAVAILABLE. */
  resolve(model: string, selector: VersionSelector = {}): ResolvedVersion {
    const candidates = this.status(model, selector);
    const available = candidates.find((v) => v.state === 'AVAILABLE' && v.session !== undefined);
    if (available === undefined) {
      const first = candidates[0]!;
      const why = first.error ? `: ${first.error.message}` : '';
      fail('ERR_MODEL_UNAVAILABLE', `${describe(model, selector)} is ${first.state}, not AVAILABLE${why}`);
    }
    return available as ResolvedVersion;
  }

  /**
   * Runs `fn` on the AVAILABLE version the request names, keeping that version alive until `fn` settles (even if a
   * newer version replaces it meanwhile). Front ends run inference only through this. Throws like resolve().
   */
  async use<T>(model: string, selector: VersionSelector, fn: (v: ResolvedVersion) => Promise<T>): Promise<T> {
    return fn(this.resolve(model, selector));
  }

  /** Unloads everything; sessions with runs in flight are freed when those finish. */
  close(): void {
    for (const versions of this.models.values()) {
      for (const v of versions) {
        v.session?.release();
        v.session = undefined;
        v.state = 'END';
      }
    }
    this.models.clear();
  }
}
