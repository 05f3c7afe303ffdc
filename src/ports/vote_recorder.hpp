// VoteRecorder: makes a batch of decided votes durable — the audit trail, the accepted credentials,
// the secret ballots, the tallies and the request statuses — in one transaction.
//
// Implementations: SqliteVoteRecorder (embedded) and PostgresVoteRecorder (aggregator).
#pragma once

#include <memory>
#include <span>

#include "core/result.hpp"
#include "core/vote.hpp"

namespace scrutin::ports {

class VoteRecorder {
 public:
  virtual ~VoteRecorder() = default;

  // Records votes[i] with decisions[i], all or nothing, and returns only once the batch is durable
  // (committed and synced). For every vote: one audit row (digest, law, status, attempt count,
  // time; never the choice) and its request status. For accepted votes: the digest with its claim
  // tag is inserted if absent, and only when it was absent is a ballot (receipt, law, choice; no
  // digest, no time) written and the tally bumped — so recording the same batch twice (a
  // redelivery) counts nothing twice. For duplicates: the per-digest attempt count.
  // On failure nothing of the batch is visible and an error describing the cause is returned.
  // REQUIRES: votes.size() == decisions.size(); no decision is kPending.
  // Thread-safety: one caller at a time.
  virtual core::Status Record(std::span<const core::VoteEnvelope> votes,
                              std::span<const core::Decision> decisions) = 0;
};

using VoteRecorderPtr = std::unique_ptr<VoteRecorder>;

}  // namespace scrutin::ports
