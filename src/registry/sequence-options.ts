// A stateful model's sequence_batching config in the engine's terms: the control and state tensors the native
// sequence table feeds (shapes for one request), its slot count, idle timeout and the model's state budget.

import { readFile } from 'node:fs/promises';
import { OrtServeError } from '../errors.js';
import { DTYPE_SIZE, type NumericDType } from '../engine/tensor.js';
import type { NativeControlKind, NativeSequenceOptions, NativeStateBudget } from '../engine/native-binding.js';
import type { ModelConfig, SequenceBatchingConfig } from '../config/model-config.js';
import type { BatchingOptions } from '../engine/model-session.js';

const KIND: Record<SequenceBatchingConfig['controlInputs'][number]['kind'], NativeControlKind> = {
  CONTROL_SEQUENCE_START: 'START', CONTROL_SEQUENCE_END: 'END', CONTROL_SEQUENCE_READY: 'READY', CONTROL_SEQUENCE_CORRID: 'CORRID',
};

/**
 * Sequences open at once: the oldest strategy's max_candidate_sequences; for direct, Triton's slot count, one per
 * batch row per model instance: max_batch_size (1 unbatched) × max_concurrent_runs (1 when unset).
 */
export function sequenceSlots(config: ModelConfig): number {
  const s = config.sequenceBatching!.strategy;
  if (s.kind === 'oldest') return s.maxCandidateSequences;
  // A batching section without max_batch_size gets the batcher's default of 1000 rows (README, Dynamic batching).
  const rows = config.batching !== undefined ? (config.batching.maxBatchSize ?? 1000) : 1;
  return rows * (config.session.maxConcurrentRuns ?? 1);
}

/** The batching section's options with the sequence strategy's queue delay (when given) and preferred sizes on top. */
export function sequenceBatchingOptions(config: ModelConfig, batching: BatchingOptions): BatchingOptions {
  const s = config.sequenceBatching!.strategy;
  const out: BatchingOptions = { ...batching };
  if (s.maxQueueDelayMicros !== undefined) out.batchTimeoutMicros = s.maxQueueDelayMicros;
  if (s.kind === 'oldest' && s.preferredBatchSizes.length > 0) out.preferredBatchSizes = s.preferredBatchSizes;
  return out;
}

/**
 * The native sequence options of a stateful model. A model with a batching section batches: every server-fed
 * tensor then has a leading row dim of 1 (Triton's dims leave the batch dim out). Reads initial_state data files;
 * throws ERR_MODEL_LOAD naming a file that is missing or of the wrong size.
 */
export async function sequenceOptionsFor(config: ModelConfig, budget: NativeStateBudget): Promise<NativeSequenceOptions> {
  const seq = config.sequenceBatching!;
  const batched = config.batching !== undefined;
  const lead = batched ? [1] : [];
  const states: NativeSequenceOptions['states'] = [];
  for (const s of seq.states) {
    const shape = [...lead, ...s.dims];
    const state: NativeSequenceOptions['states'][number] = { input: s.inputName, output: s.outputName, dtype: s.dtype, shape };
    if (s.initial.kind === 'file') {
      const bytes = await readFile(s.initial.path).catch((err: Error) => {
        throw new OrtServeError('ERR_MODEL_LOAD', `sequence_batching.state '${s.inputName}': cannot read initial_state data_file '${s.initial.kind === 'file' ? s.initial.path : ''}': ${err.message}`);
      });
      const need = shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[s.dtype as NumericDType];
      if (bytes.length !== need) {
        throw new OrtServeError('ERR_MODEL_LOAD', `sequence_batching.state '${s.inputName}': initial_state data_file '${s.initial.path}' has ${bytes.length} bytes; the state needs ${need}`);
      }
      state.initial = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    }
    states.push(state);
  }
  return {
    controls: seq.controlInputs.map((c) => ({
      input: c.name, kind: KIND[c.kind], dtype: c.dtype, shape: [...lead, 1],
      ...(c.falseTrue !== undefined ? { falseValue: c.falseTrue[0], trueValue: c.falseTrue[1] } : {}),
    })),
    states,
    maxSequences: sequenceSlots(config),
    idleMicros: seq.maxSequenceIdleMicros,
    budget,
  };
}
