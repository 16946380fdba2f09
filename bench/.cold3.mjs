import fs from 'node:fs';
import ort from 'onnxruntime-node';
const sess = await ort.InferenceSession.create('/work/prof/repo/mlp64/1/model.onnx', { intraOpNumThreads: 1, interOpNumThreads: 1 });
const x = new ort.Tensor('float32', new Float32Array(64).fill(0.5), [1, 64]);
const ortRun = () => sess.run({ [sess.inputNames[0]]: x });
const sab = new Int32Array(new SharedArrayBuffer(4));
const med = (a) => { a.sort((p, q) => p - q); return a[a.length >> 1].toFixed(1); };
const spin = (ms) => { const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6)); let s = 0; while (process.hrtime.bigint() < end) s++; return s; };
const junk = new Uint8Array(8 << 20);
const trash = () => { let s = 0; for (let i = 0; i < junk.length; i += 64) s += junk[i]++; return s; };
async function time(fn, gap) {
  const t = [];
  for (let i = 0; i < 1500; i++) {
    gap();
    const t0 = process.hrtime.bigint(); await fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return med(t);
}
for (let r = 0; r < 2; r++) {
console.log('ort-node run: hot', await time(ortRun, () => 0), '| sleep 0.1ms', await time(ortRun, () => Atomics.wait(sab, 0, 0, 0.1)),
  '| spin 0.1ms', await time(ortRun, () => spin(0.1)), '| spin 1ms', await time(ortRun, () => spin(1)), '| sleep 1ms', await time(ortRun, () => Atomics.wait(sab, 0, 0, 1)), '| trash 8MB', await time(ortRun, trash));
}
