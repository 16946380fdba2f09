// BatchScheduler: worker threads that pull tasks from model queues, form batches, run them and complete the tasks;
// a deadline thread that fails queued tasks at their deadline and stops runs past it.
#include "core/batch_scheduler.h"

#include <algorithm>
#include <chrono>

#include "core/batch_assembly.h"
#include "core/thread_name.h"

namespace ortserve {

namespace {

// Tells the CPU this is a spin-wait loop (less power, and the sibling hyper-thread runs meanwhile).
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace


ModelQueue::ModelQueue(BatchPolicy policy, std::shared_ptr<BatchRunner> runner, std::vector<std::string> model_outputs)
    : policy_(std::move(policy)),
      runner_(std::move(runner)),
      model_outputs_(std::move(model_outputs)),
      queue_(static_cast<std::size_t>(std::max<int64_t>(policy_.QueueCapacity(), 1))),
      former_(policy_),
      executions_(policy_.enabled ? policy_.max_batch_size : 1),
      level_waiting_(new std::atomic<int64_t>[static_cast<std::size_t>(policy_.num_levels())]) {
  for (int64_t i = 0; i < policy_.num_levels(); ++i) level_waiting_[static_cast<std::size_t>(i)].store(0);
}

QueueStats ModelQueue::Stats() const {
  QueueStats s;
  s.enqueued = enqueued_.load(std::memory_order_relaxed);
  s.rejected_full = rejected_full_.load(std::memory_order_relaxed);
  s.expired = expired_.load(std::memory_order_relaxed);
  s.terminated = terminated_.load(std::memory_order_relaxed);
  s.batches = batches_.load(std::memory_order_relaxed);
  s.tasks_run = tasks_run_.load(std::memory_order_relaxed);
  s.rows_run = rows_run_.load(std::memory_order_relaxed);
  s.padded_rows = padded_rows_.load(std::memory_order_relaxed);
  s.queued = waiting_.load(std::memory_order_relaxed);
  s.running = in_flight_.load(std::memory_order_relaxed);
  s.executions = executions_.Read();
  return s;
}

BatchScheduler::BatchScheduler(int num_threads, CompletionSink* sink, const Clock& clock) : sink_(sink), clock_(clock) {
  const int count = std::max(1, num_threads);
  workers_.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  deadline_thread_ = std::thread([this] { DeadlineLoop(); });
}

BatchScheduler::~BatchScheduler() { Stop(); }

void BatchScheduler::AddQueue(std::shared_ptr<ModelQueue> queue) {
  std::lock_guard<std::mutex> lock(queues_mutex_);
  queues_.push_back(std::move(queue));
}

Status BatchScheduler::Schedule(ModelQueue& queue, std::unique_ptr<Task>* owned) {
  Task* task = owned->get();
  if (stopping_.load(std::memory_order_acquire)) return Status(StatusCode::kUnavailable, "the server is shutting down");
  if (queue.closed()) return Status(StatusCode::kUnavailable, "the model version is unloading");
  if (queue.policy_.enabled && task->rows > queue.policy_.max_batch_size) {
    return Status(StatusCode::kInvalidArgument, "the request has " + std::to_string(task->rows) +
                                                    " rows (dim 0), more than max_batch_size " +
                                                    std::to_string(queue.policy_.max_batch_size));
  }
  const BatchPolicy& policy = queue.policy_;
  if (task->priority < -1 || task->priority >= policy.num_levels()) {
    return Status(StatusCode::kInvalidArgument, "priority level " + std::to_string(task->priority + 1) +
                                                    " is not one of the model's " + std::to_string(policy.num_levels()) + " levels");
  }
  const int64_t level = task->priority < 0 ? policy.default_level : task->priority;
  const BatchPolicy::LevelPolicy level_policy = policy.level(level);
  const auto capacity = static_cast<int64_t>(queue.queue_.capacity());
  std::atomic<int64_t>& level_waiting = queue.level_waiting_[static_cast<std::size_t>(level)];
  const auto refuse_full = [&](bool level_full) {
    queue.waiting_.fetch_sub(1, std::memory_order_acq_rel);
    level_waiting.fetch_sub(1, std::memory_order_acq_rel);
    queue.rejected_full_.fetch_add(1, std::memory_order_relaxed);
    if (level_full) {
      return Status(StatusCode::kUnavailable, "the queue of priority level " + std::to_string(level + 1) + " is full (" +
                                                  std::to_string(level_policy.max_queue_size) + " requests waiting, max_queue_size); retry later");
    }
    return Status(StatusCode::kUnavailable, "the request queue is full (" + std::to_string(capacity) +
                                                " requests waiting); retry later");
  };
  // Reserve a place first: queue_ and former_ together never hold more than the capacity, and a level never more
  // than its max_queue_size.
  const int64_t in_level = level_waiting.fetch_add(1, std::memory_order_acq_rel);
  if (queue.waiting_.fetch_add(1, std::memory_order_acq_rel) >= capacity) return refuse_full(false);
  if (level_policy.max_queue_size > 0 && in_level >= level_policy.max_queue_size) return refuse_full(true);
  task->priority = level;
  task->enqueue_micros = clock_.NowMicros();
  // The level's queue timeout; a request may shorten it with its deadline when the policy allows.
  int64_t timeout = level_policy.timeout_micros;
  if (level_policy.allow_timeout_override && task->deadline_micros > 0) {
    const int64_t asked = std::max<int64_t>(1, task->deadline_micros - task->enqueue_micros);
    if (timeout == 0 || asked < timeout) timeout = asked;
  }
  if (timeout > 0) {
    if (level_policy.delay_on_timeout) task->delay_at_micros = task->enqueue_micros + timeout;
    else task->queue_deadline_micros = task->enqueue_micros + timeout;
  }
  // Read before the push: from then on another thread may complete and delete the task at any moment.
  const int64_t deadline = task->queue_deadline_micros > 0 && (task->deadline_micros <= 0 || task->queue_deadline_micros < task->deadline_micros)
                               ? task->queue_deadline_micros : task->deadline_micros;
  // Cannot fail with a place reserved (queue_ holds at most waiting_ tasks); refused, not trusted, all the same.
  if (!queue.queue_.try_push(std::move(task))) return refuse_full(false);
  // Queued: the scheduler owns it now. A worker may already have completed it; release() does not touch it.
  owned->release();
  queue.enqueued_.fetch_add(1, std::memory_order_relaxed);
  if (deadline > 0) LowerNextDeadline(deadline, true);
  Wake();
  return Status::Ok();
}

void BatchScheduler::Wake() {
  // Bump the epoch first: a worker that registered as a sleeper either sees the new epoch before it waits or is
  // counted in sleepers_ here (both are seq_cst), so no wake-up is lost and idle producers skip the mutex.
  epoch_.fetch_add(1);
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    wake_.notify_one();
  }
}

void BatchScheduler::Nudge() {
  {
    std::lock_guard<std::mutex> lock(deadline_mutex_);
    deadline_nudged_ = true;
  }
  deadline_wake_.notify_one();
  Wake();
}

void BatchScheduler::Fail(Task* task, StatusCode code, const std::string& message) {
  task->status = Status(code, message);
  sink_->Complete(task);
}

void BatchScheduler::FailExpired(Task* task, int64_t now_micros) {
  if (task->Cancelled()) return Fail(task, StatusCode::kDeadlineExceeded, "the request was cancelled before it ran");
  if (task->deadline_micros > 0 && now_micros >= task->deadline_micros) {
    return Fail(task, StatusCode::kDeadlineExceeded, "the request deadline passed before it ran");
  }
  // The queue policy's REJECT: retryable, like a full queue (Triton answers it UNAVAILABLE too).
  Fail(task, StatusCode::kUnavailable, "the request waited longer than the queue timeout of its priority level " +
                                           std::to_string(task->priority + 1) + " (default_timeout_microseconds); retry later");
}

int64_t BatchScheduler::SharedLimit(std::size_t open_queues) const {
  const int64_t configured = max_runs_per_queue_.load(std::memory_order_relaxed);
  if (configured > 0) return configured;
  // Automatic: alone, a model may use every worker; among others, it leaves one worker for them (with a single
  // worker there is nothing to leave: every model waits for the one running batch).
  if (open_queues <= 1) return 0;
  return std::max<int64_t>(1, num_threads() - 1);
}

BatchScheduler::FoundWork BatchScheduler::FindWork() {
  FoundWork found;
  std::vector<Task*> expired;
  {
    std::lock_guard<std::mutex> lock(queues_mutex_);
    const std::size_t count = queues_.size();
    std::size_t open = 0;
    for (const auto& queue : queues_) open += queue->closed() ? 0 : 1;
    const int64_t shared_limit = SharedLimit(open);
    const auto at_limit = [&](const ModelQueue& queue) {
      const int64_t limit = queue.policy_.num_batch_threads > 0 ? queue.policy_.num_batch_threads : shared_limit;
      return limit > 0 && queue.in_flight_.load(std::memory_order_acquire) >= limit;
    };
    for (std::size_t step = 0; step < count && !found.work; ++step) {
      const std::size_t at = (next_queue_ + step) % count;
      const std::shared_ptr<ModelQueue>& queue = queues_[at];
      // At its limit of running batches: its requests wait for one of its own runs to end, not for other models'
      // (the worker that ends that run looks again at once; the deadline thread still expires them meanwhile).
      if (at_limit(*queue)) continue;
      std::unique_lock<std::mutex> forming(queue->forming_, std::try_to_lock);
      if (!forming.owns_lock()) continue;   // another worker (or the deadline thread) is at this queue
      Task* task = nullptr;
      while (queue->former_.WantsMore() && queue->queue_.try_pop(task)) queue->former_.Add(task);
      const int64_t now = clock_.NowMicros();
      for (Task* late : queue->former_.TakeExpired(now)) {
        queue->expired_.fetch_add(1, std::memory_order_relaxed);
        queue->waiting_.fetch_sub(1, std::memory_order_acq_rel);
        queue->Left(*late);
        expired.push_back(late);
      }
      Batch batch;
      if (queue->former_.TakeReadyBatch(now, &batch)) {
        queue->in_flight_.fetch_add(1, std::memory_order_acq_rel);   // before waiting_ drops: never both 0 meanwhile
        for (const Task* task : batch.tasks) queue->Left(*task);
        queue->waiting_.fetch_sub(static_cast<int64_t>(batch.tasks.size()), std::memory_order_acq_rel);
        found.work = Work{queue, std::move(batch)};
        next_queue_ = at + 1;   // round robin: the next search starts after the queue just served
        found.more_work = queue->waiting_.load(std::memory_order_acquire) > 0 && !at_limit(*queue);
      } else {
        found.wake_micros = std::min(found.wake_micros, queue->former_.NextWakeMicros());
      }
    }
    // Requests waiting in other queues that may run now (a miss only delays them until the next push or batch).
    for (std::size_t i = 0; found.work && !found.more_work && i < count; ++i) {
      found.more_work = queues_[i]->waiting_.load(std::memory_order_acquire) > 0 && !at_limit(*queues_[i]);
    }
    // Forget closed queues with nothing left to run.
    queues_.erase(std::remove_if(queues_.begin(), queues_.end(), [](const std::shared_ptr<ModelQueue>& q) {
                    return q->closed() && q->waiting_.load() == 0 && q->in_flight_.load() == 0;
                  }),
                  queues_.end());
  }
  found.progressed = !expired.empty();
  const int64_t now = clock_.NowMicros();
  for (Task* task : expired) FailExpired(task, now);
  return found;
}

void BatchScheduler::Execute(Work& work) {
  ModelQueue& queue = *work.queue;
  Batch& batch = work.batch;
  const int64_t start = clock_.NowMicros();
  std::vector<InputTensor> inputs;
  BatchInputStorage storage;
  std::vector<OutputTensor> outputs;
  std::vector<const void*> addresses;
  const std::vector<std::string> output_names = BatchOutputNames(batch, queue.model_outputs_);
  const bool want_addresses = batch.tasks.size() == 1 && batch.tasks.front()->report_addresses;
  // A run may be stopped only when every request in it has a deadline, once the latest of them has passed: a
  // batch never loses a request that still has time (or none) for the sake of another's deadline.
  StoppableRun stoppable{0, {}};
  if (terminate_runs_.load(std::memory_order_relaxed)) {
    for (const Task* task : batch.tasks) {
      if (task->deadline_micros <= 0) {
        stoppable.stop_at_micros = 0;
        break;
      }
      stoppable.stop_at_micros = std::max(stoppable.stop_at_micros, task->deadline_micros);
    }
  }
  const bool stoppable_run = stoppable.stop_at_micros > 0;
  if (stoppable_run) {
    {
      std::lock_guard<std::mutex> lock(running_mutex_);
      running_.push_back(&stoppable);
    }
    LowerNextDeadline(stoppable.stop_at_micros, true);
  }
  Status status = AssembleBatchInputs(batch, queue.policy_.pad_variable_length_inputs, &inputs, &storage);
  const int64_t assembled = clock_.NowMicros();
  int64_t ran = assembled;
  if (status.ok()) {
    status = queue.runner_->Run(inputs, output_names, &outputs, want_addresses ? &addresses : nullptr,
                                stoppable_run ? &stoppable.terminator : nullptr);
    ran = clock_.NowMicros();
  }
  if (stoppable_run) {
    std::lock_guard<std::mutex> lock(running_mutex_);   // after this the deadline thread cannot reach `stoppable`
    running_.erase(std::find(running_.begin(), running_.end(), &stoppable));
  }
  if (!status.ok() && stoppable.terminator.terminated()) {
    // Stopped on purpose: say why, not ORT's "terminate flag" message. (A run that finished anyway keeps its result.)
    queue.terminated_.fetch_add(1, std::memory_order_relaxed);
    status = Status(StatusCode::kDeadlineExceeded,
                    "the request deadline passed while it ran, and the run was stopped (terminate_runs_past_deadline)");
  }
  if (status.ok()) CopyOutputsAliasingInputs(inputs, &outputs);
  if (status.ok()) status = SplitBatchOutputs(batch, output_names, &outputs);
  const int64_t end = clock_.NowMicros();
  queue.batches_.fetch_add(1, std::memory_order_relaxed);
  queue.tasks_run_.fetch_add(static_cast<int64_t>(batch.tasks.size()), std::memory_order_relaxed);
  queue.rows_run_.fetch_add(batch.rows, std::memory_order_relaxed);
  queue.padded_rows_.fetch_add(batch.padded_rows - batch.rows, std::memory_order_relaxed);
  if (status.ok()) {
    queue.executions_.Record(batch.rows, static_cast<int64_t>(batch.tasks.size()),
                             ExecutionPhases{assembled - start, ran - assembled, end - ran});
  }
  for (Task* task : batch.tasks) {
    if (!status.ok()) {
      task->status = status;   // every request of a failed batch gets ORT's message
      task->outputs.clear();
    }
    if (want_addresses) task->input_addresses = addresses;
    task->batch_rows = batch.rows;
    task->batch_tasks = static_cast<int64_t>(batch.tasks.size());
    task->queue_micros = start - task->enqueue_micros;
    task->compute_micros = end - start;
  }
  outputs.clear();   // tasks hold their own references now
  for (Task* task : batch.tasks) sink_->Complete(task);
  queue.in_flight_.fetch_sub(1, std::memory_order_acq_rel);
  // No Wake() here: this worker rescans at once (WorkerLoop), so a queue held back by its concurrency limit or a
  // batch formed meanwhile is picked up without waking a second thread, which on a busy 2-core machine cost a futex
  // round trip and a context switch per request.
}

void BatchScheduler::WorkerLoop() {
  NameThisThread("ortserve-run");
  for (;;) {
    const uint64_t seen = epoch_.load();
    if (stopping_.load(std::memory_order_acquire)) return;
    FoundWork found = FindWork();
    if (found.work) {
      if (found.more_work) Wake();   // requests are left over: let another worker take them while this one runs
      Execute(*found.work);
      continue;
    }
    if (found.progressed) continue;
    if (found.wake_micros == BatchFormer::kNever && SpinForWork(seen)) continue;
    std::unique_lock<std::mutex> lock(wake_mutex_);
    sleepers_.fetch_add(1);
    auto changed = [&] { return stopping_.load() || epoch_.load() != seen; };
    if (found.wake_micros == BatchFormer::kNever) {
      wake_.wait(lock, changed);
    } else {
      wake_.wait_for(lock, std::chrono::microseconds(clock_.SleepMicrosUntil(found.wake_micros)), changed);
    }
    sleepers_.fetch_sub(1);
  }
}

bool BatchScheduler::SpinForWork(uint64_t seen) {
  const int64_t budget = spin_micros_.load(std::memory_order_relaxed);
  if (budget <= 0) return false;
  int expected = 0;
  if (!spinners_.compare_exchange_strong(expected, 1)) return false;   // another worker already watches
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(budget);
  bool moved = false;
  for (int i = 0;; ++i) {
    if (stopping_.load(std::memory_order_acquire) || epoch_.load() != seen) {
      moved = true;
      break;
    }
    // The clock is read every 64 rounds: a read costs more than a round of the loop.
    if ((i & 63) == 63 && std::chrono::steady_clock::now() >= until) break;
    CpuRelax();
  }
  spinners_.store(0);
  return moved;
}

void BatchScheduler::LowerNextDeadline(int64_t at, bool notify) {
  int64_t current = next_deadline_.load(std::memory_order_acquire);
  while (at < current) {
    if (next_deadline_.compare_exchange_weak(current, at, std::memory_order_acq_rel)) {
      // Under the mutex: the deadline thread reads next_deadline_ under it before it sleeps, so it either sees the
      // new value or is already waiting and gets this notification.
      if (notify) {
        std::lock_guard<std::mutex> lock(deadline_mutex_);
        deadline_wake_.notify_one();
      }
      return;
    }
  }
}

void BatchScheduler::DeadlineLoop() {
  NameThisThread("ortserve-expiry");
  std::unique_lock<std::mutex> lock(deadline_mutex_);
  for (;;) {
    if (stopping_.load(std::memory_order_acquire)) return;
    const int64_t next = next_deadline_.load(std::memory_order_acquire);
    const int64_t sleep = next == BatchFormer::kNever ? -1 : clock_.SleepMicrosUntil(next);
    if (!deadline_nudged_ && sleep != 0) {
      if (sleep < 0) {
        deadline_wake_.wait(lock);
      } else {
        deadline_wake_.wait_for(lock, std::chrono::microseconds(sleep));
      }
      continue;   // woken, timed out or spurious: look again
    }
    deadline_nudged_ = false;
    lock.unlock();
    ExpirePass();
    lock.lock();
  }
}

void BatchScheduler::ExpirePass() {
  // Reset first: a deadline published from here on lowers it again, so none is lost while this pass looks.
  next_deadline_.store(BatchFormer::kNever, std::memory_order_release);
  std::vector<std::shared_ptr<ModelQueue>> queues;
  {
    std::lock_guard<std::mutex> lock(queues_mutex_);
    queues = queues_;
  }
  std::vector<Task*> expired;
  bool waiting = false;
  for (const auto& queue : queues) {
    // Blocking: workers hold forming_ only while forming a batch, never while running one.
    std::lock_guard<std::mutex> forming(queue->forming_);
    // Every queued task into the former, to see its deadline (waiting_ still counts them: the bound holds).
    Task* task = nullptr;
    while (queue->queue_.try_pop(task)) queue->former_.Add(task);
    for (Task* late : queue->former_.TakeExpired(clock_.NowMicros())) {
      queue->expired_.fetch_add(1, std::memory_order_relaxed);
      queue->waiting_.fetch_sub(1, std::memory_order_acq_rel);
      queue->Left(*late);
      expired.push_back(late);
    }
    LowerNextDeadline(queue->former_.EarliestDeadlineMicros(), false);
    waiting = waiting || !queue->former_.empty();
  }
  {
    std::lock_guard<std::mutex> lock(running_mutex_);
    const int64_t now = clock_.NowMicros();
    for (StoppableRun* run : running_) {
      if (run->terminator.terminated()) continue;   // asked already; its worker will unlist it
      if (run->stop_at_micros <= now) {
        run->terminator.Terminate();
      } else {
        LowerNextDeadline(run->stop_at_micros, false);
      }
    }
  }
  const int64_t now = clock_.NowMicros();
  for (Task* task : expired) FailExpired(task, now);
  // A worker that found a queue's forming lock taken by this pass skipped it: have one look again.
  if (waiting) Wake();
}

void BatchScheduler::Stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    wake_.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(deadline_mutex_);
    deadline_wake_.notify_all();
  }
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  if (deadline_thread_.joinable()) deadline_thread_.join();
  std::vector<std::shared_ptr<ModelQueue>> queues;
  {
    std::lock_guard<std::mutex> lock(queues_mutex_);
    queues.swap(queues_);
  }
  for (auto& queue : queues) {
    std::lock_guard<std::mutex> forming(queue->forming_);
    std::vector<Task*> left = queue->former_.TakeAll();
    Task* task = nullptr;
    while (queue->queue_.try_pop(task)) left.push_back(task);
    queue->waiting_.fetch_sub(static_cast<int64_t>(left.size()), std::memory_order_acq_rel);
    for (Task* t : left) {
      queue->Left(*t);
      Fail(t, StatusCode::kUnavailable, "the server is shutting down");
    }
  }
}

}  // namespace ortserve
