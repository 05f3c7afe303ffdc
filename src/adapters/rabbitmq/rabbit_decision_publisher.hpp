// RabbitDecisionPublisher: ports::DecisionPublisher over one confirmed RabbitBatchPublisher
// connection, what the validator hands its decisions to. Accepted votes go to votes.aggregation,
// duplicates and invalid attempts to votes.review, one message per routing key per batch
// (AppendDecidedVoteMessages).
//
// A failed publish is retried here, with the decisions in hand, rather than failing the batch: a
// failed batch is redelivered and decided again, and the ledger counts a redelivered duplicate's
// attempt again. The first publish after a broker restart typically finds its old connection dead,
// so a reconnect-and-retry usually succeeds at once.
#pragma once

#include <chrono>
#include <functional>
#include <span>
#include <vector>

#include "adapters/rabbitmq/rabbit_batch_publisher.hpp"
#include "adapters/rabbitmq/topology.hpp"
#include "core/result.hpp"
#include "core/vote.hpp"
#include "ports/decision_publisher.hpp"

namespace scrutin::rabbitmq {

// How long and how often a failed publish is tried again: pauses start at first_pause and double
// up to max_pause; no attempt starts once its pause would end past retry_for after the first.
struct PublishRetryPolicy {
  std::chrono::milliseconds retry_for{10'000};  // well under the consumer's 30 s heartbeat
  std::chrono::milliseconds first_pause{50};
  std::chrono::milliseconds max_pause{1000};
};

// Calls `attempt` until it succeeds or the policy's time is spent, sleeping between attempts.
// Returns the first success, or the last attempt's error. Blocks the calling thread.
core::Status RetryWithBackoff(const PublishRetryPolicy& policy,
                              const std::function<core::Status()>& attempt);

// One owner thread (the validator's stage), like the RabbitBatchPublisher it holds.
class RabbitDecisionPublisher final : public ports::DecisionPublisher {
 public:
  explicit RabbitDecisionPublisher(PublisherOptions options, PublishRetryPolicy retry = {})
      : topology_(options.topology), publisher_(std::move(options)), retry_(retry) {}

  // Publishes the batch's decided votes and waits for the broker's confirms, retrying (reconnect,
  // backoff) under the retry policy. Success: every message confirmed. Error: the last attempt's
  // error; some messages may have been published (the consumer downstream deduplicates).
  // REQUIRES: decisions.size() == votes.size(); no decision kPending.
  core::Status Publish(std::span<const core::VoteEnvelope> votes,
                       std::span<const core::Decision> decisions) override;

  RabbitBatchPublisher& publisher() { return publisher_; }

 private:
  const Topology topology_;
  RabbitBatchPublisher publisher_;
  const PublishRetryPolicy retry_;
  std::vector<OutgoingMessage> messages_;  // reused between batches
};

}  // namespace scrutin::rabbitmq
