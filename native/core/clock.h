// Clock: the scheduler's source of time, injectable so batch-timeout and deadline tests are deterministic.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace ortserve {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic microseconds since an arbitrary origin.
  virtual int64_t NowMicros() const = 0;
};

class SteadyClock final : public Clock {
 public:
  int64_t NowMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  static const SteadyClock& Instance() {
    static const SteadyClock clock;
    return clock;
  }
};

// For tests: time moves only when told to.
class FakeClock final : public Clock {
 public:
  int64_t NowMicros() const override { return now_.load(std::memory_order_relaxed); }
  void Advance(int64_t micros) { now_.fetch_add(micros, std::memory_order_relaxed); }
  void Set(int64_t micros) { now_.store(micros, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_{0};
};

}  // namespace ortserve
