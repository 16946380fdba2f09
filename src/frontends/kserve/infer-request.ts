// The one internal request/response model under the KServe and gRPC front ends, and the one place they run inference.

import { fail } from '../../errors.js';
import type { DType, Tensor } from '../../engine/tensor.js';
import type { ModelSignature, RunOptions } from '../../engine/model-session.js';
import type { ModelRegistry, VersionSelector } from '../../registry/model-registry.js';

/** A client's limits on one request: when it stops wanting the answer, and a signal for when it went away. */
export interface CallLimits {
  /** Absolute time (Date.now() ms) after which the request must not start; undefined = none. */
  deadline?: number;
  /** Aborts when the client cancels or disconnects: a request still queued is dropped. */
  signal?: AbortSignal;
}

/** A decoded request, whatever protocol it came in. */
export interface InferRequest {
  model: string;
  selector: VersionSelector;
  /** The client's request id, echoed in the response. */
  id?: string;
  inputs: Map<string, Tensor>;
  /** Requested outputs in the order wanted; undefined = every output in model order. */
  outputNames?: string[];
  limits: CallLimits;
}

export interface InferResponse {
  model: string;
  version: number;
  id?: string;
  outputs: Map<string, Tensor>;
}

/** How a protocol spells things in error messages, so a client reads its own vocabulary. */
export interface ProtocolNames {
  /** The protocol's name for a dtype (FP32, DT_FLOAT). */
  dtype(d: DType | 'unsupported'): string;
  /** The request field that holds input `name` (`inputs[0] (x)`, `inputs["x"]`). */
  input(name: string): string;
}

/** Names inputs as a request listed them (`inputs[1] (b)`), for protocols that send a list of inputs. */
export function listedInputNames(inputNames: Iterable<string>, dtype: ProtocolNames['dtype']): ProtocolNames {
  const index = new Map([...inputNames].map((name, i) => [name, i]));
  return { dtype, input: (name) => `inputs${index.has(name) ? `[${index.get(name)}]` : ''} (${name})` };
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/**
 * Checks decoded inputs against the model before anything is queued: every input known and present, dtype equal,
 * rank and fixed dims equal. Errors use the protocol's names (the engine checks again in its own words).
 */
export function checkInputs(inputs: ReadonlyMap<string, Tensor>, signature: ModelSignature, names: ProtocolNames): void {
  const modelInputs = signature.inputs.map((s) => s.name).join(', ');
  const known = new Set(signature.inputs.map((s) => s.name));
  for (const name of inputs.keys()) {
    if (!known.has(name)) fail('ERR_INVALID_INPUT', `${names.input(name)}: the model has no input '${name}' (model inputs: ${modelInputs})`);
  }
  for (const spec of signature.inputs) {
    const tensor = inputs.get(spec.name);
    if (tensor === undefined) fail('ERR_INVALID_INPUT', `missing input '${spec.name}' (model inputs: ${modelInputs})`);
    const field = names.input(spec.name);
    if (tensor.dtype !== spec.dtype) {
      fail('ERR_DTYPE', `${field}: datatype ${names.dtype(tensor.dtype)} does not match the model's ${names.dtype(spec.dtype)}`);
    }
    const fits = tensor.shape.length === spec.shape.length && spec.shape.every((d, i) => d < 0 || d === tensor.shape[i]);
    if (!fits) fail('ERR_SHAPE', `${field}: shape ${shapeText(tensor.shape)} does not match the model's ${shapeText(spec.shape)}`);
  }
}

/**
 * The deadline set by Triton's "timeout" request parameter (microseconds from `start`), at millisecond resolution:
 * a timeout under 1 ms has already expired. 0 or none: no deadline.
 */
export function timeoutDeadline(start: number, timeoutMicros: number | undefined): number | undefined {
  return timeoutMicros !== undefined && timeoutMicros > 0 ? start + Math.floor(timeoutMicros / 1000) : undefined;
}

/** The earliest of some deadlines; undefined when none is set. */
export function earliest(...deadlines: Array<number | undefined>): number | undefined {
  const set = deadlines.filter((d): d is number => d !== undefined);
  return set.length === 0 ? undefined : Math.min(...set);
}

/** ERR_MODEL_NOT_FOUND before anything is decoded when the request names a model or version never seen. */
export function checkServable(registry: ModelRegistry, model: string, selector: VersionSelector): void {
  registry.status(model, selector);
}

/** ERR_DEADLINE_EXCEEDED if the client's deadline has already passed: such a request is not worth decoding. */
export function expireIfPast(limits: CallLimits): void {
  if (limits.deadline !== undefined && limits.deadline <= Date.now()) {
    fail('ERR_DEADLINE_EXCEEDED', 'the request deadline passed before it ran');
  }
  if (limits.signal?.aborted) fail('ERR_DEADLINE_EXCEEDED', 'the request was cancelled before it ran');
}

/**
 * THE deadline/cancellation hook: the client's limits as the engine takes them. Every front end here passes its
 * deadline and abort signal through this one function, so a change in how the engine takes them is made once.
 */
export function engineRunOptions(limits: CallLimits): RunOptions {
  const options: RunOptions = {};
  if (limits.deadline !== undefined) options.deadline = limits.deadline;
  if (limits.signal !== undefined) options.signal = limits.signal;
  return options;
}

/**
 * Runs a decoded request on the version it names, inside registry.use (which keeps that version alive until the
 * run settles). Throws ERR_MODEL_NOT_FOUND/UNAVAILABLE, the checkInputs errors, and the engine's.
 */
export async function runInference(registry: ModelRegistry, request: InferRequest, names: ProtocolNames): Promise<InferResponse> {
  expireIfPast(request.limits);
  return registry.use(request.model, request.selector, async (v) => {
    checkInputs(request.inputs, v.session.signature, names);
    const outputs = await v.session.run(request.inputs, request.outputNames, engineRunOptions(request.limits));
    const response: InferResponse = { model: v.model, version: v.version, outputs };
    if (request.id !== undefined) response.id = request.id;
    return response;
  });
}

/** Names the second occurrence when a list of names repeats one (ERR_INVALID_INPUT for inputs, else ERR_BAD_REQUEST). */
export function checkUniqueNames(names: readonly string[], field: (i: number) => string, what: 'input' | 'output'): void {
  const first = new Map<string, number>();
  const code = what === 'input' ? 'ERR_INVALID_INPUT' : 'ERR_BAD_REQUEST';
  names.forEach((name, i) => {
    const earlier = first.get(name);
    if (earlier !== undefined) fail(code, `${field(i)}: duplicate ${what} '${name}' (also ${field(earlier)})`);
    first.set(name, i);
  });
}
