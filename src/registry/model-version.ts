// One version of a model: its TF Serving state, its session, and the ref-counted handles that keep it alive.

import { clientText, type OrtServeError } from '../errors.js';
import type { ModelSession } from '../engine/model-session.js';
import type { ModelConfig } from '../config/model-config.js';
import type { WarmupReport } from './warmup.js';

/** TF Serving's servable states. */
export type { VersionState } from '../protocol/tfserving/tf-vocabulary.js';
import type { VersionState } from '../protocol/tfserving/tf-vocabulary.js';

/** What front ends and the batcher read about a version. */
export interface ModelVersion {
  readonly model: string;
  readonly version: number;
  /** The version directory and its model.onnx. */
  readonly dir: string;
  readonly modelPath: string;
  readonly state: VersionState;
  /** Why the version is in END after a failure (retry count and next attempt in the message). */
  readonly error?: OrtServeError;
  readonly session?: ModelSession;
  /** The model's config when this version (last) started loading: session options, batching, labels. */
  readonly config: ModelConfig;
  /** Failed load attempts since the last success (0 once AVAILABLE). */
  readonly loadFailures: number;
  /** When the next load attempt is due (ms since the epoch); undefined when none is scheduled. */
  readonly nextRetryAt?: number;
  /** Requests holding a handle to this version right now. */
  readonly inFlight: number;
  /** What warmup ran before the version became AVAILABLE. */
  readonly warmup?: WarmupReport;
  /** Seconds its last successful load took, warmup included. */
  readonly loadSeconds?: number;
  /** Why the version serves unbatched although batching was asked for (server-wide or by its config). */
  readonly batchingNote?: string;
}

/** A version that is AVAILABLE, with its session. */
export type ResolvedVersion = ModelVersion & { readonly session: ModelSession };

/** A ref-counted reference to a loaded version: the session stays alive until every handle is released. */
export interface VersionHandle {
  readonly version: ResolvedVersion;
  /** Idempotent. The last release of a retired version unloads it. */
  release(): void;
}

export interface VersionChange {
  entry: VersionEntry;
  previous: VersionState;
}

/** The registry's mutable record behind a ModelVersion. Only ManagedModel changes it. */
export class VersionEntry implements ModelVersion {
  state: VersionState = 'START';
  error?: OrtServeError;
  session?: ModelSession;
  loadFailures = 0;
  nextRetryAt?: number;
  retryTimer?: NodeJS.Timeout;
  inFlight = 0;
  warmup?: WarmupReport;
  loadSeconds?: number;
  batchingNote?: string;
  /** The directory's fingerprint when the last load began: a different one later means the files were replaced. */
  loadedFingerprint?: string;
  /** When this entry last left AVAILABLE or failed, for trimming the status history. */
  endedAt = 0;

  constructor(
    readonly model: string,
    readonly version: number,
    readonly dir: string,
    readonly modelPath: string,
    public config: ModelConfig,
    private readonly onChange: (change: VersionChange) => void,
    private readonly onDrained: (entry: VersionEntry) => void,
  ) {}

  get failed(): boolean {
    return this.state === 'END' && this.error !== undefined;
  }

  setState(next: VersionState, error?: OrtServeError): void {
    const previous = this.state;
    this.state = next;
    this.error = error;
    if (next === 'END') this.endedAt = Date.now();
    this.onChange({ entry: this, previous });
  }

  /** Takes a handle. The caller has checked the version is AVAILABLE. */
  acquire(): VersionHandle {
    this.inFlight++;
    let released = false;
    return {
      version: this as ResolvedVersion,
      release: () => {
        if (released) return;
        released = true;
        this.inFlight--;
        if (this.inFlight === 0 && this.state === 'UNLOADING') this.onDrained(this);
      },
    };
  }

  clearRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.nextRetryAt = undefined;
  }
}

/** What the registry reports as it works; `at` is performance.now(), for ordering against request timings. */
export type RegistryEvent =
  | { type: 'version'; model: string; version: number; state: VersionState; previous: VersionState; error?: OrtServeError; at: number }
  | { type: 'label'; model: string; label: string; version?: number; previous?: number; at: number }
  | { type: 'config'; ok: boolean; source: string; error?: string; at: number }
  | { type: 'traffic'; model: string; version: number; weight: number; reason: string; automatic: boolean; at: number };

export type RegistryListener = (event: RegistryEvent) => void;

/** What a request names: a specific version, a label, or neither (the latest available). */
export interface VersionSelector {
  version?: number;
  label?: string;
  /**
   * The client's routing key (x-ortserve-route-key, KServe's route_key): with traffic weights, a request naming
   * neither version nor label lands on the same version for the same key. Ignored otherwise.
   */
  routeKey?: string;
}

/** The selector with the client's routing key added (an empty key is no key). */
export function withRouteKey(selector: VersionSelector, routeKey: string | undefined): VersionSelector {
  return routeKey === undefined || routeKey === '' ? selector : { ...selector, routeKey };
}

/** The header (HTTP) and metadata key (gRPC) carrying the routing key. */
export const ROUTE_KEY_HEADER = 'x-ortserve-route-key';

/** TF Serving's wording for a request, used in every not-found message (long names elided: clients send them). */
export function describeRequest(model: string, selector: VersionSelector): string {
  const name = clientText(model);
  if (selector.version !== undefined) return `Specific(${name}, ${selector.version})`;
  if (selector.label !== undefined) return `Label(${name}, ${clientText(selector.label)})`;
  return `Latest(${name})`;
}
