#include "adapters/rabbitmq/rabbit_decision_publisher.hpp"

#include <algorithm>
#include <thread>

#include "adapters/rabbitmq/rabbit_publisher.hpp"

namespace scrutin::rabbitmq {

core::Status RetryWithBackoff(const PublishRetryPolicy& policy,
                              const std::function<core::Status()>& attempt) {
  const auto deadline = std::chrono::steady_clock::now() + policy.retry_for;
  auto pause = policy.first_pause;
  for (;;) {
    auto st = attempt();
    if (st || std::chrono::steady_clock::now() + pause >= deadline) return st;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, policy.max_pause);
  }
}

core::Status RabbitDecisionPublisher::Publish(std::span<const core::VoteEnvelope> votes,
                                              std::span<const core::Decision> decisions) {
  // One message per routing key (accepted -> aggregation, duplicate / invalid -> review): the
  // broker's cost is per message, so a batch of N votes costs it at most three.
  messages_.clear();
  AppendDecidedVoteMessages(topology_, votes, decisions, messages_);
  return RetryWithBackoff(retry_, [this] { return publisher_.PublishAndConfirm(messages_); });
}

}  // namespace scrutin::rabbitmq
