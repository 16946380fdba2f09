// BatchPolicy: how one model version's requests are merged into batches. Every field documents its default and tuning.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ortserve {

struct BatchPolicy {
  // Whether requests may be merged at all. Off (the default): every request is its own ORT run, still queued and
  // run on the native worker pool. Turn on only for models whose dim 0 is a true batch axis and that keep no state.
  bool enabled = false;

  // Most rows (sum of dim 0 over the merged requests) in one batch. Default 1000 (TF Serving's). Larger batches
  // raise throughput until the model's own latency dominates; a request with more rows than this is refused.
  int64_t max_batch_size = 1000;

  // How long the first request of an open batch waits for others, in microseconds. Default 0: send whatever has
  // queued up when a worker is free. Raise it (e.g. 500–5000) to trade latency for larger batches at low load.
  int64_t batch_timeout_micros = 0;

  // Queue bound, in batches: at most max_enqueued_batches × max_batch_size requests wait (for an unbatched model:
  // `max_queued_requests`). Past it a request fails at once with UNAVAILABLE (HTTP 503), never waits.
  // Default 10 (TF Serving's).
  int64_t max_enqueued_batches = 10;

  // Queue bound for an unbatched model, in requests. Default 1024.
  int64_t max_queued_requests = 1024;

  // Most batches of this model version running at once on the shared worker pool (TF Serving's name; the model
  // config's max_concurrent_runs sets it too). 0 (default) = the scheduler's shared default
  // (--max_concurrent_runs_per_model; automatic: no limit while it is the only version loaded, else one worker
  // less than the pool). Past the limit its requests wait for its own runs to end, not in front of other models.
  int64_t num_batch_threads = 0;

  // If not empty: batches are padded up to the next size in this ascending list and the padded rows discarded.
  // Use for models (or EPs such as TensorRT) that run faster on a few fixed shapes. The last entry must equal
  // max_batch_size. Default: empty (no padding).
  std::vector<int64_t> allowed_batch_sizes;

  // If not empty: a batch is sent as soon as its size equals one of these, without waiting out the timeout.
  // Default: empty.
  std::vector<int64_t> preferred_batch_sizes;

  // Merge requests whose non-batch dims differ by zero-padding every input up to the batch's largest dims.
  // Only for models that accept padded inputs (e.g. masked sequences). Default false: such requests are never
  // merged; each waits for a batch of its own shape.
  bool pad_variable_length_inputs = false;

  // One priority level's queue policy (Triton's ModelQueuePolicy).
  struct LevelPolicy {
    // What happens to a request still queued `timeout_micros` after it arrived: fail it (UNAVAILABLE), or (delay)
    // serve it only after its level's requests that are still within their timeout. Default: fail.
    bool delay_on_timeout = false;
    // 0 (default) = no queue timeout.
    int64_t timeout_micros = 0;
    // A request whose deadline comes sooner than the timeout uses its deadline as its timeout. Default false.
    bool allow_timeout_override = false;
    // Most requests of this level waiting; past it a request fails at once with UNAVAILABLE. 0 (default) = only the
    // queue's own bound.
    int64_t max_queue_size = 0;
  };

  // Priority levels (Triton's priority_levels), one entry each: requests of level 0 are served before level 1, and so
  // on; within a level, in arrival order. Empty (default) = one level with the default LevelPolicy. With more than
  // one level the former looks at every waiting request (not only the next batch's worth) to find the first.
  std::vector<LevelPolicy> levels;
  // The level of a request that names none (Triton's default_priority_level - 1). Default 0.
  int64_t default_level = 0;
  int64_t num_levels() const { return levels.empty() ? 1 : static_cast<int64_t>(levels.size()); }
  LevelPolicy level(int64_t i) const { return levels.empty() ? LevelPolicy{} : levels[static_cast<std::size_t>(i)]; }

  // Checks the fields together; returns "" when valid, else a message naming the field.
  std::string Validate() const;
  // Queue capacity in requests implied by the policy.
  int64_t QueueCapacity() const { return enabled ? max_enqueued_batches * max_batch_size : max_queued_requests; }
};

}  // namespace ortserve
