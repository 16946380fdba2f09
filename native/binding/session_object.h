// SessionObject: the JS class wrapping one loaded ModelSession (metadata, run, release).
#pragma once

#include <napi.h>

#include <memory>

#include "ort/model_session.h"

namespace ortserve {

class SessionObject : public Napi::ObjectWrap<SessionObject> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // Creates the JS object for a session that was just loaded. JS thread only.
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<ModelSession> session);

  explicit SessionObject(const Napi::CallbackInfo& info);

 private:
  // [sync] metadata() → {inputs, outputs, providers, producerName, graphName, domain, description, modelVersion, custom}.
  // Throws if released.
  Napi::Value Metadata(const Napi::CallbackInfo& info);
  // [async] run(inputs, outputNames?, options?) → Promise<Array<{name, dtype, shape, data}>>.
  //   inputs: Array<{name, dtype, shape, data: TypedArray | Uint8Array[]}>; numeric data is used in place (pinned,
  //   not copied; do not write to it until the promise settles). outputNames: string[] (default: all outputs).
  //   options: {reportAddresses?: boolean} adds `inputAddresses` (bigint[]) and per-output `address` for zero-copy checks.
  //   Runs on a worker thread; resolves with outputs whose numeric data is an ArrayBuffer over ORT's own buffer,
  //   freed by the ArrayBuffer's finalizer. Throws synchronously (TypeError, code INVALID_ARGUMENT) for malformed
  //   arguments or a released session; rejects with {code, ortCode, message} when ORT fails.
  Napi::Value Run(const Napi::CallbackInfo& info);
  // [sync] release() → undefined. Drops this object's reference; runs in flight keep the session alive until they end.
  Napi::Value Release(const Napi::CallbackInfo& info);

  std::shared_ptr<ModelSession> session_;
};

}  // namespace ortserve
