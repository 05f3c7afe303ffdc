// Topology: the exchanges, queues and bindings of the distributed pipeline (docs/architecture.md
// "The distributed pipeline"), and their idempotent declaration.
//
//   votes.exchange (topic, durable)
//     vote.submitted            -> votes.validation   (api -> validators)
//     vote.accepted             -> votes.aggregation  (validators -> aggregator)
//     vote.duplicate, .invalid  -> votes.review       (validators -> audit)
//   votes.dead (fanout, durable) -> votes.dead        (messages set aside: see below)
//
// Every queue is durable, of one type for the whole topology: classic (a single node) or quorum
// (x-queue-type=quorum, replicated when RabbitMQ runs as a cluster). Declaring is idempotent; a
// queue that already exists with other arguments is reported as a precondition failure, never
// silently changed. All names can carry a prefix so that tests sharing a broker do not meet.
//
// Bounded redelivery. A message reaches votes.dead, never the floor, in two ways:
//   - a worker sets it aside itself (unparsable, or refused by the stage `poison_tries` times:
//     RabbitConsumer) with an x-scrutin-reason header saying why;
//   - the broker dead-letters it (x-dead-letter-exchange on the three work queues) when it was
//     rejected, or, on quorum queues, delivered `delivery_limit` times without an ack (a message
//     that kills its worker every time); RabbitMQ's x-death header then says why. Quorum queues
//     dead-letter at-least-once (x-dead-letter-strategy, which requires x-overflow=reject-publish),
//     so the broker cannot lose a message between the two queues either.
// A worker that cannot reach a backend (Redis, PostgreSQL) holds its messages and retries; it does
// not return them, so an outage never uses up the delivery limit. `scrutin deadletter list|replay`
// inspects votes.dead and publishes its messages back where they came from.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/rabbitmq/amqp_connection.hpp"
#include "core/result.hpp"
#include "core/vote.hpp"

namespace scrutin::rabbitmq {

inline constexpr std::string_view kSubmittedKey = "vote.submitted";
inline constexpr std::string_view kAcceptedKey = "vote.accepted";
inline constexpr std::string_view kDuplicateKey = "vote.duplicate";
inline constexpr std::string_view kInvalidKey = "vote.invalid";

// The header a dead-lettered message carries: why it was set aside, and where it came from.
inline constexpr std::string_view kReasonHeader = "x-scrutin-reason";
inline constexpr std::string_view kSourceQueueHeader = "x-scrutin-source-queue";

enum class QueueType { kClassic, kQuorum };

// "classic" / "quorum".
std::string_view ToString(QueueType type);
core::Result<QueueType> ParseQueueType(std::string_view text);

struct Topology {
  std::string exchange = "votes.exchange";
  std::string validation_queue = "votes.validation";
  std::string aggregation_queue = "votes.aggregation";
  std::string review_queue = "votes.review";
  std::string dead_exchange = "votes.dead";
  std::string dead_queue = "votes.dead";
  // Quorum by default: it delivers a message only once it is on disk, classic may deliver it before.
  QueueType queue_type = QueueType::kQuorum;
  // Quorum queues: deliveries without an ack after which the broker dead-letters a message.
  std::int64_t delivery_limit = 20;

  // The standard names, each preceded by `prefix` (e.g. "t42." for a test).
  static Topology WithPrefix(std::string_view prefix, QueueType type = QueueType::kClassic);

  // The four queues, for depth gauges.
  std::vector<std::string> Queues() const;
};

// The routing key of a vote in a given state: kPending -> vote.submitted, kAccepted ->
// vote.accepted, kDuplicate -> vote.duplicate, kInvalid -> vote.invalid.
std::string_view RoutingKeyFor(core::VoteStatus status);

// The x-arguments a queue of this topology is declared with (type, dead-lettering, delivery limit).
std::vector<QueueArgument> QueueArguments(const Topology& topology, const std::string& queue);

// Declares everything above on `conn` (exchange, queues, bindings), idempotently. Error naming
// the object that could not be declared (e.g. a queue that exists with other arguments).
core::Status DeclareTopology(AmqpConnection& conn, const Topology& topology);

}  // namespace scrutin::rabbitmq
