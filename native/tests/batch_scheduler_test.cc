// BatchScheduler tests with a fake runner: every task completes exactly once with its own rows, batching merges
// concurrent requests, a full queue refuses at once, failures stay inside their batch, deadlines, shutdown and
// round-robin fairness between queues. A refused task stays with the caller, and no task leaks.
#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "core/batch_scheduler.h"
#include "tests/check.h"
#include "tests/fake_runner.h"

using namespace ortserve;
using ortserve_test::Batching;
using ortserve_test::CollectingSink;
using ortserve_test::DoublingRunner;
using ortserve_test::FloatTask;
using ortserve_test::NewFloatTask;
using ortserve_test::ScheduleOrDrop;

namespace {

// Checks each completed task got its own values doubled.
int CountWrongResults(std::vector<std::unique_ptr<Task>>& done) {
  int wrong = 0;
  for (auto& task : done) {
    auto* t = static_cast<FloatTask*>(task.get());
    if (!t->status.ok() || t->outputs.size() != 1) {
      ++wrong;
      continue;
    }
    const auto* y = static_cast<const float*>(t->outputs[0].data);
    for (std::size_t i = 0; i < t->storage.size(); ++i) {
      if (y[i] != t->storage[i] * 2) {
        ++wrong;
        break;
      }
    }
  }
  return wrong;
}

}  // namespace

TEST(scheduler_unbatched_many_producers_each_task_once) {
  CollectingSink sink;
  auto runner = std::make_shared<DoublingRunner>();
  BatchScheduler scheduler(2, &sink);
  auto queue = std::make_shared<ModelQueue>(BatchPolicy{}, runner, std::vector<std::string>{"y"});
  scheduler.AddQueue(queue);
  constexpr int kThreads = 4, kPerThread = 300;
  std::vector<std::thread> producers;
  for (int p = 0; p < kThreads; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerThread; ++i) {
        auto task = NewFloatTask(p * kPerThread + i, {static_cast<float>(p), static_cast<float>(i)}, 2);
        // Producers share the scheduler only through Schedule; retry (the task is still ours) when the queue is
        // momentarily full.
        while (!scheduler.Schedule(*queue, &task).ok()) std::this_thread::yield();
      }
    });
  }
  for (auto& t : producers) t.join();
  auto& done = sink.WaitFor(kThreads * kPerThread);
  CHECK_EQ(done.size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::vector<int> seen(kThreads * kPerThread, 0);
  for (auto& task : done) seen[static_cast<std::size_t>(static_cast<FloatTask*>(task.get())->id)]++;
  CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
  CHECK_EQ(CountWrongResults(done), 0);
  CHECK_EQ(runner->runs.load(), kThreads * kPerThread);   // unbatched: one run per request
}

TEST(scheduler_batches_concurrent_requests_and_splits_rows) {
  CollectingSink sink;
  auto runner = std::make_shared<DoublingRunner>();
  BatchScheduler scheduler(1, &sink);
  auto queue = std::make_shared<ModelQueue>(Batching(8, 200000), runner, std::vector<std::string>{"y"});
  scheduler.AddQueue(queue);
  runner->Block();   // hold the worker so requests pile up into batches
  constexpr int kTasks = 40;
  for (int i = 0; i < kTasks; ++i) {
    CHECK(ScheduleOrDrop(scheduler, *queue, NewFloatTask(i, {static_cast<float>(i), static_cast<float>(i) + 0.5f}, 2)).ok());
  }
  runner->Release();
  auto& done = sink.WaitFor(kTasks);
  CHECK_EQ(CountWrongResults(done), 0);
  CHECK(runner->runs.load() < kTasks);   // merged
  int64_t max_rows = 0;
  for (int64_t rows : runner->rows_seen.values) max_rows = std::max(max_rows, rows);
  CHECK(max_rows > 1);
  CHECK(max_rows <= 8);
  QueueStats stats = queue->Stats();
  CHECK_EQ(stats.tasks_run, kTasks);
  CHECK_EQ(stats.rows_run, kTasks);
}

TEST(scheduler_full_queue_refuses_at_once_and_keeps_ownership_with_caller) {
  CollectingSink sink;
  auto runner = std::make_shared<DoublingRunner>();
  BatchScheduler scheduler(1, &sink);
  BatchPolicy policy;
  policy.max_queued_requests = 4;
  auto queue = std::make_shared<ModelQueue>(policy, runner, std::vector<std::string>{"y"});
  scheduler.AddQueue(queue);
  runner->Block();
  const int live_before = FloatTask::Live().load();
  int accepted = 0;
  Status refused;
  for (int i = 0; i < 20; ++i) {
    auto task = NewFloatTask(i, {1, 2}, 2);
    Task* const made = task.get();
    Status status = scheduler.Schedule(*queue, &task);
    if (status.ok()) {
      CHECK(task == nullptr);   // accepted: the scheduler's now
      ++accepted;
    } else {
      CHECK(task.get() == made);   // refused: still ours, deleted at the end of this iteration
      refused = status;
    }
  }
  CHECK(accepted >= 4);
  CHECK(accepted <= 6);   // the queue bound plus what a worker already holds
  CHECK(refused.code() == StatusCode::kUnavailable);
  CHECK(refused.message().find("queue is full") != std::string::npos);
  CHECK(queue->Stats().rejected_full > 0);
  CHECK_EQ(FloatTask::Live().load() - live_before, accepted);   // the refused ones were freed by their owner, us
  runner->Release();
  CHECK_EQ(sink.WaitFor(static_cast<std::size_t>(accepted)).size(), static_cast<std::size_t>(accepted));
}

TEST(scheduler_failed_batch_fails_only_its_requests) {
  CollectingSink sink;
  auto runner = std::make_shared<DoublingRunner>();
  BatchScheduler scheduler(1, &sink);
  auto queue = std::make_shared<ModelQueue>(BatchPolicy{}, runner, std::vector<std::string>{"y"});
  scheduler.AddQueue(queue);
  CHECK(ScheduleOrDrop(scheduler, *queue, NewFloatTask(0, {1, 2}, 2)).ok());
  CHECK(ScheduleOrDrop(scheduler, *queue, NewFloatTask(1, {-1, 2}, 2)).ok());
  CHECK(ScheduleOrDrop(scheduler, *queue, NewFloatTask(2, {3, 4}, 2)).ok());
  auto& done = sink.WaitFor(3);
  for (auto& task : done) {
    auto* t = static_cast<FloatTask*>(task.get());
    if (t->id == 1) {
      CHECK(t->status.code() == StatusCode::kInference);
      CHECK_EQ(t->status.message(), std::string("negative input"));
    } else {
      CHECK(t->status.ok());
    }
  }
}

TEST(scheduler_expired_deadline_never_reaches_the_model) {
  CollectingSink sink;
  auto runner = std::make_shared<DoublingRunner>();
  BatchScheduler scheduler(1, &sink);
  auto queue = std::make_shared<ModelQueue>(BatchPolicy{}, runner, std::vector<std::string>{"y"});
  scheduler.AddQueue(queue);
  auto late = NewFloatTask(0, {1, 2}, 2);
  late->deadline_micros = 1;   // long past on the steady clock
  CHECK(scheduler.Schedule(*queue, &late).ok());
  auto& done = sink.WaitFor(1);
  CHECK(done[0]->status.code() == StatusCode::kDeadlineExceeded);
  CHECK_EQ(runner->runs.load(), 0);
  CHECK_EQ(queue->Stats().expired, 1);
}

TEST(scheduler_stop_fails_queued_tasks_and_refuses_new_ones) {
  CollectingSink sink;
  auto runner = std::make_shared<DoublingRunner>();
  auto scheduler = std::make_unique<BatchScheduler>(1, &sink);
  auto queue = std::make_shared<ModelQueue>(Batching(4, 60000000), runner, std::vector<std::string>{"y"});
  scheduler->AddQueue(queue);
  for (int i = 0; i < 3; ++i) CHECK(ScheduleOrDrop(*scheduler, *queue, NewFloatTask(i, {1, 2}, 2)).ok());
  scheduler->Stop();   // the batch is still open (one-minute timeout): every task fails with UNAVAILABLE
  auto& done = sink.WaitFor(3);
  for (auto& task : done) CHECK(task->status.code() == StatusCode::kUnavailable);
  CHECK(ScheduleOrDrop(*scheduler, *queue, NewFloatTask(9, {1, 2}, 2)).code() == StatusCode::kUnavailable);
}

TEST(scheduler_round_robin_keeps_a_cold_model_from_starving) {
  CollectingSink sink;
  auto hot_runner = std::make_shared<DoublingRunner>();
  auto cold_runner = std::make_shared<DoublingRunner>();
  BatchScheduler scheduler(1, &sink);
  BatchPolicy policy;
  policy.max_queued_requests = 2000;
  auto hot = std::make_shared<ModelQueue>(policy, hot_runner, std::vector<std::string>{"y"});
  auto cold = std::make_shared<ModelQueue>(policy, cold_runner, std::vector<std::string>{"y"});
  scheduler.AddQueue(hot);
  scheduler.AddQueue(cold);
  hot_runner->Block();
  for (int i = 0; i < 500; ++i) CHECK(ScheduleOrDrop(scheduler, *hot, NewFloatTask(i, {1, 2}, 2)).ok());
  for (int i = 0; i < 10; ++i) CHECK(ScheduleOrDrop(scheduler, *cold, NewFloatTask(1000 + i, {1, 2}, 2)).ok());
  hot_runner->Release();
  auto& done = sink.WaitFor(510);
  std::size_t last_cold = 0;
  for (std::size_t i = 0; i < done.size(); ++i) {
    if (static_cast<FloatTask*>(done[i].get())->id >= 1000) last_cold = i;
  }
  // Alternating queues, the 10 cold requests finish within the first ~21 completions, not after 500 hot ones.
  CHECK(last_cold < 30);
}

TEST(scheduler_cancelled_tasks_are_all_failed_after_a_nudge) {
  CollectingSink sink;
  auto runner = std::make_shared<DoublingRunner>();
  BatchScheduler scheduler(1, &sink);
  auto queue = std::make_shared<ModelQueue>(BatchPolicy{}, runner, std::vector<std::string>{"y"});
  scheduler.AddQueue(queue);
  runner->Block();
  CHECK(ScheduleOrDrop(scheduler, *queue, NewFloatTask(0, {1, 2}, 2)).ok());   // occupies the only worker
  std::vector<std::shared_ptr<std::atomic<bool>>> flags;
  for (int i = 1; i <= 5; ++i) {
    auto task = NewFloatTask(i, {1, 2}, 2);
    task->cancel_flag = std::make_shared<std::atomic<bool>>(false);
    flags.push_back(task->cancel_flag);
    CHECK(scheduler.Schedule(*queue, &task).ok());
  }
  for (auto& flag : flags) flag->store(true);
  scheduler.Nudge();
  runner->Release();
  auto& done = sink.WaitFor(6);
  int cancelled = 0;
  for (auto& task : done) cancelled += task->status.code() == StatusCode::kDeadlineExceeded ? 1 : 0;
  CHECK_EQ(cancelled, 5);            // every queued one, not just the first behind the running task
  CHECK_EQ(runner->runs.load(), 1);  // none of them reached the model
}

TEST(scheduler_refused_task_stays_with_the_caller_and_nothing_leaks) {
  const int live_before = FloatTask::Live().load();
  {
    CollectingSink sink;   // declared first, so it outlives the scheduler that completes into it
    auto runner = std::make_shared<DoublingRunner>();
    BatchScheduler scheduler(1, &sink);
    auto batched = std::make_shared<ModelQueue>(Batching(1, 0), runner, std::vector<std::string>{"y"});
    auto closed = std::make_shared<ModelQueue>(BatchPolicy{}, runner, std::vector<std::string>{"y"});
    scheduler.AddQueue(batched);
    scheduler.AddQueue(closed);
    closed->Close();
    // Each refusal must leave the very same task, alive and untouched, with the caller.
    const auto expect_refused = [&](ModelQueue& queue, StatusCode code, const char* reason) {
      auto task = NewFloatTask(7, {1, 2, 3, 4}, 2);   // 2 rows
      Task* const made = task.get();
      const Status status = scheduler.Schedule(queue, &task);
      CHECK(status.code() == code);
      CHECK(status.message().find(reason) != std::string::npos);
      CHECK(task.get() == made);
      CHECK_EQ(static_cast<FloatTask*>(task.get())->storage[3], 4.0f);   // a freed task here is an ASan error
    };
    expect_refused(*batched, StatusCode::kInvalidArgument, "more than max_batch_size");
    expect_refused(*closed, StatusCode::kUnavailable, "unloading");
    auto accepted = NewFloatTask(1, {1, 2}, 2);
    CHECK(scheduler.Schedule(*closed, &accepted).code() == StatusCode::kUnavailable);
    CHECK(scheduler.Schedule(*batched, &accepted).ok());
    CHECK(accepted == nullptr);
    CHECK_EQ(sink.WaitFor(1).size(), static_cast<std::size_t>(1));
    scheduler.Stop();
    expect_refused(*batched, StatusCode::kUnavailable, "shutting down");
  }
  // Every task made above was deleted exactly once: by the caller when refused, by the sink when completed.
  CHECK_EQ(FloatTask::Live().load(), live_before);
}

// With spinning on, idle workers watch for work before sleeping: every task still completes exactly once, one at a
// time (each scheduled only after the previous completed, so a spinning worker is the one that finds it) and from
// many producers; and Stop() ends a worker that is spinning with a long budget without waiting for it.
TEST(scheduler_spinning_workers_complete_every_task_and_stop_promptly) {
  CollectingSink sink;
  auto runner = std::make_shared<DoublingRunner>();
  BatchScheduler scheduler(2, &sink);
  scheduler.SetSpinMicros(1000);
  auto queue = std::make_shared<ModelQueue>(BatchPolicy{}, runner, std::vector<std::string>{"y"});
  scheduler.AddQueue(queue);
  constexpr int kSequential = 200;
  for (int i = 0; i < kSequential; ++i) {
    auto task = NewFloatTask(i, {static_cast<float>(i)}, 1);
    CHECK(scheduler.Schedule(*queue, &task).ok());
    sink.WaitFor(static_cast<std::size_t>(i + 1));
  }
  constexpr int kThreads = 3, kPerThread = 200;
  std::vector<std::thread> producers;
  for (int p = 0; p < kThreads; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerThread; ++i) {
        auto task = NewFloatTask(kSequential + p * kPerThread + i, {static_cast<float>(p), static_cast<float>(i)}, 2);
        while (!scheduler.Schedule(*queue, &task).ok()) std::this_thread::yield();
      }
    });
  }
  for (auto& t : producers) t.join();
  auto& done = sink.WaitFor(kSequential + kThreads * kPerThread);
  CHECK_EQ(done.size(), static_cast<std::size_t>(kSequential + kThreads * kPerThread));
  std::vector<int> seen(kSequential + kThreads * kPerThread, 0);
  for (auto& task : done) seen[static_cast<std::size_t>(static_cast<FloatTask*>(task.get())->id)]++;
  CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
  CHECK_EQ(CountWrongResults(done), 0);
  // A 30 s budget: Stop() must not wait for it (the spin checks stopping_), so it returns long before.
  scheduler.SetSpinMicros(30'000'000);
  auto nudge = NewFloatTask(kSequential + kThreads * kPerThread, {1.0f}, 1);
  CHECK(scheduler.Schedule(*queue, &nudge).ok());   // the workers loop once more and one starts its long spin
  sink.WaitFor(kSequential + kThreads * kPerThread + 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto before = std::chrono::steady_clock::now();
  scheduler.Stop();
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(10));
}
