#include <gtest/gtest.h>

#include "adapters/rabbitmq/amqp_connection.hpp"
#include "adapters/rabbitmq/topology.hpp"

namespace scrutin::rabbitmq {
namespace {

TEST(AmqpUrlTest, ParsesTheFixtureForm) {
  auto ep = ParseAmqpUrl("amqp://guest:guest@127.0.0.1:24370/");
  ASSERT_TRUE(ep.ok()) << ep.error();
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, 24370);
  EXPECT_EQ(ep->user, "guest");
  EXPECT_EQ(ep->password, "guest");
  EXPECT_EQ(ep->vhost, "/");
}

TEST(AmqpUrlTest, DefaultsAndEncodedParts) {
  auto ep = ParseAmqpUrl("amqp://broker");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->host, "broker");
  EXPECT_EQ(ep->port, 5672);
  EXPECT_EQ(ep->user, "guest");
  EXPECT_EQ(ep->vhost, "/");

  ep = ParseAmqpUrl("amqp://us%40er:p%3Ass@h:1/el%2fection");
  ASSERT_TRUE(ep.ok()) << ep.error();
  EXPECT_EQ(ep->user, "us@er");
  EXPECT_EQ(ep->password, "p:ss");
  EXPECT_EQ(ep->vhost, "el/ection");
  // The printable form never shows the password.
  EXPECT_EQ(ep->ToString().find("p:ss"), std::string::npos);
}

TEST(AmqpUrlTest, RejectsBadUrls) {
  for (const char* bad : {"", "http://h", "amqp://", "amqp://h:0", "amqp://h:99999", "amqp://h:12x",
                          "amqp://u:p@h/%zz", "amqp://:p@h", "amqp://h/?cacertfile=/ca.pem",
                          "amqps://h/?verify=verify_none", "amqps://h/?cacert=/ca.pem",
                          "amqps://h/?certfile=/c.pem", "amqps://h/?cacertfile="}) {
    EXPECT_FALSE(ParseAmqpUrl(bad).ok()) << bad;
  }
}

TEST(AmqpUrlTest, AmqpsIsTlsWithItsCaAndOptionalClientCertificate) {
  auto ep = ParseAmqpUrl("amqps://guest:guest@localhost:21455/?cacertfile=/d/ca.pem");
  ASSERT_TRUE(ep.ok()) << ep.error();
  EXPECT_TRUE(ep->tls);
  EXPECT_EQ(ep->host, "localhost");
  EXPECT_EQ(ep->port, 21455);
  EXPECT_EQ(ep->vhost, "/");
  EXPECT_EQ(ep->ca_file, "/d/ca.pem");
  EXPECT_TRUE(ep->cert_file.empty());
  EXPECT_NE(ep->ToString().find("TLS"), std::string::npos);

  ep = ParseAmqpUrl("amqps://broker?certfile=/c.pem&keyfile=/k%20ey.pem&verify=verify_peer");
  ASSERT_TRUE(ep.ok()) << ep.error();
  EXPECT_EQ(ep->port, 5671);
  EXPECT_EQ(ep->host, "broker");
  EXPECT_TRUE(ep->ca_file.empty());  // the system's trust store
  EXPECT_EQ(ep->cert_file, "/c.pem");
  EXPECT_EQ(ep->key_file, "/k ey.pem");

  EXPECT_FALSE(ParseAmqpUrl("amqp://broker").value().tls);
}

TEST(TopologyTest, PrefixAndRoutingKeys) {
  Topology t = Topology::WithPrefix("t1.", QueueType::kQuorum);
  EXPECT_EQ(t.exchange, "t1.votes.exchange");
  EXPECT_EQ(t.dead_queue, "t1.votes.dead");
  EXPECT_EQ(t.Queues().size(), 4u);
  EXPECT_EQ(RoutingKeyFor(core::VoteStatus::kPending), "vote.submitted");
  EXPECT_EQ(RoutingKeyFor(core::VoteStatus::kAccepted), "vote.accepted");
  EXPECT_EQ(RoutingKeyFor(core::VoteStatus::kDuplicate), "vote.duplicate");
  EXPECT_EQ(RoutingKeyFor(core::VoteStatus::kInvalid), "vote.invalid");
  EXPECT_TRUE(ParseQueueType("quorum").ok());
  EXPECT_FALSE(ParseQueueType("lazy").ok());
}

}  // namespace
}  // namespace scrutin::rabbitmq
