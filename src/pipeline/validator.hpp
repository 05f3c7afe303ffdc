// Validator: the vote decision, written once for both shapes.
//
// For each hashed vote it asks the CredentialLedger to claim the credential for this request and
// turns the ledger's answer into the vote's final status:
//   not in the eligibility database           -> invalid
//   first claim, or a redelivery of the claim -> accepted (a redelivery is flagged `replay`)
//   claimed by another request                -> duplicate, with the attempt count
// Used by the embedded shape's BatchingVoteIntake and by the distributed shape's validator worker.
// Private to src/pipeline: other modules use its public headers.
#pragma once

#include <span>
#include <vector>

#include "core/result.hpp"
#include "core/vote.hpp"
#include "ports/credential_ledger.hpp"

namespace scrutin::pipeline {

class Validator {
 public:
  explicit Validator(ports::CredentialLedger& ledger) : ledger_(ledger) {}
  // A validator over a ledger that can revert: Undo() is available.
  explicit Validator(ports::RevertibleCredentialLedger& ledger)
      : ledger_(ledger), revertible_(&ledger) {}

  // Decides every vote of the batch, in order (a later vote sees the claims of earlier ones).
  // On success decisions[i] is final for votes[i]. On a ledger failure returns its error; the
  // ledger may then hold some of the claims (safe: see CredentialLedger::ClaimBatch).
  // REQUIRES: decisions.size() == votes.size(). Thread-safety: as the ledger's.
  core::Status Decide(std::span<const core::VoteEnvelope> votes,
                      std::span<core::Decision> decisions);

  // Undoes the ledger effects of the immediately preceding Decide (see
  // RevertibleCredentialLedger::Revert). A kRefused error when the ledger cannot revert.
  core::Status Undo(std::span<const core::VoteEnvelope> votes);

  // The pure mapping from a ledger outcome to a decision, exposed for tests and for shapes that
  // obtain outcomes by other means.
  static core::Decision ToDecision(const ports::ClaimOutcome& outcome);

 private:
  void BuildRequests(std::span<const core::VoteEnvelope> votes);

  ports::CredentialLedger& ledger_;
  ports::RevertibleCredentialLedger* revertible_ = nullptr;  // the same ledger, when it can revert
  // Reused between calls to avoid reallocating per batch.
  std::vector<ports::ClaimRequest> requests_;
  std::vector<ports::ClaimOutcome> outcomes_;
};

}  // namespace scrutin::pipeline
