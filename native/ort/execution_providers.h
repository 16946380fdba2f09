// Appends the requested execution providers (tensorrt, cuda) to session options, recording why any was skipped.
#pragma once

#include <onnxruntime_c_api.h>

#include <vector>

#include "core/session_config.h"

namespace ortserve {

// Tries each request in order; a provider that cannot be appended is skipped with ORT's reason.
// Never fails: CPU is always available and is reported last as active.
// Note: OrtApi::GetAvailableProviders() lists CUDA even when its libraries cannot load, so it is not used here.
std::vector<ProviderOutcome> AppendExecutionProviders(OrtSessionOptions* options,
                                                      const std::vector<ProviderRequest>& requests);

}  // namespace ortserve
