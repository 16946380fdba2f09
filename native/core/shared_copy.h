// SharedCopier: one large memcpy split between the calling thread and a few helper threads, for a copy that must be
// made before the caller returns (a WebSocket message uWS lends only for its callback) and holds the event loop.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace ortserve {

/*
 * Why: one core copies about 7-10 GB/s here, so a 46 MB message held the JS thread 5-7 ms; two cores together
 * copy it in about two thirds of that time (memory bandwidth, not the core, is then the limit: hence few helpers).
 * How: the bytes are cut into chunks, and the caller and the helpers take chunks from one shared counter until none
 * is left; the caller then waits only for the chunks already being copied. A helper that is slow to wake (its core
 * busy) therefore never holds the caller up beyond one chunk: the caller copies what nobody took. One copy at a time
 * uses the helpers; a second caller meanwhile (another thread) copies alone. The helpers sleep on a condition
 * variable between copies and live until the process exits (they are never joined: the object is never destroyed).
 */
class SharedCopier {
 public:
  /** Bytes per chunk: large enough that taking one costs nothing beside its copy, small enough to share 16 MB. */
  static constexpr std::size_t kChunkBytes = std::size_t{1} << 20;
  /** Below this a copy is made by the caller alone: waking a helper would cost more than it saves. */
  static constexpr std::size_t kSharedFromBytes = std::size_t{4} << 20;

  /** `helpers`: threads started now, named `ortserve-copy`; 0 copies everything on the caller. */
  explicit SharedCopier(unsigned helpers);
  SharedCopier(const SharedCopier&) = delete;
  SharedCopier& operator=(const SharedCopier&) = delete;
  /** Stops and joins the helpers (tests; the process-wide one is never destroyed). */
  ~SharedCopier();

  /** The process-wide copier: min(CPUs the process may use - 1, 3) helpers, started on first use. */
  static SharedCopier& Shared();

  /** Copies `n` bytes from `from` to `to` (not overlapping); returns once every byte is there. */
  void Copy(uint8_t* to, const uint8_t* from, std::size_t n);

  /** Chunks the helpers copied, over this copier's life (tests: proof that they took part). */
  std::size_t ChunksByHelpers() const;

 private:
  struct Job {
    uint8_t* to;
    const uint8_t* from;
    std::size_t n;
    std::size_t chunks;
    std::size_t next = 0;      // the next chunk to take (under mutex_ only: chunks are 1 MB, the lock is cheap beside one)
    std::size_t copying = 0;   // helpers inside this job (under mutex_)
  };

  /** Takes and copies chunks of `job` until none is left; returns how many this thread copied. */
  std::size_t Drain(Job* job);
  void HelperLoop();

  mutable std::mutex mutex_;
  std::condition_variable wake_;   // a job was posted, or stop
  std::condition_variable idle_;   // a helper left the current job
  std::mutex one_copy_;            // held by the caller whose job the helpers serve
  Job* job_ = nullptr;             // the job on offer (under mutex_)
  uint64_t posted_ = 0;            // jobs posted so far (under mutex_): a helper joins each one at most once
  std::size_t helper_chunks_ = 0;  // under mutex_
  bool stop_ = false;
  std::vector<std::thread> helpers_;
};

}  // namespace ortserve
