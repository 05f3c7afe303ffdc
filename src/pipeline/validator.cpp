#include "pipeline/validator.hpp"

#include <cassert>

namespace scrutin::pipeline {

using Kind = ports::ClaimOutcome::Kind;

core::Decision Validator::ToDecision(const ports::ClaimOutcome& outcome) {
  core::Decision d;
  d.attempt_count = outcome.attempt_count;
  switch (outcome.kind) {
    case Kind::kIneligible:
      d.status = core::VoteStatus::kInvalid;
      d.attempt_count = 1;
      break;
    case Kind::kClaimed:
      d.status = core::VoteStatus::kAccepted;
      d.attempt_count = 1;
      break;
    case Kind::kReplayed:
      d.status = core::VoteStatus::kAccepted;
      d.attempt_count = 1;
      d.replay = true;
      break;
    case Kind::kAlreadyClaimed:
      d.status = core::VoteStatus::kDuplicate;
      break;
  }
  return d;
}

void Validator::BuildRequests(std::span<const core::VoteEnvelope> votes) {
  requests_.resize(votes.size());
  for (std::size_t i = 0; i < votes.size(); ++i) {
    requests_[i].digest = votes[i].digest;
    requests_[i].claim_tag = core::ClaimTag(votes[i].request_id);
  }
}

core::Status Validator::Decide(std::span<const core::VoteEnvelope> votes,
                               std::span<core::Decision> decisions) {
  assert(decisions.size() == votes.size());
  BuildRequests(votes);
  outcomes_.assign(votes.size(), ports::ClaimOutcome{});
  if (auto st = ledger_.ClaimBatch(requests_, outcomes_); !st) return st;
  for (std::size_t i = 0; i < votes.size(); ++i) decisions[i] = ToDecision(outcomes_[i]);
  return {};
}

core::Status Validator::Undo(std::span<const core::VoteEnvelope> votes) {
  assert(votes.size() == requests_.size() && votes.size() == outcomes_.size());
  if (revertible_ == nullptr) {
    return core::Fail(core::ErrorCode::kRefused,
                      std::string("this ledger cannot revert: redeliver with the same claim tags"));
  }
  return revertible_->Revert(requests_, outcomes_);
}

}  // namespace scrutin::pipeline
