// Access to the ONNX Runtime C API table and conversion of OrtStatus into our Status. Includes the ORT header.
#pragma once

#include <onnxruntime_c_api.h>

#include <string>

#include "core/status.h"
#include "ort/runtime.h"

namespace ortserve {

// The API table for the header's ORT_API_VERSION, or nullptr if the loaded library is older than the header.
const OrtApi* OrtApiOrNull();
// The API table; only call after EnsureOrt() succeeded.
const OrtApi& Ort();
// The process-wide OrtEnv. It lives until the process exits: releasing it while ORT threads may still
// run (other sessions, pending finalizers) is the classic shutdown crash, and the OS reclaims it anyway.
OrtEnv* OrtEnvironment();

// Converts and releases an OrtStatus. nullptr → OK. `code` is the StatusCode to use for a failure.
Status FromOrt(OrtStatus* status, StatusCode code);

}  // namespace ortserve
