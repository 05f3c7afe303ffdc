// Durations as the `struct timeval` that C client libraries take for their timeouts (hiredis,
// librabbitmq). Header-only; shared by the Redis and RabbitMQ adapters, which may not use each
// other.
#pragma once

#include <sys/time.h>

#include <chrono>

namespace scrutin::core {

// A duration as a timeval; negative durations become zero.
inline timeval ToTimeval(std::chrono::microseconds d) {
  if (d.count() < 0) d = std::chrono::microseconds(0);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1'000'000);
  tv.tv_usec = static_cast<suseconds_t>(d.count() % 1'000'000);
  return tv;
}

// The time left until `deadline` as a timeval, zero once it has passed.
inline timeval TimevalUntil(std::chrono::steady_clock::time_point deadline) {
  return ToTimeval(std::chrono::duration_cast<std::chrono::microseconds>(
      deadline - std::chrono::steady_clock::now()));
}

}  // namespace scrutin::core
