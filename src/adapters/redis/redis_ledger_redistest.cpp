// The Redis credential ledger, loader and status store against a real Redis: every test runs on
// the single node and on the 3-master cluster started by the ctest fixtures.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>
#include <type_traits>

#include "adapters/redis/eligibility_loader.hpp"
#include "adapters/redis/ledger_rebuild.hpp"
#include "adapters/redis/redis_claim_mirror.hpp"
#include "adapters/redis/redis_credential_ledger.hpp"
#include "adapters/redis/redis_status_store.hpp"
#include "adapters/redis/redis_status_writer.hpp"
#include "adapters/redis/redis_test_support.hpp"
#include "ports/testing/credential_ledger_contract.hpp"
#include "ports/testing/status_writer_contract.hpp"

namespace scrutin::redis {
namespace {

using testing::Mode;
using testing::RandomDigests;
using testing::Tag;
using Kind = ports::ClaimOutcome::Kind;
using ports::testing::CredentialLedgerContract;

class RedisLedgerTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    std::string why;
    target_ = testing::TargetFor(GetParam(), why);
    ASSERT_FALSE(target_.nodes.empty()) << why;
    auto pool = RedisClientPool::Create(target_, ClientOptions{}, 8);
    ASSERT_TRUE(pool.ok()) << pool.error();
    pool_ = *pool;
    auto lease = pool_->Acquire();
    ASSERT_TRUE(lease.ok()) << lease.error();
    prefix_ = testing::UniquePrefix();
  }

  // Loads `digests` under this test's prefix and opens a ledger on them.
  std::unique_ptr<RedisCredentialLedger> LoadAndOpen(const std::vector<core::Digest>& digests,
                                                     LoadReport* report = nullptr) {
    auto lease = pool_->Acquire();
    EXPECT_TRUE(lease.ok());
    if (!lease.ok()) return nullptr;
    LoadOptions options;
    options.prefix = prefix_;
    auto loaded = LoadEligibility(**lease, digests, options);
    EXPECT_TRUE(loaded.ok()) << loaded.error();
    if (!loaded.ok()) return nullptr;
    if (report != nullptr) *report = *loaded;
    auto ledger = RedisCredentialLedger::Open(pool_, prefix_);
    EXPECT_TRUE(ledger.ok()) << ledger.error();
    return ledger.ok() ? std::move(*ledger) : nullptr;
  }

  static ports::ClaimOutcome ClaimOne(RedisCredentialLedger& ledger, const core::Digest& d,
                                      const std::string& tag) {
    ports::ClaimRequest in{d, tag};
    ports::ClaimOutcome out;
    auto st = ledger.ClaimBatch(std::span(&in, 1), std::span(&out, 1));
    EXPECT_TRUE(st.ok()) << st.error();
    return out;
  }

  RedisTarget target_;
  std::shared_ptr<RedisClientPool> pool_;
  std::string prefix_;
};

TEST_P(RedisLedgerTest, ClaimReplayDuplicateAndIneligible) {
  auto digests = RandomDigests(1000);
  auto ledger = LoadAndOpen(digests);
  ASSERT_NE(ledger, nullptr);
  const auto& d = digests[17];
  const std::string first = Tag();

  auto claimed = ClaimOne(*ledger, d, first);
  EXPECT_EQ(claimed.kind, Kind::kClaimed);
  EXPECT_EQ(claimed.attempt_count, 1u);

  // A redelivery of the same request finds its own claim.
  auto replay = ClaimOne(*ledger, d, first);
  EXPECT_EQ(replay.kind, Kind::kReplayed);
  EXPECT_EQ(replay.attempt_count, 1u);

  // Other requests with the same credential are duplicates, counted.
  const std::string dup1_tag = Tag();
  auto dup1 = ClaimOne(*ledger, d, dup1_tag);
  EXPECT_EQ(dup1.kind, Kind::kAlreadyClaimed);
  EXPECT_EQ(dup1.attempt_count, 2u);
  auto dup2 = ClaimOne(*ledger, d, Tag());
  EXPECT_EQ(dup2.kind, Kind::kAlreadyClaimed);
  EXPECT_EQ(dup2.attempt_count, 3u);

  // A redelivered duplicate gets its first answer again and counts no new attempt.
  auto dup1_again = ClaimOne(*ledger, d, dup1_tag);
  EXPECT_EQ(dup1_again.kind, Kind::kAlreadyClaimed);
  EXPECT_EQ(dup1_again.attempt_count, 2u);

  // The holder is still the first request, with the attempts so far.
  auto replay2 = ClaimOne(*ledger, d, first);
  EXPECT_EQ(replay2.kind, Kind::kReplayed);
  EXPECT_EQ(replay2.attempt_count, 3u);

  // A digest not in the database, twice: ineligible, attempt 1, nothing stored.
  auto stranger = RandomDigests(1)[0];
  for (int i = 0; i < 2; ++i) {
    auto inel = ClaimOne(*ledger, stranger, Tag());
    EXPECT_EQ(inel.kind, Kind::kIneligible);
    EXPECT_EQ(inel.attempt_count, 1u);
  }

  // Another eligible digest is independent.
  EXPECT_EQ(ClaimOne(*ledger, digests[18], Tag()).kind, Kind::kClaimed);
}

TEST_P(RedisLedgerTest, BatchDecidesInOrderAndSeesEarlierRequests) {
  auto digests = RandomDigests(5000);
  auto ledger = LoadAndOpen(digests);
  ASSERT_NE(ledger, nullptr);
  // 500 distinct digests (spread over every node), each claimed twice in the same batch, plus
  // ineligible ones interleaved.
  std::vector<ports::ClaimRequest> in;
  auto strangers = RandomDigests(100);
  for (int i = 0; i < 500; ++i) in.push_back({digests[i * 10], Tag()});
  for (int i = 0; i < 500; ++i) {
    in.push_back({digests[i * 10], Tag()});
    if (i % 5 == 0) in.push_back({strangers[i / 5], Tag()});
  }
  std::vector<ports::ClaimOutcome> out(in.size());
  auto st = ledger->ClaimBatch(in, out);
  ASSERT_TRUE(st.ok()) << st.error();
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(out[i].kind, Kind::kClaimed) << i;
    EXPECT_EQ(out[i].attempt_count, 1u);
  }
  int duplicates = 0;
  int ineligible = 0;
  for (std::size_t i = 500; i < out.size(); ++i) {
    if (out[i].kind == Kind::kAlreadyClaimed) {
      EXPECT_EQ(out[i].attempt_count, 2u);
      ++duplicates;
    } else {
      EXPECT_EQ(out[i].kind, Kind::kIneligible);
      ++ineligible;
    }
  }
  EXPECT_EQ(duplicates, 500);
  EXPECT_EQ(ineligible, 100);

  // Replaying the whole batch (a redelivery after a crash) claims nothing new: the first halves are
  // replays, the duplicates are counted again (attempt 3), the strangers stay ineligible.
  std::vector<ports::ClaimOutcome> again(in.size());
  SCRUTIN_ASSERT_OK(ledger->ClaimBatch(in, again));
  for (int i = 0; i < 500; ++i) EXPECT_EQ(again[i].kind, Kind::kReplayed) << i;
  for (std::size_t i = 500; i < again.size(); ++i) EXPECT_NE(again[i].kind, Kind::kClaimed);
}

TEST_P(RedisLedgerTest, ReloadingKeepsClaims) {
  auto digests = RandomDigests(3000);
  LoadReport first;
  auto ledger = LoadAndOpen(digests, &first);
  ASSERT_NE(ledger, nullptr);
  EXPECT_EQ(first.digests, 3000u);
  EXPECT_EQ(first.added, 3000u);
  EXPECT_EQ(first.ledger_total, 3000u);
  const std::string tag = Tag();
  ASSERT_EQ(ClaimOne(*ledger, digests[5], tag).kind, Kind::kClaimed);
  ASSERT_EQ(ClaimOne(*ledger, digests[5], Tag()).kind, Kind::kAlreadyClaimed);

  // Same database again, plus 1000 more and a repeated digest: only the new ones are added.
  auto more = digests;
  auto extra = RandomDigests(1000);
  more.insert(more.end(), extra.begin(), extra.end());
  more.push_back(digests[0]);
  LoadReport second;
  auto reopened = LoadAndOpen(more, &second);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(second.digests, 4000u);
  EXPECT_EQ(second.added, 1000u);
  EXPECT_EQ(second.ledger_total, 4000u);
  EXPECT_EQ(second.bucket_bits, first.bucket_bits);

  auto replay = ClaimOne(*reopened, digests[5], tag);
  EXPECT_EQ(replay.kind, Kind::kReplayed);
  EXPECT_EQ(replay.attempt_count, 2u);
  EXPECT_EQ(ClaimOne(*reopened, extra[3], Tag()).kind, Kind::kClaimed);
}

TEST_P(RedisLedgerTest, ManyThreadsClaimingOneCredentialYieldExactlyOneClaim) {
  auto digests = RandomDigests(200);
  auto ledger = LoadAndOpen(digests);
  ASSERT_NE(ledger, nullptr);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::atomic<int> claimed{0};
  std::atomic<int> failures{0};
  core::Mutex mu;
  std::set<std::uint32_t> duplicate_counts;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        ports::ClaimRequest in{digests[42], Tag()};
        ports::ClaimOutcome out;
        if (!ledger->ClaimBatch(std::span(&in, 1), std::span(&out, 1)).ok()) {
          ++failures;
          continue;
        }
        if (out.kind == Kind::kClaimed) {
          ++claimed;
        } else {
          core::MutexLock lock(mu);
          EXPECT_EQ(out.kind, Kind::kAlreadyClaimed);
          EXPECT_TRUE(duplicate_counts.insert(out.attempt_count).second) << out.attempt_count;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(claimed.load(), 1);
  // Every duplicate saw a distinct count: 2 .. N.
  ASSERT_EQ(duplicate_counts.size(), std::size_t{kThreads * kPerThread - 1});
  EXPECT_EQ(*duplicate_counts.begin(), 2u);
  EXPECT_EQ(*duplicate_counts.rbegin(), std::uint32_t{kThreads * kPerThread});
}

TEST_P(RedisLedgerTest, FallsBackToEvalWhenTheScriptCacheWasFlushed) {
  auto digests = RandomDigests(100);
  auto ledger = LoadAndOpen(digests);
  ASSERT_NE(ledger, nullptr);
  {
    auto lease = pool_->Acquire();
    ASSERT_TRUE(lease.ok());
    for (const auto& node : (*lease)->Masters()) {
      auto r = (*lease)->ExecuteOn(node, Command::Keyless({"SCRIPT", "FLUSH"}));
      ASSERT_TRUE(r.ok()) << r.error();
    }
  }
  EXPECT_EQ(ClaimOne(*ledger, digests[1], Tag()).kind, Kind::kClaimed);
  EXPECT_EQ(ClaimOne(*ledger, digests[1], Tag()).kind, Kind::kAlreadyClaimed);
}

// A URL with a user name authenticates as that ACL user (AUTH user password), on every node of a
// cluster; a wrong password is refused at connect with AUTH's answer, the password not echoed.
TEST_P(RedisLedgerTest, AuthenticatesAsAnAclUser) {
  const std::string user = "t" + testing::UniquePrefix().substr(1, 10);
  const std::string password = "pw-" + Tag();
  auto admin = RedisClient::Connect(target_);
  ASSERT_TRUE(admin.ok()) << admin.error();
  for (const auto& node : (*admin)->Masters()) {
    auto r = (*admin)->ExecuteOn(node, Command::Keyless({"ACL", "SETUSER", user, "on",
                                                         ">" + password, "~*", "&*", "+@all"}));
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_FALSE(r->is_error()) << r->str;
  }
  RedisTarget as_user = target_;
  as_user.user = user;
  as_user.password = password;
  auto client = RedisClient::Connect(as_user);
  ASSERT_TRUE(client.ok()) << client.error();
  for (const auto& node : (*client)->Masters()) {
    auto who = (*client)->ExecuteOn(node, Command::Keyless({"ACL", "WHOAMI"}));
    ASSERT_TRUE(who.ok()) << who.error();
    EXPECT_EQ(who->str, user);
  }
  as_user.password = "wrong";
  auto refused = RedisClient::Connect(as_user);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("AUTH refused"), std::string::npos) << refused.error();
  EXPECT_EQ(refused.error().find(password), std::string::npos);
  for (const auto& node : (*admin)->Masters()) {
    (void)(*admin)->ExecuteOn(node, Command::Keyless({"ACL", "DELUSER", user}));
  }
}

TEST_P(RedisLedgerTest, RecoversAfterItsConnectionsAreKilled) {
  auto digests = RandomDigests(100);
  LoadOptions options;
  options.prefix = prefix_;
  {
    auto lease = pool_->Acquire();
    ASSERT_TRUE(lease.ok());
    auto loaded = LoadEligibility(**lease, digests, options);
    ASSERT_TRUE(loaded.ok()) << loaded.error();
  }
  // A pool of one client, so that its connections are known; only they are killed (other tests
  // share the server).
  auto pool = RedisClientPool::Create(target_, ClientOptions{}, 1);
  ASSERT_TRUE(pool.ok()) << pool.error();
  auto ledger = RedisCredentialLedger::Open(*pool, prefix_);
  ASSERT_TRUE(ledger.ok()) << ledger.error();
  ASSERT_EQ(ClaimOne(**ledger, digests[0], Tag()).kind, Kind::kClaimed);
  std::vector<std::pair<Endpoint, std::string>> ids;
  {
    auto lease = (*pool)->Acquire();
    ASSERT_TRUE(lease.ok());
    for (const auto& node : (*lease)->Masters()) {
      auto id = (*lease)->ExecuteOn(node, Command::Keyless({"CLIENT", "ID"}));
      ASSERT_TRUE(id.ok()) << id.error();
      ids.emplace_back(node, std::to_string(id->integer));
    }
  }
  {
    auto killer = RedisClient::Connect(target_);
    ASSERT_TRUE(killer.ok()) << killer.error();
    for (const auto& [node, id] : ids) {
      auto r = (*killer)->ExecuteOn(node, Command::Keyless({"CLIENT", "KILL", "ID", id}));
      ASSERT_TRUE(r.ok()) << r.error();
      EXPECT_EQ(r->integer, 1) << "connection " << id << " on " << node.ToString();
    }
  }
  // The first batch may fail on a dead connection (its requests may or may not have run); the
  // client reconnects and the next one succeeds. Replaying with the same tag is safe.
  const std::string tag = Tag();
  ports::ClaimRequest in{digests[1], tag};
  ports::ClaimOutcome out;
  int failures = 0;
  bool ok = false;
  for (int attempt = 0; attempt < 3 && !ok; ++attempt) {
    auto st = (*ledger)->ClaimBatch(std::span(&in, 1), std::span(&out, 1));
    ok = st.ok();
    if (!ok) {
      ++failures;
      EXPECT_EQ(st.code(), core::ErrorCode::kUnavailable) << st.error();
      EXPECT_NE(st.error().find("redis"), std::string::npos) << st.error();
    }
  }
  ASSERT_TRUE(ok);
  EXPECT_LE(failures, 1);
  EXPECT_TRUE(out.kind == Kind::kClaimed || out.kind == Kind::kReplayed);
  EXPECT_EQ(ClaimOne(**ledger, digests[1], tag).kind, Kind::kReplayed);
}

TEST_P(RedisLedgerTest, RejectsMalformedClaimTagsBeforeSendingAnything) {
  auto digests = RandomDigests(10);
  auto ledger = LoadAndOpen(digests);
  ASSERT_NE(ledger, nullptr);
  std::vector<ports::ClaimRequest> in = {{digests[0], Tag()}, {digests[1], "not-a-tag"}};
  std::vector<ports::ClaimOutcome> out(2);
  auto st = ledger->ClaimBatch(in, out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), core::ErrorCode::kRefused) << st.error();
  EXPECT_NE(st.error().find("claim tag"), std::string::npos);
  // Nothing was applied: the first digest is still free.
  EXPECT_EQ(ClaimOne(*ledger, digests[0], Tag()).kind, Kind::kClaimed);
}

// Redis keeps claims durably and offers no Revert: the refusal is the type's (it is not a
// RevertibleCredentialLedger), and a validator over it refuses Undo.
static_assert(!std::is_base_of_v<ports::RevertibleCredentialLedger, RedisCredentialLedger>);

TEST_P(RedisLedgerTest, RevertIsRefused) {
  auto digests = RandomDigests(10);
  auto ledger = LoadAndOpen(digests);
  ASSERT_NE(ledger, nullptr);
  std::vector<ports::ClaimRequest> in = {{digests[0], Tag()}};
  std::vector<ports::ClaimOutcome> out(1);
  auto st = ledger->ClaimBatch(in, out);
  ASSERT_TRUE(st.ok()) << st.error();
  // The claim stands.
  EXPECT_EQ(ClaimOne(*ledger, digests[0], in[0].claim_tag).kind, Kind::kReplayed);
}

TEST_P(RedisLedgerTest, OpeningAnUnloadedPrefixFailsClearly) {
  auto ledger = RedisCredentialLedger::Open(pool_, prefix_ + "nothing:");
  ASSERT_FALSE(ledger.ok());
  EXPECT_NE(ledger.error().find("load-hashes"), std::string::npos) << ledger.error();
}

// The measured bug: after a FLUSHALL the claim script read the missing buckets as "not eligible"
// and a registered voter's vote was decided invalid. Now nothing is decided and nothing written.
TEST_P(RedisLedgerTest, AfterTheLedgerIsFlushedClaimsFailWithStateLostAndChangeNothing) {
  auto digests = RandomDigests(1000);
  auto ledger = LoadAndOpen(digests);
  ASSERT_NE(ledger, nullptr);
  const std::string first = Tag();
  ASSERT_EQ(ClaimOne(*ledger, digests[0], first).kind, Kind::kClaimed);

  auto lease = pool_->Acquire();
  ASSERT_TRUE(lease.ok());
  ASSERT_GT(testing::DeleteKeysOf(**lease, prefix_), 0u);  // FLUSHALL, for this test's keys

  std::vector<ports::ClaimRequest> in = {
      {digests[1], Tag()}, {RandomDigests(1)[0], Tag()}, {digests[0], first}, {digests[0], Tag()}};
  std::vector<ports::ClaimOutcome> out(in.size());
  auto st = ledger->ClaimBatch(in, out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), core::ErrorCode::kStateLost) << st.error();
  EXPECT_NE(st.error().find("scrutin ledger rebuild"), std::string::npos) << st.error();
  EXPECT_NE(st.error().find("no marker"), std::string::npos) << st.error();
  EXPECT_TRUE(testing::KeysOf(**lease, prefix_).empty()) << "the claim script wrote something";

  auto health = CheckLedger(**lease, ledger->layout());
  ASSERT_FALSE(health.ok());
  EXPECT_EQ(health.code(), core::ErrorCode::kStateLost) << health.error();
  EXPECT_NE(health.error().find("missing"), std::string::npos) << health.error();

  // Reopening says what to run.
  auto reopened = RedisCredentialLedger::Open(pool_, prefix_);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.code(), core::ErrorCode::kStateLost);
  EXPECT_NE(reopened.error().find("ledger rebuild"), std::string::npos) << reopened.error();
}

TEST_P(RedisLedgerTest, ALostBucketIsRefusedForItsDigestsOnlyAndLoadingDoesNotRemarkIt) {
  auto digests = RandomDigests(5000);
  LoadReport first;
  auto ledger = LoadAndOpen(digests, &first);
  ASSERT_NE(ledger, nullptr);
  const auto& layout = ledger->layout();
  const std::string lost_key = layout.BucketKey(digests[0]);
  ASSERT_EQ(ClaimOne(*ledger, digests[0], Tag()).kind, Kind::kClaimed);
  auto lease = pool_->Acquire();
  ASSERT_TRUE(lease.ok());
  auto del = (*lease)->Execute(Command::Keyed(1, {"DEL", lost_key}));
  ASSERT_TRUE(del.ok() && del->integer == 1);

  // Every digest of the lost bucket is refused; the batch as a whole fails.
  std::vector<ports::ClaimRequest> in = {{digests[0], Tag()}};
  for (std::size_t i = 1; i < digests.size() && in.size() < 3; ++i) {
    if (layout.Bucket(digests[i]) == layout.Bucket(digests[0])) in.push_back({digests[i], Tag()});
  }
  for (const auto& request : in) {
    ports::ClaimOutcome out;
    auto st = ledger->ClaimBatch(std::span(&request, 1), std::span(&out, 1));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), core::ErrorCode::kStateLost) << st.error();
    EXPECT_NE(st.error().find(lost_key), std::string::npos) << st.error();
  }
  auto exists = (*lease)->Execute(Command::Keyed(1, {"EXISTS", lost_key}));
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->integer, 0) << "the claim script recreated the lost bucket";

  // Other buckets decide as before.
  std::size_t other = 1;
  while (layout.Bucket(digests[other]) == layout.Bucket(digests[0])) ++other;
  EXPECT_EQ(ClaimOne(*ledger, digests[other], Tag()).kind, Kind::kClaimed);

  // A probe over every bucket finds it.
  auto health = CheckLedger(**lease, layout, static_cast<std::uint32_t>(layout.Buckets()));
  ASSERT_FALSE(health.ok());
  EXPECT_EQ(health.code(), core::ErrorCode::kStateLost) << health.error();
  EXPECT_NE(health.error().find(lost_key), std::string::npos) << health.error();

  // load-hashes again cannot know the bucket's claims: it reports the bucket, never marks it.
  LoadOptions options;
  options.prefix = prefix_;
  auto again = LoadEligibility(**lease, digests, options);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_FALSE(again->new_ledger);
  EXPECT_EQ(again->buckets_lost, 1u);
  EXPECT_EQ(again->id, first.id);
  ports::ClaimOutcome out;
  auto st = ledger->ClaimBatch(std::span(&in[0], 1), std::span(&out, 1));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), core::ErrorCode::kStateLost) << st.error();
}

TEST_P(RedisLedgerTest, LoaderRecordsTheIdentityAndMarksEveryBucketEmptyOnesIncluded) {
  // 10 digests over 256 buckets: almost every bucket is empty, and each still has its marker.
  auto digests = RandomDigests(10);
  LoadReport report;
  auto ledger = LoadAndOpen(digests, &report);
  ASSERT_NE(ledger, nullptr);
  EXPECT_TRUE(report.new_ledger);
  EXPECT_EQ(report.buckets_lost, 0u);
  auto sorted = digests;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(report.id, LedgerId(sorted));
  EXPECT_EQ(report.id.size(), kLedgerIdChars);
  std::map<std::uint64_t, std::uint32_t> per_bucket;
  std::uint32_t largest = 0;
  for (const auto& d : sorted)
    largest = std::max(largest, ++per_bucket[d.Prefix64() >> (64 - report.bucket_bits)]);
  EXPECT_EQ(report.largest_bucket, largest) << "the marker is not an entry";

  auto lease = pool_->Acquire();
  ASSERT_TRUE(lease.ok());
  auto layout = ReadLedgerLayout(**lease, prefix_);
  ASSERT_TRUE(layout.ok()) << layout.error();
  EXPECT_EQ(layout->id, report.id);
  EXPECT_EQ(layout->count, 10u);
  EXPECT_EQ(layout->bucket_bits, report.bucket_bits);
  EXPECT_EQ(ledger->layout().id, report.id);

  std::vector<Command> commands;
  std::vector<Command> lengths;
  for (std::uint64_t b = 0; b < layout->Buckets(); ++b) {
    commands.push_back(Command::Keyed(1, {"HGET", layout->BucketKey(b), kMarkerField}));
    lengths.push_back(Command::Keyed(1, {"HLEN", layout->BucketKey(b)}));
  }
  std::vector<Reply> replies(commands.size());
  SCRUTIN_ASSERT_OK((*lease)->Execute(commands, replies));
  std::vector<Reply> hlen(lengths.size());
  SCRUTIN_ASSERT_OK((*lease)->Execute(lengths, hlen));
  std::uint64_t entries = 0;
  for (std::size_t b = 0; b < replies.size(); ++b) {
    EXPECT_EQ(replies[b].str, report.id + "/" + std::to_string(report.bucket_bits))
        << "bucket " << b;
    entries += static_cast<std::uint64_t>(hlen[b].integer) - 1;  // minus the marker
  }
  EXPECT_EQ(entries, 10u);
  SCRUTIN_ASSERT_OK(CheckLedger(**lease, *layout, static_cast<std::uint32_t>(layout->Buckets())));

  // The same database under another prefix gets the same id and bits.
  LoadOptions options;
  options.prefix = prefix_ + "again:";
  auto twin = LoadEligibility(**lease, sorted, options);
  ASSERT_TRUE(twin.ok()) << twin.error();
  EXPECT_EQ(twin->id, report.id);
  EXPECT_EQ(twin->bucket_bits, report.bucket_bits);
}

TEST_P(RedisLedgerTest, ABucketOfAnotherLedgerIsRefused) {
  auto digests = RandomDigests(100);
  auto ledger = LoadAndOpen(digests);
  ASSERT_NE(ledger, nullptr);
  auto lease = pool_->Acquire();
  ASSERT_TRUE(lease.ok());
  const std::string key = ledger->layout().BucketKey(digests[3]);
  ASSERT_TRUE(
      (*lease)->Execute(Command::Keyed(1, {"HSET", key, kMarkerField, "0123456789abcdef"})).ok());
  ports::ClaimRequest in{digests[3], Tag()};
  ports::ClaimOutcome out;
  auto st = ledger->ClaimBatch(std::span(&in, 1), std::span(&out, 1));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), core::ErrorCode::kStateLost) << st.error();
  EXPECT_NE(st.error().find("different"), std::string::npos) << st.error();

  // The same id under other bucket bits (a layout this ledger did not open): refused too.
  std::size_t other = 0;
  while (ledger->layout().Bucket(digests[other]) == ledger->layout().Bucket(digests[3])) ++other;
  ASSERT_TRUE((*lease)
                  ->Execute(Command::Keyed(1, {"HSET", ledger->layout().BucketKey(digests[other]),
                                               kMarkerField, ledger->layout().id + "/24"}))
                  .ok());
  ports::ClaimRequest in2{digests[other], Tag()};
  st = ledger->ClaimBatch(std::span(&in2, 1), std::span(&out, 1));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), core::ErrorCode::kStateLost) << st.error();

  // The meta key naming another ledger: the probe says so.
  ASSERT_TRUE((*lease)
                  ->Execute(Command::Keyed(
                      1, {"HSET", ledger->layout().MetaKey(), "id", "0123456789abcdef"}))
                  .ok());
  auto health = CheckLedger(**lease, ledger->layout());
  ASSERT_FALSE(health.ok());
  EXPECT_EQ(health.code(), core::ErrorCode::kStateLost);
  EXPECT_NE(health.error().find("different ledger"), std::string::npos) << health.error();
}

// The aggregator's re-assertion of recorded claims (RedisClaimMirror) against the ways Redis loses
// them: one claim reset (a partial loss), a second request wrongly holding it, everything flushed
// and rebuilt from a snapshot of the record taken before the claim was recorded.
TEST_P(RedisLedgerTest, ClaimMirrorRestoresLostClaimsAndOutlivesARebuildThatMissedThem) {
  auto digests = RandomDigests(1000);
  std::sort(digests.begin(), digests.end());
  auto ledger = LoadAndOpen(digests);
  ASSERT_NE(ledger, nullptr);
  const LedgerLayout layout = ledger->layout();
  auto lease = pool_->Acquire();
  ASSERT_TRUE(lease.ok());
  RedisClient& client = **lease;
  RedisClaimMirror mirror(pool_, prefix_);
  auto reassert = [&](const core::Digest& d, const std::string& tag) {
    ports::ClaimRequest c{d, tag};
    auto r = mirror.Reassert(std::span(&c, 1));
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? *r : ports::MirrorReport{};
  };
  auto reset = [&](const core::Digest& d) {
    ASSERT_TRUE(
        client.Execute(Command::Keyed(1, {"HSET", layout.BucketKey(d), LedgerLayout::Field(d), ""}))
            .ok());
  };

  const std::string a = Tag();
  ASSERT_EQ(ClaimOne(*ledger, digests[0], a).kind, Kind::kClaimed);
  EXPECT_EQ(reassert(digests[0], a).unchanged, 1u);

  // A partial loss: the claim is back, so the next request is a duplicate, not a second claim.
  reset(digests[0]);
  EXPECT_EQ(reassert(digests[0], a).restored, 1u);
  auto dup = ClaimOne(*ledger, digests[0], Tag());
  EXPECT_EQ(dup.kind, Kind::kAlreadyClaimed);
  EXPECT_EQ(dup.attempt_count, 2u);

  // Another request got the credential after a loss: the record's holder wins, its count stays.
  reset(digests[0]);
  ASSERT_EQ(ClaimOne(*ledger, digests[0], Tag()).kind, Kind::kClaimed);
  ASSERT_EQ(ClaimOne(*ledger, digests[0], Tag()).kind, Kind::kAlreadyClaimed);
  EXPECT_EQ(reassert(digests[0], a).replaced, 1u);
  auto replay = ClaimOne(*ledger, digests[0], a);
  EXPECT_EQ(replay.kind, Kind::kReplayed);
  EXPECT_EQ(replay.attempt_count, 2u);

  // Everything flushed: with no ledger under the prefix the mirror cannot place a claim, and a
  // fresh mirror has no layout cached.
  ASSERT_GT(testing::DeleteKeysOf(client, prefix_), 0u);
  RedisClaimMirror fresh(pool_, prefix_);
  ports::ClaimRequest early{digests[1], Tag()};
  auto skipped = fresh.Reassert(std::span(&early, 1));
  ASSERT_TRUE(skipped.ok()) << skipped.error();
  EXPECT_EQ(skipped->skipped, 1u);

  // The rebuild starts (it records the bucket bits first) and reads a snapshot of the record that
  // predates the claim of digests[1]; the claim is recorded and mirrored before the rebuild
  // reaches its bucket.
  RebuildOptions options;
  options.prefix = prefix_;
  auto rebuild = LedgerRebuild::Start(client, digests, options);
  ASSERT_TRUE(rebuild.ok()) << rebuild.error();
  const std::string b = Tag();
  EXPECT_EQ(reassert(digests[1], b).restored, 1u);
  ports::ClaimRequest probe{digests[1], Tag()};
  ports::ClaimOutcome out;
  auto refused = ledger->ClaimBatch(std::span(&probe, 1), std::span(&out, 1));
  ASSERT_FALSE(refused.ok()) << "a bucket holding only a mirrored claim must not decide";
  EXPECT_EQ(refused.code(), core::ErrorCode::kStateLost);
  ASSERT_TRUE((*rebuild)->AddClaim(digests[0], a, 2).ok());
  ASSERT_TRUE((*rebuild)->FinishLedger().ok());
  ASSERT_TRUE((*rebuild)->Finish().ok());

  // One pass was enough: the mirrored claim survived, its bucket's other digests are eligible.
  EXPECT_EQ(ClaimOne(*ledger, digests[1], b).kind, Kind::kReplayed);
  EXPECT_EQ(ClaimOne(*ledger, digests[1], Tag()).kind, Kind::kAlreadyClaimed);
  EXPECT_EQ(ClaimOne(*ledger, digests[0], a).kind, Kind::kReplayed);
  for (std::size_t i = 2; i < digests.size(); ++i) {
    if (layout.Bucket(digests[i]) != layout.Bucket(digests[1])) continue;
    EXPECT_EQ(ClaimOne(*ledger, digests[i], Tag()).kind, Kind::kClaimed);
  }

  // A bucket marked with another ledger is left alone.
  const std::string key = layout.BucketKey(digests[500]);
  ASSERT_TRUE(
      client
          .Execute(Command::Keyed(1, {"HSET", key, kMarkerField,
                                      "0123456789abcdef/" + std::to_string(layout.bucket_bits)}))
          .ok());
  auto other = reassert(digests[500], Tag());
  EXPECT_EQ(other.skipped, 1u);
  auto field = client.Execute(Command::Keyed(1, {"HGET", key, LedgerLayout::Field(digests[500])}));
  ASSERT_TRUE(field.ok());
  EXPECT_EQ(field->str, "");

  ports::ClaimRequest bad{digests[2], "not-hex"};
  auto refused_tag = mirror.Reassert(std::span(&bad, 1));
  ASSERT_FALSE(refused_tag.ok());
  EXPECT_EQ(refused_tag.code(), core::ErrorCode::kRefused);
}

TEST_P(RedisLedgerTest, StatusStoreWritesReadsAndExpires) {
  RedisStatusStore store(pool_, std::chrono::hours(1), prefix_);
  auto a = core::RequestId::Generate();
  auto b = core::RequestId::Generate();
  auto unknown = core::RequestId::Generate();
  std::vector<StatusEntry> entries = {
      {a, {"L2025-001", core::VoteStatus::kAccepted, 1}, {}},
      {b,
       {"L2025-002", core::VoteStatus::kDuplicate, 4},
       core::Clock::now() + std::chrono::minutes(5)},
  };
  ASSERT_TRUE(store.Put(entries).ok());

  auto found = store.FindStatus(a);
  ASSERT_TRUE(found.ok()) << found.error();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->law_id, "L2025-001");
  EXPECT_EQ((*found)->status, core::VoteStatus::kAccepted);
  EXPECT_EQ((*found)->attempt_count, 1u);
  auto dup = store.FindStatus(b);
  ASSERT_TRUE(dup.ok() && dup->has_value());
  EXPECT_EQ((*dup)->status, core::VoteStatus::kDuplicate);
  EXPECT_EQ((*dup)->attempt_count, 4u);

  auto none = store.FindStatus(unknown);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  // "pending" written only if absent never overwrites a final status.
  std::vector<StatusEntry> pending = {{a, {"L2025-001", core::VoteStatus::kPending, 0}, {}},
                                      {unknown, {"L2025-001", core::VoteStatus::kPending, 0}, {}}};
  ASSERT_TRUE(store.Put(pending, /*only_if_absent=*/true).ok());
  EXPECT_EQ((*store.FindStatus(a))->status, core::VoteStatus::kAccepted);
  EXPECT_EQ((*store.FindStatus(unknown))->status, core::VoteStatus::kPending);

  // Records carry an expiry: the default TTL, or the writer's time.
  auto lease = pool_->Acquire();
  ASSERT_TRUE(lease.ok());
  auto ttl_a = (*lease)->Execute(Command::Keyed(1, {"PTTL", store.Key(a)}));
  ASSERT_TRUE(ttl_a.ok());
  EXPECT_GT(ttl_a->integer, 3500 * 1000);
  EXPECT_LE(ttl_a->integer, 3600 * 1000);
  auto ttl_b = (*lease)->Execute(Command::Keyed(1, {"PTTL", store.Key(b)}));
  ASSERT_TRUE(ttl_b.ok());
  EXPECT_GT(ttl_b->integer, 4 * 60 * 1000);
  EXPECT_LE(ttl_b->integer, 5 * 60 * 1000);

  // An expiry in the past: the record is gone at once.
  std::vector<StatusEntry> expired = {{b,
                                       {"L2025-002", core::VoteStatus::kDuplicate, 5},
                                       core::Clock::now() - std::chrono::seconds(1)}};
  ASSERT_TRUE(store.Put(expired).ok());
  auto gone = store.FindStatus(b);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());

  auto tally = store.FindTally("L2025-001");
  ASSERT_FALSE(tally.ok());
  EXPECT_EQ(tally.code(), core::ErrorCode::kRefused) << tally.error();
}

TEST_P(RedisLedgerTest, StatusStoreReportsMalformedRecords) {
  RedisStatusStore store(pool_, std::chrono::hours(1), prefix_);
  auto id = core::RequestId::Generate();
  auto lease = pool_->Acquire();
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(
      (*lease)->Execute(Command::Keyed(1, {"SET", store.Key(id), "garbage", "EX", "60"})).ok());
  auto status = store.FindStatus(id);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), core::ErrorCode::kCorrupt) << status.error();
}

INSTANTIATE_TEST_SUITE_P(Redis, RedisLedgerTest, ::testing::Values(Mode::kSingle, Mode::kCluster),
                         testing::ModeName);

// The CredentialLedger contract on a single node and on the cluster: each ledger gets its own key
// prefix on the fixture's server, loaded with exactly the contract's eligible digests.
ports::testing::LedgerFactory RedisLedgerFactory(Mode mode) {
  return {mode == Mode::kSingle ? "Single" : "Cluster",
          [mode](const std::vector<core::Digest>& eligible) -> ports::CredentialLedgerPtr {
            std::string why;
            auto target = testing::TargetFor(mode, why);
            if (target.nodes.empty()) {
              ADD_FAILURE() << why;
              return nullptr;
            }
            auto pool = RedisClientPool::Create(target, ClientOptions{}, 4);
            if (!pool.ok()) {
              ADD_FAILURE() << pool.error();
              return nullptr;
            }
            auto lease = (*pool)->Acquire();
            if (!lease.ok()) {
              ADD_FAILURE() << lease.error();
              return nullptr;
            }
            LoadOptions options;
            options.prefix = testing::UniquePrefix();
            if (auto loaded = LoadEligibility(**lease, eligible, options); !loaded.ok()) {
              ADD_FAILURE() << loaded.error();
              return nullptr;
            }
            auto ledger = RedisCredentialLedger::Open(*pool, options.prefix);
            if (!ledger.ok()) {
              ADD_FAILURE() << ledger.error();
              return nullptr;
            }
            return std::move(*ledger);
          }};
}

INSTANTIATE_TEST_SUITE_P(Redis, CredentialLedgerContract,
                         ::testing::Values(RedisLedgerFactory(Mode::kSingle),
                                           RedisLedgerFactory(Mode::kCluster)),
                         ports::testing::FactoryName<ports::testing::LedgerFactory>);

// The StatusWriter contract on RedisStatusWriter, read back through RedisStatusStore, each store
// under a key prefix of its own.
class RedisStatusesUnderTest final : public ports::testing::StatusWriterUnderTest {
 public:
  RedisStatusesUnderTest(std::shared_ptr<RedisClientPool> pool, std::string prefix)
      : store_(std::move(pool), std::chrono::hours(1), std::move(prefix)), writer_(store_) {}
  ports::StatusWriter& writer() override { return writer_; }
  ports::VoteQueries& queries() override { return store_; }

 private:
  RedisStatusStore store_;
  RedisStatusWriter writer_;
};

ports::testing::StatusWriterFactory RedisStatusWriterFactory(Mode mode) {
  return {mode == Mode::kSingle ? "Single" : "Cluster",
          [mode]() -> std::unique_ptr<ports::testing::StatusWriterUnderTest> {
            std::string why;
            auto target = testing::TargetFor(mode, why);
            if (target.nodes.empty()) {
              ADD_FAILURE() << why;
              return nullptr;
            }
            auto pool = RedisClientPool::Create(target, ClientOptions{}, 2);
            if (!pool.ok()) {
              ADD_FAILURE() << pool.error();
              return nullptr;
            }
            return std::make_unique<RedisStatusesUnderTest>(*pool, testing::UniquePrefix());
          }};
}

using ports::testing::StatusWriterContract;
INSTANTIATE_TEST_SUITE_P(Redis, StatusWriterContract,
                         ::testing::Values(RedisStatusWriterFactory(Mode::kSingle),
                                           RedisStatusWriterFactory(Mode::kCluster)),
                         ports::testing::FactoryName<ports::testing::StatusWriterFactory>);

// Memory per voter on a single node, measured on 200k digests. The 8M figure is bench's job; this
// guards the layout (listpack buckets, 16-byte fields) against regressions.
TEST(RedisLedgerMemoryTest, StaysUnderEightyBytesPerVoter) {
  std::string why;
  auto target = testing::TargetFor(Mode::kSingle, why);
  ASSERT_FALSE(target.nodes.empty()) << why;
  auto client = RedisClient::Connect(target);
  ASSERT_TRUE(client.ok()) << client.error();
  // SCRUTIN_REDIS_MEMORY_VOTERS overrides the size for a by-hand measurement (e.g. 8000000).
  std::size_t kVoters = 200000;
  if (const char* v = std::getenv("SCRUTIN_REDIS_MEMORY_VOTERS"); v != nullptr && *v != '\0') {
    kVoters = std::strtoull(v, nullptr, 10);
  }
  ASSERT_GE(kVoters, 10000u);
  auto digests = RandomDigests(kVoters);
  std::sort(digests.begin(), digests.end());
  LoadOptions options;
  options.prefix = testing::UniquePrefix();
  std::uint64_t last_progress = 0;
  options.progress = [&](std::uint64_t done, std::uint64_t total) {
    EXPECT_GE(done, last_progress);
    EXPECT_EQ(total, kVoters);
    last_progress = done;
  };
  auto before = UsedMemory(**client);
  ASSERT_TRUE(before.ok()) << before.error();
  const auto load_start = std::chrono::steady_clock::now();
  auto report = LoadEligibility(**client, digests, options);
  ASSERT_TRUE(report.ok()) << report.error();
  const double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  std::printf("[ memory   ] loaded %zu digests in %.2f s (%.0f per second)\n", kVoters,
              load_seconds, kVoters / load_seconds);
  EXPECT_EQ(last_progress, kVoters);
  EXPECT_EQ(report->added, kVoters);
  EXPECT_TRUE(report->listpack_configured);
  EXPECT_LE(report->largest_bucket, static_cast<std::uint32_t>(kListpackEntries));

  // Sum the memory of this test's keys only (other tests may share the server).
  LedgerLayout layout;
  layout.prefix = options.prefix;
  layout.bucket_bits = report->bucket_bits;
  auto measure = [&](const char* label) {
    std::vector<Command> commands;
    for (std::uint64_t b = 0; b < (std::uint64_t{1} << layout.bucket_bits); ++b) {
      commands.push_back(
          Command::Keyed(2, {"MEMORY", "USAGE", layout.BucketKey(b), "SAMPLES", "0"}));
    }
    std::vector<Reply> replies(commands.size());
    EXPECT_TRUE((*client)->Execute(commands, replies).ok());
    std::uint64_t bytes = 0;
    for (const auto& r : replies) bytes += r.type == Reply::Type::kInteger ? r.integer : 0;
    auto encoding =
        (*client)->Execute(Command::Keyed(2, {"OBJECT", "ENCODING", layout.BucketKey(digests[0])}));
    EXPECT_TRUE(encoding.ok());
    EXPECT_EQ(encoding->str, "listpack");
    double per_voter = static_cast<double>(bytes) / kVoters;
    std::printf("[ memory   ] %s: %zu voters, %u buckets (largest %u), %.1f bytes per voter\n",
                label, kVoters, 1u << layout.bucket_bits, report->largest_bucket, per_voter);
    return per_voter;
  };
  EXPECT_LE(measure("loaded"), 80.0);
  auto after = UsedMemory(**client);
  ASSERT_TRUE(after.ok());
  std::printf("[ memory   ] used_memory grew by %.1f bytes per voter (server-wide, approximate)\n",
              (static_cast<double>(*after) - static_cast<double>(*before)) / kVoters);

  // Everyone voted: each value now holds a claim tag and a count.
  auto pool = RedisClientPool::Create(target);
  ASSERT_TRUE(pool.ok());
  auto ledger = RedisCredentialLedger::Open(*pool, options.prefix);
  ASSERT_TRUE(ledger.ok()) << ledger.error();
  const auto claim_start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < kVoters; i += 5000) {
    std::vector<ports::ClaimRequest> in;
    for (std::size_t k = i; k < std::min(kVoters, i + 5000); ++k) in.push_back({digests[k], Tag()});
    std::vector<ports::ClaimOutcome> out(in.size());
    SCRUTIN_ASSERT_OK((*ledger)->ClaimBatch(in, out));
  }
  const double claim_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - claim_start).count();
  std::printf("[ memory   ] claimed %zu digests in batches of 5000 in %.2f s (%.0f per second)\n",
              kVoters, claim_seconds, kVoters / claim_seconds);
  EXPECT_LE(measure("all claimed"), 80.0);
}

}  // namespace
}  // namespace scrutin::redis
