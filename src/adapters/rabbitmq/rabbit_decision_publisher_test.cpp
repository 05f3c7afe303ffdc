// The decision publisher's retry policy (RetryWithBackoff), without a broker. Publishing itself is
// covered by rabbit_rmqtest.cpp and the distributed chaos suites.
#include "adapters/rabbitmq/rabbit_decision_publisher.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace scrutin::rabbitmq {
namespace {

using std::chrono::milliseconds;

PublishRetryPolicy Fast(milliseconds retry_for) {
  return {.retry_for = retry_for, .first_pause = milliseconds(1), .max_pause = milliseconds(4)};
}

TEST(RetryWithBackoffTest, ASuccessIsNotRetried) {
  int calls = 0;
  auto st = RetryWithBackoff(Fast(milliseconds(1000)), [&]() -> core::Status {
    ++calls;
    return core::Status();
  });
  EXPECT_TRUE(st);
  EXPECT_EQ(calls, 1);
}

TEST(RetryWithBackoffTest, RetriesUntilAnAttemptSucceeds) {
  int calls = 0;
  auto st = RetryWithBackoff(Fast(milliseconds(5000)), [&]() -> core::Status {
    if (++calls < 4) return core::Fail(std::string("connection lost"));
    return core::Status();
  });
  EXPECT_TRUE(st);
  EXPECT_EQ(calls, 4);
}

TEST(RetryWithBackoffTest, GivesUpWithTheLastErrorOnceTheTimeIsSpent) {
  int calls = 0;
  const auto start = std::chrono::steady_clock::now();
  auto st = RetryWithBackoff(Fast(milliseconds(50)), [&]() -> core::Status {
    return core::Fail("attempt " + std::to_string(++calls));
  });
  const auto spent = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error(), "attempt " + std::to_string(calls));
  EXPECT_GT(calls, 1);
  EXPECT_LT(spent, milliseconds(1000));
}

TEST(RetryWithBackoffTest, NoRetryWhenThePolicyAllowsNoTime) {
  int calls = 0;
  auto st = RetryWithBackoff(Fast(milliseconds(0)), [&]() -> core::Status {
    ++calls;
    return core::Fail(std::string("down"));
  });
  EXPECT_FALSE(st);
  EXPECT_EQ(calls, 1);
}

TEST(RetryWithBackoffTest, TheDefaultPolicyStaysUnderTheConsumerHeartbeat) {
  EXPECT_LT(PublishRetryPolicy{}.retry_for, std::chrono::seconds(30));
}

}  // namespace
}  // namespace scrutin::rabbitmq
