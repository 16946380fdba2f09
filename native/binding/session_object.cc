// SessionObject methods: validating a run's arguments, handing the request to the native queue, and stats.
#include "binding/session_object.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include <unordered_map>

#include "binding/addon_data.h"
#include "binding/js_errors.h"
#include "binding/js_sequence.h"
#include "binding/js_tensors.h"
#include "core/clock.h"

namespace ortserve {

namespace {

// Puts the inputs in the model's order; every model input exactly once. Throws naming the input.
std::vector<InputTensor> InModelOrder(Napi::Env env, std::vector<InputTensor> given, const std::vector<std::string>& order) {
  std::unordered_map<std::string, std::size_t> position;
  for (std::size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
  std::vector<InputTensor> ordered(order.size());
  std::vector<bool> filled(order.size(), false);
  for (auto& input : given) {
    auto it = position.find(input.name);
    if (it == position.end()) ThrowInvalidArgument(env, "inputs: '" + input.name + "' is not an input of this model");
    if (filled[it->second]) ThrowInvalidArgument(env, "inputs: '" + input.name + "' is given twice");
    filled[it->second] = true;
    ordered[it->second] = std::move(input);
  }
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (!filled[i]) ThrowInvalidArgument(env, "inputs: missing input '" + order[i] + "'");
  }
  return ordered;
}

// Rows a request adds to a batch: the common dim 0 of its inputs. Throws when they differ.
int64_t BatchRows(Napi::Env env, const std::vector<InputTensor>& inputs) {
  int64_t rows = -1;
  for (const auto& input : inputs) {
    if (input.shape.empty()) ThrowInvalidArgument(env, "inputs: '" + input.name + "' is a scalar, but batching needs a dim 0");
    if (rows >= 0 && input.shape[0] != rows) {
      ThrowInvalidArgument(env, "inputs: '" + input.name + "' has dim 0 of " + std::to_string(input.shape[0]) + " but '" +
                                    inputs.front().name + "' has " + std::to_string(rows) + "; a batched model needs one dim 0");
    }
    rows = input.shape[0];
  }
  return rows < 0 ? 1 : rows;
}

// CPU time this thread has used, in µs: unlike the wall clock, it does not count time the thread was preempted.
int64_t ThreadCpuMicros() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1'000;
}

// outputNames parsed and checked against the model. Throws (ThrowInvalidArgument) naming an unknown output.
std::vector<std::string> KnownOutputNames(Napi::Env env, const Napi::Value& value, const ModelMetadata& metadata) {
  std::vector<std::string> output_names = ParseOutputNames(value);
  for (const auto& name : output_names) {
    bool known = false;
    for (const auto& output : metadata.outputs) known = known || output.name == name;
    if (!known) ThrowInvalidArgument(env, "outputNames: '" + name + "' is not an output of this model");
  }
  return output_names;
}

// The TypedArray type that carries `type` in JS (src/engine/tensor.ts TYPED_ARRAY_FOR); false for strings.
bool TypedArrayCarries(napi_typedarray_type array, ElementType type) {
  switch (type) {
    case ElementType::kFloat32: return array == napi_float32_array;
    case ElementType::kFloat64: return array == napi_float64_array;
    case ElementType::kInt8: return array == napi_int8_array;
    case ElementType::kInt16: return array == napi_int16_array;
    case ElementType::kInt32: return array == napi_int32_array;
    case ElementType::kInt64: return array == napi_bigint64_array;
    case ElementType::kUint8:
    case ElementType::kBool: return array == napi_uint8_array;
    case ElementType::kUint16:
    case ElementType::kFloat16:
    case ElementType::kBfloat16: return array == napi_uint16_array;
    case ElementType::kUint32: return array == napi_uint32_array;
    case ElementType::kUint64: return array == napi_biguint64_array;
    default: return false;
  }
}

// Reads a dim or count the caller wrote into io: a non-negative integer no larger than `max`.
bool ReadCount(double value, double max, int64_t* out) {
  if (!IsCountUpTo(value, max)) return false;
  *out = static_cast<int64_t>(value);
  return true;
}

}  // namespace

Napi::Function SessionObject::Define(Napi::Env env) {
  return DefineClass(env, "Session", {
      InstanceMethod<&SessionObject::Metadata>("metadata"),
      InstanceMethod<&SessionObject::Run>("run"),
      InstanceMethod<&SessionObject::RunInline>("runInline"),
      InstanceMethod<&SessionObject::RunDirect>("runDirect"),
      InstanceMethod<&SessionObject::RunFlatBuffers>("runFlatBuffers"),
      InstanceMethod<&SessionObject::RunKserveBinary>("runKserveBinary"),
      InstanceMethod<&SessionObject::RunTfPredict>("runTfPredict"),
      InstanceMethod<&SessionObject::Stats>("stats"),
      InstanceMethod<&SessionObject::Release>("release"),
      InstanceMethod<&SessionObject::SequenceStatsJs>("sequenceStats"),
      InstanceMethod<&SessionObject::ExpireSequences>("expireSequences"),
  });
}

Napi::Object SessionObject::NewInstance(Napi::Env env, std::shared_ptr<ModelSession> session, std::shared_ptr<ModelQueue> queue,
                                        std::shared_ptr<SequenceTable> sequences) {
  Napi::Object object = GetAddonData(env).session_constructor.New({});
  SessionObject* self = SessionObject::Unwrap(object);
  for (const auto& input : session->metadata().inputs) {
    self->input_order_.push_back(input.name);
    InputTensor direct;
    direct.name = input.name;
    direct.type = static_cast<ElementType>(input.onnx_type);
    self->direct_inputs_.push_back(std::move(direct));
  }
  self->session_ = std::move(session);
  self->queue_ = std::move(queue);
  self->sequences_ = std::move(sequences);
  return object;
}

SessionObject::SessionObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SessionObject>(info) {}

Napi::Value SessionObject::Metadata(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!session_) ThrowInvalidArgument(env, "session was released");
  Napi::Object metadata = MetadataToJs(env, session_->metadata());
  const BatchPolicy& policy = queue_->policy();
  Napi::Object batching = Napi::Object::New(env);
  batching.Set("enabled", policy.enabled);
  batching.Set("maxBatchSize", static_cast<double>(policy.max_batch_size));
  batching.Set("batchTimeoutMicros", static_cast<double>(policy.batch_timeout_micros));
  batching.Set("maxEnqueuedBatches", static_cast<double>(policy.max_enqueued_batches));
  batching.Set("queueCapacity", static_cast<double>(policy.QueueCapacity()));
  batching.Set("priorityLevels", static_cast<double>(policy.num_levels()));
  metadata.Set("batching", batching);
  return metadata;
}

Napi::Value SessionObject::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!session_) ThrowInvalidArgument(env, "session was released");
  PinnedInputs pinned = ParseInputs(info[0]);
  std::vector<std::string> output_names = KnownOutputNames(env, info[1], session_->metadata());
  Napi::Object options = info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
  // Ours until Schedule accepts it; freed with `owned` if anything below throws or the scheduler refuses it.
  JsTask* task = new JsTask(env);
  std::unique_ptr<Task> owned(task);
  // Last of the checks that may throw before the table changes: a throw below abandons the step (changing nothing).
  task->sequence_step = BeginSequence(env, options, &output_names, &pinned.tensors);
  task->inputs = InModelOrder(env, std::move(pinned.tensors), input_order_);
  task->rows = queue_->policy().enabled ? BatchRows(env, task->inputs) : 1;
  task->output_names = std::move(output_names);
  task->pins = std::move(pinned.pins);
  task->queue = queue_;
  const JsKeys& keys = GetAddonData(env).keys;
  task->report_addresses = options.Get(keys.Get(JsKeys::kReportAddresses)).ToBoolean().Value();
  Napi::Value timeout = options.Get(keys.Get(JsKeys::kTimeoutMicros));
  if (!timeout.IsUndefined()) {
    if (!timeout.IsNumber() || !(timeout.As<Napi::Number>().DoubleValue() >= 0)) {
      ThrowInvalidArgument(env, "options.timeoutMicros must be a non-negative number");
    }
    task->deadline_micros = SteadyClock::Instance().NowMicros() + static_cast<int64_t>(timeout.As<Napi::Number>().DoubleValue()) + 1;
  }
  task->output_bounds = ParseOutputBounds(env, options);
  // Priority level, 1 = served first (Triton's numbering); absent or 0 = the model's default level.
  // A model without priority levels ignores it, as Triton does.
  Napi::Value priority = options.Get(keys.Get(JsKeys::kPriority));
  if (!priority.IsUndefined() && queue_->policy().num_levels() > 1) {
    const double level = priority.IsNumber() ? priority.As<Napi::Number>().DoubleValue() : -1;
    if (!(level >= 0 && level <= static_cast<double>(queue_->policy().num_levels()) && level == static_cast<double>(static_cast<int64_t>(level)))) {
      ThrowInvalidArgument(env, "options.priority must be an integer from 0 to " + std::to_string(queue_->policy().num_levels()));
    }
    task->priority = static_cast<int64_t>(level) - 1;
  }
  const bool cancellable = options.Get(keys.Get(JsKeys::kCancellable)).ToBoolean().Value();
  if (cancellable) task->cancel_flag = std::make_shared<std::atomic<bool>>(false);

  AddonData& data = GetAddonData(env);
  Napi::Promise promise = task->deferred.Promise();
  if (cancellable) {
    std::shared_ptr<std::atomic<bool>> flag = task->cancel_flag;
    promise.Set("cancel", Napi::Function::New(env, [flag](const Napi::CallbackInfo& call) {
                  flag->store(true);
                  // Wake a worker so the dropped request is failed and its buffers released now.
                  if (BatchScheduler* scheduler = GetAddonData(call.Env()).scheduler.get()) scheduler->Nudge();
                  return call.Env().Undefined();
                }, "cancel"));
  }
  // Accepted: the scheduler owns the task (`owned` is null) until JsCompletions settles and deletes it.
  Status status = data.StartedScheduler().Schedule(*queue_, &owned);
  if (!status.ok()) {
    task->deferred.Reject(MakeJsError(env, status).Value());   // refused: still in `owned`, freed on return
    return promise;
  }
  data.completions->TaskStarted(env);
  return promise;
}

Napi::Value SessionObject::RunInline(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!session_) ThrowInvalidArgument(env, "session was released");
  Napi::Object options = info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
  // A batched version is served by the batcher; a version switching to inline waits for a moment when none of its
  // requests waits for a worker, so the switch overtakes nobody.
  const JsKeys& keys = GetAddonData(env).keys;
  const bool require_empty_queue = options.Get(keys.Get(JsKeys::kRequireEmptyQueue)).ToBoolean().Value();
  // Priority levels order requests in the queue: such a version never runs inline.
  if (queue_->policy().enabled || queue_->policy().num_levels() > 1 || (require_empty_queue && !queue_->NoneWaiting())) return env.Undefined();
  PinnedInputs pinned = ParseInputs(info[0]);
  std::vector<std::string> output_names = KnownOutputNames(env, info[1], session_->metadata());
  const bool report_addresses = options.Get(keys.Get(JsKeys::kReportAddresses)).ToBoolean().Value();
  const OutputBounds bounds = ParseOutputBounds(env, options);
  std::unique_ptr<SequenceStep> step = BeginSequence(env, options, &output_names, &pinned.tensors);
  std::vector<InputTensor> inputs = InModelOrder(env, std::move(pinned.tensors), input_order_);
  std::vector<OutputTensor> outputs;
  std::vector<const void*> addresses;
  const int64_t start = SteadyClock::Instance().NowMicros();
  const int64_t cpu_start = ThreadCpuMicros();
  // The JS values behind `inputs` stay alive for this call (they are its arguments), so `pinned.pins` need not
  // outlive it; ORT reads them in place and copies nothing but strings.
  Status status = session_->Run(inputs, output_names, &outputs, report_addresses ? &addresses : nullptr);
  const int64_t cpu_end = ThreadCpuMicros();
  const int64_t end = SteadyClock::Instance().NowMicros();
  if (step) {
    // An answer refused for its size is a failed request: the sequence's state must not move on either.
    const std::string too_large = status.ok() ? OutputsOverBounds(outputs, bounds, &step->hidden_outputs()) : "";
    if (!too_large.empty()) {
      step->Finish(Status(StatusCode::kUnavailable, too_large), nullptr, end);
      throw OutputsTooLargeError(env, too_large);
    }
    status = step->Finish(status, &outputs, end);
  }
  if (!status.ok()) throw MakeJsError(env, status);
  const std::string over = OutputsOverBounds(outputs, bounds);
  if (!over.empty()) throw OutputsTooLargeError(env, over);
  RunReport report;
  report.batch_rows = 1;
  report.batch_tasks = 1;
  report.compute_micros = end - start;
  if (report_addresses) report.input_addresses = &addresses;
  Napi::Array result = RunResultToJs(env, outputs, inputs, report);
  result.Get("info").As<Napi::Object>().Set("threadCpuMicros", static_cast<double>(cpu_end - cpu_start));
  // ORT read the inputs in place (no input phase); wrapping its outputs for JS is the output phase.
  queue_->RecordExecution(1, 1, ExecutionPhases{0, end - start, SteadyClock::Instance().NowMicros() - end});
  return result;
}

Napi::Value SessionObject::RunDirect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!session_) ThrowInvalidArgument(env, "session was released");
  // As RunInline: batching and priority levels keep a request in the queue.
  if (queue_->policy().enabled || queue_->policy().num_levels() > 1 || (info[3].ToBoolean().Value() && !queue_->NoneWaiting())) {
    return env.Undefined();
  }
  if (!info[0].IsArray()) ThrowInvalidArgument(env, "datas must be an array of TypedArrays");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    ThrowInvalidArgument(env, "io must be a Float64Array");
  }
  Napi::Array datas = info[0].As<Napi::Array>();
  Napi::Float64Array io_array = info[1].As<Napi::Float64Array>();
  double* io = io_array.Data();
  const std::size_t io_length = io_array.ElementLength();
  const std::size_t input_count = direct_inputs_.size();
  if (datas.Length() != input_count) {
    ThrowInvalidArgument(env, "datas has " + std::to_string(datas.Length()) + " entries but the model has " +
                                  std::to_string(input_count) + " inputs");
  }
  // Bounds and shapes, read from io before anything is written back to it.
  constexpr double kMaxDim = 9007199254740991.0 / 16;
  if (io_length < 2) ThrowInvalidArgument(env, "io is too short");
  OutputBounds bounds;
  bounds.max_strings = io[0] < 0 ? -1 : static_cast<int64_t>(io[0]);
  bounds.max_bytes = io[1] < 0 ? -1 : static_cast<int64_t>(io[1]);
  std::size_t at = 2;
  for (std::size_t i = 0; i < input_count; ++i) {
    InputTensor& input = direct_inputs_[i];
    int64_t rank = 0;
    if (at >= io_length || !ReadCount(io[at], 64, &rank) || at + 1 + static_cast<std::size_t>(rank) > io_length) {
      ThrowInvalidArgument(env, "io: the rank of input '" + input.name + "' is missing or not an integer from 0 to 64");
    }
    ++at;
    input.shape.resize(static_cast<std::size_t>(rank));
    double elements = 1;
    for (int64_t d = 0; d < rank; ++d, ++at) {
      if (!ReadCount(io[at], kMaxDim, &input.shape[static_cast<std::size_t>(d)])) {
        ThrowInvalidArgument(env, "io: dim " + std::to_string(d) + " of input '" + input.name + "' is not a non-negative integer");
      }
      elements *= io[at];
    }
    if (elements > kMaxDim) ThrowInvalidArgument(env, "input '" + input.name + "' has too many elements");
    Napi::Value data = datas[static_cast<uint32_t>(i)];
    if (!data.IsTypedArray() || !TypedArrayCarries(data.As<Napi::TypedArray>().TypedArrayType(), input.type)) {
      ThrowInvalidArgument(env, "datas[" + std::to_string(i) + "] (input '" + input.name + "') must be the TypedArray of dtype " +
                                    ElementTypeName(input.type));
    }
    Napi::TypedArray typed = data.As<Napi::TypedArray>();
    const std::size_t expected = static_cast<std::size_t>(elements) * ElementSize(input.type);
    if (typed.ByteLength() != expected) {
      ThrowInvalidArgument(env, "datas[" + std::to_string(i) + "] (input '" + input.name + "') has " +
                                    std::to_string(typed.ByteLength()) + " bytes but its dims need " + std::to_string(expected));
    }
    input.data = static_cast<uint8_t*>(typed.ArrayBuffer().Data()) + typed.ByteOffset();
    input.byte_length = expected;
  }
  const auto& model_outputs = session_->metadata().outputs;
  direct_output_names_.clear();
  if (!info[2].IsUndefined()) {
    if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
      ThrowInvalidArgument(env, "outputIndices must be a Uint32Array or undefined");
    }
    Napi::Uint32Array indices = info[2].As<Napi::Uint32Array>();
    for (std::size_t i = 0; i < indices.ElementLength(); ++i) {
      if (indices[i] >= model_outputs.size()) ThrowInvalidArgument(env, "outputIndices[" + std::to_string(i) + "] is not an output of this model");
      direct_output_names_.push_back(model_outputs[indices[i]].name);
    }
  }
  const bool measure_cpu = info[4].ToBoolean().Value();
  const int64_t start = SteadyClock::Instance().NowMicros();
  const int64_t cpu_start = measure_cpu ? ThreadCpuMicros() : 0;
  Status status = session_->Run(direct_inputs_, direct_output_names_, &direct_outputs_, nullptr);
  const int64_t cpu_end = measure_cpu ? ThreadCpuMicros() : 0;
  const int64_t end = SteadyClock::Instance().NowMicros();
  if (!status.ok()) throw MakeJsError(env, status);
  const std::string over = OutputsOverBounds(direct_outputs_, bounds);
  if (!over.empty()) {
    direct_outputs_.clear();
    throw OutputsTooLargeError(env, over);
  }
  std::size_t needed = 2;
  for (const auto& output : direct_outputs_) needed += 1 + output.shape.size();
  if (needed > io_length) {
    direct_outputs_.clear();
    ThrowInvalidArgument(env, "io is too short for the outputs' dims (" + std::to_string(needed) + " needed)");
  }
  io[0] = static_cast<double>(end - start);
  io[1] = measure_cpu ? static_cast<double>(cpu_end - cpu_start) : -1;
  at = 2;
  Napi::Array result = Napi::Array::New(env, direct_outputs_.size());
  for (std::size_t i = 0; i < direct_outputs_.size(); ++i) {
    OutputTensor& output = direct_outputs_[i];
    io[at++] = static_cast<double>(output.shape.size());
    for (int64_t dim : output.shape) io[at++] = static_cast<double>(dim);
    result[static_cast<uint32_t>(i)] = OutputDataToJs(env, output, direct_inputs_);
  }
  direct_outputs_.clear();   // frees ORT's values of the copied outputs now
  // Stale pointers into the caller's buffers are not kept (the next call sets them again).
  for (auto& input : direct_inputs_) input.data = nullptr;
  // ORT read the inputs in place (no input phase); handing its outputs to JS is the output phase.
  queue_->RecordExecution(1, 1, ExecutionPhases{0, end - start, SteadyClock::Instance().NowMicros() - end});
  return result;
}

namespace {

// The dims of a fast path's input view, whichever codec read it.
uint32_t RankOf(const fbdirect::TensorView& v) { return v.rank; }
int64_t DimOf(const fbdirect::TensorView& v, uint32_t d) { return v.Dim(d); }
uint32_t RankOf(const kservedirect::InputView& v) { return static_cast<uint32_t>(v.dims.size()); }
int64_t DimOf(const kservedirect::InputView& v, uint32_t d) { return v.dims[d]; }

// Points `direct` (the model's inputs, in model order) at the tensors a fast path read: they must be exactly the
// model's (as many, each model input named once, of its dtype, with the dims the model fixes, data of the length the
// dims give and aligned to its element size) and hold at most `max_elements` elements. False (and `direct` holding no
// pointers) declines. Sets `elements` (all inputs) and `first_dim` (dim 0 of the first model input, 1 for a scalar).
template <typename View>
bool BindInputs(std::vector<InputTensor>* direct, const std::vector<TensorInfo>& declared_inputs, const std::vector<View>& sent,
                double max_elements, double* elements, double* first_dim) {
  constexpr int64_t kMaxDim = 9007199254740991 / 16;
  *elements = 0;
  *first_dim = 1;
  bool fits = sent.size() == direct->size();
  for (std::size_t i = 0; i < direct->size() && fits; ++i) {
    InputTensor& input = (*direct)[i];
    const std::vector<int64_t>& declared = declared_inputs[i].shape;
    const View* match = nullptr;
    for (const View& candidate : sent) {
      if (candidate.name == input.name) {
        match = &candidate;
        break;
      }
    }
    const std::size_t element_size = ElementSize(input.type);
    if (match == nullptr || match->type != input.type || element_size == 0 || input.type == ElementType::kString ||
        RankOf(*match) != declared.size()) {
      fits = false;
      break;
    }
    const uint32_t rank = RankOf(*match);
    input.shape.resize(rank);
    double count = 1;
    for (uint32_t d = 0; d < rank && fits; ++d) {
      const int64_t dim = DimOf(*match, d);
      if (dim < 0 || dim > kMaxDim || (declared[d] >= 0 && declared[d] != dim)) fits = false;
      input.shape[d] = dim;
      count *= static_cast<double>(dim);
    }
    if (!fits || count > static_cast<double>(kMaxDim) ||
        static_cast<double>(match->data_length) != count * static_cast<double>(element_size) ||
        reinterpret_cast<std::uintptr_t>(match->data) % element_size != 0) {
      fits = false;
      break;
    }
    if (i == 0 && rank > 0) *first_dim = static_cast<double>(input.shape[0]);
    *elements += count;
    input.data = match->data;
    input.byte_length = match->data_length;
  }
  if (!fits || *elements > max_elements) {
    for (auto& input : *direct) input.data = nullptr;
    return false;
  }
  return true;
}

}  // namespace

bool SessionObject::SelectDirectOutputs(const std::vector<std::string_view>& wanted, bool (*writable)(const TensorInfo&)) {
  const auto& model_outputs = session_->metadata().outputs;
  direct_output_names_.clear();
  bool fits = true;
  if (wanted.empty()) {
    for (const auto& output : model_outputs) {
      if (!writable(output)) fits = false;
      direct_output_names_.push_back(output.name);
    }
  }
  for (std::size_t i = 0; i < wanted.size() && fits; ++i) {
    const TensorInfo* found = nullptr;
    for (const auto& output : model_outputs) {
      if (output.name == wanted[i]) found = &output;
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (wanted[j] == wanted[i]) found = nullptr;
    }
    if (found == nullptr || !writable(*found)) fits = false;
    else direct_output_names_.push_back(found->name);
  }
  if (!fits) {
    for (auto& input : direct_inputs_) input.data = nullptr;   // declined: no pointers into the caller's message kept
  }
  return fits;
}

bool SessionObject::DirectPathClosed(const Napi::CallbackInfo& info, std::size_t require_empty_queue_arg, std::size_t io_arg,
                                     std::size_t io_length) {
  Napi::Env env = info.Env();
  if (!session_) ThrowInvalidArgument(env, "session was released");
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowInvalidArgument(env, "the message must be a Uint8Array");
  }
  if (!info[io_arg].IsTypedArray() || info[io_arg].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[io_arg].As<Napi::TypedArray>().ElementLength() < io_length) {
    ThrowInvalidArgument(env, "io must be a Float64Array of at least " + std::to_string(io_length) + " elements");
  }
  // As runDirect: batching, priority levels, or a request still queued while the version turns inline.
  return queue_->policy().enabled || queue_->policy().num_levels() > 1 ||
         (info[require_empty_queue_arg].ToBoolean().Value() && !queue_->NoneWaiting());
}

const std::vector<DirectOutput>& SessionObject::RunBoundInputs(Napi::Env env, double elements, double* io,
                                                               bool (*writable)(ElementType)) {
  const bool measure_cpu = elements > io[3];
  const int64_t start = SteadyClock::Instance().NowMicros();
  const int64_t cpu_start = measure_cpu ? ThreadCpuMicros() : 0;
  Status status = session_->Run(direct_inputs_, direct_output_names_, &direct_outputs_, nullptr);
  const int64_t cpu_end = measure_cpu ? ThreadCpuMicros() : 0;
  const int64_t end = SteadyClock::Instance().NowMicros();
  for (auto& input : direct_inputs_) input.data = nullptr;
  if (!status.ok()) throw MakeJsError(env, status);
  OutputBounds bounds;
  bounds.max_bytes = io[1] < 0 ? -1 : static_cast<int64_t>(io[1]);
  const std::string over = OutputsOverBounds(direct_outputs_, bounds);
  if (!over.empty()) {
    direct_outputs_.clear();
    throw OutputsTooLargeError(env, over);
  }
  direct_views_.resize(direct_outputs_.size());
  for (std::size_t i = 0; i < direct_outputs_.size(); ++i) {
    const OutputTensor& output = direct_outputs_[i];
    if (!writable(output.type)) {   // the model declared a type the codec writes but produced another
      direct_outputs_.clear();
      throw MakeJsError(env, Status(StatusCode::kInference, "output '" + output.name + "' is not the tensor the model declares"));
    }
    direct_views_[i] = DirectOutput{direct_output_names_[i], output.type, output.shape.data(), output.shape.size(), output.data,
                                    output.byte_length};
  }
  io[0] = static_cast<double>(end - start);
  io[1] = measure_cpu ? static_cast<double>(cpu_end - cpu_start) : -1;
  io[2] = elements;
  queue_->RecordExecution(1, 1, ExecutionPhases{0, end - start, SteadyClock::Instance().NowMicros() - end});
  return direct_views_;
}

const uint8_t* SessionObject::AlignedBody(const uint8_t* data, std::size_t size, std::size_t align_at) {
  if ((reinterpret_cast<std::uintptr_t>(data) + align_at) % 8 == 0 || size > kAlignedCopyMaxBytes) return data;
  const std::size_t pad = (8 - align_at % 8) % 8;
  aligned_copy_.resize((pad + size + 7) / 8);
  uint8_t* start = reinterpret_cast<uint8_t*>(aligned_copy_.data()) + pad;
  if (size > 0) std::memcpy(start, data, size);
  return start;
}

void SessionObject::ReleaseDirectOutputs() {
  direct_views_.clear();
  direct_outputs_.clear();   // frees ORT's values now
}

Napi::Value SessionObject::RunFlatBuffers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (DirectPathClosed(info, 2, 1, 4)) return env.Undefined();
  if (!info[3].IsNumber() || !info[4].IsNumber()) ThrowInvalidArgument(env, "version and protocolVersion must be numbers");
  Napi::Uint8Array message = info[0].As<Napi::Uint8Array>();
  double* io = info[1].As<Napi::Float64Array>().Data();
  if (!fbdirect::ReadRequest(AlignedBody(message.Data(), message.ByteLength(), 0), message.ByteLength(), &fb_request_)) return env.Undefined();
  double elements = 0, first_dim = 1;
  if (!BindInputs(&direct_inputs_, session_->metadata().inputs, fb_request_.inputs, io[2], &elements, &first_dim)) return env.Undefined();
  const auto numeric = [](const TensorInfo& output) {
    return output.kind == "tensor" && fbdirect::DataTypeOf(static_cast<ElementType>(output.onnx_type)) >= 0;
  };
  if (!SelectDirectOutputs(fb_request_.outputs, numeric)) return env.Undefined();
  const auto& outputs = RunBoundInputs(env, elements, io, [](ElementType type) { return fbdirect::DataTypeOf(type) >= 0; });
  const std::size_t size = fbdirect::ResponseSize(fb_request_.id, fb_request_.model, outputs);
  Napi::Buffer<uint8_t> answer = Napi::Buffer<uint8_t>::New(env, size);
  fbdirect::WriteResponse(answer.Data(), info[4].As<Napi::Number>().Uint32Value(), fb_request_.id, fb_request_.model,
                          info[3].As<Napi::Number>().Int64Value(), outputs);
  ReleaseDirectOutputs();
  io[3] = first_dim;
  return answer;
}

Napi::Value SessionObject::RunKserveBinary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (DirectPathClosed(info, 3, 2, 5)) return env.Undefined();
  if (!info[1].IsNumber() || !info[4].IsString() || !info[5].IsNumber()) {
    ThrowInvalidArgument(env, "headerLength and version must be numbers, model a string");
  }
  Napi::Uint8Array body = info[0].As<Napi::Uint8Array>();
  double* io = info[2].As<Napi::Float64Array>().Data();
  const double header_length = info[1].As<Napi::Number>().DoubleValue();
  if (!(header_length >= 0 && header_length <= static_cast<double>(body.ByteLength()))) return env.Undefined();
  const uint8_t* data = AlignedBody(body.Data(), body.ByteLength(), static_cast<std::size_t>(header_length));
  if (!kservedirect::ReadRequest(data, body.ByteLength(), static_cast<std::size_t>(header_length), &json_document_,
                                 &kserve_request_)) {
    return env.Undefined();
  }
  const std::string model = info[4].As<Napi::String>().Utf8Value();
  if (!kservedirect::PlainJsonText(model)) return env.Undefined();
  double elements = 0, first_dim = 1;
  if (!BindInputs(&direct_inputs_, session_->metadata().inputs, kserve_request_.inputs, io[2], &elements, &first_dim)) {
    return env.Undefined();
  }
  const auto writable = [](const TensorInfo& output) {
    return output.kind == "tensor" && kservedirect::DatatypeName(static_cast<ElementType>(output.onnx_type)) != nullptr &&
           kservedirect::PlainJsonText(output.name);
  };
  if (!SelectDirectOutputs(kserve_request_.outputs, writable)) return env.Undefined();
  const auto& outputs = RunBoundInputs(env, elements, io, [](ElementType type) { return kservedirect::DatatypeName(type) != nullptr; });
  std::size_t binary = 0;
  for (const auto& output : outputs) binary += output.data_length;
  const std::string header = kservedirect::ResponseHeader(model, info[5].As<Napi::Number>().Int64Value(), kserve_request_, outputs);
  Napi::Buffer<uint8_t> answer = Napi::Buffer<uint8_t>::New(env, header.size() + binary);
  std::memcpy(answer.Data(), header.data(), header.size());
  std::size_t at = header.size();
  for (const auto& output : outputs) {
    if (output.data_length > 0) std::memcpy(answer.Data() + at, output.data, output.data_length);
    at += output.data_length;
  }
  ReleaseDirectOutputs();
  io[3] = first_dim;
  io[4] = static_cast<double>(header.size());
  return answer;
}

Napi::Value SessionObject::RunTfPredict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (DirectPathClosed(info, 2, 1, 4)) return env.Undefined();
  if (!info[3].IsNumber() || !info[4].IsNumber()) ThrowInvalidArgument(env, "maxDepth and maxValues must be numbers");
  // One float32 input, one output the JSON writers agree on, of rank 1 or more (rows to split).
  const auto& metadata = session_->metadata();
  if (direct_inputs_.size() != 1 || direct_inputs_[0].type != ElementType::kFloat32 || metadata.outputs.size() != 1 ||
      metadata.outputs[0].kind != "tensor" || !tfdirect::Writable(static_cast<ElementType>(metadata.outputs[0].onnx_type)) ||
      metadata.outputs[0].shape.empty()) {
    return env.Undefined();
  }
  Napi::Uint8Array body = info[0].As<Napi::Uint8Array>();
  double* io = info[1].As<Napi::Float64Array>().Data();
  const double max_depth = info[3].As<Napi::Number>().DoubleValue();
  if (!tfdirect::ReadInstances(body.Data(), body.ByteLength(), static_cast<uint32_t>(std::min(max_depth, 1e9)),
                               info[4].As<Napi::Number>().DoubleValue(), &json_document_, &tf_instances_)) {
    return env.Undefined();
  }
  // Math.fround of each value, as the general path converts a JSON number for a float32 tensor.
  tf_floats_.resize(tf_instances_.count);
  // A finite value past float32's range is the general path's error ("out of range for float32"): leave it to it.
  for (std::size_t i = 0; i < tf_instances_.count; ++i) {
    const double v = tf_instances_.values[i];
    const float f = static_cast<float>(v);
    if (std::isinf(f) && std::isfinite(v)) return env.Undefined();
    tf_floats_[i] = f;
  }
  tf_input_.resize(1);
  kservedirect::InputView& input = tf_input_[0];
  input.name = direct_inputs_[0].name;
  input.type = ElementType::kFloat32;
  input.dims = tf_instances_.dims;
  input.data = reinterpret_cast<const uint8_t*>(tf_floats_.data());
  input.data_length = tf_floats_.size() * sizeof(float);
  double elements = 0, first_dim = 1;
  if (!BindInputs(&direct_inputs_, metadata.inputs, tf_input_, io[2], &elements, &first_dim)) return env.Undefined();
  direct_output_names_.assign(1, metadata.outputs[0].name);
  const DirectOutput& output = RunBoundInputs(env, elements, io, tfdirect::Writable)[0];
  if (output.rank == 0) {
    ReleaseDirectOutputs();
    throw MakeJsError(env, Status(StatusCode::kInference, "output '" + std::string(output.name) + "' is not the tensor the model declares"));
  }
  tf_text_.clear();
  tfdirect::AppendPredictions(&tf_text_, output.type, output.data, output.shape, output.rank);
  ReleaseDirectOutputs();
  io[3] = first_dim;
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(tf_text_.data()), tf_text_.size());
}

Napi::Value SessionObject::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const QueueStats s = queue_ ? queue_->Stats() : final_stats_;
  Napi::Object stats = Napi::Object::New(env);
  stats.Set("enqueued", static_cast<double>(s.enqueued));
  stats.Set("rejectedFull", static_cast<double>(s.rejected_full));
  stats.Set("expired", static_cast<double>(s.expired));
  stats.Set("terminated", static_cast<double>(s.terminated));
  stats.Set("batches", static_cast<double>(s.batches));
  stats.Set("tasksRun", static_cast<double>(s.tasks_run));
  stats.Set("rowsRun", static_cast<double>(s.rows_run));
  stats.Set("paddedRows", static_cast<double>(s.padded_rows));
  stats.Set("queued", static_cast<double>(s.queued));
  stats.Set("running", static_cast<double>(s.running));
  const ExecutionTotals& e = s.executions;
  Napi::Array sizes = Napi::Array::New(env, e.batch_sizes.size());
  for (std::size_t i = 0; i < e.batch_sizes.size(); ++i) {
    const BatchSizeStats& b = e.batch_sizes[i];
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("batchSize", static_cast<double>(b.batch_size));
    entry.Set("executions", static_cast<double>(b.executions));
    entry.Set("inputMicros", static_cast<double>(b.phases.input_micros));
    entry.Set("inferMicros", static_cast<double>(b.phases.infer_micros));
    entry.Set("outputMicros", static_cast<double>(b.phases.output_micros));
    sizes.Set(static_cast<uint32_t>(i), entry);
  }
  stats.Set("batchSizes", sizes);
  stats.Set("executedRequests", static_cast<double>(e.requests));
  stats.Set("requestInputMicros", static_cast<double>(e.request_phases.input_micros));
  stats.Set("requestInferMicros", static_cast<double>(e.request_phases.infer_micros));
  stats.Set("requestOutputMicros", static_cast<double>(e.request_phases.output_micros));
  return stats;
}

Napi::Value SessionObject::Release(const Napi::CallbackInfo& info) {
  if (sequences_) {
    final_sequence_stats_ = sequences_->Stats();
    sequences_.reset();   // requests in flight keep the table (and the state they read) until they settle
  }
  if (queue_) {
    final_stats_ = queue_->Stats();
    queue_->Close();
    queue_.reset();   // the scheduler (and requests in flight) keep it until its last batch has run
    // Wake a worker: it forgets the closed queue once drained, which frees the ORT session now, not at the next
    // request or the next garbage collection.
    if (BatchScheduler* scheduler = GetAddonData(info.Env()).scheduler.get()) scheduler->Nudge();
  }
  session_.reset();
  return info.Env().Undefined();
}

std::unique_ptr<SequenceStep> SessionObject::BeginSequence(Napi::Env env, const Napi::Object& options,
                                                           std::vector<std::string>* output_names, std::vector<InputTensor>* inputs) {
  std::optional<SequenceRequest> request = ParseSequenceRequest(env, options);
  if (!request) return nullptr;
  if (!sequences_) ThrowInvalidArgument(env, "options.sequence: this model was loaded without sequence batching");
  std::unique_ptr<SequenceStep> step;
  Status status = sequences_->Begin(request->id, request->start, request->end, SteadyClock::Instance().NowMicros(), output_names, &step);
  if (!status.ok()) throw MakeJsError(env, status);
  for (const auto& input : step->inputs()) inputs->push_back(input);
  return step;
}

Napi::Value SessionObject::SequenceStatsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (sequences_) return SequenceStatsToJs(env, sequences_->Stats());
  if (final_sequence_stats_) return SequenceStatsToJs(env, *final_sequence_stats_);
  return env.Undefined();
}

Napi::Value SessionObject::ExpireSequences(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> keys;
  if (sequences_) keys = sequences_->ExpireIdle(SteadyClock::Instance().NowMicros());
  Napi::Array array = Napi::Array::New(env, keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) array.Set(static_cast<uint32_t>(i), keys[i]);
  return array;
}

}  // namespace ortserve
