// Every server knob, once: its flag name, default and doc line. The CLI, --help and the README table come from here.

import {
  GRAPH_OPTIMIZATION_LEVELS, ORT_LOG_LEVELS, type GraphOptimizationLevel, type OrtLogLevel,
} from '../engine/native-binding.js';
import { SWAP_POLICIES, type SwapPolicy } from './model-config.js';
import { DEFAULT_MAX_CONFIG_BYTES } from './config-limits.js';
import { DEFAULT_SIZE_LIMITS, DEFAULT_WIRE_SLICE_MICROS } from '../engine/tensor-limits.js';

export interface ServerOptions {
  /** Address the REST and gRPC listeners bind. */
  host: string;
  /** TF Serving REST / KServe REST port; 0 picks a free port. */
  restApiPort: number;
  /** gRPC port (TF Serving's --port; KServe V2 and TF Serving gRPC); 0 picks a free port. */
  grpcPort: number;
  /** Largest gRPC message the server accepts, in bytes. */
  grpcMaxReceiveMessageBytes: number;
  /** Largest gRPC message the server sends, in bytes. */
  grpcMaxSendMessageBytes: number;
  /** Requests one ModelStreamInfer stream may have unanswered before the server stops reading it. */
  grpcStreamMaxInFlight: number;
  /** ModelStreamInfer streams open at once on the whole server. */
  grpcMaxInferStreams: number;
  /** Calls one gRPC connection may have open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  grpcMaxConcurrentStreams: number;
  /** gRPC connections open at once. */
  grpcMaxConnections: number;
  /** Serve ModelInfer and Predict on the HTTP/2 stream directly, without grpc-js's per-call layers. */
  grpcRawUnary: boolean;
  /** Name of the single model to serve from modelBasePath. */
  modelName: string;
  /** Directory holding numeric version subdirectories, each with model.onnx. */
  modelBasePath: string;
  /** A Triton model repository: <model>/config.pbtxt and <model>/<version>/model.onnx. */
  modelRepository: string;
  /** Largest accepted request body in bytes. */
  maxBodyBytes: number;
  /** Deepest accepted JSON nesting. */
  maxJsonDepth: number;
  /** Values of a JSON answer written per turn of the event loop; larger answers take several turns. */
  jsonSliceValues: number;
  /** JSON request bodies of at least this many bytes are parsed off the JS thread (0 = never). */
  jsonNativeOffthreadBytes: number;
  /** Largest JSON request body the JS parser may read on the JS thread; larger ones it reads on a worker thread. */
  jsonJsInlineBytes: number;
  /** Elements in all input tensors of one request, after expansion (TF's fill rule); JSON bodies stop parsing there. */
  maxRequestElements: number;
  /** BYTES (string) elements in one request's inputs, and in its outputs. */
  maxStringElements: number;
  /** Bytes of one request's output tensors, checked before they are converted or encoded. */
  maxResponseBytes: number;
  /** Bytes of request tensors and answers held by all requests in flight. */
  maxInFlightBytes: number;
  /** Values the lists of one JSON request body may hold; parsing stops at the first past it. */
  maxJsonValues: number;
  /** Inputs, outputs, raw_input_contents, parameters and shape dims of one gRPC or FlatBuffers request, counted while decoding. */
  maxRequestEntries: number;
  /** Work (bytes copied; 16 per value converted alone) per turn of the event loop when converting a large tensor for the wire. */
  wireSliceBytes: number;
  /** Longest a slice of that conversion runs, in µs, once it has done 64 KiB of work (0: no limit, units only). */
  wireSliceMicros: number;
  /** ORT intra-op threads per session (0 = ORT default: one per physical core). */
  intraOpThreads: number;
  /**
   * V8 background workers for the `ortserve` command's process (0 = auto: 1 on 1–2 CPUs, else Node's 4). Read by
   * bin/ortserve.js before the server starts (src/launch/v8-pool.ts); createServer() ignores it, since a process's
   * pool is fixed by its own `node` command line.
   */
  v8PoolSize: number;
  /** ORT inter-op threads per session (0 = ORT default). */
  interOpThreads: number;
  /** ORT graph optimizations at load. */
  graphOptimizationLevel: GraphOptimizationLevel;
  /** Execution providers to try in order before CPU, e.g. "tensorrt:0,cuda:0". */
  executionProviders: string;
  /** Log level (pino): fatal, error, warn, info, debug, trace, silent. */
  logLevel: string;
  /** One log line per inference request (model, version, protocol, status, µs). */
  accessLog: boolean;
  /** The fraction of requests the access log writes, 0..1. */
  accessLogSampleRate: number;
  /** Merge concurrent requests into batches (TF Serving's --enable_batching), for every model unless configured otherwise. */
  enableBatching: boolean;
  /** TF Serving's batching parameters file: the batch policy of every model when enableBatching is on. */
  batchingParametersFile: string;
  /** A version whose recent high-percentile compute is under this many µs runs on the JS thread (0 = never). */
  inlineBudgetMicros: number;
  /** Before the event loop sleeps waiting for I/O, the JS thread polls for up to this many µs (0 = sleep at once). */
  busyPollMicros: number;
  /** An idle native worker watches for new work this many µs before it sleeps (one at a time; 0 = sleep at once). */
  workerSpinMicros: number;
  /** Most bytes of large run outputs alive at once off V8's external-memory count (0 = every output counted). */
  uncountedOutputBytes: number;
  /** Native worker threads shared by all models (0 = one per hardware thread). */
  numBatchThreads: number;
  /** Most batches one model version runs at once on the shared workers (0 = automatic); a model's max_concurrent_runs overrides it. */
  maxConcurrentRunsPerModel: number;
  /** Stop a run (ONNX Runtime's RunOptions terminate) once every request in it is past its deadline. */
  terminateRunsPastDeadline: boolean;
  /** Queue bound of an unbatched model, in requests. */
  maxQueuedRequests: number;
  /** Deadline of a REST request, in milliseconds (0 = none). */
  restApiTimeoutInMs: number;
  /** Stop reading a REST connection while its answer is pending, so requests pipelined later are answered in order. */
  restHoldPipelined: boolean;
  /** Fresh request buffers at least this large get their pages faulted in on a native worker thread (0 = never). */
  prefaultFromBytes: number;
  /** Bytes of idle large buffers kept for reuse by later requests (0 = none: every large body a fresh buffer). */
  largeBufferPoolBytes: number;
  /** Plain FlatBuffers, KServe binary-extension and TF row-form requests to an inline numeric version take one addon call. */
  fastPath: boolean;
  /** A FlatBuffers WebSocket whose unsent replies exceed this many bytes is closed. */
  wsMaxBackpressureBytes: number;
  /** Requests one FlatBuffers WebSocket may have in flight. */
  wsMaxInFlight: number;
  /** Severity ONNX Runtime's own log (stderr) starts at. */
  ortLogLevel: OrtLogLevel;
  /** Model config file (TF Serving text format, or YAML/JSON); replaces modelBasePath/modelName when set. */
  modelConfigFile: string;
  /** Largest config accepted, in bytes: config files, management API bodies, configs in gRPC management calls. */
  maxConfigBytes: number;
  /** Seconds between re-reads of modelConfigFile (0 = read once). Fractions are accepted through createServer. */
  modelConfigFilePollWaitSeconds: number;
  /** Seconds between polls of the base paths (0 = scan once). Fractions are accepted through createServer. */
  fileSystemPollWaitSeconds: number;
  /** Seconds a new version directory must stay unchanged before it is loaded. Fractions accepted through createServer. */
  versionSettleSeconds: number;
  /** How a version replaces another: load first (availability_preserving) or unload first (resource_preserving). */
  versionSwapPolicy: SwapPolicy;
  /** Load retries after a failed load (TF Serving's --max_num_load_retries). */
  maxNumLoadRetries: number;
  maxSequenceStateBytes: number;
  /** Wait before the first load retry, doubled after each failure (TF Serving's --load_retry_interval_micros). */
  loadRetryIntervalMicros: number;
  /** Times each warmup request is replayed (TF Serving's --num_request_iterations_for_warmup); 0 = no warmup. */
  numRequestIterationsForWarmup: number;
  /** File holding the bearer token of the management API; empty = management API off. */
  managementTokenFile: string;
  /** Seconds a shutdown keeps serving with readiness false before the listeners close. Fractions through createServer. */
  drainSeconds: number;
  /** Seconds requests in flight get to finish once the listeners closed. Fractions through createServer. */
  exitTimeoutSeconds: number;
  /** PEM certificate chain of the server: TLS on the REST and gRPC ports (with sslKeyFile). */
  sslCertFile: string;
  /** PEM private key of sslCertFile. */
  sslKeyFile: string;
  /** PEM CA bundle that client certificates must chain to. */
  sslCaFile: string;
  /** Require a client certificate signed by sslCaFile (mTLS) on both ports. */
  sslClientVerify: boolean;
  /** TF Serving's SSLConfig (text format, PEM contents) for the gRPC port; overrides the ssl* files there. */
  sslConfigFile: string;
  /** File holding the bearer token the inference endpoints need; empty = no token needed. */
  inferenceTokenFile: string;
  /** Answer CORS preflights and add CORS headers on the REST port (TF Serving's flag). */
  restApiEnableCorsSupport: boolean;
  /** Origins CORS lets in: "*" or a comma-separated list. */
  restApiCorsAllowedOrigins: string;
  /** Weighted requests per model whose versions GET /v1/management/models/{m}/traffic reports as measured shares. */
  trafficShareWindow: number;
}

type Kind = 'string' | 'integer' | 'number' | 'enum' | 'boolean';

export interface Knob {
  key: keyof ServerOptions;
  flag: string;
  kind: Kind;
  default: string | number | boolean;
  doc: string;
  /** Other accepted spellings (TF Serving's names where ours differ). */
  aliases?: string[];
  min?: number;
  max?: number;
  values?: readonly string[];
}

const MiB = 1024 * 1024;

export const KNOBS: readonly Knob[] = [
  { key: 'host', flag: 'host', kind: 'string', default: '0.0.0.0', doc: 'Address to listen on (use 127.0.0.1 to accept local clients only).' },
  { key: 'restApiPort', flag: 'rest_api_port', kind: 'integer', default: 8501, min: 0, max: 65535, doc: 'REST port (TF Serving REST and KServe V2 REST); 0 picks a free port.' },
  { key: 'grpcPort', flag: 'port', kind: 'integer', default: 8500, min: 0, max: 65535, doc: 'gRPC port, as TF Serving\'s --port: KServe V2 (inference.GRPCInferenceService) and TF Serving (PredictionService, ModelService); 0 picks a free port.' },
  { key: 'grpcMaxReceiveMessageBytes', flag: 'grpc_max_receive_message_bytes', kind: 'integer', default: 64 * MiB, min: 1, max: 2 ** 31 - 1, doc: 'Largest gRPC request message accepted; larger ones fail with RESOURCE_EXHAUSTED.' },
  { key: 'grpcMaxSendMessageBytes', flag: 'grpc_max_send_message_bytes', kind: 'integer', default: 64 * MiB, min: 1, max: 2 ** 31 - 1, doc: 'Largest gRPC response message sent; a larger answer fails with RESOURCE_EXHAUSTED.' },
  { key: 'grpcStreamMaxInFlight', flag: 'grpc_stream_max_in_flight', kind: 'integer', default: 1024, min: 1, max: 1_048_576, doc: 'Requests one ModelStreamInfer stream may have unanswered; past it the server stops reading that stream until answers go out (HTTP/2 flow control then holds the client back).' },
  { key: 'grpcMaxInferStreams', flag: 'grpc_max_infer_streams', kind: 'integer', default: 4096, min: 1, max: 1_048_576, doc: 'ModelStreamInfer streams open at once on the whole server; past it a new stream fails at once with UNAVAILABLE (ERR_QUEUE_FULL) naming this flag. An idle stream holds about 10 KB.' },
  { key: 'grpcMaxConcurrentStreams', flag: 'grpc_max_concurrent_streams', kind: 'integer', default: 256, min: 1, max: 2 ** 31 - 1, doc: 'Calls (HTTP/2 streams) one gRPC connection may have open at once, announced to the client in HTTP/2 SETTINGS: a client\'s further calls wait on its side until one ends; a client that ignores the setting has them refused (REFUSED_STREAM).' },
  { key: 'grpcMaxConnections', flag: 'grpc_max_connections', kind: 'integer', default: 1024, min: 1, max: 1_048_576, doc: 'gRPC connections open at once; the calls of a connection past it fail with UNAVAILABLE (ERR_QUEUE_FULL) naming this flag, and that connection is closed after a second.' },
  { key: 'grpcRawUnary', flag: 'grpc_raw_unary', kind: 'boolean', default: true, doc: 'Serve KServe ModelInfer and TF Serving Predict on the HTTP/2 stream directly: the same handler, limits, deadline, cancellation and errors, without grpc-js\'s per-call layers (about a third less server CPU per call on a tiny model). Calls asking for compression, other methods, and a grpc-js version whose internals differ take grpc-js\'s path. Off: every call goes through grpc-js.' },
  { key: 'modelName', flag: 'model_name', kind: 'string', default: '', doc: 'Model name to serve from --model_base_path; default: the last path component of --model_base_path. When that directory holds model directories instead of version directories, every model under it is served and this is ignored.' },
  { key: 'modelBasePath', flag: 'model_base_path', kind: 'string', default: '', doc: 'Directory with numeric version subdirectories (<base>/<version>/model.onnx), or a repository of such model directories.' },
  { key: 'modelRepository', flag: 'model_repository', kind: 'string', default: '', doc: 'A Triton model repository, served unchanged: every <model>/ directory with <model>/config.pbtxt (Triton\'s ModelConfig text format; a missing one is auto-completed from the model, as Triton\'s --strict-model-config=false) and <model>/<version>/model.onnx. Fields ortserve does not act on are named in the model\'s status; a config.pbtxt that cannot be used, or that contradicts its model, fails that model alone. May be given beside --model_config_file (model names must differ); --model_base_path is then ignored.' },
  { key: 'maxBodyBytes', flag: 'max_body_bytes', kind: 'integer', default: 64 * MiB, min: 1, max: 2 ** 31 - 1, doc: 'Largest request body accepted; larger bodies get 413.' },
  { key: 'maxJsonDepth', flag: 'max_json_depth', kind: 'integer', default: 64, min: 1, max: 10_000, doc: 'Deepest JSON nesting accepted in a request body; deeper gets 400.' },
  { key: 'jsonNativeOffthreadBytes', flag: 'json_native_offthread_bytes', kind: 'integer', default: MiB, min: 0, max: 2 ** 31 - 1, doc: 'TF Serving :predict and KServe /infer JSON bodies of at least this many bytes are parsed by the native JSON reader on a libuv worker thread, so a large body does not block the JS thread while it is read (tensors are still made on the JS thread, in one typed copy per tensor); smaller bodies are parsed inline (at most a few ms at this size, and no thread hand-off). 0 = always inline.' },
  { key: 'jsonJsInlineBytes', flag: 'json_js_inline_bytes', kind: 'integer', default: 128 * 1024, min: 0, max: 2 ** 31 - 1, doc: 'Largest TF Serving :predict or KServe /infer JSON body that the JS JSON parser may read on the JS thread, after the native reader declined it (a syntax error, a duplicate key, a limit) or its decode failed. A larger body never is: a decode error on the native tree is final (worded as the JS tree would), and a body the native reader declines is read by the JS parser on a worker thread, for its exact error. The JS parser reads about 20 µs per KiB here, so the default holds the JS thread for about 3 ms at most.' },
  { key: 'maxRequestElements', flag: 'max_request_elements', kind: 'integer', default: DEFAULT_SIZE_LIMITS.maxRequestElements, min: 1, max: 2 ** 31 - 1, doc: 'Tensor elements one request may carry in all its inputs, counted after expansion (a TF Serving tensor whose one value fills its shape counts the whole shape); more get 413 / RESOURCE_EXHAUSTED (ERR_TOO_LARGE) before anything is allocated for them. A JSON body declaring such a shape before its data is refused before the data is parsed.' },
  { key: 'maxJsonValues', flag: 'max_json_values', kind: 'integer', default: DEFAULT_SIZE_LIMITS.maxJsonValues, min: 1, max: 2 ** 31 - 1, doc: 'Values the lists of one JSON request body may hold in all (JSON costs the event-loop thread per value, binary tensor data does not); parsing stops at the first value past it, with 413 (ERR_TOO_LARGE). Send larger tensors as binary data (KServe binary extension, gRPC, FlatBuffers).' },
  { key: 'jsonSliceValues', flag: 'json_slice_values', kind: 'integer', default: 16_384, min: 1, max: 2 ** 31 - 1, doc: 'Values of a JSON answer (TF Serving and KServe REST) written per turn of the event loop: a larger answer is built over several turns, so requests of other clients are served in between instead of waiting for the whole text (a million float32 values take about half a second to write). Answers this size or smaller go out in the turn their run finished.' },
  { key: 'maxRequestEntries', flag: 'max_request_entries', kind: 'integer', default: DEFAULT_SIZE_LIMITS.maxRequestEntries, min: 1, max: 2 ** 31 - 1, doc: 'Entries one gRPC or FlatBuffers request may carry in all: inputs, requested outputs, raw_input_contents, parameters and shape dimensions; counted while the message is decoded, each before the object for it is made, so a message of millions of empty entries is refused (413 / RESOURCE_EXHAUSTED, ERR_TOO_LARGE) before it costs the heap. (JSON bodies are bounded by --max_json_values.)' },
  { key: 'wireSliceBytes', flag: 'wire_slice_bytes', kind: 'integer', default: DEFAULT_SIZE_LIMITS.wireSliceBytes, min: 1024, max: 2 ** 31 - 1, doc: 'Work done per turn of the event loop when a large tensor is converted for the wire or from it: gRPC requests over this size are decoded in slices (typed fields, packed varints), TF Serving fills (one value for a whole shape) written, misaligned gRPC tensor bytes copied, and answers encoded (TF Serving Predict typed fields, KServe raw_output_contents, FlatBuffers, BYTES tensors on every binary wire form), so other clients are served in between (8M int64 values in one piece held the thread over 100 ms). Counted in bytes copied, 16 per value converted one at a time (a varint, a string element). Work this size or smaller is done in the turn it starts, as before.' },
  { key: 'wireSliceMicros', flag: 'wire_slice_micros', kind: 'integer', default: DEFAULT_WIRE_SLICE_MICROS, min: 0, max: 1_000_000, doc: 'A slice of the conversions --wire_slice_bytes divides also ends once it has run this many µs, as long as it has done 64 KiB of work (smaller conversions are always done in the turn they start). Why: work units are a proxy for time, and a poor one at times: the same slice of varints took 1.3 ms in code V8 had optimised and 10 ms before (a converter\'s first large request, or one after V8 dropped its optimised code), and a collection or page faults inside a slice lengthen it too. The limit is checked between steps of 64 KiB of work (4,096 values converted one at a time), so a slice may run over it by one step. The same limit bounds one turn of writing a large HTTP answer (REST, FlatBuffers) to its socket: the rest goes on the next turn. 0 = no time limit (slices end by --wire_slice_bytes only, and an answer is written for as long as the socket takes it).' },
  { key: 'maxStringElements', flag: 'max_string_elements', kind: 'integer', default: DEFAULT_SIZE_LIMITS.maxStringElements, min: 1, max: 2 ** 31 - 1, doc: 'BYTES (string) elements one request may carry in its inputs, and its outputs may hold; more get 413 / RESOURCE_EXHAUSTED (ERR_TOO_LARGE), outputs before any is converted. Each element costs a JS object on the event-loop thread: at the default, converting one request\'s strings holds it a few ms.' },
  { key: 'maxResponseBytes', flag: 'max_response_bytes', kind: 'integer', default: DEFAULT_SIZE_LIMITS.maxResponseBytes, min: 1, max: 2 ** 31 - 1, doc: 'Bytes one answer\'s output tensors may hold (numeric data; strings: their bytes plus 4 each), checked after the run and before they are converted or encoded; more get 413 / RESOURCE_EXHAUSTED (ERR_TOO_LARGE).' },
  { key: 'maxInFlightBytes', flag: 'max_in_flight_bytes', kind: 'integer', default: DEFAULT_SIZE_LIMITS.maxInFlightBytes, min: 1, max: 2 ** 50, doc: 'Bytes that all requests in flight may hold together: request bodies from their first byte (a body its whole Content-Length at once), gRPC and WebSocket messages once received, decoded tensors beyond their body, and answers; a request that would go over it fails at once with a retryable 503 / UNAVAILABLE (ERR_QUEUE_FULL) naming this flag (a refused body is read and dropped first). Gauge: ortserve_in_flight_bytes.' },
  { key: 'intraOpThreads', flag: 'intra_op_threads', kind: 'integer', default: 0, min: 0, max: 1024, aliases: ['tensorflow_intra_op_parallelism'], doc: 'ONNX Runtime intra-op threads per session; 0 = ORT default (one per physical core). Use 1 when benchmarking on a small machine.' },
  { key: 'v8PoolSize', flag: 'v8_pool_size', kind: 'integer', default: 0, min: 0, max: 1024, doc: 'V8 background worker threads (the garbage collector\'s helpers) of the `ortserve` command\'s process; 0 = auto: 1 on a machine of 1–2 CPUs (the scheduler\'s affinity, lowered to a cgroup CPU quota), Node\'s own 4 elsewhere. Node fixes the pool when it starts, so when the size wanted differs from the one node was started with, the command starts the server in a child `node --v8-pool-size=N` and stands in for it: signals are passed on, its exit code or signal is returned, and the server drains if the launcher is killed. No child is started when node\'s own `--v8-pool-size` is set (command line or NODE_OPTIONS: it wins), when the size wanted is Node\'s 4, or when the command was started with an IPC channel or node\'s --inspect. Why: on 2 CPUs the 4 workers took the cores from the JS thread during a large request\'s collections; 1 lowered the gRPC rows\' median stalls from 6.3–14.5 ms to 3.4–8.6 ms (README, Guarantees and limits). Command line only (createServer() runs in its host\'s process).' },
  { key: 'interOpThreads', flag: 'inter_op_threads', kind: 'integer', default: 0, min: 0, max: 1024, aliases: ['tensorflow_inter_op_parallelism'], doc: 'ONNX Runtime inter-op threads per session; 0 = ORT default.' },
  { key: 'graphOptimizationLevel', flag: 'graph_optimization_level', kind: 'enum', default: 'all', values: GRAPH_OPTIMIZATION_LEVELS, doc: 'ONNX Runtime graph optimizations applied when a model loads.' },
  { key: 'executionProviders', flag: 'execution_providers', kind: 'string', default: '', doc: 'Comma-separated providers to try before CPU, with an optional device id: e.g. "tensorrt:0,cuda:0". One that cannot load is skipped, with its reason in the log and in model metadata; CPU is always last.' },
  { key: 'enableBatching', flag: 'enable_batching', kind: 'boolean', default: false, doc: 'Merge concurrent requests to a model into one ONNX Runtime run (dynamic batching); only for models whose dim 0 is a batch axis and that keep no state. Batch knobs: --batching_parameters_file or the model config file.' },
  { key: 'batchingParametersFile', flag: 'batching_parameters_file', kind: 'string', default: '', doc: 'With --enable_batching: the batch policy for every model, TF Serving\'s text format (max_batch_size { value: 32 } batch_timeout_micros { value: 2000 } ...) or the same in YAML/JSON (.yaml, .yml, .json). A model\'s own batching section in the model config file overrides it. Default: the defaults in the README\'s batching table.' },
  { key: 'inlineBudgetMicros', flag: 'inline_budget_micros', kind: 'integer', default: 200, min: 0, max: 100_000, doc: 'The JS thread never waits on inference longer than this: a version whose 95th-percentile compute over its last 64 runs is under it (after 16 runs, warmup included), with batching off and none of its requests queued, runs synchronously on the JS thread, skipping two thread hand-offs that cost more than a tiny model; an inline run over it sends the version back to the native workers for 250 ms. A request with more than twice the input elements of any run measured within it runs on the workers too. 0 = every run on the workers.' },
  { key: 'busyPollMicros', flag: 'busy_poll_micros', kind: 'integer', default: 100, min: 0, max: 1_000_000, doc: 'Busy polling: each time the event loop is about to sleep waiting for I/O, the JS thread first polls for up to this many µs (returning at once when a request, a completion or a timer is due), so a request that follows within the gap finds caches and predictors warm (on a VM, a sleep between requests added ~40-140 µs to a tiny model\'s next request). Adaptive: a poll that finds nothing turns polling off until the loop once sleeps no longer than the budget, so an idle server, or one whose requests come further apart, spends one budget per change of pace, not one per request; at saturation the loop never sleeps. The default covers one client\'s round trip on loopback. 0 = off. Unavailable (logged) when the addon was built without libuv\'s header.' },
  { key: 'workerSpinMicros', flag: 'worker_spin_micros', kind: 'integer', default: 0, min: 0, max: 1_000_000, doc: 'Queued runs: an idle native worker watches for new work for up to this many µs before it sleeps (one worker at a time; the others sleep at once), so a request queued within the gap starts without a thread wake-up and on a warm core. Trades CPU for latency when requests come one after another; costs nothing while workers are busy. 0 = sleep at once.' },
  { key: 'numBatchThreads', flag: 'num_batch_threads', kind: 'integer', default: 0, min: 0, max: 1024, doc: 'Native worker threads shared by every model (they form batches and run ONNX Runtime); 0 = one per hardware thread.' },
  { key: 'maxConcurrentRunsPerModel', flag: 'max_concurrent_runs_per_model', kind: 'integer', default: 0, min: 0, max: 1024, doc: 'Most batches (or single requests) one model version runs at once on the shared native workers; its further requests wait for its own runs, not in front of other models. 0 = automatic: no limit while one model version is loaded (it may use every worker), else one worker less than --num_batch_threads (at least 1), so a slow model always leaves a worker to the others. A model\'s max_concurrent_runs in the model config file overrides it.' },
  { key: 'terminateRunsPastDeadline', flag: 'terminate_runs_past_deadline', kind: 'boolean', default: true, doc: 'Stop a running ONNX Runtime run (RunOptions terminate) once every request in it is past its deadline, and answer those requests DEADLINE_EXCEEDED (504) at once, freeing the worker. A batch carrying a request with time left (or no deadline) is never stopped. ORT stops between graph nodes, so one long kernel finishes first. Off: a request that started before its deadline runs to the end.' },
  { key: 'maxQueuedRequests', flag: 'max_queued_requests', kind: 'integer', default: 1024, min: 1, max: 16_777_216, doc: 'Requests an unbatched model may have waiting; past it requests fail at once with 503 (batched models: max_enqueued_batches × max_batch_size).' },
  { key: 'restApiTimeoutInMs', flag: 'rest_api_timeout_in_ms', kind: 'integer', default: 30_000, min: 0, max: 86_400_000, doc: 'Deadline of a REST request: one not started by then fails with 504 (0 = none). A request may ask for less with the header x-request-timeout-ms.' },
  { key: 'fastPath', flag: 'fast_path', kind: 'boolean', default: true, doc: 'Requests with nothing unusual, to a numeric model version that runs inline now, are read, run and answered in one addon call, with no JS objects for their tensors, the answer written by C++ straight from ONNX Runtime\'s outputs: FlatBuffers (HTTP and WebSocket) without timeout, priority, sequence or BYTES tensors; KServe binary-extension /infer whose JSON header (at most 4 KiB) has only an id, inputs with binary_data_size and binary outputs; TF Serving :predict bodies of at most 64 KiB that are exactly {"instances": rows of numbers}, to a model of one float32 input and one output. Everything else, errors included, takes the general path, which answers as before (the answers are the same bytes). false sends every request the general way (to rule the fast path out when debugging).' },
  { key: 'prefaultFromBytes', flag: 'prefault_from_bytes', kind: 'integer', default: 1024 * 1024, min: 0, max: 2 ** 50, doc: 'Large buffers a request fills on the event-loop thread have their pages faulted in on a native worker thread meanwhile: HTTP bodies (REST, FlatBuffers) with a Content-Length at least this large, gRPC and FlatBuffers answers, BYTES answers and decoded typed gRPC fields this large; and after a FlatBuffers WebSocket message this large, one spare buffer of its size class (the next power of two, at most --max_body_bytes) is prepared for the next one (dropped after 30 s without one). On a VM the first write to fresh memory costs ~0.6 ms per MB in page faults, on top of the copy: a 32-64 MB body or answer cost the event-loop thread tens of ms. Costs a libuv thread-pool thread for the walk and, with WebSocket clients, the spare\'s memory. 0 = never (the buffers are still allocated without zeroing).' },
  { key: 'uncountedOutputBytes', flag: 'uncounted_output_bytes', kind: 'integer', default: 256 * MiB, min: 0, max: 2 ** 50, doc: 'Run outputs of 1 MiB or more that the addon hands to JS over native memory (ORT\'s numeric outputs, a queued run\'s BYTES elements) are kept out of V8\'s external-memory count while the bytes so kept, alive at once, stay within this budget; past it outputs are counted as usual. Why: V8 starts a collection each time ~64 MB of new external memory has been counted since its last one, whatever the JS heap\'s size, so every 32-64 MB output started one: 5-15 ms pauses of the event loop per large request. What it costs: up to this many bytes of outputs no longer referenced may wait for a collection that the JS heap\'s own growth starts. 0 = count every output (V8\'s default).' },
  { key: 'largeBufferPoolBytes', flag: 'large_buffer_pool_bytes', kind: 'integer', default: 128 * MiB, min: 0, max: 2 ** 50, doc: 'HTTP request bodies (REST, FlatBuffers) of at least 1 MiB with a Content-Length, and FlatBuffers WebSocket messages as large, are read into buffers reused from request to request (size classes of powers of two up to --max_body_bytes), given back when their request got a 2xx answer, written in full (the WebSocket spare of --prefault_from_bytes is then not needed); so are gRPC ModelInfer and Predict request messages (given back once answered OK) and their encoded replies (given back when the call\'s stream closes), on the raw unary path (--grpc_raw_unary); after an error, a timeout or an abort the buffer is left to the garbage collector. Why: V8 starts collections once ~64 MB of new ArrayBuffers have been made since the last one, whatever the JS heap size, and each large body was one: 5-10 ms pauses of the event loop per ~64 MB. This bounds the bytes of buffers kept idle between requests (the default: two bodies of the default --max_body_bytes); a buffer unused for 30 s is dropped, so an idle server keeps none. Gauge: ortserve_large_buffer_pool_bytes. 0 = off.' },
  { key: 'restHoldPipelined', flag: 'rest_hold_pipelined', kind: 'boolean', default: true, doc: 'HTTP/1.1 pipelining: stop reading a REST connection from the moment a request has fully arrived and is still unanswered until its answer is written, so a request the client sends behind it waits in the socket and is answered in order, never dropped. Without it, uWebSockets.js closes the connection with no answer to either. Limits either way: two or more requests waiting are read together when it resumes (the connection closes after the answer in progress), and requests in the same write as a queued inference request close the connection (README, Guarantees and limits). Cost: a client that disconnects while its answer is pending is noticed only when the answer is written, so its queued request still runs (its deadline still bounds it); false restores dropping it before it runs.' },
  { key: 'modelConfigFile', flag: 'model_config_file', kind: 'string', default: '', doc: 'Model config file listing the models to serve (name, base_path, version policy, labels, batching, session options): TF Serving\'s text format (model_config_list { config { ... } }), or the same in YAML/JSON for .yaml, .yml and .json files. When set, --model_base_path and --model_name are ignored.' },
  { key: 'modelConfigFilePollWaitSeconds', flag: 'model_config_file_poll_wait_seconds', kind: 'integer', default: 0, min: 0, max: 86_400, doc: 'Seconds between reads of --model_config_file; a changed file (read the same twice in a row) replaces the config and models no longer listed are unloaded. 0 = read once at start.' },
  { key: 'maxConfigBytes', flag: 'max_config_bytes', kind: 'integer', default: DEFAULT_MAX_CONFIG_BYTES, min: 1024, max: 256 * MiB, doc: 'Largest model config accepted, in bytes: --model_config_file and --batching_parameters_file (a larger file is a config error, read no further than this), and the body of a management API call or a config in a gRPC management call (larger gets 413 / RESOURCE_EXHAUSTED). Whatever the size, a config may nest 32 levels, hold 10,000 entries per list or message and 250,000 values in all, and expand YAML aliases 100 times.' },
  { key: 'fileSystemPollWaitSeconds', flag: 'file_system_poll_wait_seconds', kind: 'integer', default: 1, min: 0, max: 86_400, doc: 'Seconds between polls of each model\'s base path for new, deleted or repaired version directories. 0 = scan once at start.' },
  { key: 'versionSettleSeconds', flag: 'version_settle_seconds', kind: 'integer', default: 1, min: 0, max: 3_600, doc: 'A new version directory is loaded only after its files (names, sizes, modification times) have not changed for this long, so a half-copied model is never loaded. 0 = at once.' },
  { key: 'versionSwapPolicy', flag: 'version_swap_policy', kind: 'enum', default: 'availability_preserving', values: SWAP_POLICIES, doc: 'availability_preserving: a new version loads and warms up before the old one stops serving (two in memory for a while); resource_preserving: the old one unloads first (requests get 503 in between). A model\'s config may override it.' },
  { key: 'maxSequenceStateBytes', flag: 'max_sequence_state_bytes', kind: 'integer', default: 256 * MiB, min: 0, max: 2 ** 50, doc: 'Bytes of implicit sequence state (sequence_batching.state) one stateful model may hold in native memory, all its versions together; a sequence_start that would pass it is refused with 503 / UNAVAILABLE (ERR_SEQUENCE_TABLE_FULL, retryable) until a sequence ends or idles out.' },
  { key: 'maxNumLoadRetries', flag: 'max_num_load_retries', kind: 'integer', default: 5, min: 0, max: 1_000, doc: 'Retries after a version fails to load; a version whose files change is tried again from scratch.' },
  { key: 'loadRetryIntervalMicros', flag: 'load_retry_interval_micros', kind: 'integer', default: 60_000_000, min: 0, max: 86_400_000_000, doc: 'Wait before the first load retry, in microseconds; it doubles after each failure (at most 32 times this).' },
  { key: 'numRequestIterationsForWarmup', flag: 'num_request_iterations_for_warmup', kind: 'integer', default: 1, min: 0, max: 1_000, doc: 'Times each request in a version\'s warmup.json is replayed before the version becomes AVAILABLE; 0 = no warmup.' },
  { key: 'managementTokenFile', flag: 'management_token_file', kind: 'string', default: '', doc: 'File holding the bearer token (16+ characters) that turns on the management API (config reload, KServe repository index/load/unload); empty = off.' },
  { key: 'drainSeconds', flag: 'drain_seconds', kind: 'integer', default: 5, min: 0, max: 3_600, doc: 'On SIGTERM or SIGINT (or server.drain()): readiness turns false at once (/v2/health/ready, model readiness, gRPC ServerReady and grpc.health.v1), and everything that still arrives is served for this many seconds, the time a load balancer needs to stop sending; then the listeners close.' },
  { key: 'exitTimeoutSeconds', flag: 'exit_timeout_seconds', kind: 'integer', default: 30, min: 0, max: 86_400, doc: 'Once the listeners have closed, the requests in flight and queued get this many seconds to finish (new requests on open connections get 503 / UNAVAILABLE, ERR_SHUTTING_DOWN); those still unanswered then get the same retryable answer, models unload and the CLI exits (0; 1 when requests had to be cut). Triton\'s --exit-timeout-secs.' },
  { key: 'sslCertFile', flag: 'ssl_cert_file', kind: 'string', default: '', doc: 'PEM certificate (chain) of the server; with --ssl_key_file it turns on TLS on both ports: HTTPS and wss:// on the REST port, TLS on the gRPC port. A file that is missing, unreadable or not a certificate stops the start with an error naming this flag.' },
  { key: 'sslKeyFile', flag: 'ssl_key_file', kind: 'string', default: '', doc: 'PEM private key of --ssl_cert_file (it must match it). Never logged.' },
  { key: 'sslCaFile', flag: 'ssl_ca_file', kind: 'string', default: '', doc: 'PEM CA bundle that client certificates must chain to (with --ssl_client_verify).' },
  { key: 'sslClientVerify', flag: 'ssl_client_verify', kind: 'boolean', default: false, doc: 'Mutual TLS: both ports refuse a client without a certificate signed by --ssl_ca_file (the handshake fails).' },
  { key: 'sslConfigFile', flag: 'ssl_config_file', kind: 'string', default: '', doc: 'TF Serving\'s SSLConfig in text format for the gRPC port: server_key, server_cert and custom_ca hold PEM contents (not paths), client_verify turns on mTLS. Overrides the --ssl_* files for gRPC; the REST port keeps those.' },
  { key: 'inferenceTokenFile', flag: 'inference_token_file', kind: 'string', default: '', doc: 'File holding a bearer token (16+ characters) that every inference call must carry (Authorization: Bearer <token>; gRPC metadata authorization): REST :predict/:classify/:regress and /infer, FlatBuffers HTTP and the WebSocket upgrade, gRPC ModelInfer, ModelStreamInfer, Predict, Classify, Regress, MultiInference; others get 401 / UNAUTHENTICATED. Health, readiness, metadata, model status and metrics stay open; the management API keeps --management_token_file. Empty = off.' },
  { key: 'restApiEnableCorsSupport', flag: 'rest_api_enable_cors_support', kind: 'boolean', default: false, doc: 'CORS on the REST port (TF Serving\'s flag): OPTIONS preflights are answered (204, or 403 for an origin not allowed), answers to an allowed Origin carry Access-Control-Allow-Origin, and a request whose Origin is not allowed gets 403 (ERR_ORIGIN_NOT_ALLOWED) without running.' },
  { key: 'restApiCorsAllowedOrigins', flag: 'rest_api_cors_allowed_origins', kind: 'string', default: '*', doc: 'With --rest_api_enable_cors_support: "*" (any origin) or a comma-separated list of origins (scheme://host[:port]) allowed to call.' },
  { key: 'trafficShareWindow', flag: 'traffic_share_window', kind: 'integer', default: 1000, min: 1, max: 1_000_000, doc: 'Requests per model remembered for the measured shares that GET /v1/management/models/{m}/traffic reports next to the traffic weights (8 bytes each, only for models with weights).' },
  { key: 'wsMaxBackpressureBytes', flag: 'ws_max_backpressure_bytes', kind: 'integer', default: 16 * MiB, min: 1024, max: 2 ** 31 - 1, doc: 'A FlatBuffers WebSocket client that stops reading is disconnected once this many bytes of replies wait unsent (no unbounded buffering).' },
  { key: 'wsMaxInFlight', flag: 'ws_max_in_flight', kind: 'integer', default: 1024, min: 1, max: 1_048_576, doc: 'Requests one FlatBuffers WebSocket may have in flight; more are answered at once with ERR_QUEUE_FULL.' },
  { key: 'ortLogLevel', flag: 'ort_log_level', kind: 'enum', default: 'fatal', values: ORT_LOG_LEVELS, doc: 'Severity ONNX Runtime\'s own log on stderr starts at (process-wide). Default fatal: ORT\'s run errors are already returned to the caller, and logging each one would let bad requests flood stderr; use warning when debugging a model.' },
  { key: 'logLevel', flag: 'log_level', kind: 'enum', default: 'info', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], doc: 'Log level of the JSON log on stdout.' },
  { key: 'accessLog', flag: 'access_log', kind: 'boolean', default: false, doc: 'Write one JSON log line (level info, msg "access") per inference request that reached a model: model, version, protocol, status (HTTP status, or gRPC status name), micros, and code on failure. Off by default.' },
  { key: 'accessLogSampleRate', flag: 'access_log_sample_rate', kind: 'number', default: 1, min: 0, max: 1, doc: 'With --access_log: the fraction of requests logged, chosen at random (0.01 logs about one in a hundred), so the log can stay on under load.' },
];

export function defaultOptions(): ServerOptions {
  const options: Record<string, string | number | boolean> = {};
  for (const knob of KNOBS) options[knob.key] = knob.default;
  return options as unknown as ServerOptions;
}
