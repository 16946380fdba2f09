// How long one hostile ~1M-value JSON body holds the JS thread (event-loop delay), with the JS re-parse on the JS
// thread (--json_js_inline_bytes past the body: the behaviour before issue 17's JSON fix) and off it (the default).
// A measurement for the README, not a test: `npm run build && node bench/frontends/json-decline-stall.mjs`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer } from '../../dist/src/index.js';
import { mlpModel } from '../../scripts/make-example-models.mjs';

const ROWS = 250_000; // 4 values each: a million values, ~13-19 MB
const row = (r) => `[${(r % 7) / 3},${-r % 5},0.5,${r * 1e-3}]`;
const rows = Array.from({ length: ROWS }, (_, r) => row(r)).join(',');
const kserveData = Array.from({ length: ROWS }, (_, r) => row(r).slice(1, -1)).join(',');
const BODIES = {
  'syntax error at the end (TF)': `{"instances": [${rows}]},`,
  'one integer > 2^53 (TF, valid)': `{"instances": [[12345678901234567890,1,2,3],${rows}]}`,
  'duplicate key at the end (TF)': `{"instances": [${rows}], "instances": [[1,2,3,4]]}`,
  'wrong shape: 5 values a row (TF)': `{"instances": [${rows.replace(/\]$/, ',1]').replaceAll('],[', ',1],[')}]}`,
  'wrong model signature: 2 inputs named (TF)': `{"inputs": {"x": [${rows}], "nope": [1]}}`,
  'syntax error at the end (KServe)': `{"inputs": [{"name": "x", "shape": [${ROWS}, 4], "datatype": "FP32", "data": [${kserveData}]}]`,
  'duplicate key at the end (KServe)': `{"inputs": [{"name": "x", "shape": [${ROWS}, 4], "datatype": "FP32", "data": [${kserveData}], "data": [1]}]}`,
  'wrong shape: count mismatch (KServe)': `{"inputs": [{"name": "x", "shape": [${ROWS + 1}, 4], "datatype": "FP32", "data": [${kserveData}]}]}`,
};

const repo = mkdtempSync(path.join(os.tmpdir(), 'ortserve-stall-'));
mkdirSync(path.join(repo, 'mlp', '1'), { recursive: true });
writeFileSync(path.join(repo, 'mlp', '1', 'model.onnx'), mlpModel(1));

async function measure(jsInlineBytes) {
  const server = createServer({ host: '127.0.0.1', restApiPort: 0, grpcPort: 0, modelBasePath: repo, intraOpThreads: 1, jsonJsInlineBytes: jsInlineBytes });
  const { restPort } = await server.start();
  const out = {};
  for (const [name, text] of Object.entries(BODIES)) {
    const url = `http://127.0.0.1:${restPort}/${name.endsWith('(TF)') ? 'v1/models/mlp:predict' : 'v2/models/mlp/infer'}`;
    const body = Buffer.from(text);
    const runs = [];
    for (let k = 0; k < 3; k++) {
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const res = await fetch(url, { method: 'POST', body });
      const answer = await res.text();
      h.disable();
      runs.push({ maxMs: h.max / 1e6, status: res.status, answer: answer.slice(0, 90) });
    }
    out[name] = { bytes: body.length, maxDelayMs: runs.map((r) => r.maxMs.toFixed(1)).join(' / '), status: runs[0].status, answer: runs[0].answer };
  }
  await server.stop();
  return out;
}

const before = await measure(2 ** 31 - 1);
const after = await measure(128 * 1024);
for (const name of Object.keys(BODIES)) {
  console.log(`${name} (${(before[name].bytes / 1e6).toFixed(1)} MB, ${before[name].status}): max event-loop delay, 3 runs, JS re-parse on the JS thread: ${before[name].maxDelayMs} ms; off it: ${after[name].maxDelayMs} ms`);
  if (before[name].answer !== after[name].answer) console.log(`  ANSWERS DIFFER:\n  ${before[name].answer}\n  ${after[name].answer}`);
  else console.log(`  ${after[name].answer}`);
}
rmSync(repo, { recursive: true, force: true });
