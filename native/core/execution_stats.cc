// ExecutionStats: fixed slots of relaxed atomic counters, one per batch size, and a locked map past them (see the header).
#include "core/execution_stats.h"

#include <algorithm>

namespace ortserve {

ExecutionStats::ExecutionStats(int64_t max_batch_size)
    : slot_count_(std::clamp<int64_t>(max_batch_size, 1, kSlots)),
      slots_(std::make_unique<Slot[]>(static_cast<std::size_t>(slot_count_))) {}

void ExecutionStats::Record(int64_t rows, int64_t requests, const ExecutionPhases& phases) {
  const int64_t size = std::max<int64_t>(rows, 1);
  if (size <= slot_count_) {
    Slot& slot = slots_[static_cast<std::size_t>(size - 1)];
    slot.executions.fetch_add(1, std::memory_order_relaxed);
    slot.input.fetch_add(phases.input_micros, std::memory_order_relaxed);
    slot.infer.fetch_add(phases.infer_micros, std::memory_order_relaxed);
    slot.output.fetch_add(phases.output_micros, std::memory_order_relaxed);
  } else {
    std::lock_guard<std::mutex> lock(large_mutex_);
    BatchSizeStats& s = large_[size];
    s.batch_size = size;
    s.executions += 1;
    s.phases.input_micros += phases.input_micros;
    s.phases.infer_micros += phases.infer_micros;
    s.phases.output_micros += phases.output_micros;
  }
  // Triton counts a batch's compute time once for each request in it.
  requests_.fetch_add(requests, std::memory_order_relaxed);
  request_input_.fetch_add(phases.input_micros * requests, std::memory_order_relaxed);
  request_infer_.fetch_add(phases.infer_micros * requests, std::memory_order_relaxed);
  request_output_.fetch_add(phases.output_micros * requests, std::memory_order_relaxed);
}

ExecutionTotals ExecutionStats::Read() const {
  ExecutionTotals totals;
  for (int64_t i = 0; i < slot_count_; ++i) {
    const Slot& slot = slots_[static_cast<std::size_t>(i)];
    const int64_t executions = slot.executions.load(std::memory_order_relaxed);
    if (executions == 0) continue;
    BatchSizeStats s;
    s.batch_size = i + 1;
    s.executions = executions;
    s.phases.input_micros = slot.input.load(std::memory_order_relaxed);
    s.phases.infer_micros = slot.infer.load(std::memory_order_relaxed);
    s.phases.output_micros = slot.output.load(std::memory_order_relaxed);
    totals.batch_sizes.push_back(s);
  }
  {
    std::lock_guard<std::mutex> lock(large_mutex_);
    for (const auto& entry : large_) totals.batch_sizes.push_back(entry.second);   // all larger than any slot
  }
  totals.requests = requests_.load(std::memory_order_relaxed);
  totals.request_phases.input_micros = request_input_.load(std::memory_order_relaxed);
  totals.request_phases.infer_micros = request_infer_.load(std::memory_order_relaxed);
  totals.request_phases.output_micros = request_output_.load(std::memory_order_relaxed);
  return totals;
}

}  // namespace ortserve
