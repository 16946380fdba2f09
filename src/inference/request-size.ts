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
 * The bytes that requests in flight hold on the whole server: request bodies and gRPC messages from their first byte
 * (HeldBytes), request tensors beyond what their body already counts, and answers. A request that would take it over
 * the limit is refused at once with a retryable ERR_QUEUE_FULL (503 / UNAVAILABLE) naming the flag.
 */
export class InFlightBytes {
  held = 0;

  constructor(readonly max: number) {}

  /** Takes `bytes` (or throws); the returned function gives them back (call it once). */
  reserve(bytes: number, what: string): () => void {
    this.take(bytes, what);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= bytes;
    };
  }

  /**
   * Counts `bytes` that cannot be refused any more (an answer already made, waiting for a slow client), so that new
   * requests see them; the returned function gives them back (call it once).
   */
  count(bytes: number): () => void {
    this.held += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= bytes;
    };
  }

  /**
   * Takes `bytes` (or throws) until the next turn of the event loop: an answer made now and handed to the socket in
   * this turn. One setImmediate gives back everything taken so in a turn (no closure per request, as a fast path's
   * few-µs request would otherwise pay).
   */
  takeForThisTurn(bytes: number, what: string): void {
    if (bytes <= 0) return;
    this.take(bytes, what);
    if (this.dueNextTurn === 0) {
      setImmediate(() => {
        this.held -= this.dueNextTurn;
        this.dueNextTurn = 0;
      });
    }
    this.dueNextTurn += bytes;
  }

  /** Bytes takeForThisTurn gives back at the next turn. */
  private dueNextTurn = 0;

  /** A count that grows as a body arrives and is given back at once (HeldBytes). */
  hold(): HeldBytes {
    return new HeldBytes(this);
  }

  /** Adds `bytes` to the count, or throws ERR_QUEUE_FULL naming the flag when that would pass the limit. */
  take(bytes: number, what: string): void {
    if (bytes > 0 && this.held + bytes > this.max) {
      fail('ERR_QUEUE_FULL',
        `${what} needs ${bytes} bytes while requests in flight hold ${this.held}; the server's limit is ${this.max} (--max_in_flight_bytes); retry later`);
    }
    this.held += bytes;
  }
}

/** One request's bytes in a server's InFlightBytes, taken as they arrive (`add`) and given back together (`release`). */
export class HeldBytes {
  bytes = 0;

  constructor(private readonly owner: InFlightBytes) {}

  /** Takes `n` more bytes, or throws ERR_QUEUE_FULL (and then holds what it held before). */
  add(n: number, what: string): void {
    this.owner.take(n, what);
    this.bytes += n;
  }

  /** Gives every byte back; safe to call again (it then gives nothing). */
  release(): void {
    this.owner.held -= this.bytes;
    this.bytes = 0;
  }
}

/**
 * Runs `run` with `bytes` of a received message counted in `inFlight` (ERR_QUEUE_FULL, retryable, when they do not
 * fit), and gives them back when it returns, throws, or its promise settles.
 */
export function whileHeld<T>(inFlight: InFlightBytes, bytes: number, what: string, run: () => T | Promise<T>): T | Promise<T> {
  const release = inFlight.reserve(bytes, what);
  let result: T | Promise<T>;
  try {
    result = run();
  } catch (err) {
    release();
    throw err;
  }
  if (!(result instanceof Promise)) {
    release();
    return result;
  }
  return result.finally(release);
}

/**
 * How a REST handler counts the JSON parse worker's copy of a body the native reader declined (json-fast-path.ts,
 * parseEarly): in `sizes`' bytes in flight beside the body itself, until the worker answers; skipped when `client`
 * leaves first.
 */
export function parseCopyCount(
  sizes: RequestSizes, client: { readonly signal: AbortSignal },
): { reserveCopy: (bytes: number) => () => void; signal: () => AbortSignal } {
  return {
    reserveCopy: (bytes) => sizes.inFlight.reserve(bytes, "the JSON parse worker's copy of the body"),
    // Asked for only when a body goes to the worker: most requests never make the exchange's AbortController.
    signal: () => client.signal,
  };
}

/** What runInference needs to bound a request: the limits and the server's in-flight byte count. */
export interface RequestSizes {
  limits: SizeLimits;
  inFlight: InFlightBytes;
}

export function requestSizes(limits: SizeLimits): RequestSizes {
  return { limits, inFlight: new InFlightBytes(limits.maxInFlightBytes) };
}
