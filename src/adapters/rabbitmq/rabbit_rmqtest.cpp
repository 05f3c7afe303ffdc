// The adapter against a real RabbitMQ 3.10 (the ctest fixture's node): topology, confirmed
// publishing, batching of confirms, consumption with redelivery, dead letters, queue depths.
#include <amqp.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "adapters/rabbitmq/rabbit_batch_publisher.hpp"
#include "adapters/rabbitmq/rabbit_consumer.hpp"
#include "adapters/rabbitmq/rabbit_publisher.hpp"
#include "adapters/rabbitmq/rabbit_queue_monitor.hpp"
#include "adapters/rabbitmq/rabbit_test_support.hpp"
#include "adapters/rabbitmq/vote_codec.hpp"

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
  std::mutex mu;
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
            std::lock_guard lock(mu);
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
  EXPECT_EQ((*publisher)->messages_confirmed(), static_cast<std::uint64_t>(kTotal));
  // Group commit at the broker: far fewer confirm round trips than messages.
  const auto rounds = (*publisher)->confirm_rounds();
  EXPECT_GT(rounds, 0u);
  EXPECT_LT(rounds * 10, static_cast<std::uint64_t>(kTotal)) << rounds << " confirm rounds";
  RecordProperty("confirm_rounds", static_cast<int>(rounds));

  EXPECT_EQ(Depth(topology_.validation_queue), static_cast<std::uint32_t>(kTotal));
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

TEST_F(RabbitAdapterTest, FailedHandlerGetsItsBatchRedeliveredAndNothingIsLost) {
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
  std::vector<std::string> errors;
  co.on_error = [&](const std::string& e) { errors.push_back(e); };
  RabbitConsumer consumer(co);

  // First batch: the handler fails (e.g. Redis down) -> everything requeued.
  std::set<std::string> failed;
  auto first = consumer.RunOnce(
      [&](std::span<const InboundVote> batch, std::span<Outcome>) {
        for (const auto& v : batch) failed.insert(v.vote.request_id.ToString());
        return core::Status(core::Fail(std::string("ledger unreachable")));
      },
      2000ms);
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.error().find("ledger unreachable"), std::string::npos);
  ASSERT_FALSE(failed.empty());
  EXPECT_FALSE(errors.empty());
  EXPECT_EQ(consumer.requeued(), failed.size());

  // Then: one vote per batch asks for a requeue, the rest is acked; keep going until all seen.
  std::set<std::string> done, redelivered_ids;
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
  // Every vote of the failed batch came back flagged as redelivered.
  for (const auto& id : failed) EXPECT_TRUE(redelivered_ids.count(id)) << id;
  EXPECT_EQ(Depth(topology_.validation_queue), 0u);
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

  // The dead letter: same body, the reason and the source queue in its headers. (A fresh
  // connection: `conn` still has the confirm of the garbage message unread.)
  auto reader = Connect();
  ASSERT_NE(reader, nullptr);
  amqp_connection_state_t s = reader->state();
  amqp_basic_get(s, AmqpConnection::kChannel, amqp_cstring_bytes(topology_.dead_queue.c_str()),
                 /*no_ack=*/1);
  amqp_rpc_reply_t reply = amqp_get_rpc_reply(s);
  ASSERT_EQ(reply.reply_type, AMQP_RESPONSE_NORMAL);
  ASSERT_EQ(reply.reply.id, static_cast<amqp_method_number_t>(AMQP_BASIC_GET_OK_METHOD));
  amqp_message_t msg;
  ASSERT_EQ(amqp_read_message(s, AmqpConnection::kChannel, &msg, 0).reply_type,
            AMQP_RESPONSE_NORMAL);
  EXPECT_EQ(std::string(static_cast<char*>(msg.body.bytes), msg.body.len), garbage.body);
  std::string reason, source;
  ASSERT_TRUE(msg.properties._flags & AMQP_BASIC_HEADERS_FLAG);
  for (int i = 0; i < msg.properties.headers.num_entries; ++i) {
    const auto& e = msg.properties.headers.entries[i];
    std::string key(static_cast<char*>(e.key.bytes), e.key.len);
    std::string value(static_cast<char*>(e.value.value.bytes.bytes), e.value.value.bytes.len);
    if (key == kReasonHeader) reason = value;
    if (key == kSourceQueueHeader) source = value;
  }
  amqp_destroy_message(&msg);
  EXPECT_NE(reason.find("unparsable"), std::string::npos) << reason;
  EXPECT_EQ(source, topology_.validation_queue);
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
                if (batch[i].vote.choice == core::Choice::kNon) {
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
  EXPECT_EQ(consumer.dead_lettered(), 1u);  // SampleVote(1) is the only "non"
  EXPECT_EQ(consumer.acked(), 3u);  // the dead letter too, once it was confirmed in votes.dead
  EXPECT_EQ(Depth(topology_.dead_queue), 1u);
  EXPECT_EQ(Depth(topology_.validation_queue), 0u);
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
