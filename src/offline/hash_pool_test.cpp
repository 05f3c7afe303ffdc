#include "offline/hash_pool.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "offline/offline_test_support.hpp"

namespace scrutin::offline {
namespace {

std::string Message(std::size_t i) {
  // A fixed-size "nas|code|law_id" message; the pool hashes whatever bytes it is given.
  char buf[kMessageSize + 1];
  std::snprintf(buf, sizeof buf, "%09zu|CODE%02zu|L2025-001", i, i % 100);
  return std::string(buf, kMessageSize);
}

void Fill(Batch* b, std::size_t first, std::size_t count, core::Digest* out) {
  for (std::size_t i = 0; i < count; ++i) {
    std::memcpy(b->messages[i].data(), Message(first + i).data(), kMessageSize);
  }
  b->size = count;
  b->out = out;
}

TEST(HashPoolTest, EveryMessageGetsTheHashersDigestInItsSlot) {
  const auto hasher = testing::TestHasher();
  constexpr std::size_t kBatches = 9;  // more than the pool holds for one thread: batches recycle
  constexpr std::size_t kPerBatch = 1000;
  std::vector<core::Digest> digests(kBatches * kPerBatch);
  {
    HashPool pool(hasher, 1);
    for (std::size_t b = 0; b < kBatches; ++b) {
      Batch* batch = pool.Acquire();
      Fill(batch, b * kPerBatch, kPerBatch, digests.data() + b * kPerBatch);
      pool.Submit(batch);
    }
    pool.Drain();
  }
  for (std::size_t i = 0; i < digests.size(); ++i) {
    ASSERT_EQ(digests[i], hasher.HashMessage(Message(i))) << "message " << i;
  }
}

TEST(HashPoolTest, ManyThreadsGiveTheSameDigests) {
  const auto hasher = testing::TestHasher();
  constexpr std::size_t kBatches = 24;
  constexpr std::size_t kPerBatch = 257;
  std::vector<core::Digest> digests(kBatches * kPerBatch);
  HashPool pool(hasher, 4);
  for (std::size_t b = 0; b < kBatches; ++b) {
    Batch* batch = pool.Acquire();
    Fill(batch, b * kPerBatch, kPerBatch, digests.data() + b * kPerBatch);
    pool.Submit(batch);
  }
  pool.Drain();
  for (std::size_t i = 0; i < digests.size(); ++i) {
    ASSERT_EQ(digests[i], hasher.HashMessage(Message(i))) << "message " << i;
  }
}

TEST(HashPoolTest, HashedMessagesAreWipedAndReleasedBatchesAreEmpty) {
  const auto hasher = testing::TestHasher();
  std::vector<core::Digest> digests(3);
  HashPool pool(hasher, 1);
  Batch* batch = pool.Acquire();
  Fill(batch, 0, 3, digests.data());
  pool.Submit(batch);
  pool.Drain();
  // The batch is back on the free list, emptied and wiped (no registry bytes left behind).
  EXPECT_EQ(batch->size, 0u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(std::string(batch->messages[i].data(), kMessageSize),
              std::string(kMessageSize, '\0'));
  }
}

TEST(HashPoolTest, DrainWithNothingSubmittedReturnsAtOnce) {
  const auto hasher = testing::TestHasher();
  HashPool pool(hasher, 2);
  pool.Drain();
  Batch* unused = pool.Acquire();
  pool.Release(unused);
  pool.Drain();
}

}  // namespace
}  // namespace scrutin::offline
