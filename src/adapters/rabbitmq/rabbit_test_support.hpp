// Shared set-up of the RabbitMQ suites: the broker the ctest fixture started (AMQP_URL), a fresh
// name prefix per test so tests sharing the broker never meet, sample votes, and clean-up of the
// test's queues.
// Private to src/adapters/rabbitmq: other modules use its public headers.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>

#include "adapters/rabbitmq/amqp_connection.hpp"
#include "adapters/rabbitmq/topology.hpp"
#include "core/vote.hpp"
#include "support/server_env.hpp"

namespace scrutin::rabbitmq::testing {

inline std::string UniquePrefix() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return "t" + std::to_string(rng() % 1'000'000'000'000ULL) + ".";
}

inline core::VoteEnvelope SampleVote(std::uint64_t n, std::string law = "L2025-001") {
  core::VoteEnvelope v;
  v.request_id = core::RequestId::Generate();
  for (std::size_t i = 0; i < v.digest.bytes.size(); ++i) {
    v.digest.bytes[i] = static_cast<std::uint8_t>((n >> ((i % 8) * 8)) + i);
  }
  v.law_id = std::move(law);
  // Opaque to the broker: a test marks votes in the sealed ballot's first byte (0 or 1).
  v.ballot.fill(0xa5);
  v.ballot[0] = static_cast<std::uint8_t>(n % 2);
  v.received_at = core::Clock::now();
  return v;
}

// Polls `pred` every 20 ms until it holds or `timeout` passes; returns its last value.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

class RabbitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = scrutin::testing::ServerSetting("rmq", "AMQP_URL");
    if (url.empty()) FAIL() << scrutin::testing::ServerHint("rmq", "AMQP_URL");
    auto ep = ParseAmqpUrl(url);
    ASSERT_TRUE(ep.ok()) << ep.error();
    endpoint_ = *ep;
    topology_ = Topology::WithPrefix(UniquePrefix());
  }

  void TearDown() override {
    auto conn = Connect();
    if (conn == nullptr) return;
    for (const std::string& q : topology_.Queues()) (void)conn->DeleteQueue(q);
  }

  std::unique_ptr<AmqpConnection> Connect() {
    auto conn = AmqpConnection::Open(endpoint_, options_);
    EXPECT_TRUE(conn.ok()) << conn.error();
    return conn.ok() ? std::move(*conn) : nullptr;
  }

  AmqpEndpoint endpoint_;
  ConnectionOptions options_;
  Topology topology_;
};

}  // namespace scrutin::rabbitmq::testing
