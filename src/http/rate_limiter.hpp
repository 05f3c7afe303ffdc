// RateLimiter: a per-instance token bucket (in its GCRA form: one "theoretical arrival time"),
// shared by every server thread. One atomic compare-and-swap per request: no lock, no thread
// serialised behind another.
//
// `rate` requests per second are admitted on average, and up to `burst` at once after a quiet
// period. A rate of 0 disables limiting (every request admitted).
// Private to src/http: other modules use its public headers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace scrutin::http {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // burst <= 0 means one second's worth (max(1, rate)).
  explicit RateLimiter(double rate, double burst = 0);

  struct Decision {
    bool allowed = true;
    // When refused: how long until a request would be admitted (at least 1 ms).
    std::chrono::nanoseconds retry_after{0};
  };

  // Takes one token if there is one. Thread-safe, lock-free.
  Decision Acquire(Clock::time_point now = Clock::now());

  bool enabled() const { return interval_ns_ > 0; }

 private:
  std::int64_t interval_ns_ = 0;  // time one token takes to refill; 0 = disabled
  std::int64_t capacity_ns_ = 0;  // burst * interval
  std::atomic<std::int64_t> tat_{0};
};

}  // namespace scrutin::http
