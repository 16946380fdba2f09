// Answers: how long can one request hold ortserve's JS thread, per heavy kind of request, at the DEFAULT limits?
// Starts the real server (bin/ortserve.js, default flags) with the loop probe (bench/lib/loop-probe.mjs), sends the
// largest request each protocol accepts for each kind (BYTES in/out, typed TF fields, the fill rule, big numeric
// answers encoded to protobuf), and reads the event loop's longest delay while that one request was served.
// `node bench/frontends/stall-probe.mjs [--repeat 5] [--only 'substring|substring'] [--cpu-prof dir [--cpu-prof-interval µs]] [--gc] [--sched] [--client-priority idle|nice|same] [--node-arg=--v8-flag ...] [--flag=--some_knob=value ...]`
// (--gc prints each repeat's longest garbage-collector pause to stderr; --sched splits each repeat's longest interval
// into the JS thread's time on a CPU and its time waiting for one, from Linux schedstat; bench/lib/cpuprof-stalls.mjs reads the profile). Prints a Markdown table (the least and the
// median of the repeats' longest stalls, in ms, over the 1 ms probe resolution). Noise: an idle loop on this 2-core VM shows 1–5 ms maxima;
// the `idle` and `small` rows measure it in the same run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import grpc from '@grpc/grpc-js';
import { buildModel } from '../../scripts/onnx/onnx-writer.mjs';
import { FlatBuffersHttpClient, FlatBuffersWsClient } from '../../dist/src/client/index.js';
import { startOrtserve } from '../lib/server-process.mjs';

const { values: args } = parseArgs({ options: { repeat: { type: 'string', default: '5' }, only: { type: 'string', default: '' }, 'cpu-prof': { type: 'string' }, 'cpu-prof-interval': { type: 'string', default: '1000' }, gc: { type: 'boolean', default: false }, sched: { type: 'boolean', default: false }, 'node-arg': { type: 'string', multiple: true, default: [] }, 'client-priority': { type: 'string', default: 'idle' }, flag: { type: 'string', multiple: true, default: [] } } });
const REPEAT = Number(args.repeat);
// How the probe's own clients step aside once the server runs (see below, where it is applied).
const CLIENT_PRIORITY = args['client-priority'];
if (!['idle', 'nice', 'same'].includes(CLIENT_PRIORITY)) {
  process.stderr.write('--client-priority must be idle, nice or same\n');
  process.exit(2);
}

// Defaults of the limits that size these requests (src/config/knobs.ts).
const MAX_STRINGS = 16_384;
const MAX_ELEMENTS = 8_388_608;
const MAX_BODY = 64 * 1024 * 1024;

// ---- models -------------------------------------------------------------------------------------------------------
function identity(name, dtype) {
  return buildModel({ graph: {
    name, inputs: [{ name: 'x', dtype, shape: ['n'] }], outputs: [{ name: 'y', dtype, shape: ['n'] }],
    nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
  } });
}
const strings = () => buildModel({ graph: {
  name: 'strings', inputs: [{ name: 'text', dtype: 'string', shape: ['n'] }],
  outputs: [{ name: 'text_bytes', dtype: 'string', shape: ['n'] }],
  nodes: [{ op: 'Identity', inputs: ['text'], outputs: ['text_bytes'] }],
} });

const base = mkdtempSync(path.join(os.tmpdir(), 'stall-probe-'));
for (const [name, bytes] of [['id_f32', identity('id_f32', 'float32')], ['id_i64', identity('id_i64', 'int64')], ['strings', strings()]]) {
  mkdirSync(path.join(base, name, '1'), { recursive: true });
  writeFileSync(path.join(base, name, '1', 'model.onnx'), bytes);
}

// ---- protobuf wire (field numbers from schemas/) --------------------------------------------------------------------
function varint(v) {
  let x = BigInt.asUintN(64, BigInt(v));
  const out = [];
  do { const b = Number(x & 0x7fn); x >>= 7n; out.push(x > 0n ? b | 0x80 : b); } while (x > 0n);
  return Buffer.from(out);
}
const key = (f, w) => varint((f << 3) | w);
const int = (f, v) => Buffer.concat([key(f, 0), varint(v)]);
const bytes = (f, v) => Buffer.concat([key(f, 2), varint(v.length), v]);
const str = (f, s) => bytes(f, Buffer.from(s));
const msg = (f, ...parts) => bytes(f, Buffer.concat(parts));
/** A packed repeated varint field of small non-negative values (< 128): one byte each. */
const packedSmall = (f, n, v) => bytes(f, Buffer.alloc(n, v));

const kserveInput = (name, datatype, shape, contents) => msg(5, str(1, name), str(2, datatype), bytes(3, Buffer.concat(shape.map((d) => varint(d)))), ...(contents ? [msg(5, contents)] : []));
const tfTensor = (dtype, shape, ...fields) => Buffer.concat([int(1, dtype), msg(2, ...shape.map((d) => msg(2, int(1, d)))), ...fields]);
const tfPredict = (model, inputs) => Buffer.concat([msg(1, str(1, model)), ...Object.entries(inputs).map(([k, t]) => msg(2, str(1, k), bytes(2, t)))]);
const DT_FLOAT = 1, DT_STRING = 7, DT_INT64 = 9;

function grpcRaw(client, method, message) {
  return new Promise((resolve) => {
    client.makeUnaryRequest(method, (b) => b, (b) => b, message, { deadline: Date.now() + 60_000 }, (error, response) => resolve({ error, response }));
  });
}

// ---- request bodies ------------------------------------------------------------------------------------------------
/** `count` strings of `each` bytes, distinct in their first bytes. */
function makeStrings(count, each) {
  return Array.from({ length: count }, (_, i) => { const b = Buffer.alloc(each, 97 + (i % 26)); b.write(String(i)); return b; });
}
// Largest total at the default limits: every string as long as --max_body_bytes (and the gRPC message limit) allow.
const BIG_EACH = Math.floor((MAX_BODY - 1024 * 1024) / MAX_STRINGS);   // ~4 KB: 16k of them fill ~63 MB
const TINY = makeStrings(MAX_STRINGS, 1);
const BIG = makeStrings(MAX_STRINGS, BIG_EACH);
// A JSON body must stay under --max_body_bytes after escaping; b64 grows it by a third.
const BIG_JSON = makeStrings(MAX_STRINGS, Math.floor(BIG_EACH * 0.7));

function kserveBinaryStrings(list, outputsBinary) {
  const data = Buffer.concat(list.flatMap((s) => { const l = Buffer.alloc(4); l.writeUInt32LE(s.length); return [l, s]; }));
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: 'text', datatype: 'BYTES', shape: [list.length], parameters: { binary_data_size: data.length } }],
    outputs: [{ name: 'text_bytes', parameters: { binary_data: outputsBinary } }],
  }));
  return { body: Buffer.concat([header, data]), headers: { 'inference-header-content-length': String(header.length) } };
}

async function httpPost(origin, urlPath, body, headers = {}) {
  const res = await fetch(`${origin}${urlPath}`, { method: 'POST', body, headers });
  const buf = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`${urlPath}: ${res.status} ${buf.subarray(0, 300)}`);
  return buf;
}

function kinds(server, clients) {
  const o = server.origin;
  const ks = clients.kserve, tf = clients.tf;
  const ok = (r) => { if (r.error) throw new Error(r.error.details ?? String(r.error)); return r.response; };
  const kserveStrings = (list) => Buffer.concat([str(1, 'strings'),
    kserveInput('text', 'BYTES', [list.length], Buffer.concat(list.map((s) => bytes(8, s))))]);
  const tfStrings = (list) => tfPredict('strings', { text: tfTensor(DT_STRING, [list.length], ...list.map((s) => bytes(8, s))) });
  const fbStrings = (list) => ({ text: { dtype: 'string', shape: [list.length], data: list } });
  return [
    ['idle (no request, 200 ms)', 'none', () => new Promise((r) => setTimeout(r, 200))],
    ['small (TF REST, 1 string)', '1 × 1 B', () => httpPost(o, '/v1/models/strings:predict', JSON.stringify({ instances: ['a'] }))],

    ['KServe REST JSON BYTES in+out', `16k × 1 B`, () => httpPost(o, '/v2/models/strings/infer', JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [MAX_STRINGS], data: TINY.map((s) => s.toString()) }] }))],
    ['KServe REST JSON BYTES in+out', `16k × ${BIG_JSON[0].length} B`, () => httpPost(o, '/v2/models/strings/infer', JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [MAX_STRINGS], data: BIG_JSON.map((s) => s.toString()) }] }))],
    ['KServe binary BYTES in, JSON out', `16k × ${BIG_JSON[0].length} B`, () => { const r = kserveBinaryStrings(BIG_JSON, false); return httpPost(o, '/v2/models/strings/infer', r.body, r.headers); }],
    ['KServe binary BYTES in+out', `16k × 1 B`, () => { const r = kserveBinaryStrings(TINY, true); return httpPost(o, '/v2/models/strings/infer', r.body, r.headers); }],
    ['KServe binary BYTES in+out', `16k × ${BIG_EACH} B`, () => { const r = kserveBinaryStrings(BIG, true); return httpPost(o, '/v2/models/strings/infer', r.body, r.headers); }],
    ['KServe gRPC bytes_contents in+out', `16k × 1 B`, async () => ok(await grpcRaw(ks, '/inference.GRPCInferenceService/ModelInfer', kserveStrings(TINY)))],
    ['KServe gRPC bytes_contents in+out', `16k × ${BIG_JSON[0].length} B`, async () => ok(await grpcRaw(ks, '/inference.GRPCInferenceService/ModelInfer', kserveStrings(BIG_JSON)))],
    ['TF REST strings in+out (b64 out)', `16k × 1 B`, () => httpPost(o, '/v1/models/strings:predict', JSON.stringify({ instances: TINY.map((s) => s.toString()) }))],
    ['TF REST strings in+out (b64 out)', `16k × ${BIG_JSON[0].length} B`, () => httpPost(o, '/v1/models/strings:predict', JSON.stringify({ inputs: BIG_JSON.map((s) => s.toString()) }))],
    ['TF gRPC string_val in+out', `16k × 1 B`, async () => ok(await grpcRaw(tf, '/tensorflow.serving.PredictionService/Predict', tfStrings(TINY)))],
    ['TF gRPC string_val in+out', `16k × ${BIG_JSON[0].length} B`, async () => ok(await grpcRaw(tf, '/tensorflow.serving.PredictionService/Predict', tfStrings(BIG_JSON)))],
    ['TF gRPC float_val in, out', `8M float32 (32 MB)`, async () => ok(await grpcRaw(tf, '/tensorflow.serving.PredictionService/Predict', tfPredict('id_f32', { x: tfTensor(DT_FLOAT, [MAX_ELEMENTS], bytes(5, Buffer.alloc(MAX_ELEMENTS * 4, 0x3f))) })))],
    ['TF gRPC int64_val in, out', `8M int64 (1-byte varints)`, async () => ok(await grpcRaw(tf, '/tensorflow.serving.PredictionService/Predict', tfPredict('id_i64', { x: tfTensor(DT_INT64, [MAX_ELEMENTS], packedSmall(10, MAX_ELEMENTS, 5)) })))],
    ['TF gRPC int64_val in, out', `6M int64 (10-byte varints, 60 MB)`, async () => ok(await grpcRaw(tf, '/tensorflow.serving.PredictionService/Predict', tfPredict('id_i64', { x: tfTensor(DT_INT64, [6_000_000], bytes(10, Buffer.concat(Array.from({ length: 6_000_000 / 1000 }, () => Buffer.concat(Array.from({ length: 1000 }, () => varint(-1n))))))) })))],
    ['TF gRPC fill rule float_val', `[8M] from 1 value`, async () => ok(await grpcRaw(tf, '/tensorflow.serving.PredictionService/Predict', tfPredict('id_f32', { x: tfTensor(DT_FLOAT, [MAX_ELEMENTS], bytes(5, Buffer.from(new Float32Array([1.5]).buffer))) })))],
    ['TF gRPC fill rule int64_val', `[8M] from 1 value`, async () => ok(await grpcRaw(tf, '/tensorflow.serving.PredictionService/Predict', tfPredict('id_i64', { x: tfTensor(DT_INT64, [MAX_ELEMENTS], bytes(10, varint(-7n))) })))],
    ['TF gRPC tensor_content in, out', `8M float32`, async () => ok(await grpcRaw(tf, '/tensorflow.serving.PredictionService/Predict', tfPredict('id_f32', { x: tfTensor(DT_FLOAT, [MAX_ELEMENTS], bytes(4, Buffer.alloc(MAX_ELEMENTS * 4, 0x3f))) })))],
    ['KServe gRPC raw in, raw out', `8M float32`, async () => ok(await grpcRaw(ks, '/inference.GRPCInferenceService/ModelInfer', Buffer.concat([str(1, 'id_f32'), kserveInput('x', 'FP32', [MAX_ELEMENTS]), bytes(7, Buffer.alloc(MAX_ELEMENTS * 4, 0x3f))])))],
    ['KServe gRPC fp32_contents in, raw out', `8M float32`, async () => ok(await grpcRaw(ks, '/inference.GRPCInferenceService/ModelInfer', Buffer.concat([str(1, 'id_f32'), kserveInput('x', 'FP32', [MAX_ELEMENTS], bytes(6, Buffer.alloc(MAX_ELEMENTS * 4, 0x3f)))])))],
    ['KServe gRPC int64_contents in, raw out', `8M int64`, async () => ok(await grpcRaw(ks, '/inference.GRPCInferenceService/ModelInfer', Buffer.concat([str(1, 'id_i64'), kserveInput('x', 'INT64', [MAX_ELEMENTS], packedSmall(3, MAX_ELEMENTS, 5))])))],
    ['KServe binary FP32 in+out', `8M float32`, () => { const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [MAX_ELEMENTS], parameters: { binary_data_size: MAX_ELEMENTS * 4 } }], parameters: { binary_data_output: true } })); return httpPost(o, '/v2/models/id_f32/infer', Buffer.concat([header, Buffer.alloc(MAX_ELEMENTS * 4, 0x3f)]), { 'inference-header-content-length': String(header.length) }); }],
    ['FlatBuffers HTTP strings in+out', `16k × 1 B`, () => clients.fbHttp.infer('strings', fbStrings(TINY))],
    ['FlatBuffers HTTP strings in+out', `16k × ${BIG_JSON[0].length} B`, () => clients.fbHttp.infer('strings', fbStrings(BIG_JSON))],
    ['FlatBuffers WS strings in+out', `16k × 1 B`, () => clients.fbWs.infer('strings', fbStrings(TINY))],
    ['FlatBuffers WS strings in+out', `16k × ${BIG_JSON[0].length} B`, () => clients.fbWs.infer('strings', fbStrings(BIG_JSON))],
    ['FlatBuffers HTTP float32 in+out', `8M float32`, () => clients.fbHttp.infer('id_f32', { x: new Float32Array(MAX_ELEMENTS).fill(1.5) })],
  ];
}

// The loop probe records the stalls' windows for the profile (bench/lib/loop-probe.mjs, ORTSERVE_LOOP_GAPS_MS).
if (args['cpu-prof']) process.env.ORTSERVE_LOOP_GAPS_MS ??= '4';
if (args.sched) process.env.ORTSERVE_LOOP_SCHED = '1';
const server = await startOrtserve([`--model_base_path=${base}`, '--intra_op_threads=1', ...args.flag], { loopProbe: true, nodeArgs: [...args['node-arg'], ...(args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`, `--cpu-prof-interval=${args['cpu-prof-interval']}`] : [])] });
if (args.sched) process.stderr.write(`server pid ${server.pid}\n`);
// The clients stand in for other machines: on this shared 2-core VM their own CPU work (serializing and reading 32-64 MB
// messages, their collector's threads) takes the cores the server's JS thread wakes up to, and the probe would
// measure the client: the scheduler lets a running thread finish its tick (4 ms here) before a woken one of the same
// priority gets the core. So once the server runs (at the priority it was started with), every thread of this process
// steps aside: --client-priority=idle (default) puts them in SCHED_IDLE (util-linux `chrt`), which any normal thread
// preempts at once; `nice` lowers them to nice 19; `same` leaves them as they are. Threads started later inherit it.
let clientPriority = CLIENT_PRIORITY;
for (const tid of CLIENT_PRIORITY === 'same' ? [] : readdirSync('/proc/self/task')) {
  if (clientPriority === 'idle') {
    try {
      execFileSync('chrt', ['--idle', '--pid', '0', tid], { stdio: 'ignore' });
      continue;
    } catch {
      clientPriority = 'nice (chrt failed)';
    }
  }
  os.setPriority(Number(tid), 19);
}
process.stderr.write(`clients' priority: ${clientPriority}\n`);
const clients = {
  kserve: new grpc.Client(server.grpcAddress, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 }),
  tf: new grpc.Client(server.grpcAddress, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 }),
  fbHttp: new FlatBuffersHttpClient(server.origin),
  fbWs: await FlatBuffersWsClient.connect(`${server.origin.replace('http', 'ws')}/v1/flatbuffers/ws`),
};
const rows = [];
const allGaps = [];
try {
  for (const [kind, size, send] of kinds(server, clients)) {
    if (args.only && !args.only.split('|').some((o) => `${kind} ${size}`.includes(o))) continue;
    const maxima = [];
    const oncpu = [];   // with --sched: the JS thread's CPU time within each repeat's longest timer interval
    let note = '';
    for (let i = 0; i < REPEAT; i++) {
      await new Promise((r) => setTimeout(r, 50));
      await server.ask({ probe: 'loop-delay', reset: true });
      try {
        await send();
      } catch (error) {
        note = String(error.message ?? error).slice(0, 80);   // a refusal at the limits is an answer too; say which
      }
      await new Promise((r) => setTimeout(r, 20));   // the answer's last slices
      const seen = await server.ask({ probe: 'loop-delay' });
      maxima.push(seen.max);
      allGaps.push(...(seen.gaps ?? []).map(([from, to]) => ({ kind, size, from, to })));
      if (args.gc) process.stderr.write(`  ${kind} ${size}: stall ${seen.max.toFixed(1)} ms, longest gc ${seen.gcLongest.kind} ${seen.gcLongest.ms.toFixed(1)} ms, gc total ${seen.gcTotal.toFixed(1)} ms in ${seen.gcCount}\n`);
      if (args.sched) {
        const l = seen.longestInterval;
        oncpu.push(l.cpuMs);
        process.stderr.write(`  ${kind} ${size}: longest timer interval ${l.wallMs.toFixed(1)} ms: JS thread on CPU ${l.cpuMs.toFixed(1)} ms, waiting for a CPU ${l.waitMs.toFixed(1)} ms, neither ${(l.wallMs - l.cpuMs - l.waitMs).toFixed(1)} ms\n`);
      }
    }
    maxima.sort((a, b) => a - b);
    // The least of the repeats' maxima: a stall the request causes shows in every repeat, preemption by the other
    // processes of a shared machine in some.
    oncpu.sort((a, b) => a - b);
    const row = { kind, size, least: maxima[0].toFixed(1), median: maxima[Math.floor(maxima.length / 2)].toFixed(1), note,
      ...(args.sched ? { oncpuLeast: oncpu[0].toFixed(1), oncpuMedian: oncpu[Math.floor(oncpu.length / 2)].toFixed(1) } : {}) };
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  }
} finally {
  clients.kserve.close(); clients.tf.close(); clients.fbWs.close?.();
  await server.stop();
  // With --cpu-prof: the stalls' windows, for bench/lib/cpuprof-stalls.mjs --gaps.
  if (args['cpu-prof']) writeFileSync(path.join(args['cpu-prof'], 'gaps.json'), JSON.stringify(allGaps));
}
const schedHead = args.sched ? ' JS thread on CPU in the longest interval, least / median (ms) |' : '';
console.log(`| kind | size | longest stall, least of repeats (ms) | median of repeats (ms) |${schedHead} answer |\n|---|---|---|---|${args.sched ? '---|' : ''}---|`);
for (const r of rows) console.log(`| ${r.kind} | ${r.size} | ${r.least} | ${r.median} |${args.sched ? ` ${r.oncpuLeast} / ${r.oncpuMedian} |` : ''} ${r.note || 'ok'} |`);
process.exit(0);
