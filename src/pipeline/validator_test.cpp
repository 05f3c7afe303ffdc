#include "pipeline/validator.hpp"

#include <gtest/gtest.h>

namespace scrutin::pipeline {
namespace {

using Kind = ports::ClaimOutcome::Kind;
using core::VoteStatus;

TEST(ValidatorTest, MapsEveryLedgerOutcomeToAStatus) {
  auto d = Validator::ToDecision({Kind::kIneligible, 1});
  EXPECT_EQ(d.status, VoteStatus::kInvalid);
  EXPECT_FALSE(d.replay);

  d = Validator::ToDecision({Kind::kClaimed, 1});
  EXPECT_EQ(d.status, VoteStatus::kAccepted);
  EXPECT_EQ(d.attempt_count, 1u);
  EXPECT_FALSE(d.replay);

  d = Validator::ToDecision({Kind::kReplayed, 3});
  EXPECT_EQ(d.status, VoteStatus::kAccepted);
  EXPECT_TRUE(d.replay);

  d = Validator::ToDecision({Kind::kAlreadyClaimed, 4});
  EXPECT_EQ(d.status, VoteStatus::kDuplicate);
  EXPECT_EQ(d.attempt_count, 4u);
}

// A ledger that records what it was asked and answers from a script.
class ScriptedLedger : public ports::RevertibleCredentialLedger {
 public:
  core::Status ClaimBatch(std::span<const ports::ClaimRequest> in,
                          std::span<ports::ClaimOutcome> out) override {
    if (fail) return core::Fail(std::string("ledger down"));
    seen.assign(in.begin(), in.end());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = script.at(i);
    return {};
  }
  core::Status Revert(std::span<const ports::ClaimRequest> in,
                      std::span<const ports::ClaimOutcome>) override {
    reverted += in.size();
    return {};
  }
  std::vector<ports::ClaimOutcome> script;
  std::vector<ports::ClaimRequest> seen;
  std::size_t reverted = 0;
  bool fail = false;
};

TEST(ValidatorTest, PassesDigestAndClaimTagOfEachVote) {
  ScriptedLedger ledger;
  ledger.script = {{Kind::kClaimed, 1}, {Kind::kAlreadyClaimed, 2}};
  Validator v(ledger);
  std::vector<core::VoteEnvelope> votes(2);
  votes[0].request_id = core::RequestId::Generate();
  votes[1].request_id = core::RequestId::Generate();
  votes[1].digest.bytes[0] = 9;
  std::vector<core::Decision> decisions(2);
  ASSERT_TRUE(v.Decide(votes, decisions));
  ASSERT_EQ(ledger.seen.size(), 2u);
  EXPECT_EQ(ledger.seen[1].digest, votes[1].digest);
  EXPECT_EQ(ledger.seen[0].claim_tag, core::ClaimTag(votes[0].request_id));
  EXPECT_EQ(decisions[0].status, VoteStatus::kAccepted);
  EXPECT_EQ(decisions[1].status, VoteStatus::kDuplicate);
  ASSERT_TRUE(v.Undo(votes));
  EXPECT_EQ(ledger.reverted, 2u);
}

TEST(ValidatorTest, LedgerFailureIsReturned) {
  ScriptedLedger ledger;
  ledger.fail = true;
  Validator v(ledger);
  std::vector<core::VoteEnvelope> votes(1);
  std::vector<core::Decision> decisions(1);
  auto st = v.Decide(votes, decisions);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error(), "ledger down");
}

}  // namespace
}  // namespace scrutin::pipeline
