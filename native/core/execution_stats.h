// ExecutionStats: per model version, how long its executions spent preparing inputs, in ONNX Runtime and splitting
// outputs, by batch size and summed over the requests they served (Triton's statistics extension, read at scrape).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace ortserve {

// The three phases of one execution, in µs: batch assembly (concatenating inputs), the ORT run, and splitting the
// outputs into per-request views (or, for an inline run, wrapping them for JS).
struct ExecutionPhases {
  int64_t input_micros = 0;
  int64_t infer_micros = 0;
  int64_t output_micros = 0;
};

// Executions of one batch size and their summed phases.
struct BatchSizeStats {
  int64_t batch_size = 0;
  int64_t executions = 0;
  ExecutionPhases phases;
};

// What ExecutionStats::Read returns: every batch size seen, and the phases summed once per request served.
struct ExecutionTotals {
  std::vector<BatchSizeStats> batch_sizes;   // ascending batch size, executed sizes only
  int64_t requests = 0;                      // requests served by successful executions
  ExecutionPhases request_phases;            // each execution's phases counted once per request in it
};

class ExecutionStats {
 public:
  // Batch sizes 1..min(max_batch_size, kSlots) get a slot each, allocated here (32 bytes a size): Record on them
  // never allocates or locks (relaxed atomic adds), so a worker or the JS thread pays a few ns per execution. Larger
  // sizes (a policy allowing batches over kSlots rows, where a run costs far more than a lock) go to a map under a
  // mutex. A size under 1 counts as 1.
  static constexpr int64_t kSlots = 1024;
  explicit ExecutionStats(int64_t max_batch_size);
  // A successful execution of `rows` rows serving `requests` requests. Any thread.
  void Record(int64_t rows, int64_t requests, const ExecutionPhases& phases);
  // A consistent-enough snapshot (each counter read once; concurrent Records may be half seen). Any thread.
  ExecutionTotals Read() const;

 private:
  struct Slot {
    std::atomic<int64_t> executions{0}, input{0}, infer{0}, output{0};
  };
  const int64_t slot_count_;
  std::unique_ptr<Slot[]> slots_;   // index = batch size - 1
  mutable std::mutex large_mutex_;
  std::map<int64_t, BatchSizeStats> large_;   // sizes over slot_count_, guarded by large_mutex_
  std::atomic<int64_t> requests_{0}, request_input_{0}, request_infer_{0}, request_output_{0};
};

}  // namespace ortserve
