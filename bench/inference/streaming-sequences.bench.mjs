// Question: for a streaming model, what does keeping the state on the server (implicit state, sequence batching)
// save against a client that sends the state and gets it back every step? N concurrent sequences of M steps each on
// an RNN cell with a `hidden`-float state, over KServe REST (JSON) and gRPC, the two modes alternating per repeat so
// machine drift hits both; prints per-step latency (p50/p99 over all steps) and bytes per step on the wire (request
// and response bodies; HTTP/2 and HTTP headers not counted), and the ratios implicit / client-sent.
// Run: node bench/inference/streaming-sequences.bench.mjs [--sequences=16] [--steps=50] [--hidden=256] [--repeats=2]
//      [--protocols=rest,grpc] [--smoke]  (needs `npm ci`: the built addon and dist/)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { rnnCellModel, rnnSequenceConfig } from '../../scripts/sequence-models.mjs';
import { startOrtserve } from '../lib/server-process.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (name, fallback) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
};
const smoke = process.argv.includes('--smoke');
const SEQUENCES = Number(arg('sequences', smoke ? 4 : 16));
const STEPS = Number(arg('steps', smoke ? 5 : 50));
const HIDDEN = Number(arg('hidden', smoke ? 16 : 256));
const INPUTS = 8;
const REPEATS = Number(arg('repeats', smoke ? 1 : 2));
const PROTOCOLS = arg('protocols', 'rest,grpc').split(',');

// One repository: the stateful cell (READY control, state kept by the server) and the same cell without READY for
// clients that carry the state.
function writeRepository() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ortserve-bench-seq-'));
  const models = [
    { name: 'rnn_implicit', bytes: rnnCellModel({ inputs: INPUTS, hidden: HIDDEN }), entry: {
      batching: { max_batch_size: 32, batch_timeout_micros: 200 },
      sequence_batching: rnnSequenceConfig({ oldest: { max_candidate_sequences: 1024, max_queue_delay_microseconds: 200 } }, HIDDEN),
    } },
    { name: 'rnn_client', bytes: rnnCellModel({ inputs: INPUTS, hidden: HIDDEN, withReady: false }), entry: { batching: { max_batch_size: 32, batch_timeout_micros: 200 } } },
  ];
  const config = { model_config_list: { config: [] } };
  for (const m of models) {
    mkdirSync(path.join(dir, m.name, '1'), { recursive: true });
    writeFileSync(path.join(dir, m.name, '1', 'model.onnx'), m.bytes);
    config.model_config_list.config.push({ name: m.name, base_path: path.join(dir, m.name), ...m.entry });
  }
  writeFileSync(path.join(dir, 'models.json'), JSON.stringify(config));
  return dir;
}

const xFor = (seq, step) => Array.from({ length: INPUTS }, (_, i) => Math.sin(seq * 31 + step * 7 + i));

/** A REST step: returns the new state (client mode) and the bytes sent and received. */
async function restStep(origin, mode, seq, step, state) {
  const inputs = [{ name: 'x', shape: [1, INPUTS], datatype: 'FP32', data: xFor(seq, step) }];
  let parameters;
  if (mode === 'implicit') parameters = { sequence_id: seq + 1, sequence_start: step === 0, sequence_end: step === STEPS - 1 };
  else inputs.push({ name: 'h_in', shape: [1, HIDDEN], datatype: 'FP32', data: state });
  const outputs = mode === 'implicit' ? [{ name: 'y' }] : [{ name: 'y' }, { name: 'h_out' }];
  const body = JSON.stringify({ ...(parameters ? { parameters } : {}), inputs, outputs });
  const res = await fetch(`${origin}/v2/models/rnn_${mode}/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`REST ${mode}: ${res.status} ${text}`);
  const json = JSON.parse(text);
  const next = mode === 'client' ? json.outputs.find((o) => o.name === 'h_out').data : state;
  return { state: next, sent: Buffer.byteLength(body), received: Buffer.byteLength(text) };
}

const definition = loadSync(['kserve_grpc_inference.proto'], { includeDirs: [path.join(root, 'schemas')], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
const requestType = definition['inference.ModelInferRequest'];
const responseType = definition['inference.ModelInferResponse'];

async function grpcStep(client, mode, seq, step, state) {
  const inputs = [{ name: 'x', datatype: 'FP32', shape: [1, INPUTS], contents: { fp32_contents: xFor(seq, step) } }];
  const parameters = {};
  if (mode === 'implicit') {
    parameters.sequence_id = { uint64_param: String(seq + 1) };
    parameters.sequence_start = { bool_param: step === 0 };
    parameters.sequence_end = { bool_param: step === STEPS - 1 };
  } else {
    inputs.push({ name: 'h_in', datatype: 'FP32', shape: [1, HIDDEN], contents: { fp32_contents: state } });
  }
  const outputs = mode === 'implicit' ? [{ name: 'y' }] : [{ name: 'y' }, { name: 'h_out' }];
  const request = { model_name: `rnn_${mode}`, parameters, inputs, outputs };
  const response = await new Promise((resolve, reject) => client.ModelInfer(request, (err, r) => (err ? reject(err) : resolve(r))));
  let next = state;
  if (mode === 'client') {
    const i = response.outputs.findIndex((o) => o.name === 'h_out');
    const raw = response.raw_output_contents[i];
    next = [...new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))];
  }
  return { state: next, sent: requestType.serialize(request).length, received: responseType.serialize(response).length };
}

/** N concurrent sequences of M steps, each step after the previous answer; returns every step's latency and bytes. */
async function scenario(stepFn, mode) {
  const latencies = [];
  let sent = 0;
  let received = 0;
  await Promise.all(Array.from({ length: SEQUENCES }, async (_, seq) => {
    let state = new Array(HIDDEN).fill(0);
    for (let step = 0; step < STEPS; step++) {
      const started = performance.now();
      const r = await stepFn(mode, seq, step, state);
      latencies.push(performance.now() - started);
      state = r.state;
      sent += r.sent;
      received += r.received;
    }
  }));
  latencies.sort((a, b) => a - b);
  const pick = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  const steps = SEQUENCES * STEPS;
  return { p50: pick(0.5), p99: pick(0.99), sentPerStep: sent / steps, receivedPerStep: received / steps };
}

const fmt = (n, digits = 2) => n.toFixed(digits);

async function main() {
  const dir = writeRepository();
  const server = await startOrtserve([`--model_config_file=${path.join(dir, 'models.json')}`, '--intra_op_threads=1']);
  const client = new (grpc.loadPackageDefinition(definition).inference.GRPCInferenceService)(server.grpcAddress, grpc.credentials.createInsecure());
  console.log(`# streaming sequences: ${SEQUENCES} sequences × ${STEPS} steps, RNN cell ${INPUTS} → ${HIDDEN} (state ${HIDDEN * 4} bytes), ${REPEATS} repeat(s)${smoke ? ' [smoke: numbers mean nothing]' : ''}`);
  try {
    for (const protocol of PROTOCOLS) {
      const stepFn = protocol === 'grpc'
        ? (mode, seq, step, state) => grpcStep(client, mode, seq, step, state)
        : (mode, seq, step, state) => restStep(server.origin, mode, seq, step, state);
      const runs = { implicit: [], client: [] };
      for (let r = 0; r < REPEATS; r++) {
        // Alternate which mode goes first, so a warming or drifting machine does not favour one.
        for (const mode of r % 2 === 0 ? ['implicit', 'client'] : ['client', 'implicit']) runs[mode].push(await scenario(stepFn, mode));
      }
      console.log(`\n## ${protocol}\n| mode | p50 ms/step | p99 ms/step | bytes sent/step | bytes received/step |\n|---|---|---|---|---|`);
      for (const mode of ['implicit', 'client']) {
        const rs = runs[mode];
        const span = (key) => rs.length > 1 ? `${fmt(Math.min(...rs.map((x) => x[key])))}–${fmt(Math.max(...rs.map((x) => x[key])))}` : fmt(rs[0][key]);
        console.log(`| ${mode} | ${span('p50')} | ${span('p99')} | ${fmt(rs[0].sentPerStep, 0)} | ${fmt(rs[0].receivedPerStep, 0)} |`);
      }
      const ratio = (key) => runs.implicit.map((x, i) => x[key] / runs.client[i][key]).map((v) => fmt(v)).join(', ');
      console.log(`implicit / client, per repeat: p50 ${ratio('p50')}; p99 ${ratio('p99')}; bytes sent ${ratio('sentPerStep')}; bytes received ${ratio('receivedPerStep')}`);
    }
  } finally {
    client.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
