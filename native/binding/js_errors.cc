// JS error objects for native failures.
#include "binding/js_errors.h"

namespace ortserve {

Napi::Error MakeJsError(Napi::Env env, const Status& status) {
  Napi::Error error = Napi::Error::New(env, status.message());
  error.Value().Set("code", Napi::String::New(env, StatusCodeName(status.code())));
  if (status.ort_code() >= 0) error.Value().Set("ortCode", Napi::Number::New(env, status.ort_code()));
  return error;
}

void ThrowInvalidArgument(Napi::Env env, const std::string& message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Value().Set("code", Napi::String::New(env, StatusCodeName(StatusCode::kInvalidArgument)));
  throw error;
}

}  // namespace ortserve
