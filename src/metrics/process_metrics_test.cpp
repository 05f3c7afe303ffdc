#include "metrics/process_metrics.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "metrics/vote_metrics.hpp"

namespace scrutin::metrics {
namespace {

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The value of an unlabelled sample `name` in an exposition, or -1.
double SampleValue(const std::string& text, const std::string& name) {
  const std::string key = "\n" + name + " ";
  auto pos = text.find(key);
  if (pos == std::string::npos) return -1;
  return std::stod(text.substr(pos + key.size()));
}

TEST(ParseProcStatTest, ReadsTheFieldsAfterTheCommandName) {
  // A command name with spaces and a ')' in it: fields are counted from the last ')'.
  const std::string stat =
      "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 1234 0 5 0 "
      "150 75 0 0 20 0 9 0 123456 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 "
      "4096 0 0 0 0 17 3 0 0 0 0 0\n";
  auto s = ParseProcStat(stat);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->utime_ticks, 150u);
  EXPECT_EQ(s->stime_ticks, 75u);
  EXPECT_EQ(s->start_ticks, 123456u);
  EXPECT_EQ(s->vsize_bytes, 987654321u);
  EXPECT_EQ(s->rss_pages, 2048);
}

TEST(ParseProcStatTest, RefusesTruncatedOrMalformedContent) {
  EXPECT_FALSE(ParseProcStat("").has_value());
  EXPECT_FALSE(ParseProcStat("1 (x) S 1 2 3").has_value());
  EXPECT_FALSE(ParseProcStat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 75 0 0 20 0 9 0 1 2 3").has_value());
}

TEST(ParseBootTimeTest, FindsTheBtimeLine) {
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"), 1700000000);
  EXPECT_FALSE(ParseBootTime("cpu  1 2 3\n").has_value());
  EXPECT_FALSE(ParseBootTime("btime x\n").has_value());
}

TEST(ReadProcessStatsTest, ValuesArePlausibleForThisProcess) {
  auto s = ReadProcessStats();
  ASSERT_TRUE(s.has_value()) << "/proc/self/stat unreadable";
  EXPECT_GT(s->resident_memory_bytes, 0);
  EXPECT_GE(s->virtual_memory_bytes, s->resident_memory_bytes);
  const double now = NowSeconds();
  // Started within the last hour, and not in the future (clock ticks round: allow 2 s).
  EXPECT_LE(s->start_time_seconds, now + 2);
  EXPECT_GT(s->start_time_seconds, now - 3600);
  EXPECT_GE(s->cpu_seconds, 0);
  EXPECT_GE(s->open_fds, 3);  // stdin, stdout, stderr (and the listing's own)
  EXPECT_GE(s->max_fds, s->open_fds);
}

TEST(ReadProcessStatsTest, CpuNeverDecreasesAndCountsWork) {
  auto before = ReadProcessStats();
  ASSERT_TRUE(before.has_value());
  // Burn some CPU: ~0.2 s of user time, so at least one clock tick shows.
  volatile std::uint64_t x = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  while (std::chrono::steady_clock::now() < until) {
    for (int i = 0; i < 10000; ++i) x = x + static_cast<std::uint64_t>(i);
  }
  auto after = ReadProcessStats();
  ASSERT_TRUE(after.has_value());
  EXPECT_GE(after->cpu_seconds, before->cpu_seconds);
  EXPECT_GT(after->cpu_seconds, before->cpu_seconds + 0.05);
}

TEST(ReadProcessStatsTest, OpenFdsFollowsOpenAndClose) {
  auto before = ReadProcessStats();
  ASSERT_TRUE(before.has_value());
  int fds[8];
  for (int& fd : fds) {
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
  }
  auto during = ReadProcessStats();
  for (int fd : fds) close(fd);
  ASSERT_TRUE(during.has_value());
  EXPECT_EQ(during->open_fds, before->open_fds + 8);
}

TEST(ProcessMetricsTest, RendersTheStandardSeriesRefreshedAtScrape) {
  Registry r;
  ProcessMetrics m(r);
  const std::string first = r.Render();
  for (const char* s : {"# TYPE process_cpu_seconds_total counter\n",
                        "# TYPE process_resident_memory_bytes gauge\n",
                        "# TYPE process_virtual_memory_bytes gauge\n",
                        "# TYPE process_start_time_seconds gauge\n",
                        "# TYPE process_open_fds gauge\n", "# TYPE process_max_fds gauge\n"}) {
    EXPECT_NE(first.find(s), std::string::npos) << s;
  }
  EXPECT_GT(SampleValue(first, "process_resident_memory_bytes"), 0);
  EXPECT_GT(SampleValue(first, "process_max_fds"), 0);
  const double start = SampleValue(first, "process_start_time_seconds");
  EXPECT_GT(start, NowSeconds() - 3600);
  // A descriptor opened between two scrapes shows in the second: the collector ran.
  const double fds = SampleValue(first, "process_open_fds");
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const std::string second = r.Render();
  close(fd);
  EXPECT_EQ(SampleValue(second, "process_open_fds"), fds + 1);
  EXPECT_GE(SampleValue(second, "process_cpu_seconds_total"),
            SampleValue(first, "process_cpu_seconds_total"));
  EXPECT_EQ(SampleValue(second, "process_start_time_seconds"), start);
}

TEST(ProcessMetricsTest, CollectorIsRemovedWithIt) {
  Registry r;
  {
    ProcessMetrics m(r);
  }
  (void)r.Render();  // must not call into the destroyed collector (ASan would tell)
  EXPECT_THROW(ProcessMetrics again(r), std::invalid_argument);  // the series stay registered
}

TEST(ProcessMetricsTest, EveryVoteMetricsRegistersThem) {
  // Every scrutin process creates one VoteMetrics: that is what gives each its process series.
  Registry r;
  VoteMetrics m(r);
  const std::string out = r.Render();
  EXPECT_NE(out.find("\nprocess_cpu_seconds_total "), std::string::npos);
  EXPECT_NE(out.find("\nprocess_start_time_seconds "), std::string::npos);
  EXPECT_NE(out.find("\nvotes_submitted_total "), std::string::npos);
}

}  // namespace
}  // namespace scrutin::metrics
