// Turning a native Status into a JS Error with a stable `code` (and ORT's own code); argument errors for bad calls.
#pragma once

#include <napi.h>

#include <string>

#include "core/status.h"

namespace ortserve {

// Error{message, code: "INVALID_ARGUMENT"|..., ortCode?: number}. src/engine/native-binding.ts maps `code`.
Napi::Error MakeJsError(Napi::Env env, const Status& status);

// Throws (as a C++ exception that node-addon-api turns into a JS TypeError with code INVALID_ARGUMENT) for a
// malformed binding argument; `message` names the field, e.g. "inputs[1].shape[0] must be a non-negative integer".
[[noreturn]] void ThrowInvalidArgument(Napi::Env env, const std::string& message);

}  // namespace ortserve
