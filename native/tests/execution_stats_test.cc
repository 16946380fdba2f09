// ExecutionStats tests: per-batch-size slots, per-request sums, clamping, and concurrent recording adding up.
#include <thread>
#include <vector>

#include "core/execution_stats.h"
#include "tests/check.h"

using namespace ortserve;

TEST(ExecutionStatsCountsByBatchSizeAndPerRequest) {
  ExecutionStats stats(8);
  stats.Record(3, 2, ExecutionPhases{1, 10, 2});   // one execution of 3 rows serving 2 requests
  stats.Record(3, 3, ExecutionPhases{2, 20, 4});
  stats.Record(1, 1, ExecutionPhases{0, 5, 1});
  const ExecutionTotals t = stats.Read();
  CHECK_EQ(t.batch_sizes.size(), 2u);
  CHECK_EQ(t.batch_sizes[0].batch_size, 1);
  CHECK_EQ(t.batch_sizes[0].executions, 1);
  CHECK_EQ(t.batch_sizes[0].phases.infer_micros, 5);
  CHECK_EQ(t.batch_sizes[1].batch_size, 3);
  CHECK_EQ(t.batch_sizes[1].executions, 2);
  CHECK_EQ(t.batch_sizes[1].phases.input_micros, 3);
  CHECK_EQ(t.batch_sizes[1].phases.infer_micros, 30);
  CHECK_EQ(t.batch_sizes[1].phases.output_micros, 6);
  CHECK_EQ(t.requests, 6);
  // Each execution's phases once per request it served: 2×(1,10,2) + 3×(2,20,4) + 1×(0,5,1).
  CHECK_EQ(t.request_phases.input_micros, 8);
  CHECK_EQ(t.request_phases.infer_micros, 85);
  CHECK_EQ(t.request_phases.output_micros, 17);
}

TEST(ExecutionStatsKeepsSizesPastItsSlotsApart) {
  ExecutionStats stats(4);
  stats.Record(9, 1, ExecutionPhases{0, 1, 0});
  stats.Record(9, 2, ExecutionPhases{0, 2, 0});
  stats.Record(0, 1, ExecutionPhases{0, 1, 0});   // no rows counts as size 1
  stats.Record(4, 1, ExecutionPhases{0, 1, 0});
  const ExecutionTotals t = stats.Read();
  CHECK_EQ(t.batch_sizes.size(), 3u);
  CHECK_EQ(t.batch_sizes[0].batch_size, 1);
  CHECK_EQ(t.batch_sizes[1].batch_size, 4);
  CHECK_EQ(t.batch_sizes[2].batch_size, 9);
  CHECK_EQ(t.batch_sizes[2].executions, 2);
  CHECK_EQ(t.batch_sizes[2].phases.infer_micros, 3);
  CHECK_EQ(t.requests, 5);
}

TEST(ExecutionStatsCapsItsSlots) {
  ExecutionStats stats(1 << 24);   // the largest max_batch_size the addon accepts: slots stay at kSlots
  stats.Record(ExecutionStats::kSlots + 1, 1, ExecutionPhases{0, 1, 0});
  stats.Record(ExecutionStats::kSlots, 1, ExecutionPhases{0, 1, 0});
  const ExecutionTotals t = stats.Read();
  CHECK_EQ(t.batch_sizes.size(), 2u);
  CHECK_EQ(t.batch_sizes[0].batch_size, ExecutionStats::kSlots);
  CHECK_EQ(t.batch_sizes[1].batch_size, ExecutionStats::kSlots + 1);
}

TEST(ExecutionStatsConcurrentRecordsAddUp) {
  ExecutionStats stats(2);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&stats] {
      for (int n = 0; n < 10000; ++n) stats.Record(2, 2, ExecutionPhases{1, 1, 1});
    });
  }
  for (auto& t : threads) t.join();
  const ExecutionTotals t = stats.Read();
  CHECK_EQ(t.batch_sizes.size(), 1u);
  CHECK_EQ(t.batch_sizes[0].executions, 40000);
  CHECK_EQ(t.requests, 80000);
  CHECK_EQ(t.request_phases.infer_micros, 80000);
}
