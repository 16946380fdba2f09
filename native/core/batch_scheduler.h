// BatchScheduler: one request queue per model version and a shared worker pool that forms batches and runs them,
// serving the queues round robin so one hot model cannot starve another (after TF Serving's SharedBatchScheduler),
// with a per-queue limit on running batches so one slow model cannot hold every worker, and a deadline thread that
// fails queued requests at their deadline (and stops runs past it) whatever the workers are doing.
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
#include "core/execution_stats.h"
#include "core/mpmc_queue.h"
#include "core/run_terminator.h"
#include "core/status.h"
#include "core/task.h"

namespace ortserve {

// Runs one batch through a model. Called on worker threads, concurrently: implementations must be thread-safe.
class BatchRunner {
 public:
  virtual ~BatchRunner() = default;
  // `input_addresses`, when not null, receives the address of each input's data as the model saw it.
  // `terminator`, when not null, may be triggered from another thread while the run goes on: the runner installs a
  // stop function on it for the run's duration (RunTerminator), and a stopped run returns an error.
  virtual Status Run(const std::vector<InputTensor>& inputs, const std::vector<std::string>& output_names,
                     std::vector<OutputTensor>* outputs, std::vector<const void*>* input_addresses,
                     RunTerminator* terminator) = 0;
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
  int64_t terminated = 0;      // runs stopped because every request in them was past its deadline
  int64_t batches = 0;         // ORT runs
  int64_t tasks_run = 0;       // tasks in those runs
  int64_t rows_run = 0;        // real rows in those runs
  int64_t padded_rows = 0;     // rows added by allowed_batch_sizes padding
  int64_t queued = 0;          // tasks waiting now (accepted, not yet running or failed)
  int64_t running = 0;         // batches running now
  ExecutionTotals executions;  // phases of successful executions, by batch size and per request (inline runs too)
};

// The queue of one model version.
class ModelQueue {
 public:
  ModelQueue(BatchPolicy policy, std::shared_ptr<BatchRunner> runner, std::vector<std::string> model_outputs);

  const BatchPolicy& policy() const { return policy_; }
  QueueStats Stats() const;
  // Whether no request accepted by Schedule is waiting for a worker (running ones do not count), wherever it waits
  // (the lock-free queue or the batch former). Callers use it to let a request skip the queue only when none waits.
  bool NoneWaiting() const { return waiting_.load(std::memory_order_acquire) == 0; }
  // No new tasks after this; queued ones still run. The scheduler forgets the queue once it is empty.
  void Close() { closed_.store(true, std::memory_order_release); }
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  // A successful execution of this version outside the scheduler (an inline run on the JS thread). Any thread.
  void RecordExecution(int64_t rows, int64_t requests, const ExecutionPhases& phases) { executions_.Record(rows, requests, phases); }

 private:
  friend class BatchScheduler;

  const BatchPolicy policy_;
  const std::shared_ptr<BatchRunner> runner_;
  const std::vector<std::string> model_outputs_;
  // A task is in exactly one place until it is completed: queue_, former_, a running Batch, or a list of expired
  // tasks being failed. Every move out of queue_ or former_ happens under forming_, so no two threads can take
  // the same task (a worker forming a batch and the deadline thread expiring it cannot both have it).
  MpmcQueue<Task*> queue_;
  std::mutex forming_;          // guards former_ and every pop from queue_; workers try_lock it, the deadline thread locks
  BatchFormer former_;
  // Tasks accepted and not yet running or failed (in queue_ or former_). Schedule reserves a place here before it
  // pushes, so queue_ + former_ never hold more than the queue's capacity (the deadline thread moves everything
  // from queue_ into former_).
  std::atomic<int64_t> waiting_{0};
  std::atomic<int64_t> in_flight_{0};   // batches running; raised before waiting_ is lowered, so both are never 0 in between
  std::atomic<bool> closed_{false};
  std::atomic<int64_t> enqueued_{0}, rejected_full_{0}, expired_{0}, terminated_{0}, batches_{0}, tasks_run_{0},
      rows_run_{0}, padded_rows_{0};
  ExecutionStats executions_;
  // Tasks of each priority level accepted and not yet running or failed, for the levels' max_queue_size; raised and
  // lowered with waiting_ (Left()).
  std::unique_ptr<std::atomic<int64_t>[]> level_waiting_;
  // A task leaves the waiting set (it runs, expires or is failed at shutdown): lowers its level's count.
  void Left(const Task& task) { level_waiting_[static_cast<std::size_t>(task.priority)].fetch_sub(1, std::memory_order_acq_rel); }
};

class BatchScheduler {
 public:
  // Starts `num_threads` workers (at least 1) and the deadline thread. `sink` and `clock` must outlive the scheduler.
  BatchScheduler(int num_threads, CompletionSink* sink, const Clock& clock = SteadyClock::Instance());
  ~BatchScheduler();
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  void AddQueue(std::shared_ptr<ModelQueue> queue);
  // Enqueues `*task` (stamping its enqueue time). Ownership is transferred iff the returned Status is OK: then
  // `*task` is null; otherwise `*task` is left untouched, still the caller's (as TF Serving's Schedule). Fails at
  // once: UNAVAILABLE when the queue (or the task's priority level, max_queue_size) is full, closed or the scheduler
  // stopped; INVALID_ARGUMENT when the task has more rows than max_batch_size or names a level the policy lacks.
  // Stamps the task's level (default_level for -1) and its level's queue timeout. A pointer to the caller's unique_ptr, not a unique_ptr by value, because a
  // by-value parameter would be consumed (and the task deleted) on failure too, and `&task` at the call site shows
  // the call may take it.
  Status Schedule(ModelQueue& queue, std::unique_ptr<Task>* task);
  // Stops the workers after the batches they are running; every task still queued is completed with UNAVAILABLE
  // ("shutting down"). Idempotent.
  void Stop();
  // Looks at the queues again now (e.g. after a caller cancelled a queued task, so it is failed and released now
  // rather than at the next request or when a worker frees up). Any thread.
  void Nudge();
  int num_threads() const { return static_cast<int>(workers_.size()); }

  // The most batches one queue may run at once when its policy sets no num_batch_threads. 0 (the default) = automatic:
  // no limit while one queue is open; with several, max(1, num_threads - 1), so one worker is always left for the
  // other models. Any thread, any time; applies to batches started afterwards.
  void SetMaxConcurrentRunsPerQueue(int64_t limit) { max_runs_per_queue_.store(limit, std::memory_order_relaxed); }
  // Whether a run is stopped (RunTerminator) once every request in it is past its deadline; each such request then
  // fails with DEADLINE_EXCEEDED. Default on. Any thread, any time; applies to runs started afterwards.
  void SetTerminateRunsPastDeadline(bool on) { terminate_runs_.store(on, std::memory_order_relaxed); }
  // How long an idle worker watches for new work before it sleeps, in µs (0 = sleep at once, the default). One
  // worker at a time spins; the others sleep at once. Any thread, any time.
  void SetSpinMicros(int64_t micros) { spin_micros_.store(micros, std::memory_order_relaxed); }

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
  // A run the deadline thread may stop: it lives on the running worker's stack, listed in running_ meanwhile.
  struct StoppableRun {
    int64_t stop_at_micros;   // the latest deadline of its requests
    RunTerminator terminator;
  };

  void WorkerLoop();
  // Before sleeping: waits up to spin_micros_ for epoch_ to move past `seen` (or a stop), if no other worker is
  // spinning. True when it moved (look again), false when the worker should sleep.
  bool SpinForWork(uint64_t seen);
  FoundWork FindWork();
  void Execute(Work& work);
  void Fail(Task* task, StatusCode code, const std::string& message);
  // Fails a task TakeExpired returned, saying why: cancelled, past its deadline, or past its level's queue timeout.
  void FailExpired(Task* task, int64_t now_micros);
  void Wake();
  // The limit for a queue whose policy sets none, given how many queues are open. Under queues_mutex_.
  int64_t SharedLimit(std::size_t open_queues) const;

  // The deadline thread: sleeps until the earliest known deadline (or a Nudge), then runs ExpirePass.
  void DeadlineLoop();
  // Fails every queued task past its deadline or cancelled, in every queue, and stops runs past their deadline;
  // then sets next_deadline_ to the earliest deadline still pending.
  void ExpirePass();
  // Lowers next_deadline_ to `at` if that is sooner; `notify`: wake the deadline thread when it was lowered.
  void LowerNextDeadline(int64_t at, bool notify);

  CompletionSink* const sink_;
  const Clock& clock_;
  std::mutex queues_mutex_;
  std::vector<std::shared_ptr<ModelQueue>> queues_;   // guarded by queues_mutex_
  std::size_t next_queue_ = 0;   // round-robin cursor, under queues_mutex_

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> epoch_{0};   // bumped by every Schedule; a sleeping worker wakes when it changes
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> max_runs_per_queue_{0};
  std::atomic<bool> terminate_runs_{true};
  std::atomic<int64_t> spin_micros_{0};
  std::atomic<int> spinners_{0};   // workers spinning now (at most one)

  // Never later than the earliest deadline of a queued task or a stoppable run (it may be earlier: a task that has
  // run since is not taken out, which costs one needless pass). ExpirePass resets it before it looks; Schedule and
  // Execute lower it after they publish a task or run, so a deadline published during a pass is never lost.
  std::atomic<int64_t> next_deadline_{BatchFormer::kNever};
  std::mutex deadline_mutex_;
  std::condition_variable deadline_wake_;
  bool deadline_nudged_ = false;   // guarded by deadline_mutex_
  std::mutex running_mutex_;
  std::vector<StoppableRun*> running_;   // guarded by running_mutex_

  std::vector<std::thread> workers_;
  std::thread deadline_thread_;
};

}  // namespace ortserve
