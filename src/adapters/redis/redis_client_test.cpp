#include "adapters/redis/redis_client.hpp"

#include <gtest/gtest.h>

#include <random>

#include "adapters/redis/eligibility_loader.hpp"
#include "adapters/redis/ledger_layout.hpp"
#include "adapters/redis/redis_status_store.hpp"

namespace scrutin::redis {
namespace {

TEST(KeySlotTest, MatchesRedisClusterSpecification) {
  // Values given by CLUSTER KEYSLOT on a real server.
  EXPECT_EQ(KeySlot("123456789"), 12739);  // the CRC16-XMODEM check value 0x31C3
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("bar"), 5061);
  EXPECT_EQ(KeySlot(""), 0);
}

TEST(KeySlotTest, HashTagsSelectTheHashedPart) {
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("{user1000}.followers"));
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("user1000"));
  EXPECT_EQ(KeySlot("sc:{e:0a1}"), KeySlot("other{e:0a1}"));
  // An empty tag "{}" does not count: the whole key is hashed.
  EXPECT_EQ(KeySlot("foo{}{bar}"), KeySlot(std::string_view("foo{}{bar}")));
  EXPECT_NE(KeySlot("foo{}{bar}"), KeySlot("bar"));
  // Only the first '{' and the next '}' count.
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), KeySlot("{bar"));
}

TEST(ParseRedisTargetTest, SingleNode) {
  auto t = ParseRedisTarget("redis://127.0.0.1:6380");
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_FALSE(t->cluster);
  ASSERT_EQ(t->nodes.size(), 1u);
  EXPECT_EQ(t->nodes[0].host, "127.0.0.1");
  EXPECT_EQ(t->nodes[0].port, 6380);
  EXPECT_EQ(t->db, 0);

  auto with_db = ParseRedisTarget("redis://:s3cret@localhost:6379/2");
  ASSERT_TRUE(with_db.ok()) << with_db.error();
  EXPECT_EQ(with_db->password, "s3cret");
  EXPECT_EQ(with_db->db, 2);
}

TEST(ParseRedisTargetTest, Cluster) {
  auto t = ParseRedisTarget("redis-cluster://10.0.0.1:7000,10.0.0.2:7001");
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_TRUE(t->cluster);
  ASSERT_EQ(t->nodes.size(), 2u);
  EXPECT_EQ(t->nodes[1].ToString(), "10.0.0.2:7001");

  auto bare = ParseRedisTarget("127.0.0.1:1,127.0.0.1:2,127.0.0.1:3");
  ASSERT_TRUE(bare.ok()) << bare.error();
  EXPECT_TRUE(bare->cluster);
  EXPECT_EQ(bare->nodes.size(), 3u);
}

TEST(ParseRedisTargetTest, TlsAndAclUser) {
  auto t = ParseRedisTarget("rediss://scrutin:pw@localhost:6380/1?cacert=/d/ca.pem");
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_TRUE(t->tls);
  EXPECT_FALSE(t->cluster);
  EXPECT_EQ(t->user, "scrutin");
  EXPECT_EQ(t->password, "pw");
  EXPECT_EQ(t->db, 1);
  EXPECT_EQ(t->ca_file, "/d/ca.pem");
  auto c = ParseRedisTarget("rediss-cluster://127.0.0.1:1,127.0.0.1:2");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_TRUE(c->tls);
  EXPECT_TRUE(c->cluster);
  EXPECT_TRUE(c->ca_file.empty());  // the system's trust store
  EXPECT_FALSE(ParseRedisTarget("redis://h:1?cacert=/ca.pem").ok());
  EXPECT_FALSE(ParseRedisTarget("rediss://h:1?verify=none").ok());
  EXPECT_FALSE(ParseRedisTarget("rediss://h:1?cacert=").ok());
  EXPECT_FALSE(ParseRedisTarget("rediss://h:1?cacert=/a&x=1").ok());
  EXPECT_TRUE(ParseRedisTarget("redis://:pw@h:1")->user.empty());
}

TEST(ParseRedisTargetTest, RejectsBadInput) {
  EXPECT_FALSE(ParseRedisTarget("").ok());
  EXPECT_FALSE(ParseRedisTarget("http://127.0.0.1:6379").ok());
  EXPECT_FALSE(ParseRedisTarget("redis://127.0.0.1").ok());
  EXPECT_FALSE(ParseRedisTarget("redis://127.0.0.1:0").ok());
  EXPECT_FALSE(ParseRedisTarget("redis://127.0.0.1:70000").ok());
  EXPECT_FALSE(ParseRedisTarget("redis://a:1,b:2").ok());
  EXPECT_FALSE(ParseRedisTarget("redis-cluster://a:1/3").ok());
  EXPECT_FALSE(ParseRedisTarget("redis://127.0.0.1:6379/x").ok());
}

TEST(ParseEndpointTest, AcceptsClusterBusSuffix) {
  auto ep = ParseEndpoint("127.0.0.1:7000@17000");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->port, 7000);
}

core::Digest DigestFromHex(std::string_view hex) { return *core::Digest::FromHex(hex); }

TEST(LedgerLayoutTest, BucketsByLeadingBitsInsideAHashTag) {
  LedgerLayout layout;
  layout.prefix = "sc:";
  layout.bucket_bits = 12;
  auto d = DigestFromHex("abcdef0123456789abcdef0123456789000102030405060708090a0b0c0d0e0f");
  EXPECT_EQ(layout.Bucket(d), 0xabcu);
  EXPECT_EQ(layout.BucketKey(d), "sc:{e:abc}");
  layout.bucket_bits = 15;
  EXPECT_EQ(layout.Bucket(d), 0xabcdu >> 1);
  EXPECT_EQ(layout.BucketKey(d), "sc:{e:55e6}");
  auto field = LedgerLayout::Field(d);
  ASSERT_EQ(field.size(), kFieldBytes);
  EXPECT_EQ(static_cast<unsigned char>(field[0]), 0x00);
  EXPECT_EQ(static_cast<unsigned char>(field[15]), 0x0f);
  EXPECT_EQ(layout.MetaKey(), "sc:ledger");
}

TEST(ChooseBucketBitsTest, KeepsBucketsSmall) {
  std::mt19937_64 rng(7);
  std::vector<core::Digest> digests(200000);
  for (auto& d : digests) {
    for (auto& b : d.bytes) b = static_cast<std::uint8_t>(rng());
  }
  auto bits = ChooseBucketBits(digests, 448);
  EXPECT_GE(bits, 10u);
  EXPECT_LE(digests.size() >> bits, 256u);
  std::vector<std::uint32_t> counts(std::size_t{1} << bits);
  std::uint32_t largest = 0;
  for (const auto& d : digests) largest = std::max(largest, ++counts[d.Prefix64() >> (64 - bits)]);
  EXPECT_LE(largest, 448u);
  EXPECT_EQ(ChooseBucketBits({}, 448), 8u);
}

TEST(StatusCodecTest, RoundTrips) {
  ports::StatusRecord r{"L2025-001", core::VoteStatus::kDuplicate, 3};
  auto v = EncodeStatus(r);
  EXPECT_EQ(v, "d3|L2025-001");
  auto back = DecodeStatus(v);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->law_id, "L2025-001");
  EXPECT_EQ(back->status, core::VoteStatus::kDuplicate);
  EXPECT_EQ(back->attempt_count, 3u);
  EXPECT_FALSE(DecodeStatus("").has_value());
  EXPECT_FALSE(DecodeStatus("x1|L").has_value());
  EXPECT_FALSE(DecodeStatus("a|L").has_value());
  EXPECT_FALSE(DecodeStatus("a1L").has_value());
  EXPECT_FALSE(DecodeStatus("a1x|L").has_value());
}

}  // namespace
}  // namespace scrutin::redis
