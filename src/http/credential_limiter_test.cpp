// CredentialLimiter: attempts per NAS per law per window; another NAS or law is not affected;
// a guesser's entry survives a flood of honest one-attempt entries.
#include "http/credential_limiter.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace scrutin::http {
namespace {

using namespace std::chrono_literals;
using Clock = CredentialLimiter::Clock;

CredentialLimits Limits(std::uint32_t attempts, std::size_t memory = 1 << 20) {
  CredentialLimits l;
  l.attempts = attempts;
  l.window = 600s;
  l.memory_bytes = memory;
  return l;
}

std::string Nas(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%09d", i);
  return buf;
}

TEST(CredentialLimiter, RefusesBeyondTheAllowanceUntilTheWindowEnds) {
  CredentialLimiter limiter(Limits(5));
  auto now = Clock::now();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Attempt("046454286", "L2025-001", now).allowed);
  auto refused = limiter.Attempt("046454286", "L2025-001", now);
  EXPECT_FALSE(refused.allowed);
  EXPECT_GE(refused.retry_after, 1s);
  EXPECT_LE(refused.retry_after, 600s);
  EXPECT_FALSE(limiter.Attempt("046454286", "L2025-001", now + 1s).allowed);
  EXPECT_TRUE(limiter.Attempt("046454286", "L2025-001", now + refused.retry_after + 1s).allowed);
}

TEST(CredentialLimiter, OtherNasAndOtherLawsAreIndependent) {
  CredentialLimiter limiter(Limits(1));
  auto now = Clock::now();
  EXPECT_TRUE(limiter.Attempt("046454286", "L2025-001", now).allowed);
  EXPECT_FALSE(limiter.Attempt("046454286", "L2025-001", now).allowed);
  EXPECT_TRUE(limiter.Attempt("046454286", "L2025-002", now).allowed);
  EXPECT_TRUE(limiter.Attempt("130692544", "L2025-001", now).allowed);
}

TEST(CredentialLimiter, AGuessersCountSurvivesAFloodOfHonestVoters) {
  // 64 entries; 100,000 honest voters with one attempt each go through the same table.
  CredentialLimiter limiter(Limits(10, 8 * 8 * 8));
  ASSERT_EQ(limiter.capacity(), 64u);
  auto now = Clock::now();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(limiter.Attempt("046454286", "L2025-001", now).allowed);
  for (int i = 0; i < 100000; ++i) limiter.Attempt(Nas(i), "L2025-001", now);
  EXPECT_FALSE(limiter.Attempt("046454286", "L2025-001", now).allowed);
}

TEST(CredentialLimiter, ZeroAttemptsDisablesTheLimit) {
  CredentialLimiter limiter(Limits(0));
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.Attempt("046454286", "L2025-001").allowed);
}

}  // namespace
}  // namespace scrutin::http
