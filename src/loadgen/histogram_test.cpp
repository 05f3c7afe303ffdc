#include "loadgen/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

namespace scrutin::loadgen {
namespace {

// The value of rank ceil(p/100 * n) in the sorted values: the definition Percentile() follows.
std::uint64_t Reference(const std::vector<std::uint64_t>& sorted, double p) {
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * sorted.size()));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void ExpectClose(const std::vector<std::uint64_t>& values, const LatencyHistogram& h) {
  std::vector<std::uint64_t> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const std::uint64_t ref = Reference(sorted, p);
    const std::uint64_t got = h.Percentile(p);
    // Never below the true value, at most one sub-bucket (1/128) above it.
    EXPECT_GE(got, ref) << "p" << p;
    EXPECT_LE(static_cast<double>(got), static_cast<double>(ref) * (1.0 + 1.0 / 128) + 1)
        << "p" << p << " ref " << ref;
  }
  EXPECT_EQ(h.max(), sorted.back());
  EXPECT_EQ(h.min(), sorted.front());
  EXPECT_EQ(h.count(), sorted.size());
}

TEST(LatencyHistogram, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(99), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.Mean(), 0.0);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  std::vector<std::uint64_t> values;
  for (std::uint64_t v = 0; v < 128; ++v) {
    h.Record(v);
    values.push_back(v);
  }
  for (double p : {1.0, 25.0, 50.0, 75.0, 100.0}) {
    std::vector<std::uint64_t> sorted = values;
    EXPECT_EQ(h.Percentile(p), Reference(sorted, p)) << p;
  }
}

TEST(LatencyHistogram, BucketsTileTheRangeWithoutGaps) {
  for (std::size_t i = 0; i + 1 < LatencyHistogram::kBucketCount; ++i) {
    ASSERT_EQ(LatencyHistogram::HighestOf(i) + 1, LatencyHistogram::LowestOf(i + 1)) << i;
    ASSERT_EQ(LatencyHistogram::IndexOf(LatencyHistogram::LowestOf(i)), i);
    ASSERT_EQ(LatencyHistogram::IndexOf(LatencyHistogram::HighestOf(i)), i);
    const double width =
        static_cast<double>(LatencyHistogram::HighestOf(i) - LatencyHistogram::LowestOf(i) + 1);
    ASSERT_LE(width, std::max(1.0, LatencyHistogram::LowestOf(i) / 128.0)) << i;
  }
  EXPECT_EQ(LatencyHistogram::IndexOf(LatencyHistogram::kMaxTrackable),
            LatencyHistogram::kBucketCount - 1);
}

TEST(LatencyHistogram, UniformValuesMatchSortedReference) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::uint64_t> dist(0, 2'000'000);
  LatencyHistogram h;
  std::vector<std::uint64_t> values;
  for (int i = 0; i < 200'000; ++i) {
    const std::uint64_t v = dist(rng);
    h.Record(v);
    values.push_back(v);
  }
  ExpectClose(values, h);
}

TEST(LatencyHistogram, HeavyTailMatchesSortedReference) {
  // Latency-like: log-normal around 1 ms with rare stalls of seconds to minutes.
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> body(std::log(1000.0), 0.8);
  std::uniform_int_distribution<std::uint64_t> stall(1'000'000, 600'000'000);
  LatencyHistogram h;
  std::vector<std::uint64_t> values;
  for (int i = 0; i < 100'000; ++i) {
    const std::uint64_t v = (i % 997 == 0) ? stall(rng) : static_cast<std::uint64_t>(body(rng));
    h.Record(v);
    values.push_back(v);
  }
  ExpectClose(values, h);
  EXPECT_NEAR(h.Mean(), std::accumulate(values.begin(), values.end(), 0.0) / values.size(),
              1e-6 * h.Mean());
}

TEST(LatencyHistogram, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(3);
  std::exponential_distribution<double> dist(1.0 / 5000);
  LatencyHistogram a, b, all;
  std::vector<std::uint64_t> values;
  for (int i = 0; i < 50'000; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(rng));
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
    values.push_back(v);
  }
  LatencyHistogram merged;
  merged.MergeFrom(a);
  merged.MergeFrom(b);
  for (double p : {50.0, 90.0, 99.0, 99.9}) EXPECT_EQ(merged.Percentile(p), all.Percentile(p));
  ExpectClose(values, merged);
  merged.Clear();
  EXPECT_EQ(merged.count(), 0u);
  EXPECT_EQ(merged.Percentile(50), 0u);
}

TEST(LatencyHistogram, ValuesBeyondTheRangeAreClampedButMaxIsExact) {
  LatencyHistogram h;
  h.Record(10);
  h.Record(std::uint64_t{1} << 40);
  EXPECT_EQ(h.max(), std::uint64_t{1} << 40);
  EXPECT_EQ(h.Percentile(100), LatencyHistogram::kMaxTrackable);
  EXPECT_EQ(h.Percentile(50), 10u);
}

}  // namespace
}  // namespace scrutin::loadgen
