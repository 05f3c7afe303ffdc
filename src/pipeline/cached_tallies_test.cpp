// CachedTallies: tallies are served from memory (the source is not called per read), follow the
// source at each refresh, fail once older than max_age while the source is down, and recover.
#include "pipeline/cached_tallies.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/mutex.hpp"
#include "ports/testing/fake_vote_queries.hpp"

namespace scrutin::pipeline {
namespace {

using namespace std::chrono_literals;
using Clock = CachedTallies::Clock;

// The backend: the shared fake queries, counting their reads.
class FakeSource : public ports::testing::FakeVoteQueries {
 public:
  // The tally of the one law these tests ask for.
  void Set(std::uint64_t oui, std::uint64_t non) { SetTally({"L2026-001", oui, non, {}}); }
  void SetDown(bool down) { FakeVoteQueries::SetDown(down, "postgresql: connection refused"); }
};

class CachedTalliesTest : public ::testing::Test {
 protected:
  CachedTallies::Options Manual() {
    return {.refresh_period = 500ms, .max_age = 5s, .clock = [this] { return now_.load(); }};
  }
  void Advance(std::chrono::milliseconds d) { now_ = now_.load() + d; }

  FakeSource source_;
  std::atomic<Clock::time_point> now_{Clock::time_point(100s)};
};

TEST_F(CachedTalliesTest, ServesTheLastReadValueWithoutCallingTheSource) {
  CachedTallies cache(source_, {"L2026-001", "L2026-002"}, Manual());
  source_.Set(5, 3);
  cache.RefreshOnce();
  EXPECT_EQ(source_.tally_reads.load(), 2);
  for (int i = 0; i < 1000; ++i) {
    auto t = cache.FindTally("L2026-001");
    ASSERT_TRUE(t.ok()) << t.error();
    EXPECT_EQ(t->oui, 5u);
    EXPECT_EQ(t->non, 3u);
    EXPECT_EQ(t->law_id, "L2026-001");
  }
  EXPECT_EQ(source_.tally_reads.load(), 2) << "a read must never reach the backend";

  // The next refresh brings the new count.
  source_.Set(6, 3);
  cache.RefreshOnce();
  EXPECT_EQ(cache.FindTally("L2026-001")->oui, 6u);
}

// Receipts are not cached: each lookup reads the source (the api calls it on its lookup pool).
TEST_F(CachedTalliesTest, ReceiptsComeFromTheSource) {
  CachedTallies cache(source_, {"L2026-001"}, Manual());
  source_.AddReceipt("7K3M-Q9ZD-0R2A-4XVB", "L2026-001");
  auto found = cache.FindReceipt("7K3M-Q9ZD-0R2A-4XVB");
  ASSERT_TRUE(found.ok()) << found.error();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, "L2026-001");
  auto missing = cache.FindReceipt("7K3M-Q9ZD-0R2A-4XVC");
  ASSERT_TRUE(missing.ok()) << missing.error();
  EXPECT_FALSE(missing->has_value());
  source_.SetDown(true);
  EXPECT_FALSE(cache.FindReceipt("7K3M-Q9ZD-0R2A-4XVB").ok());
}

TEST_F(CachedTalliesTest, UnknownOrNeverReadLawsAreErrors) {
  CachedTallies cache(source_, {"L2026-001"}, Manual());
  EXPECT_FALSE(cache.FindTally("L2026-001").ok()) << "not read yet";
  cache.RefreshOnce();
  EXPECT_TRUE(cache.FindTally("L2026-001").ok());
  EXPECT_FALSE(cache.FindTally("Z9999-999").ok());
}

TEST_F(CachedTalliesTest, GoesStaleAfterMaxAgeThenRecovers) {
  CachedTallies cache(source_, {"L2026-001"}, Manual());
  source_.Set(7, 1);
  cache.RefreshOnce();

  // The backend goes down: the last value is served while it is at most max_age old...
  source_.SetDown(true);
  for (int i = 0; i < 10; ++i) {
    Advance(500ms);
    cache.RefreshOnce();
    auto t = cache.FindTally("L2026-001");
    ASSERT_TRUE(t.ok()) << "at " << (i + 1) * 500 << " ms: " << t.error();
    EXPECT_EQ(t->oui, 7u);
  }
  // ... and never past it: an error saying how old it is and why.
  Advance(1ms);
  cache.RefreshOnce();
  auto stale = cache.FindTally("L2026-001");
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.error().find("ms ago"), std::string::npos) << stale.error();
  EXPECT_NE(stale.error().find("connection refused"), std::string::npos) << stale.error();

  // The backend is back: the next refresh serves the current count again.
  source_.SetDown(false);
  source_.Set(9, 2);
  Advance(10s);
  cache.RefreshOnce();
  auto back = cache.FindTally("L2026-001");
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->oui, 9u);
  EXPECT_EQ(back->non, 2u);
}

TEST_F(CachedTalliesTest, StatusesAreNotCached) {
  CachedTallies cache(source_, {"L2026-001"}, Manual());
  auto id = core::RequestId::Generate();
  EXPECT_TRUE(cache.FindStatus(id).ok());
  EXPECT_TRUE(cache.FindStatus(id).ok());
  EXPECT_EQ(source_.status_reads.load(), 2);
}

TEST_F(CachedTalliesTest, ItsThreadRefreshesInTheBackground) {
  CachedTallies cache(source_, {"L2026-001"}, {.refresh_period = 10ms, .max_age = 5s, .clock = {}});
  source_.Set(1, 0);
  cache.Start();
  EXPECT_EQ(cache.FindTally("L2026-001")->oui, 1u) << "Start reads every law once";
  source_.Set(2, 0);
  const auto deadline = Clock::now() + 5s;
  while (cache.FindTally("L2026-001")->oui != 2u && Clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(cache.FindTally("L2026-001")->oui, 2u);
  cache.Stop();
  cache.Stop();  // idempotent
}

// ReadFresh's answers, collected from the cache's threads.
class Answers {
 public:
  CachedTallies::TallyCallback Callback() {
    return [this](core::Result<ports::Tally> t) {
      core::MutexLock lock(mu_);
      got_.push_back(std::move(t));
      cv_.NotifyAll();
    };
  }
  // Waits for n answers (5 s at most); returns them.
  std::vector<core::Result<ports::Tally>> Wait(std::size_t n) {
    core::MutexLock lock(mu_);
    cv_.WaitFor(lock, 5s, [&]() REQUIRES(mu_) { return got_.size() >= n; });
    return got_;
  }

 private:
  core::Mutex mu_;
  core::CondVar cv_;
  std::vector<core::Result<ports::Tally>> got_;
};

TEST_F(CachedTalliesTest, FreshReadsSeeEveryVoteCountedBeforeThem) {
  // A long period: only a fresh read can see the new count.
  CachedTallies cache(source_, {"L2026-001"},
                      {.refresh_period = 1h, .max_age = 2h, .clock = {}, .fresh_wait = 5s});
  source_.Set(1, 0);
  cache.Start();
  source_.Set(2, 1);
  EXPECT_EQ(cache.FindTally("L2026-001")->oui, 1u) << "the cache alone is a period behind";
  Answers answers;
  cache.ReadFresh("L2026-001", answers.Callback());
  auto got = answers.Wait(1);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].ok()) << got[0].error();
  EXPECT_EQ(got[0]->oui, 2u);
  EXPECT_EQ(got[0]->non, 1u);
  EXPECT_EQ(cache.FindTally("L2026-001")->oui, 2u) << "the round refreshed the cache too";
}

TEST_F(CachedTalliesTest, AFloodOfFreshReadsIsCoalesced) {
  CachedTallies cache(
      source_, {"L2026-001", "L2026-002"},
      {.refresh_period = 1h, .max_age = 2h, .clock = {}, .fresh_wait = 5s, .min_interval = 20ms});
  cache.Start();
  const int before = source_.tally_reads.load();
  Answers answers;
  const auto t0 = Clock::now();
  for (int i = 0; i < 1000; ++i) {
    cache.ReadFresh(i % 2 ? "L2026-001" : "L2026-002", answers.Callback());
  }
  auto got = answers.Wait(1000);
  ASSERT_EQ(got.size(), 1000u);
  for (const auto& t : got) EXPECT_TRUE(t.ok());
  // 1000 readers within a few rounds: a handful of reads (two laws a round), not 1000.
  const int rounds = (source_.tally_reads.load() - before) / 2;
  const int bound = 2 + static_cast<int>((Clock::now() - t0) / 20ms);
  EXPECT_LE(rounds, bound);
}

TEST_F(CachedTalliesTest, AFreshReadTheStoreDoesNotAnswerGetsTheCacheInTime) {
  CachedTallies cache(source_, {"L2026-001"},
                      {.refresh_period = 1h, .max_age = 2h, .clock = {}, .fresh_wait = 100ms});
  source_.Set(4, 4);
  cache.Start();
  source_.SetDown(true);  // every read fails: no round answers with a new value
  Answers answers;
  const auto t0 = Clock::now();
  cache.ReadFresh("L2026-001", answers.Callback());
  auto got = answers.Wait(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_LT(Clock::now() - t0, 2s);
  ASSERT_TRUE(got[0].ok()) << "within max_age the cached value is the answer";
  EXPECT_EQ(got[0]->oui, 4u);
  cache.Stop();
  // After Stop a fresh read is answered at once, from the cache.
  Answers after;
  cache.ReadFresh("L2026-001", after.Callback());
  EXPECT_EQ(after.Wait(1).size(), 1u);
}

}  // namespace
}  // namespace scrutin::pipeline
