// Small stateful ONNX models for the sequence tests and the streaming bench, and their sequence_batching configs.

import { buildModel } from '../../scripts/onnx/onnx-writer.mjs';

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

/**
 * An RNN cell: h_out = tanh(x·W + h_in·U + b), y = h_out, with a READY control that gates nothing but must be 1:
 * ready_echo = float(READY). x [batch, 3], h_in/h_out/y [batch, 4] float32, READY bool [batch, 1]. Always batched.
 */
export function rnnCellModel() {
  return buildModel({
    graph: {
      name: 'rnn_cell',
      inputs: [
        { name: 'x', dtype: 'float32', shape: ['batch', 3] },
        { name: 'h_in', dtype: 'float32', shape: ['batch', 4] },
        { name: 'READY', dtype: 'bool', shape: ['batch', 1] },
      ],
      outputs: [
        { name: 'y', dtype: 'float32', shape: ['batch', 4] },
        { name: 'h_out', dtype: 'float32', shape: ['batch', 4] },
        { name: 'ready_echo', dtype: 'float32', shape: ['batch', 1] },
      ],
      initializers: [
        { name: 'W', dtype: 'float32', dims: [3, 4], data: RNN_WEIGHTS.W },
        { name: 'U', dtype: 'float32', dims: [4, 4], data: RNN_WEIGHTS.U },
        { name: 'b', dtype: 'float32', dims: [4], data: RNN_WEIGHTS.b },
      ],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'] },
        { op: 'MatMul', inputs: ['h_in', 'U'], outputs: ['hu'] },
        { op: 'Add', inputs: ['xw', 'hu'], outputs: ['pre0'] },
        { op: 'Add', inputs: ['pre0', 'b'], outputs: ['pre'] },
        { op: 'Tanh', inputs: ['pre'], outputs: ['h_out'] },
        { op: 'Identity', inputs: ['h_out'], outputs: ['y'] },
        { op: 'Cast', inputs: ['READY'], outputs: ['ready_echo'], attrs: { to: 1 } },
      ],
    },
  });
}

/** The RNN cell's sequence_batching section. */
export function rnnSequenceConfig(extra = {}) {
  return {
    max_sequence_idle_microseconds: 5_000_000,
    control_input: [{ name: 'READY', control: [{ kind: 'CONTROL_SEQUENCE_READY', bool_false_true: [false, true] }] }],
    state: [{ input_name: 'h_in', output_name: 'h_out', data_type: 'TYPE_FP32', dims: [4] }],
    ...extra,
  };
}
