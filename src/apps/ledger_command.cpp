// `scrutin ledger rebuild`: restores the distributed shape's credential ledger and request
// statuses in Redis (one node or a cluster) after Redis lost them (FLUSHALL, a restart without
// persistence, a failover to an empty replica), from the eligibility database and PostgreSQL, the
// record. Wiring only: PostgreSQL is read by postgres::ForEachRecordedClaim / ForEachRecordedStatus
// (streamed), Redis written by redis::LedgerRebuild (one atomic script per bucket, markers last),
// whose header states what wins when Redis and the record disagree. Idempotent: run it again after
// any failure. Validators waiting on the lost ledger (kStateLost) resume by themselves.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>

#include "adapters/postgres/pg_pool.hpp"
#include "adapters/postgres/postgres_ledger_source.hpp"
#include "adapters/redis/ledger_layout.hpp"
#include "adapters/redis/ledger_rebuild.hpp"
#include "adapters/redis/redis_client.hpp"
#include "apps/backend_url.hpp"
#include "apps/commands.hpp"
#include "apps/distributed.hpp"
#include "apps/progress.hpp"
#include "apps/startup.hpp"
#include "apps/tls_policy.hpp"
#include "core/hash_database.hpp"

namespace scrutin::apps {
namespace {

struct LedgerRebuildOptions {
  BackendUrl redis;
  std::string hashes;
  BackendUrl pg;
  std::string prefix{redis::kDefaultPrefix};
};

void RebuildLedger(const LedgerRebuildOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  core::Manifest manifest =
      Require(core::ReadManifest(o.hashes), "cannot read the eligibility database");
  std::vector<core::Digest> digests;
  Require(core::ReadHashDatabase(o.hashes, manifest, digests),
          "the eligibility database is damaged");

  postgres::PgPoolOptions pg_options;
  pg_options.url = o.pg.Get();
  pg_options.max_connections = 1;
  pg_options.session.application_name = "scrutin-ledger-rebuild";
  // The claims' first FETCH joins and sorts the whole voted set.
  pg_options.session.statement_timeout = std::chrono::milliseconds(0);
  auto pg = Require(postgres::PgPool::Create(pg_options), "invalid --pg");
  CheckPostgres(pg->target());
  Require(pg->Warm(), "cannot connect to PostgreSQL at " + pg->display());

  auto target = Require(redis::ParseRedisTarget(o.redis.Get()), "invalid --redis");
  CheckRedis(target);
  auto client = Require(redis::RedisClient::Connect(target),
                        "cannot connect to Redis at " + dist::DisplayRedis(target));

  redis::RebuildOptions options;
  options.prefix = o.prefix;
  ProgressBar ledger_bar("ledger", digests.size(), "digests");
  options.progress = [&](std::uint64_t done, std::uint64_t) { ledger_bar.Update(done); };
  auto rebuild =
      Require(redis::LedgerRebuild::Start(*client, digests, options), "cannot rebuild the ledger");
  const char* again = " (nothing is lost: run `scrutin ledger rebuild` again)";
  Require(postgres::ForEachRecordedClaim(*pg,
                                         [&](const postgres::RecordedClaim& c) {
                                           return rebuild->AddClaim(c.digest, c.claim_tag,
                                                                    c.attempts);
                                         }),
          std::string("restoring the claims failed") + again);
  Require(rebuild->FinishLedger(), std::string("restoring the ledger failed") + again);
  ledger_bar.Finish();

  ProgressBar status_bar("statuses", 0, "statuses");
  std::uint64_t statuses = 0;
  Require(postgres::ForEachRecordedStatus(
              *pg,
              [&](const postgres::RecordedStatus& s) {
                status_bar.Update(++statuses);
                return rebuild->AddStatus(
                    s.status_key, {std::string(s.law_id), s.status, s.attempt_count}, s.expires_at);
              }),
          std::string("restoring the request statuses failed") + again);
  auto report =
      Require(rebuild->Finish(), std::string("restoring the request statuses failed") + again);
  status_bar.Finish();

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "ledger rebuild: %llu eligible digests (%llu were missing) in %llu buckets (%u bits, ledger "
      "%s) into %s under prefix %s; claims: %llu restored, %llu replaced, %llu raised, %llu "
      "unchanged; %llu request statuses restored; in %.1f s\n",
      static_cast<unsigned long long>(report.eligible),
      static_cast<unsigned long long>(report.eligible_added),
      static_cast<unsigned long long>(report.buckets), report.bucket_bits, report.id.c_str(),
      dist::DisplayRedis(target).c_str(), o.prefix.c_str(),
      static_cast<unsigned long long>(report.claims_restored),
      static_cast<unsigned long long>(report.claims_replaced),
      static_cast<unsigned long long>(report.claims_raised),
      static_cast<unsigned long long>(report.claims_unchanged),
      static_cast<unsigned long long>(report.statuses_restored), seconds);
}

}  // namespace

void AddLedgerCommand(CLI::App& app) {
  auto* ledger =
      app.add_subcommand("ledger", "Maintain the distributed shape's credential ledger in Redis");
  ledger->require_subcommand(1);
  auto o = std::make_shared<LedgerRebuildOptions>();
  auto* cmd = ledger->add_subcommand(
      "rebuild",
      "Restore the ledger (eligibility, claims, attempt counts) and the request statuses in Redis "
      "from the eligibility database and PostgreSQL, after Redis lost them (idempotent; running "
      "validators resume by themselves)");
  AddBackendUrlFlags(cmd, o->redis, "redis", "Redis URL",
                     "Redis to restore: redis://host:port for one node, "
                     "redis-cluster://host:port,host:port,... for a cluster");
  cmd->add_option("--hashes", o->hashes,
                  "The election's eligibility database directory (from `scrutin hashgen`)")
      ->envname("SCRUTIN_HASHES")
      ->required();
  AddBackendUrlFlags(cmd, o->pg, "pg", "PostgreSQL URL",
                     "PostgreSQL URL of the election's record (postgresql://...)");
  cmd->add_option("--prefix", o->prefix, "Key prefix of the ledger and statuses in Redis")
      ->envname("SCRUTIN_PREFIX")
      ->capture_default_str();
  AddRequireTlsFlag(cmd);
  cmd->callback([o] { RebuildLedger(*o); });
}

}  // namespace scrutin::apps
