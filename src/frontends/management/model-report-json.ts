// JSON shapes of the management API: detailed model reports and the KServe/Triton repository index.
// Only token holders read these, so errors show their full detail (absolute paths, ORT's source locations).

import { modelConfigToJson } from '../../config/model-config.js';
import { versionStatus } from '../../protocol/tfserving/tf-vocabulary.js';
import type { ModelReport, ModelVersion } from '../../registry/model-registry.js';
import type { SequenceStats } from '../../engine/model-session.js';

function sequencesJson(s: SequenceStats) {
  return { open: s.open, started: s.started, ended: s.ended, expired: s.expired, state_bytes: s.stateBytes };
}

function versionJson(v: ModelVersion, now: number) {
  return {
    ...versionStatus(v, { fullDetail: true }),
    load_failures: v.loadFailures,
    ...(v.nextRetryAt !== undefined ? { next_retry_in_ms: Math.max(0, v.nextRetryAt - now) } : {}),
    in_flight: v.inFlight,
    ...(v.warmup !== undefined ? { warmup: v.warmup } : {}),
    ...(v.batchingNote !== undefined ? { batching_note: v.batchingNote } : {}),
    ...(v.session !== undefined ? { batching: v.session.metadata.batching.enabled, instances: v.session.instances } : {}),
    // Where the version's next request runs (inline on the JS thread, or queued for the native workers) and how
    // many successful requests took each path so far.
    ...(v.session !== undefined ? {
      execution_mode: v.session.executionMode.name,
      inline_runs: v.session.counters.inlineRuns,
      queued_runs: v.session.counters.queuedRuns,
    } : {}),
    // A stateful version: sequences open on it (a version retired by a swap stays loaded while this is not 0).
    ...(v.session?.sequenceStats() !== undefined ? { sequences: sequencesJson(v.session.sequenceStats()!) } : {}),
  };
}

/** One model in detail: its config, effective labels, versions with retry counts, directories still settling. */
export function modelReportJson(report: ModelReport) {
  const now = Date.now();
  return {
    name: report.name,
    config: modelConfigToJson(report.config),
    labels: report.labels,
    unloaded: report.unloadedByRequest,
    settling_versions: report.settling.map(String),
    ...(report.scanError !== undefined ? { scan_error: report.scanError } : {}),
    // Fields of the model's own config (config.pbtxt) that ortserve read but does not act on, and why.
    ignored_fields: (report.config.ignoredFields ?? []).map((f) => ({ field: f.path, reason: f.reason })),
    ...(report.config.configError !== undefined ? { config_error: report.config.configError } : {}),
    versions: report.versions.map((v) => versionJson(v, now)),
  };
}

/** Triton's model states for the repository index. */
const INDEX_STATE = { START: 'LOADING', LOADING: 'LOADING', AVAILABLE: 'READY', UNLOADING: 'UNLOADING', END: 'UNAVAILABLE' } as const;

export interface IndexEntry {
  name: string;
  version?: string;
  state: string;
  reason: string;
}

/**
 * The repository extension's index: one entry per known version (a model without versions gets one entry with no
 * version). With `readyOnly`, only READY entries.
 */
export function repositoryIndex(reports: readonly ModelReport[], readyOnly: boolean): IndexEntry[] {
  const entries: IndexEntry[] = [];
  for (const r of reports) {
    if (r.versions.length === 0) {
      const reason = r.config.configError ?? r.scanError ?? (r.settling.length > 0 ? 'version directories are still being written' : `no version found under ${r.config.basePath}`);
      entries.push({ name: r.name, state: 'UNAVAILABLE', reason });
    }
    for (const v of r.versions) {
      const reason = v.error?.detail ?? (v.state === 'END' ? (r.unloadedByRequest ? 'unloaded through the management API' : 'unloaded') : '');
      entries.push({ name: r.name, version: String(v.version), state: INDEX_STATE[v.state], reason });
    }
  }
  return readyOnly ? entries.filter((e) => e.state === 'READY') : entries;
}
