// ClientTable: per-client buckets are independent, connections are capped per client and pin
// their entry, the table's memory is fixed whatever the number of clients.
#include "http/client_table.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>
#include <string>

namespace scrutin::http {
namespace {

using namespace std::chrono_literals;
using Clock = ClientTable::Clock;
using Bucket = ClientTable::Bucket;

ClientKey Key(const std::string& text) {
  return ClientKey::From(boost::asio::ip::make_address(text));
}

ClientLimits Limits(double write_rate, double write_burst) {
  ClientLimits l;
  l.write_rate = write_rate;
  l.write_burst = write_burst;
  l.read_rate = 0;
  l.max_connections = 3;
  l.memory_bytes = 1 << 20;
  return l;
}

TEST(ClientKey, Ipv4AndItsMappedFormAreOneClient) {
  EXPECT_EQ(Key("192.0.2.7"), Key("::ffff:192.0.2.7"));
  EXPECT_FALSE(Key("192.0.2.7") == Key("192.0.2.8"));
}

TEST(ClientKey, Ipv6IsKeyedOnItsSlash64) {
  EXPECT_EQ(Key("2001:db8:1:2::1"), Key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
  EXPECT_FALSE(Key("2001:db8:1:2::1") == Key("2001:db8:1:3::1"));
}

TEST(ClientTable, OneClientsBurstDoesNotTouchAnothers) {
  ClientTable table(Limits(10, 5));
  auto now = Clock::now();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(table.Admit(Key("127.0.0.1"), Bucket::kWrite, 1, now).allowed);
  auto refused = table.Admit(Key("127.0.0.1"), Bucket::kWrite, 1, now);
  EXPECT_FALSE(refused.allowed);
  EXPECT_GE(refused.retry_after, 1ms);
  EXPECT_LE(refused.retry_after, 100ms);  // one token at 10/s
  EXPECT_TRUE(table.Admit(Key("127.0.0.2"), Bucket::kWrite, 1, now).allowed);
  // A token comes back after 1/rate.
  EXPECT_TRUE(table.Admit(Key("127.0.0.1"), Bucket::kWrite, 1, now + 100ms).allowed);
}

TEST(ClientTable, ReadsAndWritesHaveSeparateBuckets) {
  ClientLimits l = Limits(1, 1);
  l.read_rate = 1;
  l.read_burst = 1;
  ClientTable table(l);
  auto now = Clock::now();
  EXPECT_TRUE(table.Admit(Key("10.0.0.1"), Bucket::kWrite, 1, now).allowed);
  EXPECT_FALSE(table.Admit(Key("10.0.0.1"), Bucket::kWrite, 1, now).allowed);
  EXPECT_TRUE(table.Admit(Key("10.0.0.1"), Bucket::kRead, 1, now).allowed);
}

TEST(ClientTable, MalformedRequestsCostMoreAndTheDebtIsBounded) {
  ClientTable table(Limits(10, 10));
  auto now = Clock::now();
  table.Charge(Key("10.0.0.1"), Bucket::kWrite, 1000, now);  // far beyond the burst
  EXPECT_FALSE(table.Admit(Key("10.0.0.1"), Bucket::kWrite, 1, now).allowed);
  // Debt is capped at one burst beyond empty: two bursts' time later the client is admitted.
  EXPECT_TRUE(table.Admit(Key("10.0.0.1"), Bucket::kWrite, 1, now + 2s + 100ms).allowed);
}

TEST(ClientTable, RefusedRequestsTakeNothing) {
  ClientTable table(Limits(10, 1));
  auto now = Clock::now();
  EXPECT_TRUE(table.Admit(Key("10.0.0.1"), Bucket::kWrite, 1, now).allowed);
  for (int i = 0; i < 1000; ++i) table.Admit(Key("10.0.0.1"), Bucket::kWrite, 1, now);
  EXPECT_TRUE(table.Admit(Key("10.0.0.1"), Bucket::kWrite, 1, now + 100ms).allowed);
}

TEST(ClientTable, ConnectionsAreCappedPerClient) {
  ClientTable table(Limits(0, 0));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(table.OpenConnection(Key("10.0.0.1")));
  EXPECT_FALSE(table.OpenConnection(Key("10.0.0.1")));
  EXPECT_TRUE(table.OpenConnection(Key("10.0.0.2")));
  table.CloseConnection(Key("10.0.0.1"));
  EXPECT_EQ(table.connections(Key("10.0.0.1")), 2u);
  EXPECT_TRUE(table.OpenConnection(Key("10.0.0.1")));
}

TEST(ClientTable, MemoryIsFixedAndConnectedClientsAreNeverEvicted) {
  ClientLimits l = Limits(1, 1);
  l.memory_bytes = ClientTable::kEntryBytes * ClientTable::kWays * 4;  // 32 entries
  ClientTable table(l);
  ASSERT_EQ(table.capacity(), 32u);
  auto now = Clock::now();
  ASSERT_TRUE(table.OpenConnection(Key("10.9.9.9"), now));
  ASSERT_TRUE(table.OpenConnection(Key("10.9.9.9"), now));
  ASSERT_TRUE(table.OpenConnection(Key("10.9.9.9"), now));
  // 100,000 other clients churn through the 32 entries...
  for (int i = 0; i < 100000; ++i) {
    std::string a = "10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) +
                    "." + std::to_string(i & 255);
    table.Admit(Key(a), Bucket::kWrite, 1, now + std::chrono::seconds(1 + i / 1000));
  }
  // ...and the connected client still has its three connections counted: its cap holds.
  EXPECT_EQ(table.connections(Key("10.9.9.9")), 3u);
  EXPECT_FALSE(table.OpenConnection(Key("10.9.9.9")));
}

TEST(ClientTable, TracksAtLeast25000ClientsPerMiB) {
  ClientLimits l;
  l.memory_bytes = 1 << 20;
  ClientTable table(l);
  EXPECT_GE(table.capacity(), 25000u);
}

}  // namespace
}  // namespace scrutin::http
