// Builds the example model repositories deterministically: `node scripts/make-example-models.mjs [outDir] [tritonDir]`.

/*
 * Layout written (TF Serving style: <name>/<version>/model.onnx):
 *   mlp/1/model.onnx, mlp/2/model.onnx, multi_io/1/model.onnx, README.md
 * and a Triton repository (examples/triton), as a Triton user has one:
 *   mlp/config.pbtxt, mlp/1/model.onnx, mlp/2/model.onnx, multi_io/1/model.onnx (no config.pbtxt), README.md
 *
 * Nothing here depends on time, randomness or the host, so re-running produces
 * byte-identical files; the functions are exported so tests can rebuild the
 * same models and compute expected outputs from the same formulas.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildModel } from './onnx/onnx-writer.mjs';

export const MLP_IN = 4;
export const MLP_HIDDEN = 8;
export const MLP_OUT = 3;

/**
 * The MLP weights as plain nested arrays. Every value is a multiple of 1/4,
 * so it is exact in float32 and results for small integer inputs can be
 * worked out by hand:
 *   W1[i][j] = ((i*8 + j) % 7 - 3) / 4     i < 4, j < 8
 *   b1[j]    = (j % 3 - 1) / 2             j < 8
 *   W2[j][k] = ((j*3 + k) % 5 - 2) / 2     j < 8, k < 3
 *   b2[k]    = (k - 1) / 4 + (version - 1) k < 3
 * Only b2 changes between versions (version 2 adds 1 to every score), which
 * makes it obvious which version answered.
 * @param {number} version
 * @returns {{ W1: number[][], b1: number[], W2: number[][], b2: number[] }}
 */
export function mlpWeights(version) {
  const range = (/** @type {number} */ n) => Array.from({ length: n }, (_, i) => i);
  return {
    W1: range(MLP_IN).map((i) => range(MLP_HIDDEN).map((j) => (((i * MLP_HIDDEN + j) % 7) - 3) / 4)),
    b1: range(MLP_HIDDEN).map((j) => ((j % 3) - 1) / 2),
    W2: range(MLP_HIDDEN).map((j) => range(MLP_OUT).map((k) => (((j * MLP_OUT + k) % 5) - 2) / 2)),
    b2: range(MLP_OUT).map((k) => (k - 1) / 4 + (version - 1)),
  };
}

/**
 * Plain-JS reference of the MLP, independent of ONNX:
 * scores = relu(x·W1 + b1)·W2 + b2, one row per batch entry.
 * @param {number[][]} x rows of length 4
 * @param {number} version
 * @returns {number[][]} rows of length 3
 */
export function mlpForward(x, version) {
  const { W1, b1, W2, b2 } = mlpWeights(version);
  return x.map((row) => {
    const h = b1.map((b, j) => Math.max(0, row.reduce((s, v, i) => s + v * (W1[i]?.[j] ?? 0), b)));
    return b2.map((b, k) => h.reduce((s, v, j) => s + v * (W2[j]?.[k] ?? 0), b));
  });
}

/**
 * x float32 [batch, 4] → MatMul W1 → Add b1 → Relu → MatMul W2 → Add b2 → scores float32 [batch, 3].
 * @param {number} version
 */
export function mlpModel(version) {
  const { W1, b1, W2, b2 } = mlpWeights(version);
  return buildModel({
    docString: `ortserve example MLP, version ${version}; weights from mlpWeights() in scripts/make-example-models.mjs`,
    graph: {
      name: 'mlp',
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', MLP_IN] }],
      outputs: [{ name: 'scores', dtype: 'float32', shape: ['batch', MLP_OUT] }],
      initializers: [
        { name: 'W1', dtype: 'float32', dims: [MLP_IN, MLP_HIDDEN], data: W1.flat() },
        { name: 'b1', dtype: 'float32', dims: [MLP_HIDDEN], data: b1 },
        { name: 'W2', dtype: 'float32', dims: [MLP_HIDDEN, MLP_OUT], data: W2.flat() },
        { name: 'b2', dtype: 'float32', dims: [MLP_OUT], data: b2 },
      ],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'W1'], outputs: ['h_mm'], name: 'fc1' },
        { op: 'Add', inputs: ['h_mm', 'b1'], outputs: ['h_pre'], name: 'fc1_bias' },
        { op: 'Relu', inputs: ['h_pre'], outputs: ['h'], name: 'relu' },
        { op: 'MatMul', inputs: ['h', 'W2'], outputs: ['s_mm'], name: 'fc2' },
        { op: 'Add', inputs: ['s_mm', 'b2'], outputs: ['scores'], name: 'fc2_bias' },
      ],
    },
  });
}

/**
 * Several inputs and outputs of different dtypes, for protocol encoding tests:
 *   a float32 [batch, 3], b int64 [batch, 2], text string [batch] →
 *   a_doubled  float32 [batch, 3] = a + a
 *   b_plus_one int64   [batch, 2] = b + 1   (integer Add: exact beyond 2^53)
 *   text_echo  string  [batch]    = text
 *   text_bytes string  [batch]    = text    (TF Serving returns *_bytes outputs as {"b64": ...})
 *   a_sum      float32 [batch]    = sum of a over axis 1
 */
export function multiIoModel() {
  return buildModel({
    docString: 'ortserve example with mixed-dtype inputs/outputs; see scripts/make-example-models.mjs',
    graph: {
      name: 'multi_io',
      inputs: [
        { name: 'a', dtype: 'float32', shape: ['batch', 3] },
        { name: 'b', dtype: 'int64', shape: ['batch', 2] },
        { name: 'text', dtype: 'string', shape: ['batch'] },
      ],
      outputs: [
        { name: 'a_doubled', dtype: 'float32', shape: ['batch', 3] },
        { name: 'b_plus_one', dtype: 'int64', shape: ['batch', 2] },
        { name: 'text_echo', dtype: 'string', shape: ['batch'] },
        { name: 'text_bytes', dtype: 'string', shape: ['batch'] },
        { name: 'a_sum', dtype: 'float32', shape: ['batch'] },
      ],
      initializers: [
        { name: 'one', dtype: 'int64', dims: [], data: [1n] },
        // Since opset 13, ReduceSum takes its axes as an int64 input, not an attribute.
        { name: 'sum_axes', dtype: 'int64', dims: [1], data: [1n] },
      ],
      nodes: [
        { op: 'Add', inputs: ['a', 'a'], outputs: ['a_doubled'], name: 'double_a' },
        { op: 'Add', inputs: ['b', 'one'], outputs: ['b_plus_one'], name: 'increment_b' },
        { op: 'Identity', inputs: ['text'], outputs: ['text_echo'], name: 'echo_text' },
        { op: 'Identity', inputs: ['text'], outputs: ['text_bytes'], name: 'echo_text_bytes' },
        { op: 'ReduceSum', inputs: ['a', 'sum_axes'], outputs: ['a_sum'], name: 'sum_a', attrs: { keepdims: 0 } },
      ],
    },
  });
}

/** @param {number[]} v */
const fmt = (v) => `[${v.join(', ')}]`;

/** The README for the generated repository; the worked example is computed, so it cannot drift. */
export function readme() {
  const x = [1, 2, 3, 4];
  const [v1] = mlpForward([x], 1);
  const [v2] = mlpForward([x], 2);
  return `# Example models

Generated by \`node scripts/make-example-models.mjs\` (also \`npm run models\`); edit that
script, not these files. The ONNX files are written by our own protobuf writer
(\`scripts/onnx/onnx-writer.mjs\`), ONNX IR version 8, opset 17. Generation is
deterministic: re-running produces byte-identical files. Layout is
\`<model name>/<version>/model.onnx\`; the server serves the highest version by default.

## mlp (versions 1 and 2)

A two-layer perceptron: input \`x\` float32 \`[batch, 4]\`, output \`scores\` float32
\`[batch, 3]\`, computing \`scores = relu(x·W1 + b1)·W2 + b2\` with
\`W1[i][j] = ((i*8 + j) % 7 - 3) / 4\` (4×8), \`b1[j] = (j % 3 - 1) / 2\` (8),
\`W2[j][k] = ((j*3 + k) % 5 - 2) / 2\` (8×3) and \`b2[k] = (k - 1) / 4 + (version - 1)\` (3).
All weights are multiples of 1/4, so results for small integer inputs are exact and can
be checked by hand; version 2 differs only in b2, adding 1 to every score. Example:
\`x = ${fmt(x)}\` gives \`${fmt(v1)}\` from version 1 and \`${fmt(v2)}\` from version 2.

## multi_io (version 1)

Mixed dtypes and several inputs/outputs, for protocol encoding tests. Inputs: \`a\` float32
\`[batch, 3]\`, \`b\` int64 \`[batch, 2]\`, \`text\` string \`[batch]\`. Outputs: \`a_doubled\` =
a + a (float32 \`[batch, 3]\`); \`b_plus_one\` = b + 1 (int64 \`[batch, 2]\`, integer Add, so
exact beyond 2^53); \`text_echo\` = text and \`text_bytes\` = text (string \`[batch]\`, via
Identity; TF Serving returns outputs whose name ends in \`_bytes\` as \`{"b64": ...}\`);
\`a_sum\` = ReduceSum(a, axes=[1], keepdims=0) (float32 \`[batch]\`, the row sums of a).
`;
}

/**
 * Writes all example models and the README under outDir.
 * @param {string} outDir
 * @returns {string[]} paths written
 */
export function writeExampleModels(outDir) {
  /** @type {[string, Uint8Array | string][]} */
  const files = [
    [join('mlp', '1', 'model.onnx'), mlpModel(1)],
    [join('mlp', '2', 'model.onnx'), mlpModel(2)],
    [join('multi_io', '1', 'model.onnx'), multiIoModel()],
    ['README.md', readme()],
  ];
  return files.map(([rel, content]) => {
    const path = join(outDir, rel);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
    return path;
  });
}

/**
 * The Triton example's config.pbtxt for mlp: dynamic batching, two priority levels with queue policies, two
 * instances and a version policy, in Triton's own text format.
 */
export const TRITON_MLP_CONFIG = `# A Triton model configuration (model_config.proto text format), served unchanged by ortserve.
name: "mlp"
backend: "onnxruntime"
max_batch_size: 8
input [
  { name: "x", data_type: TYPE_FP32, dims: [ 4 ] }
]
output [
  { name: "scores", data_type: TYPE_FP32, dims: [ 3 ] }
]
version_policy: { specific: { versions: [ 1, 2 ] } }
dynamic_batching {
  preferred_batch_size: [ 4, 8 ]
  max_queue_delay_microseconds: 500
  priority_levels: 2
  default_priority_level: 2
  default_queue_policy { timeout_action: DELAY, default_timeout_microseconds: 100000 }
  priority_queue_policy {
    key: 1
    value: { timeout_action: REJECT, default_timeout_microseconds: 50000, max_queue_size: 64 }
  }
}
instance_group [
  { count: 2, kind: KIND_CPU }
]
parameters { key: "intra_op_thread_count" value: { string_value: "1" } }
`;

/** The README of the Triton example repository. */
export function tritonReadme() {
  return `# Triton example repository

Generated by \`node scripts/make-example-models.mjs\` (also \`npm run models\`); edit that script, not these
files. A model repository laid out as Triton's (\`<model>/config.pbtxt\`, \`<model>/<version>/model.onnx\`), served
unchanged with \`ortserve --model_repository=examples/triton\`:

- \`mlp\` (the MLP of examples/models, versions 1 and 2): its config.pbtxt asks for dynamic batching (up to 8 rows,
  preferred 4 and 8, 500 µs window), two priority levels (level 1 fails a request queued over 50 ms and holds at most
  64; level 2, the default, moves a request queued over 100 ms behind the timely ones), two instances, and both
  versions (\`version_policy specific\`).
- \`multi_io\` has no config.pbtxt: ortserve auto-completes it from the model, as Triton's
  \`--strict-model-config=false\`.
`;
}

/**
 * Writes the Triton example repository under outDir.
 * @param {string} outDir
 * @returns {string[]} paths written
 */
export function writeTritonExample(outDir) {
  /** @type {[string, Uint8Array | string][]} */
  const files = [
    [join('mlp', 'config.pbtxt'), TRITON_MLP_CONFIG],
    [join('mlp', '1', 'model.onnx'), mlpModel(1)],
    [join('mlp', '2', 'model.onnx'), mlpModel(2)],
    [join('multi_io', '1', 'model.onnx'), multiIoModel()],
    ['README.md', tritonReadme()],
  ];
  return files.map(([rel, content]) => {
    const path = join(outDir, rel);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
    return path;
  });
}

// Run as a CLI only when executed directly, so tests can import the builders.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const repoRoot = fileURLToPath(new URL('..', import.meta.url));
  const outDir = resolve(process.argv[2] ?? join(repoRoot, 'examples', 'models'));
  const tritonDir = resolve(process.argv[3] ?? join(repoRoot, 'examples', 'triton'));
  for (const path of [...writeExampleModels(outDir), ...writeTritonExample(tritonDir)]) console.log(`wrote ${path}`);
}
