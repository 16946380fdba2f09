// SessionObject methods and the async worker that runs a session off the JS thread.
#include "binding/session_object.h"

#include "binding/js_errors.h"
#include "binding/js_tensors.h"

namespace ortserve {

namespace {

Napi::FunctionReference* g_constructor = nullptr;

// Runs one ModelSession::Run on a libuv worker thread and settles a promise on the JS thread.
// Owns the pins of its inputs: they are released when the worker is destroyed (on the JS thread, after OnOK).
class RunWorker final : public Napi::AsyncWorker {
 public:
  RunWorker(Napi::Env env, std::shared_ptr<ModelSession> session, PinnedInputs inputs,
            std::vector<std::string> output_names, bool report_addresses)
      : Napi::AsyncWorker(env, "ortserve.run"),
        deferred_(Napi::Promise::Deferred::New(env)),
        session_(std::move(session)),
        inputs_(std::move(inputs)),
        output_names_(std::move(output_names)),
        report_addresses_(report_addresses) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    status_ = session_->Run(inputs_.tensors, output_names_, &outputs_, report_addresses_ ? &input_addresses_ : nullptr);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (!status_.ok()) {
      deferred_.Reject(MakeJsError(env, status_).Value());
      return;
    }
    Napi::Array result = Napi::Array::New(env, outputs_.size());
    for (std::size_t i = 0; i < outputs_.size(); ++i) {
      const void* ort_address = outputs_[i].data;
      Napi::Object output = OutputToJs(env, outputs_[i], inputs_.tensors);
      if (report_addresses_) output.Set("address", Napi::BigInt::New(env, reinterpret_cast<uint64_t>(ort_address)));
      result.Set(static_cast<uint32_t>(i), output);
    }
    if (report_addresses_) {
      Napi::Array addresses = Napi::Array::New(env, input_addresses_.size());
      for (std::size_t i = 0; i < input_addresses_.size(); ++i)
        addresses.Set(static_cast<uint32_t>(i), Napi::BigInt::New(env, reinterpret_cast<uint64_t>(input_addresses_[i])));
      result.Set("inputAddresses", addresses);
    }
    outputs_.clear();   // owners not handed to JS (copies, strings) are freed here, on the JS thread
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<ModelSession> session_;
  PinnedInputs inputs_;
  std::vector<std::string> output_names_;
  bool report_addresses_;
  Status status_;
  std::vector<OutputTensor> outputs_;
  std::vector<const void*> input_addresses_;
};

}  // namespace

void SessionObject::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function constructor = DefineClass(env, "Session", {
      InstanceMethod<&SessionObject::Metadata>("metadata"),
      InstanceMethod<&SessionObject::Run>("run"),
      InstanceMethod<&SessionObject::Release>("release"),
  });
  g_constructor = new Napi::FunctionReference(Napi::Persistent(constructor));
  env.AddCleanupHook([] {
    delete g_constructor;
    g_constructor = nullptr;
  });
  exports.Set("Session", constructor);
}

Napi::Object SessionObject::NewInstance(Napi::Env env, std::shared_ptr<ModelSession> session) {
  Napi::Object object = g_constructor->New({});
  SessionObject::Unwrap(object)->session_ = std::move(session);
  return object;
}

SessionObject::SessionObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SessionObject>(info) {}

Napi::Value SessionObject::Metadata(const Napi::CallbackInfo& info) {
  if (!session_) ThrowInvalidArgument(info.Env(), "session was released");
  return MetadataToJs(info.Env(), session_->metadata());
}

Napi::Value SessionObject::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!session_) ThrowInvalidArgument(env, "session was released");
  PinnedInputs inputs = ParseInputs(info[0]);
  std::vector<std::string> output_names = ParseOutputNames(info[1]);
  bool report_addresses = false;
  if (info[2].IsObject()) report_addresses = info[2].As<Napi::Object>().Get("reportAddresses").ToBoolean().Value();
  auto* worker = new RunWorker(env, session_, std::move(inputs), std::move(output_names), report_addresses);
  Napi::Promise promise = worker->Promise();
  worker->Queue();   // the worker deletes itself after OnOK/OnError
  return promise;
}

Napi::Value SessionObject::Release(const Napi::CallbackInfo& info) {
  session_.reset();
  return info.Env().Undefined();
}

}  // namespace ortserve
