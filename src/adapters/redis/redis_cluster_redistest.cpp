// Cluster behaviour of the Redis client and ledger on the 3-master cluster of the ctest fixture:
// keys spread over every master, and redirections (MOVED after a slot moved, ASK while it moves)
// are followed transparently.
#include <gtest/gtest.h>

#include <map>

#include "adapters/redis/eligibility_loader.hpp"
#include "adapters/redis/redis_credential_ledger.hpp"
#include "adapters/redis/redis_test_support.hpp"

namespace scrutin::redis {
namespace {

using testing::Mode;
using testing::RandomDigests;
using testing::Tag;
using Kind = ports::ClaimOutcome::Kind;

class RedisClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    target_ = testing::TargetFor(Mode::kCluster, why);
    ASSERT_FALSE(target_.nodes.empty()) << why;
    auto admin = RedisClient::Connect(target_);
    ASSERT_TRUE(admin.ok()) << admin.error();
    admin_ = std::move(*admin);
    ASSERT_EQ(admin_->Masters().size(), 3u);
    prefix_ = testing::UniquePrefix();
  }

  std::string NodeId(const Endpoint& node) {
    auto r = admin_->ExecuteOn(node, Command::Keyless({"CLUSTER", "MYID"}));
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->str : "";
  }

  // The master currently serving `slot`, asked from the cluster itself.
  Endpoint Owner(std::uint16_t slot) {
    EXPECT_TRUE(admin_->RefreshSlots().ok());
    // Route a keyless probe through a key of that slot: CLUSTER COUNTKEYSINSLOT goes anywhere, so
    // ask each master which slots it serves instead.
    auto r = admin_->ExecuteOn(admin_->Masters()[0], Command::Keyless({"CLUSTER", "SLOTS"}));
    EXPECT_TRUE(r.ok());
    for (const auto& range : r->elements) {
      if (range.elements[0].integer <= slot && slot <= range.elements[1].integer) {
        return Endpoint{range.elements[2].elements[0].str,
                        static_cast<int>(range.elements[2].elements[1].integer)};
      }
    }
    ADD_FAILURE() << "slot " << slot << " is not served";
    return {};
  }

  void Admin(const Endpoint& node, std::initializer_list<std::string_view> args) {
    auto r = admin_->ExecuteOn(node, Command::Keyless(args));
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_FALSE(r->is_error()) << r->str;
  }

  // Starts moving `slot` from `from` to `to` and migrates its keys (the slot stays in the
  // MIGRATING / IMPORTING state: the old owner answers ASK for the moved keys).
  void BeginMove(std::uint16_t slot, const Endpoint& from, const Endpoint& to) {
    const std::string s = std::to_string(slot);
    Admin(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", NodeId(from)});
    Admin(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", NodeId(to)});
    auto keys = admin_->ExecuteOn(from, Command::Keyless({"CLUSTER", "GETKEYSINSLOT", s, "1000"}));
    ASSERT_TRUE(keys.ok());
    for (const auto& key : keys->elements) {
      Admin(from, {"MIGRATE", to.host, std::to_string(to.port), key.str, "0", "5000"});
    }
  }

  // Finishes the move: every master learns the new owner.
  void EndMove(std::uint16_t slot, const Endpoint& to) {
    const std::string s = std::to_string(slot);
    const std::string id = NodeId(to);
    Admin(to, {"CLUSTER", "SETSLOT", s, "NODE", id});
    for (const auto& node : admin_->Masters()) {
      if (!(node == to)) Admin(node, {"CLUSTER", "SETSLOT", s, "NODE", id});
    }
  }

  std::shared_ptr<RedisClientPool> LoadedPool(const std::vector<core::Digest>& digests) {
    LoadOptions options;
    options.prefix = prefix_;
    auto report = LoadEligibility(*admin_, digests, options);
    EXPECT_TRUE(report.ok()) << report.error();
    auto pool = RedisClientPool::Create(target_, ClientOptions{}, 1);
    EXPECT_TRUE(pool.ok()) << pool.error();
    return pool.ok() ? *pool : nullptr;
  }

  RedisTarget target_;
  std::unique_ptr<RedisClient> admin_;
  std::string prefix_;
};

TEST_F(RedisClusterTest, BucketsSpreadOverEveryMaster) {
  auto digests = RandomDigests(20000);
  LoadOptions options;
  options.prefix = prefix_;
  auto report = LoadEligibility(*admin_, digests, options);
  ASSERT_TRUE(report.ok()) << report.error();
  LedgerLayout layout;
  layout.prefix = prefix_;
  layout.bucket_bits = report->bucket_bits;
  std::map<std::string, int> per_master;
  ASSERT_TRUE(admin_->RefreshSlots().ok());
  for (std::uint64_t b = 0; b < (std::uint64_t{1} << layout.bucket_bits); ++b) {
    auto owner = Owner(KeySlot(layout.BucketKey(b)));
    ++per_master[owner.ToString()];
    if (b > 64) break;  // enough to see the spread without one CLUSTER SLOTS per bucket
  }
  EXPECT_EQ(per_master.size(), 3u);
  // And the keys really are on the nodes: every master holds some of this test's buckets.
  for (const auto& node : admin_->Masters()) {
    auto r = admin_->ExecuteOn(
        node, Command::Keyless({"SCAN", "0", "MATCH", prefix_ + "{e:*", "COUNT", "100000"}));
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->elements.size(), 2u);
    EXPECT_GT(r->elements[1].elements.size(), 0u) << node.ToString() << " holds no bucket";
  }
}

// A cluster that lost its data, wholly or on one master only (a failover to an empty replica):
// claims on a lost bucket fail with kStateLost and write nothing; the others still decide, and the
// health probe sees the lost master.
TEST_F(RedisClusterTest, LostMastersAreRefusedNotReadAsIneligible) {
  auto digests = RandomDigests(3000);
  auto pool = LoadedPool(digests);
  ASSERT_NE(pool, nullptr);
  auto ledger = RedisCredentialLedger::Open(pool, prefix_);
  ASSERT_TRUE(ledger.ok()) << ledger.error();
  const LedgerLayout& layout = (*ledger)->layout();
  ASSERT_TRUE(admin_->RefreshSlots().ok());

  // One master loses everything it held.
  const Endpoint lost = admin_->Masters()[1];
  ASSERT_GT(testing::DeleteKeysOf(*admin_, prefix_, &lost), 0u);
  std::size_t refused = 0;
  std::size_t decided = 0;
  for (std::size_t i = 0; i < 60; ++i) {
    ports::ClaimRequest in{digests[i], Tag()};
    ports::ClaimOutcome out;
    auto st = (*ledger)->ClaimBatch(std::span(&in, 1), std::span(&out, 1));
    const bool on_lost = Owner(KeySlot(layout.BucketKey(digests[i]))) == lost;
    if (on_lost) {
      ASSERT_FALSE(st.ok()) << "digest " << i << " decided on a lost master";
      EXPECT_EQ(st.code(), core::ErrorCode::kStateLost) << st.error();
      ++refused;
    } else {
      ASSERT_TRUE(st.ok()) << st.error();
      EXPECT_EQ(out.kind, Kind::kClaimed);
      ++decided;
    }
  }
  EXPECT_GT(refused, 0u);
  EXPECT_GT(decided, 0u);
  EXPECT_TRUE(testing::KeysOf(*admin_, prefix_, &lost).empty())
      << "a claim wrote on the lost master";
  auto health = CheckLedger(*admin_, layout, static_cast<std::uint32_t>(layout.Buckets()));
  ASSERT_FALSE(health.ok());
  EXPECT_EQ(health.code(), core::ErrorCode::kStateLost) << health.error();

  // Then every master: a whole batch spread over the cluster is refused.
  testing::DeleteKeysOf(*admin_, prefix_);
  std::vector<ports::ClaimRequest> in;
  for (std::size_t i = 100; i < 400; ++i) in.push_back({digests[i], Tag()});
  std::vector<ports::ClaimOutcome> out(in.size());
  auto st = (*ledger)->ClaimBatch(in, out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), core::ErrorCode::kStateLost) << st.error();
  EXPECT_TRUE(testing::KeysOf(*admin_, prefix_).empty());
  health = CheckLedger(*admin_, layout);
  ASSERT_FALSE(health.ok());
  EXPECT_EQ(health.code(), core::ErrorCode::kStateLost) << health.error();
}

TEST_F(RedisClusterTest, FollowsMovedAfterASlotChangedOwner) {
  auto digests = RandomDigests(2000);
  auto pool = LoadedPool(digests);
  ASSERT_NE(pool, nullptr);
  auto ledger = RedisCredentialLedger::Open(pool, prefix_);
  ASSERT_TRUE(ledger.ok()) << ledger.error();
  const auto& layout = (*ledger)->layout();
  // Warm the pool's only client (its slot map is now the pre-move one).
  ports::ClaimRequest warm{digests[1], Tag()};
  ports::ClaimOutcome warm_out;
  SCRUTIN_ASSERT_OK((*ledger)->ClaimBatch(std::span(&warm, 1), std::span(&warm_out, 1)));

  const core::Digest& d = digests[0];
  const std::uint16_t slot = KeySlot(layout.BucketKey(d));
  ASSERT_NE(slot, KeySlot(layout.MetaKey()));
  const Endpoint from = Owner(slot);
  Endpoint to;
  for (const auto& m : admin_->Masters()) {
    if (!(m == from)) to = m;
  }
  BeginMove(slot, from, to);
  EndMove(slot, to);
  ASSERT_EQ(Owner(slot).ToString(), to.ToString());

  std::uint64_t moved_before = 0;
  {
    auto lease = pool->Acquire();  // the pool's only client, returned at the end of the scope
    ASSERT_TRUE(lease.ok());
    moved_before = (*lease)->moved_count();
  }
  ports::ClaimRequest in{d, Tag()};
  ports::ClaimOutcome out;
  SCRUTIN_ASSERT_OK((*ledger)->ClaimBatch(std::span(&in, 1), std::span(&out, 1)));
  EXPECT_EQ(out.kind, Kind::kClaimed);
  auto after = pool->Acquire();
  ASSERT_TRUE(after.ok());
  EXPECT_GT((*after)->moved_count(), moved_before) << "the stale map should have met a MOVED";
}

TEST_F(RedisClusterTest, FollowsAskWhileASlotIsMigrating) {
  auto digests = RandomDigests(2000);
  auto pool = LoadedPool(digests);
  ASSERT_NE(pool, nullptr);
  auto ledger = RedisCredentialLedger::Open(pool, prefix_);
  ASSERT_TRUE(ledger.ok()) << ledger.error();
  const auto& layout = (*ledger)->layout();

  const core::Digest& d = digests[7];
  const std::uint16_t slot = KeySlot(layout.BucketKey(d));
  ASSERT_NE(slot, KeySlot(layout.MetaKey()));
  const Endpoint from = Owner(slot);
  Endpoint to;
  for (const auto& m : admin_->Masters()) {
    if (!(m == from)) to = m;
  }
  BeginMove(slot, from, to);  // the bucket now lives on `to`, but `from` still owns the slot

  ports::ClaimRequest in{d, Tag()};
  ports::ClaimOutcome out;
  auto st = (*ledger)->ClaimBatch(std::span(&in, 1), std::span(&out, 1));
  EndMove(slot, to);
  ASSERT_TRUE(st.ok()) << st.error();
  EXPECT_EQ(out.kind, Kind::kClaimed);
  {
    auto lease = pool->Acquire();  // the pool's only client, returned at the end of the scope
    ASSERT_TRUE(lease.ok());
    EXPECT_GT((*lease)->ask_count(), 0u);
  }
  // The claim landed on the new owner and is seen from there.
  ports::ClaimRequest dup{d, Tag()};
  SCRUTIN_ASSERT_OK((*ledger)->ClaimBatch(std::span(&dup, 1), std::span(&out, 1)));
  EXPECT_EQ(out.kind, Kind::kAlreadyClaimed);
  EXPECT_EQ(out.attempt_count, 2u);
}

TEST_F(RedisClusterTest, PipelinedBatchOverEveryNodeKeepsPerKeyOrder) {
  auto digests = RandomDigests(3000);
  auto pool = LoadedPool(digests);
  ASSERT_NE(pool, nullptr);
  auto ledger = RedisCredentialLedger::Open(pool, prefix_);
  ASSERT_TRUE(ledger.ok()) << ledger.error();
  // Three claims per digest, interleaved across digests (hence across nodes).
  std::vector<ports::ClaimRequest> in;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 300; ++i) in.push_back({digests[i], Tag()});
  }
  std::vector<ports::ClaimOutcome> out(in.size());
  SCRUTIN_ASSERT_OK((*ledger)->ClaimBatch(in, out));
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(out[i].kind, Kind::kClaimed);
    EXPECT_EQ(out[300 + i].kind, Kind::kAlreadyClaimed);
    EXPECT_EQ(out[300 + i].attempt_count, 2u);
    EXPECT_EQ(out[600 + i].attempt_count, 3u);
  }
}

}  // namespace
}  // namespace scrutin::redis
