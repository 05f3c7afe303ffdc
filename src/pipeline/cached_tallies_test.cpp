// CachedTallies: tallies are served from memory (the source is not called per read), follow the
// source at each refresh, fail once older than max_age while the source is down, and recover.
#include "pipeline/cached_tallies.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace scrutin::pipeline {
namespace {

using namespace std::chrono_literals;
using Clock = CachedTallies::Clock;

class FakeSource : public ports::VoteQueries {
 public:
  core::Result<std::optional<ports::StatusRecord>> FindStatus(const core::RequestId&) override {
    ++status_reads;
    return std::optional<ports::StatusRecord>(ports::StatusRecord{"L2026-001"});
  }
  core::Result<ports::Tally> FindTally(const std::string& law_id) override {
    ++tally_reads;
    std::lock_guard lock(mu);
    if (down) return core::Fail(std::string("postgresql: connection refused"));
    return ports::Tally{law_id, oui, non, {}};
  }
  void Set(std::uint64_t o, std::uint64_t n) {
    std::lock_guard lock(mu);
    oui = o;
    non = n;
  }
  void SetDown(bool d) {
    std::lock_guard lock(mu);
    down = d;
  }

  std::atomic<int> tally_reads{0};
  std::atomic<int> status_reads{0};

 private:
  std::mutex mu;
  bool down = false;
  std::uint64_t oui = 0;
  std::uint64_t non = 0;
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

}  // namespace
}  // namespace scrutin::pipeline
