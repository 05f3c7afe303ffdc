#include "http/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace scrutin::http {

RateLimiter::RateLimiter(double rate, double burst) {
  if (!(rate > 0) || !std::isfinite(rate)) return;
  interval_ns_ = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::llround(1e9 / rate)));
  if (!(burst > 0)) burst = std::max(1.0, rate);
  capacity_ns_ = static_cast<std::int64_t>(std::max(1.0, std::floor(burst))) * interval_ns_;
}

RateLimiter::Decision RateLimiter::Acquire(Clock::time_point now) {
  if (interval_ns_ == 0) return {};
  const std::int64_t t =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  std::int64_t tat = tat_.load(std::memory_order_relaxed);
  for (;;) {
    const std::int64_t next = std::max(tat, t) + interval_ns_;
    if (next - t > capacity_ns_) {
      // Admitted again once `next - t` has drained back to the capacity.
      auto wait = std::max<std::int64_t>(next - t - capacity_ns_, 1'000'000);
      return {false, std::chrono::nanoseconds(wait)};
    }
    if (tat_.compare_exchange_weak(tat, next, std::memory_order_relaxed)) return {};
  }
}

}  // namespace scrutin::http
