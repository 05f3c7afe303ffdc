// The adapter against a real RabbitMQ 3.10 (the ctest fixture's node): topology, confirmed
// publishing, batching of confirms, consumption with redelivery, dead letters, queue depths.
#include <amqp.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "adapters/rabbitmq/dead_letters.hpp"
#include "adapters/rabbitmq/rabbit_batch_publisher.hpp"
#include "adapters/rabbitmq/rabbit_consumer.hpp"
#include "adapters/rabbitmq/rabbit_publisher.hpp"
#include "adapters/rabbitmq/rabbit_queue_monitor.hpp"
#include "adapters/rabbitmq/rabbit_test_support.hpp"
#include "adapters/rabbitmq/vote_codec.hpp"
#include "core/mutex.hpp"

namespace scrutin::rabbitmq {
namespace {

using namespace std::chrono_literals;
using testing::RabbitTest;
using testing::SampleVote;
using testing::WaitFor;

class RabbitAdapterTest : public RabbitTest {
 protected:
  PublisherOptions PubOptions() {
    PublisherOptions o;
    o.endpoint = endpoint_;
    o.topology = topology_;
    return o;
  }

  ConsumerOptions ConsOptions(const std::string& queue) {
    ConsumerOptions o;
    o.endpoint = endpoint_;
    o.topology = topology_;
    o.queue = queue;
    o.max_wait = 50ms;
    return o;
  }

  std::uint32_t Depth(const std::string& queue) {
    RabbitQueueMonitor monitor(endpoint_, options_, {queue});
    auto d = monitor.Depths();
    EXPECT_TRUE(d.ok()) << d.error();
    return d.ok() ? (*d)[0].messages : 0;
  }

  struct DeadLetterRead {
    std::string body, reason, source;
  };
  // Takes one message off votes.dead (basic.get, no ack needed).
  DeadLetterRead GetDeadLetter() {
    DeadLetterRead out;
    auto reader = Connect();
    if (reader == nullptr) return out;
    amqp_connection_state_t s = reader->state();
    amqp_basic_get(s, AmqpConnection::kChannel, amqp_cstring_bytes(topology_.dead_queue.c_str()),
                   /*no_ack=*/1);
    amqp_rpc_reply_t reply = amqp_get_rpc_reply(s);
    EXPECT_EQ(reply.reply_type, AMQP_RESPONSE_NORMAL);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL ||
        reply.reply.id != static_cast<amqp_method_number_t>(AMQP_BASIC_GET_OK_METHOD)) {
      ADD_FAILURE() << "no dead letter";
      return out;
    }
    amqp_message_t msg;
    if (amqp_read_message(s, AmqpConnection::kChannel, &msg, 0).reply_type !=
        AMQP_RESPONSE_NORMAL) {
      ADD_FAILURE() << "cannot read the dead letter";
      return out;
    }
    out.body.assign(static_cast<char*>(msg.body.bytes), msg.body.len);
    EXPECT_TRUE(msg.properties._flags & AMQP_BASIC_HEADERS_FLAG);
    if (msg.properties._flags & AMQP_BASIC_HEADERS_FLAG) {
      for (int i = 0; i < msg.properties.headers.num_entries; ++i) {
        const auto& e = msg.properties.headers.entries[i];
        std::string key(static_cast<char*>(e.key.bytes), e.key.len);
        std::string value(static_cast<char*>(e.value.value.bytes.bytes), e.value.value.bytes.len);
        if (key == kReasonHeader) out.reason = value;
        if (key == kSourceQueueHeader) out.source = value;
      }
    }
    amqp_destroy_message(&msg);
    return out;
  }

  // Publishes `votes` as one version 2 message on vote.submitted, confirmed.
  void PublishBatchMessage(const std::vector<core::VoteEnvelope>& votes) {
    RabbitBatchPublisher publisher(PubOptions());
    OutgoingMessage m = SubmittedVotesMessage(topology_, votes);
    ASSERT_TRUE(publisher.PublishAndConfirm(std::span(&m, 1)).ok()) << publisher.last_error();
  }

  // Consumes until `want` votes were handed over or `timeout` passed, acking everything.
  std::vector<InboundVote> Drain(const std::string& queue, std::size_t want,
                                 std::chrono::milliseconds timeout = 10s) {
    RabbitConsumer consumer(ConsOptions(queue));
    std::vector<InboundVote> seen;
    WaitFor(
        [&] {
          auto r = consumer.RunOnce(
              [&](std::span<const InboundVote> batch, std::span<Outcome>) {
                seen.insert(seen.end(), batch.begin(), batch.end());
                return core::Status();
              },
              100ms);
          EXPECT_TRUE(r.ok()) << r.error();
          return seen.size() >= want;
        },
        timeout);
    return seen;
  }
};

TEST_F(RabbitAdapterTest, TopologyDeclarationIsIdempotent) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(DeclareTopology(*conn, topology_).ok());
  ASSERT_TRUE(DeclareTopology(*conn, topology_).ok());
  auto other = Connect();
  ASSERT_TRUE(DeclareTopology(*other, topology_).ok());
  for (const std::string& q : topology_.Queues()) {
    auto info = conn->InspectQueue(q);
    ASSERT_TRUE(info.ok()) << info.error();
    EXPECT_EQ(info->messages, 0u);
  }

  // The same names as quorum queues: refused with the broker's reason, connection still usable.
  Topology quorum = topology_;
  quorum.queue_type = QueueType::kQuorum;
  auto clash = DeclareTopology(*conn, quorum);
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.error().find("PRECONDITION_FAILED"), std::string::npos) << clash.error();
  EXPECT_FALSE(conn->broken());
  EXPECT_TRUE(conn->InspectQueue(topology_.validation_queue).ok());

  // A missing queue is an error naming it, and the channel recovers.
  auto missing = conn->InspectQueue(topology_.validation_queue + ".nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("NOT_FOUND"), std::string::npos) << missing.error();
  EXPECT_TRUE(conn->InspectQueue(topology_.validation_queue).ok());
}

TEST_F(RabbitAdapterTest, QuorumQueuesCanBeSelected) {
  Topology quorum = Topology::WithPrefix(testing::UniquePrefix(), QueueType::kQuorum);
  auto conn = Connect();
  ASSERT_TRUE(DeclareTopology(*conn, quorum).ok());
  ASSERT_TRUE(DeclareTopology(*conn, quorum).ok());
  // Classic over quorum is refused: the type is checked, not silently changed.
  Topology classic = quorum;
  classic.queue_type = QueueType::kClassic;
  EXPECT_FALSE(DeclareTopology(*conn, classic).ok());

  PublisherOptions po = PubOptions();
  po.topology = quorum;
  RabbitBatchPublisher publisher(po);
  std::vector<OutgoingMessage> msgs;
  for (int i = 0; i < 20; ++i) msgs.push_back(SubmittedVoteMessage(quorum, SampleVote(i)));
  ASSERT_TRUE(publisher.PublishAndConfirm(msgs).ok()) << publisher.last_error();
  EXPECT_EQ(conn->InspectQueue(quorum.validation_queue)->messages, 20u);
  for (const std::string& q : quorum.Queues()) (void)conn->DeleteQueue(q);
}

TEST_F(RabbitAdapterTest, SubmittedVotesAreConfirmedThenConsumedExactlyOnceEach) {
  RabbitPublisherOptions o;
  o.publisher = PubOptions();
  o.publisher_threads = 2;
  auto publisher = RabbitPublisher::Start(o);
  ASSERT_TRUE(publisher.ok()) << publisher.error();
  auto health = (*publisher)->Health();
  ASSERT_EQ(health.size(), 1u);
  EXPECT_EQ(health[0].name, "queue");
  EXPECT_TRUE(health[0].ok) << health[0].detail;

  // Many concurrent submitters, like the HTTP threads of an api under load.
  constexpr int kThreads = 8, kPerThread = 500, kTotal = kThreads * kPerThread;
  core::Mutex mu;
  std::set<std::string> durable_ids;
  std::atomic<int> answered{0}, not_durable{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto vote = SampleVote(t * kPerThread + i);
        const std::string id = vote.request_id.ToString();
        (*publisher)->Submit(std::move(vote), [&, id](ports::IntakeResult r) {
          if (r.kind == ports::IntakeResult::Kind::kDurable) {
            EXPECT_EQ(r.decision.status, core::VoteStatus::kPending);
            core::MutexLock lock(mu);
            durable_ids.insert(id);
          } else {
            ++not_durable;
          }
          ++answered;
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(WaitFor([&] { return answered.load() == kTotal; }, 30s)) << answered.load();
  EXPECT_EQ(not_durable.load(), 0);
  ASSERT_EQ(durable_ids.size(), static_cast<std::size_t>(kTotal));
  EXPECT_EQ((*publisher)->votes_confirmed(), static_cast<std::uint64_t>(kTotal));
  // Group commit at the broker: far fewer confirm round trips, and messages, than votes (each
  // publisher thread's batch travels as one message).
  const auto rounds = (*publisher)->confirm_rounds();
  const auto messages = (*publisher)->messages_confirmed();
  EXPECT_GT(rounds, 0u);
  EXPECT_LT(rounds * 10, static_cast<std::uint64_t>(kTotal)) << rounds << " confirm rounds";
  EXPECT_GE(messages, rounds);
  EXPECT_LT(messages * 10, static_cast<std::uint64_t>(kTotal)) << messages << " messages";
  RecordProperty("confirm_rounds", static_cast<int>(rounds));
  RecordProperty("messages", static_cast<int>(messages));

  EXPECT_EQ(Depth(topology_.validation_queue), static_cast<std::uint32_t>(messages));
  auto seen = Drain(topology_.validation_queue, kTotal);
  std::set<std::string> seen_ids;
  for (const InboundVote& v : seen) {
    EXPECT_FALSE(v.redelivered);
    EXPECT_FALSE(v.decision.has_value());
    EXPECT_EQ(v.routing_key, "vote.submitted");
    seen_ids.insert(v.vote.request_id.ToString());
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kTotal));
  EXPECT_EQ(seen_ids, durable_ids);
  EXPECT_EQ(Depth(topology_.validation_queue), 0u);

  (*publisher)->Stop();
  bool refused = false;
  (*publisher)->Submit(SampleVote(1), [&](ports::IntakeResult r) {
    refused = r.kind == ports::IntakeResult::Kind::kUnavailable;
  });
  EXPECT_TRUE(refused);
}

TEST_F(RabbitAdapterTest, LingerGathersStragglersIntoOneMessage) {
  RabbitPublisherOptions o;
  o.publisher = PubOptions();
  o.linger = 300ms;
  auto publisher = RabbitPublisher::Start(o);
  ASSERT_TRUE(publisher.ok()) << publisher.error();
  std::atomic<int> durable{0};
  auto submit = [&](int n) {
    (*publisher)->Submit(SampleVote(n), [&](ports::IntakeResult r) {
      durable += r.kind == ports::IntakeResult::Kind::kDurable;
    });
  };
  const auto start = std::chrono::steady_clock::now();
  submit(0);
  std::this_thread::sleep_for(50ms);  // without the linger, vote 0 would be published alone
  for (int i = 1; i < 10; ++i) submit(i);
  ASSERT_TRUE(WaitFor([&] { return durable.load() == 10; }, 5s)) << durable.load();
  EXPECT_EQ((*publisher)->messages_confirmed(), 1u);
  EXPECT_EQ((*publisher)->votes_confirmed(), 10u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);  // waited for more, from vote 0
  EXPECT_EQ(Depth(topology_.validation_queue), 1u);
}

TEST_F(RabbitAdapterTest, FullQueueAnswersOverloadedNotDurable) {
  RabbitPublisherOptions o;
  o.publisher = PubOptions();
  o.max_queue = 0;  // every vote finds the queue full
  auto publisher = RabbitPublisher::Start(o);
  ASSERT_TRUE(publisher.ok()) << publisher.error();
  ports::IntakeResult got;
  (*publisher)->Submit(SampleVote(1), [&](ports::IntakeResult r) { got = r; });
  EXPECT_EQ(got.kind, ports::IntakeResult::Kind::kOverloaded);
  EXPECT_EQ(Depth(topology_.validation_queue), 0u);
}

TEST_F(RabbitAdapterTest, DecidedVotesAreRoutedByStatus) {
  RabbitBatchPublisher publisher(PubOptions());
  std::vector<OutgoingMessage> msgs;
  const core::VoteStatus statuses[] = {core::VoteStatus::kAccepted, core::VoteStatus::kAccepted,
                                       core::VoteStatus::kAccepted, core::VoteStatus::kDuplicate,
                                       core::VoteStatus::kInvalid};
  for (int i = 0; i < 5; ++i) {
    msgs.push_back(DecidedVoteMessage(
        topology_, SampleVote(i),
        {statuses[i], statuses[i] == core::VoteStatus::kDuplicate ? 2u : 1u, false}));
  }
  ASSERT_TRUE(publisher.PublishAndConfirm(msgs).ok()) << publisher.last_error();
  EXPECT_EQ(publisher.confirm_rounds(), 1u);
  EXPECT_EQ(Depth(topology_.aggregation_queue), 3u);
  EXPECT_EQ(Depth(topology_.review_queue), 2u);
  EXPECT_EQ(Depth(topology_.validation_queue), 0u);

  auto review = Drain(topology_.review_queue, 2);
  ASSERT_EQ(review.size(), 2u);
  std::multiset<core::VoteStatus> got;
  for (const auto& v : review) {
    ASSERT_TRUE(v.decision.has_value());
    got.insert(v.decision->status);
  }
  EXPECT_EQ(got, (std::multiset<core::VoteStatus>{core::VoteStatus::kDuplicate,
                                                  core::VoteStatus::kInvalid}));
}

TEST_F(RabbitAdapterTest, UnroutableMessagesAreReturnedNotConfirmed) {
  RabbitBatchPublisher publisher(PubOptions());
  std::vector<OutgoingMessage> msgs;
  for (int i = 0; i < 4; ++i) msgs.push_back(SubmittedVoteMessage(topology_, SampleVote(i)));
  msgs[2].routing_key = "vote.nowhere";  // no queue bound
  std::vector<Delivery> fate(msgs.size());
  ASSERT_TRUE(publisher.PublishBatch(msgs, fate).ok()) << publisher.last_error();
  EXPECT_EQ(fate[0], Delivery::kConfirmed);
  EXPECT_EQ(fate[1], Delivery::kConfirmed);
  EXPECT_EQ(fate[2], Delivery::kReturned);
  EXPECT_EQ(fate[3], Delivery::kConfirmed);
  EXPECT_FALSE(publisher.PublishAndConfirm(msgs).ok());
  EXPECT_TRUE(publisher.connected());  // a return is not a connection failure
}

// A backend down (Redis, PostgreSQL): the consumer holds its batch and hands it again, without
// returning it to the broker (which would count deliveries toward the dead-letter limit).
TEST_F(RabbitAdapterTest, FailedHandlerHoldsItsBatchAndRetriesItWithoutARedelivery) {
  RabbitBatchPublisher publisher(PubOptions());
  constexpr int kVotes = 60;
  std::vector<OutgoingMessage> msgs;
  std::set<std::string> sent;
  for (int i = 0; i < kVotes; ++i) {
    auto v = SampleVote(i);
    sent.insert(v.request_id.ToString());
    msgs.push_back(SubmittedVoteMessage(topology_, v));
  }
  ASSERT_TRUE(publisher.PublishAndConfirm(msgs).ok()) << publisher.last_error();

  ConsumerOptions co = ConsOptions(topology_.validation_queue);
  co.max_batch = 25;
  co.prefetch = 30;
  co.min_backoff = 10ms;
  co.max_backoff = 40ms;
  std::vector<std::string> errors;
  co.on_error = [&](const std::string& e) { errors.push_back(e); };
  RabbitConsumer consumer(co);

  // First batch: the handler fails three times (kUnavailable, kStateLost, unclassified), then
  // succeeds: one RunOnce, the same votes each time, no redelivery.
  std::vector<std::set<std::string>> calls;
  int failures = 0;
  const core::ErrorCode codes[] = {core::ErrorCode::kUnavailable, core::ErrorCode::kStateLost,
                                   core::ErrorCode::kUnknown};
  std::set<std::string> failed;
  auto first = consumer.RunOnce(
      [&](std::span<const InboundVote> batch, std::span<Outcome>) {
        std::set<std::string> ids;
        for (const auto& v : batch) {
          ids.insert(v.vote.request_id.ToString());
          EXPECT_FALSE(v.redelivered);
        }
        calls.push_back(ids);
        if (failures < 3) {
          return core::Status(core::Fail(codes[failures++], std::string("ledger unreachable")));
        }
        return core::Status();
      },
      2000ms);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_EQ(calls.size(), 4u);
  for (const auto& c : calls) EXPECT_EQ(c, calls[0]);
  failed = calls[0];
  ASSERT_FALSE(failed.empty());
  EXPECT_EQ(consumer.held_retries(), 3u);
  EXPECT_EQ(consumer.requeued(), 0u);
  EXPECT_FALSE(consumer.holding());
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_NE(errors[1].find("state_lost"), std::string::npos) << errors[1];

  // Then: one vote per batch asks for a requeue, the rest is acked; keep going until all seen.
  std::set<std::string> done(failed), redelivered_ids;
  std::size_t requeue_asks = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = consumer.RunOnce(
            [&](std::span<const InboundVote> batch, std::span<Outcome> outcomes) {
              for (std::size_t i = 0; i < batch.size(); ++i) {
                const std::string id = batch[i].vote.request_id.ToString();
                if (batch[i].redelivered) redelivered_ids.insert(id);
                if (i == 0 && requeue_asks < 3) {
                  outcomes[i].disposition = Disposition::kRequeue;
                  ++requeue_asks;
                  continue;
                }
                EXPECT_TRUE(done.insert(id).second) << "acked twice: " << id;
              }
              return core::Status();
            },
            500ms);
        EXPECT_TRUE(r.ok()) << r.error();
        return done.size() == kVotes;
      },
      20s));
  EXPECT_EQ(done, sent);
  // The held batch was acked once held: none of its votes came back.
  for (const auto& id : failed) EXPECT_FALSE(redelivered_ids.count(id)) << id;
  EXPECT_EQ(Depth(topology_.validation_queue), 0u);
}

// Quorum queues: a vote the stage refuses on its own is found inside its batch (the others are
// handled), goes back to the queue until its poison_tries-th delivery, then to votes.dead with the
// refusal as its reason; `deadletter list` shows it and `replay` puts it back where it came from.
TEST_F(RabbitAdapterTest, RefusedVoteIsIsolatedRetriedThenDeadLetteredAndReplayable) {
  topology_.queue_type = QueueType::kQuorum;
  RabbitBatchPublisher publisher(PubOptions());
  std::vector<core::VoteEnvelope> votes;
  for (int i = 0; i < 10; ++i) votes.push_back(SampleVote(i));
  votes[6].law_id = "L9999-999";  // a law this worker does not know
  PublishBatchMessage(std::vector<core::VoteEnvelope>(votes.begin(), votes.begin() + 5));
  std::vector<OutgoingMessage> singles;
  for (int i = 5; i < 10; ++i) singles.push_back(SubmittedVoteMessage(topology_, votes[i]));
  ASSERT_TRUE(publisher.PublishAndConfirm(singles).ok()) << publisher.last_error();

  ConsumerOptions co = ConsOptions(topology_.validation_queue);
  co.poison_tries = 3;
  auto consumer = std::make_unique<RabbitConsumer>(co);
  std::map<std::string, int> handled;  // successful handler calls per vote
  std::vector<std::uint32_t> poison_deliveries;
  auto handler = [&](std::span<const InboundVote> batch, std::span<Outcome>) {
    for (const auto& v : batch) {
      if (v.vote.law_id == "L9999-999") {
        poison_deliveries.push_back(v.delivery);
        return core::Status(
            core::Fail(core::ErrorCode::kRefused, std::string("law not on the ballot")));
      }
    }
    for (const auto& v : batch) ++handled[v.vote.request_id.ToString()];
    return core::Status();
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = consumer->RunOnce(handler, 200ms);
        EXPECT_TRUE(r.ok()) << r.error();
        return consumer->dead_lettered() == 1 && handled.size() == 9;
      },
      20s));
  for (int i = 0; i < 10; ++i) {
    if (i == 6) continue;
    EXPECT_GE(handled[votes[i].request_id.ToString()], 1) << i;
  }
  EXPECT_EQ(handled.count(votes[6].request_id.ToString()), 0u);
  // Delivered 1, 2, 3 (x-delivery-count), set aside at the third.
  ASSERT_FALSE(poison_deliveries.empty());
  EXPECT_EQ(poison_deliveries.back(), 3u);
  EXPECT_EQ(Depth(topology_.validation_queue), 0u);
  EXPECT_EQ(Depth(topology_.dead_queue), 1u);
  consumer.reset();  // so that the replayed vote waits in the queue

  auto dead = DeadLetters::Open(endpoint_, topology_);
  ASSERT_TRUE(dead.ok()) << dead.error();
  auto listed = (*dead)->List(10);
  ASSERT_TRUE(listed.ok()) << listed.error();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].routing_key, kSubmittedKey);
  EXPECT_NE((*listed)[0].reason.find("refused 3 times: law not on the ballot"), std::string::npos)
      << (*listed)[0].reason;
  EXPECT_EQ((*listed)[0].laws, std::vector<std::string>{"L9999-999"});
  EXPECT_TRUE((*listed)[0].replayable);
  EXPECT_EQ(Depth(topology_.dead_queue), 1u);  // listing leaves it there

  auto replayed = (*dead)->Replay(10);
  ASSERT_TRUE(replayed.ok()) << replayed.error();
  EXPECT_EQ(replayed->replayed, 1u);
  EXPECT_EQ(replayed->votes, 1u);
  dead->reset();
  EXPECT_TRUE(WaitFor([&] { return Depth(topology_.dead_queue) == 0; }, 5s));
  EXPECT_TRUE(WaitFor([&] { return Depth(topology_.validation_queue) == 1; }, 5s));
  auto back = Drain(topology_.validation_queue, 1);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].vote.request_id, votes[6].request_id);
}

// Quorum queues are declared with a delivery limit and at-least-once dead-lettering: a message
// that keeps coming back without an ack (a worker that dies on it) ends in votes.dead with
// RabbitMQ's reason, never dropped.
TEST_F(RabbitAdapterTest, QuorumQueueDeadLettersAMessageDeliveredTooOften) {
  topology_.queue_type = QueueType::kQuorum;
  topology_.delivery_limit = 2;
  RabbitBatchPublisher publisher(PubOptions());
  OutgoingMessage m = SubmittedVoteMessage(topology_, SampleVote(1));
  ASSERT_TRUE(publisher.PublishAndConfirm(std::span(&m, 1)).ok()) << publisher.last_error();
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  for (int i = 0; i < 8 && Depth(topology_.dead_queue) == 0; ++i) {
    auto got = conn->Get(topology_.validation_queue);
    ASSERT_TRUE(got.ok()) << got.error();
    if (!got->has_value()) {
      std::this_thread::sleep_for(100ms);
      continue;
    }
    ASSERT_TRUE(conn->Nack((*got)->delivery_tag, false, /*requeue=*/true).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return Depth(topology_.dead_queue) == 1; }, 5s));
  EXPECT_EQ(Depth(topology_.validation_queue), 0u);
  auto dead = DeadLetters::Open(endpoint_, topology_);
  ASSERT_TRUE(dead.ok()) << dead.error();
  auto listed = (*dead)->List(10);
  ASSERT_TRUE(listed.ok()) << listed.error();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_NE((*listed)[0].reason.find("delivery_limit"), std::string::npos) << (*listed)[0].reason;
  EXPECT_TRUE((*listed)[0].replayable);
}

TEST_F(RabbitAdapterTest, LostConsumerConnectionRedeliversUnackedMessages) {
  RabbitBatchPublisher publisher(PubOptions());
  std::vector<OutgoingMessage> msgs;
  for (int i = 0; i < 10; ++i) msgs.push_back(SubmittedVoteMessage(topology_, SampleVote(i)));
  ASSERT_TRUE(publisher.PublishAndConfirm(msgs).ok());
  {
    // A worker that dies in its handler (destroyed without acking: its connection closes).
    RabbitConsumer dying(ConsOptions(topology_.validation_queue));
    std::size_t got = 0;
    struct Crash {};
    try {
      (void)dying.RunOnce(
          [&](std::span<const InboundVote> batch, std::span<Outcome>) -> core::Status {
            got = batch.size();
            throw Crash{};
          },
          2000ms);
    } catch (const Crash&) {
    }
    ASSERT_GT(got, 0u);
  }
  auto seen = Drain(topology_.validation_queue, 10);
  ASSERT_EQ(seen.size(), 10u);
  std::size_t redelivered = 0;
  for (const auto& v : seen) redelivered += v.redelivered;
  EXPECT_GT(redelivered, 0u);
}

TEST_F(RabbitAdapterTest, BatchAbandonedByAThrowingHandlerIsRedeliveredNotAcked) {
  RabbitBatchPublisher publisher(PubOptions());
  std::vector<OutgoingMessage> msgs;
  for (int i = 0; i < 10; ++i) msgs.push_back(SubmittedVoteMessage(topology_, SampleVote(i)));
  ASSERT_TRUE(publisher.PublishAndConfirm(msgs).ok());
  ConsumerOptions co = ConsOptions(topology_.validation_queue);
  co.max_batch = 4;
  co.min_backoff = 1ms;
  RabbitConsumer consumer(co);
  struct Crash {};
  std::size_t abandoned = 0;
  try {
    (void)consumer.RunOnce(
        [&](std::span<const InboundVote> batch, std::span<Outcome>) -> core::Status {
          abandoned = batch.size();
          throw Crash{};
        },
        2000ms);
  } catch (const Crash&) {
  }
  ASSERT_GT(abandoned, 0u);
  // The same consumer carries on: the abandoned batch must come back, not be acked unseen by the
  // next batch's `multiple` ack.
  std::set<std::string> seen;
  std::size_t redelivered = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        (void)consumer.RunOnce(
            [&](std::span<const InboundVote> batch, std::span<Outcome>) {
              for (const auto& v : batch) {
                seen.insert(v.vote.request_id.ToString());
                redelivered += v.redelivered;
              }
              return core::Status();
            },
            200ms);
        return seen.size() == 10;
      },
      10s))
      << seen.size();
  // At least the abandoned batch (the rest of the prefetched messages come back with it).
  EXPECT_GE(redelivered, abandoned);
  EXPECT_EQ(Depth(topology_.validation_queue), 0u);
}

TEST_F(RabbitAdapterTest, UnparsableMessagesGoToTheDeadLetterQueueWithAReason) {
  auto conn = Connect();
  ASSERT_TRUE(DeclareTopology(*conn, topology_).ok());
  ASSERT_TRUE(conn->EnableConfirms().ok());
  OutgoingMessage garbage;
  garbage.exchange = topology_.exchange;
  garbage.routing_key = "vote.submitted";
  garbage.body = "{\"nas\":\"not here\"}";
  garbage.message_id = "garbage-1";
  ASSERT_TRUE(conn->Publish(garbage, true).ok());
  RabbitBatchPublisher publisher(PubOptions());
  auto good = SampleVote(7);
  OutgoingMessage good_msg = SubmittedVoteMessage(topology_, good);
  ASSERT_TRUE(publisher.PublishAndConfirm(std::span(&good_msg, 1)).ok());
  ASSERT_TRUE(WaitFor([&] { return Depth(topology_.validation_queue) == 2; }, 5s));

  RabbitConsumer consumer(ConsOptions(topology_.validation_queue));
  std::vector<std::string> handled;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = consumer.RunOnce(
            [&](std::span<const InboundVote> batch, std::span<Outcome>) {
              for (const auto& v : batch) handled.push_back(v.vote.request_id.ToString());
              return core::Status();
            },
            500ms);
        EXPECT_TRUE(r.ok()) << r.error();
        return consumer.delivered() == 2;
      },
      10s));
  EXPECT_EQ(handled, std::vector<std::string>{good.request_id.ToString()});
  EXPECT_EQ(consumer.dead_lettered(), 1u);
  EXPECT_EQ(Depth(topology_.validation_queue), 0u);
  ASSERT_EQ(Depth(topology_.dead_queue), 1u);

  // The dead letter: same body, the reason and the source queue in its headers.
  auto letter = GetDeadLetter();
  EXPECT_EQ(letter.body, garbage.body);
  EXPECT_NE(letter.reason.find("unparsable"), std::string::npos) << letter.reason;
  EXPECT_EQ(letter.source, topology_.validation_queue);
}

TEST_F(RabbitAdapterTest, HandlerCanDeadLetterAVoteItCannotUse) {
  RabbitBatchPublisher publisher(PubOptions());
  std::vector<OutgoingMessage> msgs;
  for (int i = 0; i < 3; ++i) msgs.push_back(SubmittedVoteMessage(topology_, SampleVote(i)));
  ASSERT_TRUE(publisher.PublishAndConfirm(msgs).ok());
  RabbitConsumer consumer(ConsOptions(topology_.validation_queue));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = consumer.RunOnce(
            [&](std::span<const InboundVote> batch, std::span<Outcome> outcomes) {
              for (std::size_t i = 0; i < batch.size(); ++i) {
                if (batch[i].vote.ballot[0] == 1) {
                  outcomes[i] = {Disposition::kDeadLetter, "unknown law"};
                }
              }
              return core::Status();
            },
            500ms);
        EXPECT_TRUE(r.ok()) << r.error();
        return consumer.delivered() == 3;
      },
      10s));
  EXPECT_EQ(consumer.dead_lettered(), 1u);  // SampleVote(1) is the only one marked
  EXPECT_EQ(consumer.acked(), 3u);  // the dead letter too, once it was confirmed in votes.dead
  EXPECT_EQ(Depth(topology_.dead_queue), 1u);
  EXPECT_EQ(Depth(topology_.validation_queue), 0u);
}

// ---- batch messages (vote_codec.hpp version 2) -------------------------------------------------

TEST_F(RabbitAdapterTest, DecidedVotesTravelAsOneMessagePerRoutingKey) {
  RabbitBatchPublisher publisher(PubOptions());
  std::vector<core::VoteEnvelope> votes;
  std::vector<core::Decision> decisions;
  for (int i = 0; i < 9; ++i) {
    votes.push_back(SampleVote(i));
    decisions.push_back(i < 6   ? core::Decision{core::VoteStatus::kAccepted, 1, false}
                        : i < 8 ? core::Decision{core::VoteStatus::kDuplicate, 2, false}
                                : core::Decision{core::VoteStatus::kInvalid, 1, false});
  }
  std::vector<OutgoingMessage> msgs;
  AppendDecidedVoteMessages(topology_, votes, decisions, msgs);
  ASSERT_EQ(msgs.size(), 3u);
  ASSERT_TRUE(publisher.PublishAndConfirm(msgs).ok()) << publisher.last_error();
  EXPECT_EQ(Depth(topology_.aggregation_queue), 1u);
  EXPECT_EQ(Depth(topology_.review_queue), 2u);

  auto accepted = Drain(topology_.aggregation_queue, 6);
  ASSERT_EQ(accepted.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(accepted[i].vote.request_id, votes[i].request_id);  // in order
    ASSERT_TRUE(accepted[i].decision.has_value());
    EXPECT_EQ(accepted[i].decision->status, core::VoteStatus::kAccepted);
    EXPECT_EQ(accepted[i].routing_key, "vote.accepted");
  }
  auto review = Drain(topology_.review_queue, 3);
  ASSERT_EQ(review.size(), 3u);
  for (const auto& v : review) {
    ASSERT_TRUE(v.decision.has_value());
    EXPECT_EQ(v.routing_key, v.decision->status == core::VoteStatus::kDuplicate ? "vote.duplicate"
                                                                                : "vote.invalid");
  }
}

TEST_F(RabbitAdapterTest, MaxBatchCountsVotesNotMessages) {
  RabbitBatchPublisher publisher(PubOptions());
  std::vector<OutgoingMessage> msgs;
  for (int m = 0; m < 5; ++m) {
    std::vector<core::VoteEnvelope> votes;
    for (int i = 0; i < 40; ++i) votes.push_back(SampleVote(m * 40 + i));
    msgs.push_back(SubmittedVotesMessage(topology_, votes));
  }
  ASSERT_TRUE(publisher.PublishAndConfirm(msgs).ok()) << publisher.last_error();
  ConsumerOptions co = ConsOptions(topology_.validation_queue);
  co.max_batch = 100;
  co.max_wait = 2000ms;  // the batch must end on its vote count, not on time
  {
    RabbitConsumer consumer(co);
    std::size_t first_batch = 0;
    auto r = consumer.RunOnce(
        [&](std::span<const InboundVote> batch, std::span<Outcome>) {
          first_batch = batch.size();
          return core::Status();
        },
        2000ms);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(*r, 3u);             // messages: 40 + 40 + 40 >= 100
    EXPECT_EQ(first_batch, 120u);  // whole messages, never split
    EXPECT_EQ(consumer.votes_delivered(), 120u);
    EXPECT_EQ(consumer.acked(), 3u);
  }
  // The other two were prefetched, not handled: back in the queue once the consumer is gone.
  EXPECT_TRUE(WaitFor([&] { return Depth(topology_.validation_queue) == 2u; }, 5s));
}

TEST_F(RabbitAdapterTest, UnackedBatchMessageIsRedeliveredWhole) {
  std::vector<core::VoteEnvelope> votes;
  std::set<std::string> sent;
  for (int i = 0; i < 50; ++i) {
    votes.push_back(SampleVote(i));
    sent.insert(votes.back().request_id.ToString());
  }
  PublishBatchMessage(votes);
  {
    // A worker that dies in its handler: the message is not acked, its connection closes.
    RabbitConsumer dying(ConsOptions(topology_.validation_queue));
    std::size_t got = 0;
    struct Crash {};
    try {
      (void)dying.RunOnce(
          [&](std::span<const InboundVote> batch, std::span<Outcome>) -> core::Status {
            got = batch.size();
            throw Crash{};
          },
          2000ms);
    } catch (const Crash&) {
    }
    ASSERT_EQ(got, 50u);
  }
  {
    // A handler that asks for one vote again: the whole message comes back, every vote of it.
    // (Closed before the drain below, so the requeued message cannot sit in its prefetch.)
    RabbitConsumer consumer(ConsOptions(topology_.validation_queue));
    auto r = consumer.RunOnce(
        [&](std::span<const InboundVote> batch, std::span<Outcome> outcomes) {
          EXPECT_EQ(batch.size(), 50u);
          for (const auto& v : batch) EXPECT_TRUE(v.redelivered);
          outcomes[17].disposition = Disposition::kRequeue;
          return core::Status();
        },
        2000ms);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(consumer.votes_delivered(), 50u);
    EXPECT_EQ(consumer.requeued(), 1u);
    EXPECT_EQ(consumer.acked(), 0u);
  }

  auto seen = Drain(topology_.validation_queue, 50);
  std::set<std::string> ids;
  for (const auto& v : seen) {
    EXPECT_TRUE(v.redelivered);
    ids.insert(v.vote.request_id.ToString());
  }
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_EQ(ids, sent);
  EXPECT_EQ(Depth(topology_.validation_queue), 0u);
}

TEST_F(RabbitAdapterTest, MalformedBatchGoesToTheDeadLetterQueueWhole) {
  std::vector<core::VoteEnvelope> votes = {SampleVote(1), SampleVote(2), SampleVote(3)};
  OutgoingMessage bad = SubmittedVotesMessage(topology_, votes);
  bad.body[4 + 106 + votes[0].law_id.size() + 105] = 0;  // the second vote's law id length
  auto good = SampleVote(4);
  RabbitBatchPublisher publisher(PubOptions());
  std::vector<OutgoingMessage> msgs = {bad, SubmittedVoteMessage(topology_, good)};
  ASSERT_TRUE(publisher.PublishAndConfirm(msgs).ok()) << publisher.last_error();

  RabbitConsumer consumer(ConsOptions(topology_.validation_queue));
  std::vector<std::string> handled;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = consumer.RunOnce(
            [&](std::span<const InboundVote> batch, std::span<Outcome>) {
              for (const auto& v : batch) handled.push_back(v.vote.request_id.ToString());
              return core::Status();
            },
            500ms);
        EXPECT_TRUE(r.ok()) << r.error();
        return consumer.delivered() == 2;
      },
      10s));
  // No vote of the malformed message reached the handler, not even its well-formed first one.
  EXPECT_EQ(handled, std::vector<std::string>{good.request_id.ToString()});
  EXPECT_EQ(consumer.dead_lettered(), 1u);
  EXPECT_EQ(consumer.acked(), 2u);
  EXPECT_EQ(Depth(topology_.validation_queue), 0u);
  ASSERT_EQ(Depth(topology_.dead_queue), 1u);
  auto letter = GetDeadLetter();
  EXPECT_EQ(letter.body, bad.body);  // unchanged
  EXPECT_NE(letter.reason.find("unparsable: bad law_id length 0 (vote 2 of 3)"), std::string::npos)
      << letter.reason;
  EXPECT_EQ(letter.source, topology_.validation_queue);
}

TEST_F(RabbitAdapterTest, VoteDeadLetteredInsideABatchIsSetAsideAlone) {
  std::vector<core::VoteEnvelope> votes;
  for (int i = 0; i < 5; ++i) votes.push_back(SampleVote(i * 2));  // none marked
  votes[3].ballot[0] = 1;
  PublishBatchMessage(votes);
  RabbitConsumer consumer(ConsOptions(topology_.validation_queue));
  std::size_t handled = 0;
  auto r = consumer.RunOnce(
      [&](std::span<const InboundVote> batch, std::span<Outcome> outcomes) {
        handled += batch.size();
        for (std::size_t i = 0; i < batch.size(); ++i) {
          if (batch[i].vote.ballot[0] == 1) {
            outcomes[i] = {Disposition::kDeadLetter, "unknown law"};
          }
        }
        return core::Status();
      },
      2000ms);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(handled, 5u);
  EXPECT_EQ(consumer.dead_lettered(), 1u);
  EXPECT_EQ(consumer.acked(), 1u);  // the message, once the dead letter was confirmed
  EXPECT_EQ(Depth(topology_.validation_queue), 0u);
  ASSERT_EQ(Depth(topology_.dead_queue), 1u);
  auto letter = GetDeadLetter();
  EXPECT_EQ(letter.reason, "unknown law");
  EXPECT_EQ(letter.source, topology_.validation_queue);
  auto decoded = DecodeVoteMessages(letter.body);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  ASSERT_EQ(decoded->size(), 1u);  // that vote alone
  EXPECT_EQ((*decoded)[0].vote.request_id, votes[3].request_id);
  EXPECT_EQ((*decoded)[0].vote.digest, votes[3].digest);
}

// A message of a release before sealed ballots (the choice in clear) is set aside with the reason,
// never decoded as a vote.
TEST_F(RabbitAdapterTest, MessagesOfAReleaseBeforeSealedBallotsAreSetAsideWithTheReason) {
  auto conn = Connect();
  ASSERT_TRUE(DeclareTopology(*conn, topology_).ok());
  std::vector<core::VoteEnvelope> votes = {SampleVote(1)};
  OutgoingMessage old = SubmittedVotesMessage(topology_, votes);
  old.body[0] = 2;  // version 2
  RabbitBatchPublisher publisher(PubOptions());
  std::vector<OutgoingMessage> msgs = {old};
  ASSERT_TRUE(publisher.PublishAndConfirm(msgs).ok()) << publisher.last_error();
  RabbitConsumer consumer(ConsOptions(topology_.validation_queue));
  std::size_t handled = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = consumer.RunOnce(
            [&](std::span<const InboundVote> batch, std::span<Outcome>) {
              handled += batch.size();
              return core::Status();
            },
            500ms);
        EXPECT_TRUE(r.ok()) << r.error();
        return consumer.delivered() == 1;
      },
      10s));
  EXPECT_EQ(handled, 0u);
  ASSERT_EQ(Depth(topology_.dead_queue), 1u);
  auto letter = GetDeadLetter();
  EXPECT_NE(letter.reason.find("before sealed ballots"), std::string::npos) << letter.reason;
}

TEST_F(RabbitAdapterTest, QueueMonitorReportsEveryQueue) {
  RabbitBatchPublisher publisher(PubOptions());
  std::vector<OutgoingMessage> msgs;
  for (int i = 0; i < 7; ++i) msgs.push_back(SubmittedVoteMessage(topology_, SampleVote(i)));
  ASSERT_TRUE(publisher.PublishAndConfirm(msgs).ok());
  RabbitQueueMonitor monitor(endpoint_, options_, topology_.Queues());
  auto depths = monitor.Depths();
  ASSERT_TRUE(depths.ok()) << depths.error();
  ASSERT_EQ(depths->size(), 4u);
  EXPECT_EQ((*depths)[0].name, topology_.validation_queue);
  EXPECT_EQ((*depths)[0].messages, 7u);
  for (std::size_t i = 1; i < 4; ++i) EXPECT_EQ((*depths)[i].messages, 0u);

  RabbitQueueMonitor missing(endpoint_, options_, {topology_.validation_queue + ".absent"});
  auto err = missing.Depths();
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.error().find(".absent"), std::string::npos) << err.error();
}

TEST_F(RabbitAdapterTest, UnreachableBrokerIsReportedAtStart) {
  RabbitPublisherOptions o;
  o.publisher = PubOptions();
  o.publisher.endpoint.port = 1;  // nothing listens there
  o.publisher.connection.connect_timeout = 500ms;
  auto publisher = RabbitPublisher::Start(o);
  ASSERT_FALSE(publisher.ok());
  EXPECT_NE(publisher.error().find("cannot connect"), std::string::npos) << publisher.error();

  o.publisher = PubOptions();
  o.publisher.endpoint.password = "wrong";
  publisher = RabbitPublisher::Start(o);
  ASSERT_FALSE(publisher.ok());
  EXPECT_NE(publisher.error().find("login"), std::string::npos) << publisher.error();
}

}  // namespace
}  // namespace scrutin::rabbitmq
