// BatchFormer: decides, as a pure function of queued tasks and the time it is told, which tasks form the next batch.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <vector>

#include "core/batch_policy.h"
#include "core/task.h"

namespace ortserve {

struct Batch {
  std::vector<Task*> tasks;
  int64_t rows = 0;          // sum of the tasks' rows
  int64_t padded_rows = 0;   // rows after padding up to an allowed batch size (== rows when none apply)
};

// Not thread-safe: the scheduler calls it under the owning queue's forming lock. Time is passed in, never read,
// so tests drive it with a fake clock.
class BatchFormer {
 public:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  explicit BatchFormer(const BatchPolicy& policy);

  // Appends a task in arrival order to its priority level's queue (task->priority, already stamped by the scheduler).
  void Add(Task* task);
  // True while the open batch could still take another task (workers pull from the queue only then; the
  // scheduler's deadline pass pulls everything, to see every deadline).
  bool WantsMore() const;
  // Removes tasks whose deadline or queue timeout (queue_deadline_micros) has passed or that were cancelled, in order,
  // and returns them.
  std::vector<Task*> TakeExpired(int64_t now_micros);
  // If a batch should start now, moves its tasks into *batch and returns true. Tasks are taken in service order: level
  // 0's timely tasks, then its delayed ones (past delay_at_micros), then level 1's, and so on.
  bool TakeReadyBatch(int64_t now_micros, Batch* batch);
  // When the open batch becomes ready by timeout alone, or a pending deadline passes; kNever when nothing is pending.
  int64_t NextWakeMicros() const;
  // The earliest deadline among pending tasks; kNever when none has one.
  int64_t EarliestDeadlineMicros() const;
  // Removes every pending task (shutdown).
  std::vector<Task*> TakeAll();
  bool empty() const { return count_ == 0; }
  int64_t pending_rows() const { return pending_rows_; }

  // Whether `b` may join a batch started by `a`: same dtypes and ranks, and equal non-batch dims unless padding.
  static bool Compatible(const Task& a, const Task& b, bool pad_variable_length_inputs);

 private:
  int64_t PaddedSize(int64_t rows) const;
  bool IsPreferred(int64_t rows) const;
  // Moves each level's tasks past their delay time behind that level's timely ones (queue policy DELAY).
  void Demote(int64_t now_micros);
  // The first task in service order; null when empty.
  Task* Front() const;
  // Calls `visit` on tasks in service order until it returns false.
  template <typename Visit>
  void ForEachInOrder(Visit visit) const;
  // Removes the first `count` tasks in service order.
  void PopFront(std::size_t count);

  const BatchPolicy policy_;
  // Two deques per priority level, in service order: [2 * level] its timely tasks, [2 * level + 1] its delayed ones.
  std::vector<std::deque<Task*>> queues_;
  std::size_t count_ = 0;
  int64_t pending_rows_ = 0;
};

}  // namespace ortserve
