// The metrics page: per-model-version counters and histograms under the names Triton and TF Serving users already
// graph, ortserve's own, and the process's (CPU, memory, event-loop delay) from prom-client.

import type { ModelRegistry } from '../../registry/model-registry.js';
import type { RequestCounters, SequenceStats } from '../../engine/model-session.js';
import type { NativeQueueStats } from '../../engine/native-binding.js';
import {
  GRPC_STATUS_NAMES, MICROS_BUCKETS, PROTOCOLS, TF_API, TF_ENTRYPOINT, TF_LATENCY_BUCKETS, existingRequestStats,
  type LaneHistogram, type RequestStats,
} from '../../inference/request-stats.js';
import { render, type HistogramSeries, type Series } from './exposition.js';
import type { GrpcActivity } from '../grpc/grpc-context.js';

/** The per-version part of the metrics page, read from each session's counters, native stats and request recorder. */
export function prometheusText(registry: ModelRegistry): string {
  const defs: Array<[string, string, Series['type'], (c: Counters) => number]> = [
    ['nv_inference_request_success', 'Successful inference requests', 'counter', (c) => c.recorder?.success ?? 0],
    ['nv_inference_request_failure', 'Failed inference requests (any failure after the version was resolved: decoding, input checks, limits, the run)', 'counter', (c) => c.recorder?.fail ?? 0],
    ['nv_inference_count', 'Inferences performed (a request of batch size n counts n)', 'counter', (c) => c.recorder?.inferences ?? 0],
    ['nv_inference_exec_count', 'Model executions (ONNX Runtime runs; fewer than requests when batching merges them)', 'counter', (c) => c.batches + c.inlineRuns],
    ['nv_inference_request_duration_us', 'Cumulative duration of successful requests, in microseconds', 'counter', (c) => c.recorder?.successMicros ?? 0],
    ['nv_inference_queue_duration_us', 'Cumulative time successful requests waited in the queue, in microseconds', 'counter', (c) => c.recorder?.queueMicros ?? 0],
    ['nv_inference_compute_infer_duration_us', 'Cumulative compute time of the batches successful requests ran in, in microseconds', 'counter', (c) => sumOf(c.recorder?.compute.sums)],
    ['nv_inference_pending_request_count', 'Requests waiting in the queue now (Triton\'s name of ortserve_queue_pending)', 'gauge', (c) => c.queued],
    ['nv_model_load_duration_secs', 'Seconds the version\'s last load took, warmup included', 'gauge', (c) => c.loadSeconds],
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
  const series: Array<Series | HistogramSeries> = defs.map(([name, help, type, pick]) => ({
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
  series.push(
    protocolHistogram('ortserve_request_duration_us', 'Successful requests\' duration (decode, queue, run, until the answer is ready), in microseconds', rows, (s) => s.latency),
    protocolHistogram('ortserve_queue_duration_us', 'Successful requests\' time in the native queue, in microseconds (0 when run inline)', rows, (s) => s.queue),
    protocolHistogram('ortserve_compute_duration_us', 'Successful requests\' compute time (the run of the batch they joined), in microseconds', rows, (s) => s.compute),
    batchSizeHistogram(rows),
    ...tfServingSeries(rows),
    ...trafficSeries(registry),
  );
  return render(series);
}

function sumOf(values: Float64Array | undefined): number {
  return values === undefined ? 0 : values.reduce((a, b) => a + b, 0);
}

/** One histogram family labelled model, version, protocol; only protocols a version has answered appear. */
function protocolHistogram(name: string, help: string, rows: Counters[], pick: (s: RequestStats) => LaneHistogram): HistogramSeries {
  const samples: HistogramSeries['samples'] = [];
  for (const r of rows) {
    if (r.recorder === undefined) continue;
    const h = pick(r.recorder);
    PROTOCOLS.forEach((protocol, lane) => {
      if (h.count(lane) === 0) return;
      samples.push({ labels: { model: r.model, version: String(r.version), protocol }, cumulative: h.cumulative(lane), sum: h.sums[lane]! });
    });
  }
  return { name, help, type: 'histogram', bounds: MICROS_BUCKETS, samples };
}

const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** Executions by batch size (rows), from the addon's per-size counts: nothing is recorded per request for it. */
function batchSizeHistogram(rows: Counters[]): HistogramSeries {
  const samples: HistogramSeries['samples'] = [];
  for (const r of rows) {
    if (r.batchSizes.length === 0) continue;
    const cumulative = [...BATCH_SIZE_BUCKETS, Infinity].map((le) => r.batchSizes.filter((b) => b.batchSize <= le).reduce((n, b) => n + b.executions, 0));
    const sum = r.batchSizes.reduce((n, b) => n + b.batchSize * b.executions, 0);
    samples.push({ labels: { model: r.model, version: String(r.version) }, cumulative, sum });
  }
  return { name: 'ortserve_batch_size', help: 'Model executions by batch size in rows (inline runs and warmup runs included)', type: 'histogram', bounds: BATCH_SIZE_BUCKETS, samples };
}

/** TF Serving's families, per model (its labels have no version): request_count by status, request_latency. */
function tfServingSeries(rows: Counters[]): [Series, HistogramSeries] {
  const byModel = new Map<string, RequestStats[]>();
  for (const r of rows) {
    if (r.recorder === undefined) continue;
    byModel.set(r.model, [...(byModel.get(r.model) ?? []), r.recorder]);
  }
  const count: Series = { name: ':tensorflow:serving:request_count', help: 'Requests, by model and status (TF Serving\'s name; every protocol)', type: 'counter', samples: [] };
  const latency: HistogramSeries = {
    name: ':tensorflow:serving:request_latency', help: 'Successful requests\' duration in microseconds (TF Serving\'s name and buckets)',
    type: 'histogram', bounds: TF_LATENCY_BUCKETS, samples: [],
  };
  for (const [model, recorders] of byModel) {
    GRPC_STATUS_NAMES.forEach((status, code) => {
      const n = recorders.reduce((sum, s) => sum + s.byStatus[code]!, 0);
      if (n > 0 || code === 0) count.samples.push({ labels: { model_name: model, status }, value: n });
    });
    PROTOCOLS.forEach((_, lane) => {
      const used = recorders.filter((s) => s.tfLatency.count(lane) > 0);
      if (used.length === 0) return;
      const cumulative = used.map((s) => s.tfLatency.cumulative(lane)).reduce((a, b) => a.map((n, i) => n + b[i]!));
      const sum = used.reduce((n, s) => n + s.tfLatency.sums[lane]!, 0);
      latency.samples.push({ labels: { model_name: model, API: TF_API[lane]!, entrypoint: TF_ENTRYPOINT[lane]! }, cumulative, sum });
    });
  }
  return [count, latency];
}

/** What the server holds now, whichever model it is for: bytes in flight and the gRPC front end's gauges. */
export interface ServerGauges {
  inFlightBytes: number;
  /** Bytes of idle large buffers kept for reuse (--large_buffer_pool_bytes). */
  largeBufferPoolBytes: number;
  grpc: GrpcActivity | undefined;
}

/** The server-wide part of the metrics page (ServerGauges). */
export function serverText(gauges: ServerGauges): string {
  const gauge = (name: string, help: string, value: number): Series => ({ name, help, type: 'gauge', samples: [{ labels: {}, value }] });
  const grpc = gauges.grpc ?? { connections: 0, activeStreams: 0, streamTasksInFlight: 0 };
  return render([
    gauge('ortserve_in_flight_bytes', 'Bytes requests in flight hold now: bodies and gRPC messages from their first byte, tensors beyond them, answers (--max_in_flight_bytes)', gauges.inFlightBytes),
    gauge('ortserve_large_buffer_pool_bytes', 'Bytes of idle large buffers kept for reuse by later request bodies (--large_buffer_pool_bytes)', gauges.largeBufferPoolBytes),
    gauge('ortserve_grpc_connections', 'gRPC connections open now (admitted under --grpc_max_connections)', grpc.connections),
    gauge('ortserve_grpc_infer_streams', 'ModelStreamInfer streams open now (--grpc_max_infer_streams)', grpc.activeStreams),
    gauge('ortserve_grpc_stream_requests_in_flight', 'Requests received on ModelStreamInfer streams and not answered yet', grpc.streamTasksInFlight),
  ]);
}

/** Traffic weights as routed now and rollbacks per version, for models with weights (or a rollback in their past). */
function trafficSeries(registry: ModelRegistry): Series[] {
  const weight: Series = { name: 'ortserve_traffic_weight', help: 'Weight of the version among the AVAILABLE versions taking weighted traffic (0: none)', type: 'gauge', samples: [] };
  const rollbacks: Series = { name: 'ortserve_traffic_rollbacks_total', help: 'Times the version\'s traffic weight was set to 0 by an automatic or manual rollback', type: 'counter', samples: [] };
  for (const t of registry.trafficModels()) {
    const m = t.metrics();
    for (const [version, w] of m.weights) weight.samples.push({ labels: { model: t.name, version: String(version) }, value: w });
    for (const [version, n] of m.rollbacks) rollbacks.samples.push({ labels: { model: t.name, version: String(version) }, value: n });
  }
  return [weight, rollbacks];
}

/** One version's request counters with the queue counters its metrics show. */
interface Counters extends RequestCounters,
  Pick<NativeQueueStats, 'batches' | 'rejectedFull' | 'expired' | 'queued' | 'terminated' | 'running' | 'batchSizes'> {
  model: string;
  version: number;
  /** 1 while the version runs inline, else 0. */
  inline: number;
  loadSeconds: number;
  /** Its request recorder, once it has served a request through runInference. */
  recorder: RequestStats | undefined;
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
        batchSizes: stats.batchSizes, inline: v.session.executionMode.name === 'inline' ? 1 : 0,
        loadSeconds: v.loadSeconds ?? 0, recorder: existingRequestStats(v.session),
        sequences: v.session.sequenceStats(),
      });
    }
  }
  return rows;
}
