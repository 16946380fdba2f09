// flatBuffersRoute: the model, version and id a FlatBuffers request names (see flatbuffers_route.h).
#include "binding/flatbuffers_route.h"

#include "binding/js_errors.h"
#include "core/fb_direct_codec.h"

namespace ortserve {

Napi::Value FlatBuffersRoute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowInvalidArgument(env, "message must be a Uint8Array");
  }
  Napi::Uint8Array message = info[0].As<Napi::Uint8Array>();
  // Reused call after call on the JS thread that owns the addon's environment, so a request allocates no vectors.
  thread_local fbdirect::RequestView request;
  if (!fbdirect::ReadRequest(message.Data(), message.ByteLength(), &request)) return env.Undefined();
  const auto text = [&env](std::string_view s) { return Napi::String::New(env, s.data(), s.size()); };
  Napi::Array route = Napi::Array::New(env, 5);
  route[0u] = text(request.model);
  route[1u] = Napi::Number::New(env, static_cast<double>(request.version));
  route[2u] = text(request.label);
  route[3u] = text(request.route_key);
  route[4u] = text(request.id);
  return route;
}

}  // namespace ortserve
