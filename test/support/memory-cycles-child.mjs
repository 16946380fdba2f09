// Child process of test/hot-reload-memory.test.ts: a real ortserve (compiled dist/) that swaps versions of a 16 MiB
// model by hot reload, predicting over HTTP after each swap; prints one JSON line with RSS samples.
// Run with --expose-gc: `node --expose-gc memory-cycles-child.mjs <package root> <work dir> <cycles>`.

import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [root, work, cyclesText] = process.argv.slice(2);
const cycles = Number(cyclesText);
const { createServer } = await import(pathToFileURL(path.join(root, 'dist/src/index.js')).href);
const { buildModel } = await import(pathToFileURL(path.join(root, 'scripts/onnx/onnx-writer.mjs')).href);

const IN = 1024;
const OUT = 4096;
const weights = new Float32Array(IN * OUT);
for (let i = 0; i < weights.length; i++) weights[i] = ((i * 7) % 13) / 64;
// One buffer built once; only b's bytes change per version, so this process allocates nothing per cycle.
const bytes = Buffer.from(buildModel({
  graph: {
    name: 'big',
    inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', IN] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', OUT] }],
    initializers: [
      { name: 'W', dtype: 'float32', dims: [IN, OUT], data: weights },
      { name: 'b', dtype: 'float32', dims: [OUT], data: new Float32Array(OUT).fill(1) },
    ],
    nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'] }, { op: 'Add', inputs: ['xw', 'b'], outputs: ['y'] }],
  },
}));
const bias = (v) => Buffer.from(new Float32Array(OUT).fill(v).buffer);
const biasAt = bytes.indexOf(bias(1));
const base = path.join(work, 'big');
mkdirSync(base);
/** Written elsewhere, then renamed into place: the recommended way to publish a version. */
function publish(version) {
  bias(version).copy(bytes, biasAt);
  const staging = mkdtempSync(path.join(work, 'staging-'));
  writeFileSync(path.join(staging, 'model.onnx'), bytes);
  renameSync(staging, path.join(base, String(version)));
}

/** RSS after collecting garbage: V8 cannot see native memory, so a released session's wrapper may wait for a GC. */
async function settledRssMib() {
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  return Math.round(process.memoryUsage().rss / 2 ** 20);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
publish(1);
const server = createServer({
  host: '127.0.0.1', restApiPort: 0, grpcPort: 0, modelBasePath: base, modelName: 'big', intraOpThreads: 1, logLevel: 'silent',
  fileSystemPollWaitSeconds: 0.02, versionSettleSeconds: 0,
});
const { restPort } = await server.start();
const body = JSON.stringify({ instances: [Array.from({ length: IN }, (_, i) => (i % 3) - 1)] });
const predict = async () => (await (await fetch(`http://127.0.0.1:${restPort}/v1/models/big:predict`, { method: 'POST', body })).json()).predictions[0][0];
const first = await predict();
const report = { afterFirstLoadMib: await settledRssMib(), every10CyclesMib: [], answersOk: true };
for (let v = 2; v <= cycles + 1; v++) {
  publish(v);
  for (;;) {
    const [newest, previous] = server.registry.status('big');
    if (newest.version === v && newest.state === 'AVAILABLE' && previous.state === 'END') break;
    await sleep(5);
  }
  if (Math.abs((await predict()) - (first + v - 1)) > 1e-3) report.answersOk = false;   // b moved by one per version
  rmSync(path.join(base, String(v - 1)), { recursive: true });
  if ((v - 1) % 10 === 0) report.every10CyclesMib.push(await settledRssMib());
}
report.endMib = await settledRssMib();
report.growthMib = report.endMib - report.afterFirstLoadMib;
report.states = server.registry.status('big').map((s) => `${s.version}:${s.state}`);
await server.stop();
console.log(JSON.stringify(report));
