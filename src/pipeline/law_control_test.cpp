#include "pipeline/law_control.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "ports/testing/fake_law_schedule.hpp"

namespace scrutin::pipeline {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

class LawControlTest : public ::testing::Test {
 protected:
  LawControlTest() {
    now_ = *core::ParseTimestamp("2026-11-01T12:00:00.000Z");
    core::Law law;
    law.id = "L2026-001";
    law.title_fr = law.title_en = "Loi";
    law.opens_at = now_ - hours(1);
    law.closes_at = now_ + hours(1);
    ballot_ = core::Ballot({law});
  }
  LawControl Control() { return LawControl(ballot_, schedule_, [this] { return now_; }); }
  const core::Law& Law() { return *ballot_.Find("L2026-001"); }

  core::Timestamp now_;
  core::Ballot ballot_;
  ports::testing::FakeLawSchedule schedule_;
};

TEST_F(LawControlTest, CloseClosesNowAndIsAudited) {
  auto control = Control();
  auto law = control.Close("L2026-001");
  ASSERT_TRUE(law.ok()) << law.error().message;
  EXPECT_EQ(law->ClosesAt(), now_);
  EXPECT_TRUE(Law().IsClosed(now_));
  ASSERT_EQ(schedule_.audit().size(), 1u);
  EXPECT_EQ(schedule_.audit()[0].action, ports::AdminAction::kClose);
  EXPECT_EQ(schedule_.audit()[0].previous, now_ + hours(1));
  auto again = control.Close("L2026-001");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().refusal, ControlRefusal::kLawClosed);
  EXPECT_EQ(schedule_.audit().size(), 1u) << "a refused action writes nothing";
}

TEST_F(LawControlTest, ExtendOnlyMovesTheCloseLater) {
  auto control = Control();
  auto earlier = control.Extend("L2026-001", now_ + seconds(10));
  ASSERT_FALSE(earlier.ok());
  EXPECT_EQ(earlier.error().refusal, ControlRefusal::kTooEarly);
  auto later = control.Extend("L2026-001", now_ + hours(2));
  ASSERT_TRUE(later.ok()) << later.error().message;
  EXPECT_EQ(Law().ClosesAt(), now_ + hours(2));
  // A closed law reopens until its record is sealed...
  ASSERT_TRUE(control.Close("L2026-001").ok());
  now_ += seconds(30);
  auto past = control.Extend("L2026-001", now_ - seconds(1));
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().refusal, ControlRefusal::kTooEarly);
  ASSERT_TRUE(control.Extend("L2026-001", now_ + seconds(60)).ok());
  EXPECT_TRUE(Law().IsOpen(now_));
  // ...and not after.
  schedule_.mark_sealed("L2026-001");
  auto sealed = control.Extend("L2026-001", now_ + hours(5));
  ASSERT_FALSE(sealed.ok());
  EXPECT_EQ(sealed.error().refusal, ControlRefusal::kRecordSealed);
  EXPECT_EQ(Law().ClosesAt(), now_ + seconds(60)) << "a refused move changes nothing here";
}

TEST_F(LawControlTest, UnknownLawAndStoreDown) {
  auto control = Control();
  EXPECT_EQ(control.Close("L2099-001").error().refusal, ControlRefusal::kUnknownLaw);
  schedule_.set_down(true);
  auto down = control.Close("L2026-001");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().refusal, ControlRefusal::kUnavailable);
  EXPECT_TRUE(Law().IsOpen(now_)) << "nothing applied that was not written";
  EXPECT_FALSE(control.Refresh().ok());
}

TEST_F(LawControlTest, AnotherInstancesActionArrivesByRefreshAndThePoller) {
  // Instance A acts; instance B (its own ballot, the same schedule) learns it by polling.
  core::Ballot other = core::Ballot({[&] {
    core::Law l = Law();
    l.schedule = nullptr;  // B parsed laws.toml itself
    return l;
  }()});
  LawControl b(other, schedule_, [this] { return now_; });
  ASSERT_TRUE(Control().Close("L2026-001").ok());
  EXPECT_TRUE(other.Find("L2026-001")->IsOpen(now_)) << "not yet refreshed";
  SchedulePoller poller(b, std::chrono::milliseconds(20), nullptr);
  for (int i = 0; i < 200 && other.Find("L2026-001")->IsOpen(now_); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(other.Find("L2026-001")->IsClosed(now_));
}

}  // namespace
}  // namespace scrutin::pipeline
