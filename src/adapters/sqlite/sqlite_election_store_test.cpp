#include "adapters/sqlite/sqlite_election_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "ports/testing/contract_votes.hpp"
#include "ports/testing/vote_recorder_contract.hpp"

namespace scrutin::adapters::sqlite {
namespace {

namespace fs = std::filesystem;
using core::VoteStatus;

core::Ballot TwoLaws() {
  auto now = core::Clock::now();
  core::Law a{"L2025-001",
              "Loi A",
              "Act A",
              now - std::chrono::hours(1),
              now + std::chrono::hours(1),
              core::ResultsPolicy::kLive};
  core::Law b{"L2025-002",
              "Loi B",
              "Act B",
              now - std::chrono::hours(1),
              now + std::chrono::hours(1),
              core::ResultsPolicy::kLive};
  return core::Ballot({a, b});
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("scrutin-sqlite-test-" + core::RequestId::Generate().ToString());
    fs::create_directories(dir_);
    options_.file = dir_ / "scrutin.db";
    options_.eligibility_fingerprint = "fp-1";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<SqliteElectionStore> Open() {
    auto store = SqliteElectionStore::Open(options_, ballot_);
    EXPECT_TRUE(store) << (store ? "" : store.error());
    return store ? std::move(*store) : nullptr;
  }

  static core::VoteEnvelope Vote(std::uint8_t tag, const char* law, core::Choice choice) {
    core::Digest digest;
    digest.bytes[0] = tag;
    return ports::testing::MakeVote(digest, law, choice);
  }

  // Mixes every sealed ballot of `law` (what the mixer does at the close).
  static void MixAll(SqliteElectionStore& store, const char* law) {
    auto mixed = ports::testing::MixAll(store.ballot_box(), law);
    ASSERT_TRUE(mixed.ok()) << mixed.error();
  }

  static core::Decision Decided(VoteStatus s, std::uint32_t attempts = 1, bool replay = false) {
    core::Decision d;
    d.status = s;
    d.attempt_count = attempts;
    d.replay = replay;
    return d;
  }

  std::int64_t Count(const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open_v2(options_.file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
    std::int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
  }

  fs::path dir_;
  SqliteStoreOptions options_;
  core::Ballot ballot_ = TwoLaws();
};

TEST_F(SqliteStoreTest, RecordsAStatusAuditRowAndSealedBallotPerAcceptedVote) {
  auto store = Open();
  std::vector<core::VoteEnvelope> votes = {
      Vote(1, "L2025-001", core::Choice::kOui), Vote(2, "L2025-001", core::Choice::kNon),
      Vote(3, "L2025-002", core::Choice::kOui), Vote(1, "L2025-001", core::Choice::kNon),
      Vote(9, "L2025-001", core::Choice::kOui)};
  std::vector<core::Decision> decisions = {
      Decided(VoteStatus::kAccepted), Decided(VoteStatus::kAccepted),
      Decided(VoteStatus::kAccepted), Decided(VoteStatus::kDuplicate, 2),
      Decided(VoteStatus::kInvalid)};
  ASSERT_TRUE(store->recorder().Record(votes, decisions));
  EXPECT_EQ(Count("SELECT count(*) FROM sealed_ballots"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM ballots"), 0);
  EXPECT_EQ(store->queries().FindTally("L2025-001")->sealed, 2u);

  MixAll(*store, "L2025-001");
  MixAll(*store, "L2025-002");
  auto tally = store->queries().FindTally("L2025-001");
  ASSERT_TRUE(tally);
  EXPECT_EQ(tally->oui, 1u);
  EXPECT_EQ(tally->non, 1u);
  EXPECT_EQ(tally->sealed, 0u);
  EXPECT_EQ(store->queries().FindTally("L2025-002")->oui, 1u);

  auto status = store->queries().FindStatus(votes[3].request_id);
  ASSERT_TRUE(status);
  ASSERT_TRUE(status->has_value());
  EXPECT_EQ((*status)->status, VoteStatus::kDuplicate);
  EXPECT_EQ((*status)->attempt_count, 2u);
  EXPECT_EQ((*status)->law_id, "L2025-001");
  EXPECT_FALSE(store->queries().FindStatus(core::RequestId::Generate())->has_value());

  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit"), 5);
  EXPECT_EQ(Count("SELECT count(*) FROM ballots"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM accepted_credentials"), 3);
  EXPECT_EQ(Count("SELECT attempt_count FROM duplicate_attempts"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM sealed_ballots"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM receipts WHERE receipt = '" +
                  core::Receipt(votes[0].request_id) + "'"),
            1);
}

TEST_F(SqliteStoreTest, AnAcceptedRequestsStatusIsItsStatusRowBeforeAndAfterTheMix) {
  auto store = Open();
  std::vector<core::VoteEnvelope> votes = {Vote(4, "L2025-002", core::Choice::kNon)};
  std::vector<core::Decision> decisions = {Decided(VoteStatus::kAccepted)};
  ASSERT_TRUE(store->recorder().Record(votes, decisions));
  auto status = store->queries().FindStatus(votes[0].request_id);
  ASSERT_TRUE(status);
  ASSERT_TRUE(status->has_value());
  EXPECT_EQ((*status)->status, VoteStatus::kAccepted);
  EXPECT_EQ((*status)->law_id, "L2025-002");
  EXPECT_EQ((*status)->attempt_count, 1u);
  EXPECT_EQ(Count("SELECT count(*) FROM request_status"), 1);
  MixAll(*store, "L2025-002");
  status = store->queries().FindStatus(votes[0].request_id);
  ASSERT_TRUE(status && status->has_value());
  EXPECT_EQ((*status)->status, VoteStatus::kAccepted);
}

TEST_F(SqliteStoreTest, StatusesAreNoLongerServedAfterCloseAndRetention) {
  auto now = core::Clock::now();
  ballot_ = core::Ballot({core::Law{"L2025-001", "A", "A", now - std::chrono::hours(48),
                                    now - std::chrono::hours(2), core::ResultsPolicy::kLive}});
  options_.status_retention = std::chrono::hours(1);
  auto store = Open();
  std::vector<core::VoteEnvelope> votes = {Vote(1, "L2025-001", core::Choice::kOui),
                                           Vote(1, "L2025-001", core::Choice::kOui)};
  std::vector<core::Decision> decisions = {Decided(VoteStatus::kAccepted),
                                           Decided(VoteStatus::kDuplicate, 2)};
  ASSERT_TRUE(store->recorder().Record(votes, decisions));
  EXPECT_FALSE(store->queries().FindStatus(votes[0].request_id)->has_value());
  EXPECT_FALSE(store->queries().FindStatus(votes[1].request_id)->has_value());
  MixAll(*store, "L2025-001");
  EXPECT_EQ(store->queries().FindTally("L2025-001")->oui, 1u);  // the count itself stays
}

// That the tallies count a redelivered batch once is VoteRecorderContract's; here, that it writes
// no second audit row nor ballot.
TEST_F(SqliteStoreTest, RecordingTheSameBatchTwiceWritesNoSecondRow) {
  auto store = Open();
  std::vector<core::VoteEnvelope> votes = {Vote(1, "L2025-001", core::Choice::kOui),
                                           Vote(2, "L2025-002", core::Choice::kNon)};
  std::vector<core::Decision> decisions = {Decided(VoteStatus::kAccepted),
                                           Decided(VoteStatus::kAccepted)};
  ASSERT_TRUE(store->recorder().Record(votes, decisions));
  decisions = {Decided(VoteStatus::kAccepted, 1, true), Decided(VoteStatus::kAccepted, 1, true)};
  ASSERT_TRUE(store->recorder().Record(votes, decisions));
  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM sealed_ballots"), 2);
}

// The recorder commits without an fsync (synchronous=NORMAL) and Sync() fsyncs the log, from
// another thread while the writer goes on (the intake's completion thread).
TEST_F(SqliteStoreTest, SyncRunsBesideTheWriterAndCoversEveryCommittedBatch) {
  {
    auto store = Open();
    auto& recorder = store->recorder();
    ASSERT_TRUE(recorder.defers_sync());
    std::atomic<bool> writing{true};
    std::atomic<int> syncs{0};
    std::thread syncer([&] {
      while (writing.load()) {
        ASSERT_TRUE(recorder.Sync());
        ++syncs;
      }
    });
    for (int i = 0; i < 200; ++i) {
      std::vector<core::VoteEnvelope> votes = {
          Vote(static_cast<std::uint8_t>(i), "L2025-001", core::Choice::kOui)};
      votes[0].digest.bytes[1] = 1;
      std::vector<core::Decision> decisions = {Decided(VoteStatus::kAccepted)};
      ASSERT_TRUE(recorder.Record(votes, decisions));
    }
    writing = false;
    syncer.join();
    EXPECT_GT(syncs.load(), 0);
    ASSERT_TRUE(recorder.Sync());  // the last batches
    EXPECT_GT(fs::file_size(options_.file.string() + "-wal"), 0u);
  }
  EXPECT_EQ(Count("SELECT count(*) FROM sealed_ballots"), 200);
}

TEST_F(SqliteStoreTest, ClaimsAndAttemptsSurviveReopening) {
  std::vector<core::VoteEnvelope> votes = {Vote(1, "L2025-001", core::Choice::kOui),
                                           Vote(1, "L2025-001", core::Choice::kOui),
                                           Vote(1, "L2025-001", core::Choice::kOui)};
  {
    auto store = Open();
    std::vector<core::Decision> decisions = {Decided(VoteStatus::kAccepted),
                                             Decided(VoteStatus::kDuplicate, 2),
                                             Decided(VoteStatus::kDuplicate, 3)};
    ASSERT_TRUE(store->recorder().Record(votes, decisions));
  }
  auto store = Open();
  int claims = 0;
  ASSERT_TRUE(store->ForEachClaim([&](const core::Digest& d, std::string_view tag) {
    EXPECT_EQ(d, votes[0].digest);
    EXPECT_EQ(tag, core::ClaimTag(votes[0].request_id));
    ++claims;
    return core::Status();
  }));
  EXPECT_EQ(claims, 1);
  std::uint32_t attempts = 0;
  ASSERT_TRUE(store->ForEachAttempts([&](const core::Digest&, std::uint32_t n) {
    attempts = n;
    return core::Status();
  }));
  EXPECT_EQ(attempts, 3u);
  MixAll(*store, "L2025-001");  // the sealed ballot survived too
  EXPECT_EQ(store->queries().FindTally("L2025-001")->oui, 1u);
}

// A version 2 file (ballots keyed by receipt, beside their choice, written with the claim) is
// upgraded in place at open: the receipts move to their own table, the choices are rewritten
// without them, the tallies stay (one group), statuses of accepted votes are still found.
TEST_F(SqliteStoreTest, AVersionTwoFileIsUpgradedToSealedBallots) {
  constexpr std::string_view kVersion2 = R"sql(
CREATE TABLE scrutin_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE vote_results (
  law_id     TEXT PRIMARY KEY,
  oui_count  INTEGER NOT NULL DEFAULT 0,
  non_count  INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL
);

CREATE TABLE vote_audit (
  id            INTEGER PRIMARY KEY,
  request_key   TEXT NOT NULL,
  claim_tag     TEXT,
  vote_hash     TEXT NOT NULL,
  law_id        TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('accepted', 'duplicate', 'invalid')),
  attempt_count INTEGER NOT NULL,
  timestamp     TEXT NOT NULL,
  CHECK ((status = 'accepted') = (claim_tag IS NOT NULL))
);
CREATE INDEX idx_vote_audit_law_timestamp ON vote_audit (law_id, timestamp);

CREATE TABLE duplicate_attempts (
  vote_hash     TEXT PRIMARY KEY,
  law_id        TEXT NOT NULL,
  attempt_count INTEGER NOT NULL,
  first_attempt TEXT NOT NULL,
  last_attempt  TEXT NOT NULL
) WITHOUT ROWID;

CREATE VIEW accepted_credentials (vote_hash, law_id, claim_tag) AS
  SELECT vote_hash, law_id, claim_tag FROM vote_audit WHERE status = 'accepted';

CREATE TABLE ballots (
  receipt TEXT PRIMARY KEY,
  law_id  TEXT NOT NULL,
  choice  TEXT NOT NULL CHECK (choice IN ('oui', 'non'))
) WITHOUT ROWID;

CREATE TABLE request_status (
  status_key    TEXT PRIMARY KEY,
  law_id        TEXT NOT NULL,
  status        TEXT NOT NULL,
  attempt_count INTEGER NOT NULL,
  expires_at    TEXT NOT NULL
) WITHOUT ROWID;
)sql";
  const auto id = core::RequestId::Generate();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(options_.file.c_str(), &db), SQLITE_OK);
    const std::string sql = std::string(kVersion2) +
                            "INSERT INTO scrutin_meta VALUES ('eligibility_fingerprint', 'fp-1');"
                            "INSERT INTO vote_results VALUES ('L2025-001', 1, 1, 'x');"
                            "INSERT INTO ballots VALUES ('" + core::Receipt(id) +
                            "', 'L2025-001', 'oui'), ('ZZZZ-ZZZZ-ZZZZ-ZZZZ', 'L2025-001', 'non');"
                            "PRAGMA user_version = 2;";
    char* error = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << error;
    sqlite3_close(db);
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Count("PRAGMA user_version"), 4);
  EXPECT_EQ(Count("SELECT count(*) FROM receipts"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM ballots WHERE choice = 'oui'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM pragma_table_info('ballots') WHERE name = 'receipt'"), 0);
  EXPECT_EQ(Count("SELECT groups * 10 + smallest_group FROM vote_results"), 12);
  auto status = store->queries().FindStatus(id);
  ASSERT_TRUE(status && status->has_value());
  EXPECT_EQ((*status)->status, VoteStatus::kAccepted);
  // And it goes on recording, sealed.
  std::vector<core::VoteEnvelope> votes = {Vote(7, "L2025-001", core::Choice::kNon)};
  std::vector<core::Decision> decisions = {Decided(VoteStatus::kAccepted)};
  ASSERT_TRUE(store->recorder().Record(votes, decisions));
  MixAll(*store, "L2025-001");
  EXPECT_EQ(store->queries().FindTally("L2025-001")->non, 2u);
}

TEST_F(SqliteStoreTest, RefusesADataDirectoryOfAnotherEligibilityDatabase) {
  Open();
  options_.eligibility_fingerprint = "fp-2";
  auto store = SqliteElectionStore::Open(options_, ballot_);
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().find("another eligibility database"), std::string::npos);
  EXPECT_EQ(store.code(), core::ErrorCode::kRefused);
}

TEST_F(SqliteStoreTest, OnlyOneStoreAtATimeMayOwnTheFile) {
  auto first = Open();
  auto second = SqliteElectionStore::Open(options_, ballot_);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().find("in use by another scrutin process"), std::string::npos);
  EXPECT_EQ(second.code(), core::ErrorCode::kRefused);
  first.reset();
  EXPECT_TRUE(SqliteElectionStore::Open(options_, ballot_));
}

TEST_F(SqliteStoreTest, NoTableLinksADigestToAChoice) {
  auto store = Open();
  std::vector<core::VoteEnvelope> votes = {Vote(1, "L2025-001", core::Choice::kOui)};
  std::vector<core::Decision> decisions = {Decided(VoteStatus::kAccepted)};
  ASSERT_TRUE(store->recorder().Record(votes, decisions));
  MixAll(*store, "L2025-001");
  // The ballot holds the law and the choice only; the receipt is in a table of its own.
  EXPECT_EQ(Count("SELECT count(*) FROM pragma_table_info('ballots')"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM pragma_table_info('receipts') WHERE name = 'choice'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM pragma_table_info('vote_audit') WHERE name IN "
                  "('vote', 'choice')"),
            0);

  // Nothing stored holds the request id itself.
  std::ifstream db(options_.file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(db)), {});
  std::ifstream wal(options_.file.string() + "-wal", std::ios::binary);
  bytes.append((std::istreambuf_iterator<char>(wal)), {});
  EXPECT_EQ(bytes.find(votes[0].request_id.ToString()), std::string::npos);
}

// The VoteRecorder contract (ports/testing/vote_recorder_contract.cpp) on a fresh file per test,
// read back through the store's own VoteQueries.
class SqliteUnderTest final : public ports::testing::RecorderUnderTest {
 public:
  static std::unique_ptr<ports::testing::RecorderUnderTest> Make(const core::Ballot& ballot) {
    auto self = std::make_unique<SqliteUnderTest>();
    self->dir_ = fs::temp_directory_path() /
                 ("scrutin-sqlite-contract-" + core::RequestId::Generate().ToString());
    fs::create_directories(self->dir_);
    SqliteStoreOptions options;
    options.file = self->dir_ / "scrutin.db";
    options.eligibility_fingerprint = "fp-contract";
    auto store = SqliteElectionStore::Open(options, ballot);
    if (!store) {
      ADD_FAILURE() << store.error();
      return nullptr;
    }
    self->store_ = std::move(*store);
    return self;
  }
  ~SqliteUnderTest() override {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  ports::VoteRecorder& recorder() override { return store_->recorder(); }
  ports::VoteQueries& queries() override { return store_->queries(); }
  ports::BallotBox& box() override { return store_->ballot_box(); }
  ports::LawSchedule* schedule() override { return &store_->law_schedule(); }

 private:
  fs::path dir_;
  std::unique_ptr<SqliteElectionStore> store_;
};

using ports::testing::VoteRecorderContract;
INSTANTIATE_TEST_SUITE_P(Sqlite, VoteRecorderContract,
                         ::testing::Values(ports::testing::RecorderFactory{"Sqlite",
                                                                           &SqliteUnderTest::Make}),
                         ports::testing::FactoryName<ports::testing::RecorderFactory>);

}  // namespace
}  // namespace scrutin::adapters::sqlite
