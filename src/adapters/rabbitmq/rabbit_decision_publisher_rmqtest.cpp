// RabbitDecisionPublisher against a real RabbitMQ (the ctest fixture's node) holds to
// DecisionPublisherContract (ports/testing/decision_publisher_contract.hpp). The next stage is read
// back from the test topology's votes.aggregation and votes.review queues with a RabbitConsumer;
// "unreachable" is a publisher whose broker address has nothing listening (a broker that dies under
// a connected publisher is rabbit_outage_rmqtest.cpp's, which must run alone).
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/rabbitmq/rabbit_consumer.hpp"
#include "adapters/rabbitmq/rabbit_decision_publisher.hpp"
#include "adapters/rabbitmq/rabbit_test_support.hpp"
#include "ports/testing/decision_publisher_contract.hpp"

namespace scrutin::rabbitmq {
namespace {

using namespace std::chrono_literals;
using ports::testing::DecisionPublisherContract;
using ports::testing::DeliveredVote;
using ports::testing::NextStage;
using ports::testing::PublisherFactory;
using ports::testing::PublisherUnderTest;

class RabbitPublisherUnderTest final : public PublisherUnderTest {
 public:
  explicit RabbitPublisherUnderTest(AmqpEndpoint endpoint)
      : endpoint_(std::move(endpoint)), topology_(Topology::WithPrefix(testing::UniquePrefix())) {
    PublisherOptions o;
    o.endpoint = endpoint_;
    o.topology = topology_;
    publisher_.emplace(std::move(o));
  }

  ~RabbitPublisherUnderTest() override {
    publisher_.reset();
    aggregation_.reset();
    audit_.reset();
    auto conn = AmqpConnection::Open(endpoint_, ConnectionOptions{});
    if (!conn.ok()) return;
    for (const std::string& q : topology_.Queues()) (void)(*conn)->DeleteQueue(q);
  }

  ports::DecisionPublisher& publisher() override { return *publisher_; }

  std::vector<DeliveredVote> Take(NextStage side, std::size_t want) override {
    auto& consumer = side == NextStage::kAggregation ? aggregation_ : audit_;
    if (consumer == nullptr) {
      ConsumerOptions o;
      o.endpoint = endpoint_;
      o.topology = topology_;
      o.queue = side == NextStage::kAggregation ? topology_.aggregation_queue
                                                : topology_.review_queue;
      o.max_wait = 50ms;
      consumer = std::make_unique<RabbitConsumer>(std::move(o));
    }
    std::vector<DeliveredVote> got;
    testing::WaitFor(
        [&] {
          auto r = consumer->RunOnce(
              [&](std::span<const InboundVote> batch, std::span<Outcome>) {
                for (const auto& in : batch) {
                  EXPECT_TRUE(in.decision.has_value()) << "an undecided vote downstream";
                  if (in.decision) got.push_back({in.vote, *in.decision});
                }
                return core::Status();
              },
              100ms);
          EXPECT_TRUE(r.ok()) << r.error();
          return got.size() >= want;
        },
        10s);
    return got;
  }

  // A publisher of the same topology whose broker address has nothing listening, retrying briefly.
  void BreakNextStage() override {
    PublisherOptions o;
    o.endpoint = endpoint_;
    o.endpoint.port = 1;
    o.connection.connect_timeout = 500ms;
    o.topology = topology_;
    publisher_.emplace(std::move(o), PublishRetryPolicy{.retry_for = 300ms,
                                                        .first_pause = 20ms,
                                                        .max_pause = 100ms});
  }

 private:
  AmqpEndpoint endpoint_;
  Topology topology_;
  std::optional<RabbitDecisionPublisher> publisher_;
  std::unique_ptr<RabbitConsumer> aggregation_;
  std::unique_ptr<RabbitConsumer> audit_;
};

PublisherFactory RabbitPublisherFactory() {
  return {"Rabbit", []() -> std::unique_ptr<PublisherUnderTest> {
            const std::string url = scrutin::testing::ServerSetting("rmq", "AMQP_URL");
            if (url.empty()) {
              ADD_FAILURE() << scrutin::testing::ServerHint("rmq", "AMQP_URL");
              return nullptr;
            }
            auto ep = ParseAmqpUrl(url);
            if (!ep.ok()) {
              ADD_FAILURE() << ep.error();
              return nullptr;
            }
            return std::make_unique<RabbitPublisherUnderTest>(*ep);
          }};
}

INSTANTIATE_TEST_SUITE_P(Rabbit, DecisionPublisherContract,
                         ::testing::Values(RabbitPublisherFactory()),
                         ports::testing::FactoryName<PublisherFactory>);

}  // namespace
}  // namespace scrutin::rabbitmq
