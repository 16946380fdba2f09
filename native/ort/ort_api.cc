// The ORT API table, the one process-wide OrtEnv, and OrtStatus conversion.
#include "ort/ort_api.h"

#include <mutex>

#include "core/element_type.h"

namespace ortserve {

// Our ElementType numbers are ONNX's, so casting to ONNXTensorElementDataType needs no table.
static_assert(static_cast<int>(ElementType::kFloat32) == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT);
static_assert(static_cast<int>(ElementType::kUint8) == ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8);
static_assert(static_cast<int>(ElementType::kInt8) == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8);
static_assert(static_cast<int>(ElementType::kUint16) == ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16);
static_assert(static_cast<int>(ElementType::kInt16) == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16);
static_assert(static_cast<int>(ElementType::kInt32) == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32);
static_assert(static_cast<int>(ElementType::kInt64) == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64);
static_assert(static_cast<int>(ElementType::kString) == ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING);
static_assert(static_cast<int>(ElementType::kBool) == ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL);
static_assert(static_cast<int>(ElementType::kFloat16) == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16);
static_assert(static_cast<int>(ElementType::kFloat64) == ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE);
static_assert(static_cast<int>(ElementType::kUint32) == ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32);
static_assert(static_cast<int>(ElementType::kUint64) == ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64);
static_assert(static_cast<int>(ElementType::kBfloat16) == ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16);

namespace {

std::once_flag g_init_once;
Status g_init_status;
const OrtApi* g_api = nullptr;
OrtEnv* g_env = nullptr;

void InitOnce() {
  g_api = OrtGetApiBase()->GetApi(ORT_API_VERSION);
  if (g_api == nullptr) {
    g_init_status = Status(StatusCode::kInternal,
                           "the ONNX Runtime library (" + std::string(OrtGetApiBase()->GetVersionString()) +
                               ") does not provide C API version " + std::to_string(ORT_API_VERSION) +
                               " that ortserve was compiled against; rebuild with matching headers (npm ci)");
    return;
  }
  g_init_status = FromOrt(g_api->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "ortserve", &g_env), StatusCode::kInternal);
  if (!g_init_status.ok()) g_init_status.Prefix("creating the ONNX Runtime environment: ");
}

}  // namespace

const OrtApi& Ort() { return *g_api; }
OrtEnv* OrtEnvironment() { return g_env; }

Status EnsureOrt() {
  std::call_once(g_init_once, InitOnce);
  return g_init_status;
}

std::string OrtLibraryVersion() { return OrtGetApiBase()->GetVersionString(); }
int CompiledOrtApiVersion() { return ORT_API_VERSION; }

Status SetOrtLogLevel(int severity) {
  if (severity < ORT_LOGGING_LEVEL_VERBOSE || severity > ORT_LOGGING_LEVEL_FATAL) {
    return Status(StatusCode::kInvalidArgument, "ortLogLevel must be 0 (verbose) to 4 (fatal)");
  }
  return FromOrt(g_api->UpdateEnvWithCustomLogLevel(g_env, static_cast<OrtLoggingLevel>(severity)), StatusCode::kInternal);
}

Status FromOrt(OrtStatus* status, StatusCode code) {
  if (status == nullptr) return Status::Ok();
  Status result(code, g_api->GetErrorMessage(status));
  result.WithOrtCode(static_cast<int>(g_api->GetErrorCode(status)));
  g_api->ReleaseStatus(status);
  return result;
}

}  // namespace ortserve
