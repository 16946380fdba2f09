// SharedCopier tests: every byte arrives for sizes around the chunk and sharing thresholds, with 0, 1 and 3 helpers,
// from several callers at once; the helpers do take chunks of large copies; nothing beyond `n` is written.
#include <cstdint>
#include <thread>
#include <vector>

#include "core/shared_copy.h"
#include "tests/check.h"

using ortserve::SharedCopier;

namespace {

/** A source whose bytes differ from their neighbours' and from every chunk's (a misplaced chunk shows). */
std::vector<uint8_t> Pattern(std::size_t n, uint32_t seed) {
  std::vector<uint8_t> out(n);
  uint32_t x = seed * 2654435761u + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    out[i] = static_cast<uint8_t>(x >> 16);
  }
  return out;
}

/** Copies `n` bytes with `copier` into a buffer 8 bytes longer and checks them, and that the tail is untouched. */
bool CopiesExactly(SharedCopier& copier, std::size_t n, uint32_t seed) {
  const std::vector<uint8_t> from = Pattern(n, seed);
  std::vector<uint8_t> to(n + 8, 0xA5);
  copier.Copy(to.data(), from.data(), n);
  for (std::size_t i = 0; i < n; ++i) {
    if (to[i] != from[i]) return false;
  }
  for (std::size_t i = n; i < n + 8; ++i) {
    if (to[i] != 0xA5) return false;
  }
  return true;
}

const std::size_t kSizes[] = {
  0, 1, 4095, SharedCopier::kChunkBytes, SharedCopier::kSharedFromBytes - 1, SharedCopier::kSharedFromBytes,
  SharedCopier::kSharedFromBytes + 1, 8 * SharedCopier::kChunkBytes, 13 * SharedCopier::kChunkBytes + 777,
};

}  // namespace

TEST(shared_copy_every_byte_with_zero_one_and_three_helpers) {
  for (unsigned helpers : {0u, 1u, 3u}) {
    SharedCopier copier(helpers);
    uint32_t seed = 1;
    for (std::size_t n : kSizes) CHECK(CopiesExactly(copier, n, seed++));
  }
}

TEST(shared_copy_helpers_take_chunks_of_large_copies) {
  SharedCopier copier(1);
  // A woken helper takes chunks while the caller copies its own; the caller does not wait for a helper that is slow
  // to wake, so one copy may pass without it: many copies may not.
  for (int i = 0; i < 60 && copier.ChunksByHelpers() == 0; ++i) CHECK(CopiesExactly(copier, 16 * SharedCopier::kChunkBytes, 100 + i));
  CHECK(copier.ChunksByHelpers() > 0);
  SharedCopier alone(0);
  CHECK(CopiesExactly(alone, 16 * SharedCopier::kChunkBytes, 7));
  CHECK_EQ(alone.ChunksByHelpers(), std::size_t{0});
}

TEST(shared_copy_callers_at_once_each_get_their_own_bytes) {
  SharedCopier copier(2);
  std::vector<int> ok(4, 0);
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&copier, &ok, t] {
      bool all = true;
      for (int i = 0; i < 6; ++i) all = CopiesExactly(copier, (5 + t) * SharedCopier::kChunkBytes + 13 * i, 1000 * t + i) && all;
      ok[t] = all ? 1 : 0;
    });
  }
  for (std::thread& c : callers) c.join();
  for (int t = 0; t < 4; ++t) CHECK_EQ(ok[t], 1);
}
