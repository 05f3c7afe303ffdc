#include "pipeline/batch_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

namespace scrutin::pipeline {
namespace {

using Push = BatchQueue<std::unique_ptr<int>>::PushResult;

TEST(BatchQueueTest, RefusesBeyondCapacityAndAfterCloseWithoutTakingTheItem) {
  BatchQueue<std::unique_ptr<int>> q(2);
  for (int i = 0; i < 2; ++i) {
    auto item = std::make_unique<int>(i);
    EXPECT_EQ(q.Push(item), Push::kQueued);
    EXPECT_EQ(item, nullptr);  // moved into the queue
  }
  auto extra = std::make_unique<int>(9);
  EXPECT_EQ(q.Push(extra), Push::kFull);
  ASSERT_NE(extra, nullptr);  // still the caller's, to answer
  EXPECT_EQ(*extra, 9);
  q.Close();
  EXPECT_EQ(q.Push(extra), Push::kClosed);
  EXPECT_NE(extra, nullptr);
  EXPECT_EQ(q.size(), 2u);
}

TEST(BatchQueueTest, HandsOutBatchesInArrivalOrderAndDrainsAfterClose) {
  BatchQueue<std::unique_ptr<int>> q(10);
  for (int i = 0; i < 5; ++i) {
    auto item = std::make_unique<int>(i);
    ASSERT_EQ(q.Push(item), Push::kQueued);
  }
  q.Close();
  std::vector<std::unique_ptr<int>> out;
  ASSERT_TRUE(q.PopBatch(out, 3));
  ASSERT_EQ(out.size(), 3u);
  ASSERT_TRUE(q.PopBatch(out, 3));  // appends
  ASSERT_EQ(out.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(*out[i], i);
  EXPECT_FALSE(q.PopBatch(out, 3));  // closed and empty
}

TEST(BatchQueueTest, AWaitingConsumerWakesForAnItemAndForClose) {
  BatchQueue<int> q(10);
  std::atomic<int> batches{0};
  std::thread consumer([&] {
    std::vector<int> out;
    while (q.PopBatch(out, 100)) {
      ++batches;
      out.clear();
    }
  });
  int item = 1;
  ASSERT_EQ(q.Push(item), BatchQueue<int>::PushResult::kQueued);
  while (batches.load() == 0) std::this_thread::yield();
  q.Close();
  consumer.join();  // returns: Close woke it
  EXPECT_EQ(batches.load(), 1);
}

}  // namespace
}  // namespace scrutin::pipeline
