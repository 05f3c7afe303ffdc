// HealthMonitor: checks are read from memory, follow the probes, and a probe that hangs is
// reported failing within its bound while the other probes keep reporting.
#include "pipeline/health_monitor.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/mutex.hpp"

namespace scrutin::pipeline {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const ports::HealthCheck* Find(const std::vector<ports::HealthCheck>& checks,
                               std::string_view name) {
  for (const auto& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// Polls until `pred(checks)` holds or 5 s pass.
template <typename Pred>
std::vector<ports::HealthCheck> WaitFor(const HealthMonitor& m, Pred pred) {
  const auto deadline = Clock::now() + 5s;
  auto checks = m.Checks();
  while (!pred(checks) && Clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
    checks = m.Checks();
  }
  return checks;
}

TEST(HealthMonitorTest, ReportsWhatTheProbesSayWithoutCallingThem) {
  std::atomic<bool> store_ok{true};
  std::atomic<int> calls{0};
  HealthMonitor m({{"queue",
                    [] {
                      return std::vector<ports::HealthCheck>{{"queue", true, "ok"}};
                    }},
                   {"store",
                    [&] {
                      ++calls;
                      return std::vector<ports::HealthCheck>{
                          {"store", store_ok.load(), store_ok ? "ok" : "redis: refused"}};
                    }}},
                  {.period = 10ms, .stale_after = 2s, .first_wait = 3s});
  m.Start();  // waits for the first answers
  auto checks = m.Checks();
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].name, "queue");
  EXPECT_TRUE(checks[0].ok);
  EXPECT_TRUE(checks[1].ok);

  store_ok = false;
  checks = WaitFor(m, [](const auto& c) { return !Find(c, "store")->ok; });
  EXPECT_FALSE(Find(checks, "store")->ok);
  EXPECT_EQ(Find(checks, "store")->detail, "redis: refused");
  EXPECT_TRUE(Find(checks, "queue")->ok);

  store_ok = true;
  checks = WaitFor(m, [](const auto& c) { return Find(c, "store")->ok; });
  EXPECT_TRUE(Find(checks, "store")->ok);

  // Reading the checks never runs a probe.
  m.Stop();
  const int before = calls.load();
  for (int i = 0; i < 100; ++i) (void)m.Checks();
  EXPECT_EQ(calls.load(), before);
}

TEST(HealthMonitorTest, AHungProbeIsFailingWithinItsBoundAndHoldsNoOneUp) {
  core::Mutex mu;
  core::CondVar cv;
  bool hang = false;
  bool release = false;
  HealthMonitor m({{"results",
                    [&] {
                      core::MutexLock lock(mu);
                      if (hang) cv.Wait(lock, [&]() REQUIRES(mu) { return release; });
                      return std::vector<ports::HealthCheck>{{"results", true, "ok"}};
                    }},
                   {"store",
                    [] {
                      return std::vector<ports::HealthCheck>{{"store", true, "ok"}};
                    }}},
                  {.period = 10ms, .stale_after = 100ms, .first_wait = 3s});
  m.Start();
  EXPECT_TRUE(Find(m.Checks(), "results")->ok);

  {
    core::MutexLock lock(mu);
    hang = true;  // the backend stops answering: the next probe blocks
  }
  const auto t0 = Clock::now();
  auto checks = WaitFor(m, [](const auto& c) { return !Find(c, "results")->ok; });
  EXPECT_FALSE(Find(checks, "results")->ok);
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_NE(Find(checks, "results")->detail.find("no answer"), std::string::npos);
  EXPECT_TRUE(Find(checks, "store")->ok) << "the other probe keeps reporting";

  {
    core::MutexLock lock(mu);
    hang = false;
    release = true;
  }
  cv.NotifyAll();
  checks = WaitFor(m, [](const auto& c) { return Find(c, "results")->ok; });
  EXPECT_TRUE(Find(checks, "results")->ok);
  m.Stop();
}

TEST(HealthMonitorTest, LocalProbesAreRunWhenTheChecksAreRead) {
  std::atomic<bool> up{true};
  std::atomic<int> calls{0};
  HealthMonitor m(
      {{"queue",
        [&] {
          ++calls;
          return std::vector<ports::HealthCheck>{{"queue", up.load(), up ? "ok" : "down"}};
        },
        /*local=*/true},
       {"store",
        [] {
          return std::vector<ports::HealthCheck>{{"store", true, "ok"}};
        }}},
      {.period = 1h, .stale_after = 2s, .first_wait = 3s});
  m.Start();
  EXPECT_EQ(calls.load(), 0) << "a local probe has no thread";
  auto checks = m.Checks();
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].name, "queue");
  EXPECT_TRUE(checks[0].ok);
  up = false;  // seen at once, not a period later
  EXPECT_FALSE(m.Checks()[0].ok);
  EXPECT_TRUE(m.Checks()[1].ok);
  m.Stop();
}

TEST(HealthMonitorTest, NeverAnsweredIsFailing) {
  core::Mutex mu;
  core::CondVar cv;
  bool release = false;
  HealthMonitor m({{"results",
                    [&] {
                      core::MutexLock lock(mu);
                      cv.Wait(lock, [&]() REQUIRES(mu) { return release; });
                      return std::vector<ports::HealthCheck>{{"results", true, "ok"}};
                    }}},
                  {.period = 10ms, .stale_after = 50ms, .first_wait = 20ms});
  m.Start();  // gives up waiting after first_wait
  auto checks = m.Checks();
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].name, "results");
  EXPECT_FALSE(checks[0].ok);
  {
    core::MutexLock lock(mu);
    release = true;
  }
  cv.NotifyAll();
  m.Stop();
}

}  // namespace
}  // namespace scrutin::pipeline
