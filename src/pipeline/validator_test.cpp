#include "pipeline/validator.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "ports/testing/mock_credential_ledger.hpp"

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

using ports::testing::MockCredentialLedger;
using ::testing::_;
using ::testing::Return;

TEST(ValidatorTest, PassesDigestAndClaimTagOfEachVote) {
  MockCredentialLedger ledger;
  std::vector<ports::ClaimRequest> seen;  // what the ledger was asked
  EXPECT_CALL(ledger, ClaimBatch(_, _))
      .WillOnce([&](std::span<const ports::ClaimRequest> in, std::span<ports::ClaimOutcome> out) {
        seen.assign(in.begin(), in.end());
        out[0] = {Kind::kClaimed, 1};
        out[1] = {Kind::kAlreadyClaimed, 2};
        return core::Status();
      });
  std::size_t reverted = 0;
  EXPECT_CALL(ledger, Revert(_, _))
      .WillOnce([&](std::span<const ports::ClaimRequest> in, std::span<const ports::ClaimOutcome>) {
        reverted += in.size();
        return core::Status();
      });
  Validator v(ledger);
  std::vector<core::VoteEnvelope> votes(2);
  votes[0].request_id = core::RequestId::Generate();
  votes[1].request_id = core::RequestId::Generate();
  votes[1].digest.bytes[0] = 9;
  std::vector<core::Decision> decisions(2);
  ASSERT_TRUE(v.Decide(votes, decisions));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].digest, votes[1].digest);
  EXPECT_EQ(seen[0].claim_tag, core::ClaimTag(votes[0].request_id));
  EXPECT_EQ(decisions[0].status, VoteStatus::kAccepted);
  EXPECT_EQ(decisions[1].status, VoteStatus::kDuplicate);
  ASSERT_TRUE(v.Undo(votes));
  EXPECT_EQ(reverted, 2u);
}

TEST(ValidatorTest, LedgerFailureIsReturned) {
  MockCredentialLedger ledger;
  EXPECT_CALL(ledger, ClaimBatch(_, _)).WillOnce(Return(core::Fail(std::string("ledger down"))));
  Validator v(ledger);
  std::vector<core::VoteEnvelope> votes(1);
  std::vector<core::Decision> decisions(1);
  auto st = v.Decide(votes, decisions);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error(), "ledger down");
}

}  // namespace
}  // namespace scrutin::pipeline
