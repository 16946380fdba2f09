// Question: what does recording a request's metrics (src/inference/request-stats.ts: latency, queue, compute and TF
// Serving histograms, status counts) cost per request, against not recording, and against prom-client's labelled
// histograms doing the same? And how much is that of the cheapest real request, an inline run of the example MLP?
// Same process, alternated rounds, ratio with its spread (bench/lib/compare.mjs). Run: node
// bench/engine/metrics-cost.bench.mjs [--smoke] (needs the built addon and dist/).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Histogram, Registry } from 'prom-client';
import { ModelSession } from '../../dist/src/engine/model-session.js';
import { MICROS_BUCKETS, PROTOCOLS, Protocol, RequestStats, TF_LATENCY_BUCKETS } from '../../dist/src/inference/request-stats.js';
import { compare } from '../lib/compare.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelPath = path.join(root, 'examples/models/mlp/1/model.onnx');
// Calls per timed task: a single recording (tens of ns) is below what tinybench can time on its own.
const CALLS = 1000;

/** prom-client doing what RequestStats.succeeded does, with label children resolved once (its fastest use). */
function promClientRecorder() {
  const register = new Registry();
  const labelNames = ['model', 'version', 'protocol'];
  const make = (name, buckets, names = labelNames) => new Histogram({ name, help: name, labelNames: names, buckets, registers: [register] });
  const latency = make('latency_us', MICROS_BUCKETS).labels('mlp', '1', PROTOCOLS[Protocol.kserveGrpc]);
  const queue = make('queue_us', MICROS_BUCKETS).labels('mlp', '1', PROTOCOLS[Protocol.kserveGrpc]);
  const compute = make('compute_us', MICROS_BUCKETS).labels('mlp', '1', PROTOCOLS[Protocol.kserveGrpc]);
  const tf = make('tf_latency_us', TF_LATENCY_BUCKETS, ['model_name', 'API', 'entrypoint']).labels('mlp', 'ModelInfer', 'GRPC');
  return (micros, info) => {
    latency.observe(micros);
    queue.observe(info.queueMicros);
    compute.observe(info.computeMicros);
    tf.observe(micros);
  };
}

export async function run({ rounds = 5, timeMs = 400 } = {}) {
  const ours = new RequestStats('mlp', 1, undefined);
  const theirs = promClientRecorder();
  const info = { batchRows: 1, batchRequests: 1, queueMicros: 0, computeMicros: 7 };
  const records = [];
  let sink = 0;
  const nothing = { name: `${CALLS} requests, not recorded`, fn: () => { for (let i = 0; i < CALLS; i++) sink += info.computeMicros; } };
  const recorded = {
    name: `${CALLS} requests, recorded by RequestStats`,
    fn: () => { const t = performance.now(); for (let i = 0; i < CALLS; i++) ours.succeeded(Protocol.kserveGrpc, t, info, 1); },
  };
  const promClient = {
    name: `${CALLS} requests, recorded by prom-client (label children resolved once)`,
    fn: () => { const t = performance.now(); for (let i = 0; i < CALLS; i++) theirs(Math.ceil((performance.now() - t) * 1000), info); },
  };
  records.push((await compare('recording a request\'s metrics: RequestStats against nothing', nothing, recorded, { rounds, timeMs })).record);
  records.push((await compare('recording a request\'s metrics: prom-client against RequestStats', recorded, promClient, { rounds, timeMs })).record);

  // The cheapest real request: an inline run of the example MLP, with and without its recording.
  const session = await ModelSession.load(modelPath, { intraOpThreads: 1, inlineBudgetMicros: 100_000 });
  try {
    const inputs = new Map([['x', { dtype: 'float32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) }]]);
    for (let i = 0; i < 32; i++) await session.runWithInfo(inputs);   // past the measurements that make it inline
    const bare = { name: 'inline MLP run', fn: () => session.runWithInfo(inputs) };
    const withStats = {
      name: 'inline MLP run + RequestStats.succeeded',
      fn: async () => {
        const t = performance.now();
        const result = await session.runWithInfo(inputs);
        ours.succeeded(Protocol.kserveGrpc, t, result.info, result.rows);
      },
    };
    records.push((await compare('an inline MLP run with and without its metrics recording', bare, withStats, { rounds, timeMs })).record);
  } finally {
    session.release();
  }
  if (sink < 0) console.log(sink);
  return records;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const smoke = process.argv.includes('--smoke');
  await run(smoke ? { rounds: 2, timeMs: 50 } : {});
}
