// Schema migrations against a real PostgreSQL: idempotent, concurrent starters, all-or-nothing,
// refusal of a newer schema; and the ballot-secrecy property of the schema itself.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "adapters/postgres/pg_schema.hpp"
#include "adapters/postgres/pg_test_support.hpp"

namespace scrutin::postgres {
namespace {

class PgSchemaMigrationTest : public testing::PgSchemaTest {};

TEST_F(PgSchemaMigrationTest, CreatesTheTablesOnceAndIsIdempotent) {
  auto pool = NewPool();
  EXPECT_EQ(*CurrentSchemaVersion(*pool), 0);
  ASSERT_TRUE(Migrate(*pool).ok());
  ASSERT_TRUE(Migrate(*pool).ok());
  EXPECT_EQ(*CurrentSchemaVersion(*pool), LatestSchemaVersion());
  EXPECT_EQ(Count("SELECT count(*) FROM schema_migrations"), LatestSchemaVersion());
  for (const char* table : {"vote_results", "vote_audit", "duplicate_attempts",
                            "accepted_credentials", "ballots", "request_status"}) {
    EXPECT_EQ(Scalar(std::string("SELECT to_regclass('") + table + "') IS NOT NULL"), "t") << table;
  }
  // The original design's index names.
  EXPECT_EQ(Count("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND "
                  "indexname IN ('idx_hash', 'idx_law_timestamp')"),
            2);
  EXPECT_EQ(Scalar("SELECT data_type FROM information_schema.columns WHERE table_schema = "
                   "current_schema() AND table_name = 'vote_results' AND column_name = "
                   "'oui_count'"),
            "bigint");
  EXPECT_EQ(Scalar("SELECT data_type FROM information_schema.columns WHERE table_schema = "
                   "current_schema() AND table_name = 'vote_audit' AND column_name = "
                   "'timestamp'"),
            "timestamp with time zone");
}

TEST_F(PgSchemaMigrationTest, ConcurrentStartersMigrateOnce) {
  constexpr int kStarters = 4;
  std::vector<PgPoolPtr> pools;
  for (int i = 0; i < kStarters; ++i) pools.push_back(NewPool(1));
  std::vector<std::string> errors(kStarters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStarters; ++i) {
    threads.emplace_back([&, i] {
      auto st = Migrate(*pools[i]);
      if (!st) errors[i] = st.error();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(Count("SELECT count(*) FROM schema_migrations"), LatestSchemaVersion());
}

TEST_F(PgSchemaMigrationTest, RefusesASchemaNewerThanTheBinary) {
  // A newer binary migrated this database to version 2...
  std::vector<Migration> newer(KnownMigrations().begin(), KnownMigrations().end());
  newer.push_back(Migration{LatestSchemaVersion() + 1, "a column of the future",
                            "ALTER TABLE ballots ADD COLUMN future_column TEXT"});
  auto pool = NewPool();
  ASSERT_TRUE(Migrate(*pool, newer).ok());
  EXPECT_EQ(*CurrentSchemaVersion(*pool), LatestSchemaVersion() + 1);
  // ...so this one refuses it, and says what to do.
  auto st = Migrate(*pool);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("newer than this scrutin knows"), std::string::npos) << st.error();
  EXPECT_NE(st.error().find("upgrade scrutin"), std::string::npos) << st.error();
  EXPECT_EQ(st.code(), core::ErrorCode::kRefused);
}

TEST_F(PgSchemaMigrationTest, AFailingMigrationAppliesNothing) {
  std::vector<Migration> broken(KnownMigrations().begin(), KnownMigrations().end());
  broken.push_back(Migration{LatestSchemaVersion() + 1, "broken",
                             "ALTER TABLE no_such_table "
                             "ADD COLUMN x INT"});
  auto pool = NewPool();
  auto st = Migrate(*pool, broken);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("no_such_table"), std::string::npos) << st.error();
  EXPECT_EQ(*CurrentSchemaVersion(*pool), 0);
  EXPECT_EQ(Scalar("SELECT to_regclass('vote_results') IS NULL"), "t");
  // The database is left usable: the known migrations then apply cleanly.
  ASSERT_TRUE(Migrate(*pool).ok());
  EXPECT_EQ(*CurrentSchemaVersion(*pool), LatestSchemaVersion());
}

TEST_F(PgSchemaMigrationTest, SeedTalliesCreatesZeroRowsAndKeepsCounts) {
  auto pool = NewPool();
  ASSERT_TRUE(Migrate(*pool).ok());
  auto ballot = testing::TwoLaws();
  ASSERT_TRUE(SeedTallies(*pool, ballot).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM vote_results WHERE oui_count = 0 AND non_count = 0"), 2);
  ASSERT_TRUE(AdminExec("UPDATE " + schema_ + ".vote_results SET oui_count = 7"));
  ASSERT_TRUE(SeedTallies(*pool, ballot).ok());
  EXPECT_EQ(Count("SELECT sum(oui_count) FROM vote_results"), 14);
}

TEST_F(PgSchemaMigrationTest, RejectsValuesThatAreNotDigests) {
  auto pool = NewPool();
  ASSERT_TRUE(Migrate(*pool).ok());
  auto lease = pool->Acquire();
  // A NAS where a digest belongs is refused by the schema itself.
  auto r = (*lease)->ExecScript(
      "INSERT INTO accepted_credentials VALUES ('046454286', 'L2025-001', "
      "'0123456789abcdef0123456789abcdef')");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sqlstate, "23514");  // check_violation
}

// Every digest and derived-key column takes exactly lowercase hex of its length: the checks of
// version 2 (length + unbounded class) refuse what version 1's bounded regexes refused.
TEST_F(PgSchemaMigrationTest, HexChecksAcceptExactlyLowercaseHexOfTheirLength) {
  auto pool = NewPool();
  ASSERT_TRUE(Migrate(*pool).ok());
  auto lease = pool->Acquire();
  const std::string hex64(64, 'a'), hex32 = "0123456789abcdef0123456789abcdef";
  auto insert_claim = [&](const std::string& hash, const std::string& tag) {
    return (*lease)->ExecScript("INSERT INTO accepted_credentials VALUES ('" + hash +
                                "', 'L2025-001', '" + tag + "')");
  };
  ASSERT_TRUE(insert_claim(hex64, hex32).ok());
  for (const std::string& bad : {std::string(64, 'A'), std::string(63, 'a'), std::string(65, 'a'),
                                 std::string(63, 'a') + "g", std::string(63, 'a') + "\n",
                                 std::string(63, 'a') + "\u00e9", std::string()}) {
    auto r = insert_claim(bad, hex32);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().sqlstate, "23514") << bad;
  }
  for (const std::string& bad : {hex32 + "0", hex32.substr(1), std::string(32, 'F')}) {
    auto r = insert_claim(std::string(63, 'b') + "c", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().sqlstate, "23514") << bad;
  }
  auto status = [&](const std::string& key) {
    return (*lease)->ExecScript("INSERT INTO request_status VALUES ('" + key +
                                "', 'L2025-001', 'pending', 1, now())");
  };
  EXPECT_TRUE(status(hex32).ok());
  EXPECT_FALSE(status(hex64).ok());
  auto audit = [&](const std::string& key, const std::string& hash) {
    return (*lease)->ExecScript(
        "INSERT INTO vote_audit (request_key, vote_hash, law_id, status, "
        "attempt_count, \"timestamp\") VALUES ('" +
        key + "', '" + hash + "', 'L2025-001', 'invalid', 1, now())");
  };
  EXPECT_TRUE(audit(hex32, hex64).ok());
  EXPECT_FALSE(audit(std::string(32, 'c'), "046454286").ok());
  EXPECT_FALSE(audit("046454286", std::string(64, 'c')).ok());
  auto duplicate = [&](const std::string& hash) {
    return (*lease)->ExecScript("INSERT INTO duplicate_attempts VALUES ('" + hash +
                                "', 'L2025-001', 2, now(), now())");
  };
  EXPECT_TRUE(duplicate(hex64).ok());
  EXPECT_FALSE(duplicate("046454286").ok());
}

// A database at version 1 with rows in it upgrades in place: rows kept, checks still enforced.
TEST_F(PgSchemaMigrationTest, VersionOneDatabaseWithRowsUpgrades) {
  auto pool = NewPool();
  ASSERT_TRUE(Migrate(*pool, KnownMigrations().first(1)).ok());
  EXPECT_EQ(*CurrentSchemaVersion(*pool), 1);
  {
    auto lease = pool->Acquire();
    ASSERT_TRUE((*lease)
                    ->ExecScript("INSERT INTO accepted_credentials VALUES ('" +
                                 std::string(64, 'e') +
                                 "', 'L2025-001', '0123456789abcdef0123456789abcdef')")
                    .ok());
  }
  ASSERT_TRUE(Migrate(*pool).ok());
  EXPECT_EQ(*CurrentSchemaVersion(*pool), LatestSchemaVersion());
  EXPECT_EQ(Count("SELECT count(*) FROM accepted_credentials"), 1);
  auto lease = pool->Acquire();
  auto r = (*lease)->ExecScript(
      "INSERT INTO accepted_credentials VALUES ('046454286', 'L2025-001', "
      "'0123456789abcdef0123456789abcdef')");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sqlstate, "23514");
}

// A version 2 database (ballots keyed by receipt, beside their choice) upgrades to sealed ballots:
// the receipts move to a table of their own, the choices are rewritten without them, the tallies
// stay and count as one group.
TEST_F(PgSchemaMigrationTest, VersionTwoBallotsAreSplitFromTheirReceipts) {
  auto pool = NewPool();
  ASSERT_TRUE(Migrate(*pool, KnownMigrations().first(2)).ok());
  {
    auto lease = pool->Acquire();
    ASSERT_TRUE((*lease)
                    ->ExecScript("INSERT INTO vote_results (law_id, oui_count, non_count) VALUES "
                                 "('L2025-001', 2, 1); "
                                 "INSERT INTO ballots (receipt, law_id, choice) VALUES "
                                 "('AAAA-AAAA-AAAA-AAAA', 'L2025-001', 'oui'), "
                                 "('BBBB-BBBB-BBBB-BBBB', 'L2025-001', 'non'), "
                                 "('CCCC-CCCC-CCCC-CCCC', 'L2025-001', 'oui')")
                    .ok());
  }
  ASSERT_TRUE(Migrate(*pool).ok());
  EXPECT_EQ(*CurrentSchemaVersion(*pool), LatestSchemaVersion());
  EXPECT_EQ(Count("SELECT count(*) FROM receipts WHERE law_id = 'L2025-001'"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM ballots WHERE choice = 'oui'"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                  "current_schema() AND table_name = 'ballots' AND column_name = 'receipt'"),
            0);
  EXPECT_EQ(Count("SELECT oui_count * 100 + non_count * 10 + groups FROM vote_results"), 211);
  EXPECT_EQ(Count("SELECT smallest_group FROM vote_results"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM sealed_ballots"), 0);
}

// Guarantee 4 from the schema's side: no table holds a choice together with anything that
// identifies a credential or a request (digest, derived keys, time).
TEST_F(PgSchemaMigrationTest, NoTableHoldsAChoiceBesideADigest) {
  auto pool = NewPool();
  ASSERT_TRUE(Migrate(*pool).ok());
  auto lease = pool->Acquire();
  auto r = (*lease)->ExecScript(
      "SELECT table_name, column_name, data_type FROM information_schema.columns "
      "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position");
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::map<std::string, std::set<std::string>> columns;
  for (int i = 0; i < r->rows(); ++i) {
    columns[std::string(r->Text(i, 0))].insert(std::string(r->Text(i, 1)));
  }
  // The eleven tables of docs/schema.md and schema_migrations.
  ASSERT_EQ(columns.size(), 12u);
  const std::set<std::string> choice_like = {"choice", "vote", "oui", "non", "answer"};
  const std::set<std::string> identifying = {
      "vote_hash", "digest",        "claim_tag",    "request_key", "status_key", "request_id",
      "timestamp", "first_attempt", "last_attempt", "nas",         "code",       "receipt",
      "id"};
  int tables_with_choice = 0;
  for (const auto& [table, cols] : columns) {
    bool has_choice = false;
    for (const auto& c : cols) has_choice |= choice_like.contains(c);
    if (!has_choice) continue;
    ++tables_with_choice;
    EXPECT_EQ(table, "ballots");
    for (const auto& c : cols) {
      EXPECT_FALSE(identifying.contains(c)) << table << "." << c << " sits beside a choice";
    }
    // The law and the choice only: no receipt, no key, no time (docs/ballot-secrecy.md).
    EXPECT_EQ(cols, (std::set<std::string>{"law_id", "choice"}));
  }
  EXPECT_EQ(tables_with_choice, 1);
  // And nothing anywhere is named after the credential itself.
  for (const auto& [table, cols] : columns) {
    EXPECT_FALSE(cols.contains("nas")) << table;
    EXPECT_FALSE(cols.contains("code")) << table;
  }
}

}  // namespace
}  // namespace scrutin::postgres
