// SequenceConfig: what a stateful model's sequence batching needs natively — the control tensors the server feeds
// (Triton's control_input) and the implicit states it keeps between requests (Triton's state section).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/element_type.h"

namespace ortserve {

// Triton's ControlKind names: CONTROL_SEQUENCE_START, _END, _READY, _CORRID.
enum class ControlKind { kStart, kEnd, kReady, kCorrId };

// One control input: a tensor the server fills for every request of a sequence.
struct ControlInputSpec {
  std::string input_name;
  ControlKind kind = ControlKind::kStart;
  // Flags: int32, float32 or bool (int32_false_true, fp32_false_true, bool_false_true). CORRID: int32, int64,
  // uint32, uint64 or string.
  ElementType type = ElementType::kInt32;
  double false_value = 0;
  double true_value = 1;
  // The shape fed for one request ({1}, or {1, 1} for a batched model: dim 0 is the request's row).
  std::vector<int64_t> shape;
};

// One implicit state: fed as `input_name`, replaced after each request by the model's `output_name`.
struct StateSpec {
  std::string input_name;
  std::string output_name;
  ElementType type = ElementType::kFloat32;   // numeric only
  // The shape fed for one sequence (a leading 1 for a batched model).
  std::vector<int64_t> shape;
  // The first request's state: empty = zeros, else exactly ByteLength() bytes (Triton's initial_state data_file).
  std::vector<uint8_t> initial;

  std::size_t ByteLength() const {
    std::size_t count = 1;
    for (int64_t d : shape) count *= static_cast<std::size_t>(d);
    return count * ElementSize(type);
  }
};

struct SequenceConfig {
  std::vector<ControlInputSpec> controls;
  std::vector<StateSpec> states;
  // Sequences open at once (the direct strategy's slots, the oldest strategy's max_candidate_sequences); a start
  // past it is refused (retryable), not queued.
  int64_t max_sequences = 1024;
  // A sequence with no request for this long is freed (Triton's max_sequence_idle_microseconds); 0 = never.
  int64_t idle_micros = 1'000'000;
};

}  // namespace ortserve
