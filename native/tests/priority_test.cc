// Priority levels and queue policies on a fake clock: the former serves level 0 before level 1 (arrival order within
// a level), a DELAY timeout moves a request behind its level's timely ones, a REJECT timeout fails it (UNAVAILABLE,
// before it runs, while the only worker is busy), and a level's max_queue_size refuses the request past it.
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "core/batch_former.h"
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

namespace {

constexpr int64_t kStart = 1000000;

BatchPolicy Levels(BatchPolicy policy, std::vector<BatchPolicy::LevelPolicy> levels, int64_t default_level) {
  policy.levels = std::move(levels);
  policy.default_level = default_level;
  return policy;
}

// Owns former tasks; each has one float32 input [1, 2] and a priority level and an id (its first value).
struct Tasks {
  std::vector<std::unique_ptr<FloatTask>> all;
  Task* Make(int id, int64_t level, int64_t enqueue_micros) {
    all.push_back(std::make_unique<FloatTask>(id, std::vector<float>{static_cast<float>(id), 0}, 2));
    all.back()->priority = level;
    all.back()->enqueue_micros = enqueue_micros;
    return all.back().get();
  }
};

std::vector<int> Ids(const Batch& batch) {
  std::vector<int> ids;
  for (const Task* task : batch.tasks) ids.push_back(static_cast<const FloatTask*>(task)->id);
  return ids;
}

}  // namespace

TEST(former_serves_higher_priority_levels_first_and_arrival_order_within_a_level) {
  Tasks tasks;
  BatchFormer former(Levels(BatchPolicy{}, {{}, {}, {}}, 1));   // unbatched, three levels
  former.Add(tasks.Make(1, 2, 0));
  former.Add(tasks.Make(2, 1, 1));
  former.Add(tasks.Make(3, -1, 2));   // no level: default_level 1, behind task 2
  former.Add(tasks.Make(4, 0, 3));
  CHECK(former.WantsMore());          // several levels: every waiting request is looked at
  std::vector<int> order;
  Batch batch;
  while (former.TakeReadyBatch(10, &batch)) order.push_back(Ids(batch).at(0));
  CHECK(order == (std::vector<int>{4, 2, 3, 1}));
  CHECK(former.empty());
}

TEST(former_batches_across_levels_in_service_order) {
  Tasks tasks;
  BatchFormer former(Levels(Batching(3, 0), {{}, {}}, 1));
  former.Add(tasks.Make(1, 1, 0));
  former.Add(tasks.Make(2, 1, 0));
  former.Add(tasks.Make(3, 0, 0));
  former.Add(tasks.Make(4, 0, 0));
  Batch batch;
  CHECK(former.TakeReadyBatch(0, &batch));
  CHECK(Ids(batch) == (std::vector<int>{3, 4, 1}));   // both level-0 requests, then the oldest level-1 one
  CHECK(former.TakeReadyBatch(0, &batch));
  CHECK(Ids(batch) == (std::vector<int>{2}));
}

TEST(former_delays_a_timed_out_request_behind_its_levels_timely_ones_but_ahead_of_lower_levels) {
  Tasks tasks;
  BatchFormer former(Levels(BatchPolicy{}, {{}, {}}, 0));
  Task* old = tasks.Make(1, 0, 0);
  old->delay_at_micros = 100;   // DELAY after 100 µs
  former.Add(old);
  former.Add(tasks.Make(2, 0, 50));
  former.Add(tasks.Make(3, 1, 60));
  Batch batch;
  // At 99 µs it is still timely: served first, in arrival order.
  {
    Tasks copy;
    BatchFormer early(Levels(BatchPolicy{}, {{}, {}}, 0));
    Task* t = copy.Make(1, 0, 0);
    t->delay_at_micros = 100;
    early.Add(t);
    early.Add(copy.Make(2, 0, 50));
    CHECK(early.TakeReadyBatch(99, &batch));
    CHECK(Ids(batch) == (std::vector<int>{1}));
  }
  std::vector<int> order;
  while (former.TakeReadyBatch(100, &batch)) order.push_back(Ids(batch).at(0));
  CHECK(order == (std::vector<int>{2, 1, 3}));
}

TEST(former_expires_a_request_past_its_queue_timeout_with_the_deadlines) {
  Tasks tasks;
  BatchFormer former(Levels(Batching(8, 1000000), {{}, {}}, 0));
  Task* rejected = tasks.Make(1, 1, 0);
  rejected->queue_deadline_micros = 500;
  former.Add(rejected);
  former.Add(tasks.Make(2, 0, 0));
  CHECK_EQ(former.EarliestDeadlineMicros(), 500);
  CHECK(former.TakeExpired(499).empty());
  const std::vector<Task*> expired = former.TakeExpired(500);
  CHECK_EQ(expired.size(), std::size_t{1});
  CHECK(expired[0] == rejected);
  CHECK_EQ(former.EarliestDeadlineMicros(), BatchFormer::kNever);
}

TEST(scheduler_rejects_on_queue_timeout_while_the_worker_is_busy_and_refuses_past_max_queue_size) {
  const int live_before = FloatTask::Live().load();
  {
    FakeClock clock;
    clock.Set(kStart);
    CollectingSink sink;
    auto runner = std::make_shared<DoublingRunner>();
    BatchScheduler scheduler(1, &sink, clock);
    BatchPolicy::LevelPolicy urgent;              // level 1: at most 1 waiting, fail after 300 µs
    urgent.timeout_micros = 300;
    urgent.max_queue_size = 1;
    BatchPolicy::LevelPolicy relaxed;             // level 2: no timeout, no own bound
    auto queue = std::make_shared<ModelQueue>(Levels(BatchPolicy{}, {urgent, relaxed}, 1), runner, std::vector<std::string>{"y"});
    scheduler.AddQueue(queue);
    runner->Block();
    auto hold = NewFloatTask(0, {1, 2}, 2);
    CHECK(scheduler.Schedule(*queue, &hold).ok());
    CHECK(WaitUntil([&] { return runner->started.load() == 1; }));
    auto a = NewFloatTask(1, {1, 2}, 2);
    a->priority = 0;
    CHECK(scheduler.Schedule(*queue, &a).ok());
    auto b = NewFloatTask(2, {1, 2}, 2);
    b->priority = 0;
    const Status full = scheduler.Schedule(*queue, &b);
    CHECK(full.code() == StatusCode::kUnavailable);
    CHECK(full.message().find("priority level 1 is full") != std::string::npos);
    CHECK(b != nullptr);   // refused: still the caller's
    auto c = NewFloatTask(3, {1, 2}, 2);      // default level (2): accepted although level 1 is full
    CHECK(scheduler.Schedule(*queue, &c).ok());
    auto bad = NewFloatTask(4, {1, 2}, 2);
    bad->priority = 2;
    CHECK(scheduler.Schedule(*queue, &bad).code() == StatusCode::kInvalidArgument);
    clock.Advance(299);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK_EQ(sink.size(), std::size_t{0});
    clock.Advance(1);
    CHECK(WaitUntil([&] { return sink.size() == 1; }, 2000));
    {
      auto& done = sink.WaitFor(1);
      CHECK_EQ(static_cast<FloatTask*>(done[0].get())->id, 1);
      CHECK(done[0]->status.code() == StatusCode::kUnavailable);
      CHECK(done[0]->status.message().find("queue timeout of its priority level 1") != std::string::npos);
    }
    // Level 1 has room again.
    auto d = NewFloatTask(5, {1, 2}, 2);
    d->priority = 0;
    CHECK(scheduler.Schedule(*queue, &d).ok());
    runner->Release();
    auto& done = sink.WaitFor(4);
    // After the held run: level 1's request (5) before the older level-2 one (3).
    CHECK_EQ(static_cast<FloatTask*>(done[1].get())->id, 0);
    CHECK_EQ(static_cast<FloatTask*>(done[2].get())->id, 5);
    CHECK_EQ(static_cast<FloatTask*>(done[3].get())->id, 3);
    scheduler.Stop();
  }
  CHECK_EQ(FloatTask::Live().load(), live_before);
}
