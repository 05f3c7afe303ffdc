// RabbitConsumer: takes votes off one queue in batches for a worker (validator: votes.validation;
// aggregator: votes.aggregation) and acknowledges them only once the worker says it is done.
//
// The unit of delivery is the MESSAGE, the unit of work the VOTE: a message carries one or more
// votes (vote_codec.hpp, version 2 batches; version 1 single votes are still read). The consumer
// unpacks every message into its votes and hands the handler votes; it acks a message only after
// the handler succeeded for every vote of that message.
//
// Delivery is AT-LEAST-ONCE: a message is acked only after the handler returned success for its
// batch, so a crash, a lost connection or a handler failure anywhere before the ack makes the
// broker deliver it again (with the redelivered flag, so every vote of it comes back), possibly to
// another worker. Handlers must therefore be idempotent per request id (the validator's claim tag,
// the aggregator's ON CONFLICT DO NOTHING): seeing a vote twice must change nothing the second
// time.
//
// A batch gathers messages until they hold max_batch votes (it may exceed that by less than one
// message's votes, kMaxVotesPerMessage at most) or max_wait passed since the first one; at most
// `prefetch` unacked MESSAGES are in flight (basic.qos). Bodies that do not decode never reach the
// handler: they are republished, unchanged, to the dead-letter exchange with an x-scrutin-reason
// header (and x-scrutin-source-queue), confirmed by the broker, and only then acked — never
// dropped; a malformed batch is set aside whole (a message decodes whole or not at all). The
// handler may also dead-letter a vote it cannot use (kDeadLetter with a reason) or ask for a
// redelivery of one (kRequeue):
//   - kRequeue of any vote requeues its whole message (the message's other votes come back too;
//     handlers are idempotent), and nothing of that message is dead-lettered this time;
//   - kDeadLetter of a vote that travelled alone republishes its message unchanged; of a vote
//     inside a multi-vote message, republishes that vote alone (a one-vote version 2 message of
//     the same kind) — in both cases to votes.dead with the reason, confirmed before the message
//     is acked. If that publish fails the message is requeued instead.
//
// When the handler fails, the error's code decides (core::ErrorCode):
//   - kRefused (the batch holds something the stage will never accept, e.g. a law it does not
//     know): the batch is split in halves, recursively, until the votes refused on their own are
//     found; the rest is handled normally. A refused vote's message is requeued (another worker,
//     configured differently, may accept it) until its `poison_tries`-th delivery, then the vote
//     is dead-lettered with the refusal as its reason. Classic queues do not count deliveries, so
//     there a refused vote is set aside at its first redelivery;
//   - anything else (a backend unreachable, kUnavailable; a ledger that lost its state,
//     kStateLost; unclassified): the consumer HOLDS the batch, unacknowledged, and calls the
//     handler again after a back-off (min_backoff doubling up to max_backoff), for as long as it
//     takes. Returning the messages instead would count a delivery each time and let an outage
//     dead-letter valid votes. While holding, the consumer keeps reading its connection (so
//     heartbeats flow), and keeps what arrives for the next batch. Stop() while holding requeues
//     the batch; a lost connection lets the broker redeliver it.
//
// On any connection failure the consumer reconnects with backoff (declaring the topology again
// when asked); unacked messages go back to the queue by the broker's own rules.
//
// Thread-safety: Run/RunOnce from one thread; Stop() and the counters from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "adapters/rabbitmq/amqp_connection.hpp"
#include "adapters/rabbitmq/rabbit_batch_publisher.hpp"
#include "adapters/rabbitmq/topology.hpp"
#include "adapters/rabbitmq/vote_codec.hpp"
#include "core/result.hpp"

namespace scrutin::rabbitmq {

struct ConsumerOptions {
  AmqpEndpoint endpoint;
  ConnectionOptions connection;
  Topology topology;
  std::string queue;  // e.g. topology.validation_queue
  bool declare_topology = true;
  std::uint16_t prefetch = 200;  // unacked messages at most
  std::size_t max_batch = 100;   // votes per handler call (see above)
  std::chrono::milliseconds max_wait{20};
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  // Deliveries of a message whose vote the handler refuses (kRefused) before that vote is set
  // aside in votes.dead (quorum queues; classic queues: 2).
  std::uint32_t poison_tries = 5;
  // Told about every failure (connection lost, handler error, ...), for the worker's log. Never
  // receives a credential (there is none at this layer). Called on the consumer's thread.
  std::function<void(const std::string&)> on_error;
};

struct InboundVote {
  core::VoteEnvelope vote;
  std::optional<core::Decision> decision;  // present for decided votes
  bool redelivered = false;                // the broker delivered this message before
  std::uint32_t delivery = 1;              // this delivery's number, when the queue counts (quorum)
  std::string routing_key;
};

enum class Disposition : std::uint8_t {
  kAck,         // done with it
  kRequeue,     // deliver it again later
  kDeadLetter,  // set it aside in votes.dead with `reason`
};

struct Outcome {
  Disposition disposition = Disposition::kAck;
  std::string reason;  // kDeadLetter: why (goes into the x-scrutin-reason header)
};

class RabbitConsumer {
 public:
  // Decides a batch of votes (the votes of one or more messages, in delivery order). Success:
  // outcomes[i] (kAck by default) applies to batch[i] as described above. Error: as described
  // above by its code (refused votes are isolated; otherwise the batch is held and handed again).
  // It may be called on parts of a batch (isolation) and several times on the same votes.
  // REQUIRES of the handler: outcomes.size() == batch.size() is given; do not keep the spans.
  using BatchHandler =
      std::function<core::Status(std::span<const InboundVote> batch, std::span<Outcome> outcomes)>;

  explicit RabbitConsumer(ConsumerOptions options);
  ~RabbitConsumer();

  // Handles batches until Stop(); reconnects with backoff on failures. Returns after Stop().
  void Run(const BatchHandler& handler);

  // One step: connects if needed, waits up to first_wait for a message, gathers a batch and
  // handles it (holding it through handler failures, see above). Returns how many messages were
  // settled (dead letters included). Error when the connection failed (after which the next call
  // reconnects, within the backoff) or Stop() interrupted a held batch.
  core::Result<std::size_t> RunOnce(const BatchHandler& handler,
                                    std::chrono::milliseconds first_wait);

  // Makes Run() return after the batch in progress. Thread-safe.
  void Stop() { stop_.store(true); }

  bool connected() const { return conn_ != nullptr && !conn_->broken(); }

  // Counters (thread-safe reads): messages taken off the queue, votes in them (decodable ones),
  // messages acked (dead letters included, once confirmed in votes.dead), messages requeued,
  // messages published to votes.dead (a whole unparsable message, or one rejected vote), and
  // handler failures that made the consumer hold its batch and retry.
  std::uint64_t delivered() const { return delivered_.load(); }
  std::uint64_t votes_delivered() const { return votes_delivered_.load(); }
  std::uint64_t acked() const { return acked_.load(); }
  std::uint64_t requeued() const { return requeued_.load(); }
  std::uint64_t dead_lettered() const { return dead_lettered_.load(); }
  std::uint64_t held_retries() const { return held_retries_.load(); }
  // True while the consumer holds a batch its handler failed on (a backend is down).
  bool holding() const { return holding_.load(); }

 private:
  struct Raw {
    std::uint64_t tag = 0;
    std::string body;
    std::string routing_key;
    std::string message_id;
    bool redelivered = false;
    std::uint32_t delivery = 1;      // from x-delivery-count (quorum queues), else 1 or 2
    std::vector<VoteMessage> votes;  // decoded; empty when unparsable
    std::string unparsable;          // why it does not decode; empty when it does
  };

  core::Status Connect();
  core::Status Fail(std::string why);
  core::Status Receive(std::vector<Raw>& raws, std::chrono::milliseconds first_wait);
  OutgoingMessage DeadLetterOf(const Raw& raw, std::string body, std::string message_id,
                               std::string reason) const;
  core::Status Settle(const std::vector<Raw>& raws, const std::vector<Disposition>& fate);
  // Calls the handler on `batch`; on kRefused splits it until the votes refused on their own are
  // found, and marks those kRequeue or kDeadLetter (poison_tries). Returns ok, or the first error
  // that is not a refusal (the caller holds and retries).
  core::Status HandleIsolating(const BatchHandler& handler, std::span<const InboundVote> batch,
                               std::span<Outcome> outcomes);
  // Waits `wait` while reading the connection (heartbeats), keeping deliveries in held_over_.
  core::Status Hold(std::chrono::milliseconds wait, std::size_t in_hand);
  void Report(const std::string& what);

  ConsumerOptions options_;
  std::unique_ptr<AmqpConnection> conn_;
  RabbitBatchPublisher dead_letters_;
  int failures_ = 0;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::string last_error_;
  // Set while a batch is received but not yet settled. Found set at the next RunOnce (the
  // handler threw through it), the connection is dropped so the broker redelivers that batch
  // rather than a later `multiple` ack settling it unhandled.
  bool unsettled_ = false;
  // Messages that arrived while a batch was held: the start of the next batch.
  std::vector<Raw> held_over_;

  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> votes_delivered_{0};
  std::atomic<std::uint64_t> acked_{0};
  std::atomic<std::uint64_t> requeued_{0};
  std::atomic<std::uint64_t> dead_lettered_{0};
  std::atomic<std::uint64_t> held_retries_{0};
  std::atomic<bool> holding_{false};
};

}  // namespace scrutin::rabbitmq
