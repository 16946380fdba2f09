// ModelSession: one loaded model version — its signature, input validation that names fields, and run().

import { OrtServeError, clientText, fail, withoutSourceLocations, type ErrorCode } from '../errors.js';
import {
  DTYPE_SIZE, TYPED_ARRAY_FOR, elementCount, isDType, shapeFits, shapeText,
  type DType, type NumericDType, type StringData, type Tensor,
} from './tensor.js';
import { ExecutionMode } from './execution-mode.js';
import {
  nativeAddon,
  type NativeBatchingOptions, type NativeMetadata, type NativeOutput, type NativeProviderOutcome, type NativeQueueStats,
  type NativeRunInfo, type NativeRunOptions, type NativeRunResult, type NativeSession, type NativeSessionOptions,
  type NativeStatusCode,
} from './native-binding.js';

/** One input or output of a model as declared in the ONNX file. */
export interface TensorSpec {
  name: string;
  /** The element type, or 'unsupported' for non-tensor values and types ortserve does not serve. */
  dtype: DType | 'unsupported';
  /** -1 for a dynamic dim. */
  shape: number[];
  /** The symbolic name of each dim ('' when none), e.g. ['batch', ''] */
  symbolicDims: string[];
}

export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** How a version is loaded: ONNX Runtime's session options, and the inline budget of its execution mode. */
export type SessionOptions = NativeSessionOptions & {
  /** Runs whose recent high-percentile compute is under this many µs run on the JS thread (0 = never). Default 0. */
  inlineBudgetMicros?: number;
  /**
   * Independent ORT sessions (instances) of the model, each with its own native queue, that run at once (Triton's
   * instance_group count); a request goes to the instance with the fewest of its requests unsettled. Default 1.
   * Memory and load time scale with it.
   */
  instances?: number;
};
export type BatchingOptions = NativeBatchingOptions;
export type RunInfo = NativeRunInfo;

export interface RunOptions {
  /**
   * Deadline on the monotonic clock (performance.now() ms): a request not started by then fails with
   * ERR_DEADLINE_EXCEEDED at that time; a run past the deadline of every request in it is stopped, with the same
   * error (--terminate_runs_past_deadline).
   */
  deadline?: number;
  /** Aborting drops the request if it has not started yet (it then fails with ERR_DEADLINE_EXCEEDED). */
  signal?: AbortSignal;
  /** ERR_TOO_LARGE instead of outputs holding more string elements (checked before any is converted). */
  maxOutputStrings?: number;
  /** ERR_TOO_LARGE instead of outputs holding more bytes (checked before any is converted). */
  maxOutputBytes?: number;
  /**
   * Priority level, 1 = served first (Triton's numbering); 0 or undefined = the model's default level. Ignored by a
   * model without priority levels; past its levels: ERR_INVALID_INPUT naming `priority`.
   */
  priority?: number;
}

/** Cumulative per-version request counters, for metrics (Triton's nv_inference_* meanings). */
export interface RequestCounters {
  success: number;
  failure: number;
  /** Rows inferred by successful requests (Triton counts a request of batch n as n inferences). */
  inferences: number;
  /** Sum over successful requests of: whole request (validate → settle), queue wait, and batch compute, in µs. */
  requestMicros: number;
  queueMicros: number;
  computeMicros: number;
  /** Successful requests that ran inline on the JS thread, and those that went through the native queue. */
  inlineRuns: number;
  queuedRuns: number;
}

export interface RunResult {
  outputs: Map<string, Tensor>;
  info: RunInfo;
  /** Whether it ran inline on the JS thread (see execution-mode.ts) rather than through the native queue. */
  ranInline: boolean;
}
export type ProviderOutcome = NativeProviderOutcome;

// ONNX Runtime's OrtErrorCode names, so messages keep ORT's own verdict.
const ORT_ERROR_NAMES = [
  'OK', 'FAIL', 'INVALID_ARGUMENT', 'NO_SUCHFILE', 'NO_MODEL', 'ENGINE_ERROR', 'RUNTIME_EXCEPTION',
  'INVALID_PROTOBUF', 'MODEL_LOADED', 'NOT_IMPLEMENTED', 'INVALID_GRAPH', 'EP_FAIL',
];

const NATIVE_TO_ERROR: Record<NativeStatusCode, ErrorCode> = {
  INVALID_ARGUMENT: 'ERR_INVALID_INPUT',
  NOT_FOUND: 'ERR_MODEL_NOT_FOUND',
  UNAVAILABLE: 'ERR_QUEUE_FULL',
  DEADLINE_EXCEEDED: 'ERR_DEADLINE_EXCEEDED',
  MODEL_LOAD: 'ERR_MODEL_LOAD',
  INFERENCE: 'ERR_INFERENCE',
  INTERNAL: 'ERR_INTERNAL',
  RESOURCE_EXHAUSTED: 'ERR_TOO_LARGE',
};

/**
 * Maps an addon error ({code, ortCode, message}) into the error registry, keeping ORT's code in the message. ORT's
 * source locations and C++ signatures are for the log: the message leaves them out, the error's detail keeps them.
 * `dropPrefix`: a prefix of the addon's message that `context` already says.
 */
export function fromNativeError(err: unknown, context: string, dropPrefix = ''): OrtServeError {
  if (err instanceof OrtServeError) return err;
  const e = err as { code?: string; ortCode?: number; message?: string };
  let code = NATIVE_TO_ERROR[e.code as NativeStatusCode] ?? 'ERR_INTERNAL';
  if (code === 'ERR_QUEUE_FULL' && /shutting down|unloading/.test(e.message ?? '')) code = 'ERR_SHUTTING_DOWN';
  const ort = e.ortCode !== undefined ? ` [ORT_${ORT_ERROR_NAMES[e.ortCode] ?? e.ortCode}]` : '';
  const full = e.message ?? String(err);
  const text = dropPrefix !== '' && full.startsWith(dropPrefix) ? full.slice(dropPrefix.length) : full;
  return new OrtServeError(code, `${context}${ort}: ${withoutSourceLocations(text)}`, { cause: err, detail: `${context}${ort}: ${text.trim()}` });
}

function toSpec(info: NativeMetadata['inputs'][number]): TensorSpec {
  const dtype = info.kind === 'tensor' && isDType(info.dtype) ? info.dtype : 'unsupported';
  return { name: info.name, dtype, shape: info.shape, symbolicDims: info.symbolicDims };
}

export class ModelSession {
  readonly signature: ModelSignature;
  readonly providers: ProviderOutcome[];
  readonly metadata: NativeMetadata;
  private readonly inputsByName: Map<string, TensorSpec>;
  private readonly outputsByName: Map<string, TensorSpec>;
  /** The instances (one unless SessionOptions.instances asks for more); empty once released. */
  private natives: NativeSession[];
  /** Requests given to each instance and not settled yet: the next goes to the least busy. */
  private readonly unsettled: number[];
  private nextInstance = 0;
  readonly counters: RequestCounters = {
    success: 0, failure: 0, inferences: 0, requestMicros: 0, queueMicros: 0, computeMicros: 0, inlineRuns: 0, queuedRuns: 0,
  };
  /** Where this version's next request runs: inline on the JS thread or on the native workers. */
  readonly executionMode: ExecutionMode;
  private lastStats: NativeQueueStats = {
    enqueued: 0, rejectedFull: 0, expired: 0, terminated: 0, batches: 0, tasksRun: 0, rowsRun: 0, paddedRows: 0, queued: 0, running: 0,
  };

  private constructor(natives: NativeSession[], inlineBudgetMicros: number, clock?: () => number) {
    const native = natives[0]!;
    this.natives = natives;
    this.unsettled = natives.map(() => 0);
    this.executionMode = new ExecutionMode(inlineBudgetMicros, clock);
    this.metadata = native.metadata();
    this.signature = { inputs: this.metadata.inputs.map(toSpec), outputs: this.metadata.outputs.map(toSpec) };
    // ORT's reasons end with a newline and carry its source path; keep them on one line.
    this.providers = this.metadata.providers.map((p) => ({ ...p, reason: p.reason.trim().replace(/\s+/g, ' ') }));
    this.inputsByName = new Map(this.signature.inputs.map((s) => [s.name, s]));
    this.outputsByName = new Map(this.signature.outputs.map((s) => [s.name, s]));
  }

  /** Loads `path` on a native thread. Rejects with ERR_MODEL_LOAD naming the path and ORT's reason. */
  static async load(path: string, options: SessionOptions = {}, clock?: () => number): Promise<ModelSession> {
    const { inlineBudgetMicros = 0, instances = 1, ...nativeOptions } = options;
    const loads = await Promise.allSettled(Array.from({ length: instances }, () => ModelSession.loadNative(path, nativeOptions)));
    const failed = loads.find((l): l is PromiseRejectedResult => l.status === 'rejected');
    if (failed !== undefined) {
      for (const l of loads) if (l.status === 'fulfilled') l.value.release();
      throw failed.reason;
    }
    const natives = loads.map((l) => (l as PromiseFulfilledResult<NativeSession>).value);
    const session = new ModelSession(natives, inlineBudgetMicros, clock);
    const unservable = [...session.signature.inputs].filter((s) => s.dtype === 'unsupported');
    if (unservable.length > 0) {
      session.release();
      fail('ERR_MODEL_LOAD', `loading model '${path}': input '${unservable[0]!.name}' is not a tensor of a supported type`);
    }
    return session;
  }

  /** One native session; rejects with ERR_CONFIG for malformed options, else the addon's load error mapped. */
  private static async loadNative(path: string, nativeOptions: NativeSessionOptions): Promise<NativeSession> {
    try {
      // Malformed options throw synchronously inside loadSession; they are caught and mapped below like load errors.
      return await nativeAddon().loadSession(path, nativeOptions);
    } catch (err) {
      const invalidOptions = (err as { code?: string }).code === 'INVALID_ARGUMENT';
      if (invalidOptions) throw new OrtServeError('ERR_CONFIG', `loading model '${path}': ${(err as Error).message}`, { cause: err });
      // The addon's message starts with the path again ("loading '<path>': ..."): said once is enough.
      throw fromNativeError(err, `loading model '${path}'`, `loading '${path}': `);
    }
  }

  /** How many independent sessions (instances) serve this version. */
  get instances(): number {
    return this.unsettled.length;
  }

  /** Each instance's queue counters, in instance order (empty once released). */
  instanceStats(): NativeQueueStats[] {
    return this.natives.map((n) => n.stats());
  }

  /** The least busy instance (fewest unsettled requests; ties go round the instances). */
  private pickInstance(): number {
    const n = this.unsettled.length;
    let best = this.nextInstance % n;
    for (let k = 1; k < n; k++) {
      const i = (this.nextInstance + k) % n;
      if (this.unsettled[i]! < this.unsettled[best]!) best = i;
    }
    this.nextInstance = best + 1;
    return best;
  }

  inputSpec(name: string): TensorSpec | undefined {
    return this.inputsByName.get(name);
  }

  /**
   * Checks inputs against the signature: every model input present, no unknown ones, dtype and rank equal, fixed
   * dims equal, data length matching the shape. Throws ERR_INVALID_INPUT / ERR_DTYPE / ERR_SHAPE naming `inputs.<name>`.
   */
  validateInputs(inputs: ReadonlyMap<string, Tensor>): void {
    for (const name of inputs.keys()) {
      if (!this.inputsByName.has(name)) {
        fail('ERR_INVALID_INPUT', `inputs.${clientText(name)}: unknown input (model inputs: ${[...this.inputsByName.keys()].join(', ')})`);
      }
    }
    for (const spec of this.signature.inputs) {
      const tensor = inputs.get(spec.name);
      if (tensor === undefined) {
        fail('ERR_INVALID_INPUT', `missing input '${spec.name}' (model inputs: ${[...this.inputsByName.keys()].join(', ')})`);
      }
      const field = `inputs.${spec.name}`;
      if (tensor.dtype !== spec.dtype) fail('ERR_DTYPE', `${field}: dtype ${tensor.dtype} does not match the model's ${spec.dtype}`);
      if (!shapeFits(tensor.shape, spec.shape)) fail('ERR_SHAPE', `${field}: shape ${shapeText(tensor.shape)} does not match the model's ${shapeText(spec.shape)}`);
      const count = elementCount(tensor.shape);
      if (tensor.data.length !== count) {
        fail('ERR_SHAPE', `${field}: shape ${shapeText(tensor.shape)} needs ${count} elements, got ${tensor.data.length}`);
      }
    }
  }

  /** Throws ERR_UNKNOWN_OUTPUT for a name the model does not produce. */
  validateOutputNames(names: readonly string[]): void {
    for (const name of names) {
      if (!this.outputsByName.has(name)) {
        fail('ERR_UNKNOWN_OUTPUT', `outputs: unknown output '${clientText(name)}' (model outputs: ${[...this.outputsByName.keys()].join(', ')})`);
      }
    }
  }

  /**
   * Validates, then queues the request on the model's native queue (merged with others when batching is on).
   * `outputNames` defaults to all outputs in model order; the result keeps the requested order. Numeric input data
   * is read in place: do not modify it until the promise settles.
   */
  async run(inputs: ReadonlyMap<string, Tensor>, outputNames?: readonly string[], options: RunOptions = {}): Promise<Map<string, Tensor>> {
    return (await this.runWithInfo(inputs, outputNames, options)).outputs;
  }

  /** As run(), also saying which batch the request joined and how long it queued and computed. */
  async runWithInfo(inputs: ReadonlyMap<string, Tensor>, outputNames?: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const started = performance.now();
    try {
      const result = await this.runOnce(inputs, outputNames, options);
      const c = this.counters;
      c.success++;
      c.inferences += firstDim(inputs);
      c.requestMicros += Math.round((performance.now() - started) * 1000);
      c.queueMicros += result.info.queueMicros;
      c.computeMicros += result.info.computeMicros;
      if (result.ranInline) c.inlineRuns++;
      else c.queuedRuns++;
      return result;
    } catch (err) {
      this.counters.failure++;
      throw err;
    }
  }

  private async runOnce(inputs: ReadonlyMap<string, Tensor>, outputNames: readonly string[] | undefined, options: RunOptions): Promise<RunResult> {
    if (this.natives.length === 0) fail('ERR_MODEL_UNAVAILABLE', 'the model version was unloaded');
    const instance = this.natives.length === 1 ? 0 : this.pickInstance();
    const native = this.natives[instance]!;
    this.validateInputs(inputs);
    if (outputNames !== undefined) this.validateOutputNames(outputNames);
    if (options.signal?.aborted) fail('ERR_DEADLINE_EXCEEDED', 'the request was cancelled before it ran');
    const nativeOptions: NativeRunOptions = {};
    if (options.deadline !== undefined) {
      const remainingMs = options.deadline - performance.now();
      if (remainingMs <= 0) fail('ERR_DEADLINE_EXCEEDED', 'the request deadline passed before it ran');
      nativeOptions.timeoutMicros = Math.floor(remainingMs * 1000);
    }
    if (options.maxOutputStrings !== undefined) nativeOptions.maxOutputStrings = options.maxOutputStrings;
    if (options.maxOutputBytes !== undefined) nativeOptions.maxOutputBytes = options.maxOutputBytes;
    const levels = this.metadata.batching.priorityLevels;
    if (options.priority !== undefined && levels > 1) {
      if (!Number.isSafeInteger(options.priority) || options.priority < 0 || options.priority > levels) {
        fail('ERR_INVALID_INPUT', `priority: ${options.priority} is not one of the model's priority levels (1..${levels}, or 0 for the default)`);
      }
      nativeOptions.priority = options.priority;
    }
    const nativeInputs = [...inputs].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, data: t.data }));
    const names = outputNames === undefined ? undefined : [...outputNames];
    if (this.executionMode.inline()) {
      let inline: NativeRunResult | undefined;
      try {
        inline = native.runInline(nativeInputs, names, { ...nativeOptions, requireEmptyQueue: this.executionMode.switching });
      } catch (err) {
        throw fromNativeError(err, 'running the model');
      }
      if (inline !== undefined) {
        // Judged on CPU time: on a busy machine a preempted run would otherwise look slow and flap the mode.
        this.executionMode.record(inline.info.threadCpuMicros ?? inline.info.computeMicros, true);
        return { outputs: toTensors(inline), info: inline.info, ranInline: true };
      }
    }
    if (options.signal !== undefined) nativeOptions.cancellable = true;
    let result: NativeRunResult;
    this.unsettled[instance]!++;
    try {
      const pending = native.run(nativeInputs, names, nativeOptions);
      const cancel = () => pending.cancel?.();
      options.signal?.addEventListener('abort', cancel, { once: true });
      try {
        result = await pending;
      } finally {
        options.signal?.removeEventListener('abort', cancel);
      }
    } catch (err) {
      throw fromNativeError(err, 'running the model');
    } finally {
      this.unsettled[instance]!--;
    }
    this.executionMode.record(result.info.computeMicros, false);
    return { outputs: toTensors(result), info: result.info, ranInline: false };
  }

  /** Counters of this version's request queue (batches run, rows, rejections, ...). */
  stats(): NativeQueueStats {
    if (this.natives.length === 0) return this.lastStats;
    if (this.natives.length === 1) return this.natives[0]!.stats();
    return sumStats(this.natives.map((n) => n.stats()));
  }

  /** Drops this session; runs in flight finish first. Later run() calls fail with ERR_MODEL_UNAVAILABLE. */
  release(): void {
    if (this.natives.length === 0) return;
    this.lastStats = this.stats();
    for (const native of this.natives) native.release();
    this.natives = [];
  }
}

/** The counters of several instances as one version's. */
function sumStats(all: NativeQueueStats[]): NativeQueueStats {
  const sum = { ...all[0]! };
  for (const s of all.slice(1)) for (const key of Object.keys(sum) as Array<keyof NativeQueueStats>) sum[key] += s[key];
  return sum;
}

/** The outputs of an addon run, by name, as tensors over the addon's buffers. */
function toTensors(result: NativeRunResult): Map<string, Tensor> {
  return new Map(result.map((o) => [o.name, outputToTensor(o)]));
}

/** The batch size a request carries: dim 0 of its first input (1 for scalars). */
function firstDim(inputs: ReadonlyMap<string, Tensor>): number {
  const first = inputs.values().next().value as Tensor | undefined;
  return first !== undefined && first.shape.length > 0 ? first.shape[0]! : 1;
}

/** Wraps an addon output as a Tensor without copying: the typed array views ORT's buffer. */
export function outputToTensor(output: NativeOutput): Tensor {
  const dtype = output.dtype as DType;
  if (dtype === 'string') return { dtype, shape: output.shape, data: output.data as StringData };
  const buffer = output.data as ArrayBuffer;
  const numeric = dtype as NumericDType;
  const data = new TYPED_ARRAY_FOR[numeric](buffer, 0, buffer.byteLength / DTYPE_SIZE[numeric]);
  return { dtype, shape: output.shape, data };
}
