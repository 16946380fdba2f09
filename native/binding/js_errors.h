// Turning a native Status into a JS Error with a stable `code` (and ORT's own code); argument errors for bad calls.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ortserve {

// Error{message, code: "INVALID_ARGUMENT"|..., ortCode?: number}. src/engine/native-binding.ts maps `code`.
Napi::Error MakeJsError(Napi::Env env, const Status& status);

// Throws (as a C++ exception that node-addon-api turns into a JS TypeError with code INVALID_ARGUMENT) for a
// malformed binding argument; `message` names the field, e.g. "inputs[1].shape[0] must be a non-negative integer".
[[noreturn]] void ThrowInvalidArgument(Napi::Env env, const std::string& message);

// Element `i` of strings held as one buffer of `size` bytes at `base` and (offset, length) pairs at `pairs` (a packed
// string tensor, src/engine/tensor.ts); throws as ThrowInvalidArgument, naming `spans_field`[2i], when the pair lies
// outside the buffer.
std::string_view SpannedElement(Napi::Env env, const char* base, std::size_t size, const uint32_t* pairs, std::size_t i,
                                const std::string& spans_field);

}  // namespace ortserve
