// The sequence_batching section: YAML/JSON and text format decode to the same structure with Triton's field names;
// every misuse is an ERR_CONFIG naming line and field; a config that does not fit the model file fails its load; an
// initial_state data_file seeds each new sequence.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelConfigToJson, parseModelServerConfig } from '../src/config/model-config.js';
import { sequenceSlots } from '../src/registry/sequence-options.js';
import { sessionOptionsFor } from '../src/registry/version-loader.js';
import { accumulatorModel, accumulatorSequenceConfig } from '../scripts/sequence-models.mjs';
import { restOutput, restStep, startSequenceServer, type SequenceServer } from './support/sequence-helpers.js';

const yaml = (seq: string) => `model_config_list:\n  config:\n    - name: acc\n      base_path: models/acc\n      sequence_batching:\n${seq}`;
const parseYamlConfig = (text: string) => parseModelServerConfig(text, { format: 'yaml', source: 'models.yaml', baseDir: '/srv' });
const errorOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected an error');
};

const YAML_SECTION = [
  '        oldest: { max_candidate_sequences: 8, max_queue_delay_microseconds: 100, preferred_batch_size: [2, 4] }',
  '        max_sequence_idle_microseconds: 5000000',
  '        control_input:',
  '          - name: START',
  '            control: [{ kind: CONTROL_SEQUENCE_START, fp32_false_true: [0, 1] }]',
  '          - name: READY',
  '            control: [{ kind: CONTROL_SEQUENCE_READY, bool_false_true: [false, true] }]',
  '          - name: CORRID',
  '            control: [{ kind: CONTROL_SEQUENCE_CORRID, data_type: TYPE_STRING }]',
  '        state:',
  '          - input_name: h_in',
  '            output_name: h_out',
  '            data_type: TYPE_FP32',
  '            dims: [4]',
  '            initial_state: [{ data_type: TYPE_FP32, dims: [4], data_file: h0.bin, name: h0 }]',
].join('\n');

const PBTXT = `model_config_list {
  config {
    name: "acc"
    base_path: "models/acc"
    sequence_batching {
      oldest { max_candidate_sequences: 8 max_queue_delay_microseconds: 100 preferred_batch_size: [2, 4] }
      max_sequence_idle_microseconds: 5000000
      control_input: [
        { name: "START" control: [ { kind: CONTROL_SEQUENCE_START fp32_false_true: [0, 1] } ] },
        { name: "READY" control: [ { kind: CONTROL_SEQUENCE_READY bool_false_true: [false, true] } ] },
        { name: "CORRID" control: [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_STRING } ] }
      ]
      state: [ { input_name: "h_in" output_name: "h_out" data_type: TYPE_FP32 dims: [4]
                initial_state: [ { data_type: TYPE_FP32 dims: [4] data_file: "h0.bin" name: "h0" } ] } ]
    }
  }
}`;

describe('decoding', () => {
  it('reads Triton\'s fields the same from YAML and from text format', () => {
    const fromYaml = parseYamlConfig(yaml(YAML_SECTION)).models[0]!;
    const fromPbtxt = parseModelServerConfig(PBTXT, { format: 'pbtxt', source: 'models.config', baseDir: '/srv' }).models[0]!;
    expect(fromYaml.sequenceBatching).toEqual(fromPbtxt.sequenceBatching);
    expect(fromYaml.sequenceBatching).toEqual({
      strategy: { kind: 'oldest', maxCandidateSequences: 8, maxQueueDelayMicros: 100, preferredBatchSizes: [2, 4] },
      maxSequenceIdleMicros: 5_000_000,
      controlInputs: [
        { name: 'START', kind: 'CONTROL_SEQUENCE_START', dtype: 'float32', falseTrue: [0, 1] },
        { name: 'READY', kind: 'CONTROL_SEQUENCE_READY', dtype: 'bool', falseTrue: [0, 1] },
        { name: 'CORRID', kind: 'CONTROL_SEQUENCE_CORRID', dtype: 'string' },
      ],
      states: [{ inputName: 'h_in', outputName: 'h_out', dtype: 'float32', dims: [4], initial: { kind: 'file', path: '/srv/models/acc/initial_state/h0.bin' } }],
    });
    // The JSON form round-trips.
    const json = modelConfigToJson(fromYaml);
    const again = parseModelServerConfig(JSON.stringify({ model_config_list: { config: [{ ...json, base_path: 'models/acc' }] } }), { format: 'yaml', source: 'x.json', baseDir: '/srv' });
    expect(again.models[0]!.sequenceBatching).toEqual(fromYaml.sequenceBatching);
  });

  it('defaults to the direct strategy, Triton\'s 1 s idle timeout and zero initial state', () => {
    const c = parseYamlConfig(yaml('        state: [{ input_name: a, output_name: b, data_type: TYPE_INT64, dims: [2, 3] }]')).models[0]!;
    expect(c.sequenceBatching).toEqual({
      strategy: { kind: 'direct', minimumSlotUtilization: 0 }, maxSequenceIdleMicros: 1_000_000, controlInputs: [],
      states: [{ inputName: 'a', outputName: 'b', dtype: 'int64', dims: [2, 3], initial: { kind: 'zero' } }],
    });
    // Direct slots: max_batch_size × max_concurrent_runs (1 each when unset).
    expect(sequenceSlots(c)).toBe(1);
    expect(sequenceSlots({ ...c, batching: { maxBatchSize: 8, allowedBatchSizes: [], preferredBatchSizes: [], padVariableLengthInputs: false }, session: { maxConcurrentRuns: 2 } })).toBe(16);
  });

  it('lets the strategy\'s max_queue_delay_microseconds and preferred_batch_size override the batching section only when given', () => {
    const batching = (seq: string) => {
      const text = `model_config_list:\n  config:\n    - name: m\n      base_path: m\n      batching: { max_batch_size: 8, batch_timeout_micros: 700, preferred_batch_sizes: [8] }\n      sequence_batching:\n${seq}`;
      return sessionOptionsFor(parseYamlConfig(text).models[0]!, {}, 'm:1').batching;
    };
    expect(batching('        direct: {}')).toMatchObject({ enabled: true, maxBatchSize: 8, batchTimeoutMicros: 700, preferredBatchSizes: [8] });
    expect(batching('        direct: { max_queue_delay_microseconds: 0 }')).toMatchObject({ batchTimeoutMicros: 0 });
    expect(batching('        oldest: { max_queue_delay_microseconds: 50, preferred_batch_size: [2, 4] }')).toMatchObject({ batchTimeoutMicros: 50, preferredBatchSizes: [2, 4] });
  });

  it.each([
    ['both strategies', '        direct: {}\n        oldest: {}', /models.yaml:\d+:\d+: .*sequence_batching.oldest: only one of direct, oldest/],
    ['an unknown field, with a suggestion', '        max_sequence_idle_micro: 5', /sequence_batching.max_sequence_idle_micro: unknown field \(did you mean|known fields/],
    ['CORRID with flag values', '        control_input: [{ name: C, control: [{ kind: CONTROL_SEQUENCE_CORRID, int32_false_true: [0, 1] }] }]', /control\[0\].int32_false_true: CORRID takes data_type/],
    ['a flag without values', '        control_input: [{ name: S, control: [{ kind: CONTROL_SEQUENCE_START }] }]', /exactly one of int32_false_true, fp32_false_true, bool_false_true is required/],
    ['a flag with one value', '        control_input: [{ name: S, control: [{ kind: CONTROL_SEQUENCE_START, int32_false_true: [1] }] }]', /int32_false_true: needs two values/],
    ['an unknown kind', '        control_input: [{ name: S, control: [{ kind: CONTROL_SEQUENCE_BEGIN }] }]', /kind: 'CONTROL_SEQUENCE_BEGIN' is not one of/],
    ['a float CORRID', '        control_input: [{ name: C, control: [{ kind: CONTROL_SEQUENCE_CORRID, data_type: TYPE_FP32 }] }]', /data_type: TYPE_FP32 is not allowed here/],
    ['one kind on two inputs', '        control_input: [{ name: A, control: [{ kind: CONTROL_SEQUENCE_END, int32_false_true: [0, 1] }] }, { name: B, control: [{ kind: CONTROL_SEQUENCE_END, int32_false_true: [0, 1] }] }]', /CONTROL_SEQUENCE_END is given to two inputs/],
    ['a string state', '        state: [{ input_name: a, output_name: b, data_type: TYPE_STRING, dims: [1] }]', /state\[0\].data_type: a state must be numeric/],
    ['a state without dims', '        state: [{ input_name: a, output_name: b, data_type: TYPE_FP32 }]', /dims is required/],
    ['a control input fed as state too', '        control_input: [{ name: a, control: [{ kind: CONTROL_SEQUENCE_READY, int32_false_true: [0, 1] }] }]\n        state: [{ input_name: a, output_name: b, data_type: TYPE_FP32, dims: [1] }]', /input 'a' is already a control input/],
    ['an initial_state file outside the model', '        state: [{ input_name: a, output_name: b, data_type: TYPE_FP32, dims: [1], initial_state: [{ data_file: ../../etc/passwd }] }]', /data_file: must be a file name inside the model's initial_state/],
    ['zero_data and data_file both', '        state: [{ input_name: a, output_name: b, data_type: TYPE_FP32, dims: [1], initial_state: [{ zero_data: true, data_file: x.bin }] }]', /exactly one of zero_data: true or data_file/],
    ['initial dims that differ', '        state: [{ input_name: a, output_name: b, data_type: TYPE_FP32, dims: [2], initial_state: [{ zero_data: true, dims: [3] }] }]', /initial_state\[0\].dims: \[3\] must equal the state's dims \[2\]/],
    ['iterative sequences', '        iterative_sequence: true', /iterative sequences .* not supported/],
  ])('refuses %s with ERR_CONFIG naming the field', (_what, section, message) => {
    const err = errorOf(() => parseYamlConfig(yaml(section)));
    expect(err.code).toBe('ERR_CONFIG');
    expect(err.message).toMatch(message);
  });
});

describe('loading', () => {
  let t: SequenceServer;
  beforeAll(async () => {
    t = await startSequenceServer([
      // Seeded from initial_state/acc0.bin: [10, 20, 30, 40].
      { name: 'seeded', versions: { 1: accumulatorModel() }, files: { 'initial_state/acc0.bin': new Uint8Array(new Float32Array([10, 20, 30, 40]).buffer) }, entry: { sequence_batching: accumulatorSequenceConfig({ state: [{ input_name: 'state_in', output_name: 'state_out', data_type: 'TYPE_FP32', dims: [4], initial_state: [{ data_file: 'acc0.bin' }] }] }) } },
      // START is int32 in the model: a config that calls it fp32 does not fit.
      { name: 'misfit', versions: { 1: accumulatorModel() }, entry: { sequence_batching: accumulatorSequenceConfig({ control_input: [{ name: 'START', control: [{ kind: 'CONTROL_SEQUENCE_START', fp32_false_true: [0, 1] }] }, { name: 'CORRID', control: [{ kind: 'CONTROL_SEQUENCE_CORRID', data_type: 'TYPE_UINT64' }] }] }) } },
      // A state input the model does not have.
      { name: 'nostate', versions: { 1: accumulatorModel() }, entry: { sequence_batching: accumulatorSequenceConfig({ state: [{ input_name: 'h', output_name: 'state_out', data_type: 'TYPE_FP32', dims: [4] }] }) } },
    ], { maxNumLoadRetries: 0 });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('fails the load of a version whose file does not fit its sequence_batching, naming the input', () => {
    const misfit = t.server.status().models.find((m) => m.name === 'misfit')!.versions[0]!;
    expect(misfit.state).toBe('END');
    expect(misfit.error).toMatch(/sequence_batching: input 'START' \(START control\) is int32 in the model, but float32 in the config/);
    const nostate = t.server.status().models.find((m) => m.name === 'nostate')!.versions[0]!;
    expect(nostate.error).toMatch(/input 'h' \(state\) is not in the model/);
  });

  it('seeds each new sequence from the initial_state data_file', async () => {
    const first = await restStep(t.baseUrl, 'seeded', [1, 1, 1, 1], [4], { id: 1, start: true, end: true });
    expect(first.status, JSON.stringify(first.json)).toBe(200);
    expect(restOutput(first, 'y')).toEqual([1011, 1021, 1031, 1041]);
  });
});

describe.each([
  ['queued', 0],
  ['inline', 100_000],
])('an answer refused for its size (%s runs)', (mode, inlineBudgetMicros) => {
  let t: SequenceServer;
  beforeAll(async () => {
    // 16 bytes: y (4 floats) fits; y with corrid (5 floats) does not. The hidden state output does not count.
    t = await startSequenceServer([
      { name: 'acc', versions: { 1: accumulatorModel() }, entry: { sequence_batching: accumulatorSequenceConfig({ oldest: { max_candidate_sequences: 4 } }) } },
    ], { maxResponseBytes: 16, inlineBudgetMicros });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('leaves the state as it was, like any failed request', async () => {
    // Inline: a version goes inline after 16 runs under a budget it never reaches.
    if (mode === 'inline') for (let i = 0; i < 20; i++) await restStep(t.baseUrl, 'acc', [0, 0, 0, 0], [4], { id: 100 + i, start: true, end: true }, ['y']);
    expect(restOutput(await restStep(t.baseUrl, 'acc', [1, 1, 1, 1], [4], { id: 1, start: true }, ['y']), 'y')).toEqual([1001, 1001, 1001, 1001]);
    const tooLarge = await restStep(t.baseUrl, 'acc', [5, 5, 5, 5], [4], { id: 1 }, ['y', 'corrid']);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.json.error).toMatch(/20 bytes, more than the limit of 16/);
    // The refused request's input was not added: the state is still 1001.
    expect(restOutput(await restStep(t.baseUrl, 'acc', [1, 1, 1, 1], [4], { id: 1, end: true }, ['y']), 'y')).toEqual([1002, 1002, 1002, 1002]);
    const counters = t.server.registry.resolve('acc').session.counters;
    expect(mode === 'inline' ? counters.inlineRuns : counters.queuedRuns).toBeGreaterThan(0);
    if (mode === 'queued') expect(counters.inlineRuns).toBe(0);
  });
});
