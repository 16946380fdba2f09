// ModelSession: one loaded model version — its signature, input validation that names fields, and run().

import { OrtServeError, clientText, fail, withoutSourceLocations, type ErrorCode } from '../errors.js';
import {
  DTYPE_SIZE, TYPED_ARRAY_FOR, elementCount, elementsHeld, isDType, packedStringTensor, shapeFits, shapeText,
  type DType, type NumericDType, type StringData, type Tensor,
} from './tensor.js';
import { ExecutionMode } from './execution-mode.js';
import {
  nativeAddon,
  type NativeBatchingOptions, type NativeInput, type NativeMetadata, type NativeOutput, type NativeProviderOutcome, type NativeQueueStats,
  type NativeRunInfo, type NativeRunOptions, type NativeRunResult, type NativeSequenceRequest, type NativeSequenceStats,
  type NativeSession, type NativeSessionOptions, type NativeStatusCode,
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
  /**
   * Aborting drops the request if it has not started yet (it then fails with ERR_DEADLINE_EXCEEDED). Read only when
   * the request goes to the queue: an object may make it on demand (a getter), so an inline run never pays for one.
   */
  readonly signal?: AbortSignal | undefined;
  /** Whether the client is gone already, when the caller can say so without making `signal`. */
  readonly aborted?: boolean | undefined;
  /** ERR_TOO_LARGE instead of outputs holding more string elements (checked before any is converted). */
  maxOutputStrings?: number;
  /** ERR_TOO_LARGE instead of outputs holding more bytes (checked before any is converted). */
  maxOutputBytes?: number;
  /** The request's place in a sequence: required for a stateful version, refused for any other (ERR_SEQUENCE). */
  sequence?: NativeSequenceRequest;
  /**
   * Priority level, 1 = served first (Triton's numbering); 0 or undefined = the model's default level. Ignored by a
   * model without priority levels; past its levels: ERR_INVALID_INPUT naming `priority`.
   */
  priority?: number;
}
export type SequenceStats = NativeSequenceStats;

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
  /** The request's batch size: dim 0 of its first input (1 for scalars); Triton's inference_count adds it up. */
  rows: number;
}
export type ProviderOutcome = NativeProviderOutcome;

/** The limits a fast path applies before and after its run. */
export interface DirectLimits {
  maxResponseBytes: number;
  maxRequestElements: number;
}

/** A fast path's answer: the encoded bytes, the run's figures, the batch size, and (KServe) the JSON header's length. */
export interface DirectRun {
  bytes: Buffer;
  info: RunInfo;
  rows: number;
  headerLength: number;
}

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
  FAILED_PRECONDITION: 'ERR_SEQUENCE_UNKNOWN',
  ALREADY_EXISTS: 'ERR_SEQUENCE_CONFLICT',
  CAPACITY: 'ERR_SEQUENCE_TABLE_FULL',
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
  /** What clients send and get: a stateful version's control and state inputs are fed by the server, not listed. */
  readonly signature: ModelSignature;
  /** Every input and output of the model file. */
  readonly modelSignature: ModelSignature;
  /** Whether the version was loaded with sequence batching (its requests belong to sequences). */
  readonly stateful: boolean;
  readonly providers: ProviderOutcome[];
  readonly metadata: NativeMetadata;
  private readonly inputsByName: Map<string, TensorSpec>;
  private readonly outputsByName: Map<string, TensorSpec>;
  private readonly outputIndex: Map<string, number>;
  /**
   * runDirect's in/out scratch (input dims in; compute time and output dims out), or undefined when an input is a
   * string tensor or the version is stateful (those take runInline). Room for rank 64 on every input and output.
   */
  private readonly directIo: Float64Array | undefined;
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
  private lastSequenceStats: SequenceStats | undefined;
  private lastStats: NativeQueueStats = {
    enqueued: 0, rejectedFull: 0, expired: 0, terminated: 0, batches: 0, tasksRun: 0, rowsRun: 0, paddedRows: 0, queued: 0, running: 0,
    batchSizes: [], executedRequests: 0, requestInputMicros: 0, requestInferMicros: 0, requestOutputMicros: 0,
  };

  private constructor(natives: NativeSession[], inlineBudgetMicros: number, serverInputs: ReadonlySet<string> | undefined, clock?: () => number) {
    const native = natives[0]!;
    this.natives = natives;
    this.unsettled = natives.map(() => 0);
    this.executionMode = new ExecutionMode(inlineBudgetMicros, clock);
    this.metadata = native.metadata();
    this.modelSignature = { inputs: this.metadata.inputs.map(toSpec), outputs: this.metadata.outputs.map(toSpec) };
    this.stateful = serverInputs !== undefined;
    this.signature = {
      inputs: this.modelSignature.inputs.filter((s) => !serverInputs?.has(s.name)),
      outputs: this.modelSignature.outputs,
    };
    // ORT's reasons end with a newline and carry its source path; keep them on one line.
    this.providers = this.metadata.providers.map((p) => ({ ...p, reason: p.reason.trim().replace(/\s+/g, ' ') }));
    this.inputsByName = new Map(this.signature.inputs.map((s) => [s.name, s]));
    this.outputsByName = new Map(this.signature.outputs.map((s) => [s.name, s]));
    this.outputIndex = new Map(this.signature.outputs.map((s, i) => [s.name, i]));
    // runDirect feeds every model input from the request: a stateful version, whose control and state inputs the
    // sequence table feeds, takes runInline instead, as does one with string inputs.
    const numericInputs = this.signature.inputs.every((s) => s.dtype !== 'string' && s.dtype !== 'unsupported');
    const slots = this.signature.inputs.length + this.signature.outputs.length;
    this.directIo = numericInputs && !this.stateful ? new Float64Array(Math.max(5, 2 + 65 * slots)) : undefined;
  }

  /** Loads `path` on a native thread. Rejects with ERR_MODEL_LOAD naming the path and ORT's reason. */
  static async load(path: string, options: SessionOptions = {}, clock?: () => number): Promise<ModelSession> {
    const { inlineBudgetMicros = 0, instances: asked = 1, ...nativeOptions } = options;
    // A stateful version keeps its sequences' state in one session's table: it gets one instance.
    const instances = nativeOptions.sequence === undefined ? asked : 1;
    const loads = await Promise.allSettled(Array.from({ length: instances }, () => ModelSession.loadNative(path, nativeOptions)));
    const failed = loads.find((l): l is PromiseRejectedResult => l.status === 'rejected');
    if (failed !== undefined) {
      for (const l of loads) if (l.status === 'fulfilled') l.value.release();
      throw failed.reason;
    }
    const natives = loads.map((l) => (l as PromiseFulfilledResult<NativeSession>).value);
    const sequence = nativeOptions.sequence;
    const serverInputs = sequence === undefined ? undefined : new Set([...sequence.controls.map((c) => c.input), ...sequence.states.map((s) => s.input)]);
    const session = new ModelSession(natives, inlineBudgetMicros, serverInputs, clock);
    const unservable = [...session.signature.inputs].filter((s) => s.dtype === 'unsupported');
    if (unservable.length > 0) {
      session.release();
      fail('ERR_MODEL_LOAD', `loading model '${path}': input '${unservable[0]!.name}' is not a tensor of a supported type`);
    }
    const misfit = sequence === undefined ? undefined : sequenceMisfit(session.modelSignature, sequence);
    if (misfit !== undefined) {
      session.release();
      fail('ERR_MODEL_LOAD', `loading model '${path}': sequence_batching: ${misfit}`);
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
      const held = elementsHeld(tensor);
      if (held !== count) fail('ERR_SHAPE', `${field}: shape ${shapeText(tensor.shape)} needs ${count} elements, got ${held}`);
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
    return this.start(inputs, outputNames, options);
  }

  /**
   * As runWithInfo(), but a run that goes inline on the JS thread (see execution-mode.ts) returns its result
   * directly, with no promise and no microtask between the run and the caller; a queued run returns a promise.
   * Counts the request either way. Throws synchronously for invalid inputs and failed inline runs; the promise
   * rejects for failed queued runs.
   */
  start(inputs: ReadonlyMap<string, Tensor>, outputNames: readonly string[] | undefined, options: RunOptions = {}): RunResult | Promise<RunResult> {
    const started = performance.now();
    let result: RunResult | undefined;
    try {
      if (this.natives.length === 0) fail('ERR_MODEL_UNAVAILABLE', 'the model version was unloaded');
      const instance = this.natives.length === 1 ? 0 : this.pickInstance();
      const native = this.natives[instance]!;
      if (this.stateful && options.sequence === undefined) {
        fail('ERR_SEQUENCE', 'the model is stateful (sequence_batching): every request needs parameters sequence_id, and sequence_start on the first of a sequence');
      }
      if (!this.stateful && options.sequence !== undefined) {
        fail('ERR_SEQUENCE', 'sequence_id: the model has no sequence_batching; send the request without sequence parameters');
      }
      this.validateInputs(inputs);
      if (outputNames !== undefined) this.validateOutputNames(outputNames);
      if (options.aborted ?? options.signal?.aborted) fail('ERR_DEADLINE_EXCEEDED', 'the request was cancelled before it ran');
      const nativeOptions = this.nativeRunOptions(options);
      // Computed once: the inline check and the run's record both need it (a string input walks its elements).
      const work = inputWork(inputs);
      if (this.executionMode.inlineFor(work)) result = this.runInlineNow(native, inputs, work, outputNames, nativeOptions);
      if (result === undefined) {
        return this.runQueued(instance, inputs, work, outputNames, options, nativeOptions).then(
          (queued) => this.counted(queued, inputs, started),
          (err: unknown) => {
            this.counters.failure++;
            throw err;
          });
      }
    } catch (err) {
      this.counters.failure++;
      throw err;
    }
    return this.counted(result, inputs, started);
  }

  /**
   * The FlatBuffers fast path (native runFlatBuffers): runs the InferRequest `message` on the JS thread and returns
   * its encoded InferResponse, naming `version`, or undefined having run nothing: when this version is not inline
   * now, has several instances, string inputs or sequences, or when the addon declines the message (see
   * NativeSession.runFlatBuffers). The caller then takes the general path, which answers in full. Counts the request
   * and feeds the execution mode as start() does. Throws as start() does for a failed run.
   */
  startFlatBuffers(message: Uint8Array, version: number, protocolVersion: number, limits: DirectLimits): DirectRun | undefined {
    return this.startDirect(limits, (native, io, requireEmptyQueue) => native.runFlatBuffers(message, io, requireEmptyQueue, version, protocolVersion));
  }

  /**
   * The KServe binary-extension fast path (native runKserveBinary), as startFlatBuffers: `body` is the whole /infer
   * body with its JSON header's length; the answer is the JSON header naming `model` and `version`, then the
   * outputs' bytes, and `headerLength` says where one ends.
   */
  startKserveBinary(body: Uint8Array, headerLength: number, model: string, version: number, limits: DirectLimits): DirectRun | undefined {
    return this.startDirect(limits, (native, io, requireEmptyQueue) => native.runKserveBinary(body, headerLength, io, requireEmptyQueue, model, version));
  }

  /**
   * The TF Serving :predict fast path (native runTfPredict), as startFlatBuffers: `body` is the whole JSON body, read
   * under the JSON limits the general path uses (`maxDepth`, `maxValues`); the answer is {"predictions": rows}.
   */
  startTfPredict(body: Uint8Array, maxDepth: number, maxValues: number, limits: DirectLimits): DirectRun | undefined {
    // A body of more values than an inline run may take is declined before it is parsed here (on the JS thread).
    const values = Math.min(maxValues, this.executionMode.inlineWorkCap());
    return this.startDirect(limits, (native, io, requireEmptyQueue) => native.runTfPredict(body, io, requireEmptyQueue, maxDepth, values));
  }

  /** The fast paths' common part: the inline check, the limits in, the counters and execution mode after. */
  private startDirect(limits: DirectLimits, call: (native: NativeSession, io: Float64Array, requireEmptyQueue: boolean) => Buffer | undefined): DirectRun | undefined {
    const io = this.directIo;
    if (io === undefined || this.natives.length !== 1 || !this.executionMode.inline()) return undefined;
    const started = performance.now();
    io[0] = -1;
    io[1] = limits.maxResponseBytes;
    // Past the inline cap the addon declines (BindInputs) and the general path queues the request (inlineFor).
    io[2] = Math.min(limits.maxRequestElements, this.executionMode.inlineWorkCap());
    io[3] = this.executionMode.cpuThreshold();
    let bytes: Buffer | undefined;
    try {
      bytes = call(this.natives[0]!, io, this.executionMode.switching);
    } catch (err) {
      this.counters.failure++;
      throw fromNativeError(err, 'running the model');
    }
    if (bytes === undefined) return undefined;
    const computeMicros = io[0]!;
    const threadCpuMicros = io[1]! >= 0 ? io[1]! : undefined;
    const rows = io[3]!;
    this.executionMode.recordInline(computeMicros, threadCpuMicros, io[2]!);
    const info: RunInfo = { batchRows: 1, batchRequests: 1, queueMicros: 0, computeMicros };
    if (threadCpuMicros !== undefined) info.threadCpuMicros = threadCpuMicros;
    const c = this.counters;
    c.success++;
    c.inferences += rows;
    c.requestMicros += Math.round((performance.now() - started) * 1000);
    c.computeMicros += computeMicros;
    c.inlineRuns++;
    return { bytes, info, rows, headerLength: io[4]! };
  }

  /** Adds a successful request to the counters. */
  private counted(result: RunResult, inputs: ReadonlyMap<string, Tensor>, started: number): RunResult {
    const c = this.counters;
    c.success++;
    result.rows = firstDim(inputs);
    c.inferences += result.rows;
    c.requestMicros += Math.round((performance.now() - started) * 1000);
    c.queueMicros += result.info.queueMicros;
    c.computeMicros += result.info.computeMicros;
    if (result.ranInline) c.inlineRuns++;
    else c.queuedRuns++;
    return result;
  }

  /** The deadline (as time left) and output bounds as the addon takes them. Throws ERR_DEADLINE_EXCEEDED if past. */
  private nativeRunOptions(options: RunOptions): NativeRunOptions {
    const nativeOptions: NativeRunOptions = {};
    if (options.deadline !== undefined) {
      const remainingMs = options.deadline - performance.now();
      if (remainingMs <= 0) fail('ERR_DEADLINE_EXCEEDED', 'the request deadline passed before it ran');
      nativeOptions.timeoutMicros = Math.floor(remainingMs * 1000);
    }
    if (options.maxOutputStrings !== undefined) nativeOptions.maxOutputStrings = options.maxOutputStrings;
    if (options.maxOutputBytes !== undefined) nativeOptions.maxOutputBytes = options.maxOutputBytes;
    if (options.sequence !== undefined) nativeOptions.sequence = options.sequence;
    const levels = this.metadata.batching.priorityLevels;
    if (options.priority !== undefined && levels > 1) {
      if (!Number.isSafeInteger(options.priority) || options.priority < 0 || options.priority > levels) {
        fail('ERR_INVALID_INPUT', `priority: ${options.priority} is not one of the model's priority levels (1..${levels}, or 0 for the default)`);
      }
      nativeOptions.priority = options.priority;
    }
    return nativeOptions;
  }

  /**
   * Runs on the JS thread now, or returns undefined when the addon sends the request to the queue (batching, or a
   * request of this version still waiting for a worker while the version switches to inline).
   */
  private runInlineNow(native: NativeSession, inputs: ReadonlyMap<string, Tensor>, work: number,
                       outputNames: readonly string[] | undefined, nativeOptions: NativeRunOptions): RunResult | undefined {
    const requireEmptyQueue = this.executionMode.switching;
    if (this.directIo !== undefined) return this.runDirect(native, this.directIo, inputs, outputNames, nativeOptions, requireEmptyQueue);
    const names = outputNames === undefined ? undefined : [...outputNames];
    let inline: NativeRunResult | undefined;
    try {
      inline = native.runInline(toNativeInputs(inputs), names, { ...nativeOptions, requireEmptyQueue });
    } catch (err) {
      throw fromNativeError(err, 'running the model');
    }
    if (inline === undefined) return undefined;
    this.executionMode.recordInline(inline.info.computeMicros, inline.info.threadCpuMicros, work);
    return { outputs: toTensors(inline), info: inline.info, ranInline: true, rows: 0 };
  }

  /** runInlineNow for a model whose inputs are all numeric: the addon's lean entry point (runDirect). */
  private runDirect(native: NativeSession, io: Float64Array, inputs: ReadonlyMap<string, Tensor>, outputNames: readonly string[] | undefined,
                    nativeOptions: NativeRunOptions, requireEmptyQueue: boolean): RunResult | undefined {
    const specs = this.signature.inputs;
    const datas = new Array<ArrayBufferView>(specs.length);
    io[0] = nativeOptions.maxOutputStrings ?? -1;
    io[1] = nativeOptions.maxOutputBytes ?? -1;
    let at = 2;
    let elements = 0;
    for (let i = 0; i < specs.length; i++) {
      const tensor = inputs.get(specs[i]!.name)!;   // validateInputs: every model input is present
      datas[i] = tensor.data as ArrayBufferView;
      elements += tensor.data.length;
      const shape = tensor.shape;
      io[at++] = shape.length;
      for (let d = 0; d < shape.length; d++) io[at++] = shape[d]!;
    }
    let outputSpecs = this.signature.outputs;
    let indices: Uint32Array | undefined;
    if (outputNames !== undefined) {
      indices = new Uint32Array(outputNames.length);
      outputSpecs = new Array<TensorSpec>(outputNames.length);
      for (let i = 0; i < outputNames.length; i++) {
        const index = this.outputIndex.get(outputNames[i]!)!;   // validateOutputNames: every name is known
        indices[i] = index;
        outputSpecs[i] = this.signature.outputs[index]!;
      }
    }
    let datasOut: Array<ArrayBuffer | Uint8Array[]> | undefined;
    try {
      datasOut = native.runDirect(datas, io, indices, requireEmptyQueue, this.executionMode.measureCpuFor(elements));
    } catch (err) {
      throw fromNativeError(err, 'running the model');
    }
    if (datasOut === undefined) return undefined;
    const computeMicros = io[0]!;
    const threadCpuMicros = io[1]! >= 0 ? io[1]! : undefined;
    this.executionMode.recordInline(computeMicros, threadCpuMicros, elements);
    const outputs = new Map<string, Tensor>();
    at = 2;
    for (let i = 0; i < datasOut.length; i++) {
      const rank = io[at++]!;
      const shape = new Array<number>(rank);
      for (let d = 0; d < rank; d++) shape[d] = io[at++]!;
      const spec = outputSpecs[i]!;
      outputs.set(spec.name, outputToTensor({ name: spec.name, dtype: spec.dtype, shape, data: datasOut[i]! }));
    }
    const info: RunInfo = { batchRows: 1, batchRequests: 1, queueMicros: 0, computeMicros };
    if (threadCpuMicros !== undefined) info.threadCpuMicros = threadCpuMicros;
    return { outputs, info, ranInline: true, rows: 0 };
  }

  /**
   * Queues the request on the model's native queue; an aborted signal drops it if it has not started. `work`: the
   * request's inputWork, recorded with the run's compute time.
   */
  private async runQueued(instance: number, inputs: ReadonlyMap<string, Tensor>, work: number,
                          outputNames: readonly string[] | undefined, options: RunOptions, nativeOptions: NativeRunOptions): Promise<RunResult> {
    const native = this.natives[instance]!;
    const signal = options.signal;
    if (signal !== undefined) nativeOptions.cancellable = true;
    let result: NativeRunResult;
    this.unsettled[instance]!++;
    try {
      const pending = native.run(toNativeInputs(inputs), outputNames === undefined ? undefined : [...outputNames], nativeOptions);
      const cancel = () => pending.cancel?.();
      signal?.addEventListener('abort', cancel, { once: true });
      try {
        result = await pending;
      } finally {
        signal?.removeEventListener('abort', cancel);
      }
    } catch (err) {
      throw fromNativeError(err, 'running the model');
    } finally {
      this.unsettled[instance]!--;
    }
    this.executionMode.record(result.info.computeMicros, false, work);
    return { outputs: toTensors(result), info: result.info, ranInline: false, rows: 0 };
  }

  /** Counters of this version's request queue (batches run, rows, rejections, ...). */
  stats(): NativeQueueStats {
    if (this.natives.length === 0) return this.lastStats;
    if (this.natives.length === 1) return this.natives[0]!.stats();
    return sumStats(this.natives.map((n) => n.stats()));
  }

  /** The sequence table's counters (open, started, ended, expired, stateBytes); undefined for a stateless version. */
  sequenceStats(): SequenceStats | undefined {
    if (!this.stateful) return undefined;
    if (this.natives.length > 0) this.lastSequenceStats = this.natives[0]!.sequenceStats();
    return this.lastSequenceStats;
  }

  /** Frees the sequences idle past the model's timeout; returns their ids ("u:<decimal>" / "s:<text>"). */
  expireSequences(): string[] {
    return this.natives[0]?.expireSequences() ?? [];
  }

  /** Drops this session; runs in flight finish first. Later run() calls fail with ERR_MODEL_UNAVAILABLE. */
  release(): void {
    if (this.natives.length === 0) return;
    this.lastStats = this.stats();
    if (this.stateful) this.lastSequenceStats = this.natives[0]!.sequenceStats();
    for (const native of this.natives) native.release();
    this.natives = [];
  }
}

/** The counters of several instances as one version's. */
function sumStats(all: NativeQueueStats[]): NativeQueueStats {
  const sum = { ...all[0]! };
  const bySize = new Map(sum.batchSizes.map((b) => [b.batchSize, { ...b }]));
  for (const s of all.slice(1)) {
    for (const key of Object.keys(sum) as Array<keyof NativeQueueStats>) {
      if (key !== 'batchSizes') sum[key] += s[key];
    }
    for (const b of s.batchSizes) {
      const into = bySize.get(b.batchSize);
      if (into === undefined) {
        bySize.set(b.batchSize, { ...b });
        continue;
      }
      into.executions += b.executions;
      into.inputMicros += b.inputMicros;
      into.inferMicros += b.inferMicros;
      into.outputMicros += b.outputMicros;
    }
  }
  sum.batchSizes = [...bySize.values()].sort((a, b) => a.batchSize - b.batchSize);
  return sum;
}

/**
 * A request's input work, as the execution mode measures sizes: its elements, where a string element counts one more
 * for each 16 of its bytes (an inline run copies them into ORT's strings). For numeric inputs it is the element count
 * the addon's fast paths compute (io[2]), so both paths size requests alike.
 */
function inputWork(inputs: ReadonlyMap<string, Tensor>): number {
  let n = 0;
  for (const t of inputs.values()) {
    if (t.packed !== undefined) {
      const spans = t.packed.spans;
      for (let i = 1; i < spans.length; i += 2) n += 1 + (spans[i]! >>> 4);
    } else if (t.dtype === 'string') {
      for (const s of t.data as StringData) n += 1 + (s.length >>> 4);
    } else {
      n += t.data.length;
    }
  }
  return n;
}

/** Inputs as the addon's run() and runInline() take them. */
function toNativeInputs(inputs: ReadonlyMap<string, Tensor>): NativeInput[] {
  return [...inputs].map(([name, t]) => (t.packed !== undefined
    ? { name, dtype: t.dtype, shape: t.shape, data: t.packed.data, spans: t.packed.spans }
    : { name, dtype: t.dtype, shape: t.shape, data: t.data }));
}

/**
 * Why a stateful model's file does not fit its sequence options (undefined when it does): each control and state
 * input must be a model input of the configured type and a shape that fits, each state output a model output.
 */
function sequenceMisfit(signature: ModelSignature, sequence: NonNullable<NativeSessionOptions['sequence']>): string | undefined {
  const inputs = new Map(signature.inputs.map((s) => [s.name, s]));
  const outputs = new Map(signature.outputs.map((s) => [s.name, s]));
  const fits = (spec: TensorSpec | undefined, what: string, dtype: string, shape: number[]): string | undefined => {
    if (spec === undefined) return `${what} is not in the model (model ${what.startsWith('output') ? 'outputs' : 'inputs'}: ${[...(what.startsWith('output') ? outputs : inputs).keys()].join(', ')})`;
    if (spec.dtype !== dtype) return `${what} is ${spec.dtype} in the model, but ${dtype} in the config`;
    if (!shapeFits(shape, spec.shape)) return `${what} has shape ${shapeText(spec.shape)} in the model; the server would feed ${shapeText(shape)}`;
    return undefined;
  };
  for (const c of sequence.controls) {
    const problem = fits(inputs.get(c.input), `input '${c.input}' (${c.kind} control)`, c.dtype, c.shape);
    if (problem !== undefined) return problem;
  }
  for (const s of sequence.states) {
    const problem = fits(inputs.get(s.input), `input '${s.input}' (state)`, s.dtype, s.shape) ?? fits(outputs.get(s.output), `output '${s.output}' (state)`, s.dtype, s.shape);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * The place of each element in a block of length-prefixed strings (the addon's packed output), as bytesToTensor
 * notes it for a decoded buffer: (offset past the element's 4-byte length, length) per element.
 */
function prefixedSpans(lengths: Uint32Array): Uint32Array {
  const spans = new Uint32Array(2 * lengths.length);
  let offset = 0;
  for (let i = 0; i < lengths.length; i++) {
    const length = lengths[i]!;
    spans[2 * i] = offset + 4;
    spans[2 * i + 1] = length;
    offset += 4 + length;
  }
  return spans;
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
  if (dtype === 'string') {
    const lengths = output.lengths;
    if (lengths === undefined) return { dtype, shape: output.shape, data: output.data as StringData };
    return packedStringTensor(output.shape, { data: new Uint8Array(output.data as ArrayBuffer), spans: prefixedSpans(lengths), lengthPrefixed: true });
  }
  const buffer = output.data as ArrayBuffer;
  const numeric = dtype as NumericDType;
  const data = new TYPED_ARRAY_FOR[numeric](buffer, 0, buffer.byteLength / DTYPE_SIZE[numeric]);
  return { dtype, shape: output.shape, data };
}
