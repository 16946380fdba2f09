// BatchScheduler: one request queue per model version and a shared worker pool that forms batches and runs them,
// serving the queues round robin so one hot model cannot starve another (after TF Serving's SharedBatchScheduler).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/batch_former.h"
#include "core/batch_policy.h"
#include "core/clock.h"
#include "core/mpmc_queue.h"
#include "core/status.h"
#include "core/task.h"

namespace ortserve {

// Runs one batch through a model. Called on worker threads, concurrently: implementations must be thread-safe.
class BatchRunner {
 public:
  virtual ~BatchRunner() = default;
  // `input_addresses`, when not null, receives the address of each input's data as the model saw it.
  virtual Status Run(const std::vector<InputTensor>& inputs, const std::vector<std::string>& output_names,
                     std::vector<OutputTensor>* outputs, std::vector<const void*>* input_addresses) = 0;
};

// Receives finished tasks (with status and outputs set), on worker threads. Takes ownership of each task.
class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  virtual void Complete(Task* task) = 0;
};

struct QueueStats {
  int64_t enqueued = 0;        // tasks accepted
  int64_t rejected_full = 0;   // tasks refused because the queue was full
  int64_t expired = 0;         // tasks failed for their deadline (or cancelled) before running
  int64_t batches = 0;         // ORT runs
  int64_t tasks_run = 0;       // tasks in those runs
  int64_t rows_run = 0;        // real rows in those runs
  int64_t padded_rows = 0;     // rows added by allowed_batch_sizes padding
  int64_t queued = 0;          // tasks waiting now (approximate)
};

// The queue of one model version.
class ModelQueue {
 public:
  ModelQueue(BatchPolicy policy, std::shared_ptr<BatchRunner> runner, std::vector<std::string> model_outputs);

  const BatchPolicy& policy() const { return policy_; }
  QueueStats Stats() const;
  // Whether no request accepted by Schedule is waiting for a worker (running ones do not count). Approximate under
  // concurrency (MpmcQueue::size); callers use it to let a request skip the queue only when none waits there.
  bool NoneWaiting() const { return queue_.empty(); }
  // No new tasks after this; queued ones still run. The scheduler forgets the queue once it is empty.
  void Close() { closed_.store(true, std::memory_order_release); }
  bool closed() const { return closed_.load(std::memory_order_acquire); }

 private:
  friend class BatchScheduler;

  const BatchPolicy policy_;
  const std::shared_ptr<BatchRunner> runner_;
  const std::vector<std::string> model_outputs_;
  MpmcQueue<Task*> queue_;
  std::mutex forming_;          // guards former_; workers try_lock it and move on when another holds it
  BatchFormer former_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> closed_{false};
  std::atomic<int64_t> enqueued_{0}, rejected_full_{0}, expired_{0}, batches_{0}, tasks_run_{0}, rows_run_{0}, padded_rows_{0};
};

class BatchScheduler {
 public:
  // Starts `num_threads` workers (at least 1). `sink` and `clock` must outlive the scheduler.
  BatchScheduler(int num_threads, CompletionSink* sink, const Clock& clock = SteadyClock::Instance());
  ~BatchScheduler();
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  void AddQueue(std::shared_ptr<ModelQueue> queue);
  // Enqueues `*task` (stamping its enqueue time). Ownership is transferred iff the returned Status is OK: then
  // `*task` is null; otherwise `*task` is left untouched, still the caller's (as TF Serving's Schedule). Fails at
  // once: UNAVAILABLE when the queue is full, closed or the scheduler stopped; INVALID_ARGUMENT when the task has
  // more rows than max_batch_size. A pointer to the caller's unique_ptr, not a unique_ptr by value, because a
  // by-value parameter would be consumed (and the task deleted) on failure too, and `&task` at the call site shows
  // the call may take it.
  Status Schedule(ModelQueue& queue, std::unique_ptr<Task>* task);
  // Stops the workers after the batches they are running; every task still queued is completed with UNAVAILABLE
  // ("shutting down"). Idempotent.
  void Stop();
  // Wakes a sleeping worker to look at the queues again (e.g. after a caller cancelled a queued task, so it is
  // failed and released now rather than at the next request). Any thread.
  void Nudge() { Wake(); }
  int num_threads() const { return static_cast<int>(workers_.size()); }

 private:
  // A batch taken from a queue, to run.
  struct Work {
    std::shared_ptr<ModelQueue> queue;
    Batch batch;
  };
  // What one pass over the queues found.
  struct FoundWork {
    std::optional<Work> work;                   // a batch that is ready, if any
    int64_t wake_micros = BatchFormer::kNever;  // without work: when to look again (a batch timeout or deadline)
    bool progressed = false;   // expired tasks were failed: look again instead of sleeping (more may be behind them)
    bool more_work = false;    // with work: requests are still waiting, so another worker can be woken for them
  };

  void WorkerLoop();
  FoundWork FindWork();
  void Execute(Work& work);
  void Fail(Task* task, StatusCode code, const std::string& message);
  void Wake();

  CompletionSink* const sink_;
  const Clock& clock_;
  std::mutex queues_mutex_;
  std::vector<std::shared_ptr<ModelQueue>> queues_;
  std::size_t next_queue_ = 0;   // round-robin cursor, under queues_mutex_

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> epoch_{0};   // bumped by every Schedule; a sleeping worker wakes when it changes
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
};

}  // namespace ortserve
