// Work built in steps (a generator), run at once or a slice at a time so the event loop turns between slices.

/*
 * Why: converting a large tensor for the wire (varints one value at a time, copying megabytes of BYTES elements or
 * tensor bytes into a message) costs the event-loop thread tens to hundreds of ms at the default limits, and every
 * other client waits meanwhile. A converter written as a generator yields after each step with the work it did, in
 * "work units": a byte copied is 1, a value encoded or decoded one at a time counts VALUE_UNITS. runNow runs it
 * through (the one-shot result, kept as the reference); runInSlices lets the event loop turn (afterIo) after
 * about --wire_slice_bytes units. Both run the same code, so both give the same bytes: only when they are built differs.
 * JSON answers have their own slicer by values (src/protocol/json/json-slices.ts).
 *
 * Units are a proxy for time, and a poor one at times: the same 65k varints took 1.3 ms in optimised code and 10 ms
 * in the first slice, before V8 had optimised the converter (or after it dropped the optimised code when another
 * request's tensor type reached it), and a collection or page faults inside a slice lengthen it further. So a slice
 * also ends once it has run --wire_slice_micros (checked after each step, so steps are kept well under it), as long
 * as it has done TIMED_FROM_UNITS of work: smaller work is always done in the turn it starts, as before.
 */

import { DEFAULT_WIRE_SLICE_MICROS } from '../engine/tensor-limits.js';

/** Work steps: each yield is the work units the step did; the return value is the result. */
export type WorkSteps<T> = Generator<number, T, void>;

/** Work units of one value converted on its own (a varint, a string's length prefix): about a 16-byte copy's time. */
export const VALUE_UNITS = 16;

/**
 * Work units per step: bytes copied per step by the copy helpers below, and about the work of one step of the
 * converters that go a value at a time (COPY_STEP_BYTES / VALUE_UNITS values). A slice holds several steps, and a
 * slice's time limit is checked between them, so a step must stay short even in unoptimised code: 4,096 varints
 * take ~0.1 ms optimised, ~1 ms before.
 */
export const COPY_STEP_BYTES = 64 * 1024;

/** Work below which a slice is not ended for time (so a small conversion never becomes asynchronous by chance). */
export const TIMED_FROM_UNITS = COPY_STEP_BYTES;

let sliceMs = DEFAULT_WIRE_SLICE_MICROS / 1000;

/** Sets how long one slice may run (--wire_slice_micros; 0: no limit, units only). Process-wide. */
export function setSliceTimeLimit(micros: number): void {
  sliceMs = micros > 0 ? micros / 1000 : Number.POSITIVE_INFINITY;
}

/** When a slice that starts now must end (performance.now() time; Infinity without a time limit). */
export function sliceDeadline(): number {
  return sliceMs === Number.POSITIVE_INFINITY ? sliceMs : performance.now() + sliceMs;
}

/**
 * Calls `fn` once the event loop has been through its I/O (poll) phase: other clients' requests, answers and timers
 * go first. One setImmediate does not do that when called from an I/O callback (a request's data, a WebSocket
 * message): Node's check phase, where immediates run, follows that poll phase at once, so work deferred with one
 * setImmediate ran back to back with the callback that deferred it, as other clients saw it (a 46 MB WebSocket
 * message's 6.6 ms copy, then 3.8 ms of decoding: one 10 ms wait). Called from the check phase, it costs one more
 * empty turn of the loop (microseconds: with immediates pending, the poll phase does not wait).
 */
export function afterIo(fn: () => void): void {
  setImmediate(() => setImmediate(fn));
}

/** Runs every step now and returns the result. */
export function runNow<T>(steps: WorkSteps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * Runs the steps, letting the event loop turn each time `sliceUnits` units have been done since the last turn, or
 * the slice time limit has passed once TIMED_FROM_UNITS were (Infinity units: everything in this turn). Returns the
 * result itself when it was done within the first slice (no promise for small work), else a promise of it. A step
 * that throws throws here, or rejects the promise.
 */
export function runInSlices<T>(steps: WorkSteps<T>, sliceUnits: number): T | Promise<T> {
  const first = runSlice(steps, sliceUnits);
  return first.done ? first.value : continueInSlices(steps, sliceUnits);
}

type SliceResult<T> = { done: true; value: T } | { done: false };

function runSlice<T>(steps: WorkSteps<T>, sliceUnits: number): SliceResult<T> {
  // Infinity units: the caller wants it all in this turn, however long it takes.
  const until = sliceUnits === Number.POSITIVE_INFINITY ? sliceUnits : sliceDeadline();
  let done = 0;
  for (;;) {
    const step = steps.next();
    if (step.done) return { done: true, value: step.value };
    done += step.value;
    if (done >= sliceUnits || (done >= TIMED_FROM_UNITS && performance.now() >= until)) return { done: false };
  }
}

async function continueInSlices<T>(steps: WorkSteps<T>, sliceUnits: number): Promise<T> {
  for (;;) {
    await new Promise<void>((resolve) => afterIo(resolve));
    const slice = runSlice(steps, sliceUnits);
    if (slice.done) return slice.value;
  }
}

/** Copies `bytes` into `into` at `at`, COPY_STEP_BYTES per step. */
export function* copySteps(into: Uint8Array, at: number, bytes: Uint8Array): WorkSteps<void> {
  const n = bytes.byteLength;
  if (n <= COPY_STEP_BYTES) {
    into.set(bytes, at);
    yield n;
    return;
  }
  for (let p = 0; p < n; p += COPY_STEP_BYTES) {
    const end = Math.min(n, p + COPY_STEP_BYTES);
    into.set(bytes.subarray(p, end), at + p);
    yield end - p;
  }
}
