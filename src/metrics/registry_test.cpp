#include "metrics/registry.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace scrutin::metrics {
namespace {

TEST(RegistryTest, RendersCounterGolden) {
  Registry r;
  auto& c = r.AddCounter("requests_total", "Requests served.").Get();
  c.Increment();
  c.Increment(41);
  EXPECT_EQ(r.Render(),
            "# HELP requests_total Requests served.\n"
            "# TYPE requests_total counter\n"
            "requests_total 42\n");
}

TEST(RegistryTest, RendersCounterFromSourceAsCounterGolden) {
  Registry r;
  auto& c = r.AddCounterFromSource("cpu_seconds_total", "CPU time.").Get();
  c.Set(1.25);
  EXPECT_EQ(r.Render(),
            "# HELP cpu_seconds_total CPU time.\n"
            "# TYPE cpu_seconds_total counter\n"
            "cpu_seconds_total 1.25\n");
}

TEST(RegistryTest, RendersLabelledGaugeInStableOrderGolden) {
  Registry r;
  auto& f = r.AddGauge("queue_depth", "Depth.", {"queue", "node"});
  f.WithLabels({"votes.validation", "b"}).Set(3);
  f.WithLabels({"votes.aggregation", "a"}).Set(0.25);
  f.WithLabels({"votes.validation", "b"}).Add(-1);
  EXPECT_EQ(r.Render(),
            "# HELP queue_depth Depth.\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth{queue=\"votes.aggregation\",node=\"a\"} 0.25\n"
            "queue_depth{queue=\"votes.validation\",node=\"b\"} 2\n");
}

TEST(RegistryTest, EscapesHelpAndLabelValues) {
  Registry r;
  auto& f = r.AddCounter("x_total", "Back\\slash and\nnewline \"quoted\".", {"v"});
  f.WithLabels({"a\"b\\c\nd"}).Increment();
  EXPECT_EQ(r.Render(),
            "# HELP x_total Back\\\\slash and\\nnewline \"quoted\".\n"
            "# TYPE x_total counter\n"
            "x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(RegistryTest, RendersHistogramGolden) {
  Registry r;
  auto& h =
      r.AddHistogram("lat_seconds", "Latency.", {0.1, 0.5, 1}, {"route"}).WithLabels({"vote"});
  h.Observe(0.05);
  h.Observe(0.1);  // bounds are inclusive
  h.Observe(0.3);
  h.Observe(7);
  EXPECT_EQ(r.Render(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{route=\"vote\",le=\"0.1\"} 2\n"
            "lat_seconds_bucket{route=\"vote\",le=\"0.5\"} 3\n"
            "lat_seconds_bucket{route=\"vote\",le=\"1\"} 3\n"
            "lat_seconds_bucket{route=\"vote\",le=\"+Inf\"} 4\n"
            "lat_seconds_sum{route=\"vote\"} 7.45\n"
            "lat_seconds_count{route=\"vote\"} 4\n");
}

TEST(RegistryTest, UnlabelledHistogramHasOnlyLeLabel) {
  Registry r;
  auto& h = r.AddHistogram("h", "H.", {1}).Get();
  h.Observe(2);
  EXPECT_EQ(r.Render(),
            "# HELP h H.\n# TYPE h histogram\n"
            "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 1\nh_sum 2\nh_count 1\n");
}

TEST(RegistryTest, FamiliesRenderInRegistrationOrder) {
  Registry r;
  r.AddGauge("zeta", "Z.");
  r.AddGauge("alpha", "A.");
  std::string out = r.Render();
  EXPECT_LT(out.find("zeta"), out.find("alpha"));
  // A family without any child still announces itself.
  EXPECT_NE(out.find("# TYPE alpha gauge\n"), std::string::npos);
}

TEST(RegistryTest, ValueFormatting) {
  std::string s;
  AppendValue(s, 3);
  s += ' ';
  AppendValue(s, 0.005);
  s += ' ';
  AppendValue(s, std::numeric_limits<double>::infinity());
  s += ' ';
  AppendValue(s, -std::numeric_limits<double>::infinity());
  s += ' ';
  AppendValue(s, std::nan(""));
  s += ' ';
  AppendValue(s, 1e21);
  EXPECT_EQ(s, "3 0.005 +Inf -Inf NaN 1e+21");
}

TEST(RegistryTest, RejectsBadNamesAndDuplicates) {
  Registry r;
  EXPECT_THROW(r.AddCounter("1abc", "x"), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("a-b", "x"), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("", "x"), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("ok_total", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("ok_total", "x", {"bad-label"}), std::invalid_argument);
  EXPECT_THROW(r.AddHistogram("h", "x", {1, 2}, {"le"}), std::invalid_argument);
  EXPECT_THROW(r.AddHistogram("h", "x", {2, 1}), std::invalid_argument);
  EXPECT_THROW(r.AddHistogram("h", "x", {}), std::invalid_argument);
  EXPECT_THROW(r.AddHistogram("h", "x", {1, std::numeric_limits<double>::infinity()}),
               std::invalid_argument);
  r.AddCounter("ns:ok_total", "x", {"a"});
  EXPECT_THROW(r.AddGauge("ns:ok_total", "x"), std::invalid_argument);
}

TEST(RegistryTest, CardinalityIsBoundedByOverflowChild) {
  Registry r;
  auto& f = r.AddCounter("c_total", "C.", {"law_id"}, 2);
  f.WithLabels({"A"}).Increment();
  f.WithLabels({"B"}).Increment();
  f.WithLabels({"C"}).Increment();
  f.WithLabels({"D"}).Increment(2);
  f.WithLabels({"A"}).Increment();  // existing children keep working
  EXPECT_EQ(&f.WithLabels({"C"}), &f.WithLabels({"E"}));
  EXPECT_EQ(r.Render(),
            "# HELP c_total C.\n# TYPE c_total counter\n"
            "c_total{law_id=\"A\"} 2\n"
            "c_total{law_id=\"B\"} 1\n"
            "c_total{law_id=\"_overflow\"} 3\n");
}

TEST(RegistryTest, ChildReferencesAreStable) {
  Registry r;
  auto& f = r.AddCounter("c_total", "C.", {"k"});
  Counter& first = f.WithLabels({"x"});
  for (int i = 0; i < 200; ++i) f.WithLabels({std::to_string(i)});
  EXPECT_EQ(&first, &f.WithLabels({"x"}));
}

TEST(RegistryTest, CollectorsRunBeforeRenderAndCanBeRemoved) {
  Registry r;
  auto& g = r.AddGauge("depth", "D.").Get();
  int calls = 0;
  auto id = r.AddCollector([&] { g.Set(++calls * 10); });
  EXPECT_NE(r.Render().find("depth 10\n"), std::string::npos);
  EXPECT_NE(r.Render().find("depth 20\n"), std::string::npos);
  r.RemoveCollector(id);
  EXPECT_NE(r.Render().find("depth 20\n"), std::string::npos);
  EXPECT_EQ(calls, 2);
}

TEST(RegistryTest, ConcurrentIncrementsAreAllCounted) {
  Registry r;
  auto& fam = r.AddCounter("c_total", "C.", {"t"});
  auto& h = r.AddHistogram("h", "H.", {0.5}).Get();
  auto& g = r.AddGauge("g", "G.").Get();
  constexpr int kThreads = 4;
  constexpr int kIters = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter& shared = fam.WithLabels({"shared"});
      for (int i = 0; i < kIters; ++i) {
        shared.Increment();
        h.Observe(i % 2 == 0 ? 0.25 : 1.0);
        g.Add(1);
        if (i % 1000 == 0) (void)r.Render();  // scrapes while writers run
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fam.WithLabels({"shared"}).Value(), std::uint64_t{kThreads} * kIters);
  auto s = h.Collect();
  EXPECT_EQ(s.count, std::uint64_t{kThreads} * kIters);
  EXPECT_EQ(s.cumulative[0], std::uint64_t{kThreads} * kIters / 2);
  EXPECT_DOUBLE_EQ(s.sum, kThreads * (kIters / 2) * 1.25);
  EXPECT_DOUBLE_EQ(g.Value(), kThreads * kIters);
}

}  // namespace
}  // namespace scrutin::metrics
