// Prometheus text exposition of per-model-version counters under the names Triton and TF Serving users already graph.

import type { ModelRegistry } from '../../registry/model-registry.js';
import type { RequestCounters, SequenceStats } from '../../engine/model-session.js';
import type { NativeQueueStats } from '../../engine/native-binding.js';

interface Series {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Array<{ labels: Record<string, string>; value: number }>;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function render(series: Series[]): string {
  const lines: string[] = [];
  for (const s of series) {
    lines.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.type}`);
    for (const sample of s.samples) {
      const labels = Object.entries(sample.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
      lines.push(`${s.name}{${labels}} ${sample.value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The metrics page: one sample per loaded version, read from its session's counters and native queue stats. */
export function prometheusText(registry: ModelRegistry): string {
  const defs: Array<[string, string, Series['type'], (c: Counters) => number]> = [
    ['nv_inference_request_success', 'Successful inference requests', 'counter', (c) => c.success],
    ['nv_inference_request_failure', 'Failed inference requests', 'counter', (c) => c.failure],
    ['nv_inference_count', 'Inferences performed (a request of batch size n counts n)', 'counter', (c) => c.inferences],
    ['nv_inference_exec_count', 'Model executions (ONNX Runtime runs; fewer than requests when batching merges them)', 'counter', (c) => c.batches + c.inlineRuns],
    ['nv_inference_request_duration_us', 'Cumulative request duration, in microseconds', 'counter', (c) => c.requestMicros],
    ['nv_inference_queue_duration_us', 'Cumulative time requests waited in the queue, in microseconds', 'counter', (c) => c.queueMicros],
    ['nv_inference_compute_infer_duration_us', 'Cumulative compute time of the batches requests ran in, in microseconds', 'counter', (c) => c.computeMicros],
    ['ortserve_queue_rejected_total', 'Requests refused because the queue was full (HTTP 503)', 'counter', (c) => c.rejectedFull],
    ['ortserve_queue_expired_total', 'Requests failed for their deadline (or cancelled) before running', 'counter', (c) => c.expired],
    ['ortserve_queue_pending', 'Requests waiting in the queue now', 'gauge', (c) => c.queued],
    ['ortserve_inline_runs_total', 'Successful requests run inline on the JS thread (a version proven cheap)', 'counter', (c) => c.inlineRuns],
    ['ortserve_queued_runs_total', 'Successful requests run by the native workers through the queue', 'counter', (c) => c.queuedRuns],
    ['ortserve_execution_inline', '1 while the version\'s requests run inline on the JS thread, 0 while they are queued', 'gauge', (c) => c.inline],
    ['ortserve_runs_terminated_total', 'Runs stopped because every request in them was past its deadline (--terminate_runs_past_deadline)', 'counter', (c) => c.terminated],
    ['ortserve_runs_in_progress', 'Batches (or unbatched requests) of this version running now', 'gauge', (c) => c.running],
  ];
  const rows = collect(registry);
  const series: Series[] = defs.map(([name, help, type, pick]) => ({
    name, help, type, samples: rows.map((r) => ({ labels: { model: r.model, version: String(r.version) }, value: pick(r) })),
  }));
  // Stateful versions only: a stateless one has no sequences to count.
  const stateful = rows.filter((r) => r.sequences !== undefined);
  const sequenceDefs: Array<[string, string, Series['type'], (s: SequenceStats) => number]> = [
    ['ortserve_sequences_open', 'Sequences open on this version now (a retired version stays loaded while this is not 0)', 'gauge', (s) => s.open],
    ['ortserve_sequences_started_total', 'Sequences started (their start request succeeded)', 'counter', (s) => s.started],
    ['ortserve_sequences_ended_total', 'Sequences closed by a request with sequence_end', 'counter', (s) => s.ended],
    ['ortserve_sequences_expired_total', 'Sequences freed by max_sequence_idle_microseconds', 'counter', (s) => s.expired],
    ['ortserve_sequence_state_bytes', 'Bytes of implicit state held in native memory for this version\'s open sequences', 'gauge', (s) => s.stateBytes],
  ];
  for (const [name, help, type, pick] of sequenceDefs) {
    series.push({ name, help, type, samples: stateful.map((r) => ({ labels: { model: r.model, version: String(r.version) }, value: pick(r.sequences!) })) });
  }
  series.push({
    name: ':tensorflow:serving:request_count',
    help: 'Predict requests, by model and outcome (TF Serving\'s name)',
    type: 'counter',
    samples: rows.flatMap((r) => [
      { labels: { model_name: r.model, status: 'OK' }, value: r.success },
      { labels: { model_name: r.model, status: 'ERROR' }, value: r.failure },
    ]),
  });
  return render(series);
}

/** One version's request counters with the queue counters its metrics show. */
interface Counters extends RequestCounters,
  Pick<NativeQueueStats, 'batches' | 'rejectedFull' | 'expired' | 'queued' | 'terminated' | 'running'> {
  model: string;
  version: number;
  /** 1 while the version runs inline, else 0. */
  inline: number;
  sequences: SequenceStats | undefined;
}

function collect(registry: ModelRegistry): Counters[] {
  const rows: Counters[] = [];
  for (const model of registry.modelNames()) {
    for (const v of registry.status(model)) {
      if (v.session === undefined) continue;
      const stats = v.session.stats();
      rows.push({
        model, version: v.version, ...v.session.counters, batches: stats.batches, rejectedFull: stats.rejectedFull,
        expired: stats.expired, queued: stats.queued, terminated: stats.terminated, running: stats.running,
        inline: v.session.executionMode.name === 'inline' ? 1 : 0,
        sequences: v.session.sequenceStats(),
      });
    }
  }
  return rows;
}
