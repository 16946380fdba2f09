// BatchFormer: the batch-forming rules. Each branch states the rule it applies.
#include "core/batch_former.h"

#include <algorithm>

namespace ortserve {

void BatchFormer::Add(Task* task) {
  pending_.push_back(task);
  pending_rows_ += task->rows;
}

bool BatchFormer::WantsMore() const {
  // Unbatched: one task is a whole batch.
  if (!policy_.enabled) return pending_.empty();
  return pending_rows_ < policy_.max_batch_size;
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
  for (auto it = pending_.begin(); it != pending_.end();) {
    Task* task = *it;
    const bool late = task->deadline_micros > 0 && now_micros >= task->deadline_micros;
    if (late || task->Cancelled()) {
      expired.push_back(task);
      pending_rows_ -= task->rows;
      it = pending_.erase(it);
    } else {
      ++it;
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
  if (pending_.empty()) return false;
  std::size_t count = 0;       // tasks in the open batch (a prefix of pending_)
  std::size_t preferred = 0;   // longest prefix whose rows equal a preferred size
  int64_t rows = 0, preferred_rows = 0;
  bool closed = false;
  if (!policy_.enabled) {
    // Unbatched: every task runs alone, as soon as a worker takes it.
    count = 1;
    rows = pending_.front()->rows;
    closed = true;
  } else {
    for (Task* task : pending_) {
      // A request of another shape cannot join: the open batch is sent as is, the request starts the next one.
      if (count > 0 && !Compatible(*pending_.front(), *task, policy_.pad_variable_length_inputs)) {
        closed = true;
        break;
      }
      // The next request would overflow max_batch_size: send what we have.
      if (rows + task->rows > policy_.max_batch_size) {
        closed = true;
        break;
      }
      rows += task->rows;
      ++count;
      if (IsPreferred(rows)) {
        preferred = count;
        preferred_rows = rows;
      }
    }
    // Full: nothing more can join.
    if (rows == policy_.max_batch_size) closed = true;
    // The first request has waited batch_timeout_micros: send whatever has gathered.
    if (now_micros - pending_.front()->enqueue_micros >= policy_.batch_timeout_micros) closed = true;
    // Not closed, but a preferred size is reached: send that prefix now rather than wait.
    if (!closed && preferred > 0) {
      count = preferred;
      rows = preferred_rows;
      closed = true;
    }
  }
  if (!closed) return false;
  batch->tasks.assign(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(count));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(count));
  pending_rows_ -= rows;
  batch->rows = rows;
  batch->padded_rows = policy_.enabled ? PaddedSize(rows) : rows;
  return true;
}

int64_t BatchFormer::NextWakeMicros() const {
  if (pending_.empty()) return kNever;
  // A pending deadline may come sooner than the batch timeout: wake then to fail that request instead of letting it wait longer.
  return std::min(pending_.front()->enqueue_micros + policy_.batch_timeout_micros, EarliestDeadlineMicros());
}

int64_t BatchFormer::EarliestDeadlineMicros() const {
  int64_t earliest = kNever;
  for (const Task* task : pending_) {
    if (task->deadline_micros > 0) earliest = std::min(earliest, task->deadline_micros);
  }
  return earliest;
}

std::vector<Task*> BatchFormer::TakeAll() {
  std::vector<Task*> all(pending_.begin(), pending_.end());
  pending_.clear();
  pending_rows_ = 0;
  return all;
}

}  // namespace ortserve
