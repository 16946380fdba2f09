// Appending CUDA and TensorRT providers through their V2 option structs; failures become recorded reasons.
#include "ort/execution_providers.h"

#include <string>

#include "ort/ort_api.h"

namespace ortserve {

namespace {

// Appends one provider through its V2 options struct (CUDA's and TensorRT's have the same shape): create the options,
// set device_id, append them to the session options. The options struct is released on every path.
template <typename ProviderOptions, typename Create, typename Update, typename Append>
Status AppendOnDevice(OrtSessionOptions* options, int device_id, Create create, Update update, Append append,
                      void(ORT_API_CALL* release)(ProviderOptions*)) {
  ProviderOptions* created = nullptr;
  RETURN_IF_ORT_ERROR(create(&created), StatusCode::kModelLoad);
  const OrtOwned<ProviderOptions> provider(created, release);
  const std::string device = std::to_string(device_id);
  const char* keys[] = {"device_id"};
  const char* values[] = {device.c_str()};
  RETURN_IF_ORT_ERROR(update(provider.get(), keys, values, 1), StatusCode::kModelLoad);
  return FromOrt(append(options, provider.get()), StatusCode::kModelLoad);
}

}  // namespace

std::vector<ProviderOutcome> AppendExecutionProviders(OrtSessionOptions* options,
                                                      const std::vector<ProviderRequest>& requests) {
  const OrtApi& api = Ort();
  std::vector<ProviderOutcome> outcomes;
  for (const auto& request : requests) {
    // CPU is ORT's implicit last resort; it is reported once, at the end.
    if (request.name == "cpu") continue;
    ProviderOutcome outcome{request.name, false, ""};
    Status status;
    if (request.name == "cuda") {
      status = AppendOnDevice(options, request.device_id, api.CreateCUDAProviderOptions, api.UpdateCUDAProviderOptions,
                              api.SessionOptionsAppendExecutionProvider_CUDA_V2, api.ReleaseCUDAProviderOptions);
    } else if (request.name == "tensorrt") {
      status = AppendOnDevice(options, request.device_id, api.CreateTensorRTProviderOptions,
                              api.UpdateTensorRTProviderOptions, api.SessionOptionsAppendExecutionProvider_TensorRT_V2,
                              api.ReleaseTensorRTProviderOptions);
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
