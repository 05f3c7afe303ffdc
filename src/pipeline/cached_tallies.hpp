// CachedTallies: a VoteQueries whose tallies are answered from memory and refreshed from another
// VoteQueries (PostgreSQL, in the distributed api) by a thread of its own. A results request (and
// a /metrics scrape, which reads the same tallies) then never waits on the backend: a flood of
// GET /api/v1/results costs PostgreSQL nothing, and a slow or stopped PostgreSQL slows no HTTP
// thread down.
//
// Freshness bound: every law is re-read every refresh_period (default 20 ms; one FindTallies, i.e.
// one query, a round: ~50 small reads a second per api, whatever the GET load). A law's tally is
// served while its last successful read is at most max_age old (default 5 s); past that FindTally
// fails (the API answers 503 + Retry-After) rather than serve a number that may be far behind the
// count. A served tally is therefore at most max_age (plus one read) behind the store; once the
// backend answers again the next round makes it fresh.
//
// Fresh reads (ReadFresh, what GET /api/v1/results uses): the caller is answered, later and from
// another thread, with a value read by a round that started after its call, so a result reflects
// every vote counted before the request, as a direct read would. Such reads are coalesced: a round
// starts as soon as someone waits (at most one every min_interval), and one round, one query,
// answers every waiter, so a flood of reads costs PostgreSQL at most one query per min_interval.
// A waiter no round answers within fresh_wait (PostgreSQL slow or stalled) gets FindTally's answer:
// the cached value within max_age, else the error. At most max_waiters wait; beyond, a caller is
// answered at once, from the cache, on its own thread.
//
// Statuses are not cached: FindStatus forwards to the source.
//
// Thread-safety: FindTally and FindStatus are thread-safe. Start and Stop are called by the owner.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/mutex.hpp"
#include "ports/vote_queries.hpp"

namespace scrutin::pipeline {

struct CachedTalliesOptions {
  std::chrono::milliseconds refresh_period{20};
  std::chrono::milliseconds max_age{5000};
  // The time freshness is measured with; empty: the steady clock. (Tests move it by hand.)
  std::function<std::chrono::steady_clock::time_point()> clock;
  // ReadFresh: how long a waiter waits for a round; the least time between two rounds' starts;
  // how many may wait at once.
  std::chrono::milliseconds fresh_wait{250};
  std::chrono::milliseconds min_interval{5};
  std::size_t max_waiters = 4096;
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
  // Stops the refresh threads (waits for a read in progress to end; answers every waiter from the
  // cache). Idempotent.
  void Stop();

  using TallyCallback = std::function<void(core::Result<ports::Tally>)>;
  // Calls `done` exactly once with the law's tally as read by a round that starts after this call,
  // or, past fresh_wait, with FindTally(law_id)'s answer. Never blocks: `done` runs on one of the
  // cache's threads (on the caller's own when max_waiters wait, or after Stop). Thread-safe.
  // REQUIRES: Start() was called (else every call is answered from the cache at once).
  void ReadFresh(const std::string& law_id, TallyCallback done);

  // One refresh round on the calling thread: every law read from the source in one FindTallies;
  // when it fails every law keeps its previous value (and age). Used by Start and the refresh
  // thread; public for tests, which drive the cache without its thread.
  void RefreshOnce();

  // From the source. Thread-safe if the source is.
  core::Result<std::optional<ports::StatusRecord>> FindStatus(const core::RequestId& id) override;
  core::Result<std::optional<std::string>> FindReceipt(const std::string& receipt) override;
  // Records are not cached here (the api keeps sealed ones: they never change); forwarded.
  core::Result<std::optional<core::PublishedRecord>> FindRecord(
      const std::string& law_id) override;

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
  struct Waiter {
    std::string law_id;
    TallyCallback done;
    std::uint64_t round;  // answered by the end of this round (or later)
    Clock::time_point deadline;
  };
  Clock::time_point Now() const;
  void Loop();
  void ExpireLoop();
  // Answers `waiters` from the cache (outside the lock).
  void AnswerFromCache(std::vector<Waiter>& waiters);

  ports::VoteQueries& source_;
  const std::vector<std::string> law_ids_;
  const Options options_;
  mutable core::Mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_ GUARDED_BY(mu_);  // keys fixed at start
  core::CondVar cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool started_ GUARDED_BY(mu_) = false;
  std::uint64_t rounds_begun_ GUARDED_BY(mu_) = 0;
  std::vector<Waiter> waiters_ GUARDED_BY(mu_);
  std::thread thread_;
  std::thread expire_thread_;  // answers the waiters a stalled round leaves waiting
};

}  // namespace scrutin::pipeline
