// Access to the ONNX Runtime C API table and conversion of OrtStatus into our Status. Includes the ORT header.
#pragma once

#include <onnxruntime_c_api.h>

#include <memory>
#include <string>

#include "core/status.h"
#include "ort/runtime.h"

namespace ortserve {

// The API table; only call after EnsureOrt() succeeded.
const OrtApi& Ort();
// The process-wide OrtEnv. It lives until the process exits: releasing it while ORT threads may still
// run (other sessions, pending finalizers) is the classic shutdown crash, and the OS reclaims it anyway.
OrtEnv* OrtEnvironment();

// Converts and releases an OrtStatus. nullptr → OK. `code` is the StatusCode to use for a failure.
Status FromOrt(OrtStatus* status, StatusCode code);

// An ORT object released by the API's own Release function (given at construction) when it goes out of scope, so
// an early return cannot leak it: OrtOwned<OrtTypeInfo> info(raw, Ort().ReleaseTypeInfo).
template <typename T>
using OrtOwned = std::unique_ptr<T, void(ORT_API_CALL*)(T*)>;

}  // namespace ortserve

// Returns from the enclosing function (which returns Status) when the ORT call `ort_call` fails, with its OrtStatus
// converted by FromOrt under `code`: RETURN_IF_ORT_ERROR(api.GetDimensionsCount(info, &rank), StatusCode::kInference).
#define RETURN_IF_ORT_ERROR(ort_call, code) RETURN_IF_ERROR(::ortserve::FromOrt((ort_call), (code)))
