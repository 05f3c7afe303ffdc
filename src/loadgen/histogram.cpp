#include "loadgen/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace scrutin::loadgen {

std::size_t LatencyHistogram::IndexOf(std::uint64_t v) {
  if (v > kMaxTrackable) v = kMaxTrackable;
  if (v < kSubBuckets) return static_cast<std::size_t>(v);
  // Keep the kSubBucketBits + 1 leading bits: `top` is in [kSubBuckets, 2 * kSubBuckets).
  const int msb = std::bit_width(v) - 1;
  const int shift = msb - kSubBucketBits;
  const std::uint64_t top = v >> shift;
  return static_cast<std::size_t>(static_cast<std::uint64_t>(shift) * kSubBuckets + top);
}

std::uint64_t LatencyHistogram::LowestOf(std::size_t index) {
  if (index < 2 * kSubBuckets) return index;
  const std::uint64_t shift = index / kSubBuckets - 1;
  const std::uint64_t top = index - shift * kSubBuckets;
  return top << shift;
}

std::uint64_t LatencyHistogram::HighestOf(std::size_t index) {
  if (index + 1 >= kBucketCount) return kMaxTrackable;
  return LowestOf(index + 1) - 1;
}

void LatencyHistogram::Record(std::uint64_t micros) {
  Bump(counts_[IndexOf(micros)], 1);
  Bump(total_, 1);
  Bump(sum_, micros);
  if (micros > max_.load(std::memory_order_relaxed)) max_.store(micros, std::memory_order_relaxed);
  if (micros < min_.load(std::memory_order_relaxed)) min_.store(micros, std::memory_order_relaxed);
}

void LatencyHistogram::MergeFrom(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    const std::uint64_t c = other.counts_[i].load(std::memory_order_relaxed);
    if (c != 0) Bump(counts_[i], c);
  }
  Bump(total_, other.total_.load(std::memory_order_relaxed));
  Bump(sum_, other.sum_.load(std::memory_order_relaxed));
  max_.store(std::max(max(), other.max()), std::memory_order_relaxed);
  min_.store(
      std::min(min_.load(std::memory_order_relaxed), other.min_.load(std::memory_order_relaxed)),
      std::memory_order_relaxed);
}

void LatencyHistogram::Clear() {
  for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
  total_.store(0, std::memory_order_relaxed);
  sum_.store(0, std::memory_order_relaxed);
  max_.store(0, std::memory_order_relaxed);
  min_.store(UINT64_MAX, std::memory_order_relaxed);
}

std::uint64_t LatencyHistogram::min() const {
  return count() == 0 ? 0 : min_.load(std::memory_order_relaxed);
}

double LatencyHistogram::Mean() const {
  const std::uint64_t n = count();
  return n == 0 ? 0.0 : static_cast<double>(sum_.load(std::memory_order_relaxed)) / n;
}

std::uint64_t LatencyHistogram::Percentile(double percentile) const {
  // Walk the buckets rather than trusting total_, which a concurrent writer may have bumped
  // before or after the bucket being read.
  std::uint64_t n = 0;
  for (const auto& c : counts_) n += c.load(std::memory_order_relaxed);
  if (n == 0) return 0;
  percentile = std::clamp(percentile, 0.0, 100.0);
  auto rank = static_cast<std::uint64_t>(std::ceil(percentile / 100.0 * static_cast<double>(n)));
  rank = std::clamp<std::uint64_t>(rank, 1, n);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i].load(std::memory_order_relaxed);
    if (seen >= rank) return std::min(HighestOf(i), std::max(max(), LowestOf(i)));
  }
  return max();
}

}  // namespace scrutin::loadgen
