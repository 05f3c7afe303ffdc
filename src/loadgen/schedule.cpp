#include "loadgen/schedule.hpp"

#include <cmath>

namespace scrutin::loadgen {

OpenLoopSchedule::OpenLoopSchedule(double rate_per_second, unsigned threads, unsigned thread)
    : nanos_per_request_(1e9 / rate_per_second), threads_(threads), thread_(thread) {}

std::chrono::nanoseconds OpenLoopSchedule::DueAt(std::uint64_t i) const {
  const double global = static_cast<double>(GlobalIndex(i));
  return std::chrono::nanoseconds(std::llround(global * nanos_per_request_));
}

std::uint64_t OpenLoopSchedule::CountBefore(std::chrono::nanoseconds d) const {
  if (d.count() <= 0) return 0;
  // Estimate from the rate, then settle the rounding at the boundary exactly.
  const double global = static_cast<double>(d.count()) / nanos_per_request_;
  const double local = (global - thread_) / threads_;
  std::uint64_t n = local <= 0 ? 0 : static_cast<std::uint64_t>(std::ceil(local));
  while (n > 0 && DueAt(n - 1) >= d) --n;
  while (DueAt(n) < d) ++n;
  return n;
}

std::uint64_t ThreadQuota(std::uint64_t total, unsigned threads, unsigned thread) {
  return total / threads + (thread < total % threads ? 1 : 0);
}

}  // namespace scrutin::loadgen
