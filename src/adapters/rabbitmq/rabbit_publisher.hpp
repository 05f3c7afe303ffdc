// RabbitPublisher: the distributed shape's front door (ports::VoteIntake). The api hands it hashed
// votes; it answers kDurable only once RabbitMQ has confirmed the vote as a persistent message on
// a durable queue (docs/architecture.md, guarantee 1), and kUnavailable (503) whenever that cannot
// be known.
//
// Submit() puts the vote in a bounded in-memory queue; it never blocks and never does I/O.
// `publisher_threads` threads, each with its own connection (RabbitBatchPublisher), take up to
// max_batch queued votes at a time and publish them as ONE message (vote_codec.hpp version 2; a
// few messages of kMaxVotesPerMessage votes at most if max_batch is larger) to votes.exchange with
// routing key vote.submitted, wait for the broker's confirms, then answer each vote by the fate of
// the message that carried it: kDurable (decision kPending) when that message was confirmed;
// kUnavailable when it was nacked, returned (unroutable) or left unanswered. While a thread waits
// for its confirms, new votes accumulate for the next batch, so under load many requests share
// one message and one confirm round trip (group commit at the broker; the broker's cost is per
// message, so this divides it by the batch size; confirm_rounds() vs votes_confirmed() shows it).
// With `linger`, a thread that finds a small batch waits that long (from the oldest vote's
// arrival) for more, trading a bounded delay for larger messages.
//
// When the broker is unreachable every thread reconnects with backoff; meanwhile Submit answers
// kUnavailable at once (nothing waits for a broker that is down) and Health() reports the "queue"
// check down with the cause. A kUnavailable vote may still have reached the queue (its confirm was
// lost): that is safe, as the validator recognises the request id, and the voter's retry is a new
// request that the ledger will see as a duplicate of the first.
//
// Thread-safety: Submit, Health and the counters may be called from any thread. Callbacks run on a
// publisher thread and must not block.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "adapters/rabbitmq/rabbit_batch_publisher.hpp"
#include "core/mutex.hpp"
#include "ports/vote_intake.hpp"

namespace scrutin::rabbitmq {

struct RabbitPublisherOptions {
  PublisherOptions publisher;  // endpoint, topology, confirm timeout, backoff
  std::size_t publisher_threads = 1;
  std::size_t max_batch = 500;  // votes per confirm round (and per message) at most
  // How long a thread that found fewer than max_batch votes queued waits for more before it
  // publishes, counted from when the oldest of them was queued. Fewer, larger messages (the
  // broker's cost is per message) for at most this much added latency; 0 = publish at once.
  std::chrono::microseconds linger{0};
  std::size_t max_queue = 50'000;  // votes waiting at most; beyond: kOverloaded
  // How often an idle thread services its connection (heartbeats, noticing a closed connection).
  std::chrono::milliseconds idle_poll{500};
  std::chrono::seconds retry_after_unavailable{5};
  std::chrono::seconds retry_after_overloaded{1};
};

class RabbitPublisher final : public ports::VoteIntake {
 public:
  // Starts the publisher threads after connecting one of them, so that a wrong URL or credentials
  // are reported at start-up. Error: the broker could not be reached or the topology declared.
  static core::Result<std::unique_ptr<RabbitPublisher>> Start(RabbitPublisherOptions options);
  ~RabbitPublisher() override;  // Stop()s

  void Submit(core::VoteEnvelope vote, Callback done) override;
  // One check, "queue": ok while at least one publisher connection is up.
  std::vector<ports::HealthCheck> Health() override;

  // Stops taking votes (later Submits answer kUnavailable), publishes what is queued while the
  // broker is reachable (answering the rest kUnavailable), and joins the threads. Idempotent.
  void Stop();

  std::size_t queue_depth() const;
  // Confirm round trips, messages confirmed and votes answered kDurable so far.
  std::uint64_t confirm_rounds() const { return confirm_rounds_.load(); }
  std::uint64_t messages_confirmed() const { return messages_confirmed_.load(); }
  std::uint64_t votes_confirmed() const { return votes_confirmed_.load(); }

 private:
  struct Pending {
    core::VoteEnvelope vote;
    Callback done;
    std::chrono::steady_clock::time_point queued_at;
  };
  struct Worker {
    std::unique_ptr<RabbitBatchPublisher> publisher;
    std::thread thread;
  };

  explicit RabbitPublisher(RabbitPublisherOptions options);
  void Loop(std::size_t index);
  void PublishAndAnswer(RabbitBatchPublisher& publisher, std::vector<Pending>& batch);
  void AnswerUnavailable(std::vector<Pending>& batch);
  void SetConnected(std::size_t index, bool connected, const std::string& error);

  const RabbitPublisherOptions options_;
  std::vector<Worker> workers_;

  mutable core::Mutex mu_;
  core::CondVar cv_;
  std::deque<Pending> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<bool> connected_ GUARDED_BY(mu_);  // per worker
  std::size_t connected_count_ GUARDED_BY(mu_) = 0;
  std::string last_error_ GUARDED_BY(mu_);

  std::atomic<std::uint64_t> confirm_rounds_{0};
  std::atomic<std::uint64_t> messages_confirmed_{0};
  std::atomic<std::uint64_t> votes_confirmed_{0};
};

// The message that carries submitted votes (routing key vote.submitted) on `topology`'s exchange;
// message_id is the first vote's request id. REQUIRES: 1 <= votes.size() <= kMaxVotesPerMessage.
OutgoingMessage SubmittedVotesMessage(const Topology& topology,
                                      std::span<const core::VoteEnvelope> votes);
OutgoingMessage SubmittedVoteMessage(const Topology& topology, const core::VoteEnvelope& vote);

// The messages that carry decided votes: one per routing key present (vote.accepted,
// vote.duplicate, vote.invalid), split at kMaxVotesPerMessage votes, votes in input order within
// each. Appended to `out`. REQUIRES: decisions.size() == votes.size(); no decision kPending.
void AppendDecidedVoteMessages(const Topology& topology, std::span<const core::VoteEnvelope> votes,
                               std::span<const core::Decision> decisions,
                               std::vector<OutgoingMessage>& out);
// One decided vote alone.
OutgoingMessage DecidedVoteMessage(const Topology& topology, const core::VoteEnvelope& vote,
                                   const core::Decision& decision);

}  // namespace scrutin::rabbitmq
