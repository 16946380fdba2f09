// BatchPolicy validation: every inconsistent setting is refused with the field named.
#include "core/batch_policy.h"

namespace ortserve {

std::string BatchPolicy::Validate() const {
  if (max_batch_size < 1) return "max_batch_size must be at least 1";
  if (batch_timeout_micros < 0) return "batch_timeout_micros must not be negative";
  if (max_enqueued_batches < 1) return "max_enqueued_batches must be at least 1";
  if (max_queued_requests < 1) return "max_queued_requests must be at least 1";
  if (num_batch_threads < 0) return "num_batch_threads must not be negative";
  if (QueueCapacity() > (int64_t{1} << 24)) return "max_enqueued_batches × max_batch_size must not exceed 16777216";
  for (std::size_t i = 0; i < allowed_batch_sizes.size(); ++i) {
    if (allowed_batch_sizes[i] < 1) return "allowed_batch_sizes must be positive";
    if (i > 0 && allowed_batch_sizes[i] <= allowed_batch_sizes[i - 1]) return "allowed_batch_sizes must be strictly ascending";
  }
  if (!allowed_batch_sizes.empty() && allowed_batch_sizes.back() != max_batch_size) {
    return "the last of allowed_batch_sizes must equal max_batch_size";
  }
  for (int64_t size : preferred_batch_sizes) {
    if (size < 1 || size > max_batch_size) return "preferred_batch_sizes must be between 1 and max_batch_size";
  }
  if (default_level < 0 || default_level >= num_levels()) return "default_level must name one of the priority levels";
  for (const LevelPolicy& level : levels) {
    if (level.timeout_micros < 0) return "levels[].timeout_micros must not be negative";
    if (level.max_queue_size < 0) return "levels[].max_queue_size must not be negative";
  }
  return "";
}

}  // namespace ortserve
