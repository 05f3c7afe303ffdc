// DecisionPublisher: hands decided votes on to the next stage of the distributed shape (accepted
// votes to the aggregator, duplicates and invalid attempts to the audit queue).
//
// Implementation: RabbitDecisionPublisher (adapters/rabbitmq/rabbit_decision_publisher.hpp), over
// rabbitmq::RabbitBatchPublisher with publisher confirms. It passes the contract suite in
// ports/testing/decision_publisher_contract.hpp, as does the shared FakeDecisionPublisher.
#pragma once

#include <memory>
#include <span>

#include "core/result.hpp"
#include "core/vote.hpp"

namespace scrutin::ports {

class DecisionPublisher {
 public:
  virtual ~DecisionPublisher() = default;

  // Publishes votes[i] with decisions[i] and returns success only once every one of them is
  // durable downstream (the broker confirmed it as a persistent message on a durable queue).
  // Error: some, all or none may have been stored; publishing the same batch again is safe
  // because the next stage is idempotent per request id.
  // REQUIRES: votes.size() == decisions.size(); no decision is kPending.
  // Thread-safety: one caller at a time (a worker owns its publisher). Blocking: blocks until the
  // broker confirmed or the publisher's confirm timeout passed; called from worker threads only.
  virtual core::Status Publish(std::span<const core::VoteEnvelope> votes,
                               std::span<const core::Decision> decisions) = 0;
};

using DecisionPublisherPtr = std::unique_ptr<DecisionPublisher>;

}  // namespace scrutin::ports
