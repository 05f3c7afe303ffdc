// ValidationStage: what a distributed-shape validator does with one batch of submitted votes.
//
//   1. decide every vote (Validator over the shared CredentialLedger: one atomic claim per vote);
//   2. publish the decided votes (accepted -> aggregation, duplicate/invalid -> audit) and wait
//      until every one is durable downstream;
//   3. only then report success, so that the caller may acknowledge its input.
// The voters' statuses are not written here: the aggregator writes each final status once
// PostgreSQL, the record, holds it (AggregationStage), so a decision the ledger got wrong after
// losing state is never shown to a voter.
//
// Any failure returns an error before the input is acknowledged: the batch is delivered again and
// decided again. That is safe because the ledger recognises a vote by its claim tag (a redelivered
// vote that already holds its claim is accepted again, flagged `replay`, never turned into a
// duplicate), and the next stage records each request id once. A ledger that lost its state
// fails with kStateLost and decides nothing: the caller waits and retries.
//
// Thread-safety: one caller at a time (a worker thread owns its stage); several stages, in one
// process or many, may share one ledger.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "core/result.hpp"
#include "core/vote.hpp"
#include "pipeline/validator.hpp"
#include "ports/credential_ledger.hpp"
#include "ports/decision_publisher.hpp"

namespace scrutin::pipeline {

class ValidationStage {
 public:
  // Called after a batch succeeded (every decision durable downstream), with the batch's votes and
  // decisions: metrics. Must not block.
  using Listener =
      std::function<void(std::span<const core::VoteEnvelope>, std::span<const core::Decision>)>;

  // Everything referenced must outlive the stage.
  ValidationStage(ports::CredentialLedger& ledger, ports::DecisionPublisher& publisher,
                  Listener listener = {});

  // Runs steps 1-2 on the batch. Success: decisions[i] is the ledger's decision for votes[i],
  // durable downstream, and the caller may acknowledge the whole batch. Error (ledger or broker
  // failing): nothing may be acknowledged; the error names the step and keeps the failing port's
  // code() (kStateLost: the ledger is missing, nothing was decided).
  // REQUIRES: decisions.size() == votes.size().
  core::Status Process(std::span<const core::VoteEnvelope> votes,
                       std::span<core::Decision> decisions);

 private:
  Validator validator_;
  ports::DecisionPublisher& publisher_;
  Listener listener_;
};

}  // namespace scrutin::pipeline
