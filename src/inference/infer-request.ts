// The one internal request/response model every front end decodes into and encodes from, and the checks that name a
// request's fields in its own protocol's words.

import { clientText, fail } from '../errors.js';
import { shapeFits, shapeText, type DType, type Tensor } from '../engine/tensor.js';
import type { ModelSignature } from '../engine/model-session.js';
import type { VersionSelector } from '../registry/model-registry.js';
import type { RequestSizes } from './request-size.js';
import type { ProtocolId } from './request-stats.js';
import type { SequenceRequest } from './sequence-request.js';

/** A client's limits on one request: when it stops wanting the answer, and a signal for when it went away. */
export interface CallLimits {
  /** The point (deadlineClock() ms, see deadline.ts) after which the request must not start; undefined = none. */
  deadline?: number;
  /**
   * Aborts when the client cancels or disconnects: a request still queued is dropped. Read only when a request must
   * wait (a front end may make it on first read, with a getter, so that an inline run never pays for one).
   */
  readonly signal?: AbortSignal | undefined;
  /** Whether the client has cancelled or gone already, when the front end can tell without making `signal`. */
  readonly aborted?: boolean | undefined;
  /** The request's priority level (Triton's numbering, 1 = served first; 0 or undefined = the model's default). */
  readonly priority?: number | undefined;
}

/**
 * The inputs of a request: decoded already, or a decoder that needs the version's signature first (TF Serving's
 * row form spreads `instances` over the inputs the model declares). A decoder runs once the version is resolved.
 */
export type RequestInputs = ReadonlyMap<string, Tensor> | ((signature: ModelSignature) => ReadonlyMap<string, Tensor>);

/** Something a client can cancel, whose AbortSignal may be made on first read (an HTTP exchange, a WebSocket request). */
export interface Cancellable {
  readonly signal: AbortSignal;
  readonly aborted: boolean;
}

/**
 * A request's limits: its deadline, and its cancellation read through `source` when asked: the signal is made only
 * for a request that waits in the queue (an AbortController per request costs more than a tiny model's run).
 */
export class CancellableLimits implements CallLimits {
  constructor(private readonly source: Cancellable, readonly deadline: number | undefined) {}

  get signal(): AbortSignal {
    return this.source.signal;
  }

  get aborted(): boolean {
    return this.source.aborted;
  }
}

/** `limits` with the request's priority level, when it names one. */
export function withPriority(limits: CallLimits, priority: number | undefined): CallLimits {
  return priority === undefined ? limits : new NarrowedLimits(limits, limits.deadline, priority);
}

/** `limits` with another deadline (an earlier one a request's own timeout sets), when it differs. */
export function withDeadline(limits: CallLimits, deadline: number | undefined): CallLimits {
  return deadline === limits.deadline ? limits : new NarrowedLimits(limits, deadline, limits.priority);
}

/**
 * A call's limits with the request's own deadline or priority. The call's signal stays behind a getter: a front end
 * may make it on first read, and copying it (a spread) would make it now, for requests that never wait.
 */
class NarrowedLimits implements CallLimits {
  constructor(private readonly call: CallLimits, readonly deadline: number | undefined, readonly priority: number | undefined) {}

  get signal(): AbortSignal | undefined {
    return this.call.signal;
  }

  get aborted(): boolean | undefined {
    return this.call.aborted;
  }
}

/** A decoded request, whatever protocol it came in. */
export interface InferRequest {
  model: string;
  selector: VersionSelector;
  /** The client's request id, echoed in the response. */
  id?: string | undefined;
  inputs: RequestInputs;
  /** Requested outputs in the order wanted; undefined = every output in model order. */
  outputNames?: readonly string[] | undefined;
  limits: CallLimits;
  /** The server's size limits and its count of bytes in flight. */
  sizes: RequestSizes;
  /** Which protocol it came by (request-stats.ts: PROTOCOLS), for metrics and the access log. */
  protocol: ProtocolId;
  /** The request's place in a sequence, for a stateful model (sequence_id, sequence_start, sequence_end). */
  sequence?: SequenceRequest | undefined;
  /**
   * Bytes of this request the front end already counts in sizes.inFlight (its body or gRPC message, until it answers);
   * its decoded tensors are counted only beyond them.
   */
  heldBytes?: number | undefined;
}

export interface InferResponse {
  model: string;
  version: number;
  id?: string;
  outputs: Map<string, Tensor>;
}

/** How a protocol spells things in error messages, so a client reads its own vocabulary (client names through clientText). */
export interface ProtocolNames {
  /** The protocol's name for a dtype (FP32, DT_FLOAT). */
  dtype(d: DType | 'unsupported'): string;
  /** The request field that holds input `name` (`inputs[0] (x)`, `inputs["x"]`). */
  input(name: string): string;
}

/**
 * Names inputs as a request listed them (`inputs[1] (b)`), for protocols that send a list of inputs. The position
 * is looked up only when a message needs it: requests that pass their checks never build the index.
 */
export function listedInputNames(inputs: ReadonlyMap<string, unknown>, dtype: ProtocolNames['dtype'], list = 'inputs'): ProtocolNames {
  return {
    dtype,
    input: (name) => {
      let i = 0;
      for (const listed of inputs.keys()) {
        if (listed === name) return `${list}[${i}] (${clientText(name)})`;
        i++;
      }
      return `${list} (${clientText(name)})`;
    },
  };
}

/** The model's input names, for messages. */
const modelInputNames = (signature: ModelSignature) => signature.inputs.map((s) => s.name).join(', ');

function hasInput(signature: ModelSignature, name: string): boolean {
  for (const spec of signature.inputs) if (spec.name === name) return true;
  return false;
}

/**
 * Checks decoded inputs against the model before anything is queued: every input known and present, dtype equal,
 * rank and fixed dims equal. Errors use the protocol's names (the engine checks again in its own words). Messages
 * are built only when a check fails: this runs for every request.
 */
export function checkInputs(inputs: ReadonlyMap<string, Tensor>, signature: ModelSignature, names: ProtocolNames): void {
  // Messages are built on failure only: this runs for every request, and a success allocates nothing here.
  const specs = signature.inputs;
  let present = 0;
  for (const spec of specs) if (inputs.has(spec.name)) present++;
  // Every input of the model present and no more inputs than that: then none is unknown (map keys are distinct).
  if (present !== inputs.size) {
    for (const name of inputs.keys()) {
      if (!hasInput(signature, name)) {
        fail('ERR_INVALID_INPUT', `${names.input(name)}: the model has no input '${clientText(name)}' (model inputs: ${modelInputNames(signature)})`);
      }
    }
  }
  for (const spec of specs) {
    const tensor = inputs.get(spec.name);
    if (tensor === undefined) fail('ERR_INVALID_INPUT', `missing input '${spec.name}' (model inputs: ${modelInputNames(signature)})`);
    if (tensor.dtype !== spec.dtype) {
      fail('ERR_DTYPE', `${names.input(spec.name)}: datatype ${names.dtype(tensor.dtype)} does not match the model's ${names.dtype(spec.dtype)}`);
    }
    if (!shapeFits(tensor.shape, spec.shape)) fail('ERR_SHAPE', `${names.input(spec.name)}: shape ${shapeText(tensor.shape)} does not match the model's ${shapeText(spec.shape)}`);
  }
}

/** Names the second occurrence when a list of names repeats one (ERR_INVALID_INPUT for inputs, else ERR_BAD_REQUEST). */
export function checkUniqueNames(names: readonly string[], field: (i: number) => string, what: 'input' | 'output'): void {
  const first = new Map<string, number>();
  const code = what === 'input' ? 'ERR_INVALID_INPUT' : 'ERR_BAD_REQUEST';
  names.forEach((name, i) => {
    const earlier = first.get(name);
    if (earlier !== undefined) fail(code, `${field(i)}: duplicate ${what} '${clientText(name)}' (also ${field(earlier)})`);
    first.set(name, i);
  });
}
