// Conversions between JS values and native tensors, configs and metadata. JS thread only.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "core/batch_policy.h"
#include "core/session_config.h"
#include "core/tensor_data.h"

namespace ortserve {

// Parsed run inputs plus references that pin each JS buffer until the run completes (released with this object,
// which the run worker destroys on the JS thread).
struct PinnedInputs {
  std::vector<InputTensor> tensors;
  std::vector<Napi::Reference<Napi::Value>> pins;
};

// [sync helper] Whether `value` is an integer from 0 to `max` (NaN and fractions are not): the one check behind every
// count and dim an entry point reads, from a JS number or from a raw double of a Float64Array.
bool IsCountUpTo(double value, double max);

// inputs: Array<{name: string, dtype: string, shape: number[], data: TypedArray | Uint8Array[], spans?: Uint32Array}>.
// A string tensor's data is a Uint8Array per element, or, with spans (the offset and length of each element in it,
// 2 × its element count), one Uint8Array holding them all. Neither numeric data nor string elements are copied
// (string elements become views; ORT copies them on the worker).
// Throws (ThrowInvalidArgument) naming the field (e.g. "inputs[1].shape[0]").
PinnedInputs ParseInputs(const Napi::Value& value);

// outputNames: string[] | undefined. Throws (ThrowInvalidArgument).
std::vector<std::string> ParseOutputNames(const Napi::Value& value);

// options: {intraOpThreads?, interOpThreads?, graphOptimizationLevel?, executionProviders?, logId?}. Throws (ThrowInvalidArgument).
SessionConfig ParseSessionConfig(const Napi::Value& value);

// options.batching: {enabled?, maxBatchSize?, batchTimeoutMicros?, maxEnqueuedBatches?, maxQueuedRequests?,
// numBatchThreads?, allowedBatchSizes?, preferredBatchSizes?, padVariableLengthInputs?, priorityLevels?: [{delayOnTimeout?,
// timeoutMicros?, allowTimeoutOverride?, maxQueueSize?}], defaultPriorityLevel? (1-based)}; absent = unbatched with
// defaults. Throws (ThrowInvalidArgument) naming the field, including BatchPolicy::Validate()'s complaints.
BatchPolicy ParseBatchPolicy(const Napi::Value& options);

// {name, dtype, shape, data: ArrayBuffer | Uint8Array[], lengths?: Uint32Array}. A string output packed by its worker
// is `data`, one ArrayBuffer holding each element as its 4-byte little-endian length then its bytes (the BYTES wire
// form), and `lengths`, each element's byte length (the JS side makes any views); other string outputs (and a packed
// one holding an element of 4 GiB or more) are a Uint8Array per element, all views of one ArrayBuffer. Numeric data
// above kCopyOutputsUpToBytes becomes an
// external ArrayBuffer over the output's own memory (its owner is released by the ArrayBuffer's finalizer), unless
// `pinned_inputs` (the run's inputs) or another live external buffer already covers that memory (V8 must never see
// two ArrayBuffers over one backing store); then, and for small outputs, it is copied.
Napi::Object OutputToJs(Napi::Env env, OutputTensor& output, const std::vector<InputTensor>& pinned_inputs);

// Numeric outputs up to this size are copied into a fresh ArrayBuffer and ORT's value released at once: for a small
// tensor a copy costs less than an external buffer, its finalizer and the GC work they add. Larger ones are wrapped.
constexpr std::size_t kCopyOutputsUpToBytes = 4 * 1024;

// OutputToJs's `data` alone: Array<Uint8Array> for strings; for numeric data a copy (small, see
// kCopyOutputsUpToBytes, or memory an input or a live buffer already covers) or an external ArrayBuffer over the
// output's memory.
Napi::Value OutputDataToJs(Napi::Env env, OutputTensor& output, const std::vector<InputTensor>& pinned_inputs);

// Bounds on a run's outputs (-1 = none): string elements, and bytes (numeric data, string bytes plus 4 each).
struct OutputBounds {
  int64_t max_strings = -1;
  int64_t max_bytes = -1;
};

// options.maxOutputStrings / options.maxOutputBytes (absent = none). Throws (ThrowInvalidArgument) naming the option.
OutputBounds ParseOutputBounds(Napi::Env env, const Napi::Object& options);

// Why `outputs` are over `bounds` (naming the flag that set them), or "" when they are not. Counting is a loop over
// sizes, so a run with millions of strings is refused before millions of JS buffers are made for it.
// `skip`, when given, names outputs that are not counted (a sequence's state outputs the client does not get).
std::string OutputsOverBounds(const std::vector<OutputTensor>& outputs, const OutputBounds& bounds,
                              const std::vector<std::string>* skip = nullptr);

// The error a run over its output bounds is rejected (or thrown) with: code RESOURCE_EXHAUSTED.
Napi::Error OutputsTooLargeError(Napi::Env env, const std::string& why);

// What a run reports beside its outputs, queued (run()) or inline (runInline()) alike.
struct RunReport {
  int64_t batch_rows = 0;
  int64_t batch_tasks = 0;
  int64_t queue_micros = 0;
  int64_t compute_micros = 0;
  // Non-null when the caller asked for addresses (zero-copy checks): the input data pointers ORT saw.
  const std::vector<const void*>* input_addresses = nullptr;
};

// The array a run resolves with: one OutputToJs object per output (with its `address` when addresses were asked
// for), `info` {batchRows, batchRequests, queueMicros, computeMicros} and, when asked, `inputAddresses`.
Napi::Array RunResultToJs(Napi::Env env, std::vector<OutputTensor>& outputs, const std::vector<InputTensor>& inputs,
                          const RunReport& report);

Napi::Object MetadataToJs(Napi::Env env, const ModelMetadata& metadata);

// Number of external output ArrayBuffers not yet finalized.
int64_t LiveExternalBuffers();

// Output ArrayBuffers of 1 MiB or more that the addon makes over native memory (ORT's numeric outputs, a run's packed
// string block) are taken off V8's external-memory count while the bytes so taken, alive at once, stay within
// `bytes` (0: every output counted, V8's default). Why: V8 starts a collection each time ~64 MB of new external memory
// has been counted since its last one, whatever the JS heap's size, so each 32-64 MB output started one (pauses of the
// event loop of 5-15 ms per large request). The budget bounds what the collector is not told of: past it outputs are
// counted as before. Each ArrayBuffer's finalizer adds its bytes back once V8 has un-counted them.
// Between V8's sweep and the finalizer the count is low by that output's bytes; V8 versions after Node 20's check that
// it never falls below 0, so the largest budget ever set is added to the count once, as a reserve that covers any such
// dip. Per environment (a worker_threads isolate has its own count and budget, 0 until it configures one).
void SetUncountedOutputBudget(Napi::Env env, int64_t bytes);

// Bytes of this environment's live output ArrayBuffers currently off V8's count.
int64_t UncountedOutputBytes(Napi::Env env);

}  // namespace ortserve
