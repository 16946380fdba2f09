// Question: how much more throughput does dynamic batching give at the same p99, on a model that batches well?
// Open-loop REST :predict load at rising rates against two ortserve processes, batching off and on, alternating
// per rate so machine drift hits both; prints p50/p99/p99.9 per rate, the average batch size, and the ratio of the
// highest rate each sustains within the p99 target. Run: npm run bench:batching [-- --full] [--connections=N]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildModel } from '../../scripts/onnx/onnx-writer.mjs';
import { createDriver } from '../lib/drivers.mjs';
import { referenceOutput } from '../lib/models.mjs';
import { openLoop } from '../lib/open-loop.mjs';
import { metric, startOrtserve } from '../lib/server-process.mjs';

const full = process.argv.includes('--full');
const P99_TARGET_MS = 50;
const RATES = full ? [200, 400, 600, 800, 1000, 1200, 1600, 2000, 2500, 3000, 3500, 4000, 5000, 6000]
  : [400, 800, 1200, 1600, 2000, 2500, 3000, 4000, 5000, 6000];
/** A system is no longer driven after this many rates in a row past the target (it is saturated). */
const MISSES_TO_STOP = 2;
const DURATION_MS = full ? 5000 : 2500;
const REPEATS = full ? 3 : 2;
const connectionsArg = process.argv.find((a) => a.startsWith('--connections='));
const CONNECTIONS = connectionsArg ? Number(connectionsArg.slice('--connections='.length)) : 256;
if (!Number.isInteger(CONNECTIONS) || CONNECTIONS < 1) {
  console.error(`batching.bench: --connections wants a positive whole number, got '${connectionsArg.slice('--connections='.length)}'`);
  process.exit(2);
}

// A mid-size MLP, 512 → 2048 → 2048 → 16: one row reads 20 MB of weights, so merging rows pays off.
function mlp() {
  const dims = [512, 2048, 2048, 16];
  const initializers = [];
  const nodes = [];
  let prev = 'x';
  for (let l = 0; l < dims.length - 1; l++) {
    const [m, n] = [dims[l], dims[l + 1]];
    const w = new Float32Array(m * n).map((_, i) => Math.sin(i * 12.9898 + l) * 0.05);
    initializers.push({ name: `w${l}`, dtype: 'float32', dims: [m, n], data: w });
    initializers.push({ name: `b${l}`, dtype: 'float32', dims: [n], data: new Float32Array(n).fill(0.01) });
    nodes.push({ op: 'MatMul', inputs: [prev, `w${l}`], outputs: [`mm${l}`] });
    const out = l === dims.length - 2 ? 'y' : `h${l}`;
    nodes.push({ op: 'Add', inputs: [`mm${l}`, `b${l}`], outputs: [l === dims.length - 2 ? out : `a${l}`] });
    if (l < dims.length - 2) nodes.push({ op: 'Relu', inputs: [`a${l}`], outputs: [out] });
    prev = out;
  }
  return buildModel({ graph: { name: 'bench_mlp', inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 512] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 16] }], initializers, nodes } });
}

const repo = mkdtempSync(path.join(os.tmpdir(), 'ortserve-bench-'));
mkdirSync(path.join(repo, 'mlp', '1'), { recursive: true });
const modelFile = path.join(repo, 'mlp', '1', 'model.onnx');
writeFileSync(modelFile, mlp());
const batchingFile = path.join(repo, 'batching.json');
writeFileSync(batchingFile, JSON.stringify({ max_batch_size: 32, batch_timeout_micros: 2000 }));

const input = { name: 'x', shape: [1, 512], data: Float32Array.from({ length: 512 }, (_, i) => (i % 17) / 17) };
// The expected answer comes from onnxruntime-node's JS API, independently of the server under test.
const payload = { model: 'mlp', input, output: 'y', expected: await referenceOutput(modelFile, input, 'y'), tolerance: 1e-4 };
const common = [`--model_base_path=${repo}`, '--intra_op_threads=1'];
const systems = {
  'batching off': await startOrtserve(common),
  'batching on': await startOrtserve([...common, '--enable_batching', `--batching_parameters_file=${batchingFile}`]),
};
const drivers = {};
for (const [name, system] of Object.entries(systems)) {
  // Enough connections that the pool never caps the requests in flight at the rates that matter (rate × p99 target:
  // 6000/s × 50 ms = 300): with fewer, the generator turns closed-loop past a few thousand per second and caps the
  // batch the server can form (32 connections allow at most 32 rows in flight, split over the running and the
  // forming batch, so each batch waits out its timeout half empty).
  drivers[name] = await createDriver('tf-json', { ...system, connections: CONNECTIONS }, payload);
  await openLoop({ rate: 200, durationMs: 1000, send: drivers[name].send });   // warm-up, not recorded
}
console.log(`# Dynamic batching, REST :predict of a 512→2048→2048→16 MLP, 1 row per request; p99 target ${P99_TARGET_MS} ms`);
console.log(`${DURATION_MS} ms per rate, ${REPEATS} repeats, ORT intra-op threads 1, open-loop load from this process over ${CONNECTIONS} connections\n`);

const rows = [];
for (let repeat = 0; repeat < REPEATS; repeat++) {
  const misses = new Map(Object.keys(systems).map((name) => [name, 0]));
  for (const rate of RATES) {
    const order = (repeat + RATES.indexOf(rate)) % 2 === 0 ? Object.keys(systems) : Object.keys(systems).reverse();
    for (const name of order.filter((n) => misses.get(n) < MISSES_TO_STOP)) {
      const { origin } = systems[name];
      const [runs0, inferences0] = [await metric(origin, 'nv_inference_exec_count', 'mlp'), await metric(origin, 'nv_inference_count', 'mlp')];
      const r = await openLoop({ rate, durationMs: DURATION_MS, send: drivers[name].send, serverPid: systems[name].pid });
      const [runs1, inferences1] = [await metric(origin, 'nv_inference_exec_count', 'mlp'), await metric(origin, 'nv_inference_count', 'mlp')];
      const avgBatch = (inferences1 - inferences0) / Math.max(1, runs1 - runs0);
      rows.push({ repeat, rate, name, ...r, avgBatch });
      const failed = r.sent - r.ok;
      misses.set(name, failed === 0 && r.p99 <= P99_TARGET_MS ? 0 : misses.get(name) + 1);
      console.log(`${name.padEnd(12)} rate ${String(rate).padStart(5)}/s  got ${r.achievedRps.toFixed(0).padStart(5)}/s  ` +
        `p50 ${r.p50.toFixed(2).padStart(8)}  p99 ${r.p99.toFixed(2).padStart(8)}  p99.9 ${r.p999.toFixed(2).padStart(8)} ms  ` +
        `batch ${avgBatch.toFixed(1).padStart(5)}  failed ${failed}  loadgen cpu ${r.loadGenCpuPercent.toFixed(0)}%  max send lag ${r.maxSendLagMs.toFixed(1)} ms`);
    }
  }
}

// Highest offered rate each system sustained (all ok, p99 within target), per repeat.
const best = (name, repeat) => Math.max(0, ...rows.filter((r) => r.name === name && r.repeat === repeat && r.ok === r.sent && r.p99 <= P99_TARGET_MS).map((r) => r.rate));
console.log('\n## Throughput at p99 <= target');
const ratios = [];
for (let repeat = 0; repeat < REPEATS; repeat++) {
  const off = best('batching off', repeat);
  const on = best('batching on', repeat);
  ratios.push(on / Math.max(off, 1));
  const top = RATES.at(-1);
  console.log(`repeat ${repeat + 1}: batching off ${off}/s, batching on ${on}/s, ratio ${(on / Math.max(off, 1)).toFixed(2)}×` +
    `${on === top || off === top ? ` (${on === top ? 'batching on' : 'batching off'} reached the top of the grid: a lower bound)` : ''}`);
}
console.log(`ratio over repeats: min ${Math.min(...ratios).toFixed(2)}×, max ${Math.max(...ratios).toFixed(2)}× ` +
  `(rates are a grid: a ratio is bounded by its steps)`);

for (const driver of Object.values(drivers)) await driver.close();
for (const system of Object.values(systems)) await system.stop();
rmSync(repo, { recursive: true, force: true });
