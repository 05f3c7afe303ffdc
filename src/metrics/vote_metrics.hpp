// The series every scrutin process exposes (README "Metrics"), declared in one place so that
// every shape names and labels them identically (dashboards and alerts depend on it).
//
//   votes_submitted_total                  votes durably taken in (answered 202)
//   votes_validated_total{status}          final decisions: accepted | duplicate | invalid
//   votes_per_second                       votes_submitted over the last `window` seconds / window
//   validation_latency_seconds             vote received -> final decision known
//   api_request_duration_seconds{route,code}  request fully read -> response ready
//   duplicate_attempts_total               decisions that were duplicates
//   votes_by_law{law_id,choice}            the counted ballots (set from the tallies at scrape
//   time)
//
//   process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
//   process_start_time_seconds, process_open_fds, process_max_fds
//                                          the standard process series (metrics/process_metrics.hpp),
//                                          refreshed from /proc at scrape time
//
// Backend series (rabbitmq_queue_depth{queue}, redis_memory_used_bytes, postgres_connections) are
// registered by the shapes that use them, on the same Registry (Registry::AddGauge, and a collector
// to refresh them at scrape time).
//
// Who records what: every process registers every series above (the contract: docs/openapi.yaml, GET /metrics), but
// only one kind of process records each, so a process never counts a decision twice:
//   - embedded (serve): everything, the HTTP API seeing each final decision.
//   - distributed api: votes_submitted_total, votes_per_second, api_request_duration_seconds.
//     It sees only `pending`, so its votes_validated_total, duplicate_attempts_total and
//     validation_latency_seconds stay 0.
//   - validator: the decision series (votes_validated_total, duplicate_attempts_total,
//     validation_latency_seconds).
//   - aggregator: votes_by_law (from the tallies in PostgreSQL).
//   - the process_* series: each process its own.
// Dashboards therefore select each series by the `role` of the process that owns it
// (deploy/grafana/dashboards/README.md has the table).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "core/vote.hpp"
#include "metrics/process_metrics.hpp"
#include "metrics/registry.hpp"

namespace scrutin::metrics {

// Counts events per wall-clock second over a sliding window of whole seconds. Record() is
// lock-free (one CAS on the current second's slot); Rate() reads the completed seconds of the
// window, so it lags by at most one second and never reports a partial second.
class RateWindow {
 public:
  static constexpr int kMaxWindow = 60;

  // REQUIRES: 1 <= window_seconds <= kMaxWindow.
  explicit RateWindow(int window_seconds = 10);

  // `now` in seconds since any fixed epoch (the caller's clock; tests pass their own).
  void Record(std::int64_t now_seconds, std::uint32_t n = 1);
  // Events per second over the `window` complete seconds before `now_seconds`.
  double Rate(std::int64_t now_seconds) const;
  int window() const { return window_; }

 private:
  // Each slot packs (second << 24 | count): count saturates at 2^24-1 events per second.
  std::array<std::atomic<std::uint64_t>, kMaxWindow + 1> slots_{};
  int window_;
};

struct VoteMetrics {
  // Registers the series on `registry`. Throws std::invalid_argument if they already exist.
  // Also adds a registry collector that refreshes votes_per_second from the system clock at each
  // scrape, and the process_* series with theirs (ProcessMetrics); the destructor removes them.
  // The process series live here rather than in Registry (whose tests render exact golden text,
  // and which a process may hold several of) or in each command of src/apps: every scrutin
  // process (serve, api, validator, aggregator) creates exactly one VoteMetrics on the registry
  // its /metrics renders, so this is the one place that reaches all of them, once each.
  explicit VoteMetrics(Registry& registry, int rate_window_seconds = 10);
  ~VoteMetrics();
  VoteMetrics(const VoteMetrics&) = delete;
  VoteMetrics& operator=(const VoteMetrics&) = delete;

  Registry& registry;
  Counter& votes_submitted;
  Family<Counter>& votes_validated;  // {status}
  Counter& votes_accepted;           // votes_validated{status="accepted"}, resolved once
  Counter& votes_duplicate;          // votes_validated{status="duplicate"}
  Counter& votes_invalid;            // votes_validated{status="invalid"}
  Gauge& votes_per_second;
  Histogram& validation_latency;
  Family<Histogram>& api_request_duration;  // {route, code}
  Counter& duplicate_attempts;
  Family<Gauge>& votes_by_law;  // {law_id, choice}

  // Counts one submitted vote in votes_submitted_total and the votes_per_second window.
  void RecordSubmitted(std::chrono::system_clock::time_point now);
  // Counts one final decision: votes_validated_total{status} (and duplicate_attempts_total for a
  // duplicate) and `latency_seconds` (vote received -> decision known) in
  // validation_latency_seconds. A `pending` status is no decision yet and records nothing: the
  // process that decides it records it (see "Who records what" above). Thread-safe.
  void RecordDecision(core::VoteStatus status, double latency_seconds);
  // Refreshes votes_per_second from the window (called before a scrape).
  void RefreshRate(std::chrono::system_clock::time_point now);

 private:
  RateWindow rate_;
  ProcessMetrics process_;
  Registry::CollectorId collector_ = 0;
};

}  // namespace scrutin::metrics
