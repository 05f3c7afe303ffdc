// DeadLetters: what an operator does with votes.dead (`scrutin deadletter list|replay`).
//
// votes.dead holds messages set aside rather than dropped (topology.hpp "Bounded redelivery"):
// unparsable ones and votes a stage refused several times, with an x-scrutin-reason header, and
// messages the broker dead-lettered (rejected, or delivered delivery_limit times without an ack),
// with RabbitMQ's x-death. Listing takes the messages present now without acknowledging them and
// puts them back; replaying publishes each one that decodes back to votes.exchange under its
// original routing key (so vote.submitted goes to the validators again, vote.accepted to the
// aggregator), waits for the broker's confirm, and only then acknowledges it in votes.dead. Replay
// is idempotent because every stage is, per request id: a vote replayed twice, or one that had
// been processed before it was set aside, is recognised and counted at most once. Messages that do
// not decode, or whose routing key is not the pipeline's, stay where they are.
//
// Nothing printed or returned carries a credential, a digest, a choice or a request id (a request
// id leads to the receipt, hence the ballot): a summary is the law, the stage, the reason.
//
// Thread-compatible: one DeadLetters per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "adapters/rabbitmq/amqp_connection.hpp"
#include "adapters/rabbitmq/rabbit_batch_publisher.hpp"
#include "adapters/rabbitmq/topology.hpp"
#include "core/result.hpp"

namespace scrutin::rabbitmq {

struct DeadLetterSummary {
  std::string routing_key;        // where it was going: vote.submitted, vote.accepted, ...
  std::string reason;             // x-scrutin-reason, else RabbitMQ's x-death, else "unknown"
  std::string source_queue;       // x-scrutin-source-queue when the worker set it aside
  std::size_t votes = 0;          // votes in it (0: it does not decode)
  std::vector<std::string> laws;  // the laws of its votes, each once
  bool replayable = false;        // decodes, and routing_key is one of the pipeline's
};

struct ReplayReport {
  std::size_t replayed = 0;  // messages published back (confirmed) and removed from votes.dead
  std::size_t votes = 0;     // votes in them
  std::size_t left = 0;      // messages left in votes.dead (not replayable)
};

class DeadLetters {
 public:
  static core::Result<std::unique_ptr<DeadLetters>> Open(const AmqpEndpoint& endpoint,
                                                         const Topology& topology,
                                                         ConnectionOptions options = {});

  // The first `limit` messages of votes.dead, left in place (in their order). Error when the
  // broker cannot be reached or the queue does not exist.
  core::Result<std::vector<DeadLetterSummary>> List(std::size_t limit);

  // Replays at most `limit` of the messages present when it starts (never one it has just
  // replayed and that came back). Error when the broker fails midway: what was confirmed stays
  // replayed, the rest stays in votes.dead (replaying again is safe).
  core::Result<ReplayReport> Replay(std::size_t limit);

 private:
  DeadLetters(std::unique_ptr<AmqpConnection> conn, Topology topology, AmqpEndpoint endpoint,
              ConnectionOptions options)
      : conn_(std::move(conn)),
        topology_(std::move(topology)),
        endpoint_(std::move(endpoint)),
        options_(std::move(options)) {}

  std::unique_ptr<AmqpConnection> conn_;
  Topology topology_;
  AmqpEndpoint endpoint_;
  ConnectionOptions options_;
};

// The summary of one dead-lettered message (exposed for tests).
DeadLetterSummary Summarise(const ReceivedMessage& message);

}  // namespace scrutin::rabbitmq
