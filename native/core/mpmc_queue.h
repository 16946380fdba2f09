// MpmcQueue: a bounded, lock-free, multi-producer multi-consumer FIFO (the request queue's storage).
//
// Credit: this is Dmitry Vyukov's bounded MPMC queue (1024cores.net, "Bounded MPMC queue") in the layout of Erik
// Rigtorp's rigtorp/MPMCQueue (github.com/rigtorp/MPMCQueue, MIT): the turn scheme below in place of Vyukov's
// per-cell sequence numbers, try_push/try_pop that fail rather than wait, cache-line-aligned slots and head/tail,
// and one extra slot allocated past the last, so the last slot does not false-share with whatever the allocator
// places after the array. Written for this tree (Task* items, our tests), not vendored.
//
// Algorithm (ticketed ring): `capacity` slots, each with a `turn` counter.
// A producer takes ticket t = head++ and waits for slot t % capacity to reach turn 2*(t / capacity) (the slot is
// empty for lap t / capacity), writes the element, then sets turn + 1 (full). A consumer takes ticket t = tail++,
// waits for turn 2*(t / capacity) + 1, moves the element out, then sets turn + 2 (empty for the next lap).
// try_push/try_pop first check, with a compare-exchange on head/tail, that the slot is ready, so they never wait.
// head, tail and every slot sit on their own cache lines so producers and consumers do not false-share; `alignas`
// gives that (the static_asserts in the constructor check it), so there is no hand-written padding.
//
// Guarantees: FIFO per ticket order; each pushed element is popped exactly once; no allocation after
// construction. Not guaranteed: fairness between producers; size() is approximate under concurrency.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace ortserve {

inline constexpr std::size_t kCacheLine = 64;

template <typename T>
class MpmcQueue {
  static_assert(std::is_nothrow_move_constructible_v<T>, "T must be nothrow move constructible");
  static_assert(std::is_nothrow_destructible_v<T>, "T must be nothrow destructible");

 public:
  explicit MpmcQueue(std::size_t capacity) : capacity_(capacity) {
    if (capacity_ < 1) throw std::invalid_argument("MpmcQueue capacity must be at least 1");
    slots_ = std::make_unique<Slot[]>(capacity_ + 1);   // +1: the extra slot keeps the last one apart (never used)
    static_assert(sizeof(Slot) % kCacheLine == 0, "each slot must fill whole cache lines");
    static_assert(alignof(Slot) == kCacheLine, "slots must start on a cache line");
    static_assert(offsetof(MpmcQueue, tail_) - offsetof(MpmcQueue, head_) == kCacheLine,
                  "head and tail must be one cache line apart");
    static_assert(sizeof(MpmcQueue) % kCacheLine == 0,
                  "the queue must fill whole cache lines, so tail_ does not share its line with what follows");
  }
  ~MpmcQueue() {
    // Destroy what is still queued (each element exactly once).
    for (std::size_t i = 0; i < capacity_; ++i) {
      if (slots_[i].turn.load(std::memory_order_relaxed) & 1) slots_[i].Destroy();
    }
  }
  MpmcQueue(const MpmcQueue&) = delete;
  MpmcQueue& operator=(const MpmcQueue&) = delete;

  // Blocks (spins) while the queue is full. Prefer try_push on request paths: a full queue must not wait.
  template <typename... Args>
  void emplace(Args&&... args) {
    const std::size_t ticket = head_.fetch_add(1, std::memory_order_acq_rel);
    Slot& slot = slots_[Index(ticket)];
    while (slot.turn.load(std::memory_order_acquire) != Turn(ticket) * 2) {
    }
    slot.Construct(std::forward<Args>(args)...);
    slot.turn.store(Turn(ticket) * 2 + 1, std::memory_order_release);
  }
  void push(T value) { emplace(std::move(value)); }

  // Returns false, leaving `value` with the caller, when the queue is full.
  bool try_push(T&& value) {
    std::size_t ticket = head_.load(std::memory_order_acquire);
    for (;;) {
      Slot& slot = slots_[Index(ticket)];
      if (slot.turn.load(std::memory_order_acquire) == Turn(ticket) * 2) {
        if (head_.compare_exchange_strong(ticket, ticket + 1, std::memory_order_acq_rel)) {
          slot.Construct(std::move(value));
          slot.turn.store(Turn(ticket) * 2 + 1, std::memory_order_release);
          return true;
        }
      } else {
        const std::size_t previous = ticket;
        ticket = head_.load(std::memory_order_acquire);
        if (ticket == previous) return false;   // the slot is still full for this lap: the queue is full
      }
    }
  }

  // Blocks (spins) while the queue is empty.
  void pop(T& out) {
    const std::size_t ticket = tail_.fetch_add(1, std::memory_order_acq_rel);
    Slot& slot = slots_[Index(ticket)];
    while (slot.turn.load(std::memory_order_acquire) != Turn(ticket) * 2 + 1) {
    }
    out = slot.Move();
    slot.Destroy();
    slot.turn.store(Turn(ticket) * 2 + 2, std::memory_order_release);
  }

  // Returns false when the queue is empty.
  bool try_pop(T& out) {
    std::size_t ticket = tail_.load(std::memory_order_acquire);
    for (;;) {
      Slot& slot = slots_[Index(ticket)];
      if (slot.turn.load(std::memory_order_acquire) == Turn(ticket) * 2 + 1) {
        if (tail_.compare_exchange_strong(ticket, ticket + 1, std::memory_order_acq_rel)) {
          out = slot.Move();
          slot.Destroy();
          slot.turn.store(Turn(ticket) * 2 + 2, std::memory_order_release);
          return true;
        }
      } else {
        const std::size_t previous = ticket;
        ticket = tail_.load(std::memory_order_acquire);
        if (ticket == previous) return false;
      }
    }
  }

  // Approximate under concurrency (head and tail are read at different instants); exact when quiescent.
  std::size_t size() const {
    const auto head = head_.load(std::memory_order_relaxed);
    const auto tail = tail_.load(std::memory_order_relaxed);
    return head > tail ? head - tail : 0;
  }
  bool empty() const { return size() == 0; }
  std::size_t capacity() const { return capacity_; }

 private:
  struct alignas(kCacheLine) Slot {
    std::atomic<std::size_t> turn{0};
    alignas(T) unsigned char storage[sizeof(T)];

    template <typename... Args>
    void Construct(Args&&... args) { new (&storage) T(std::forward<Args>(args)...); }
    T Move() { return std::move(*std::launder(reinterpret_cast<T*>(&storage))); }
    void Destroy() { std::launder(reinterpret_cast<T*>(&storage))->~T(); }
  };

  std::size_t Index(std::size_t ticket) const { return ticket % capacity_; }
  std::size_t Turn(std::size_t ticket) const { return ticket / capacity_; }

  const std::size_t capacity_;
  std::unique_ptr<Slot[]> slots_;
  // Their alignment also rounds the object's size up to whole cache lines: tail_ has its line to itself.
  alignas(kCacheLine) std::atomic<std::size_t> head_{0};
  alignas(kCacheLine) std::atomic<std::size_t> tail_{0};
};

}  // namespace ortserve
