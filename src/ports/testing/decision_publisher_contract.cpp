// What every DecisionPublisher must do, whatever carries the votes on (ports/decision_publisher.hpp).
#include "ports/testing/decision_publisher_contract.hpp"

#include <map>
#include <span>
#include <vector>

#include "ports/testing/contract_votes.hpp"

namespace scrutin::ports::testing {
namespace {

using core::Choice;
using core::VoteStatus;

bool ToAggregation(const core::Decision& d) { return d.status == VoteStatus::kAccepted; }

// `got` holds exactly the votes[i] with decisions[i] whose side is `side`, `times` times each,
// each with its own envelope and decision (in any order).
void ExpectArrived(const std::vector<DeliveredVote>& got, NextStage side,
                   std::span<const core::VoteEnvelope> votes,
                   std::span<const core::Decision> decisions, std::size_t times = 1) {
  std::map<std::string, std::size_t> want;  // request id -> index in votes
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < votes.size(); ++i) {
    if (ToAggregation(decisions[i]) == (side == NextStage::kAggregation)) {
      want[votes[i].request_id.ToString()] = i;
    }
  }
  EXPECT_EQ(got.size(), want.size() * times)
      << (side == NextStage::kAggregation ? "aggregation" : "audit") << " side";
  for (const auto& d : got) {
    auto key = d.vote.request_id.ToString();
    auto it = want.find(key);
    if (it == want.end()) {
      ADD_FAILURE() << "vote " << key << " arrived on the wrong side or was never published";
      continue;
    }
    ++seen[key];
    const auto& v = votes[it->second];
    const auto& dec = decisions[it->second];
    EXPECT_EQ(d.vote.digest, v.digest) << key;
    EXPECT_EQ(d.vote.law_id, v.law_id) << key;
    EXPECT_EQ(d.vote.ballot, v.ballot) << key;
    EXPECT_EQ(d.decision.status, dec.status) << key;
    EXPECT_EQ(d.decision.attempt_count, dec.attempt_count) << key;
    EXPECT_EQ(d.decision.replay, dec.replay) << key;
  }
  for (const auto& [key, index] : want) {
    EXPECT_EQ(seen[key], times) << "vote " << key << " (index " << index << ")";
  }
}

}  // namespace

// Every test binary links all the contract suites and instantiates only its port's.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(DecisionPublisherContract);

void DecisionPublisherContract::SetUp() {
  under_test_ = GetParam().make();
  ASSERT_NE(under_test_, nullptr) << GetParam().name << ": no publisher";
}

core::VoteEnvelope DecisionPublisherContract::Vote(const core::Digest& digest, Choice choice) {
  return MakeVote(digest, kLaw, choice);
}

core::Decision DecisionPublisherContract::Decided(VoteStatus status, std::uint32_t attempts,
                                                  bool replay) {
  return MakeDecision(status, attempts, replay);
}

TEST_P(DecisionPublisherContract, EveryVoteArrivesWithItsOwnDecisionOnItsSide) {
  auto d = RandomDigests(5);
  std::vector<core::VoteEnvelope> votes = {
      Vote(d[0], Choice::kOui), Vote(d[1], Choice::kNon), Vote(d[0], Choice::kNon),
      Vote(d[2], Choice::kOui), Vote(d[3], Choice::kNon), Vote(d[4], Choice::kOui)};
  std::vector<core::Decision> decisions = {
      Decided(VoteStatus::kAccepted),          Decided(VoteStatus::kAccepted),
      Decided(VoteStatus::kDuplicate, 2),      Decided(VoteStatus::kInvalid),
      Decided(VoteStatus::kAccepted, 1, true), Decided(VoteStatus::kDuplicate, 5)};
  auto st = under_test_->publisher().Publish(votes, decisions);
  ASSERT_TRUE(st.ok()) << st.error();
  // Success: every vote is already downstream.
  ExpectArrived(under_test_->Take(NextStage::kAggregation, 3), NextStage::kAggregation, votes,
                decisions);
  ExpectArrived(under_test_->Take(NextStage::kAudit, 3), NextStage::kAudit, votes, decisions);
}

TEST_P(DecisionPublisherContract, ABatchLargerThanAnyMessageArrivesWhole) {
  constexpr std::size_t kVotes = 2500;
  auto d = RandomDigests(kVotes);
  std::vector<core::VoteEnvelope> votes;
  std::vector<core::Decision> decisions;
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < kVotes; ++i) {
    votes.push_back(Vote(d[i], i % 2 ? Choice::kOui : Choice::kNon));
    decisions.push_back(i % 5 == 0   ? Decided(VoteStatus::kInvalid)
                        : i % 7 == 0 ? Decided(VoteStatus::kDuplicate, 2)
                                     : Decided(VoteStatus::kAccepted));
    accepted += ToAggregation(decisions.back());
  }
  auto st = under_test_->publisher().Publish(votes, decisions);
  ASSERT_TRUE(st.ok()) << st.error();
  ExpectArrived(under_test_->Take(NextStage::kAggregation, accepted), NextStage::kAggregation,
                votes, decisions);
  ExpectArrived(under_test_->Take(NextStage::kAudit, kVotes - accepted), NextStage::kAudit, votes,
                decisions);
}

// The next stage records each request id once; the publisher only has to deliver again.
TEST_P(DecisionPublisherContract, TheSameBatchPublishedAgainArrivesAgain) {
  auto d = RandomDigests(3);
  std::vector<core::VoteEnvelope> votes = {Vote(d[0], Choice::kOui), Vote(d[1], Choice::kNon),
                                           Vote(d[0], Choice::kNon)};
  std::vector<core::Decision> decisions = {Decided(VoteStatus::kAccepted),
                                           Decided(VoteStatus::kAccepted),
                                           Decided(VoteStatus::kDuplicate, 2)};
  ASSERT_TRUE(under_test_->publisher().Publish(votes, decisions).ok());
  auto st = under_test_->publisher().Publish(votes, decisions);
  ASSERT_TRUE(st.ok()) << st.error();
  ExpectArrived(under_test_->Take(NextStage::kAggregation, 4), NextStage::kAggregation, votes,
                decisions, 2);
  ExpectArrived(under_test_->Take(NextStage::kAudit, 2), NextStage::kAudit, votes, decisions, 2);
}

TEST_P(DecisionPublisherContract, AnEmptyBatchSucceedsAndDeliversNothing) {
  auto st = under_test_->publisher().Publish({}, {});
  ASSERT_TRUE(st.ok()) << st.error();
  // The publisher goes on; only the next batch's votes arrive.
  auto d = RandomDigests(2);
  std::vector<core::VoteEnvelope> votes = {Vote(d[0], Choice::kOui), Vote(d[1], Choice::kNon)};
  std::vector<core::Decision> decisions = {Decided(VoteStatus::kAccepted),
                                           Decided(VoteStatus::kInvalid)};
  st = under_test_->publisher().Publish(votes, decisions);
  ASSERT_TRUE(st.ok()) << st.error();
  ExpectArrived(under_test_->Take(NextStage::kAggregation, 1), NextStage::kAggregation, votes,
                decisions);
  ExpectArrived(under_test_->Take(NextStage::kAudit, 1), NextStage::kAudit, votes, decisions);
}

// Some, all or none of the batch may have arrived (the port says so); what matters is that the
// caller is never told it is durable. The code says "try again later": kUnavailable, never
// kRefused, kCorrupt or kStateLost (a worker would set the votes aside or stop deciding).
TEST_P(DecisionPublisherContract, AnUnreachableNextStageIsAnErrorNeverASuccess) {
  auto d = RandomDigests(2);
  std::vector<core::VoteEnvelope> votes = {Vote(d[0], Choice::kOui), Vote(d[1], Choice::kNon)};
  std::vector<core::Decision> decisions = {Decided(VoteStatus::kAccepted),
                                           Decided(VoteStatus::kDuplicate, 2)};
  under_test_->BreakNextStage();
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto st = under_test_->publisher().Publish(votes, decisions);
    ASSERT_FALSE(st.ok()) << "attempt " << attempt;
    EXPECT_FALSE(st.error().empty());
    EXPECT_EQ(st.code(), core::ErrorCode::kUnavailable)
        << core::ToString(st.code()) << ": " << st.error();
  }
}

}  // namespace scrutin::ports::testing
