// The status record of one vote as the distributed shape stores it (ports::StatusWriter): the
// api's `pending` (PendingStatusIntake) and the aggregator's final decision (AggregationStage)
// are built the same way, kept until the law's close plus the retention time.
// Private to src/pipeline: other modules use its public headers.
#pragma once

#include <chrono>
#include <cstdint>

#include "core/ballot.hpp"
#include "core/vote.hpp"
#include "ports/status_writer.hpp"

namespace scrutin::pipeline {

// The update recording `status` (with `attempt_count`) for `vote`. A law not on the ballot leaves
// expires_at at the epoch: the store's default retention.
inline ports::StatusUpdate StatusUpdateFor(const core::VoteEnvelope& vote, core::VoteStatus status,
                                           std::uint32_t attempt_count, const core::Ballot& ballot,
                                           std::chrono::seconds retention) {
  ports::StatusUpdate u;
  u.id = vote.request_id;
  u.record.law_id = vote.law_id;
  u.record.status = status;
  u.record.attempt_count = attempt_count;
  if (const core::Law* law = ballot.Find(vote.law_id)) u.expires_at = law->closes_at + retention;
  return u;
}

}  // namespace scrutin::pipeline
