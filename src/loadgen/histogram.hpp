// LatencyHistogram: a log-linear histogram of latencies in microseconds, in the manner of
// HdrHistogram. Values below 128 us are counted exactly; above, every power-of-two range is split
// into 128 equal sub-buckets, so a reported value is within 1/128 (< 0.8%) of the true one, from
// 1 us up to kMaxTrackable (about 71 minutes). Larger values are counted in the last bucket (the
// exact maximum is kept apart). Memory is fixed (about 26 KiB), recording is O(1).
//
// Thread-safety: one thread records (Record is not safe for two concurrent writers); any thread may
// read concurrently (counts(), Percentile(), MergeFrom() as the source) and sees a recent, possibly
// slightly stale state. Each load generator thread owns one histogram; readers merge them.
// Private to src/loadgen: other modules use its public headers.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace scrutin::loadgen {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << kSubBucketBits;  // 128
  static constexpr int kValueBits = 32;
  static constexpr std::uint64_t kMaxTrackable = (std::uint64_t{1} << kValueBits) - 1;
  static constexpr std::size_t kBucketCount =
      (kValueBits - kSubBucketBits) * kSubBuckets + kSubBuckets;

  LatencyHistogram() = default;
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  // Counts one value (microseconds). REQUIRES: a single writing thread.
  void Record(std::uint64_t micros);
  // Adds every count of `other` into this histogram. REQUIRES: this one has no concurrent writer.
  void MergeFrom(const LatencyHistogram& other);
  void Clear();

  std::uint64_t count() const { return total_.load(std::memory_order_relaxed); }
  // Exact extremes of the recorded values; 0 when empty.
  std::uint64_t max() const { return max_.load(std::memory_order_relaxed); }
  std::uint64_t min() const;
  double Mean() const;

  // The value at `percentile` (0..100]: the smallest recorded value v such that at least
  // percentile% of the values are <= v, reported as the upper bound of v's bucket (never above
  // max()). 0 when empty.
  std::uint64_t Percentile(double percentile) const;

  // Bucket arithmetic, exposed for tests.
  static std::size_t IndexOf(std::uint64_t micros);
  static std::uint64_t LowestOf(std::size_t index);
  static std::uint64_t HighestOf(std::size_t index);

 private:
  static void Bump(std::atomic<std::uint64_t>& a, std::uint64_t by) {
    a.store(a.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }

  std::array<std::atomic<std::uint64_t>, kBucketCount> counts_{};
  std::atomic<std::uint64_t> total_{0};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> max_{0};
  std::atomic<std::uint64_t> min_{UINT64_MAX};
};

}  // namespace scrutin::loadgen
