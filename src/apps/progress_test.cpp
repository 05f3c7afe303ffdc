#include "apps/progress.hpp"

#include <gtest/gtest.h>

namespace scrutin::apps {
namespace {

TEST(ProgressBarTest, RendersBarPercentCountsRateAndEta) {
  std::string frame = ProgressBar::Render("hashing", 4'000'000, 8'000'000, "rows", 2.0, 120);
  EXPECT_NE(frame.find("hashing ["), std::string::npos) << frame;
  EXPECT_NE(frame.find(" 50%"), std::string::npos) << frame;
  EXPECT_NE(frame.find("4.0M/8.0M rows"), std::string::npos) << frame;
  EXPECT_NE(frame.find("2.0M rows/s"), std::string::npos) << frame;
  EXPECT_NE(frame.find("ETA 2.0 s"), std::string::npos) << frame;
  EXPECT_LT(frame.size(), 120u);
}

TEST(ProgressBarTest, BarKeepsItsWidthAsTextChanges) {
  auto bar_width = [](const std::string& f) { return f.find(']') - f.find('['); };
  std::string early = ProgressBar::Render("x", 1, 8'000'000, "rows", 0.001, 100);
  std::string done = ProgressBar::Render("x", 8'000'000, 8'000'000, "rows", 4.0, 100);
  EXPECT_EQ(bar_width(early), bar_width(done));
  EXPECT_NE(done.find("100%"), std::string::npos);
  EXPECT_EQ(done.find("ETA"), std::string::npos);
}

TEST(ProgressBarTest, UnknownTotalAndNarrowTerminal) {
  std::string frame = ProgressBar::Render("loading", 12345, 0, "votes", 1.0, 80);
  EXPECT_EQ(frame.find('['), std::string::npos);
  EXPECT_NE(frame.find("12.3k votes"), std::string::npos) << frame;
  EXPECT_LE(ProgressBar::Render("a-long-label", 5, 10, "units", 1.0, 30).size(), 29u);
  EXPECT_NE(ProgressBar::Render("x", 20, 10, "", 1.0, 80).find("100%"), std::string::npos);
}

TEST(ProgressBarTest, DisabledBarDrawsNothing) {
  testing::internal::CaptureStderr();
  {
    ProgressBar bar("quiet", 10, "rows", /*enabled=*/false);
    bar.Update(5);
    bar.Finish();
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(FormatDurationTest, Units) {
  EXPECT_EQ(FormatDuration(3.25), "3.2 s");
  EXPECT_EQ(FormatDuration(184), "3 min 04 s");
  EXPECT_EQ(FormatDuration(7300), "2 h 01 min");
}

}  // namespace
}  // namespace scrutin::apps
