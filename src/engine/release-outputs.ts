// releaseRunOutputs: lets go of a run's outputs as soon as their answer is out, instead of when V8 collects them.

import { nativeAddon } from './native-binding.js';
import type { Tensor } from './tensor.js';

/*
 * Why: a large output is an ArrayBuffer over ORT's memory (or, for strings, one packed block), and V8 counts its bytes
 * as external memory until the garbage collector finalizes it; tens of MB of them per request start collections
 * ("external memory pressure") of 5-12 ms each on the JS thread. Released here, the ArrayBuffer is detached (V8
 * un-counts it at once) and its memory freed now (native/binding/js_tensors.cc ReleaseOutput; outputs under 64 KiB are
 * left alone: they are not what starts collections).
 *
 * Contract: call it only once nothing will read `outputs` again (the answer built from them is written in full) and
 * only for outputs that belong to one request (a run's result as runInference returned it to that request: a batch's
 * requests each get their own ArrayBuffers, sharing only the native owner, which the others keep alive). Afterwards
 * every tensor of `outputs` of 64 KiB or more reads as empty. Buffers the addon did not make are skipped.
 */
/** Output buffers released so far in this process (tests read it: released at the answer, not left to the collector). */
let released = 0;

export function releasedOutputCount(): number {
  return released;
}

export function releaseRunOutputs(outputs: ReadonlyMap<string, Tensor>): number {
  const buffers: ArrayBuffer[] = [];
  for (const { data } of outputs.values()) {
    if (Array.isArray(data)) {
      // Strings: every element views the one packed block when the addon packed them (empty ones too), so the first
      // names it; otherwise it is some other buffer, which the addon skips.
      const first = (data as Uint8Array[])[0];
      if (first !== undefined && first.buffer instanceof ArrayBuffer) buffers.push(first.buffer);
    } else if (data.byteLength >= 64 * 1024 && data.buffer instanceof ArrayBuffer) {
      buffers.push(data.buffer);
    }
  }
  if (buffers.length === 0) return 0;
  const n = nativeAddon().releaseOutputs(buffers);
  released += n;
  return n;
}
