// ValidationStage: what a distributed-shape validator does with one batch of submitted votes.
//
//   1. decide every vote (Validator over the shared CredentialLedger: one atomic claim per vote);
//   2. publish the decided votes (accepted -> aggregation, duplicate/invalid -> audit) and wait
//      until every one is durable downstream;
//   3. write each request's final status (for GET /api/v1/vote/{id});
//   4. only then report success, so that the caller may acknowledge its input.
//
// Any failure returns an error before the input is acknowledged: the batch is delivered again and
// decided again. That is safe because the ledger recognises a vote by its claim tag (a redelivered
// vote that already holds its claim is accepted again, flagged `replay`, never turned into a
// duplicate), and the next stage records each request id once.
//
// Thread-safety: one caller at a time (a worker thread owns its stage); several stages, in one
// process or many, may share one ledger.
#pragma once

#include <chrono>
#include <functional>
#include <span>
#include <vector>

#include "core/ballot.hpp"
#include "core/result.hpp"
#include "core/vote.hpp"
#include "pipeline/validator.hpp"
#include "ports/credential_ledger.hpp"
#include "ports/decision_publisher.hpp"
#include "ports/status_writer.hpp"

namespace scrutin::pipeline {

struct ValidationStageOptions {
  // Final statuses are kept until the law closes plus this long.
  std::chrono::seconds status_retention{std::chrono::hours(24 * 30)};
};

class ValidationStage {
 public:
  // Called after a batch succeeded (every decision durable and its status written), with the
  // batch's votes and decisions: metrics. Must not block.
  using Listener =
      std::function<void(std::span<const core::VoteEnvelope>, std::span<const core::Decision>)>;

  // Everything referenced must outlive the stage.
  ValidationStage(ports::CredentialLedger& ledger, ports::DecisionPublisher& publisher,
                  ports::StatusWriter& statuses, const core::Ballot& ballot,
                  ValidationStageOptions options = {}, Listener listener = {});

  // Runs steps 1-3 on the batch. Success: decisions[i] is votes[i]'s final, durable decision and
  // the caller may acknowledge the whole batch. Error (ledger, broker or status store failing):
  // nothing may be acknowledged; the error names the step and keeps the failing port's code().
  // REQUIRES: decisions.size() == votes.size().
  core::Status Process(std::span<const core::VoteEnvelope> votes,
                       std::span<core::Decision> decisions);

 private:
  Validator validator_;
  ports::DecisionPublisher& publisher_;
  ports::StatusWriter& statuses_;
  const core::Ballot& ballot_;
  const ValidationStageOptions options_;
  Listener listener_;
  std::vector<ports::StatusUpdate> updates_;  // reused between batches
};

}  // namespace scrutin::pipeline
