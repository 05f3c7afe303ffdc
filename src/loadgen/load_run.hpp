// A load run against the vote API: reads the registry, sends the vote mix at the requested pace
// through the HTTP engine, keeps the ground truth of what it sent, and (with verify) checks the
// server's final statuses and published tallies against it afterwards.
//
// Ground truth: every valid credential whose vote got a 202 adds one to (law, choice). A
// duplicate re-sends a credential whose first vote already got its 202; it keeps that vote's
// choice unless the 202 already said "accepted" (then a different choice is allowed and must not
// change the tally). A request that got no answer at all leaves its credential "unknown": the
// server may or may not have recorded it, so the tally check allows that credential either way.
//
// Several targets (replicas of one service) share the load connection by connection (see
// http_engine.hpp); every request carries the first target's Host header. The verification talks
// to the first target and falls back to the next ones, in order, on a network error.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "loadgen/http_engine.hpp"
#include "loadgen/mix.hpp"

namespace scrutin::loadgen {

struct LoadOptions {
  // Base URLs of the service's replicas: connection k talks to targets[k % size]. At least one.
  std::vector<std::string> targets = {"http://127.0.0.1:8000"};
  // For https targets: a PEM file of the CAs to trust; empty: the system's store.
  std::string cacert;
  std::filesystem::path voters;
  double rate = 0;                   // requests/s; 0 = max (closed loop)
  std::optional<double> duration_s;  // exactly one of duration_s / votes
  std::optional<std::uint64_t> votes;
  unsigned connections = 64;
  unsigned threads = 1;
  Mix mix;
  bool verify = false;
  std::uint64_t seed = 1;
  std::string path = "/api/v1/vote";
  std::uint64_t registry_offset = 0;  // skip the first rows (used by an earlier run)
  std::chrono::milliseconds timeout{10000};
  std::chrono::seconds verify_timeout{120};
  bool progress = false;  // live progress line on stderr
  // Polled a few times a second; true stops sending (e.g. after SIGINT).
  std::function<bool()> interrupted;
};

struct LawCount {
  std::string law_id;
  std::uint64_t oui = 0;
  std::uint64_t non = 0;
  // Ballots recorded and not yet counted (the results' "uncounted": the mixer counts them in
  // groups, docs/ballot-secrecy.md); 0 from a server that does not say.
  std::uint64_t uncounted = 0;
};

struct LoadReport {
  std::string target;                // the targets, comma-separated
  std::vector<std::string> targets;  // as given
  bool open_loop = false;
  double rate = 0;
  unsigned connections = 0;
  unsigned threads = 0;
  std::string mix;
  std::uint64_t seed = 0;
  double elapsed_s = 0;
  EngineTotals totals;
  std::array<std::uint64_t, kRequestKinds> sent_by_kind{};
  // HTTP status answers per request kind (index 0: out of range).
  std::array<std::array<std::uint64_t, 600>, kRequestKinds> status_by_kind{};
  std::array<std::uint64_t, 4> status_in_202{};  // by core::VoteStatus
  std::uint64_t unreadable_202 = 0;              // 202 bodies without a readable status/id
  bool registry_exhausted = false;
  bool interrupted = false;  // stopped early by LoadOptions::interrupted
  std::uint64_t registry_rows = 0;
  std::uint64_t registry_first = 0;  // rows [first, next) were consumed as valid votes
  std::uint64_t registry_next = 0;
  std::vector<LawCount> ground_truth;  // 202'd valid votes (credentials with a known outcome)
  // Latency in microseconds.
  std::uint64_t lat_count = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, lat_max = 0;
  double lat_mean = 0;

  bool verified = false;
  bool verify_ok = false;
  std::array<std::uint64_t, 4> final_status{};  // by core::VoteStatus, after polling
  std::uint64_t polls = 0;
  std::vector<LawCount> tally_before, tally_after;
  std::vector<std::string> mismatches;

  double throughput() const { return elapsed_s > 0 ? totals.answered / elapsed_s : 0; }
  std::string ToText() const;
  nlohmann::json ToJson() const;
};

// Runs the load (and the verification when asked). Fails on what prevents a run: unreadable
// registry, unreachable target, a registry law unknown to the server (with verify). Verification
// mismatches are not failures of the call: they are in the report (verify_ok false).
core::Result<LoadReport> RunLoad(const LoadOptions& options);

}  // namespace scrutin::loadgen
