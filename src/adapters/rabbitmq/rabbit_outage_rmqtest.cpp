// The broker goes away mid-run and comes back (rabbitmqctl stop_app / start_app on the fixture's
// node: the RabbitMQ application stops, every connection is closed and the port stops listening,
// while the Erlang node stays up so restarting takes seconds). Registered RUN_SERIAL: no other
// test may share the broker while it is down.
//
// What must hold: no Submit is answered kDurable unless its vote is in the queue (every durable
// vote is consumed afterwards); while the broker is down Submit answers kUnavailable at once and
// Health() says so; publishing and consuming recover by themselves once it is back.
#include <atomic>
#include <cstdlib>
#include <memory>
#include <set>
#include <thread>

#include "adapters/rabbitmq/rabbit_consumer.hpp"
#include "adapters/rabbitmq/rabbit_publisher.hpp"
#include "adapters/rabbitmq/rabbit_test_support.hpp"
#include "core/mutex.hpp"

namespace scrutin::rabbitmq {
namespace {

using namespace std::chrono_literals;
using testing::RabbitTest;
using testing::SampleVote;
using testing::WaitFor;

class RabbitOutageTest : public RabbitTest {
 protected:
  void SetUp() override {
    RabbitTest::SetUp();
    ctl_env_ = scrutin::testing::ServerSetting("rmq", "RABBITMQ_CTL_ENV");
    node_ = scrutin::testing::ServerSetting("rmq", "RABBITMQ_NODE");
    if (ctl_env_.empty() || node_.empty()) {
      FAIL() << scrutin::testing::ServerHint("rmq", "RABBITMQ_CTL_ENV and RABBITMQ_NODE");
    }
  }

  void TearDown() override {
    // Never leave the shared broker down or alarmed.
    if (stopped_) Ctl("start_app");
    if (alarmed_) Ctl("set_vm_memory_high_watermark 0.4");
    RabbitTest::TearDown();
  }

  // Runs `rabbitmqctl -n NODE -q <command>` in the fixture's environment.
  void Ctl(const std::string& command) {
    const std::string cmd = "bash -c 'source \"" + ctl_env_ + "\" && rabbitmqctl -n \"" + node_ +
                            "\" -q " + command + "' >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    if (command == "stop_app") stopped_ = true;
    if (command == "start_app") stopped_ = false;
    if (command.starts_with("set_vm_memory_high_watermark")) alarmed_ = command.ends_with(" 0");
  }

  std::string ctl_env_, node_;
  bool stopped_ = false;
  bool alarmed_ = false;
};

TEST_F(RabbitOutageTest, NeverDurableWithoutConfirmAndRecoversAfterRestart) {
  RabbitPublisherOptions po;
  po.publisher.endpoint = endpoint_;
  po.publisher.topology = topology_;
  po.publisher.confirm_timeout = 3s;
  po.publisher.max_backoff = 1s;
  po.publisher.connection.connect_timeout = 1s;
  po.idle_poll = 100ms;
  auto publisher = RabbitPublisher::Start(po);
  ASSERT_TRUE(publisher.ok()) << publisher.error();

  // A validator-like consumer running all along.
  ConsumerOptions co;
  co.endpoint = endpoint_;
  co.topology = topology_;
  co.queue = topology_.validation_queue;
  co.max_backoff = 1s;
  co.connection.connect_timeout = 1s;
  RabbitConsumer consumer(co);
  core::Mutex seen_mu;
  std::set<std::string> seen;
  std::thread consumer_thread([&] {
    consumer.Run([&](std::span<const InboundVote> batch, std::span<Outcome>) {
      core::MutexLock lock(seen_mu);
      for (const auto& v : batch) seen.insert(v.vote.request_id.ToString());
      return core::Status();
    });
  });

  // Voters all along: every answer is recorded.
  core::Mutex mu;
  std::set<std::string> durable;
  std::atomic<int> unavailable{0}, answered{0}, submitted{0};
  std::atomic<bool> stop_voting{false};
  std::thread voters([&] {
    for (int i = 0; !stop_voting.load(); ++i) {
      auto vote = SampleVote(i);
      const std::string id = vote.request_id.ToString();
      ++submitted;
      (*publisher)->Submit(std::move(vote), [&, id](ports::IntakeResult r) {
        if (r.kind == ports::IntakeResult::Kind::kDurable) {
          core::MutexLock lock(mu);
          durable.insert(id);
        } else {
          ++unavailable;
        }
        ++answered;
      });
      std::this_thread::sleep_for(2ms);
    }
  });
  auto durable_count = [&] {
    core::MutexLock lock(mu);
    return durable.size();
  };

  ASSERT_TRUE(WaitFor([&] { return durable_count() >= 100; }, 10s));
  Ctl("stop_app");

  // The outage is noticed and reported; new votes are refused at once, never durable.
  ASSERT_TRUE(WaitFor([&] { return !(*publisher)->Health()[0].ok; }, 15s))
      << (*publisher)->Health()[0].detail;
  EXPECT_NE((*publisher)->Health()[0].detail.find("unreachable"), std::string::npos)
      << (*publisher)->Health()[0].detail;
  {
    std::atomic<int> kind{-1};
    const auto t0 = std::chrono::steady_clock::now();
    (*publisher)->Submit(SampleVote(1), [&](ports::IntakeResult r) {
      kind = static_cast<int>(r.kind);
    });
    ASSERT_TRUE(WaitFor([&] { return kind.load() >= 0; }, 2s));
    EXPECT_EQ(kind.load(), static_cast<int>(ports::IntakeResult::Kind::kUnavailable));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  }
  const std::size_t durable_when_down = durable_count();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(durable_count(), durable_when_down) << "a vote was answered durable while down";
  EXPECT_GT(unavailable.load(), 0);

  Ctl("start_app");
  // Publishing recovers by itself.
  ASSERT_TRUE(WaitFor([&] { return (*publisher)->Health()[0].ok; }, 30s))
      << (*publisher)->Health()[0].detail;
  ASSERT_TRUE(WaitFor([&] { return durable_count() >= durable_when_down + 100; }, 20s));

  stop_voting = true;
  voters.join();
  ASSERT_TRUE(WaitFor([&] { return answered.load() == submitted.load(); }, 10s));

  // No vote lost: every vote answered durable reaches the (recovered) consumer.
  std::set<std::string> expected;
  {
    core::MutexLock lock(mu);
    expected = durable;
  }
  const bool all_seen = WaitFor(
      [&] {
        core::MutexLock lock(seen_mu);
        for (const auto& id : expected) {
          if (!seen.count(id)) return false;
        }
        return true;
      },
      30s);
  consumer.Stop();
  consumer_thread.join();
  std::size_t missing = 0;
  for (const auto& id : expected) missing += !seen.count(id);
  EXPECT_TRUE(all_seen);
  EXPECT_EQ(missing, 0u) << "of " << expected.size() << " durable votes";
  RecordProperty("durable", static_cast<int>(expected.size()));
  RecordProperty("unavailable", unavailable.load());
}

// A broker that is up but stops reading (memory alarm: RabbitMQ blocks publishing connections).
// rabbitmq-c would wait forever on the write or for the confirm; both are bounded here.
TEST_F(RabbitOutageTest, BlockedBrokerTimesOutInsteadOfHanging) {
  RabbitPublisherOptions po;
  po.publisher.endpoint = endpoint_;
  po.publisher.topology = topology_;
  po.publisher.confirm_timeout = 2s;
  po.publisher.connection.io_timeout = 1s;
  auto publisher = RabbitPublisher::Start(po);
  ASSERT_TRUE(publisher.ok()) << publisher.error();
  PublisherOptions bo = po.publisher;
  RabbitBatchPublisher bulk(bo);
  ASSERT_TRUE(bulk.Connect().ok()) << bulk.last_error();

  Ctl("set_vm_memory_high_watermark 0");

  // Small votes: written, never confirmed -> kUnavailable after confirm_timeout.
  std::atomic<int> kind{-1};
  auto t0 = std::chrono::steady_clock::now();
  (*publisher)->Submit(SampleVote(1), [&](ports::IntakeResult r) {
    kind = static_cast<int>(r.kind);
  });
  ASSERT_TRUE(WaitFor([&] { return kind.load() >= 0; }, 10s));
  EXPECT_EQ(kind.load(), static_cast<int>(ports::IntakeResult::Kind::kUnavailable));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);

  // Big messages fill the socket buffers: the write itself blocks until the watchdog ends it.
  std::vector<OutgoingMessage> big;
  for (int i = 0; i < 64; ++i) {
    OutgoingMessage m = SubmittedVoteMessage(topology_, SampleVote(i));
    m.body.append(1 << 20, 'x');  // 1 MiB each; unparsable, but it never gets that far
    big.push_back(std::move(m));
  }
  t0 = std::chrono::steady_clock::now();
  auto st = bulk.PublishAndConfirm(big);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("write to RabbitMQ timed out"), std::string::npos) << st.error();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s);
  EXPECT_FALSE(bulk.connected());

  Ctl("set_vm_memory_high_watermark 0.4");
  // Recovers: a vote is durable again.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto k = std::make_shared<std::atomic<int>>(-1);  // the answer may outlive this try
        (*publisher)->Submit(SampleVote(2), [k](ports::IntakeResult r) {
          *k = static_cast<int>(r.kind);
        });
        WaitFor([&] { return k->load() >= 0; }, 5s);
        return k->load() == static_cast<int>(ports::IntakeResult::Kind::kDurable);
      },
      30s));
}

}  // namespace
}  // namespace scrutin::rabbitmq
