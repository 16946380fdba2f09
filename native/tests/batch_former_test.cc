// BatchFormer tests on a fake clock: timeout, max size, preferred sizes, allowed sizes with padding, deadlines,
// shape compatibility, and unbatched policy.
#include <memory>
#include <vector>

#include "core/batch_former.h"
#include "core/clock.h"
#include "tests/check.h"
#include "tests/fake_runner.h"

using namespace ortserve;
using ortserve_test::Batching;

namespace {

// Owns tasks for a test; each task has one float32 input [rows, width].
struct Tasks {
  std::vector<std::unique_ptr<Task>> all;
  Task* Make(int64_t rows, int64_t enqueue_micros, int64_t width = 4, int64_t deadline = 0) {
    auto task = std::make_unique<Task>();
    InputTensor input;
    input.name = "x";
    input.type = ElementType::kFloat32;
    input.shape = {rows, width};
    task->inputs.push_back(input);
    task->rows = rows;
    task->enqueue_micros = enqueue_micros;
    task->deadline_micros = deadline;
    all.push_back(std::move(task));
    return all.back().get();
  }
};

}  // namespace

TEST(former_waits_for_timeout_then_sends_what_gathered) {
  FakeClock clock;
  Tasks tasks;
  BatchFormer former(Batching(8, 1000));
  former.Add(tasks.Make(1, clock.NowMicros()));
  clock.Advance(400);
  former.Add(tasks.Make(2, clock.NowMicros()));
  Batch batch;
  CHECK(!former.TakeReadyBatch(clock.NowMicros(), &batch));   // 400 µs < timeout, 3 < max
  CHECK_EQ(former.NextWakeMicros(), 1000);                     // first task's enqueue + timeout
  clock.Advance(599);
  CHECK(!former.TakeReadyBatch(clock.NowMicros(), &batch));
  clock.Advance(1);
  CHECK(former.TakeReadyBatch(clock.NowMicros(), &batch));
  CHECK_EQ(batch.tasks.size(), 2u);
  CHECK_EQ(batch.rows, 3);
  CHECK_EQ(batch.padded_rows, 3);
  CHECK(former.empty());
  CHECK_EQ(former.NextWakeMicros(), BatchFormer::kNever);
}

TEST(former_sends_at_once_when_full_and_keeps_the_overflowing_task) {
  FakeClock clock;
  Tasks tasks;
  BatchFormer former(Batching(4, 1000000));
  former.Add(tasks.Make(3, 0));
  CHECK(former.WantsMore());
  former.Add(tasks.Make(2, 0));   // 3 + 2 > 4: cannot join
  CHECK(!former.WantsMore());
  Batch batch;
  CHECK(former.TakeReadyBatch(0, &batch));
  CHECK_EQ(batch.rows, 3);
  CHECK_EQ(batch.tasks.size(), 1u);
  CHECK(!former.TakeReadyBatch(0, &batch));   // the 2-row task starts the next open batch
  former.Add(tasks.Make(2, 0));
  CHECK(former.TakeReadyBatch(0, &batch));     // 2 + 2 == max: full
  CHECK_EQ(batch.rows, 4);
}

TEST(former_sends_preferred_size_without_waiting) {
  Tasks tasks;
  BatchPolicy policy = Batching(16, 1000000);
  policy.preferred_batch_sizes = {4, 8};
  BatchFormer former(policy);
  for (int i = 0; i < 3; ++i) former.Add(tasks.Make(1, 0));
  Batch batch;
  CHECK(!former.TakeReadyBatch(10, &batch));
  former.Add(tasks.Make(1, 0));
  former.Add(tasks.Make(1, 0));   // 5 rows pending: the 4-row prefix is a preferred size
  CHECK(former.TakeReadyBatch(10, &batch));
  CHECK_EQ(batch.rows, 4);
  CHECK_EQ(batch.tasks.size(), 4u);
  CHECK_EQ(former.pending_rows(), 1);
}

TEST(former_pads_to_the_next_allowed_size) {
  Tasks tasks;
  BatchPolicy policy = Batching(8, 0);
  policy.allowed_batch_sizes = {2, 4, 8};
  BatchFormer former(policy);
  former.Add(tasks.Make(3, 0));
  Batch batch;
  CHECK(former.TakeReadyBatch(0, &batch));   // timeout 0: send at once
  CHECK_EQ(batch.rows, 3);
  CHECK_EQ(batch.padded_rows, 4);
  former.Add(tasks.Make(1, 0));
  CHECK(former.TakeReadyBatch(0, &batch));
  CHECK_EQ(batch.padded_rows, 2);
}

TEST(former_fails_expired_and_cancelled_tasks_and_wakes_for_deadlines) {
  FakeClock clock;
  Tasks tasks;
  BatchFormer former(Batching(8, 10000));
  Task* a = tasks.Make(1, 0, 4, /*deadline=*/500);
  Task* b = tasks.Make(1, 0);
  Task* c = tasks.Make(1, 0);
  former.Add(a);
  former.Add(b);
  former.Add(c);
  CHECK_EQ(former.NextWakeMicros(), 500);   // the deadline comes before the timeout
  c->cancel_flag = std::make_shared<std::atomic<bool>>(true);
  clock.Set(499);
  auto expired = former.TakeExpired(clock.NowMicros());
  CHECK_EQ(expired.size(), 1u);   // only the cancelled one so far
  CHECK(expired[0] == c);
  clock.Set(500);
  expired = former.TakeExpired(clock.NowMicros());
  CHECK_EQ(expired.size(), 1u);
  CHECK(expired[0] == a);
  CHECK_EQ(former.pending_rows(), 1);
}

TEST(former_never_merges_different_shapes_unless_padding) {
  Tasks tasks;
  BatchFormer strict(Batching(8, 1000000));
  strict.Add(tasks.Make(1, 0, 4));
  strict.Add(tasks.Make(1, 0, 5));   // another row width: closes the open batch
  Batch batch;
  CHECK(strict.TakeReadyBatch(0, &batch));
  CHECK_EQ(batch.tasks.size(), 1u);
  CHECK_EQ(batch.tasks[0]->inputs[0].shape[1], 4);

  BatchPolicy padding = Batching(8, 1000000);
  padding.pad_variable_length_inputs = true;
  BatchFormer padded(padding);
  padded.Add(tasks.Make(1, 0, 4));
  padded.Add(tasks.Make(1, 0, 5));
  CHECK(!padded.TakeReadyBatch(0, &batch));   // mergeable: still waiting for the timeout
  CHECK(padded.TakeReadyBatch(1000000, &batch));
  CHECK_EQ(batch.tasks.size(), 2u);
}

TEST(former_unbatched_sends_each_task_alone) {
  Tasks tasks;
  BatchFormer former{BatchPolicy{}};
  former.Add(tasks.Make(5, 0));
  CHECK(!former.WantsMore());
  Batch batch;
  CHECK(former.TakeReadyBatch(0, &batch));
  CHECK_EQ(batch.tasks.size(), 1u);
  CHECK_EQ(batch.rows, 5);
  CHECK_EQ(batch.padded_rows, 5);
}

TEST(policy_validation_names_the_field) {
  BatchPolicy policy = Batching(8, 0);
  CHECK_EQ(policy.Validate(), std::string());
  policy.allowed_batch_sizes = {2, 4};
  CHECK(policy.Validate().find("allowed_batch_sizes") != std::string::npos);
  policy.allowed_batch_sizes = {4, 2, 8};
  CHECK(policy.Validate().find("ascending") != std::string::npos);
  policy.allowed_batch_sizes = {};
  policy.preferred_batch_sizes = {9};
  CHECK(policy.Validate().find("preferred_batch_sizes") != std::string::npos);
  policy.preferred_batch_sizes = {};
  policy.max_batch_size = 0;
  CHECK(policy.Validate().find("max_batch_size") != std::string::npos);
}
