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

std::string_view SpannedElement(Napi::Env env, const char* base, std::size_t size, const uint32_t* pairs, std::size_t i,
                                const std::string& spans_field) {
  const std::size_t offset = pairs[2 * i];
  const std::size_t length = pairs[2 * i + 1];
  if (offset > size || length > size - offset) {
    ThrowInvalidArgument(env, spans_field + "[" + std::to_string(2 * i) + "]: element " + std::to_string(i) + " at offset " +
                                  std::to_string(offset) + ", " + std::to_string(length) + " bytes long, lies outside the data's " +
                                  std::to_string(size) + " bytes");
  }
  return length == 0 ? std::string_view("") : std::string_view(base + offset, length);
}

}  // namespace ortserve
