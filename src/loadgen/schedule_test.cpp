#include "loadgen/schedule.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace scrutin::loadgen {
namespace {

using std::chrono::nanoseconds;

TEST(OpenLoopSchedule, SingleThreadIsIOverR) {
  OpenLoopSchedule s(1000, 1, 0);
  EXPECT_EQ(s.DueAt(0), nanoseconds(0));
  EXPECT_EQ(s.DueAt(1), nanoseconds(1'000'000));
  EXPECT_EQ(s.DueAt(2500), nanoseconds(2'500'000'000));
}

TEST(OpenLoopSchedule, ThreadsInterleaveIntoTheGlobalSchedule) {
  // Three threads at 30,000/s together produce exactly the times i / 30,000 s, each once.
  constexpr unsigned kThreads = 3;
  constexpr double kRate = 30'000;
  std::vector<std::int64_t> all;
  for (unsigned t = 0; t < kThreads; ++t) {
    OpenLoopSchedule s(kRate, kThreads, t);
    for (std::uint64_t i = 0; i < 1000; ++i) all.push_back(s.DueAt(i).count());
  }
  std::sort(all.begin(), all.end());
  for (std::size_t g = 0; g < all.size(); ++g) {
    EXPECT_EQ(all[g], std::llround(g * 1e9 / kRate)) << g;
  }
}

TEST(OpenLoopSchedule, NoDriftOverALongRun) {
  // 7 requests/s does not divide a second: a per-step increment would drift; i/R does not.
  OpenLoopSchedule s(7, 1, 0);
  EXPECT_EQ(s.DueAt(7 * 86'400), nanoseconds(86'400'000'000'000));
  OpenLoopSchedule fast(123'456.7, 2, 1);
  const std::uint64_t i = 500'000'000;
  EXPECT_NEAR(static_cast<double>(fast.DueAt(i).count()), (2.0 * i + 1) * 1e9 / 123'456.7, 1.0);
}

TEST(OpenLoopSchedule, CountBeforeMatchesDueAt) {
  for (unsigned threads : {1u, 2u, 5u}) {
    for (unsigned t = 0; t < threads; ++t) {
      OpenLoopSchedule s(997, threads, t);
      for (std::int64_t ms : {0, 1, 3, 1000, 1001, 12'345}) {
        const nanoseconds d(ms * 1'000'000);
        std::uint64_t expected = 0;
        while (s.DueAt(expected) < d) ++expected;
        EXPECT_EQ(s.CountBefore(d), expected) << threads << "/" << t << " " << ms;
      }
    }
  }
}

TEST(ThreadQuota, SplitsExactlyAndEvenly) {
  for (std::uint64_t total : {0ull, 1ull, 7ull, 3000ull, 1'000'001ull}) {
    for (unsigned threads : {1u, 2u, 3u, 8u}) {
      std::uint64_t sum = 0, lo = UINT64_MAX, hi = 0;
      for (unsigned t = 0; t < threads; ++t) {
        const std::uint64_t q = ThreadQuota(total, threads, t);
        sum += q;
        lo = std::min(lo, q);
        hi = std::max(hi, q);
      }
      EXPECT_EQ(sum, total);
      EXPECT_LE(hi - lo, 1u);
    }
  }
}

TEST(ThreadQuota, MatchesTheInterleavingOfGlobalIndices) {
  // Thread t sends global indices t, t+T, ...: those below `total` are exactly its quota.
  const std::uint64_t total = 1003;
  const unsigned threads = 4;
  for (unsigned t = 0; t < threads; ++t) {
    OpenLoopSchedule s(100, threads, t);
    std::uint64_t n = 0;
    while (s.GlobalIndex(n) < total) ++n;
    EXPECT_EQ(n, ThreadQuota(total, threads, t));
  }
}

}  // namespace
}  // namespace scrutin::loadgen
