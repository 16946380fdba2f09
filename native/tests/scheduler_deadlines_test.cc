// BatchScheduler deadline and fairness tests with a fake runner and a fake clock: a queued request fails at its
// deadline while every worker is busy, each task completes exactly once even when expiry races the workers, a run
// past every deadline in it is stopped (and only then), and a model at its concurrency limit leaves workers to others.
#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "core/batch_scheduler.h"
#include "core/clock.h"
#include "tests/check.h"
#include "tests/fake_runner.h"

using namespace ortserve;
using ortserve_test::Batching;
using ortserve_test::CollectingSink;
using ortserve_test::DoublingRunner;
using ortserve_test::FloatTask;
using ortserve_test::NewFloatTask;
using ortserve_test::WaitUntil;
using ortserve_test::ScheduleOrDrop;

namespace {

constexpr int64_t kStart = 1000000;   // fake time starts here, so that deadline 0 ("none") is never near

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

int IdOf(const std::unique_ptr<Task>& task) { return static_cast<FloatTask*>(task.get())->id; }

const Task* Find(std::vector<std::unique_ptr<Task>>& done, int id) {
  for (auto& task : done) {
    if (IdOf(task) == id) return task.get();
  }
  return nullptr;
}

}  // namespace

TEST(deadline_fires_on_time_while_every_worker_is_busy) {
  const int live_before = FloatTask::Live().load();
  {
    FakeClock clock;
    clock.Set(kStart);
    CollectingSink sink;
    auto runner = std::make_shared<DoublingRunner>();
    BatchScheduler scheduler(1, &sink, clock);
    auto queue = std::make_shared<ModelQueue>(BatchPolicy{}, runner, std::vector<std::string>{"y"});
    scheduler.AddQueue(queue);
    runner->Block();
    CHECK(ScheduleOrDrop(scheduler, *queue, NewFloatTask(0, {1, 2}, 2)).ok());   // no deadline: holds the only worker
    CHECK(WaitUntil([&] { return runner->started.load() == 1; }));
    auto soon = NewFloatTask(1, {1, 2}, 2);
    soon->deadline_micros = kStart + 300000;
    auto later = NewFloatTask(2, {1, 2}, 2);
    later->deadline_micros = kStart + 500000;
    CHECK(scheduler.Schedule(*queue, &soon).ok());
    CHECK(ScheduleOrDrop(scheduler, *queue, NewFloatTask(3, {3, 4}, 2)).ok());   // no deadline: waits its turn
    CHECK(scheduler.Schedule(*queue, &later).ok());
    clock.Advance(299999);
    SleepMs(30);
    CHECK_EQ(sink.size(), std::size_t{0});   // not one microsecond early
    clock.Advance(1);
    // The worker is still blocked: only the deadline thread can fail it, and it does within its 1 ms poll.
    CHECK(WaitUntil([&] { return sink.size() == 1; }, 1000));
    {
      auto& done = sink.WaitFor(1);
      CHECK_EQ(IdOf(done[0]), 1);
      CHECK(done[0]->status.code() == StatusCode::kDeadlineExceeded);
      CHECK(done[0]->status.message().find("deadline passed before it ran") != std::string::npos);
    }
    CHECK_EQ(queue->Stats().queued, 2);
    clock.Advance(200000);
    CHECK(WaitUntil([&] { return sink.size() == 2; }, 1000));
    CHECK_EQ(runner->started.load(), 1);   // still the first run: no worker was involved
    runner->Release();
    auto& done = sink.WaitFor(4);
    CHECK_EQ(done.size(), std::size_t{4});
    CHECK(Find(done, 2)->status.code() == StatusCode::kDeadlineExceeded);
    CHECK(Find(done, 0)->status.ok());
    CHECK(Find(done, 3)->status.ok());
    CHECK_EQ(runner->runs.load(), 2);   // the expired ones never reached the model
    const QueueStats stats = queue->Stats();
    CHECK_EQ(stats.expired, 2);
    CHECK_EQ(stats.queued, 0);
    scheduler.Stop();
    CHECK_EQ(sink.size(), std::size_t{4});   // each exactly once: nothing completed twice
  }
  CHECK_EQ(FloatTask::Live().load(), live_before);
}

TEST(deadline_expiry_racing_the_workers_completes_each_task_exactly_once) {
  // Real clock, deadlines within a few ms of now, tasks that run fast and cancellations: the deadline thread and
  // the workers compete for the same tasks. Under TSan this is the ownership check.
  const int live_before = FloatTask::Live().load();
  {
    CollectingSink sink;
    auto runner = std::make_shared<DoublingRunner>();
    BatchScheduler scheduler(2, &sink);
    BatchPolicy unbatched;
    unbatched.max_queued_requests = 4096;
    auto plain = std::make_shared<ModelQueue>(unbatched, runner, std::vector<std::string>{"y"});
    auto batched = std::make_shared<ModelQueue>(Batching(4, 200), runner, std::vector<std::string>{"y"});
    scheduler.AddQueue(plain);
    scheduler.AddQueue(batched);
    constexpr int kThreads = 3, kPerThread = 400;
    std::vector<std::thread> producers;
    for (int p = 0; p < kThreads; ++p) {
      producers.emplace_back([&, p] {
        std::mt19937 random(static_cast<unsigned>(p));
        for (int i = 0; i < kPerThread; ++i) {
          auto task = NewFloatTask(p * kPerThread + i, {1, 2}, 2);
          const int kind = static_cast<int>(random() % 4);
          if (kind < 3) task->deadline_micros = SteadyClock::Instance().NowMicros() + static_cast<int64_t>(random() % 3000);
          std::shared_ptr<std::atomic<bool>> flag;
          if (kind == 3) flag = task->cancel_flag = std::make_shared<std::atomic<bool>>(false);
          ModelQueue& queue = (i % 2 == 0) ? *plain : *batched;
          while (!scheduler.Schedule(queue, &task).ok()) std::this_thread::yield();
          if (flag && random() % 2 == 0) {
            flag->store(true);
            scheduler.Nudge();
          }
        }
      });
    }
    for (auto& t : producers) t.join();
    auto& done = sink.WaitFor(kThreads * kPerThread);
    std::vector<int> seen(kThreads * kPerThread, 0);
    for (auto& task : done) seen[static_cast<std::size_t>(IdOf(task))]++;
    int wrong = 0;
    for (int n : seen) wrong += n == 1 ? 0 : 1;
    CHECK_EQ(wrong, 0);
    scheduler.Stop();
    CHECK_EQ(sink.size(), static_cast<std::size_t>(kThreads * kPerThread));
    CHECK_EQ(plain->Stats().queued + batched->Stats().queued, 0);
  }
  CHECK_EQ(FloatTask::Live().load(), live_before);
}

TEST(deadline_stops_a_single_running_request_past_it) {
  FakeClock clock;
  clock.Set(kStart);
  CollectingSink sink;
  auto runner = std::make_shared<DoublingRunner>();
  BatchScheduler scheduler(1, &sink, clock);
  auto queue = std::make_shared<ModelQueue>(BatchPolicy{}, runner, std::vector<std::string>{"y"});
  scheduler.AddQueue(queue);
  runner->Block();   // the run would go on until released: only termination can end it
  auto task = NewFloatTask(0, {1, 2}, 2);
  task->deadline_micros = kStart + 100000;
  CHECK(scheduler.Schedule(*queue, &task).ok());
  CHECK(WaitUntil([&] { return runner->started.load() == 1; }));
  CHECK_EQ(runner->terminable_runs.load(), 1);
  clock.Advance(99999);
  SleepMs(20);
  CHECK_EQ(sink.size(), std::size_t{0});
  clock.Advance(1);
  CHECK(WaitUntil([&] { return sink.size() == 1; }, 1000));
  auto& done = sink.WaitFor(1);
  CHECK(done[0]->status.code() == StatusCode::kDeadlineExceeded);
  CHECK(done[0]->status.message().find("the run was stopped") != std::string::npos);
  CHECK(done[0]->outputs.empty());
  CHECK_EQ(runner->runs.load(), 0);
  CHECK_EQ(queue->Stats().terminated, 1);
  runner->Release();
  // The worker is free again and the next request runs normally.
  CHECK(ScheduleOrDrop(scheduler, *queue, NewFloatTask(1, {1, 2}, 2)).ok());
  CHECK(sink.WaitFor(2)[1]->status.ok());
}

TEST(deadline_never_stops_a_batch_carrying_a_request_with_time_left) {
  FakeClock clock;
  clock.Set(kStart);
  CollectingSink sink;
  auto runner = std::make_shared<DoublingRunner>();
  BatchScheduler scheduler(1, &sink, clock);
  // Batches of two, sent when full (the timeout is never reached on the fake clock).
  auto queue = std::make_shared<ModelQueue>(Batching(2, 10000000), runner, std::vector<std::string>{"y"});
  scheduler.AddQueue(queue);
  runner->Block();
  auto short_deadline = NewFloatTask(1, {1, 2}, 2);
  short_deadline->deadline_micros = kStart + 100000;
  auto no_deadline = NewFloatTask(2, {3, 4}, 2);
  CHECK(scheduler.Schedule(*queue, &short_deadline).ok());
  CHECK(scheduler.Schedule(*queue, &no_deadline).ok());
  CHECK(WaitUntil([&] { return runner->started.load() == 1; }));
  CHECK_EQ(runner->terminable_runs.load(), 0);   // it carries a request without a deadline
  clock.Advance(150000);
  SleepMs(20);
  CHECK_EQ(sink.size(), std::size_t{0});
  runner->Release();
  CHECK(WaitUntil([&] { return sink.size() == 2; }));
  for (auto& t : sink.WaitFor(2)) CHECK(t->status.ok());

  // Every request in it has a deadline: the batch is stopped once the latest has passed, not the earliest.
  runner->Block();
  const int64_t now = clock.NowMicros();
  auto a = NewFloatTask(4, {1, 2}, 2);
  a->deadline_micros = now + 100000;
  auto b = NewFloatTask(5, {1, 2}, 2);
  b->deadline_micros = now + 200000;
  CHECK(scheduler.Schedule(*queue, &a).ok());
  CHECK(scheduler.Schedule(*queue, &b).ok());
  CHECK(WaitUntil([&] { return runner->terminable_runs.load() == 1; }));
  clock.Advance(150000);   // past a's deadline only: the batch keeps running for b
  SleepMs(20);
  CHECK_EQ(sink.size(), std::size_t{2});
  clock.Advance(50000);
  CHECK(WaitUntil([&] { return sink.size() == 4; }, 1000));
  for (int id : {4, 5}) CHECK(Find(sink.WaitFor(4), id)->status.code() == StatusCode::kDeadlineExceeded);
  CHECK_EQ(queue->Stats().terminated, 1);
  runner->Release();
}

TEST(deadline_termination_can_be_turned_off) {
  FakeClock clock;
  clock.Set(kStart);
  CollectingSink sink;
  auto runner = std::make_shared<DoublingRunner>();
  BatchScheduler scheduler(1, &sink, clock);
  scheduler.SetTerminateRunsPastDeadline(false);
  auto queue = std::make_shared<ModelQueue>(BatchPolicy{}, runner, std::vector<std::string>{"y"});
  scheduler.AddQueue(queue);
  runner->Block();
  auto task = NewFloatTask(0, {1, 2}, 2);
  task->deadline_micros = kStart + 100000;
  CHECK(scheduler.Schedule(*queue, &task).ok());
  CHECK(WaitUntil([&] { return runner->started.load() == 1; }));
  clock.Advance(200000);
  SleepMs(20);
  CHECK_EQ(sink.size(), std::size_t{0});   // it started in time, so it runs to the end
  runner->Release();
  CHECK(sink.WaitFor(1)[0]->status.ok());
  CHECK_EQ(runner->terminable_runs.load(), 0);
}

TEST(limit_a_model_alone_may_use_every_worker) {
  CollectingSink sink;
  auto runner = std::make_shared<DoublingRunner>();
  BatchScheduler scheduler(3, &sink);
  auto queue = std::make_shared<ModelQueue>(BatchPolicy{}, runner, std::vector<std::string>{"y"});
  scheduler.AddQueue(queue);
  runner->Block();
  for (int i = 0; i < 5; ++i) CHECK(ScheduleOrDrop(scheduler, *queue, NewFloatTask(i, {1, 2}, 2)).ok());
  CHECK(WaitUntil([&] { return runner->started.load() == 3; }));
  CHECK_EQ(queue->Stats().running, 3);
  runner->Release();
  CHECK_EQ(sink.WaitFor(5).size(), std::size_t{5});
}

TEST(limit_a_slow_model_leaves_a_worker_to_the_others) {
  CollectingSink sink;
  auto slow_runner = std::make_shared<DoublingRunner>();
  auto fast_runner = std::make_shared<DoublingRunner>();
  BatchScheduler scheduler(3, &sink);
  auto slow = std::make_shared<ModelQueue>(BatchPolicy{}, slow_runner, std::vector<std::string>{"y"});
  auto fast = std::make_shared<ModelQueue>(BatchPolicy{}, fast_runner, std::vector<std::string>{"y"});
  scheduler.AddQueue(slow);
  scheduler.AddQueue(fast);
  slow_runner->Block();
  for (int i = 0; i < 8; ++i) CHECK(ScheduleOrDrop(scheduler, *slow, NewFloatTask(i, {1, 2}, 2)).ok());
  CHECK(WaitUntil([&] { return slow_runner->started.load() == 2; }));
  SleepMs(30);
  CHECK_EQ(slow_runner->started.load(), 2);   // automatic limit with two models: 3 workers - 1
  CHECK_EQ(slow->Stats().running, 2);
  CHECK_EQ(slow->Stats().queued, 6);
  CHECK(ScheduleOrDrop(scheduler, *fast, NewFloatTask(100, {1, 2}, 2)).ok());
  CHECK(WaitUntil([&] { return sink.size() == 1; }, 2000));   // answered while the slow model holds its two workers
  CHECK_EQ(IdOf(sink.WaitFor(1)[0]), 100);
  slow_runner->Release();
  CHECK_EQ(sink.WaitFor(9).size(), std::size_t{9});
}

TEST(limit_per_queue_policy_and_shared_setting) {
  CollectingSink sink;
  auto runner = std::make_shared<DoublingRunner>();
  auto other_runner = std::make_shared<DoublingRunner>();
  BatchScheduler scheduler(4, &sink);
  scheduler.SetMaxConcurrentRunsPerQueue(3);
  BatchPolicy one;
  one.num_batch_threads = 1;   // the model's own limit wins over the shared one
  auto limited = std::make_shared<ModelQueue>(one, runner, std::vector<std::string>{"y"});
  auto shared = std::make_shared<ModelQueue>(BatchPolicy{}, other_runner, std::vector<std::string>{"y"});
  scheduler.AddQueue(limited);
  scheduler.AddQueue(shared);
  runner->Block();
  other_runner->Block();
  for (int i = 0; i < 4; ++i) CHECK(ScheduleOrDrop(scheduler, *limited, NewFloatTask(i, {1, 2}, 2)).ok());
  for (int i = 0; i < 4; ++i) CHECK(ScheduleOrDrop(scheduler, *shared, NewFloatTask(10 + i, {1, 2}, 2)).ok());
  CHECK(WaitUntil([&] { return runner->started.load() == 1 && other_runner->started.load() == 3; }));
  SleepMs(30);
  CHECK_EQ(runner->started.load(), 1);
  CHECK_EQ(other_runner->started.load(), 3);
  runner->Release();
  other_runner->Release();
  CHECK_EQ(sink.WaitFor(8).size(), std::size_t{8});
}
