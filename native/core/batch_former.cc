// BatchFormer: the batch-forming rules. Each branch states the rule it applies.
#include "core/batch_former.h"

#include <algorithm>

namespace ortserve {

BatchFormer::BatchFormer(const BatchPolicy& policy)
    : policy_(policy), queues_(static_cast<std::size_t>(2 * policy.num_levels())) {}

void BatchFormer::Add(Task* task) {
  const int64_t level = task->priority >= 0 && task->priority < policy_.num_levels() ? task->priority : policy_.default_level;
  queues_[static_cast<std::size_t>(2 * level)].push_back(task);
  ++count_;
  pending_rows_ += task->rows;
}

bool BatchFormer::WantsMore() const {
  // Several levels: a later request may outrank every one seen so far, so all waiting requests are looked at.
  if (policy_.num_levels() > 1) return true;
  // Unbatched: one task is a whole batch.
  if (!policy_.enabled) return count_ == 0;
  return pending_rows_ < policy_.max_batch_size;
}

template <typename Visit>
void BatchFormer::ForEachInOrder(Visit visit) const {
  for (const auto& queue : queues_) {
    for (Task* task : queue) {
      if (!visit(task)) return;
    }
  }
}

Task* BatchFormer::Front() const {
  for (const auto& queue : queues_) {
    if (!queue.empty()) return queue.front();
  }
  return nullptr;
}

void BatchFormer::PopFront(std::size_t count) {
  for (auto& queue : queues_) {
    while (count > 0 && !queue.empty()) {
      pending_rows_ -= queue.front()->rows;
      queue.pop_front();
      --count_;
      --count;
    }
  }
}

void BatchFormer::Demote(int64_t now_micros) {
  for (std::size_t level = 0; level + 1 < queues_.size(); level += 2) {
    std::deque<Task*>& timely = queues_[level];
    std::deque<Task*>& delayed = queues_[level + 1];
    for (auto it = timely.begin(); it != timely.end();) {
      // Past its level's queue timeout with DELAY: it waits behind the level's requests still within theirs.
      if ((*it)->delay_at_micros > 0 && now_micros >= (*it)->delay_at_micros) {
        delayed.push_back(*it);
        it = timely.erase(it);
      } else {
        ++it;
      }
    }
  }
}

bool BatchFormer::Compatible(const Task& a, const Task& b, bool pad_variable_length_inputs) {
  if (a.inputs.size() != b.inputs.size()) return false;
  for (std::size_t i = 0; i < a.inputs.size(); ++i) {
    const InputTensor& x = a.inputs[i];
    const InputTensor& y = b.inputs[i];
    if (x.type != y.type || x.shape.size() != y.shape.size()) return false;
    if (pad_variable_length_inputs) continue;
    if (!std::equal(x.shape.begin() + 1, x.shape.end(), y.shape.begin() + 1)) return false;
  }
  return true;
}

std::vector<Task*> BatchFormer::TakeExpired(int64_t now_micros) {
  std::vector<Task*> expired;
  for (auto& queue : queues_) {
    for (auto it = queue.begin(); it != queue.end();) {
      Task* task = *it;
      const bool late = task->deadline_micros > 0 && now_micros >= task->deadline_micros;
      const bool timed_out = task->queue_deadline_micros > 0 && now_micros >= task->queue_deadline_micros;
      if (late || timed_out || task->Cancelled()) {
        expired.push_back(task);
        pending_rows_ -= task->rows;
        --count_;
        it = queue.erase(it);
      } else {
        ++it;
      }
    }
  }
  return expired;
}

int64_t BatchFormer::PaddedSize(int64_t rows) const {
  for (int64_t size : policy_.allowed_batch_sizes) {
    if (size >= rows) return size;
  }
  return rows;
}

bool BatchFormer::IsPreferred(int64_t rows) const {
  return std::find(policy_.preferred_batch_sizes.begin(), policy_.preferred_batch_sizes.end(), rows) !=
         policy_.preferred_batch_sizes.end();
}

bool BatchFormer::TakeReadyBatch(int64_t now_micros, Batch* batch) {
  if (count_ == 0) return false;
  Demote(now_micros);
  Task* front = Front();
  std::size_t count = 0;       // tasks in the open batch (a prefix of the service order)
  std::size_t preferred = 0;   // longest prefix whose rows equal a preferred size
  int64_t rows = 0, preferred_rows = 0;
  bool closed = false;
  if (!policy_.enabled) {
    // Unbatched: every task runs alone, as soon as a worker takes it (the first in service order).
    count = 1;
    rows = front->rows;
    closed = true;
  } else {
    ForEachInOrder([&](Task* task) {
      // A request of another shape cannot join: the open batch is sent as is, the request starts the next one.
      if (count > 0 && !Compatible(*front, *task, policy_.pad_variable_length_inputs)) {
        closed = true;
        return false;
      }
      // The next request would overflow max_batch_size: send what we have.
      if (rows + task->rows > policy_.max_batch_size) {
        closed = true;
        return false;
      }
      rows += task->rows;
      ++count;
      if (IsPreferred(rows)) {
        preferred = count;
        preferred_rows = rows;
      }
      return true;
    });
    // Full: nothing more can join.
    if (rows == policy_.max_batch_size) closed = true;
    // The first request has waited batch_timeout_micros: send whatever has gathered.
    if (now_micros - front->enqueue_micros >= policy_.batch_timeout_micros) closed = true;
    // Not closed, but a preferred size is reached: send that prefix now rather than wait.
    if (!closed && preferred > 0) {
      count = preferred;
      rows = preferred_rows;
      closed = true;
    }
  }
  if (!closed) return false;
  batch->tasks.clear();
  ForEachInOrder([&](Task* task) {
    if (batch->tasks.size() == count) return false;
    batch->tasks.push_back(task);
    return true;
  });
  PopFront(count);
  batch->rows = rows;
  batch->padded_rows = policy_.enabled ? PaddedSize(rows) : rows;
  return true;
}

int64_t BatchFormer::NextWakeMicros() const {
  if (count_ == 0) return kNever;
  // A pending deadline may come sooner than the batch timeout: wake then to fail that request instead of letting it wait longer.
  return std::min(Front()->enqueue_micros + policy_.batch_timeout_micros, EarliestDeadlineMicros());
}

int64_t BatchFormer::EarliestDeadlineMicros() const {
  int64_t earliest = kNever;
  ForEachInOrder([&](const Task* task) {
    if (task->deadline_micros > 0) earliest = std::min(earliest, task->deadline_micros);
    if (task->queue_deadline_micros > 0) earliest = std::min(earliest, task->queue_deadline_micros);
    return true;
  });
  return earliest;
}

std::vector<Task*> BatchFormer::TakeAll() {
  std::vector<Task*> all;
  ForEachInOrder([&](Task* task) {
    all.push_back(task);
    return true;
  });
  for (auto& queue : queues_) queue.clear();
  count_ = 0;
  pending_rows_ = 0;
  return all;
}

}  // namespace ortserve
