// The N-API entry point. Layer rule: native/binding is the only C++ that includes napi.h; it checks arguments, pins
// JS buffers and settles promises; all work happens in native/ort (ONNX Runtime) and native/core (no N-API, no ORT).
#include <napi.h>

#include "binding/addon_data.h"
#include "binding/busy_poll.h"
#include "binding/copy_into.h"
#include "binding/flatbuffers_route.h"
#include "binding/js_errors.h"
#include "binding/js_sequence.h"
#include "binding/js_tensors.h"
#include "binding/json_answer.h"
#include "binding/json_fast.h"
#include "binding/prefault.h"
#include "binding/session_object.h"
#include "ort/runtime.h"
#include "ort/session_runner.h"

namespace ortserve {

namespace {

// With batching on, every input's dim 0 must be free: a fixed dim 0 cannot take merged requests.
Status CheckBatchable(const ModelMetadata& metadata, const BatchPolicy& policy) {
  if (!policy.enabled) return Status::Ok();
  for (const auto& input : metadata.inputs) {
    if (input.shape.empty() || input.shape[0] >= 0) {
      const std::string dim = input.shape.empty() ? "is a scalar" : "has a fixed dim 0 of " + std::to_string(input.shape[0]);
      return Status(StatusCode::kModelLoad, "batching is enabled but input '" + input.name + "' " + dim +
                                                "; only models whose dim 0 is dynamic can batch (disable batching for this model)");
    }
  }
  return Status::Ok();
}

// Loads a model on a libuv worker thread; on the JS thread adds its queue to the scheduler and resolves a Session.
class LoadWorker final : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, std::string path, SessionConfig config, BatchPolicy policy, std::optional<SequenceOptions> sequence,
             bool unbatched_if_unbatchable)
      : Napi::AsyncWorker(env, "ortserve.loadSession"),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)),
        config_(std::move(config)),
        policy_(std::move(policy)),
        sequence_(std::move(sequence)),
        unbatched_if_unbatchable_(unbatched_if_unbatchable) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    status_ = ModelSession::Load(path_, config_, &session_);
    if (status_.ok()) {
      Status batchable = CheckBatchable(session_->metadata(), policy_);
      // Batching asked for server-wide, not by this model: a model that cannot batch is served unbatched instead
      // (metadata().batching.enabled says so; the caller reports why).
      if (!batchable.ok() && unbatched_if_unbatchable_) policy_.enabled = false;
      else status_ = batchable;
    }
    if (status_.ok()) return;
    session_.reset();
    if (status_.code() == StatusCode::kModelLoad && status_.message().rfind("batching", 0) == 0) status_.Prefix("loading '" + path_ + "': ");
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (!status_.ok()) {
      deferred_.Reject(MakeJsError(env, status_).Value());
      return;
    }
    std::vector<std::string> outputs;
    for (const auto& output : session_->metadata().outputs) outputs.push_back(output.name);
    auto queue = std::make_shared<ModelQueue>(policy_, std::make_shared<SessionRunner>(session_), std::move(outputs));
    GetAddonData(env).StartedScheduler().AddQueue(queue);
    std::shared_ptr<SequenceTable> sequences;
    if (sequence_) sequences = std::make_shared<SequenceTable>(std::move(sequence_->config), std::move(sequence_->budget));
    deferred_.Resolve(SessionObject::NewInstance(env, std::move(session_), std::move(queue), std::move(sequences)));
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  SessionConfig config_;
  BatchPolicy policy_;
  std::optional<SequenceOptions> sequence_;
  bool unbatched_if_unbatchable_;
  Status status_;
  std::shared_ptr<ModelSession> session_;
};

// [async] loadSession(path: string, options?: SessionOptions) → Promise<Session>.
// Reads and optimizes the model on a worker thread, then gives it a request queue on the shared scheduler
// (options.batching sets its policy; absent = unbatched). Throws synchronously (TypeError, code INVALID_ARGUMENT)
// for a malformed argument or batching policy; rejects with {code: 'MODEL_LOAD', ortCode?, message naming the
// path} when ORT refuses the file or batching is enabled on a model whose dim 0 is fixed (with
// options.batching.unbatchedIfUnbatchable such a model loads unbatched instead: metadata().batching.enabled is false).
// options.sequence (see js_sequence.h) gives the version a sequence table: its requests then carry options.sequence
// (SessionObject::Run).
Napi::Value LoadSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) ThrowInvalidArgument(env, "path must be a string");
  SessionConfig config = ParseSessionConfig(info[1]);
  BatchPolicy policy = ParseBatchPolicy(info[1]);
  std::optional<SequenceOptions> sequence = ParseSequenceOptions(info[1]);
  bool unbatched_if_unbatchable = false;
  if (info[1].IsObject()) {
    Napi::Value batching = info[1].As<Napi::Object>().Get("batching");
    if (batching.IsObject()) unbatched_if_unbatchable = batching.As<Napi::Object>().Get("unbatchedIfUnbatchable").ToBoolean().Value();
  }
  auto* worker = new LoadWorker(env, info[0].As<Napi::String>().Utf8Value(), std::move(config), std::move(policy),
                                std::move(sequence), unbatched_if_unbatchable);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// [sync] configure({numBatchThreads?, ortLogLevel?, maxConcurrentRunsPerModel?, terminateRunsPastDeadline?,
// workerSpinMicros?, uncountedOutputBytes?}) → undefined. numBatchThreads sets the shared worker pool size (0 = one
// per hardware thread); ortLogLevel the severity ONNX Runtime logs at on stderr (0 verbose .. 4 fatal; process-wide);
// maxConcurrentRunsPerModel the most batches one model version runs at once when its batching options set no
// numBatchThreads (0 = automatic: no limit while one version is loaded, else max(1, threads - 1));
// terminateRunsPastDeadline whether a run is stopped once every request in it is past its deadline (default true);
// workerSpinMicros how long an idle worker watches for work before it sleeps (0 = at once,
// BatchScheduler::SetSpinMicros); uncountedOutputBytes how many bytes of this environment's large outputs may be alive
// off V8's external-memory count (SetUncountedOutputBudget, js_tensors.h; default 0). The last four may change at any
// time. Throws (INVALID_ARGUMENT) for a bad value, or for a different pool size once the pool has started (it starts
// with the first loadSession).
Napi::Value Configure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) ThrowInvalidArgument(env, "configure expects an object");
  Napi::Object options = info[0].As<Napi::Object>();
  AddonData& data = GetAddonData(env);
  Napi::Value level = options.Get("ortLogLevel");
  if (!level.IsUndefined()) {
    if (!level.IsNumber()) ThrowInvalidArgument(env, "ortLogLevel must be a number from 0 to 4");
    Status status = SetOrtLogLevel(level.As<Napi::Number>().Int32Value());
    if (!status.ok()) throw MakeJsError(env, status);
  }
  // An optional integer option from 0 to max: false when absent; throws INVALID_ARGUMENT naming it otherwise.
  auto integer_option = [&](const char* name, double max, int64_t* out) {
    Napi::Value v = options.Get(name);
    if (v.IsUndefined()) return false;
    if (!v.IsNumber() || !IsCountUpTo(v.As<Napi::Number>().DoubleValue(), max)) {
      ThrowInvalidArgument(env, std::string(name) + " must be an integer from 0 to " + std::to_string(static_cast<int64_t>(max)));
    }
    *out = static_cast<int64_t>(v.As<Napi::Number>().DoubleValue());
    return true;
  };
  if (integer_option("maxConcurrentRunsPerModel", 1024, &data.max_concurrent_runs_per_model) && data.scheduler) {
    data.scheduler->SetMaxConcurrentRunsPerQueue(data.max_concurrent_runs_per_model);
  }
  Napi::Value terminate = options.Get("terminateRunsPastDeadline");
  if (!terminate.IsUndefined()) {
    if (!terminate.IsBoolean()) ThrowInvalidArgument(env, "terminateRunsPastDeadline must be a boolean");
    data.terminate_runs_past_deadline = terminate.As<Napi::Boolean>().Value();
    if (data.scheduler) data.scheduler->SetTerminateRunsPastDeadline(data.terminate_runs_past_deadline);
  }
  int64_t uncounted_output_bytes = 0;
  if (integer_option("uncountedOutputBytes", 1125899906842624.0, &uncounted_output_bytes)) {
    SetUncountedOutputBudget(env, uncounted_output_bytes);
  }
  if (integer_option("workerSpinMicros", 1e6, &data.worker_spin_micros) && data.scheduler) {
    data.scheduler->SetSpinMicros(data.worker_spin_micros);
  }
  Napi::Value threads = options.Get("numBatchThreads");
  if (threads.IsUndefined()) return env.Undefined();
  if (!threads.IsNumber() || threads.As<Napi::Number>().Int32Value() < 0 || threads.As<Napi::Number>().Int32Value() > 1024) {
    ThrowInvalidArgument(env, "numBatchThreads must be an integer from 0 to 1024");
  }
  const int wanted = threads.As<Napi::Number>().Int32Value();
  const BatchScheduler* running = data.scheduler.get();
  if (running != nullptr && wanted != data.scheduler_threads && !(wanted == 0 && data.scheduler_threads == 0)) {
    ThrowInvalidArgument(env, "numBatchThreads cannot change after the first model was loaded (the pool has " +
                                  std::to_string(running->num_threads()) + " threads)");
  }
  data.scheduler_threads = wanted;
  return env.Undefined();
}

// [sync] schedulerInfo() → {started: boolean, threads: number}. Never throws.
Napi::Value SchedulerInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const BatchScheduler* running = GetAddonData(env).scheduler.get();
  Napi::Object result = Napi::Object::New(env);
  result.Set("started", running != nullptr);
  result.Set("threads", running != nullptr ? running->num_threads() : 0);
  return result;
}

// [sync] ortVersion() → string: the loaded ONNX Runtime library's version. Never throws.
Napi::Value OrtVersion(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), OrtLibraryVersion()); }

// [sync] apiVersion() → number: the ORT C API version this addon was compiled against. Never throws.
Napi::Value ApiVersion(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), CompiledOrtApiVersion()); }

// [sync] liveOutputBuffers() → {owners, external, uncountedBytes, v8ExternalMemory: number}: ORT output buffers still
// alive, external ArrayBuffers not yet finalized, the bytes of live outputs off V8's external-memory count, and that
// count as V8 reads it (Isolate::AdjustAmountOfExternalAllocatedMemory(0)). For leak tests. Never throws.
Napi::Value LiveOutputBuffers(const Napi::CallbackInfo& info) {
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("owners", static_cast<double>(BufferOwner::LiveCount()));
  result.Set("external", static_cast<double>(LiveExternalBuffers()));
  result.Set("uncountedBytes", static_cast<double>(UncountedOutputBytes(info.Env())));
  int64_t counted = 0;   // V8's own external-memory count, the one its collection heuristics read (a change of 0)
  napi_adjust_external_memory(info.Env(), 0, &counted);
  result.Set("v8ExternalMemory", static_cast<double>(counted));
  return result;
}

// [sync] addressOf(view: ArrayBuffer | TypedArray) → bigint: the address of the first byte, for zero-copy tests.
// Throws TypeError (INVALID_ARGUMENT) for anything else.
Napi::Value AddressOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t address = 0;
  if (info[0].IsArrayBuffer()) {
    address = reinterpret_cast<uint64_t>(info[0].As<Napi::ArrayBuffer>().Data());
  } else if (info[0].IsTypedArray()) {
    Napi::TypedArray view = info[0].As<Napi::TypedArray>();
    address = reinterpret_cast<uint64_t>(static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset());
  } else {
    ThrowInvalidArgument(env, "addressOf expects an ArrayBuffer or a TypedArray");
  }
  return Napi::BigInt::New(env, address);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Status status = EnsureOrt();
  if (!status.ok()) throw MakeJsError(env, status);
  auto* data = new AddonData(env);
  env.SetInstanceData<AddonData>(data);
  Napi::Function session_class = SessionObject::Define(env);
  data->session_constructor = Napi::Persistent(session_class);
  data->completions = std::make_unique<JsCompletions>(env);
  napi_env raw_env = env;
  // At teardown, on this, the JS, thread: stop the workers (failing queued requests), then drop what is left.
  env.AddCleanupHook([data, raw_env] { data->Teardown(Napi::Env(raw_env)); });
  exports.Set("Session", session_class);
  exports.Set("loadSession", Napi::Function::New<LoadSession>(env, "loadSession"));
  exports.Set("createStateBudget", Napi::Function::New<CreateStateBudget>(env, "createStateBudget"));
  exports.Set("configure", Napi::Function::New<Configure>(env, "configure"));
  exports.Set("schedulerInfo", Napi::Function::New<SchedulerInfo>(env, "schedulerInfo"));
  exports.Set("ortVersion", Napi::Function::New<OrtVersion>(env, "ortVersion"));
  exports.Set("apiVersion", Napi::Function::New<ApiVersion>(env, "apiVersion"));
  exports.Set("liveOutputBuffers", Napi::Function::New<LiveOutputBuffers>(env, "liveOutputBuffers"));
  exports.Set("addressOf", Napi::Function::New<AddressOf>(env, "addressOf"));
  exports.Set("parseJsonPacked", Napi::Function::New<ParseJsonPacked>(env, "parseJsonPacked"));
  exports.Set("parseJsonPackedAsync", Napi::Function::New<ParseJsonPackedAsync>(env, "parseJsonPackedAsync"));
  exports.Set("writeTensorJson", Napi::Function::New<WriteTensorJson>(env, "writeTensorJson"));
  exports.Set("writeJsonAnswerAsync", Napi::Function::New<WriteJsonAnswerAsync>(env, "writeJsonAnswerAsync"));
  exports.Set("prefault", Napi::Function::New<Prefault>(env, "prefault"));
  exports.Set("copyInto", Napi::Function::New<CopyInto>(env, "copyInto"));
  exports.Set("setBusyPoll", Napi::Function::New<SetBusyPoll>(env, "setBusyPoll"));
  exports.Set("busyPollStats", Napi::Function::New<BusyPollStats>(env, "busyPollStats"));
  exports.Set("flatBuffersRoute", Napi::Function::New<FlatBuffersRoute>(env, "flatBuffersRoute"));
  return exports;
}

}  // namespace

}  // namespace ortserve

static Napi::Object InitOrtserveAddon(Napi::Env env, Napi::Object exports) { return ortserve::Init(env, exports); }

NODE_API_MODULE(ortserve, InitOrtserveAddon)
