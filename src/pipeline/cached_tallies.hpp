// CachedTallies: a VoteQueries whose tallies are answered from memory and refreshed from another
// VoteQueries (PostgreSQL, in the distributed api) by a thread of its own. A results request (and
// a /metrics scrape, which reads the same tallies) then never waits on the backend: a flood of
// GET /api/v1/results costs PostgreSQL nothing, and a slow or stopped PostgreSQL slows no HTTP
// thread down.
//
// Freshness bound: every law is re-read every refresh_period (default 100 ms). A law's tally is
// served while its last successful read is at most max_age old (default 5 s); past that FindTally
// fails (the API answers 503 + Retry-After) rather than serve a number that may be far behind the
// count. A served tally is therefore at most max_age (plus one read) behind the store; once the
// backend answers again the next round makes it fresh.
//
// Statuses are not cached: FindStatus forwards to the source.
//
// Thread-safety: FindTally and FindStatus are thread-safe. Start and Stop are called by the owner.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ports/vote_queries.hpp"

namespace scrutin::pipeline {

struct CachedTalliesOptions {
  std::chrono::milliseconds refresh_period{100};
  std::chrono::milliseconds max_age{5000};
  // The time freshness is measured with; empty: the steady clock. (Tests move it by hand.)
  std::function<std::chrono::steady_clock::time_point()> clock;
};

class CachedTallies final : public ports::VoteQueries {
 public:
  using Clock = std::chrono::steady_clock;
  using Options = CachedTalliesOptions;

  // `source` must outlive this object. `law_ids`: the laws whose tallies are kept (the ballot);
  // FindTally fails for any other.
  CachedTallies(ports::VoteQueries& source, std::vector<std::string> law_ids, Options options = {});
  // Stop().
  ~CachedTallies() override;
  CachedTallies(const CachedTallies&) = delete;
  CachedTallies& operator=(const CachedTallies&) = delete;

  // Reads every law once on the calling thread (so the first requests find a value), then starts
  // the refresh thread. Call once.
  void Start();
  // Stops the refresh thread (waits for a read in progress to end). Idempotent.
  void Stop();

  // One refresh round on the calling thread: every law read from the source once; a law whose read
  // fails keeps its previous value (and age). Used by Start and the refresh thread; public for
  // tests, which drive the cache without its thread.
  void RefreshOnce();

  // From the source. Thread-safe if the source is.
  core::Result<std::optional<ports::StatusRecord>> FindStatus(const core::RequestId& id) override;

  // The last tally read for the law. Error when the law is not one of law_ids, was never read, or
  // its last successful read is older than max_age (the error says how old). Never touches the
  // source. Thread-safe.
  core::Result<ports::Tally> FindTally(const std::string& law_id) override;

 private:
  struct Entry {
    ports::Tally tally;
    Clock::time_point read_at{};
    bool valid = false;
    std::string last_error;  // of the last failed read since the last success
  };
  Clock::time_point Now() const;
  void Loop();

  ports::VoteQueries& source_;
  const std::vector<std::string> law_ids_;
  const Options options_;
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;  // GUARDED_BY(mu_); keys fixed at start
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace scrutin::pipeline
