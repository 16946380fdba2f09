// Task: one request inside the native queue — its input views, what it asks for, its deadline, and its result.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor_data.h"

namespace ortserve {

// Ownership: the creator (the binding) owns a Task, in a std::unique_ptr<Task>, until BatchScheduler::Schedule
// returns OK and empties that unique_ptr (on failure it is left as it was); from then on the scheduler owns it
// until it hands it to CompletionSink::Complete, which owns it afterwards. A Task is completed exactly once. The binding derives from Task to carry its JS state (promise, pinned buffers).
struct Task {
  virtual ~Task() = default;

  // Inputs in the model's input order. Numeric data are views the creator keeps alive until completion.
  std::vector<InputTensor> inputs;
  // Outputs this request wants, in the order it wants them; empty = all, in model order.
  std::vector<std::string> output_names;
  // Rows this request contributes to a batch (dim 0 of every input; 1 for an unbatched model).
  int64_t rows = 1;
  // Steady-clock microseconds: when it was enqueued, and after when it must not start (0 = no deadline). A task
  // still queued then is failed at that time (the scheduler's deadline thread); a run of tasks all past their
  // deadlines may be stopped (BatchScheduler::SetTerminateRunsPastDeadline).
  int64_t enqueue_micros = 0;
  int64_t deadline_micros = 0;
  // Priority level (0 is served first; -1 = the policy's default_level), and, stamped by Schedule from the level's
  // queue policy: when it fails for waiting too long (queue_deadline_micros), or from when it is served after its
  // level's timely requests (delay_at_micros); 0 = never.
  int64_t priority = -1;
  int64_t queue_deadline_micros = 0;
  int64_t delay_at_micros = 0;
  // When set (by the caller, from any thread) before the task runs, the task is dropped and completed with
  // DEADLINE_EXCEEDED ("cancelled"). Null when the caller cannot cancel. Shared so the caller's cancel handle
  // stays valid after the task itself is gone.
  std::shared_ptr<std::atomic<bool>> cancel_flag;
  bool Cancelled() const { return cancel_flag && cancel_flag->load(std::memory_order_relaxed); }
  // Whether the caller wants the input addresses ORT saw (zero-copy checks); filled for single-task batches only.
  bool report_addresses = false;

  // Results, written by the worker before Complete().
  Status status;
  std::vector<OutputTensor> outputs;   // in output_names order (or model order)
  std::vector<const void*> input_addresses;
  int64_t batch_rows = 0;              // real rows of the batch this task ran in
  int64_t batch_tasks = 0;             // requests merged into that batch
  int64_t queue_micros = 0;            // enqueue → batch start
  int64_t compute_micros = 0;          // the ORT run of its batch
};

}  // namespace ortserve
