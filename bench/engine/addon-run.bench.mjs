// Question: how does one in-process run through our addon compare with onnxruntime-node's own JS API on the same model?
// Both pinned to 1 intra-op thread. Run: npm run bench:micro (needs the built addon and dist/).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { ModelSession } from '../../dist/src/engine/model-session.js';
import { compare } from '../lib/compare.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelPath = path.join(root, 'examples/models/mlp/1/model.onnx');

const ours = await ModelSession.load(modelPath, { intraOpThreads: 1 });
const theirs = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });

for (const batch of [1, 256]) {
  const data = new Float32Array(batch * 4).map((_, i) => (i % 7) - 3);
  const inputs = new Map([['x', { dtype: 'float32', shape: [batch, 4], data }]]);
  const feeds = { x: new ort.Tensor('float32', data, [batch, 4]) };
  await compare(`mlp, batch ${batch}: one async run, in process`,
    { name: 'onnxruntime-node InferenceSession.run', fn: () => theirs.run(feeds) },
    { name: 'ortserve ModelSession.run', fn: () => ours.run(inputs) });
}
ours.release();
await theirs.release();
