// flatBuffersRoute: the model, version, label and route key a FlatBuffers request names (see flatbuffers_route.h).
#include "binding/flatbuffers_route.h"

#include "binding/js_errors.h"
#include "core/fb_direct_codec.h"

namespace ortserve {

Napi::Value FlatBuffersRoute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowInvalidArgument(env, "message must be a Uint8Array");
  }
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[1].As<Napi::TypedArray>().ElementLength() < 1) {
    ThrowInvalidArgument(env, "io must be a Float64Array of at least 1 element");
  }
  Napi::Uint8Array message = info[0].As<Napi::Uint8Array>();
  // Reused call after call on the JS thread that owns the addon's environment, so a request allocates no vectors.
  thread_local fbdirect::RequestView request;
  if (!fbdirect::ReadRequest(message.Data(), message.ByteLength(), &request)) return env.Undefined();
  info[1].As<Napi::Float64Array>()[0] = static_cast<double>(request.version);
  const auto text = [&env](std::string_view s) { return Napi::String::New(env, s.data(), s.size()); };
  // Most requests name neither a label nor a route key: their answer is one string, not an array built element by
  // element (N-API's array stores cost more than the rest of this call).
  if (request.label.empty() && request.route_key.empty()) return text(request.model);
  Napi::Array route = Napi::Array::New(env, 3);
  route[0u] = text(request.model);
  route[1u] = text(request.label);
  route[2u] = text(request.route_key);
  return route;
}

}  // namespace ortserve
