// Loads the ortserve C++ addon (located by addon-location.ts) and types its API; the only TS file that calls into it.

import { createRequire } from 'node:module';
import { AddonLoadError, addonLocation, preloadOrtLibrary, SOURCE_ADDON_PATH, type AddonLocation } from './addon-location.js';

/** A tensor as the addon takes it: numeric data is used in place (pinned, never copied) until the run settles. */
export interface NativeInput {
  name: string;
  dtype: string;
  shape: number[];
  /** Strings: a Uint8Array per element, or, with `spans`, one Uint8Array holding every element. */
  data: ArrayBufferView | Uint8Array[];
  /** Strings only: each element's offset in `data` and its length, in pairs (2 × element count). */
  spans?: Uint32Array;
}

/** A tensor as the addon returns it: numeric data is an ArrayBuffer over ONNX Runtime's own output buffer. */
export interface NativeOutput {
  name: string;
  dtype: string;
  shape: number[];
  /**
   * Strings: a Uint8Array view per element, all over one ArrayBuffer; or, with `lengths` (a queued run's output,
   * packed by its worker), that ArrayBuffer itself, each element as its 4-byte little-endian length then its bytes
   * (the BYTES wire form, which outputToTensor keeps as the tensor's `packed` buffer).
   */
  data: ArrayBuffer | Uint8Array[];
  /** Strings packed by the worker: each element's byte length, in order (outputToTensor notes where each lies). */
  lengths?: Uint32Array;
  /** Only with {reportAddresses: true}: the address ORT wrote the output at. */
  address?: bigint;
}

export interface NativeTensorInfo {
  name: string;
  /** 'tensor' for servable values; 'sequence' | 'map' | 'optional' | 'sparse_tensor' otherwise. */
  kind: string;
  /** Our dtype name, or 'unsupported'. */
  dtype: string;
  onnxType: number;
  /** -1 for symbolic or unknown dims. */
  shape: number[];
  /** The symbolic name of each dim ('' when it has none). */
  symbolicDims: string[];
}

export interface NativeProviderOutcome {
  name: string;
  active: boolean;
  /** Why the provider was skipped ('' when active); starts with the provider's name and device. */
  reason: string;
  /** The key/value pairs given to the provider's options struct, device_id first ({} for cpu). */
  options: Record<string, string>;
}

export interface NativeMetadata {
  inputs: NativeTensorInfo[];
  outputs: NativeTensorInfo[];
  providers: NativeProviderOutcome[];
  producerName: string;
  graphName: string;
  domain: string;
  description: string;
  /** -1 when the model sets none. */
  modelVersion: number;
  custom: Record<string, string>;
  batching: {
    enabled: boolean; maxBatchSize: number; batchTimeoutMicros: number; maxEnqueuedBatches: number; queueCapacity: number;
    /** Priority levels of the queue (1 = none). */
    priorityLevels: number;
  };
}

/** How requests to one model version are merged (native/core/batch_policy.h documents each field). */
export interface NativeBatchingOptions {
  /** Default true when a batching object is given; absent batching object = unbatched. */
  enabled?: boolean;
  maxBatchSize?: number;
  batchTimeoutMicros?: number;
  maxEnqueuedBatches?: number;
  /** Queue bound for an unbatched model. */
  maxQueuedRequests?: number;
  /** Most batches of this version running at once (0 = the scheduler's shared default, maxConcurrentRunsPerModel). */
  numBatchThreads?: number;
  allowedBatchSizes?: number[];
  preferredBatchSizes?: number[];
  padVariableLengthInputs?: boolean;
  /**
   * A model that cannot batch (an input with a fixed dim 0, or a scalar) loads unbatched instead of failing;
   * metadata().batching.enabled then reads false. For batching asked server-wide rather than by the model.
   */
  unbatchedIfUnbatchable?: boolean;
  /**
   * Priority levels (Triton's priority_levels), level 1 first: each with its queue policy. Absent = one level, no
   * queue timeout. A level's timeout fails a request still queued then (UNAVAILABLE), or with delayOnTimeout serves it
   * after its level's timely ones; maxQueueSize bounds the level (0 = only the queue's bound).
   */
  priorityLevels?: Array<{ delayOnTimeout?: boolean; timeoutMicros?: number; allowTimeoutOverride?: boolean; maxQueueSize?: number }>;
  /** The level of a request that names none, 1-based. Default 1. */
  defaultPriorityLevel?: number;
}

export interface NativeRunOptions {
  /**
   * Fail with DEADLINE_EXCEEDED if the request has not started within this many microseconds (at that time, even
   * while every worker is busy); with terminateRunsPastDeadline, its run is also stopped once it and every other
   * request in its batch are past their deadlines.
   */
  timeoutMicros?: number;
  /** Give the returned promise a cancel() that drops the request if it has not started. */
  cancellable?: boolean;
  /** Add input and output addresses to the result (zero-copy checks). */
  reportAddresses?: boolean;
  /** Reject RESOURCE_EXHAUSTED, before any output is converted, when the outputs hold more string elements. */
  maxOutputStrings?: number;
  /** Reject RESOURCE_EXHAUSTED, before any output is converted, when the outputs hold more bytes (strings: +4 each). */
  maxOutputBytes?: number;
  /** A request of a sequence (a model loaded with sequence options); see NativeSequenceRequest. */
  sequence?: NativeSequenceRequest;
  /** Priority level, 1 = served first; 0 = the policy's default. Ignored with one level; past the levels: TypeError. */
  priority?: number;
}

/** A request's place in a sequence: the table adds the control and state inputs and keeps the state outputs. */
export interface NativeSequenceRequest {
  /** Triton's correlation id: a uint64 or a string (never the same sequence as each other). */
  id: bigint | string;
  start?: boolean;
  end?: boolean;
}

/** Triton's control kinds, as the addon names them. */
export type NativeControlKind = 'START' | 'END' | 'READY' | 'CORRID';

/** A loaded version's sequence table (native/core/sequence_config.h documents each field). */
export interface NativeSequenceOptions {
  controls: Array<{ input: string; kind: NativeControlKind; dtype: string; falseValue?: number; trueValue?: number; shape: number[] }>;
  states: Array<{ input: string; output: string; dtype: string; shape: number[]; initial?: Uint8Array }>;
  maxSequences: number;
  /** 0 = never idle out. */
  idleMicros: number;
  /** From createStateBudget: one per model, shared by its versions. */
  budget: NativeStateBudget;
}

/** An opaque handle to a model's bound on implicit state bytes. */
export type NativeStateBudget = { readonly __stateBudget: unique symbol };

export interface NativeSequenceStats {
  open: number;
  started: number;
  ended: number;
  expired: number;
  stateBytes: number;
}

/** How one request ran: the batch it joined and where its time went. */
export interface NativeRunInfo {
  batchRows: number;
  batchRequests: number;
  queueMicros: number;
  /** Wall-clock time of the ORT run (of the batch the request ran in). */
  computeMicros: number;
  /** Inline runs only: the JS thread's CPU time over the run, which leaves out time the thread was preempted. */
  threadCpuMicros?: number;
}

export interface NativeQueueStats {
  enqueued: number;
  rejectedFull: number;
  expired: number;
  /** Runs stopped because every request in them was past its deadline. */
  terminated: number;
  batches: number;
  tasksRun: number;
  rowsRun: number;
  paddedRows: number;
  /** Requests waiting now. */
  queued: number;
  /** Batches running now. */
  running: number;
  /** Successful executions (inline runs too) by batch size, with their phases summed (native/core/execution_stats.h). */
  batchSizes: NativeBatchSizeStats[];
  /** Requests served by successful executions, and each execution's phases summed once per request in it, in µs. */
  executedRequests: number;
  requestInputMicros: number;
  requestInferMicros: number;
  requestOutputMicros: number;
}

/** Executions of one batch size: input assembly, the ORT run and output splitting, summed in µs. */
export interface NativeBatchSizeStats {
  batchSize: number;
  executions: number;
  inputMicros: number;
  inferMicros: number;
  outputMicros: number;
}

export type NativeRunResult = NativeOutput[] & { inputAddresses?: bigint[]; info: NativeRunInfo };

/** ONNX Runtime's graph optimization levels, as the addon names them. */
export const GRAPH_OPTIMIZATION_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;
export type GraphOptimizationLevel = (typeof GRAPH_OPTIMIZATION_LEVELS)[number];

/** The execution providers the addon can append before CPU, by the names ortserve's flags and configs use. */
export const EXECUTION_PROVIDERS = ['tensorrt', 'cuda', 'cpu'] as const;
export type ExecutionProviderName = (typeof EXECUTION_PROVIDERS)[number];

/** ONNX Runtime's log severities in its own order: configure({ortLogLevel}) takes the index. */
export const ORT_LOG_LEVELS = ['verbose', 'info', 'warning', 'error', 'fatal'] as const;
export type OrtLogLevel = (typeof ORT_LOG_LEVELS)[number];

export interface NativeSessionOptions {
  batching?: NativeBatchingOptions;
  intraOpThreads?: number;
  interOpThreads?: number;
  graphOptimizationLevel?: GraphOptimizationLevel;
  /** options: ONNX Runtime's own provider option keys (trt_fp16_enable, gpu_mem_limit, ...), set after device_id. */
  executionProviders?: Array<{ name: ExecutionProviderName; deviceId?: number; options?: Record<string, string> }>;
  logId?: string;
  /** Makes the version stateful: its requests must carry a sequence (NativeRunOptions.sequence). */
  sequence?: NativeSequenceOptions;
}

/** Mirrors native/binding/session_object.h; see the contract comments there. */
export interface NativeSession {
  /** [sync] The model's signature and what became of each requested execution provider. Throws if released. */
  metadata(): NativeMetadata;
  /**
   * [async] Queues the request on the model's native queue; a worker runs it (batched when enabled). Throws TypeError
   * synchronously for malformed arguments; rejects UNAVAILABLE (queue full), DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED
   * (outputs over maxOutputStrings / maxOutputBytes), or ORT's error.
   * With {cancellable: true} the promise has a cancel() method.
   */
  run(inputs: NativeInput[], outputNames?: string[], options?: NativeRunOptions): Promise<NativeRunResult> & { cancel?: () => void };
  /**
   * [sync] Runs on the calling JS thread and returns what run() resolves with, or undefined without running when the
   * request must take the queue (batching on, or with requireEmptyQueue while a request of this version waits for a
   * worker). Throws as run() does for malformed arguments, and ORT's error when the run fails. Only for versions
   * whose runs are short.
   */
  runInline(inputs: NativeInput[], outputNames?: string[], options?: { reportAddresses?: boolean; requireEmptyQueue?: boolean; maxOutputStrings?: number; maxOutputBytes?: number; sequence?: NativeSequenceRequest }): NativeRunResult | undefined;
  /**
   * [sync] The lean runInline for numeric inputs (SessionObject::RunDirect has the full contract): `datas` one
   * TypedArray per model input in model order; `io` in: [maxOutputStrings (-1 none), maxOutputBytes (-1 none), per
   * input rank then dims], out: [computeMicros, threadCpuMicros (-1 unless measureCpu), per output rank then dims];
   * `outputIndices` model output indices in the order wanted (undefined = all in model order). Returns per output an
   * ArrayBuffer (numeric) or Uint8Array[] (string), or undefined without running when the request must take the queue.
   */
  runDirect(datas: ArrayBufferView[], io: Float64Array, outputIndices: Uint32Array | undefined, requireEmptyQueue: boolean, measureCpu: boolean): Array<ArrayBuffer | Uint8Array[]> | undefined;
  /**
   * [sync] The FlatBuffers fast path (native/binding/session_object.h has the full contract): reads an InferRequest
   * in place, runs it on the JS thread and returns the encoded InferResponse, or undefined having run nothing (the
   * caller then takes the general path). io in: [unused, maxOutputBytes, maxRequestElements, cpuThreshold]; out:
   * [computeMicros, threadCpuMicros or -1, input elements, first input's first dim].
   */
  runFlatBuffers(message: Uint8Array, io: Float64Array, requireEmptyQueue: boolean, version: number, protocolVersion: number): Buffer | undefined;
  /**
   * [sync] The KServe binary-extension fast path, as runFlatBuffers: `body` is the /infer body, its first
   * `headerLength` bytes the JSON header; returns the answer (JSON header naming `model` and `version`, then the
   * outputs' bytes) with io[4] = its header's length, or undefined having run nothing.
   */
  runKserveBinary(body: Uint8Array, headerLength: number, io: Float64Array, requireEmptyQueue: boolean, model: string, version: number): Buffer | undefined;
  /**
   * [sync] The TF Serving :predict fast path, as runFlatBuffers, for a body that is exactly {"instances": a list of
   * numbers} to a model of one float32 input and one output: returns {"predictions": ...} as UTF-8, or undefined
   * having run nothing.
   */
  runTfPredict(body: Uint8Array, io: Float64Array, requireEmptyQueue: boolean, maxDepth: number, maxValues: number): Buffer | undefined;
  /** [sync] Counters of the model's queue. */
  stats(): NativeQueueStats;
  /** [sync] No new requests; queued and running ones finish, then the session is freed. */
  release(): void;
  /** [sync] The sequence table's counters; undefined without sequence batching. */
  sequenceStats(): NativeSequenceStats | undefined;
  /** [sync] Frees sequences idle past the model's timeout; their ids as "u:<decimal>" or "s:<text>". */
  expireSequences(): string[];
}

/** Mirrors native/binding/addon.cc. */
export interface NativeAddon {
  /** [async] Loads a model file on a worker thread. Rejects {code: 'MODEL_LOAD', ortCode, message}. */
  loadSession(path: string, options?: NativeSessionOptions): Promise<NativeSession>;
  /** [sync] A bound on implicit state bytes, to share among the versions of one model (options.sequence.budget). */
  createStateBudget(limitBytes: number): NativeStateBudget;
  /**
   * [sync] Sets the shared worker pool size before the first model loads (0 = one per hardware thread), the
   * severity ONNX Runtime logs at (0 verbose .. 4 fatal), and, at any time, the per-model limit on running batches
   * (0 = automatic: none while one version is loaded, else threads - 1) and whether runs past every deadline in
   * them are stopped (default true), and how long an idle worker watches for work before it sleeps.
   */
  configure(options: {
    numBatchThreads?: number;
    /** An index into ORT_LOG_LEVELS. */
    ortLogLevel?: number;
    maxConcurrentRunsPerModel?: number;
    terminateRunsPastDeadline?: boolean;
    /** µs an idle worker watches for work before sleeping (0 = at once); any time. */
    workerSpinMicros?: number;
    /** Bytes of large outputs that may be alive off V8's external-memory count (0 = all counted); any time. */
    uncountedOutputBytes?: number;
  }): void;
  schedulerInfo(): { started: boolean; threads: number };
  /**
   * [sync] The model, version (0 = none), label, route key and id a FlatBuffers InferRequest names, or undefined when
   * the fast path declines it (malformed, or timeout, priority, sequence or BYTES fields): the general decoder then
   * answers it. Throws TypeError for a non-Uint8Array.
   */
  flatBuffersRoute(message: Uint8Array, io: Float64Array): string | [model: string, label: string, routeKey: string] | undefined;
  setBusyPoll(micros: number): boolean;
  busyPollStats(): { spins: number; hits: number; skips: number; spinMicros: number };
  ortVersion(): string;
  apiVersion(): number;
  liveOutputBuffers(): { owners: number; external: number; uncountedBytes: number; v8ExternalMemory: number };
  addressOf(view: ArrayBuffer | ArrayBufferView): bigint;
  /**
   * [sync] Parses a request body as src/protocol/json/json-parser.ts does, or returns undefined (declined) for every
   * body it rejects, and for nesting past 512. The result is a raw tree (src/protocol/json/json-fast-path.ts revives
   * it): an object is an array [marker, key, value, ...], a non-empty rectangular list of numbers a Float64Array
   * [rank, ...dims, ...values] (with a property `exact` = [Uint32Array positions, BigInt[]] when it holds integers
   * past ±(2^53−1)), such an integer elsewhere a BigInt; a key equal to an entry of `keys` is that very string.
   * Throws TypeError for malformed arguments.
   */
  parseJsonPacked(
    bytes: Uint8Array, maxDepth: number, maxElements: number, maxStrings: number, marker: object, keys: readonly string[],
  ): unknown;
  /**
   * [async] parseJsonPacked on a libuv worker thread; the tree is built on the JS thread when the promise settles.
   * `bytes` is kept alive until then and must not be written to meanwhile. Throws TypeError synchronously for
   * malformed arguments.
   */
  parseJsonPackedAsync(
    bytes: Uint8Array, maxDepth: number, maxElements: number, maxStrings: number, marker: object, keys: readonly string[],
  ): Promise<unknown>;
  /**
   * [sync] The JSON text of a numeric tensor (whole: row -1, or one dim-0 row), byte-identical to tensor-json.ts.
   * The element type is the typed array's; isBool reads a Uint8Array as bool. Throws TypeError for a length that is
   * not the product of shape, a row out of range, or a Float16/string tensor.
   */
  writeTensorJson(data: ArrayBufferView, shape: readonly number[], row: number, isBool: boolean): string;
  /**
   * [async] A whole REST answer's JSON text as UTF-8 bytes, written on a libuv worker thread (native/binding/json_answer.h):
   * string pieces as they are, tensor pieces byte-identical to tensor-json.ts. The tensors' data must not change until
   * the promise settles. Throws TypeError synchronously for a malformed piece (a length that is not the product of
   * shape, rows past a tensor's dim 0, keys that do not match the tensors, float16/bfloat16 data).
   */
  writeJsonAnswerAsync(pieces: readonly NativeAnswerPiece[]): Promise<Buffer>;
  /**
   * [async] Faults in every page of `buffer` on a libuv worker thread (native/binding/prefault.h), so the JS thread
   * that fills a fresh large buffer does not take its page faults. Bytes written meanwhile keep their values. The
   * buffer must not be detached or transferred until `done` (when given) has been called. Throws TypeError for
   * anything but a Uint8Array.
   */
  prefault(buffer: Uint8Array, done?: () => void): void;
  /**
   * [sync] Copies all of `source` to the start of `target` before returning, the JS thread sharing a copy of 4 MB or
   * more with helper threads (native/binding/copy_into.h): for memory readable only now (a uWS WebSocket message).
   * Throws TypeError for other types or a target shorter than the source.
   */
  copyInto(target: Uint8Array, source: ArrayBuffer | Uint8Array): void;
}

/** A tensor of a native answer: numeric typed array data (isBool: a Uint8Array read as bool) or BYTES elements. */
export interface NativeAnswerTensor {
  /**
   * Numeric data, BYTES elements, or BYTES elements in one Uint8Array: back to back with `lengths`, or each at its
   * (offset, length) pair of `spans` (a packed string tensor's, src/engine/tensor.ts).
   */
  data: ArrayBufferView | readonly Uint8Array[];
  lengths?: Uint32Array;
  spans?: Uint32Array;
  shape: readonly number[];
  isBool: boolean;
  /** BYTES: every element as {"b64": ...} (else as a JSON string when it is UTF-8). */
  b64: boolean;
}

/**
 * A piece of a native answer: text as it is, or one tensor whole (rows -1), or `rows` comma-separated dim-0 rows of
 * one tensor, or of several, each row then `{keys[0]:row,...}` (keys: JSON text, one per tensor).
 */
export type NativeAnswerPiece = string | { tensors: readonly NativeAnswerTensor[]; keys: readonly string[]; rows: number };

/** Native status codes (native/core/status.h). */
export type NativeStatusCode =
  | 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'UNAVAILABLE' | 'DEADLINE_EXCEEDED'
  | 'MODEL_LOAD' | 'INFERENCE' | 'INTERNAL'
  /** Sequences: not open (or still running a request); a start on an open id; a full sequence table. */
  | 'FAILED_PRECONDITION' | 'ALREADY_EXISTS' | 'CAPACITY'
  /** Set by the binding, not native/core: outputs over the run's maxOutputStrings / maxOutputBytes. */
  | 'RESOURCE_EXHAUSTED';

export { AddonLoadError, addonLocation, type AddonLocation } from './addon-location.js';

/** Where a source build puts the addon (the prebuilt one, when used, is in prebuilds/: see addon-location.ts). */
export const ADDON_PATH = SOURCE_ADDON_PATH;

let addon: NativeAddon | undefined;

/** The addon, loaded once: the source build, else the prebuilt one. Throws AddonLoadError with the cause and the fix. */
export function nativeAddon(): NativeAddon {
  if (addon === undefined) addon = loadAddon(addonLocation());
  return addon;
}

/** Loads the addon at `location` (for a prebuilt one, its ONNX Runtime library first). */
export function loadAddon(location: AddonLocation): NativeAddon {
  if (location.ortLibrary !== undefined) preloadOrtLibrary(location.ortLibrary);
  try {
    return createRequire(import.meta.url)(location.path) as NativeAddon;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const rebuild = location.kind === 'prebuilt'
      ? 'Build it from source instead: `ORTSERVE_BUILD_FROM_SOURCE=1 npm rebuild ortserve` (needs cmake and a C++17 compiler).'
      : 'Rebuild it: `npm rebuild ortserve` (in a clone: `npm run build:native`) and read the build output.';
    const hint = /libonnxruntime/.test(message)
      ? 'The ONNX Runtime library it links was not found: reinstall ortserve (onnxruntime-node provides the library), ' +
        'or rebuild with ORTSERVE_ORT_DIR pointing at your ONNX Runtime release.'
      : /NODE_MODULE_VERSION|napi/i.test(message)
        ? `It was built for another Node.js. ${rebuild}`
        : rebuild;
    throw new AddonLoadError(`The ortserve native addon (${location.kind}, ${location.path}) failed to load: ${message}\n${hint}`, {
      cause: err,
    });
  }
}

/** The addon's tensor-JSON functions, or undefined when the addon cannot load (the JS codec then does all the work). */
export function nativeJsonCodec(): NativeJsonCodec | undefined {
  if (jsonCodec === null) {
    try {
      const a = nativeAddon();
      jsonCodec = typeof a.parseJsonPacked === 'function' ? a : undefined;
    } catch {
      jsonCodec = undefined;
    }
  }
  return jsonCodec;
}
let jsonCodec: NativeJsonCodec | undefined | null = null;
type NativeJsonCodec = Pick<NativeAddon, 'parseJsonPacked' | 'parseJsonPackedAsync' | 'writeTensorJson' | 'writeJsonAnswerAsync'>;
