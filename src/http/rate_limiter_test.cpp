#include "http/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace scrutin::http {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

TEST(RateLimiterTest, ZeroRateDisables) {
  RateLimiter r(0);
  EXPECT_FALSE(r.enabled());
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(r.Acquire().allowed);
}

TEST(RateLimiterTest, AdmitsBurstThenRefillsAtRate) {
  RateLimiter r(10, 5);  // 10/s, burst 5
  auto t0 = Clock::time_point(100s);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(r.Acquire(t0).allowed) << i;
  auto refused = r.Acquire(t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 100ms);
  EXPECT_FALSE(r.Acquire(t0 + 99ms).allowed);
  EXPECT_TRUE(r.Acquire(t0 + 100ms).allowed);
  EXPECT_FALSE(r.Acquire(t0 + 100ms).allowed);
  // After a quiet period the full burst is available again, not more.
  auto t1 = t0 + 10s;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(r.Acquire(t1).allowed) << i;
  EXPECT_FALSE(r.Acquire(t1).allowed);
}

TEST(RateLimiterTest, DefaultBurstIsOneSecond) {
  RateLimiter r(1000);
  auto t0 = Clock::time_point(5s);
  int admitted = 0;
  for (int i = 0; i < 3000; ++i) admitted += r.Acquire(t0).allowed;
  EXPECT_EQ(admitted, 1000);
}

TEST(RateLimiterTest, SustainedRateIsRespected) {
  RateLimiter r(100, 1);
  auto t = Clock::time_point(1s);
  int admitted = 0;
  for (int ms = 0; ms < 10000; ++ms) {  // 10 s, one attempt per millisecond
    for (int k = 0; k < 3; ++k) admitted += r.Acquire(t + std::chrono::milliseconds(ms)).allowed;
  }
  EXPECT_GE(admitted, 999);
  EXPECT_LE(admitted, 1001);
}

TEST(RateLimiterTest, ConcurrentCallersNeverExceedTheBurst) {
  RateLimiter r(1, 500);  // refills negligibly during the test
  auto t0 = Clock::time_point(50s);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 1000; ++k) admitted += r.Acquire(t0).allowed;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), 500);
}

}  // namespace
}  // namespace scrutin::http
