// SessionObject methods: validating a run's arguments, handing the request to the native queue, and stats.
#include "binding/session_object.h"

#include <time.h>

#include <unordered_map>

#include "binding/addon_data.h"
#include "binding/js_errors.h"
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

}  // namespace

Napi::Function SessionObject::Define(Napi::Env env) {
  return DefineClass(env, "Session", {
      InstanceMethod<&SessionObject::Metadata>("metadata"),
      InstanceMethod<&SessionObject::Run>("run"),
      InstanceMethod<&SessionObject::RunInline>("runInline"),
      InstanceMethod<&SessionObject::Stats>("stats"),
      InstanceMethod<&SessionObject::Release>("release"),
  });
}

Napi::Object SessionObject::NewInstance(Napi::Env env, std::shared_ptr<ModelSession> session, std::shared_ptr<ModelQueue> queue) {
  Napi::Object object = GetAddonData(env).session_constructor.New({});
  SessionObject* self = SessionObject::Unwrap(object);
  for (const auto& input : session->metadata().inputs) self->input_order_.push_back(input.name);
  self->session_ = std::move(session);
  self->queue_ = std::move(queue);
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
  task->inputs = InModelOrder(env, std::move(pinned.tensors), input_order_);
  task->rows = queue_->policy().enabled ? BatchRows(env, task->inputs) : 1;
  task->output_names = std::move(output_names);
  task->pins = std::move(pinned.pins);
  task->queue = queue_;
  task->report_addresses = options.Get("reportAddresses").ToBoolean().Value();
  Napi::Value timeout = options.Get("timeoutMicros");
  if (!timeout.IsUndefined()) {
    if (!timeout.IsNumber() || !(timeout.As<Napi::Number>().DoubleValue() >= 0)) {
      ThrowInvalidArgument(env, "options.timeoutMicros must be a non-negative number");
    }
    task->deadline_micros = SteadyClock::Instance().NowMicros() + static_cast<int64_t>(timeout.As<Napi::Number>().DoubleValue()) + 1;
  }
  task->output_bounds = ParseOutputBounds(env, options);
  // Priority level, 1 = served first (Triton's numbering); absent or 0 = the model's default level.
  // A model without priority levels ignores it, as Triton does.
  Napi::Value priority = options.Get("priority");
  if (!priority.IsUndefined() && queue_->policy().num_levels() > 1) {
    const double level = priority.IsNumber() ? priority.As<Napi::Number>().DoubleValue() : -1;
    if (!(level >= 0 && level <= static_cast<double>(queue_->policy().num_levels()) && level == static_cast<double>(static_cast<int64_t>(level)))) {
      ThrowInvalidArgument(env, "options.priority must be an integer from 0 to " + std::to_string(queue_->policy().num_levels()));
    }
    task->priority = static_cast<int64_t>(level) - 1;
  }
  const bool cancellable = options.Get("cancellable").ToBoolean().Value();
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
  const bool require_empty_queue = options.Get("requireEmptyQueue").ToBoolean().Value();
  // Priority levels order requests in the queue: such a version never runs inline.
  if (queue_->policy().enabled || queue_->policy().num_levels() > 1 || (require_empty_queue && !queue_->NoneWaiting())) return env.Undefined();
  PinnedInputs pinned = ParseInputs(info[0]);
  std::vector<std::string> output_names = KnownOutputNames(env, info[1], session_->metadata());
  const bool report_addresses = options.Get("reportAddresses").ToBoolean().Value();
  const OutputBounds bounds = ParseOutputBounds(env, options);
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
  return result;
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
  return stats;
}

Napi::Value SessionObject::Release(const Napi::CallbackInfo& info) {
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

}  // namespace ortserve
