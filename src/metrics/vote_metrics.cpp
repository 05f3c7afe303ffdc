#include "metrics/vote_metrics.hpp"

#include <algorithm>
#include <cassert>

namespace scrutin::metrics {
namespace {

constexpr int kCountBits = 24;
constexpr std::uint64_t kCountMask = (std::uint64_t{1} << kCountBits) - 1;

std::int64_t Seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

RateWindow::RateWindow(int window_seconds) : window_(window_seconds) {
  assert(window_seconds >= 1 && window_seconds <= kMaxWindow);
  if (window_ < 1) window_ = 1;
  if (window_ > kMaxWindow) window_ = kMaxWindow;
}

void RateWindow::Record(std::int64_t now_seconds, std::uint32_t n) {
  const std::uint64_t sec = static_cast<std::uint64_t>(now_seconds);
  auto& slot = slots_[sec % slots_.size()];
  std::uint64_t cur = slot.load(std::memory_order_relaxed);
  for (;;) {
    std::uint64_t next;
    if ((cur >> kCountBits) == (sec & (~std::uint64_t{0} >> kCountBits))) {
      std::uint64_t count = std::min<std::uint64_t>((cur & kCountMask) + n, kCountMask);
      next = (cur & ~kCountMask) | count;
    } else {
      // The slot still holds an older second: start this one.
      next = (sec << kCountBits) | std::min<std::uint64_t>(n, kCountMask);
    }
    if (slot.compare_exchange_weak(cur, next, std::memory_order_relaxed)) return;
  }
}

double RateWindow::Rate(std::int64_t now_seconds) const {
  const std::uint64_t now = static_cast<std::uint64_t>(now_seconds);
  std::uint64_t total = 0;
  for (int i = 1; i <= window_; ++i) {
    std::uint64_t sec = now - static_cast<std::uint64_t>(i);
    std::uint64_t v = slots_[sec % slots_.size()].load(std::memory_order_relaxed);
    if ((v >> kCountBits) == (sec & (~std::uint64_t{0} >> kCountBits))) total += v & kCountMask;
  }
  return static_cast<double>(total) / window_;
}

VoteMetrics::VoteMetrics(Registry& r, int rate_window_seconds)
    : registry(r),
      votes_submitted(
          r.AddCounter("votes_submitted_total", "Votes durably taken in (answered 202).").Get()),
      votes_validated(r.AddCounter("votes_validated_total", "Final decisions on votes, by status.",
                                   {"status"})),
      votes_accepted(votes_validated.WithLabels({"accepted"})),
      votes_duplicate(votes_validated.WithLabels({"duplicate"})),
      votes_invalid(votes_validated.WithLabels({"invalid"})),
      votes_per_second(r.AddGauge("votes_per_second",
                                  "Votes submitted per second, averaged over the last complete "
                                  "seconds of a sliding window.")
                           .Get()),
      validation_latency(r.AddHistogram("validation_latency_seconds",
                                        "Time from receiving a vote to its final decision.",
                                        LatencyBuckets())
                             .Get()),
      api_request_duration(r.AddHistogram(
          "api_request_duration_seconds",
          "Time from a request fully read to its response ready, by route and status code.",
          LatencyBuckets(), {"route", "code"})),
      duplicate_attempts(
          r.AddCounter("duplicate_attempts_total", "Vote attempts decided as duplicates.").Get()),
      votes_by_law(r.AddGauge("votes_by_law", "Counted ballots per law and choice.",
                              {"law_id", "choice"}, 1024)),
      rate_(rate_window_seconds),
      process_(r) {
  collector_ = r.AddCollector([this] { RefreshRate(std::chrono::system_clock::now()); });
}

void VoteMetrics::RecordDecision(core::VoteStatus status, double latency_seconds) {
  switch (status) {
    case core::VoteStatus::kPending:
      return;  // decided (and recorded) downstream
    case core::VoteStatus::kAccepted:
      votes_accepted.Increment();
      break;
    case core::VoteStatus::kDuplicate:
      votes_duplicate.Increment();
      duplicate_attempts.Increment();
      break;
    case core::VoteStatus::kInvalid:
      votes_invalid.Increment();
      break;
  }
  validation_latency.Observe(latency_seconds);
}

VoteMetrics::~VoteMetrics() { registry.RemoveCollector(collector_); }

void VoteMetrics::RecordSubmitted(std::chrono::system_clock::time_point now) {
  votes_submitted.Increment();
  rate_.Record(Seconds(now));
}

void VoteMetrics::RefreshRate(std::chrono::system_clock::time_point now) {
  votes_per_second.Set(rate_.Rate(Seconds(now)));
}

}  // namespace scrutin::metrics
