// SessionConfig and ModelMetadata: what a session is loaded with and what it reports, free of ORT and N-API types.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/element_type.h"

namespace ortserve {

// One requested execution provider, in priority order. CPU is always appended last by ORT itself.
struct ProviderRequest {
  std::string name;    // "tensorrt", "cuda" or "cpu"
  int device_id = 0;   // GPU ordinal for cuda/tensorrt; ignored for cpu
  // ONNX Runtime's own provider option keys and values (e.g. trt_fp16_enable=1, gpu_mem_limit=...), set on the
  // provider's options struct after device_id. The caller checks the keys; ORT checks the values.
  std::vector<std::pair<std::string, std::string>> options;
};

enum class GraphOptimizationLevel : int { kDisabled = 0, kBasic = 1, kExtended = 2, kAll = 99 };

struct SessionConfig {
  // ORT intra-op threads per session. 0 = ORT's default (one per physical core). Pin to 1 when benchmarking.
  int intra_op_threads = 0;
  // ORT inter-op threads (only used by parallel execution mode). 0 = ORT's default.
  int inter_op_threads = 0;
  // Graph optimizations applied at load time. Default: all.
  GraphOptimizationLevel graph_optimization_level = GraphOptimizationLevel::kAll;
  // Providers to try before CPU, in order. Empty = CPU only.
  std::vector<ProviderRequest> providers;
  // Used in ORT's log lines to tell sessions apart.
  std::string log_id = "ortserve";
};

// A tensor input or output as the model declares it.
struct TensorInfo {
  std::string name;
  int onnx_type = 0;                        // TensorProto.DataType; 0 when the value is not a tensor
  std::vector<int64_t> shape;               // -1 for a symbolic or unknown dim
  std::vector<std::string> symbolic_dims;   // the dim_param name per dim ("" when none)
  std::string kind = "tensor";              // "tensor", or "sequence"/"map"/"optional"/"sparse_tensor" (not servable)
};

// What became of each requested provider.
struct ProviderOutcome {
  std::string name;
  bool active = false;
  std::string reason;   // why it was skipped, when it was; starts with the provider's name
  // The key/value pairs given to the provider's options struct (device_id first), as they were set.
  std::vector<std::pair<std::string, std::string>> options;
};

struct ModelMetadata {
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
  std::vector<ProviderOutcome> providers;   // requested ones, then "cpu" (always active)
  std::string producer_name;
  std::string graph_name;
  std::string domain;
  std::string description;
  int64_t model_version = 0;
  std::vector<std::pair<std::string, std::string>> custom;   // custom metadata_props
};

}  // namespace ortserve
