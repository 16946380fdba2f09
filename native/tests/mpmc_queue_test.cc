// MpmcQueue tests: element lifetimes (nothing leaks, nothing destroyed twice), full/empty behaviour, and a
// multi-producer multi-consumer fuzz in which every element must arrive exactly once and in per-producer order.
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "core/mpmc_queue.h"
#include "tests/check.h"

using ortserve::MpmcQueue;

namespace {

// Records every construction and destruction by id; a second destruction of one id is an error.
struct Tracked {
  static std::atomic<int> live;
  static std::atomic<int> double_destroyed;
  static std::vector<std::atomic<uint8_t>>* alive;

  int id = -1;
  explicit Tracked(int i) : id(i) {
    (*alive)[static_cast<std::size_t>(id)].store(1);
    live++;
  }
  Tracked() = default;
  Tracked(Tracked&& other) noexcept : id(other.id) { other.id = -1; }
  Tracked& operator=(Tracked&& other) noexcept {
    Release();
    id = other.id;
    other.id = -1;
    return *this;
  }
  ~Tracked() { Release(); }
  void Release() noexcept {
    if (id < 0) return;
    if ((*alive)[static_cast<std::size_t>(id)].exchange(0) != 1) double_destroyed++;
    live--;
    id = -1;
  }
};
std::atomic<int> Tracked::live{0};
std::atomic<int> Tracked::double_destroyed{0};
std::vector<std::atomic<uint8_t>>* Tracked::alive = nullptr;

void ResetTracking(std::size_t ids) {
  static std::vector<std::atomic<uint8_t>> storage;
  storage = std::vector<std::atomic<uint8_t>>(ids);
  Tracked::alive = &storage;
  Tracked::live = 0;
  Tracked::double_destroyed = 0;
}

}  // namespace

TEST(mpmc_fifo_full_and_empty) {
  MpmcQueue<int> queue(3);
  int out = 0;
  CHECK(!queue.try_pop(out));
  int a = 1, b = 2, c = 3, d = 4;
  CHECK(queue.try_push(std::move(a)));
  CHECK(queue.try_push(std::move(b)));
  CHECK(queue.try_push(std::move(c)));
  CHECK(!queue.try_push(std::move(d)));   // full: refused at once, d stays with the caller
  CHECK_EQ(d, 4);
  CHECK_EQ(queue.size(), 3u);
  for (int expected = 1; expected <= 3; ++expected) {
    CHECK(queue.try_pop(out));
    CHECK_EQ(out, expected);
  }
  CHECK(!queue.try_pop(out));
  // Many laps around the ring keep FIFO order.
  for (int i = 0; i < 1000; ++i) {
    queue.push(i);
    queue.pop(out);
    CHECK_EQ(out, i);
  }
}

TEST(mpmc_lifetimes_nothing_leaks_nothing_destroyed_twice) {
  ResetTracking(5000);
  {
    MpmcQueue<Tracked> queue(64);
    int next = 0;
    for (int round = 0; round < 10; ++round) {
      for (int i = 0; i < 50; ++i) {
        Tracked t(next++);
        if (!queue.try_push(std::move(t))) CHECK(false);
      }
      Tracked out;
      for (int i = 0; i < 45; ++i) CHECK(queue.try_pop(out));
      // A refused push leaves the element alive with the caller.
      Tracked extra(next++);
      while (queue.try_push(std::move(extra))) extra = Tracked(next++);
      CHECK(extra.id >= 0);
      for (int i = 0; i < 64; ++i) queue.try_pop(out);
    }
    Tracked left(next++);
    queue.push(std::move(left));
    CHECK(Tracked::live.load() >= 1);
  }   // the queue destroys what it still holds
  CHECK_EQ(Tracked::live.load(), 0);
  CHECK_EQ(Tracked::double_destroyed.load(), 0);
}

TEST(mpmc_fuzz_every_element_exactly_once) {
  constexpr int kProducers = 4, kConsumers = 4, kPerProducer = 50000;
  MpmcQueue<uint64_t> queue(128);
  std::vector<std::atomic<uint8_t>> seen(static_cast<std::size_t>(kProducers) * kPerProducer);
  std::atomic<int> order_violations{0}, duplicates{0}, consumed{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (uint64_t i = 0; i < kPerProducer; ++i) {
        uint64_t value = (static_cast<uint64_t>(p) << 32) | i;
        // Mix blocking and non-blocking pushes.
        if (i % 2 == 0) {
          queue.push(value);
        } else {
          while (!queue.try_push(std::move(value))) std::this_thread::yield();
        }
      }
    });
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      std::vector<int64_t> last(kProducers, -1);
      uint64_t value = 0;
      while (consumed.load() < kProducers * kPerProducer) {
        if (!queue.try_pop(value)) {
          std::this_thread::yield();
          continue;
        }
        consumed++;
        const int producer = static_cast<int>(value >> 32);
        const int64_t index = static_cast<int64_t>(value & 0xffffffffu);
        // One consumer sees each producer's elements in the order they were pushed.
        if (index <= last[static_cast<std::size_t>(producer)]) order_violations++;
        last[static_cast<std::size_t>(producer)] = index;
        if (seen[static_cast<std::size_t>(producer) * kPerProducer + static_cast<std::size_t>(index)].exchange(1) != 0) duplicates++;
      }
    });
  }
  for (auto& t : threads) t.join();
  int missing = 0;
  for (auto& s : seen) missing += s.load() == 0 ? 1 : 0;
  CHECK_EQ(missing, 0);
  CHECK_EQ(duplicates.load(), 0);
  CHECK_EQ(order_violations.load(), 0);
  CHECK(queue.empty());
}
