#include "pipeline/mixer.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "core/request_id.hpp"
#include "ports/testing/contract_votes.hpp"
#include "ports/testing/fake_vote_recorder.hpp"

namespace scrutin::pipeline {
namespace {

using core::Choice;
using core::VoteStatus;
using std::chrono::hours;
using std::chrono::seconds;

constexpr const char* kLaw = "L2026-001";

class MixerTest : public ::testing::Test {
 protected:
  MixerTest() : box_({kLaw}) {
    core::Law law;
    law.id = kLaw;
    law.title_fr = law.title_en = "Loi";
    law.opens_at = now_ - hours(1);
    law.closes_at = now_ + hours(1);
    ballot_ = core::Ballot({law});
  }

  // Records n accepted votes, the first `oui` of them "oui".
  void Cast(int n, int oui) {
    std::vector<core::VoteEnvelope> votes;
    for (int i = 0; i < n; ++i) {
      core::Digest d;
      d.bytes[0] = static_cast<std::uint8_t>(next_ >> 8);
      d.bytes[1] = static_cast<std::uint8_t>(next_++);
      votes.push_back(ports::testing::MakeVote(d, kLaw, i < oui ? Choice::kOui : Choice::kNon));
    }
    std::vector<core::Decision> decisions(votes.size(),
                                          core::Decision{VoteStatus::kAccepted, 1, false});
    ASSERT_TRUE(box_.Record(votes, decisions).ok());
  }

  MixerOptions Options(std::size_t k) {
    MixerOptions o;
    o.group_size = k;
    o.settle = seconds(5);
    o.clock = [this] { return now_; };
    o.on_group = [this](const std::string&, std::size_t n) { groups_.push_back(n); };
    return o;
  }

  ports::Tally Tally() { return box_.FindTally(kLaw).value(); }

  core::Timestamp now_ = core::Clock::now();
  core::Ballot ballot_;
  ports::testing::FakeVoteRecorder box_;
  std::vector<std::size_t> groups_;
  int next_ = 1;
};

TEST_F(MixerTest, WhileOpenItMixesAllButKInGroupsOfAtLeastK) {
  Mixer mixer(ballot_, ports::testing::TestSealer(), box_, Options(3));
  Cast(5, 2);
  auto mixed = mixer.RunOnce();
  ASSERT_TRUE(mixed.ok()) << mixed.error();
  EXPECT_EQ(*mixed, 0u) << "5 wait: a group of 3 would leave 2, fewer than k";
  Cast(1, 0);
  mixed = mixer.RunOnce();
  ASSERT_TRUE(mixed.ok()) << mixed.error();
  EXPECT_EQ(*mixed, 3u);
  EXPECT_EQ(Tally().oui + Tally().non, 3u);
  EXPECT_EQ(Tally().sealed, 3u);
  Cast(7, 7);  // 10 wait: one group of 7, k = 3 stay
  mixed = mixer.RunOnce();
  ASSERT_TRUE(mixed.ok()) << mixed.error();
  EXPECT_EQ(*mixed, 7u);
  EXPECT_EQ(groups_, (std::vector<std::size_t>{3, 7}));
  EXPECT_EQ(Tally().sealed, 3u);
}

TEST_F(MixerTest, AfterTheCloseAndTheSettleTheRemainderIsTheLastGroup) {
  Mixer mixer(ballot_, ports::testing::TestSealer(), box_, Options(3));
  Cast(8, 5);
  ASSERT_TRUE(mixer.RunOnce().ok());
  EXPECT_EQ(Tally().sealed, 3u);
  Cast(2, 0);
  now_ = ballot_.laws()[0].closes_at + seconds(1);  // closed, not settled: votes may still come
  ASSERT_TRUE(mixer.RunOnce().ok());
  EXPECT_EQ(Tally().sealed, 5u);
  now_ = ballot_.laws()[0].closes_at + seconds(6);
  auto mixed = mixer.RunOnce();
  ASSERT_TRUE(mixed.ok()) << mixed.error();
  EXPECT_EQ(*mixed, 5u);
  EXPECT_EQ(Tally().sealed, 0u);
  EXPECT_EQ(Tally().oui, 5u);
  EXPECT_EQ(Tally().non, 5u);
  auto counts = box_.Counts(kLaw).value();
  EXPECT_EQ(counts.groups, 2u);
  EXPECT_EQ(counts.smallest_group, 5u);
}

TEST_F(MixerTest, ALawWithFewerThanKVotesIsMixedWholeAtTheClose) {
  Mixer mixer(ballot_, ports::testing::TestSealer(), box_, Options(100));
  Cast(7, 3);
  ASSERT_TRUE(mixer.RunOnce().ok());
  EXPECT_EQ(Tally().oui + Tally().non, 0u) << "nothing before the close";
  now_ = ballot_.laws()[0].closes_at + seconds(5);
  ASSERT_TRUE(mixer.RunOnce().ok());
  EXPECT_EQ(Tally().oui, 3u);
  EXPECT_EQ(Tally().non, 4u);
  EXPECT_EQ(groups_, std::vector<std::size_t>{7});
}

TEST_F(MixerTest, AGroupOfOneKeepsNothingBack) {
  Mixer mixer(ballot_, ports::testing::TestSealer(), box_, Options(1));
  Cast(3, 1);
  auto mixed = mixer.RunOnce();
  ASSERT_TRUE(mixed.ok()) << mixed.error();
  EXPECT_EQ(*mixed, 3u);
  EXPECT_EQ(Tally().sealed, 0u);
}

// The i-th choice and the i-th receipt of a group come from different ballots: both orders are
// shuffled, independently, so neither pairs a receipt with a choice.
TEST_F(MixerTest, OpenShufflesChoicesAndReceiptsApart) {
  Mixer mixer(ballot_, ports::testing::TestSealer(), box_, Options(100));
  std::vector<core::SealedBallot> sealed;
  std::vector<std::string> receipts;
  for (int i = 0; i < 200; ++i) {
    auto id = core::RequestId::Generate();
    receipts.push_back(core::Receipt(id));
    // Choices in a pattern that an unshuffled group would keep: oui for the first 100 only.
    sealed.push_back(ports::testing::TestSealer()
                         .Seal(kLaw, i < 100 ? Choice::kOui : Choice::kNon, receipts.back())
                         .value());
  }
  auto group = mixer.Open(kLaw, sealed);
  ASSERT_TRUE(group.ok()) << group.error();
  ASSERT_EQ(group->choices.size(), 200u);
  ASSERT_EQ(group->receipts.size(), 200u);
  EXPECT_NE(group->receipts, receipts) << "receipts in their original order";
  EXPECT_EQ(std::set<std::string>(group->receipts.begin(), group->receipts.end()),
            std::set<std::string>(receipts.begin(), receipts.end()));
  int oui_first_half = 0, oui = 0;
  for (std::size_t i = 0; i < 200; ++i) {
    if (group->choices[i] != Choice::kOui) continue;
    ++oui;
    oui_first_half += i < 100;
  }
  EXPECT_EQ(oui, 100);
  // Unshuffled, all 100 would be in the first half; shuffled, about 50 (this bound fails with a
  // probability below 1e-12).
  EXPECT_LT(oui_first_half, 85);
  EXPECT_GT(oui_first_half, 15);
}

TEST_F(MixerTest, SecureShuffleReachesEveryOrder) {
  std::set<std::array<int, 3>> seen;
  for (int i = 0; i < 2000 && seen.size() < 6; ++i) {
    std::array<int, 3> a = {0, 1, 2};
    ASSERT_TRUE(core::SecureShuffle(std::span<int>(a)));
    seen.insert(a);
  }
  EXPECT_EQ(seen.size(), 6u);
}

// A mixer with another key cannot open the ballots: the round fails, and nothing is lost.
TEST_F(MixerTest, AWrongBallotKeyStopsTheCountAndLosesNothing) {
  std::array<std::uint8_t, core::kBallotKeySize> other{};
  other.fill(7);
  auto wrong = core::BallotSealer::Create(other).value();
  Mixer mixer(ballot_, wrong, box_, Options(1));
  Cast(2, 1);
  auto mixed = mixer.RunOnce();
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.code(), core::ErrorCode::kCorrupt);
  EXPECT_NE(mixed.error().find("does not open"), std::string::npos) << mixed.error();
  EXPECT_EQ(Tally().sealed, 2u);
  Mixer right(ballot_, ports::testing::TestSealer(), box_, Options(1));
  ASSERT_TRUE(right.RunOnce().ok());
  EXPECT_EQ(Tally().oui + Tally().non, 2u);
}

// The embedded writer tells the mixer what it sealed: a round touches the store only when a group
// may be due (a failing store shows whether it was touched).
TEST_F(MixerTest, RunIfDueTouchesTheStoreOnlyWhenAGroupMayBeDue) {
  auto options = Options(3);
  int failures = 0;
  options.on_error = [&](core::ErrorCode, const std::string&) { ++failures; };
  Mixer mixer(ballot_, ports::testing::TestSealer(), box_, options);
  mixer.RunIfDue();  // nothing known yet: asks the store (0 waiting)
  EXPECT_EQ(failures, 0);
  Cast(5, 5);
  mixer.Recorded(kLaw, 5);
  box_.set_fail(true);
  mixer.RunIfDue();  // 5 < 2k: not due, the store is not asked
  EXPECT_EQ(failures, 0);
  box_.set_fail(false);
  Cast(1, 1);
  mixer.Recorded(kLaw, 1);
  mixer.RunIfDue();  // 6 = 2k: a group of 3
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(Tally().oui, 3u);
  EXPECT_EQ(Tally().sealed, 3u);
  // Past the close and the settle, what waits is due.
  now_ = ballot_.laws()[0].closes_at + seconds(6);
  mixer.RunIfDue();
  EXPECT_EQ(Tally().oui, 6u);
  EXPECT_EQ(Tally().sealed, 0u);
}

TEST_F(MixerTest, TheThreadMixesWhenWokenAndReportsFailures) {
  auto options = Options(1);
  options.interval = hours(1);  // only a Wake() starts a round
  std::atomic<int> failures{0};
  options.on_error = [&](core::ErrorCode, const std::string&) { ++failures; };
  Mixer mixer(ballot_, ports::testing::TestSealer(), box_, options);
  mixer.Start();
  Cast(4, 4);
  mixer.Wake();
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (Tally().oui < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(Tally().oui, 4u);
  box_.set_fail(true);
  mixer.Wake();
  deadline = std::chrono::steady_clock::now() + seconds(10);
  while (failures.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(failures.load(), 1);
  mixer.Stop();
  mixer.Stop();  // idempotent
}

TEST_F(MixerTest, AfterTheLastGroupTheRecordIsSealedOnceAndVerifies) {
  auto signer = std::make_shared<const core::RecordSigner>(core::RecordSigner::Generate().value());
  MixerOptions o = Options(3);
  o.record_signer = signer;
  int records = 0;
  o.on_record = [&](const std::string& law, const core::PublishedRecord&) {
    EXPECT_EQ(law, kLaw);
    ++records;
  };
  Mixer mixer(ballot_, ports::testing::TestSealer(), box_, o);
  Cast(8, 5);
  ASSERT_TRUE(mixer.RunOnce().ok());
  EXPECT_FALSE(box_.FindRecord(kLaw).value().has_value()) << "no record while the law is open";
  now_ = ballot_.laws()[0].closes_at + seconds(5);
  ASSERT_TRUE(mixer.RunOnce().ok());
  auto stored = box_.FindRecord(kLaw).value();
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(records, 1);
  auto record = nlohmann::json::parse(stored->record);
  EXPECT_EQ(core::VerifyRecord(record, stored->receipts, signer->PublicKeyHex()),
            std::vector<std::string>{});
  EXPECT_EQ(record["tally"], (nlohmann::json{{"oui", 5}, {"non", 3}, {"total", 8}}));
  EXPECT_EQ(record["reconciliation"]["accepted"], 8);
  EXPECT_EQ(record["receipts"]["count"], 8);
  EXPECT_EQ(record["closes_at"], core::FormatTimestamp(ballot_.laws()[0].closes_at));

  // A ballot recorded after the seal stays sealed: the record and its receipts never change.
  Cast(1, 1);
  ASSERT_TRUE(mixer.RunOnce().ok());
  EXPECT_EQ(Tally().sealed, 1u);
  EXPECT_EQ(box_.FindRecord(kLaw).value()->record, stored->record);
  EXPECT_EQ(records, 1);

  // Another mixer (a restart, another aggregator) neither mixes it nor seals a second record.
  Mixer other(ballot_, ports::testing::TestSealer(), box_, o);
  ASSERT_TRUE(other.RunOnce().ok());
  EXPECT_EQ(Tally().sealed, 1u);
  EXPECT_EQ(box_.FindRecord(kLaw).value()->record, stored->record);
}

TEST_F(MixerTest, ALawWithNoVoteGetsARecordOfZeroes) {
  MixerOptions o = Options(3);
  o.record_signer =
      std::make_shared<const core::RecordSigner>(core::RecordSigner::Generate().value());
  Mixer mixer(ballot_, ports::testing::TestSealer(), box_, o);
  now_ = ballot_.laws()[0].closes_at + seconds(6);
  mixer.RunIfDue();
  auto stored = box_.FindRecord(kLaw).value();
  ASSERT_TRUE(stored.has_value()) << "RunIfDue seals a settled law even with nothing to mix";
  EXPECT_EQ(stored->receipts, "");
  EXPECT_TRUE(core::VerifyRecord(nlohmann::json::parse(stored->record), "").empty());
}

TEST_F(MixerTest, AStoreThatCannotBeReadDelaysTheRecordAndLosesNothing) {
  MixerOptions o = Options(1);
  o.record_signer =
      std::make_shared<const core::RecordSigner>(core::RecordSigner::Generate().value());
  Mixer mixer(ballot_, ports::testing::TestSealer(), box_, o);
  Cast(2, 1);
  now_ = ballot_.laws()[0].closes_at + seconds(6);
  box_.set_fail(true);
  EXPECT_FALSE(mixer.RunOnce().ok());
  box_.set_fail(false);
  ASSERT_TRUE(mixer.RunOnce().ok());
  auto record = nlohmann::json::parse(box_.FindRecord(kLaw).value()->record);
  EXPECT_EQ(record["tally"]["total"], 2);
}

}  // namespace
}  // namespace scrutin::pipeline
