// BatchScheduler: worker threads that pull tasks from model queues, form batches, run them and complete the tasks.
#include "core/batch_scheduler.h"

#include <algorithm>
#include <chrono>

#include "core/batch_assembly.h"

namespace ortserve {

ModelQueue::ModelQueue(BatchPolicy policy, std::shared_ptr<BatchRunner> runner, std::vector<std::string> model_outputs)
    : policy_(std::move(policy)),
      runner_(std::move(runner)),
      model_outputs_(std::move(model_outputs)),
      queue_(static_cast<std::size_t>(std::max<int64_t>(policy_.QueueCapacity(), 1))),
      former_(policy_) {}

QueueStats ModelQueue::Stats() const {
  QueueStats s;
  s.enqueued = enqueued_.load(std::memory_order_relaxed);
  s.rejected_full = rejected_full_.load(std::memory_order_relaxed);
  s.expired = expired_.load(std::memory_order_relaxed);
  s.batches = batches_.load(std::memory_order_relaxed);
  s.tasks_run = tasks_run_.load(std::memory_order_relaxed);
  s.rows_run = rows_run_.load(std::memory_order_relaxed);
  s.padded_rows = padded_rows_.load(std::memory_order_relaxed);
  s.queued = static_cast<int64_t>(queue_.size());
  return s;
}

BatchScheduler::BatchScheduler(int num_threads, CompletionSink* sink, const Clock& clock) : sink_(sink), clock_(clock) {
  const int count = std::max(1, num_threads);
  workers_.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) workers_.emplace_back([this] { WorkerLoop(); });
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
  task->enqueue_micros = clock_.NowMicros();
  if (!queue.queue_.try_push(std::move(task))) {
    queue.rejected_full_.fetch_add(1, std::memory_order_relaxed);
    return Status(StatusCode::kUnavailable, "the request queue is full (" + std::to_string(queue.queue_.capacity()) +
                                                " requests waiting); retry later");
  }
  // Queued: the scheduler owns it now. A worker may already have completed it; release() does not touch it.
  owned->release();
  queue.enqueued_.fetch_add(1, std::memory_order_relaxed);
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

void BatchScheduler::Fail(Task* task, StatusCode code, const std::string& message) {
  task->status = Status(code, message);
  sink_->Complete(task);
}

BatchScheduler::FoundWork BatchScheduler::FindWork() {
  FoundWork found;
  std::vector<Task*> expired;
  {
    std::lock_guard<std::mutex> lock(queues_mutex_);
    const std::size_t count = queues_.size();
    for (std::size_t step = 0; step < count && !found.work; ++step) {
      const std::size_t at = (next_queue_ + step) % count;
      const std::shared_ptr<ModelQueue>& queue = queues_[at];
      const int64_t limit = queue->policy_.num_batch_threads;
      if (limit > 0 && queue->in_flight_.load(std::memory_order_acquire) >= limit) continue;
      std::unique_lock<std::mutex> forming(queue->forming_, std::try_to_lock);
      if (!forming.owns_lock()) continue;   // another worker is forming this queue's batch
      Task* task = nullptr;
      while (queue->former_.WantsMore() && queue->queue_.try_pop(task)) queue->former_.Add(task);
      const int64_t now = clock_.NowMicros();
      for (Task* late : queue->former_.TakeExpired(now)) {
        queue->expired_.fetch_add(1, std::memory_order_relaxed);
        expired.push_back(late);
      }
      Batch batch;
      if (queue->former_.TakeReadyBatch(now, &batch)) {
        queue->in_flight_.fetch_add(1, std::memory_order_acq_rel);
        found.work = Work{queue, std::move(batch)};
        next_queue_ = at + 1;   // round robin: the next search starts after the queue just served
        found.more_work = !queue->queue_.empty() || !queue->former_.empty();   // forming lock held: former_ is ours
      } else {
        found.wake_micros = std::min(found.wake_micros, queue->former_.NextWakeMicros());
      }
    }
    // Requests waiting in other queues (approximate sizes: a miss only delays them until the next push or batch).
    for (std::size_t i = 0; found.work && !found.more_work && i < count; ++i) found.more_work = !queues_[i]->queue_.empty();
    // Forget closed queues with nothing left to run.
    queues_.erase(std::remove_if(queues_.begin(), queues_.end(), [](const std::shared_ptr<ModelQueue>& q) {
                    return q->closed() && q->queue_.empty() && q->in_flight_.load() == 0 && q->former_.empty();
                  }),
                  queues_.end());
  }
  found.progressed = !expired.empty();
  for (Task* task : expired) {
    Fail(task, StatusCode::kDeadlineExceeded,
         task->Cancelled() ? "the request was cancelled before it ran" : "the request deadline passed before it ran");
  }
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
  Status status = AssembleBatchInputs(batch, queue.policy_.pad_variable_length_inputs, &inputs, &storage);
  if (status.ok()) status = queue.runner_->Run(inputs, output_names, &outputs, want_addresses ? &addresses : nullptr);
  if (status.ok()) status = SplitBatchOutputs(batch, output_names, &outputs);
  const int64_t end = clock_.NowMicros();
  queue.batches_.fetch_add(1, std::memory_order_relaxed);
  queue.tasks_run_.fetch_add(static_cast<int64_t>(batch.tasks.size()), std::memory_order_relaxed);
  queue.rows_run_.fetch_add(batch.rows, std::memory_order_relaxed);
  queue.padded_rows_.fetch_add(batch.padded_rows - batch.rows, std::memory_order_relaxed);
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
  // No Wake() here: this worker rescans at once (WorkerLoop), so a queue held back by num_batch_threads or a batch
  // formed meanwhile is picked up without waking a second thread, which on a busy 2-core machine cost a futex
  // round trip and a context switch per request.
}

void BatchScheduler::WorkerLoop() {
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
    std::unique_lock<std::mutex> lock(wake_mutex_);
    sleepers_.fetch_add(1);
    auto changed = [&] { return stopping_.load() || epoch_.load() != seen; };
    if (found.wake_micros == BatchFormer::kNever) {
      wake_.wait(lock, changed);
    } else {
      const int64_t wait = std::max<int64_t>(0, found.wake_micros - clock_.NowMicros());
      wake_.wait_for(lock, std::chrono::microseconds(wait), changed);
    }
    sleepers_.fetch_sub(1);
  }
}

void BatchScheduler::Stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    wake_.notify_all();
  }
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  std::vector<std::shared_ptr<ModelQueue>> queues;
  {
    std::lock_guard<std::mutex> lock(queues_mutex_);
    queues.swap(queues_);
  }
  for (auto& queue : queues) {
    std::lock_guard<std::mutex> forming(queue->forming_);
    for (Task* task : queue->former_.TakeAll()) Fail(task, StatusCode::kUnavailable, "the server is shutting down");
    Task* task = nullptr;
    while (queue->queue_.try_pop(task)) Fail(task, StatusCode::kUnavailable, "the server is shutting down");
  }
}

}  // namespace ortserve
