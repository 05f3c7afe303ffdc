// When each request of a load run is due. An open-loop run at R requests/s sends request i at
// t0 + i/R whatever happened to the earlier ones, and latency is measured from that scheduled
// instant, so a stalled server shows up as latency instead of silently slowing the generator down
// (coordinated omission). With T threads, thread j sends the global requests j, j + T, j + 2T, ...,
// so the threads together keep the exact global schedule without sharing a counter.
// Private to src/loadgen: other modules use its public headers.
#pragma once

#include <chrono>
#include <cstdint>

namespace scrutin::loadgen {

class OpenLoopSchedule {
 public:
  // REQUIRES: rate > 0, threads >= 1, 0 <= thread < threads.
  OpenLoopSchedule(double rate_per_second, unsigned threads, unsigned thread);

  // Offset from t0 at which this thread's i-th request (0-based) is due. Computed from i directly,
  // so no rounding error accumulates over a long run.
  std::chrono::nanoseconds DueAt(std::uint64_t i) const;
  // Global index of this thread's i-th request.
  std::uint64_t GlobalIndex(std::uint64_t i) const { return i * threads_ + thread_; }
  // How many of this thread's requests are due strictly before offset `d`.
  std::uint64_t CountBefore(std::chrono::nanoseconds d) const;

 private:
  double nanos_per_request_;
  unsigned threads_;
  unsigned thread_;
};

// How many of `total` requests thread `thread` of `threads` sends under the interleaving above
// (the counts over all threads add up to total).
std::uint64_t ThreadQuota(std::uint64_t total, unsigned threads, unsigned thread);

}  // namespace scrutin::loadgen
