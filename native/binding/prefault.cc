// The prefault entry point (see prefault.h): page faults of a fresh buffer taken on a libuv worker thread.
#include "binding/prefault.h"

#include <unistd.h>

#include <cstddef>
#include <cstdint>

#include "binding/js_errors.h"

namespace ortserve {

namespace {

class PrefaultWorker final : public Napi::AsyncWorker {
 public:
  PrefaultWorker(Napi::Env env, Napi::Value buffer, uint8_t* data, size_t length)
      : Napi::AsyncWorker(env, "ortserve.prefault"), keep_(Napi::Persistent(buffer)), data_(data), length_(length) {}
  // With `done`: AsyncWorker's OnOK calls it (no arguments) once the walk is over and the buffer is released.
  PrefaultWorker(Napi::Function done, Napi::Value buffer, uint8_t* data, size_t length)
      : Napi::AsyncWorker(done, "ortserve.prefault"), keep_(Napi::Persistent(buffer)), data_(data), length_(length) {}

  void Execute() override {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    // From the first page boundary inside the buffer; the partial first page is the JS thread's first write anyway.
    const uintptr_t start = reinterpret_cast<uintptr_t>(data_);
    const uintptr_t end = start + length_;
    for (uintptr_t p = (start + page - 1) & ~(page - 1); p < end; p += page) {
      __atomic_fetch_add(reinterpret_cast<uint8_t*>(p), static_cast<uint8_t>(0), __ATOMIC_RELAXED);
    }
  }

  void OnOK() override {
    keep_.Reset();
    if (!Callback().IsEmpty()) Callback().Call({});   // empty without `done` (the Env constructor)
  }

 private:
  Napi::Reference<Napi::Value> keep_;
  uint8_t* data_;
  size_t length_;
};

}  // namespace

Napi::Value Prefault(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  bool is_typedarray = false;
  if (info.Length() < 1 || napi_is_typedarray(env, info[0], &is_typedarray) != napi_ok || !is_typedarray ||
      napi_get_typedarray_info(env, info[0], &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
    ThrowInvalidArgument(env, "buffer must be a Uint8Array");
  }
  const bool with_done = info.Length() >= 2 && !info[1].IsUndefined();
  if (with_done && !info[1].IsFunction()) ThrowInvalidArgument(env, "done must be a function");
  if (length == 0) {
    if (with_done) info[1].As<Napi::Function>().Call({});
    return info.Env().Undefined();
  }
  if (with_done) {
    (new PrefaultWorker(info[1].As<Napi::Function>(), info[0], static_cast<uint8_t*>(data), length))->Queue();
  } else {
    (new PrefaultWorker(info.Env(), info[0], static_cast<uint8_t*>(data), length))->Queue();
  }
  return info.Env().Undefined();
}

}  // namespace ortserve
