#include "metrics/vote_metrics.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace scrutin::metrics {
namespace {

TEST(RateWindowTest, AveragesCompleteSecondsOnly) {
  RateWindow w(10);
  for (int i = 0; i < 50; ++i) w.Record(1000);
  for (int i = 0; i < 30; ++i) w.Record(1001);
  w.Record(1002, 1000);  // the current second is not reported yet
  EXPECT_DOUBLE_EQ(w.Rate(1002), 8.0);
  EXPECT_DOUBLE_EQ(w.Rate(1003), 108.0);
  // 1000 leaves the window at 1011 (window = [now-10, now-1]).
  EXPECT_DOUBLE_EQ(w.Rate(1010), 108.0);
  EXPECT_DOUBLE_EQ(w.Rate(1011), 103.0);
  EXPECT_DOUBLE_EQ(w.Rate(1013), 0.0);
}

TEST(RateWindowTest, SlotsAreReusedAfterWrapAround) {
  RateWindow w(5);
  w.Record(100, 7);
  // Same slot index, a minute later: the stale count must not leak into the new second.
  w.Record(100 + RateWindow::kMaxWindow + 1, 2);
  EXPECT_DOUBLE_EQ(w.Rate(100 + RateWindow::kMaxWindow + 2), 2.0 / 5);
}

TEST(RateWindowTest, ConcurrentRecordsAreAllCounted) {
  RateWindow w(1);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50000; ++i) w.Record(7);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_DOUBLE_EQ(w.Rate(8), 200000.0);
}

TEST(VoteMetricsTest, RegistersTheRequiredSeries) {
  Registry r;
  VoteMetrics m(r);
  m.votes_accepted.Increment();
  m.votes_by_law.WithLabels({"L2025-001", "oui"}).Set(3);
  m.api_request_duration.WithLabels({"vote", "202"}).Observe(0.002);
  std::string out = r.Render();
  for (const char* s :
       {"# TYPE votes_submitted_total counter\n", "votes_validated_total{status=\"accepted\"} 1\n",
        "votes_validated_total{status=\"duplicate\"} 0\n",
        "votes_validated_total{status=\"invalid\"} 0\n", "# TYPE votes_per_second gauge\n",
        "# TYPE validation_latency_seconds histogram\n",
        "api_request_duration_seconds_count{route=\"vote\",code=\"202\"} 1\n",
        "# TYPE duplicate_attempts_total counter\n",
        "votes_by_law{law_id=\"L2025-001\",choice=\"oui\"} 3\n"}) {
    EXPECT_NE(out.find(s), std::string::npos) << s;
  }
}

TEST(VoteMetricsTest, SubmittedFeedsCounterAndRate) {
  Registry r;
  VoteMetrics m(r, 2);
  auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(5000));
  for (int i = 0; i < 6; ++i) m.RecordSubmitted(t0);
  m.RefreshRate(t0 + std::chrono::seconds(1));
  EXPECT_EQ(m.votes_submitted.Value(), 6u);
  EXPECT_DOUBLE_EQ(m.votes_per_second.Value(), 3.0);
}

TEST(VoteMetricsTest, RecordDecisionCountsFinalDecisionsAndTheirLatency) {
  Registry r;
  VoteMetrics m(r);
  m.RecordDecision(core::VoteStatus::kAccepted, 0.010);
  m.RecordDecision(core::VoteStatus::kAccepted, 0.020);
  m.RecordDecision(core::VoteStatus::kDuplicate, 0.030);
  m.RecordDecision(core::VoteStatus::kInvalid, 0.040);
  EXPECT_EQ(m.votes_accepted.Value(), 2u);
  EXPECT_EQ(m.votes_duplicate.Value(), 1u);
  EXPECT_EQ(m.duplicate_attempts.Value(), 1u);
  EXPECT_EQ(m.votes_invalid.Value(), 1u);
  auto latency = m.validation_latency.Collect();
  EXPECT_EQ(latency.count, 4u);
  EXPECT_NEAR(latency.sum, 0.100, 1e-9);
}

TEST(VoteMetricsTest, RecordDecisionOfAPendingVoteRecordsNothing) {
  Registry r;
  VoteMetrics m(r);
  m.RecordDecision(core::VoteStatus::kPending, 0.5);
  EXPECT_EQ(m.votes_accepted.Value(), 0u);
  EXPECT_EQ(m.votes_duplicate.Value(), 0u);
  EXPECT_EQ(m.votes_invalid.Value(), 0u);
  EXPECT_EQ(m.duplicate_attempts.Value(), 0u);
  EXPECT_EQ(m.validation_latency.Collect().count, 0u);
}

TEST(VoteMetricsTest, CollectorIsRemovedWithTheMetrics) {
  Registry r;
  { VoteMetrics m(r); }
  // Would call into a destroyed object if the collector were left behind.
  EXPECT_NE(r.Render().find("votes_per_second"), std::string::npos);
}

}  // namespace
}  // namespace scrutin::metrics
