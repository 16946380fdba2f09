// The copyInto entry point (see copy_into.h): a copy shared between the JS thread and helper threads.
#include "binding/copy_into.h"

#include <cstddef>
#include <cstdint>
#include <string>

#include "binding/js_errors.h"
#include "core/shared_copy.h"

namespace ortserve {

namespace {

/** The bytes of a Uint8Array (or, with `or_arraybuffer`, an ArrayBuffer); false for anything else. */
bool BytesOf(napi_env env, napi_value value, bool or_arraybuffer, uint8_t** data, std::size_t* length) {
  bool is = false;
  void* at = nullptr;
  if (napi_is_typedarray(env, value, &is) == napi_ok && is) {
    napi_typedarray_type type;
    if (napi_get_typedarray_info(env, value, &type, length, &at, nullptr, nullptr) != napi_ok || type != napi_uint8_array) return false;
  } else if (!or_arraybuffer || napi_is_arraybuffer(env, value, &is) != napi_ok || !is ||
             napi_get_arraybuffer_info(env, value, &at, length) != napi_ok) {
    return false;
  }
  *data = static_cast<uint8_t*>(at);
  return true;
}

}  // namespace

Napi::Value CopyInto(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  uint8_t* target = nullptr;
  uint8_t* source = nullptr;
  std::size_t target_length = 0;
  std::size_t source_length = 0;
  if (info.Length() < 1 || !BytesOf(env, info[0], false, &target, &target_length)) {
    ThrowInvalidArgument(env, "target must be a Uint8Array");
  }
  if (info.Length() < 2 || !BytesOf(env, info[1], true, &source, &source_length)) {
    ThrowInvalidArgument(env, "source must be an ArrayBuffer or a Uint8Array");
  }
  if (source_length > target_length) {
    ThrowInvalidArgument(env, "target has " + std::to_string(target_length) + " bytes, fewer than the source's " +
                                  std::to_string(source_length));
  }
  SharedCopier::Shared().Copy(target, source, source_length);
  return info.Env().Undefined();
}

}  // namespace ortserve
