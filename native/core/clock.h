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
  // How long, in real microseconds, a thread waiting for this clock to reach `until_micros` should sleep before it
  // looks again (0 when that time has come).
  virtual int64_t SleepMicrosUntil(int64_t until_micros) const {
    const int64_t now = NowMicros();
    return until_micros > now ? until_micros - now : 0;
  }
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

// For tests: time moves only when told to, and may jump at any moment, so a sleeper polls it every millisecond.
class FakeClock final : public Clock {
 public:
  int64_t NowMicros() const override { return now_.load(std::memory_order_relaxed); }
  int64_t SleepMicrosUntil(int64_t until_micros) const override { return until_micros > NowMicros() ? 1000 : 0; }
  void Advance(int64_t micros) { now_.fetch_add(micros, std::memory_order_relaxed); }
  void Set(int64_t micros) { now_.store(micros, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_{0};
};

}  // namespace ortserve
