// Shared set-up of the PostgreSQL suites: every test gets a schema of its own in the database the
// ctest fixture started (dropped afterwards), a pool whose connections use it, and a distinct
// application_name so that a test killing "its" backends never touches another test's.
#pragma once

#include "ports/testing/contract_votes.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "adapters/postgres/pg_pool.hpp"
#include "core/ballot.hpp"
#include "core/digest.hpp"
#include "core/request_id.hpp"
#include "core/vote.hpp"
#include "support/server_env.hpp"

namespace scrutin::postgres::testing {

inline std::mt19937_64& Rng() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return rng;
}

inline core::Digest RandomDigest() {
  core::Digest d;
  for (auto& b : d.bytes) b = static_cast<std::uint8_t>(Rng()());
  return d;
}

inline constexpr const char* kLawA = "L2025-001";
inline constexpr const char* kLawB = "L2025-002";

// Two laws, open from yesterday to a year from now.
inline core::Ballot TwoLaws() {
  auto now = core::Clock::now();
  std::vector<core::Law> laws;
  for (const char* id : {kLawA, kLawB}) {
    core::Law law;
    law.id = id;
    law.title_fr = "Loi";
    law.title_en = "Act";
    law.opens_at = now - std::chrono::hours(24);
    law.closes_at = now + std::chrono::hours(24 * 365);
    laws.push_back(law);
  }
  return core::Ballot(std::move(laws));
}

// A vote whose choice is sealed with the tests' ballot key (ports/testing/contract_votes.hpp).
inline core::VoteEnvelope Vote(const core::Digest& digest, std::string law, core::Choice choice) {
  return ports::testing::MakeVote(digest, law, choice);
}

// The choice inside a test vote's sealed ballot.
inline core::Choice ChoiceOf(const core::VoteEnvelope& v) {
  return ports::testing::TestSealer().Open(v.law_id, v.ballot).value().choice;
}

// Runs SQL on a connection of `admin`; a failure is a test failure (false, with the SQL).
inline bool ExecAsAdmin(PgPool& admin, const std::string& sql) {
  auto lease = admin.Acquire();
  if (!lease) {
    ADD_FAILURE() << lease.error();
    return false;
  }
  auto r = (*lease)->ExecScript(sql);
  if (!r) ADD_FAILURE() << sql << ": " << r.error().message;
  return r.ok();
}

class PgSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = scrutin::testing::ServerSetting("pg", "PG_URL");
    ASSERT_FALSE(url_.empty()) << scrutin::testing::ServerHint("pg", "PG_URL");
    schema_ = "t" + std::to_string(Rng()() % 1000000000000ULL);
    app_ = "scrutin-test-" + schema_;
    auto admin = PgPool::Create(Options(/*with_schema=*/false, "scrutin-test-admin"));
    ASSERT_TRUE(admin.ok()) << admin.error();
    admin_ = *admin;
    ASSERT_TRUE(AdminExec("CREATE SCHEMA " + schema_));
  }

  void TearDown() override {
    if (admin_) (void)AdminExec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }

  // Options for a pool working in this test's schema.
  PgPoolOptions Options(bool with_schema = true, std::string app = {}) const {
    PgPoolOptions o;
    o.url = url_;
    o.max_connections = 4;
    o.acquire_timeout = std::chrono::milliseconds(3000);
    o.session.application_name = app.empty() ? app_ : app;
    if (with_schema) o.session.search_path = schema_;
    return o;
  }

  PgPoolPtr NewPool(std::size_t max_connections = 4) {
    auto o = Options();
    o.max_connections = max_connections;
    auto pool = PgPool::Create(o);
    EXPECT_TRUE(pool.ok()) << pool.error();
    return pool.ok() ? *pool : nullptr;
  }

  // Runs SQL on the admin connection (no search_path: qualify with schema_ where needed).
  bool AdminExec(const std::string& sql) { return ExecAsAdmin(*admin_, sql); }

  // The first column of the first row of a query run in this test's schema.
  std::string Scalar(const std::string& sql) {
    auto lease = admin_->Acquire();
    if (!lease) {
      ADD_FAILURE() << lease.error();
      return {};
    }
    auto r = (*lease)->ExecScript("SET search_path = " + schema_ + "; " + sql);
    if (!r) {
      ADD_FAILURE() << sql << ": " << r.error().message;
      return {};
    }
    (void)(*lease)->ExecScript("RESET search_path");
    return r->rows() > 0 ? std::string(r->Text(0, 0)) : std::string();
  }

  long long Count(const std::string& sql) { return std::stoll("0" + Scalar(sql)); }

  // Terminates every server process serving a connection of this test's pools; returns how many.
  long long KillBackends() {
    return Count(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = '" +
        app_ + "'");
  }

  std::string url_;
  std::string schema_;
  std::string app_;
  PgPoolPtr admin_;
};

}  // namespace scrutin::postgres::testing
