// Appending CUDA and TensorRT providers through their V2 option structs; failures become recorded reasons.
#include "ort/execution_providers.h"

#include <string>

#include "ort/ort_api.h"

namespace ortserve {

namespace {

// Appends one provider through its V2 options struct (CUDA's and TensorRT's have the same shape): create the options,
// set device_id, append them to the session options. The options struct is released on every path.
template <typename ProviderOptions, typename Create, typename Update, typename Append>
Status AppendOnDevice(OrtSessionOptions* options, const std::vector<std::pair<std::string, std::string>>& pairs,
                      Create create, Update update, Append append, void(ORT_API_CALL* release)(ProviderOptions*)) {
  ProviderOptions* created = nullptr;
  RETURN_IF_ORT_ERROR(create(&created), StatusCode::kModelLoad);
  const OrtOwned<ProviderOptions> provider(created, release);
  std::vector<const char*> keys;
  std::vector<const char*> values;
  for (const auto& [key, value] : pairs) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  RETURN_IF_ORT_ERROR(update(provider.get(), keys.data(), values.data(), keys.size()), StatusCode::kModelLoad);
  return FromOrt(append(options, provider.get()), StatusCode::kModelLoad);
}

const char* DisplayName(const std::string& name) { return name == "cuda" ? "CUDA" : name == "tensorrt" ? "TensorRT" : "unknown"; }

}  // namespace

std::vector<ProviderOutcome> AppendExecutionProviders(OrtSessionOptions* options,
                                                      const std::vector<ProviderRequest>& requests) {
  const OrtApi& api = Ort();
  std::vector<ProviderOutcome> outcomes;
  for (const auto& request : requests) {
    // CPU is ORT's implicit last resort; it is reported once, at the end.
    if (request.name == "cpu") continue;
    ProviderOutcome outcome{request.name, false, "", {}};
    // device_id first, then the caller's options: the pairs the provider's options struct is given, in order.
    outcome.options.emplace_back("device_id", std::to_string(request.device_id));
    outcome.options.insert(outcome.options.end(), request.options.begin(), request.options.end());
    Status status;
    if (request.name == "cuda") {
      status = AppendOnDevice(options, outcome.options, api.CreateCUDAProviderOptions, api.UpdateCUDAProviderOptions,
                              api.SessionOptionsAppendExecutionProvider_CUDA_V2, api.ReleaseCUDAProviderOptions);
    } else if (request.name == "tensorrt") {
      status = AppendOnDevice(options, outcome.options, api.CreateTensorRTProviderOptions,
                              api.UpdateTensorRTProviderOptions, api.SessionOptionsAppendExecutionProvider_TensorRT_V2,
                              api.ReleaseTensorRTProviderOptions);
    } else {
      status = Status(StatusCode::kInvalidArgument, "unknown execution provider (expected tensorrt, cuda or cpu)");
    }
    outcome.active = status.ok();
    // The reason names the provider and device first: ORT's own text often names only a library file.
    if (!status.ok()) {
      outcome.reason = std::string(DisplayName(request.name)) + " execution provider (device " + std::to_string(request.device_id) +
                       ") could not be added, falling back: " + status.message();
    }
    outcomes.push_back(outcome);
  }
  outcomes.push_back(ProviderOutcome{"cpu", true, ""});
  return outcomes;
}

}  // namespace ortserve
