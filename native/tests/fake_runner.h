// Test doubles for the batching tests: a real-time wait helper, a policy helper, a runner that doubles float32 input "x" (failing on negative values, optionally
// blocking until released or terminated), and a sink that collects completed tasks.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/batch_scheduler.h"

namespace ortserve_test {

// Waits (real time, up to `limit_ms`) until `done()` holds; returns whether it did.
template <typename Done>
bool WaitUntil(Done done, int limit_ms = 5000) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(limit_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class VectorOwner final : public ortserve::BufferOwner {
 public:
  explicit VectorOwner(std::size_t bytes) : bytes_(bytes) {}
  uint8_t* data() { return bytes_.data(); }

 private:
  std::vector<uint8_t> bytes_;
};

class DoublingRunner final : public ortserve::BatchRunner {
 public:
  ortserve::Status Run(const std::vector<ortserve::InputTensor>& inputs, const std::vector<std::string>& names,
                       std::vector<ortserve::OutputTensor>* outputs, std::vector<const void*>* addresses,
                       ortserve::RunTerminator* terminator) override {
    started++;
    if (terminator != nullptr) {
      terminable_runs++;
      // As ORT's RunOptions terminate flag: a stop request ends a blocked run early, with an error.
      auto stopped = std::make_shared<bool>(false);   // guarded by mutex_
      terminator->Install([this, stopped] {
        std::lock_guard<std::mutex> lock(mutex_);
        *stopped = true;
        released_.notify_all();
      });
      bool was_stopped = false;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        released_.wait(lock, [&] { return !blocked_ || *stopped; });
        was_stopped = *stopped;
      }
      terminator->Uninstall();
      if (was_stopped) return ortserve::Status(ortserve::StatusCode::kInference, "Exiting due to terminate flag being set to true.");
    } else {
      std::unique_lock<std::mutex> lock(mutex_);
      released_.wait(lock, [&] { return !blocked_; });
    }
    runs++;
    const auto& x = inputs.at(0);
    rows_seen.push(x.shape[0]);
    const auto* in = static_cast<const float*>(x.data);
    const std::size_t count = x.byte_length / sizeof(float);
    for (std::size_t i = 0; i < count; ++i) {
      if (in[i] < 0) return ortserve::Status(ortserve::StatusCode::kInference, "negative input");
    }
    if (addresses != nullptr) addresses->push_back(x.data);
    auto owner = std::make_shared<VectorOwner>(x.byte_length);
    auto* out = reinterpret_cast<float*>(owner->data());
    for (std::size_t i = 0; i < count; ++i) out[i] = in[i] * 2;
    ortserve::OutputTensor y;
    y.name = "y";
    y.type = ortserve::ElementType::kFloat32;
    y.shape = x.shape;
    y.data = owner->data();
    y.byte_length = x.byte_length;
    y.owner = owner;
    outputs->push_back(std::move(y));
    return ortserve::Status::Ok();
  }

  void Block() {
    std::lock_guard<std::mutex> lock(mutex_);
    blocked_ = true;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mutex_);
    blocked_ = false;
    released_.notify_all();
  }

  std::atomic<int> runs{0};             // runs that got past the block and computed
  std::atomic<int> started{0};          // runs entered (blocked or not)
  std::atomic<int> terminable_runs{0};  // runs given a RunTerminator
  // Batch sizes seen (rows), recorded lock-free enough for tests: a mutex-guarded vector.
  struct Rows {
    std::mutex mutex;
    std::vector<int64_t> values;
    void push(int64_t v) {
      std::lock_guard<std::mutex> lock(mutex);
      values.push_back(v);
    }
  } rows_seen;

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  bool blocked_ = false;
};

class CollectingSink final : public ortserve::CompletionSink {
 public:
  void Complete(ortserve::Task* task) override {
    std::lock_guard<std::mutex> lock(mutex_);
    done_.emplace_back(task);
    changed_.notify_all();
  }
  // Waits until `count` tasks completed; returns them in completion order.
  std::vector<std::unique_ptr<ortserve::Task>>& WaitFor(std::size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return done_.size() >= count; });
    return done_;
  }
  std::size_t size() {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::unique_ptr<ortserve::Task>> done_;
};

// A batching policy with the given max_batch_size and batch_timeout_micros, everything else default.
inline ortserve::BatchPolicy Batching(int64_t max, int64_t timeout) {
  ortserve::BatchPolicy policy;
  policy.enabled = true;
  policy.max_batch_size = max;
  policy.batch_timeout_micros = timeout;
  return policy;
}

// A task with input x float32 [rows, width] holding `values` (owned by the task through `storage`). Counts the
// ones alive, so a test can check that every task it made was deleted exactly once (nothing leaked).
struct FloatTask : ortserve::Task {
  std::vector<float> storage;
  int id = 0;
  static std::atomic<int>& Live() {
    static std::atomic<int> live{0};
    return live;
  }
  FloatTask(const FloatTask&) = delete;
  FloatTask& operator=(const FloatTask&) = delete;
  ~FloatTask() override { Live().fetch_sub(1); }
  FloatTask(int task_id, std::vector<float> values, int64_t width) : storage(std::move(values)), id(task_id) {
    Live().fetch_add(1);
    ortserve::InputTensor x;
    x.name = "x";
    x.type = ortserve::ElementType::kFloat32;
    rows = static_cast<int64_t>(storage.size()) / width;
    x.shape = {rows, width};
    x.data = storage.data();
    x.byte_length = storage.size() * sizeof(float);
    inputs.push_back(x);
  }
};

// A FloatTask as Schedule takes it.
inline std::unique_ptr<ortserve::Task> NewFloatTask(int task_id, std::vector<float> values, int64_t width) {
  return std::make_unique<FloatTask>(task_id, std::move(values), width);
}

// Schedules `task` and returns the status; the task is consumed either way (a refused one is deleted here). For
// tests that only need the status: the ownership rule itself is tested in batch_scheduler_test.cc.
inline ortserve::Status ScheduleOrDrop(ortserve::BatchScheduler& scheduler, ortserve::ModelQueue& queue,
                                       std::unique_ptr<ortserve::Task> task) {
  return scheduler.Schedule(queue, &task);
}

}  // namespace ortserve_test
