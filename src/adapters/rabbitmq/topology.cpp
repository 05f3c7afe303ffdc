#include "adapters/rabbitmq/topology.hpp"

namespace scrutin::rabbitmq {

std::string_view ToString(QueueType type) {
  return type == QueueType::kQuorum ? "quorum" : "classic";
}

core::Result<QueueType> ParseQueueType(std::string_view text) {
  if (text == "classic") return QueueType::kClassic;
  if (text == "quorum") return QueueType::kQuorum;
  return core::Fail("unknown queue type '" + std::string(text) +
                    "' (expected 'classic' or 'quorum')");
}

Topology Topology::WithPrefix(std::string_view prefix, QueueType type) {
  Topology t;
  for (std::string* name : {&t.exchange, &t.validation_queue, &t.aggregation_queue, &t.review_queue,
                            &t.dead_exchange, &t.dead_queue}) {
    name->insert(0, prefix);
  }
  t.queue_type = type;
  return t;
}

std::vector<std::string> Topology::Queues() const {
  return {validation_queue, aggregation_queue, review_queue, dead_queue};
}

std::string_view RoutingKeyFor(core::VoteStatus status) {
  switch (status) {
    case core::VoteStatus::kPending:
      return kSubmittedKey;
    case core::VoteStatus::kAccepted:
      return kAcceptedKey;
    case core::VoteStatus::kDuplicate:
      return kDuplicateKey;
    case core::VoteStatus::kInvalid:
      return kInvalidKey;
  }
  return kSubmittedKey;
}

std::vector<QueueArgument> QueueArguments(const Topology& t, const std::string& queue) {
  std::vector<QueueArgument> args;
  const bool quorum = t.queue_type == QueueType::kQuorum;
  if (quorum) args.push_back({"x-queue-type", "quorum"});
  if (queue == t.dead_queue) return args;  // the end of the line: never dead-lettered further
  args.push_back({"x-dead-letter-exchange", t.dead_exchange});
  if (quorum) {
    args.push_back({"x-delivery-limit", {}, t.delivery_limit, true});
    args.push_back({"x-dead-letter-strategy", "at-least-once"});
    args.push_back({"x-overflow", "reject-publish"});
  }
  return args;
}

core::Status DeclareTopology(AmqpConnection& conn, const Topology& t) {
  struct Binding {
    const std::string& queue;
    std::string_view key;
  };
  const Binding bindings[] = {
      {t.validation_queue, kSubmittedKey},
      {t.aggregation_queue, kAcceptedKey},
      {t.review_queue, kDuplicateKey},
      {t.review_queue, kInvalidKey},
  };
  if (auto st = conn.DeclareExchange(t.exchange, "topic"); !st.ok()) return st;
  if (auto st = conn.DeclareExchange(t.dead_exchange, "fanout"); !st.ok()) return st;
  for (const std::string& queue : t.Queues()) {
    if (auto st = conn.DeclareQueue(queue, QueueArguments(t, queue)); !st.ok()) return st;
  }
  for (const Binding& b : bindings) {
    if (auto st = conn.BindQueue(b.queue, t.exchange, std::string(b.key)); !st.ok()) return st;
  }
  return conn.BindQueue(t.dead_queue, t.dead_exchange, "");
}

}  // namespace scrutin::rabbitmq
