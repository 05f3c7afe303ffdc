// `scrutin load-hashes`: loads the eligibility database (from `scrutin hashgen`) into Redis — one
// node or a Redis Cluster — where the distributed shape's validators claim credentials. Pipelined,
// idempotent (a digest already there keeps its claim, so loading again after a crash or twice
// never resets a vote), with a progress bar on a terminal and a summary of the memory it costs.
// Before the election only: after Redis lost its data, `scrutin ledger rebuild` restores the
// ledger with its claims (a load into an emptied Redis would start a ledger without them).
#include <fmt/format.h>

#include <chrono>

#include "adapters/redis/eligibility_loader.hpp"
#include "adapters/redis/ledger_layout.hpp"
#include "apps/backend_url.hpp"
#include "apps/commands.hpp"
#include "apps/distributed.hpp"
#include "apps/progress.hpp"
#include "apps/tls_policy.hpp"
#include "core/hash_database.hpp"

namespace scrutin::apps {
namespace {

struct LoadHashesOptions {
  BackendUrl redis;
  std::string hashes;
  std::string prefix{redis::kDefaultPrefix};
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

void LoadHashes(const LoadHashesOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  core::Manifest manifest =
      Require(core::ReadManifest(o.hashes), "cannot read the eligibility database");
  std::vector<core::Digest> digests;
  Require(core::ReadHashDatabase(o.hashes, manifest, digests),
          "the eligibility database is damaged");

  auto target = Require(redis::ParseRedisTarget(o.redis.Get()), "invalid --redis");
  CheckRedis(target);
  auto pool = Require(redis::RedisClientPool::Create(target, {}, 1),
                      "cannot connect to Redis at " + dist::DisplayRedis(target));
  auto lease = Require(pool->Acquire(), "cannot connect to Redis");
  const std::uint64_t baseline = Require(redis::UsedMemory(*lease), "cannot read Redis memory");

  ProgressBar bar("loading", digests.size(), "digests");
  redis::LoadOptions options;
  options.prefix = o.prefix;
  options.progress = [&](std::uint64_t done, std::uint64_t) { bar.Update(done); };
  auto report = redis::LoadEligibility(*lease, digests, options);
  bar.Finish();
  if (!report) {
    throw CommandError("loading into Redis failed (loading again completes it): " + report.error());
  }
  const double per_voter =
      report->ledger_total == 0
          ? 0.0
          : static_cast<double>(report->used_memory > baseline ? report->used_memory - baseline
                                                               : 0) /
                static_cast<double>(report->digests);
  std::printf(
      "load-hashes: %llu digests (%llu new, %llu in the ledger; %s) into %s under prefix %s, "
      "%u bucket bits, largest bucket %u, in %s; Redis used_memory %.1f MiB, %.1f bytes per "
      "voter for this load%s\n",
      static_cast<unsigned long long>(report->digests),
      static_cast<unsigned long long>(report->added),
      static_cast<unsigned long long>(report->ledger_total),
      std::string(core::ToString(manifest.scheme)).c_str(), dist::DisplayRedis(target).c_str(),
      o.prefix.c_str(), report->bucket_bits, report->largest_bucket,
      FormatDuration(Seconds(start)).c_str(),
      static_cast<double>(report->used_memory) / (1024.0 * 1024.0), per_voter,
      report->listpack_configured
          ? ""
          : " (warning: CONFIG SET was refused, set hash-max-listpack-entries 1024 and "
            "hash-max-listpack-value 64 in redis.conf)");
  if (report->buckets_lost > 0) {
    throw CommandError(fmt::format(
        "{} buckets of the ledger under prefix {} lost their data (no marker), claims included: "
        "load-hashes cannot restore claims and left them refused; run `scrutin ledger rebuild`",
        report->buckets_lost, o.prefix));
  }
}

}  // namespace

void AddLoadHashesCommand(CLI::App& app) {
  auto o = std::make_shared<LoadHashesOptions>();
  auto* cmd = app.add_subcommand(
      "load-hashes",
      "Load the eligibility database into Redis for the distributed shape's validators "
      "(idempotent: never resets a claim)");
  AddBackendUrlFlags(cmd, o->redis, "redis", "Redis URL",
                     "Redis to load: redis://host:port for one node, "
                     "redis-cluster://host:port,host:port,... for a cluster");
  cmd->add_option("--hashes", o->hashes, "Eligibility database directory (from `scrutin hashgen`)")
      ->envname("SCRUTIN_HASHES")
      ->required();
  cmd->add_option("--prefix", o->prefix, "Key prefix of the ledger in Redis")
      ->envname("SCRUTIN_PREFIX")
      ->capture_default_str();
  AddRequireTlsFlag(cmd);
  cmd->callback([o] { LoadHashes(*o); });
}

}  // namespace scrutin::apps
