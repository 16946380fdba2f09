// The sequence_batching section of a model's config (Triton's field names), decoded from any config tree: our
// YAML/JSON and TF Serving text format, and Triton's config.pbtxt through the same MessageReader.

import path from 'node:path';
import type { DType } from '../engine/tensor.js';
import { configError, type MessageReader } from './model-config-reader.js';

/** Triton's ModelSequenceBatching.Control.Kind. */
export const CONTROL_KINDS = ['CONTROL_SEQUENCE_START', 'CONTROL_SEQUENCE_END', 'CONTROL_SEQUENCE_READY', 'CONTROL_SEQUENCE_CORRID'] as const;
export type ControlKind = (typeof CONTROL_KINDS)[number];

/** Triton's DataType names and the dtype each means. */
const TRITON_TYPES: Record<string, DType> = {
  TYPE_BOOL: 'bool', TYPE_UINT8: 'uint8', TYPE_UINT16: 'uint16', TYPE_UINT32: 'uint32', TYPE_UINT64: 'uint64',
  TYPE_INT8: 'int8', TYPE_INT16: 'int16', TYPE_INT32: 'int32', TYPE_INT64: 'int64',
  TYPE_FP16: 'float16', TYPE_FP32: 'float32', TYPE_FP64: 'float64', TYPE_BF16: 'bfloat16', TYPE_STRING: 'string',
};
const TRITON_TYPE_NAMES = Object.keys(TRITON_TYPES);
const CORRID_TYPES: readonly DType[] = ['uint64', 'int64', 'uint32', 'int32', 'string'];

/** One control input: the tensor the server feeds, and the values it holds. */
export interface SequenceControlInput {
  /** The model input's name. */
  name: string;
  kind: ControlKind;
  /** int32 (int32_false_true), float32 (fp32_false_true), bool (bool_false_true); CORRID: its data_type. */
  dtype: DType;
  /** [false, true] for the flag kinds; undefined for CORRID. */
  falseTrue?: [number, number];
}

export interface SequenceState {
  inputName: string;
  outputName: string;
  dtype: DType;
  /** Without the batch dim when the model batches (as Triton's dims). */
  dims: number[];
  /** Where the first request's state comes from: zeros (the default) or a file of raw little-endian bytes. */
  initial: { kind: 'zero' } | { kind: 'file'; path: string };
}

/** maxQueueDelayMicros: undefined when the config leaves it out (the batching section's timeout then stands). */
export type SequenceStrategy =
  | { kind: 'direct'; maxQueueDelayMicros?: number; minimumSlotUtilization: number }
  | { kind: 'oldest'; maxCandidateSequences: number; maxQueueDelayMicros?: number; preferredBatchSizes: number[] };

export interface SequenceBatchingConfig {
  strategy: SequenceStrategy;
  /** 0 = never idle out. Default 1 s, as Triton's. */
  maxSequenceIdleMicros: number;
  controlInputs: SequenceControlInput[];
  states: SequenceState[];
}

export const SEQUENCE_BATCHING_FIELDS = ['direct', 'oldest', 'max_sequence_idle_microseconds', 'control_input', 'state'] as const;
const UNSUPPORTED: Record<string, string> = {
  iterative_sequence: 'iterative sequences (Triton\'s decoupled iterative scheduling) are not supported by ortserve',
};
/** Triton's default for max_sequence_idle_microseconds. */
export const DEFAULT_SEQUENCE_IDLE_MICROS = 1_000_000;
/** The oldest strategy's max_candidate_sequences when the config leaves it out. */
export const DEFAULT_CANDIDATE_SEQUENCES = 1024;
const MICROS = { min: 0, max: 2 ** 53 - 1 };

function tritonType(reader: MessageReader, field: string, allowed?: readonly DType[]): DType | undefined {
  const name = reader.enumOf(field, TRITON_TYPE_NAMES);
  if (name === undefined) return undefined;
  const dtype = TRITON_TYPES[name]!;
  if (allowed !== undefined && !allowed.includes(dtype)) {
    reader.fail(field, `${name} is not allowed here (one of ${TRITON_TYPE_NAMES.filter((n) => allowed.includes(TRITON_TYPES[n]!)).join(', ')})`);
  }
  return dtype;
}

function decodeControl(input: MessageReader, name: string): SequenceControlInput {
  const controls = input.messages('control', ['kind', 'int32_false_true', 'fp32_false_true', 'bool_false_true', 'data_type']);
  if (controls.length !== 1) input.fail('control', `exactly one control per control_input is supported (got ${controls.length})`);
  const c = controls[0]!;
  const kind = c.enumOf('kind', CONTROL_KINDS);
  if (kind === undefined) return c.fail(undefined, 'kind is required');
  if (kind === 'CONTROL_SEQUENCE_CORRID') {
    for (const f of ['int32_false_true', 'fp32_false_true', 'bool_false_true']) if (c.has(f)) c.fail(f, 'CORRID takes data_type, not false/true values');
    const dtype = tritonType(c, 'data_type', CORRID_TYPES);
    if (dtype === undefined) return c.fail(undefined, 'data_type is required for CONTROL_SEQUENCE_CORRID');
    return { name, kind, dtype };
  }
  if (c.has('data_type')) c.fail('data_type', 'only CONTROL_SEQUENCE_CORRID takes data_type; the flags take int32_false_true, fp32_false_true or bool_false_true');
  const given = (['int32_false_true', 'fp32_false_true', 'bool_false_true'] as const).filter((f) => c.has(f));
  if (given.length !== 1) c.fail(given[1], `exactly one of int32_false_true, fp32_false_true, bool_false_true is required for ${kind}`);
  const field = given[0]!;
  let values: number[];
  if (field === 'bool_false_true') {
    values = c.repeated(field).map(({ node, path: p }) => {
      if (node.kind === 'scalar' && typeof node.value === 'boolean') return node.value ? 1 : 0;
      // Text format writes booleans as identifiers.
      if (node.kind === 'scalar' && !node.quoted && typeof node.value === 'string' && /^(true|t|True|false|f|False)$/.test(node.value)) return /^t/i.test(node.value) ? 1 : 0;
      throw configError(c.ctx, node, p, 'expected true or false');
    });
  } else if (field === 'int32_false_true') {
    values = c.ints(field, { min: -(2 ** 31), max: 2 ** 31 - 1 });
  } else {
    values = c.repeated(field).map(({ node, path: p }) => {
      if (node.kind === 'scalar' && typeof node.value === 'number') return node.value;
      if (node.kind === 'scalar' && typeof node.value === 'string' && !node.quoted && Number.isFinite(Number(node.value))) return Number(node.value);
      throw configError(c.ctx, node, p, 'expected a number');
    });
  }
  if (values.length !== 2) c.fail(field, `needs two values, [false, true] (got ${values.length})`);
  const dtype: DType = field === 'int32_false_true' ? 'int32' : field === 'fp32_false_true' ? 'float32' : 'bool';
  return { name, kind, dtype, falseTrue: [values[0]!, values[1]!] };
}

function decodeState(s: MessageReader, modelDir: string): SequenceState {
  const inputName = s.string('input_name', true)!;
  const outputName = s.string('output_name', true)!;
  const dtype = tritonType(s, 'data_type');
  if (dtype === undefined) s.fail(undefined, 'data_type is required');
  if (dtype === 'string') s.fail('data_type', 'a state must be numeric (TYPE_STRING cannot be kept as implicit state)');
  const dims = s.ints('dims', { min: 1, max: 2 ** 24 });
  if (dims.length === 0) s.fail(undefined, 'dims is required (the state\'s shape without the batch dim; variable dims are not supported)');
  let initial: SequenceState['initial'] = { kind: 'zero' };
  const inits = s.messages('initial_state', ['data_type', 'dims', 'zero_data', 'data_file', 'name']);
  if (inits.length > 1) s.fail('initial_state', 'at most one initial_state per state is supported');
  const init = inits[0];
  if (init !== undefined) {
    const initType = tritonType(init, 'data_type');
    if (initType !== undefined && initType !== dtype) init.fail('data_type', `must equal the state's data_type`);
    const initDims = init.ints('dims', { min: 1, max: 2 ** 24 });
    if (initDims.length > 0 && initDims.join(',') !== dims.join(',')) init.fail('dims', `[${initDims.join(', ')}] must equal the state's dims [${dims.join(', ')}]`);
    const zero = init.bool('zero_data');
    const file = init.string('data_file');
    if ((zero === true) === (file !== undefined)) init.fail(undefined, 'exactly one of zero_data: true or data_file is required');
    // Triton's layout: data files live in the model directory's initial_state/ folder.
    if (file !== undefined) {
      if (file === '' || path.isAbsolute(file) || file.split(/[\\/]/).includes('..')) init.fail('data_file', 'must be a file name inside the model\'s initial_state/ directory');
      initial = { kind: 'file', path: path.join(modelDir, 'initial_state', file) };
    }
  }
  for (const f of ['use_same_buffer_for_input_output', 'use_growable_memory']) if (s.has(f)) s.fail(f, 'is a Triton backend option ortserve does not support');
  return { inputName, outputName, dtype, dims, initial };
}

/**
 * The fields of a `sequence_batching` message. `modelDir`: the model's directory (its base path), where a state's
 * initial_state data_file is looked for. Throws ERR_CONFIG naming the line and field.
 */
export function decodeSequenceBatchingFields(b: MessageReader, modelDir: string): SequenceBatchingConfig {
  if (b.has('direct') && b.has('oldest')) b.fail('oldest', 'only one of direct, oldest may be given');
  let strategy: SequenceStrategy;
  const oldest = b.message('oldest', ['max_candidate_sequences', 'preferred_batch_size', 'max_queue_delay_microseconds', 'preserve_ordering']);
  if (oldest !== undefined) {
    const delay = oldest.int('max_queue_delay_microseconds', MICROS);
    strategy = {
      kind: 'oldest',
      maxCandidateSequences: oldest.int('max_candidate_sequences', { min: 1, max: 2 ** 24 }) ?? DEFAULT_CANDIDATE_SEQUENCES,
      ...(delay !== undefined ? { maxQueueDelayMicros: delay } : {}),
      preferredBatchSizes: oldest.ints('preferred_batch_size', { min: 1, max: 2 ** 24 }),
    };
    // Requests of one sequence always run in order here (one in flight per sequence), so preserve_ordering holds.
    oldest.bool('preserve_ordering');
  } else {
    const direct = b.message('direct', ['max_queue_delay_microseconds', 'minimum_slot_utilization']);
    let minimum = 0;
    if (direct?.has('minimum_slot_utilization')) {
      const field = direct.single('minimum_slot_utilization')!;
      const v = field.value.kind === 'scalar' ? Number(field.value.value) : NaN;
      if (!(v >= 0 && v <= 1)) direct.fail('minimum_slot_utilization', 'must be a number from 0 to 1');
      minimum = v;
    }
    const delay = direct?.int('max_queue_delay_microseconds', MICROS);
    // minimum_slot_utilization is accepted for Triton configs; the batcher's own rules decide when a batch goes.
    strategy = { kind: 'direct', ...(delay !== undefined ? { maxQueueDelayMicros: delay } : {}), minimumSlotUtilization: minimum };
  }
  const controlInputs: SequenceControlInput[] = [];
  const seenInputs = new Map<string, string>();
  const claim = (reader: MessageReader, field: string, name: string, what: string) => {
    const earlier = seenInputs.get(name);
    if (earlier !== undefined) reader.fail(field, `input '${name}' is already ${earlier}`);
    seenInputs.set(name, what);
  };
  for (const input of b.messages('control_input', ['name', 'control'])) {
    const name = input.string('name', true)!;
    claim(input, 'name', name, 'a control input');
    controlInputs.push(decodeControl(input, name));
  }
  const kinds = controlInputs.map((c) => c.kind);
  const twice = kinds.find((k, i) => kinds.indexOf(k) !== i);
  if (twice !== undefined) b.fail('control_input', `${twice} is given to two inputs`);
  const states = b.messages('state', ['input_name', 'output_name', 'data_type', 'dims', 'initial_state', 'use_same_buffer_for_input_output', 'use_growable_memory'])
    .map((s) => {
      const state = decodeState(s, modelDir);
      claim(s, 'input_name', state.inputName, 'fed by the server');
      return state;
    });
  return {
    strategy,
    maxSequenceIdleMicros: b.int('max_sequence_idle_microseconds', MICROS) ?? DEFAULT_SEQUENCE_IDLE_MICROS,
    controlInputs,
    states,
  };
}

/** A model entry's `sequence_batching`, or undefined when it has none. */
export function decodeSequenceBatching(model: MessageReader, modelDir: string): SequenceBatchingConfig | undefined {
  const b = model.message('sequence_batching', SEQUENCE_BATCHING_FIELDS, UNSUPPORTED);
  return b === undefined ? undefined : decodeSequenceBatchingFields(b, modelDir);
}

/** The section in its JSON form (the YAML/JSON schema), for the management API. */
export function sequenceBatchingToJson(c: SequenceBatchingConfig): Record<string, unknown> {
  const typeName = (d: DType) => TRITON_TYPE_NAMES.find((n) => TRITON_TYPES[n] === d);
  const strategy = c.strategy.kind === 'direct'
    ? { direct: { max_queue_delay_microseconds: c.strategy.maxQueueDelayMicros, minimum_slot_utilization: c.strategy.minimumSlotUtilization } }
    : { oldest: { max_candidate_sequences: c.strategy.maxCandidateSequences, max_queue_delay_microseconds: c.strategy.maxQueueDelayMicros, preferred_batch_size: c.strategy.preferredBatchSizes } };
  return {
    ...strategy,
    max_sequence_idle_microseconds: c.maxSequenceIdleMicros,
    control_input: c.controlInputs.map((ci) => {
      const control: Record<string, unknown> = { kind: ci.kind };
      if (ci.kind === 'CONTROL_SEQUENCE_CORRID') control.data_type = typeName(ci.dtype);
      else if (ci.dtype === 'int32') control.int32_false_true = ci.falseTrue;
      else if (ci.dtype === 'float32') control.fp32_false_true = ci.falseTrue;
      else control.bool_false_true = ci.falseTrue?.map((v) => v !== 0);
      return { name: ci.name, control: [control] };
    }),
    state: c.states.map((s) => ({
      input_name: s.inputName, output_name: s.outputName, data_type: typeName(s.dtype), dims: s.dims,
      initial_state: s.initial.kind === 'zero' ? [{ zero_data: true }] : [{ data_file: path.basename(s.initial.path) }],
    })),
  };
}
