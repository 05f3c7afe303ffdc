// Verification of a load run against the server (LoadOptions::verify): the published tallies
// before and after, every pending request polled to its final status, and the comparison with
// the ground truth the run kept. Internal to loadgen.
//
// Targets: the verification talks to the first target, with its Host header; on a network error
// (refused, reset, unresolvable; for the results, a 5xx too) it tries the next targets in order
// before giving up, since the first replica may be the one a chaos test just killed or restarted.
// Any other answer (404, 403, an unreadable body) is final and not retried elsewhere.
//
// Threading: called from RunLoad's thread once the load engine has stopped; Verify runs its own
// polling engine and blocks until every status is final or verify_timeout has passed.
// Private to src/loadgen: other modules use its public headers.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "loadgen/http_engine.hpp"
#include "loadgen/load_run.hpp"
#include "loadgen/vote_workload.hpp"

namespace scrutin::loadgen {

constexpr std::size_t kMaxMismatchLines = 40;

// GET /api/v1/results/{law} for every law, in order, all from the first target that answers
// (the next target is tried on a network error or a 5xx). Fails when a law is unknown to the
// server (404), embargoed (403), on any other non-200 answer, an unreadable body, or when every
// target fails with a network error or a 5xx (ErrorCode::kUnavailable; the message names each
// target).
core::Result<std::vector<LawCount>> ReadTallies(const std::vector<Target>& targets,
                                                const std::vector<std::string>& laws,
                                                std::chrono::milliseconds timeout);

// The mismatch lines of a report: every mismatch is counted, the first kMaxMismatchLines kept.
class Mismatches {
 public:
  explicit Mismatches(std::vector<std::string>& out) : out_(out) {}
  template <typename... Args>
  void Add(fmt::format_string<Args...> f, Args&&... args) {
    ++count_;
    if (out_.size() < kMaxMismatchLines)
      out_.push_back(fmt::format(f, std::forward<Args>(args)...));
  }
  // A class of mismatches counted in bulk, reported as one line.
  void AddCount(std::uint64_t n, std::string_view what) {
    if (n == 0) return;
    ++count_;
    out_.push_back(fmt::format("{} {}", n, what));
  }
  std::uint64_t count() const { return count_; }

 private:
  std::vector<std::string>& out_;
  std::uint64_t count_ = 0;
};

// Polls every pending request to its final status, folds the statuses into the electorate, reads
// the tallies after the run and records every disagreement with the ground truth in
// report.mismatches; sets report.verified and report.verify_ok.
void Verify(const LoadOptions& options, VoteRun& run, const std::vector<Pending>& pending,
            LoadReport& report);

// The answers themselves: malformed requests answered 400, well-formed ones never 400,
// unregistered credentials never answered a status other than invalid.
void CheckAnswers(const LoadReport& report, std::uint64_t invalid_not_invalid, Mismatches& mm);

}  // namespace scrutin::loadgen
