// Size limits of a request and its answer as runInference applies them: the request's tensors as a whole, the answer's
// bytes before it is encoded, and the server's bytes in flight.

import { fail } from '../errors.js';
import { shapeText, type Tensor } from '../engine/tensor.js';
import { RequestTally, tensorBytes, type SizeLimits } from '../engine/tensor-limits.js';

export { DEFAULT_SIZE_LIMITS, JSON_NAME_STRINGS, RequestTally, type SizeLimits } from '../engine/tensor-limits.js';

/** Checks decoded inputs as a whole (whatever protocol decoded them); returns their bytes. */
export function checkRequestTensors(inputs: ReadonlyMap<string, Tensor>, limits: SizeLimits): number {
  const tally = new RequestTally(limits);
  let bytes = 0;
  for (const [name, t] of inputs) {
    tally.add(t.dtype, t.shape, `input '${name}'`);
    bytes += tensorBytes(t);
  }
  return bytes;
}

/** ERR_TOO_LARGE when the outputs' bytes are over --max_response_bytes; returns them. Called before any encoding. */
export function checkResponseTensors(outputs: ReadonlyMap<string, Tensor>, limits: SizeLimits): number {
  let bytes = 0;
  for (const t of outputs.values()) bytes += tensorBytes(t);
  if (bytes > limits.maxResponseBytes) {
    const shapes = [...outputs].map(([name, t]) => `${name} ${shapeText(t.shape)}`).join(', ');
    fail('ERR_TOO_LARGE', `the answer holds ${bytes} bytes of tensors (${shapes}), more than the limit of ${limits.maxResponseBytes} (--max_response_bytes)`);
  }
  return bytes;
}

/**
 * The bytes of request tensors and answers that requests in flight hold, on the whole server. A request that would
 * take it over the limit is refused at once with a retryable ERR_QUEUE_FULL (503 / UNAVAILABLE) naming the flag.
 */
export class InFlightBytes {
  held = 0;

  constructor(readonly max: number) {}

  /** Takes `bytes` (or throws); the returned function gives them back (call it once). */
  reserve(bytes: number, what: string): () => void {
    if (bytes > 0 && this.held + bytes > this.max) {
      fail('ERR_QUEUE_FULL',
        `${what} needs ${bytes} bytes while requests in flight hold ${this.held}; the server's limit is ${this.max} (--max_in_flight_bytes); retry later`);
    }
    this.held += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= bytes;
    };
  }
}

/** What runInference needs to bound a request: the limits and the server's in-flight byte count. */
export interface RequestSizes {
  limits: SizeLimits;
  inFlight: InFlightBytes;
}

export function requestSizes(limits: SizeLimits): RequestSizes {
  return { limits, inFlight: new InFlightBytes(limits.maxInFlightBytes) };
}
