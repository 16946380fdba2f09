// Large JSON replies built a slice at a time: encoders are generators of steps, run at once or over several turns.

/*
 * Why: text for a tensor costs the event-loop thread per value (a million float32 values take about half a second
 * here), and every other client waits meanwhile. An encoder written as a generator yields after each step with the
 * number of values the step wrote; textNow runs it through, textInSlices lets the event loop turn between slices of
 * about --json_slice_values values. Both give the same text: only when it is built differs.
 */
import { type Tensor, elementCount, packedElementBytes, type StringData, type NumericData } from '../../engine/tensor.js';
import { tensorJsonWriter, tensorToJson, type TensorJsonOptions } from './tensor-json.js';
import { afterIo } from '../work-slices.js';

/** A JSON text built in steps: each yield is the number of values the step wrote; the return value is the text. */
export type JsonSteps = Generator<number, string, void>;

/** Runs every step now and returns the text. */
export function textNow(steps: JsonSteps): string {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * Runs the steps, letting the event loop turn (afterIo: its I/O first) each time `sliceValues` values have been
 * written since the last turn. Returns the text itself when it was done within the first slice (no promise for small
 * replies), else a promise of it. A step that throws throws here, or rejects the promise.
 */
export function textInSlices(steps: JsonSteps, sliceValues: number): string | Promise<string> {
  const done = runSlice(steps, sliceValues);
  return done !== undefined ? done : continueInSlices(steps, sliceValues);
}

/** Runs steps until `sliceValues` values are written (undefined: more to do) or the text is done. */
function runSlice(steps: JsonSteps, sliceValues: number): string | undefined {
  let written = 0;
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    written += step.value;
    if (written >= sliceValues) return undefined;
  }
}

async function continueInSlices(steps: JsonSteps, sliceValues: number): Promise<string> {
  for (;;) {
    await new Promise<void>((resolve) => afterIo(resolve));
    const done = runSlice(steps, sliceValues);
    if (done !== undefined) return done;
  }
}

/**
 * Bytes of a BYTES element's text that cost about what one number's text does (measured here: a float32 printed,
 * against escaping or base64-encoding string bytes).
 */
export const STRING_BYTES_PER_VALUE = 64;

/**
 * What writing `t` as JSON costs, in values: its elements, plus, for BYTES, one per STRING_BYTES_PER_VALUE bytes of
 * its strings, so that 16k strings of 4 KB are not written in one step as if they were 16k numbers.
 */
export function jsonWeight(t: Tensor): number {
  const count = elementCount(t.shape);
  if (t.dtype !== 'string') return count;
  if (t.packed !== undefined) return count + Math.ceil(packedElementBytes(t.packed) / STRING_BYTES_PER_VALUE);
  let bytes = 0;
  for (const s of t.data as StringData) bytes += s.byteLength;
  return count + Math.ceil(bytes / STRING_BYTES_PER_VALUE);
}

/** Dim-0 row `r` of `t` as a tensor of its own (a view of the same data). */
export function rowOf(t: Tensor, r: number): Tensor {
  const shape = t.shape.slice(1);
  const n = elementCount(shape);
  const data = Array.isArray(t.data) ? (t.data as StringData).slice(r * n, (r + 1) * n) : (t.data as NumericData).subarray(r * n, (r + 1) * n);
  return { dtype: t.dtype, shape, data };
}

/**
 * Tensor `t` as nested JSON lists, the text tensorToJson gives, in steps of at most about `stepValues` values (whole
 * dim-0 rows per step; a row larger than that is itself written row by row; BYTES weighed by jsonWeight, so the
 * rows of a step hold about `stepValues` × STRING_BYTES_PER_VALUE bytes of strings on average). Infinity: one step.
 */
export function* tensorSteps(t: Tensor, opts: TensorJsonOptions, stepValues: number): JsonSteps {
  const count = jsonWeight(t);
  if (count <= stepValues || t.shape.length === 0) {
    const text = tensorToJson(t, opts);
    yield count;
    return text;
  }
  const rows = t.shape[0]!;
  const perRow = count / rows;
  const parts = new Array<string>(rows);
  if (perRow > stepValues) {
    for (let r = 0; r < rows; r++) parts[r] = yield* tensorSteps(rowOf(t, r), opts, stepValues);
  } else {
    const writer = tensorJsonWriter(t, opts);
    const rowsPerStep = Math.max(1, Math.floor(stepValues / perRow));
    for (let r = 0; r < rows; r += rowsPerStep) {
      const end = Math.min(rows, r + rowsPerStep);
      for (let i = r; i < end; i++) parts[i] = writer.row(i);
      yield (end - r) * perRow;
    }
  }
  return `[${parts.join(',')}]`;
}
