// SharedCopier (see shared_copy.h): a large memcpy shared between the caller and helper threads.
#include "core/shared_copy.h"

#if defined(__linux__)
#include <sched.h>
#endif

#include <algorithm>
#include <cstring>

#include "core/thread_name.h"

namespace ortserve {

SharedCopier::SharedCopier(unsigned helpers) {
  helpers_.reserve(helpers);
  for (unsigned i = 0; i < helpers; ++i) helpers_.emplace_back([this] { HelperLoop(); });
}

SharedCopier::~SharedCopier() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : helpers_) t.join();
}

SharedCopier& SharedCopier::Shared() {
  // Never destroyed: a static with joinable threads would end the process at exit (std::terminate).
  static SharedCopier* const shared = [] {
    // The CPUs this process may run on (a container's cpuset), not the machine's: helpers that cannot run beside
    // the caller only take turns with it.
    unsigned cpus = std::thread::hardware_concurrency();
#if defined(__linux__)
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) cpus = static_cast<unsigned>(CPU_COUNT(&allowed));
#endif
    return new SharedCopier(std::min(cpus > 1 ? cpus - 1 : 0u, 3u));
  }();
  return *shared;
}

std::size_t SharedCopier::Drain(Job* job) {
  std::size_t copied = 0;
  for (;;) {
    std::size_t chunk;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (job->next == job->chunks) return copied;
      chunk = job->next++;
    }
    const std::size_t at = chunk * kChunkBytes;
    std::memcpy(job->to + at, job->from + at, std::min(kChunkBytes, job->n - at));
    ++copied;
  }
}

void SharedCopier::Copy(uint8_t* to, const uint8_t* from, std::size_t n) {
  if (n == 0) return;
  std::unique_lock<std::mutex> mine(one_copy_, std::try_to_lock);
  if (n < kSharedFromBytes || helpers_.empty() || !mine.owns_lock()) {
    std::memcpy(to, from, n);
    return;
  }
  Job job{to, from, n, (n + kChunkBytes - 1) / kChunkBytes};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &job;
    ++posted_;
  }
  wake_.notify_all();
  Drain(&job);
  // Every chunk is taken; wait for the helpers still copying theirs, and withdraw the job so that a helper waking
  // late finds nothing (the job lives on this stack frame).
  std::unique_lock<std::mutex> lock(mutex_);
  job_ = nullptr;
  idle_.wait(lock, [&job] { return job.copying == 0; });
}

void SharedCopier::HelperLoop() {
  NameThisThread("ortserve-copy");
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || posted_ != seen; });
    if (stop_) return;
    seen = posted_;
    Job* job = job_;
    if (job == nullptr) continue;   // withdrawn before this helper woke
    ++job->copying;
    lock.unlock();
    const std::size_t copied = Drain(job);
    lock.lock();
    helper_chunks_ += copied;
    if (--job->copying == 0) idle_.notify_all();
  }
}

std::size_t SharedCopier::ChunksByHelpers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return helper_chunks_;
}

}  // namespace ortserve
