// SessionObject: the JS class wrapping one loaded ModelSession and its request queue (metadata, run, stats, release).
#pragma once

#include <napi.h>

#include <memory>
#include <optional>

#include "core/fb_direct_codec.h"
#include "core/kserve_direct_codec.h"
#include "core/tf_direct_codec.h"
#include "core/batch_scheduler.h"
#include "core/sequence_table.h"
#include "ort/model_session.h"

namespace ortserve {

class SessionObject : public Napi::ObjectWrap<SessionObject> {
 public:
  static Napi::Function Define(Napi::Env env);
  // Creates the JS object for a session that was just loaded, with its queue already added to the scheduler.
  // `sequences`: the version's sequence table when the model has sequence batching, else null.
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<ModelSession> session, std::shared_ptr<ModelQueue> queue,
                                  std::shared_ptr<SequenceTable> sequences);

  explicit SessionObject(const Napi::CallbackInfo& info);

 private:
  // [sync] metadata() → {inputs, outputs, providers, producerName, graphName, domain, description, modelVersion
  // (-1 when the model sets none), custom, batching: {enabled, maxBatchSize, ...}}. Throws if released.
  Napi::Value Metadata(const Napi::CallbackInfo& info);
  // [async] run(inputs, outputNames?, options?) → Promise<Array<{name, dtype, shape, data}> & {info}>.
  //   inputs: Array<{name, dtype, shape, data: TypedArray | Uint8Array[] | Uint8Array with spans: Uint32Array of
  //   (offset, length) per string element}> naming every model input once, in any
  //   order; numeric data is used in place (pinned, not copied; do not write to it until the promise settles).
  //   outputNames: string[] (default: all outputs, in model order).
  //   options: {timeoutMicros?: number (fail with DEADLINE_EXCEEDED if not started by then: the scheduler's
  //   deadline thread fails it at that time even while every worker is busy; and, with terminateRunsPastDeadline
  //   on, stop its run once it and every other request in its batch are past their deadlines), cancellable?: boolean
  //   (the promise gets a cancel() method that drops the request if it has not started), reportAddresses?: boolean
  //   (adds `inputAddresses` and per-output `address`, for zero-copy checks), sequence?: {id: bigint | string,
  //   start?, end?} (a request of a sequence, for a model loaded with options.sequence: the control and state inputs
  //   are added by the sequence table, the state outputs kept there and left out of the answer unless named in
  //   outputNames; the request is refused with {code: 'ALREADY_EXISTS' | 'FAILED_PRECONDITION' | 'CAPACITY'} as
  //   SequenceTable::Begin says, thrown synchronously)}.
  //   The request joins the model's native queue; a worker runs it (merged with others when batching is on) and
  //   the promise resolves with outputs whose numeric data is an ArrayBuffer over ORT's own output memory (a view
  //   of the batch output when batched), freed by the ArrayBuffer's finalizer, and whose strings are `data`, one
  //   ArrayBuffer holding each element as its 4-byte little-endian length then its bytes (the BYTES wire form), plus
  //   `lengths`, a Uint32Array of each one's byte length (the caller makes any views: cheaper in JS than one N-API
  //   call per element; an output holding an element of 4 GiB or more comes as a view per element); `info` has batchRows,
  //   batchRequests, queueMicros and computeMicros.
  //   Throws synchronously (TypeError, code INVALID_ARGUMENT) for malformed arguments, unknown/missing/duplicate
  //   inputs, unknown outputs, unequal dim 0 across inputs of a batched model, or a released session. Rejects
  //   with {code: 'UNAVAILABLE'} at once when the queue is full, {code: 'DEADLINE_EXCEEDED'} when the deadline
  //   passed (or it was cancelled) before it ran or its run was stopped past the deadline, or with ORT's
  //   {code, ortCode, message} when the run fails.
  Napi::Value Run(const Napi::CallbackInfo& info);
  // [sync] runInline(inputs, outputNames?, options?) → the array run() resolves with, or undefined without running
  //   when the request must take the queue instead: batching is on for this version, or options.requireEmptyQueue
  //   is set and a request accepted by run() is still waiting for a worker (the switch to inline overtakes nobody).
  //   Runs ONNX Runtime on the calling (JS) thread, blocking it for the run: meant only for versions whose runs are
  //   known to be short (the TS layer decides; see src/engine/execution-mode.ts). Arguments as run(); options takes
  //   reportAddresses, maxOutputStrings, maxOutputBytes and requireEmptyQueue (no deadline: the caller checks it
  //   first; an inline run is not interrupted).
  //   Inputs are read in place for the call's duration; outputs are ArrayBuffers over ORT's memory as with run().
  //   `info` has batchRows 1 × batchRequests 1, queueMicros 0, the run's computeMicros (wall clock) and
  //   threadCpuMicros (the JS thread's CPU time over the run: the run's cost without time the thread was preempted).
  //   Throws (TypeError, code INVALID_ARGUMENT) as run() does for malformed arguments, {code: 'RESOURCE_EXHAUSTED'}
  //   for outputs over the bounds, and ORT's {code, ortCode, message} (code INFERENCE) when the run fails.
  Napi::Value RunInline(const Napi::CallbackInfo& info);
  // [sync] runDirect(datas, io, outputIndices, requireEmptyQueue, measureCpu) → Array of output data, or undefined
  //   without running when the request must take the queue (as runInline). The lean form of runInline for the hot
  //   path of numeric models: no objects in, few out, no property lookups by name.
  //   datas: Array<TypedArray>, one per model input in model order, each of the type the input's dtype uses
  //   (float32 → Float32Array, int64 → BigInt64Array, bool → Uint8Array, float16/bfloat16 → Uint16Array, ...);
  //   read in place for the call's duration. String inputs are not accepted (use runInline).
  //   io: Float64Array, in and out. In: [maxOutputStrings (-1 none), maxOutputBytes (-1 none), then per input its
  //   rank followed by its dims]. Out: [computeMicros (wall clock), threadCpuMicros (-1 when measureCpu is false),
  //   then per output its rank followed by its dims]; it must be long enough for the outputs' dims.
  //   outputIndices: Uint32Array of model output indices in the order wanted, or undefined for every output in
  //   model order. requireEmptyQueue as runInline's option; measureCpu: read the thread CPU clock around the run (a
  //   system call each side, so the caller asks only when it needs the figure).
  //   Returns per output: an ArrayBuffer for numeric data (a copy when small, else over ORT's memory, freed by its
  //   finalizer), or Array<Uint8Array> for strings.
  //   Throws (TypeError, code INVALID_ARGUMENT) for malformed arguments (wrong count or type of data, a byte length
  //   the dims do not give, io too short), {code: 'RESOURCE_EXHAUSTED'} for outputs over the bounds, and ORT's
  //   {code, ortCode, message} when the run fails.
  Napi::Value RunDirect(const Napi::CallbackInfo& info);
  // [sync] runFlatBuffers(message, io, requireEmptyQueue, version, protocolVersion) → Buffer, or undefined having
  //   run nothing. The FlatBuffers fast path: reads a whole InferRequest in place (core/fb_direct_codec.h), runs it
  //   on the JS thread as runDirect does, and writes the InferResponse straight from ORT's outputs. Returns
  //   undefined, so that the caller takes the general path (which decodes the same bytes and answers or refuses them
  //   in full), when the request must take the queue (as runDirect), when the codec declines the message (malformed,
  //   or fields the general path owns: timeout, priority, sequence, BYTES), when its inputs are not exactly the
  //   model's (names, dtypes, the dims the model fixes, data lengths, data not aligned to its element size), when
  //   they hold more than maxRequestElements elements, when an output it names is unknown or repeated, or when an
  //   output it would return is not numeric.
  //   message: Uint8Array, read in place for the call's duration (copied first when it starts misaligned and is at
  //   most 64 KiB: AlignedBody). io: Float64Array of at least 4, in and out. In:
  //   [unused, maxOutputBytes (-1 none), maxRequestElements, cpuThreshold: read the thread CPU clock around the run
  //   when the inputs hold more elements than this (-1: always)]. Out: [computeMicros, threadCpuMicros (-1 when not
  //   read), the inputs' element count, the first input's first dim (1 for a scalar)]. version: the version number
  //   the answer names; protocolVersion: the protocol_version it carries.
  //   Throws as runDirect does: TypeError (code INVALID_ARGUMENT) for malformed arguments, {code:
  //   'RESOURCE_EXHAUSTED'} for outputs over maxOutputBytes, ORT's {code, ortCode, message} when the run fails.
  Napi::Value RunFlatBuffers(const Napi::CallbackInfo& info);
  // [sync] runKserveBinary(body, headerLength, io, requireEmptyQueue, model, version) → Buffer, or undefined having
  //   run nothing. The KServe binary-extension fast path, as runFlatBuffers: reads the JSON header
  //   (core/kserve_direct_codec.h) and the tensors' bytes after it in place, runs, and returns the answer: the JSON
  //   header the general path would write (naming `model` and `version`), then every output's raw bytes. Declines
  //   (undefined) as runFlatBuffers does, and for headers over 4 KiB, any key the fast path does not know (timeouts,
  //   priorities, sequences, route keys, JSON data, classification), an output answered as JSON, and names or ids
  //   JSON would escape. io as runFlatBuffers', at least 5 long: out, io[4] is the answer's JSON header length.
  //   Throws as runFlatBuffers does.
  Napi::Value RunKserveBinary(const Napi::CallbackInfo& info);
  // [sync] runTfPredict(body, io, requireEmptyQueue, maxDepth, maxValues) → Buffer, or undefined having run nothing.
  //   The TF Serving :predict fast path, as runFlatBuffers, for a model of one float32 input and one output of rank
  //   1 or more (of a type the JSON writers share): reads a body that is exactly {"instances": a rectangular list of
  //   numbers} (core/tf_direct_codec.h, at most 64 KiB, nesting at most maxDepth, at most maxValues values), runs,
  //   and returns {"predictions": rows} as UTF-8, byte for byte what the general path writes. io as
  //   runFlatBuffers'. Throws as runFlatBuffers does.
  Napi::Value RunTfPredict(const Napi::CallbackInfo& info);
  // [sync] stats() → {enqueued, rejectedFull, expired, terminated, batches, tasksRun, rowsRun, paddedRows, queued,
  // running, batchSizes: [{batchSize, executions, inputMicros, inferMicros, outputMicros}], executedRequests,
  // requestInputMicros, requestInferMicros, requestOutputMicros} (terminated: runs stopped past their deadline;
  // queued: requests waiting; running: batches now; batchSizes and request*: successful executions, inline runs
  // included, see core/execution_stats.h) (after release(): the counters as they were then). Never throws.
  Napi::Value Stats(const Napi::CallbackInfo& info);
  // [sync] release() → undefined. The queue takes no new requests; queued and running ones finish first, then the
  // session is freed (at once when idle: this object keeps no reference, so freeing does not wait for a JS GC).
  Napi::Value Release(const Napi::CallbackInfo& info);
  // [sync] sequenceStats() → {open, started, ended, expired, stateBytes}, or undefined for a model without sequence
  // batching (after release(): the counters as they were then). Never throws.
  Napi::Value SequenceStatsJs(const Napi::CallbackInfo& info);
  // [sync] expireSequences() → string[]: frees the sequences idle for longer than the model's idle timeout and
  // returns their ids ("u:<decimal>" or "s:<text>"); [] for a model without sequence batching or after release().
  Napi::Value ExpireSequences(const Napi::CallbackInfo& info);

  // The step of a run's options.sequence (null when it has none): its control and state inputs are appended to
  // `inputs`, state outputs to `output_names` as SequenceTable::Begin says. Throws the table's refusal.
  std::unique_ptr<SequenceStep> BeginSequence(Napi::Env env, const Napi::Object& options, std::vector<std::string>* output_names,
                                              std::vector<InputTensor>* inputs);

  std::shared_ptr<ModelSession> session_;
  std::shared_ptr<ModelQueue> queue_;
  QueueStats final_stats_;   // the queue's counters when it was released
  std::shared_ptr<SequenceTable> sequences_;   // null without sequence batching or after release
  std::optional<SequenceStats> final_sequence_stats_;
  std::vector<std::string> input_order_;
  // runDirect's scratch, reused call after call on the JS thread so a run allocates no vectors of its own.
  std::vector<InputTensor> direct_inputs_;
  std::vector<OutputTensor> direct_outputs_;
  std::vector<std::string> direct_output_names_;
  // Whether a fast path must leave this request to the general one before reading it (batching, priority levels, a
  // request still queued while the version turns inline); throws TypeError for a non-Uint8Array message (arg 0) or
  // an io (arg io_arg) that is not a Float64Array of io_length.
  bool DirectPathClosed(const Napi::CallbackInfo& info, std::size_t require_empty_queue_arg, std::size_t io_arg, std::size_t io_length);
  // Sets direct_output_names_ to `wanted` (every model output when empty); false when one is unknown, repeated or
  // not `writable` by the fast path's codec, and then direct_inputs_ keep no pointers into the caller's message.
  bool SelectDirectOutputs(const std::vector<std::string_view>& wanted, bool (*writable)(const TensorInfo&));
  // Runs direct_inputs_ (bound by a fast path) into direct_outputs_, reading the thread CPU clock when `elements`
  // passes io[3]; writes io[0..2] (compute µs, CPU µs or -1, elements). Returns the outputs as views, valid until
  // ReleaseDirectOutputs(). Throws as runDirect does: ORT's error, {code: 'RESOURCE_EXHAUSTED'} for outputs over
  // io[1] bytes; and an INFERENCE error for an output of a type `writable` refuses (declared otherwise).
  const std::vector<DirectOutput>& RunBoundInputs(Napi::Env env, double elements, double* io, bool (*writable)(ElementType));
  // Frees the outputs of the last RunBoundInputs (ORT's values) and their views.
  void ReleaseDirectOutputs();
  // The fast paths' scratch, likewise.
  // `data` (`size` bytes) such that its byte `align_at` lies 8-byte aligned: `data` itself when it does, else its copy
  // in aligned_copy_ (bodies up to kAlignedCopyMaxBytes; a larger misaligned one is returned as is, and a fast path
  // then declines its tensors). Why: a one-turn HTTP body (src/frontends/http/one-turn-post.ts) is a view of uWS's
  // receive buffer, where the request's headers leave it at any address, and tensor data must be aligned.
  const uint8_t* AlignedBody(const uint8_t* data, std::size_t size, std::size_t align_at);
  static constexpr std::size_t kAlignedCopyMaxBytes = 64 * 1024;
  std::vector<uint64_t> aligned_copy_;
  fbdirect::RequestView fb_request_;
  JsonDocument json_document_;
  kservedirect::RequestView kserve_request_;
  std::vector<DirectOutput> direct_views_;
  tfdirect::Instances tf_instances_;
  std::vector<float> tf_floats_;
  std::vector<kservedirect::InputView> tf_input_;
  std::string tf_text_;
};

}  // namespace ortserve
