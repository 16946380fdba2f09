// The N-API entry point. Layer rule: native/binding is the only C++ that includes napi.h; it checks arguments, pins
// JS buffers and settles promises; all work happens in native/ort (ONNX Runtime) and native/core (no N-API, no ORT).
#include <napi.h>

#include "binding/js_errors.h"
#include "binding/js_tensors.h"
#include "binding/session_object.h"
#include "ort/runtime.h"

namespace ortserve {

namespace {

// Loads a model on a libuv worker thread and resolves with a Session object.
class LoadWorker final : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, std::string path, SessionConfig config)
      : Napi::AsyncWorker(env, "ortserve.loadSession"),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)),
        config_(std::move(config)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override { status_ = ModelSession::Load(path_, config_, &session_); }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (!status_.ok()) {
      deferred_.Reject(MakeJsError(env, status_).Value());
      return;
    }
    deferred_.Resolve(SessionObject::NewInstance(env, std::move(session_)));
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  SessionConfig config_;
  Status status_;
  std::shared_ptr<ModelSession> session_;
};

// [async] loadSession(path: string, options?: SessionOptions) → Promise<Session>.
// Reads and optimizes the model on a worker thread. Throws synchronously (TypeError, code INVALID_ARGUMENT) for a
// malformed argument; rejects with {code: 'MODEL_LOAD', ortCode, message naming the path} when ORT refuses the file.
Napi::Value LoadSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) ThrowInvalidArgument(env, "path must be a string");
  SessionConfig config = ParseSessionConfig(info[1]);
  auto* worker = new LoadWorker(env, info[0].As<Napi::String>().Utf8Value(), std::move(config));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// [sync] ortVersion() → string: the loaded ONNX Runtime library's version. Never throws.
Napi::Value OrtVersion(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), OrtLibraryVersion()); }

// [sync] apiVersion() → number: the ORT C API version this addon was compiled against. Never throws.
Napi::Value ApiVersion(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), CompiledOrtApiVersion()); }

// [sync] liveOutputBuffers() → {owners: number, external: number}: ORT output buffers still alive and external
// ArrayBuffers not yet finalized. For leak tests. Never throws.
Napi::Value LiveOutputBuffers(const Napi::CallbackInfo& info) {
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("owners", static_cast<double>(BufferOwner::LiveCount()));
  result.Set("external", static_cast<double>(LiveExternalBuffers()));
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
  SessionObject::Init(env, exports);
  exports.Set("loadSession", Napi::Function::New<LoadSession>(env, "loadSession"));
  exports.Set("ortVersion", Napi::Function::New<OrtVersion>(env, "ortVersion"));
  exports.Set("apiVersion", Napi::Function::New<ApiVersion>(env, "apiVersion"));
  exports.Set("liveOutputBuffers", Napi::Function::New<LiveOutputBuffers>(env, "liveOutputBuffers"));
  exports.Set("addressOf", Napi::Function::New<AddressOf>(env, "addressOf"));
  return exports;
}

}  // namespace

}  // namespace ortserve

static Napi::Object InitOrtserveAddon(Napi::Env env, Napi::Object exports) { return ortserve::Init(env, exports); }

NODE_API_MODULE(ortserve, InitOrtserveAddon)
