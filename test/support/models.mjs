// Small ONNX models the test suite builds in memory (tests write them to a temp model repository).

import { buildModel, ONNX_DTYPE } from '../../scripts/onnx/onnx-writer.mjs';

/** @typedef {import('../../scripts/onnx/onnx-writer.mjs').DType} DType */

/** Every dtype the writer knows; identityModel accepts all of them. */
export const ALL_DTYPES = /** @type {DType[]} */ (Object.keys(ONNX_DTYPE));

/**
 * dtypes whose Add kernel exists in onnxruntime 1.30 CPU, found by loading and
 * running addModel for each dtype. bool/string have no Add in the ONNX spec;
 * bfloat16 Add is valid ONNX but ORT CPU has no kernel for it.
 * @type {DType[]}
 */
export const ADD_DTYPES = [
  'float32', 'float64', 'float16',
  'int8', 'int16', 'int32', 'int64',
  'uint8', 'uint16', 'uint32', 'uint64',
];

/**
 * x [batch, 2] → Identity → y [batch, 2], for any dtype.
 * Note: the ORT CPU Identity kernel handles bfloat16, but onnxruntime-node's JS
 * binding (1.30) refuses to create a session whose graph inputs/outputs are
 * bfloat16 ("Unsupported data type: 16"); other bindings may accept it.
 * @param {DType} dtype
 */
export function identityModel(dtype) {
  return buildModel({
    graph: {
      name: `identity_${dtype}`,
      inputs: [{ name: 'x', dtype, shape: ['batch', 2] }],
      outputs: [{ name: 'y', dtype, shape: ['batch', 2] }],
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
    },
  });
}

/**
 * x [batch, 2] → y = x + x, for the dtypes in ADD_DTYPES.
 * @param {DType} dtype
 */
export function addModel(dtype) {
  if (!ADD_DTYPES.includes(dtype)) {
    throw new Error(`addModel: ORT CPU has no Add kernel for '${dtype}' (supported: ${ADD_DTYPES.join(', ')})`);
  }
  return buildModel({
    graph: {
      name: `add_${dtype}`,
      inputs: [{ name: 'x', dtype, shape: ['batch', 2] }],
      outputs: [{ name: 'y', dtype, shape: ['batch', 2] }],
      nodes: [{ op: 'Add', inputs: ['x', 'x'], outputs: ['y'] }],
    },
  });
}

/**
 * A model that is deliberately slow to run but tiny on disk, for timeout,
 * queueing and concurrency tests.
 *
 * x float32 [1, 1] → A = Expand(x, [n, n]) * (1/n) → P = A·A·…·A (`steps`
 * MatMuls of n×n matrices) → y = ReduceMean(P) float32 [1, 1].
 *
 * Every big matrix is derived from the input at run time, so the file stays a
 * few hundred bytes and ORT cannot constant-fold the work away at load time.
 * Scaling A by 1/n keeps values bounded: every entry of A^k is x^k / n, so
 * y = x^(steps+1) / n (for x = 1 and the defaults, y = 1/1024).
 *
 * Cost is about 2·n³·steps flops: with the defaults (n = 1024, steps = 8) a
 * run takes ~0.2 s on one CPU thread of a current x86 core; it scales roughly
 * linearly with steps and with intra-op threads.
 * @param {{ n?: number, steps?: number }} [options]
 */
export function slowModel({ n = 1024, steps = 8 } = {}) {
  /** @type {import('../../scripts/onnx/onnx-writer.mjs').NodeSpec[]} */
  const nodes = [
    { op: 'Expand', inputs: ['x', 'square_shape'], outputs: ['filled'] },
    { op: 'Mul', inputs: ['filled', 'inv_n'], outputs: ['p0'] },
  ];
  for (let i = 1; i <= steps; i++) {
    nodes.push({ op: 'MatMul', inputs: [`p${i - 1}`, 'p0'], outputs: [`p${i}`] });
  }
  nodes.push({ op: 'ReduceMean', inputs: [`p${steps}`], outputs: ['y'], attrs: { keepdims: 1 } });
  return buildModel({
    graph: {
      name: 'slow',
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 1] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 1] }],
      initializers: [
        { name: 'square_shape', dtype: 'int64', dims: [2], data: [n, n] },
        { name: 'inv_n', dtype: 'float32', dims: [], data: [1 / n] },
      ],
      nodes,
    },
  });
}

/**
 * A model that loads fine but fails at run time for some inputs.
 *
 * idx int64 [n] → y = Gather(table, idx) float32 [n], with table = [10, 20, 30, 40].
 * Indices in [-4, 3] succeed (negative counts from the end: -1 → 40); anything
 * else makes ORT's Gather kernel fail the run with an error like
 * "indices element out of data bounds, idx=4 must be within the inclusive range [-4,3]".
 */
export function failingModel() {
  return buildModel({
    graph: {
      name: 'failing',
      inputs: [{ name: 'idx', dtype: 'int64', shape: ['n'] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['n'] }],
      initializers: [{ name: 'table', dtype: 'float32', dims: [4], data: [10, 20, 30, 40] }],
      nodes: [{ op: 'Gather', inputs: ['table', 'idx'], outputs: ['y'], attrs: { axis: 0 } }],
    },
  });
}

/** x float32 [1, 4] (batch dimension fixed at 1) → Identity → y float32 [1, 4]. */
export function fixedBatchModel() {
  return buildModel({
    graph: {
      name: 'fixed_batch',
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 4] }],
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
    },
  });
}

/**
 * Bytes that are not an ONNX model. The first byte 'n' (0x6e) reads as a
 * protobuf tag with wire type 6, which does not exist, so parsing fails at once.
 */
export function corruptModelBytes() {
  return new TextEncoder().encode('not an onnx model\n');
}

/**
 * The same signature as failingModel (idx int64 [n] → y float32 [n]) but never failing: y = Cast(idx) to float.
 * The baseline beside failingModel in rollback tests; the outputs tell the two apart (idx 0: 0 here, 10 there).
 */
export function castModel() {
  return buildModel({
    graph: {
      name: 'cast',
      inputs: [{ name: 'idx', dtype: 'int64', shape: ['n'] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['n'] }],
      nodes: [{ op: 'Cast', inputs: ['idx'], outputs: ['y'], attrs: { to: 1 } }],
    },
  });
}
