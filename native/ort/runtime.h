// The ORT layer's face to the binding, free of ORT headers: start ONNX Runtime once and report its version.
#pragma once

#include <string>

#include "core/status.h"

namespace ortserve {

// Checks the loaded library provides the C API version we were compiled against and creates the process-wide
// OrtEnv once. Thread-safe; returns the same Status on every call.
Status EnsureOrt();
// Version string of the loaded library, e.g. "1.30.0".
std::string OrtLibraryVersion();
// The ORT_API_VERSION of the headers this build used.
int CompiledOrtApiVersion();
// Sets the severity ONNX Runtime logs at (0 verbose, 1 info, 2 warning, 3 error, 4 fatal). Requires EnsureOrt().
Status SetOrtLogLevel(int severity);

}  // namespace ortserve
