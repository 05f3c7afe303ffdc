// `scrutin ledger rebuild` end to end, in process, against the PostgreSQL, Redis and Redis Cluster
// servers of the ctest fixtures: a ledger with claims, duplicates and statuses recorded in
// PostgreSQL as the aggregator records them; Redis loses it (this test's keys: the servers are
// shared); the command restores it; the ledger opened before the loss decides again, replays are
// recognised, and a second run changes nothing. A partial loss (one claim reset, one claim held by
// another tag) is repaired the same way.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "adapters/postgres/pg_schema.hpp"
#include "adapters/postgres/pg_test_support.hpp"
#include "adapters/redis/eligibility_loader.hpp"
#include "adapters/redis/redis_credential_ledger.hpp"
#include "adapters/redis/redis_status_store.hpp"
#include "adapters/redis/redis_test_support.hpp"
#include "apps/commands.hpp"
#include "core/hash_database.hpp"
#include "core/request_id.hpp"

namespace scrutin::apps {
namespace {

using Kind = ports::ClaimOutcome::Kind;
using redis::testing::Mode;

class LedgerRebuildTest : public postgres::testing::PgSchemaTest,
                          public ::testing::WithParamInterface<Mode> {
 protected:
  void SetUp() override {
    PgSchemaTest::SetUp();
    if (HasFatalFailure()) return;
    std::string why;
    target_ = redis::testing::TargetFor(GetParam(), why);
    ASSERT_FALSE(target_.nodes.empty()) << why;
    auto pool = redis::RedisClientPool::Create(target_, redis::ClientOptions{}, 4);
    ASSERT_TRUE(pool.ok()) << pool.error();
    redis_ = *pool;
    prefix_ = redis::testing::UniquePrefix();
    pg_ = NewPool();
    ASSERT_NE(pg_, nullptr);
    SCRUTIN_ASSERT_OK(postgres::Migrate(*pg_));

    // The eligibility database, as hashgen writes it.
    digests_ = redis::testing::RandomDigests(3000);
    std::sort(digests_.begin(), digests_.end());
    dir_ = std::filesystem::temp_directory_path() / ("scrutin-rebuild-" + schema_);
    std::filesystem::remove_all(dir_);
    auto copy = digests_;
    auto manifest = core::WriteHashDatabase(dir_, core::HashScheme::kSha256,
                                            core::ShardFormat::kBin, 1000, copy);
    ASSERT_TRUE(manifest.ok()) << manifest.error();

    auto lease = redis_->Acquire();
    ASSERT_TRUE(lease.ok()) << lease.error();
    redis::LoadOptions options;
    options.prefix = prefix_;
    auto loaded = redis::LoadEligibility(**lease, digests_, options);
    ASSERT_TRUE(loaded.ok()) << loaded.error();
    auto ledger = redis::RedisCredentialLedger::Open(redis_, prefix_);
    ASSERT_TRUE(ledger.ok()) << ledger.error();
    ledger_ = std::move(*ledger);
  }

  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    if (redis_) {
      auto lease = redis_->Acquire();
      if (lease.ok()) redis::testing::DeleteKeysOf(**lease, prefix_);
    }
    PgSchemaTest::TearDown();
  }

  std::string RedisUrl() const {
    std::string url = GetParam() == Mode::kSingle ? "redis://" : "redis-cluster://";
    for (std::size_t i = 0; i < target_.nodes.size(); ++i) {
      url += (i ? "," : "") + target_.nodes[i].ToString();
    }
    if (!target_.password.empty()) ADD_FAILURE() << "the fixture's Redis has a password";
    return url;
  }

  // A vote as the validator decides it and the aggregator records it: the claim in Redis, then
  // its audit row, its claim row (accepted only) and its status row in PostgreSQL, and its status
  // in Redis.
  struct Voted {
    core::RequestId id;
    std::string tag;
    ports::ClaimOutcome outcome;
  };
  Voted Vote(const core::Digest& digest) {
    Voted v{core::RequestId::Generate(), {}, {}};
    v.tag = core::ClaimTag(v.id);
    ports::ClaimRequest in{digest, v.tag};
    EXPECT_TRUE(ledger_->ClaimBatch(std::span(&in, 1), std::span(&v.outcome, 1)).ok());
    const bool accepted = v.outcome.kind == Kind::kClaimed;
    const char* status = accepted ? "accepted" : "duplicate";
    const std::string n = std::to_string(v.outcome.attempt_count);
    const std::string hash = digest.ToHex();
    EXPECT_TRUE(AdminExec(
        "SET search_path = " + schema_ +
        "; INSERT INTO vote_audit (request_key, vote_hash, law_id, status, attempt_count, "
        "\"timestamp\") VALUES ('" +
        core::StatusKey(core::RequestId::Generate()) + "', '" + hash + "', 'L2025-001', '" +
        status + "', " + n + ", now()); INSERT INTO request_status VALUES ('" +
        core::StatusKey(v.id) + "', 'L2025-001', '" + status + "', " + n +
        ", now() + interval '1 day')" +
        (accepted ? "; INSERT INTO accepted_credentials VALUES ('" + hash + "', 'L2025-001', '" +
                        v.tag + "')"
                  : std::string()) +
        "; RESET search_path"));
    redis::RedisStatusStore store(redis_, std::chrono::hours(1), prefix_);
    std::vector<redis::StatusEntry> entries = {
        {v.id,
         {"L2025-001", accepted ? core::VoteStatus::kAccepted : core::VoteStatus::kDuplicate,
          v.outcome.attempt_count},
         {}}};
    EXPECT_TRUE(store.Put(entries).ok());
    return v;
  }

  ports::ClaimOutcome Claim(const core::Digest& d, const std::string& tag) {
    ports::ClaimRequest in{d, tag};
    ports::ClaimOutcome out;
    auto st = ledger_->ClaimBatch(std::span(&in, 1), std::span(&out, 1));
    EXPECT_TRUE(st.ok()) << st.error();
    return out;
  }

  // Runs `scrutin ledger rebuild` as main() would, in this process. False when it failed.
  bool Rebuild() {
    const std::string pg_url = url_ + (url_.find('?') == std::string::npos ? "?" : "&") +
                               "options=-csearch_path%3D" + schema_;
    std::vector<std::string> args = {"scrutin",  "ledger",   "rebuild",     "--redis",
                                     RedisUrl(), "--hashes", dir_.string(), "--pg",
                                     pg_url,     "--prefix", prefix_};
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    CLI::App app;
    BuildApp(app);
    try {
      app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CommandError& e) {
      ADD_FAILURE() << e.what();
      return false;
    }
    return true;
  }

  // Every field and value of every bucket of this ledger.
  std::map<std::string, std::string> Snapshot() {
    std::map<std::string, std::string> out;
    auto lease = redis_->Acquire();
    EXPECT_TRUE(lease.ok());
    for (std::uint64_t b = 0; b < ledger_->layout().Buckets(); ++b) {
      const std::string key = ledger_->layout().BucketKey(b);
      auto r = (*lease)->Execute(redis::Command::Keyed(1, {"HGETALL", key}));
      EXPECT_TRUE(r.ok());
      for (std::size_t i = 0; i + 1 < r->elements.size(); i += 2) {
        out[key + "/" + r->elements[i].str] = r->elements[i + 1].str;
      }
    }
    return out;
  }

  redis::RedisTarget target_;
  std::shared_ptr<redis::RedisClientPool> redis_;
  std::string prefix_;
  postgres::PgPoolPtr pg_;
  std::vector<core::Digest> digests_;
  std::filesystem::path dir_;
  std::unique_ptr<redis::RedisCredentialLedger> ledger_;
};

TEST_P(LedgerRebuildTest, RestoresClaimsAttemptsAndStatusesAfterALossAndIsIdempotent) {
  // 40 voters; the first 10 tried twice more each (two duplicates: attempts 3).
  std::vector<Voted> first;
  for (int i = 0; i < 40; ++i) first.push_back(Vote(digests_[i * 70]));
  std::vector<Voted> duplicates;
  for (int i = 0; i < 10; ++i) {
    duplicates.push_back(Vote(digests_[i * 70]));
    duplicates.push_back(Vote(digests_[i * 70]));
  }
  for (int i = 0; i < 10; ++i) ASSERT_EQ(duplicates[2 * i + 1].outcome.attempt_count, 3u);
  const auto before = Snapshot();

  // Redis loses everything: nothing is decided, nothing written.
  {
    auto lease = redis_->Acquire();
    ASSERT_TRUE(lease.ok());
    ASSERT_GT(redis::testing::DeleteKeysOf(**lease, prefix_), 0u);
    ports::ClaimRequest in{digests_[1], core::ClaimTag(core::RequestId::Generate())};
    ports::ClaimOutcome out;
    auto st = ledger_->ClaimBatch(std::span(&in, 1), std::span(&out, 1));
    ASSERT_FALSE(st.ok());
    ASSERT_EQ(st.code(), core::ErrorCode::kStateLost) << st.error();
  }

  ASSERT_TRUE(Rebuild());

  // The ledger is the one before the loss, less the 32-byte fields of the duplicates (the record
  // keeps no claim tag for them): every claim with its attempts, every marker, the meta key.
  auto after = Snapshot();
  for (const auto& [field, value] : before) {
    const auto slash = field.find('/');
    if (field.size() - slash - 1 == 32) continue;  // a duplicate attempt's field
    EXPECT_EQ(after[field], value) << "field of " << field.substr(0, slash);
  }
  {
    auto lease = redis_->Acquire();
    ASSERT_TRUE(lease.ok());
    SCRUTIN_ASSERT_OK(redis::CheckLedger(**lease, ledger_->layout(),
                                         static_cast<std::uint32_t>(ledger_->layout().Buckets())));
    auto layout = redis::ReadLedgerLayout(**lease, prefix_);
    ASSERT_TRUE(layout.ok()) << layout.error();
    EXPECT_EQ(layout->id, ledger_->layout().id);
    EXPECT_EQ(layout->bucket_bits, ledger_->layout().bucket_bits);
    EXPECT_EQ(layout->count, digests_.size());
  }

  // The ledger opened before the loss decides again: replays recognised with their attempts, a
  // new duplicate counted on, a new voter claimed, a stranger ineligible.
  for (int i = 0; i < 40; ++i) {
    auto replay = Claim(digests_[i * 70], first[i].tag);
    EXPECT_EQ(replay.kind, Kind::kReplayed) << i;
    EXPECT_EQ(replay.attempt_count, i < 10 ? 3u : 1u) << i;
  }
  auto dup = Claim(digests_[0], core::ClaimTag(core::RequestId::Generate()));
  EXPECT_EQ(dup.kind, Kind::kAlreadyClaimed);
  EXPECT_EQ(dup.attempt_count, 4u);
  EXPECT_EQ(Claim(digests_[1], core::ClaimTag(core::RequestId::Generate())).kind, Kind::kClaimed);
  EXPECT_EQ(
      Claim(redis::testing::RandomDigests(1)[0], core::ClaimTag(core::RequestId::Generate())).kind,
      Kind::kIneligible);

  // Statuses are back.
  redis::RedisStatusStore store(redis_, std::chrono::hours(1), prefix_);
  for (const auto& v : first) {
    auto s = store.FindStatus(v.id);
    ASSERT_TRUE(s.ok() && s->has_value());
    EXPECT_EQ((*s)->status, core::VoteStatus::kAccepted);
  }
  auto s = store.FindStatus(duplicates[1].id);
  ASSERT_TRUE(s.ok() && s->has_value());
  EXPECT_EQ((*s)->status, core::VoteStatus::kDuplicate);
  EXPECT_EQ((*s)->attempt_count, 3u);

  // A second run changes nothing.
  const auto settled = Snapshot();
  ASSERT_TRUE(Rebuild());
  EXPECT_EQ(Snapshot(), settled);
}

TEST_P(LedgerRebuildTest, RepairsAPartialLossWithTheRecordsClaims) {
  std::vector<Voted> voted;
  for (int i = 0; i < 20; ++i) voted.push_back(Vote(digests_[i * 100]));
  // Redis lost one claim (reset to unclaimed, as a claim written after the last fsync would be)
  // and, for another credential, holds a claim the record does not (another tag).
  const auto& layout = ledger_->layout();
  auto lease = redis_->Acquire();
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE((*lease)
                  ->Execute(redis::Command::Keyed(1, {"HSET", layout.BucketKey(digests_[0]),
                                                      redis::LedgerLayout::Field(digests_[0]), ""}))
                  .ok());
  const std::string other(16, 'x');
  ASSERT_TRUE((*lease)
                  ->Execute(redis::Command::Keyed(
                      1, {"HSET", layout.BucketKey(digests_[100]),
                          redis::LedgerLayout::Field(digests_[100]), other + "2"}))
                  .ok());
  // Without the rebuild, the reset voter would be claimed again: the measured bug.
  ASSERT_TRUE(Rebuild());
  auto replay = Claim(digests_[0], voted[0].tag);
  EXPECT_EQ(replay.kind, Kind::kReplayed);
  EXPECT_EQ(replay.attempt_count, 1u);
  auto held = Claim(digests_[100], voted[1].tag);
  EXPECT_EQ(held.kind, Kind::kReplayed);
  EXPECT_EQ(held.attempt_count, 2u) << "the higher of Redis's and the record's attempts";
  EXPECT_EQ(Claim(digests_[0], core::ClaimTag(core::RequestId::Generate())).kind,
            Kind::kAlreadyClaimed);
}

INSTANTIATE_TEST_SUITE_P(Redis, LedgerRebuildTest, ::testing::Values(Mode::kSingle, Mode::kCluster),
                         redis::testing::ModeName);

}  // namespace
}  // namespace scrutin::apps
