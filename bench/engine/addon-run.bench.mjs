// Question: how does one in-process run through our addon compare with onnxruntime-node's own JS API on the same model,
// queued (a worker thread runs it) and inline (the JS thread runs it: a version proven cheap)? All pinned to 1
// intra-op thread. Run: npm run bench:micro (needs the built addon and dist/).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { ModelSession } from '../../dist/src/engine/model-session.js';
import { compare } from '../lib/compare.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelPath = path.join(root, 'examples/models/mlp/1/model.onnx');

/** Loads both sessions, compares batch 1 and batch 256, releases them; returns one record per question. */
export async function run({ rounds = 5, timeMs = 400 } = {}) {
  const ours = await ModelSession.load(modelPath, { intraOpThreads: 1, inlineBudgetMicros: 0 });
  // A budget no run of this model reaches: after its first measured runs it stays inline.
  const inline = await ModelSession.load(modelPath, { intraOpThreads: 1, inlineBudgetMicros: 100_000 });
  const theirs = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const records = [];
  try {
    for (const batch of [1, 256]) {
      const data = new Float32Array(batch * 4).map((_, i) => (i % 7) - 3);
      const inputs = new Map([['x', { dtype: 'float32', shape: [batch, 4], data }]]);
      const feeds = { x: new ort.Tensor('float32', data, [batch, 4]) };
      const question = `mlp, batch ${batch}: one async run, in process`;
      const baseline = { name: 'onnxruntime-node InferenceSession.run', fn: () => theirs.run(feeds) };
      const queued = { name: 'ortserve ModelSession.run, queued', fn: () => ours.run(inputs) };
      records.push((await compare(question, baseline, queued, { rounds, timeMs })).record);
      const inlined = { name: 'ortserve ModelSession.run, inline', fn: () => inline.run(inputs) };
      records.push((await compare(`${question}, inline`, baseline, inlined, { rounds, timeMs })).record);
    }
  } finally {
    ours.release();
    inline.release();
    await theirs.release();
  }
  return records;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
