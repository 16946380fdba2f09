// Appending CUDA and TensorRT providers through their V2 option structs; failures become recorded reasons.
#include "ort/execution_providers.h"

#include <string>

#include "ort/ort_api.h"

namespace ortserve {

namespace {

Status AppendCuda(OrtSessionOptions* options, int device_id) {
  const OrtApi& api = Ort();
  OrtCUDAProviderOptionsV2* cuda = nullptr;
  Status status = FromOrt(api.CreateCUDAProviderOptions(&cuda), StatusCode::kModelLoad);
  if (!status.ok()) return status;
  const std::string device = std::to_string(device_id);
  const char* keys[] = {"device_id"};
  const char* values[] = {device.c_str()};
  status = FromOrt(api.UpdateCUDAProviderOptions(cuda, keys, values, 1), StatusCode::kModelLoad);
  if (status.ok()) {
    status = FromOrt(api.SessionOptionsAppendExecutionProvider_CUDA_V2(options, cuda), StatusCode::kModelLoad);
  }
  api.ReleaseCUDAProviderOptions(cuda);
  return status;
}

Status AppendTensorRt(OrtSessionOptions* options, int device_id) {
  const OrtApi& api = Ort();
  OrtTensorRTProviderOptionsV2* trt = nullptr;
  Status status = FromOrt(api.CreateTensorRTProviderOptions(&trt), StatusCode::kModelLoad);
  if (!status.ok()) return status;
  const std::string device = std::to_string(device_id);
  const char* keys[] = {"device_id"};
  const char* values[] = {device.c_str()};
  status = FromOrt(api.UpdateTensorRTProviderOptions(trt, keys, values, 1), StatusCode::kModelLoad);
  if (status.ok()) {
    status = FromOrt(api.SessionOptionsAppendExecutionProvider_TensorRT_V2(options, trt), StatusCode::kModelLoad);
  }
  api.ReleaseTensorRTProviderOptions(trt);
  return status;
}

}  // namespace

std::vector<ProviderOutcome> AppendExecutionProviders(OrtSessionOptions* options,
                                                      const std::vector<ProviderRequest>& requests) {
  std::vector<ProviderOutcome> outcomes;
  for (const auto& request : requests) {
    // CPU is ORT's implicit last resort; it is reported once, at the end.
    if (request.name == "cpu") continue;
    ProviderOutcome outcome{request.name, false, ""};
    Status status;
    if (request.name == "cuda") {
      status = AppendCuda(options, request.device_id);
    } else if (request.name == "tensorrt") {
      status = AppendTensorRt(options, request.device_id);
    } else {
      status = Status(StatusCode::kInvalidArgument, "unknown execution provider (expected tensorrt, cuda or cpu)");
    }
    outcome.active = status.ok();
    outcome.reason = status.message();
    outcomes.push_back(outcome);
  }
  outcomes.push_back(ProviderOutcome{"cpu", true, ""});
  return outcomes;
}

}  // namespace ortserve
