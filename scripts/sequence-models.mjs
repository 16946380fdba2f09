// Small stateful ONNX models for the sequence tests and the streaming bench, and their sequence_batching configs.

import { buildModel } from './onnx/onnx-writer.mjs';

/**
 * An accumulator with a START bonus and a CORRID echo (Triton's classic sequence test model, with state):
 *   y = state_in + x + bonus·START, state_out = y, corrid = float(CORRID).
 * x, state_in, y, state_out float32 [.., 4]; START int32 [.., 1]; CORRID uint64 [.., 1]. With `batched` every
 * tensor has a leading 'batch' dim; without, the shapes are [4] and [1].
 * `bonus` (default 1000) tells versions apart in the hot-swap tests.
 * @param {{ batched?: boolean, bonus?: number }} [options]
 */
export function accumulatorModel({ batched = false, bonus = 1000 } = {}) {
  const lead = batched ? ['batch'] : [];
  return buildModel({
    graph: {
      name: 'accumulator',
      inputs: [
        { name: 'x', dtype: 'float32', shape: [...lead, 4] },
        { name: 'state_in', dtype: 'float32', shape: [...lead, 4] },
        { name: 'START', dtype: 'int32', shape: [...lead, 1] },
        { name: 'CORRID', dtype: 'uint64', shape: [...lead, 1] },
      ],
      outputs: [
        { name: 'y', dtype: 'float32', shape: [...lead, 4] },
        { name: 'state_out', dtype: 'float32', shape: [...lead, 4] },
        { name: 'corrid', dtype: 'float32', shape: [...lead, 1] },
      ],
      initializers: [{ name: 'bonus', dtype: 'float32', dims: [], data: [bonus] }],
      nodes: [
        { op: 'Add', inputs: ['state_in', 'x'], outputs: ['sum'] },
        { op: 'Cast', inputs: ['START'], outputs: ['start_f'], attrs: { to: 1 } },
        { op: 'Mul', inputs: ['start_f', 'bonus'], outputs: ['start_bonus'] },
        { op: 'Add', inputs: ['sum', 'start_bonus'], outputs: ['y'] },
        { op: 'Identity', inputs: ['y'], outputs: ['state_out'] },
        { op: 'Cast', inputs: ['CORRID'], outputs: ['corrid'], attrs: { to: 1 } },
      ],
    },
  });
}

/** The accumulator's sequence_batching section (YAML/JSON form, Triton's names). */
export function accumulatorSequenceConfig(extra = {}) {
  return {
    max_sequence_idle_microseconds: 5_000_000,
    control_input: [
      { name: 'START', control: [{ kind: 'CONTROL_SEQUENCE_START', int32_false_true: [0, 1] }] },
      { name: 'CORRID', control: [{ kind: 'CONTROL_SEQUENCE_CORRID', data_type: 'TYPE_UINT64' }] },
    ],
    state: [{ input_name: 'state_in', output_name: 'state_out', data_type: 'TYPE_FP32', dims: [4], initial_state: [{ zero_data: true, name: 'zero' }] }],
    ...extra,
  };
}

/** The RNN cell's weights: W [3, 4], U [4, 4], b [4], fixed so the tests and the bench agree. */
export const RNN_WEIGHTS = {
  W: [0.5, -0.2, 0.1, 0.3, 0.05, 0.4, -0.3, 0.2, -0.1, 0.15, 0.25, -0.35],
  U: [0.3, 0.1, -0.2, 0.05, -0.1, 0.2, 0.15, -0.05, 0.05, -0.25, 0.3, 0.1, 0.2, 0.05, -0.1, 0.25],
  b: [0.01, -0.02, 0.03, 0.0],
};

/** Deterministic floats in [-scale, scale), for weights of sizes other than the fixed 3 × 4 cell. */
function pseudoRandom(count, seed, scale) {
  const out = [];
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out.push((state / 2 ** 31 - 1) * scale);
  }
  return out;
}

/**
 * An RNN cell: h_out = tanh(x·W + h_in·U + b), y = h_out, with a READY control that gates nothing but must be 1:
 * ready_echo = float(READY). x [batch, inputs], h_in/h_out/y [batch, hidden] float32, READY bool [batch, 1]. Always
 * batched. The default 3 → 4 cell uses RNN_WEIGHTS; other sizes get fixed pseudo-random weights. `withReady: false`
 * leaves READY (and ready_echo) out: the same cell for a client that sends the state itself.
 * @param {{ inputs?: number, hidden?: number, withReady?: boolean }} [options]
 */
export function rnnCellModel({ inputs = 3, hidden = 4, withReady = true } = {}) {
  const fixed = inputs === 3 && hidden === 4;
  const W = fixed ? RNN_WEIGHTS.W : pseudoRandom(inputs * hidden, 7, 1 / Math.sqrt(inputs));
  const U = fixed ? RNN_WEIGHTS.U : pseudoRandom(hidden * hidden, 11, 1 / Math.sqrt(hidden));
  const b = fixed ? RNN_WEIGHTS.b : pseudoRandom(hidden, 13, 0.05);
  return buildModel({
    graph: {
      name: 'rnn_cell',
      inputs: [
        { name: 'x', dtype: 'float32', shape: ['batch', inputs] },
        { name: 'h_in', dtype: 'float32', shape: ['batch', hidden] },
        ...(withReady ? [{ name: 'READY', dtype: 'bool', shape: ['batch', 1] }] : []),
      ],
      outputs: [
        { name: 'y', dtype: 'float32', shape: ['batch', hidden] },
        { name: 'h_out', dtype: 'float32', shape: ['batch', hidden] },
        ...(withReady ? [{ name: 'ready_echo', dtype: 'float32', shape: ['batch', 1] }] : []),
      ],
      initializers: [
        { name: 'W', dtype: 'float32', dims: [inputs, hidden], data: W },
        { name: 'U', dtype: 'float32', dims: [hidden, hidden], data: U },
        { name: 'b', dtype: 'float32', dims: [hidden], data: b },
      ],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'] },
        { op: 'MatMul', inputs: ['h_in', 'U'], outputs: ['hu'] },
        { op: 'Add', inputs: ['xw', 'hu'], outputs: ['pre0'] },
        { op: 'Add', inputs: ['pre0', 'b'], outputs: ['pre'] },
        { op: 'Tanh', inputs: ['pre'], outputs: ['h_out'] },
        { op: 'Identity', inputs: ['h_out'], outputs: ['y'] },
        ...(withReady ? [{ op: 'Cast', inputs: ['READY'], outputs: ['ready_echo'], attrs: { to: 1 } }] : []),
      ],
    },
  });
}

/** The RNN cell's sequence_batching section (`hidden`: its state size). */
export function rnnSequenceConfig(extra = {}, hidden = 4) {
  return {
    max_sequence_idle_microseconds: 5_000_000,
    control_input: [{ name: 'READY', control: [{ kind: 'CONTROL_SEQUENCE_READY', bool_false_true: [false, true] }] }],
    state: [{ input_name: 'h_in', output_name: 'h_out', data_type: 'TYPE_FP32', dims: [hidden] }],
    ...extra,
  };
}
