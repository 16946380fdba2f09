// How long one hostile ~1M-value JSON body holds the JS thread (event-loop delay), with the JS re-parse on the JS
// thread (--json_js_inline_bytes past the body: the behaviour before issue 17's JSON fix) and off it (the default).
// A measurement for the README, not a test: `npm run build && node bench/frontends/json-decline-stall.mjs`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer } from '../../dist/src/index.js';
import { mlpModel } from '../../scripts/make-example-models.mjs';

// The client runs in a child process, so that its own work (writing 7 MB, reading the answer) is not measured.
if (process.argv[2] === 'client') {
  const res = await fetch(process.argv[3], { method: 'POST', body: readFileSync(process.argv[4]) });
  process.stdout.write(JSON.stringify({ status: res.status, answer: (await res.text()).slice(0, 100) }));
  process.exit(0);
}

const ROWS = 200_000; // 4 numbers and a list each: a million values (--max_json_values), ~7 MB
const row = (r) => `[${(r % 7) / 3},${-r % 5},0.5,${r * 1e-3}]`;
const rows = Array.from({ length: ROWS }, (_, r) => row(r)).join(',');
const kserveData = Array.from({ length: ROWS }, (_, r) => row(r).slice(1, -1)).join(',');
const BODIES = {
  'syntax error at the end (TF)': `{"instances": [${rows}]},`,
  'one integer > 2^53 (KServe INT64 to the FP32 input)': `{"inputs": [{"name": "x", "shape": [${ROWS + 1}, 4], "datatype": "INT64", "data": [12345678901234567890,1,2,3,${kserveData.replaceAll('0.5', '5').replace(/\d*\.\d+(e-\d+)?|\d+e-\d+/g, '1')}]}]}`,
  'duplicate key at the end (TF)': `{"instances": [${rows}], "instances": [[1,2,3,4]]}`,
  'wrong shape: 5 values a row (TF)': `{"instances": [${rows.replace(/\]$/, ',1]').replaceAll('],[', ',1],[')}]}`,
  'wrong model signature: 2 inputs named (TF)': `{"inputs": {"x": [${rows}], "nope": [1]}}`,
  'syntax error at the end (KServe)': `{"inputs": [{"name": "x", "shape": [${ROWS}, 4], "datatype": "FP32", "data": [${kserveData}]}]`,
  'duplicate key at the end (KServe)': `{"inputs": [{"name": "x", "shape": [${ROWS}, 4], "datatype": "FP32", "data": [${kserveData}], "data": [1]}]}`,
  'valid, for reference: the same data well formed (KServe, a 200000-row run and answer)': `{"inputs": [{"name": "x", "shape": [${ROWS}, 4], "datatype": "FP32", "data": [${kserveData}]}]}`,
  'wrong shape: count mismatch (KServe)': `{"inputs": [{"name": "x", "shape": [${ROWS + 1}, 4], "datatype": "FP32", "data": [${kserveData}]}]}`,
};

const repo = mkdtempSync(path.join(os.tmpdir(), 'ortserve-stall-'));
mkdirSync(path.join(repo, 'mlp', '1'), { recursive: true });
writeFileSync(path.join(repo, 'mlp', '1', 'model.onnx'), mlpModel(1));

async function measure(jsInlineBytes) {
  const server = createServer({ host: '127.0.0.1', restApiPort: 0, grpcPort: 0, modelBasePath: repo, intraOpThreads: 1, jsonJsInlineBytes: jsInlineBytes });
  const { restPort } = await server.start();
  const out = {};
  // The machine's own noise (2 shared cores): the largest delay over an idle second.
  const idle = monitorEventLoopDelay({ resolution: 1 });
  idle.enable();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  idle.disable();
  out.idle = idle.max / 1e6;
  for (const [name, text] of Object.entries(BODIES)) {
    const url = `http://127.0.0.1:${restPort}/${name.includes('(TF') ? 'v1/models/mlp:predict' : 'v2/models/mlp/infer'}`;
    const body = Buffer.from(text);
    const file = path.join(repo, 'body.json');
    writeFileSync(file, body);
    const runs = [];
    for (let k = 0; k < 3; k++) {
      const client = new Promise((resolve, reject) => {
        import('node:child_process').then(({ execFile }) => execFile(process.execPath, [new URL(import.meta.url).pathname, 'client', url, file],
          { maxBuffer: 1 << 20 }, (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout)))));
      });
      // Measured from when the child has had time to start (~50 ms of delay samples before its request arrives).
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const { status, answer } = await client;
      h.disable();
      runs.push({ maxMs: h.max / 1e6, status, answer });
    }
    out[name] = { bytes: body.length, maxDelayMs: runs.map((r) => r.maxMs.toFixed(1)).join(' / '), status: runs[0].status, answer: runs[0].answer };
  }
  await server.stop();
  return out;
}

const before = await measure(2 ** 31 - 1);
const after = await measure(128 * 1024);
console.log(`idle second, for the noise: ${before.idle.toFixed(1)} ms / ${after.idle.toFixed(1)} ms`);
for (const name of Object.keys(BODIES)) {
  if (name === 'idle') continue;
  console.log(`${name} (${(before[name].bytes / 1e6).toFixed(1)} MB, ${before[name].status}): max event-loop delay, 3 runs, JS re-parse on the JS thread: ${before[name].maxDelayMs} ms; off it: ${after[name].maxDelayMs} ms`);
  if (before[name].answer !== after[name].answer) console.log(`  ANSWERS DIFFER:\n  ${before[name].answer}\n  ${after[name].answer}`);
  else console.log(`  ${after[name].answer}`);
}
rmSync(repo, { recursive: true, force: true });
