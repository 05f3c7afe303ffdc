// `scrutin serve`: the embedded shape. One process: the HTTP API and web UI, the vote decision
// against the in-memory ledger, and group-committed SQLite storage.
//
// Start-up: ballot -> eligibility database (checksums verified) -> key -> SQLite store (schema,
// fingerprint check) -> ledger rebuilt from the recorded claims -> ballot key -> mixer -> intake
// -> HTTP. Shutdown on
// SIGTERM/SIGINT: stop accepting, answer the requests in flight (their votes are committed first),
// drain the intake, exit 0.

#include <fmt/format.h>
#include <openssl/sha.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

#include "adapters/memory/memory_credential_ledger.hpp"
#include "adapters/sqlite/sqlite_election_store.hpp"
#include "apps/administration.hpp"
#include "apps/commands.hpp"
#include "apps/distributed.hpp"
#include "apps/log.hpp"
#include "apps/mixing.hpp"
#include "apps/startup.hpp"
#include "apps/tls_policy.hpp"
#include "core/ballot.hpp"
#include "core/credential.hpp"
#include "core/hash_database.hpp"
#include "http/api.hpp"
#include "http/server.hpp"
#include "metrics/registry.hpp"
#include "metrics/vote_metrics.hpp"
#include "pipeline/batching_intake.hpp"
#include "pipeline/law_control.hpp"

namespace scrutin::apps {
namespace {

namespace fs = std::filesystem;

struct ServeOptions {
  std::string hashes;
  std::string laws;
  std::string data;
  std::string key_file;
  HttpFlags http;
  MixFlags mix;
  int max_batch = 1024;
  int max_queue = 100000;
  std::string admin_listen;  // empty: no admin port
  std::string admin_token_file;
};

// Identifies an eligibility database by its scheme and shard checksums: a data directory keeps
// votes claimed against one database and must not be reused with another.
std::string Fingerprint(const core::Manifest& m) {
  std::string text(core::ToString(m.scheme));
  for (const auto& s : m.shards) text += "|" + s.sha256;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return core::HexEncode(digest, sizeof digest);
}

void Serve(const ServeOptions& opt) {
  InitLogging();
  const sigset_t stop_signals = BlockStopSignals(/*reload=*/true);
  auto started = std::chrono::steady_clock::now();

  // 1. The ballot and the eligibility database.
  core::Ballot ballot = Require(core::Ballot::Load(opt.laws), "cannot load the ballot");
  core::Manifest manifest =
      Require(core::ReadManifest(opt.hashes), "cannot read the eligibility database");
  core::CredentialHasher hasher = LoadCredentialHasher(opt.hashes, opt.key_file);

  std::vector<core::Digest> digests;
  Require(core::ReadHashDatabase(opt.hashes, manifest, digests),
          "the eligibility database is damaged");
  adapters::memory::MemoryCredentialLedger ledger(std::move(digests));
  LogEvent(LogLevel::kInfo, "eligibility_loaded",
           {{"digests", ledger.eligible_count()},
            {"scheme", core::ToString(manifest.scheme)},
            {"bytes", ledger.memory_bytes()}});

  // 2. The durable store, and the ledger's recorded state.
  std::error_code ec;
  fs::create_directories(opt.data, ec);
  if (ec)
    throw CommandError(fmt::format("cannot create data directory {}: {}", opt.data, ec.message()));
  adapters::sqlite::SqliteStoreOptions store_options;
  store_options.file = fs::path(opt.data) / "scrutin.db";
  store_options.eligibility_fingerprint = Fingerprint(manifest);
  store_options.status_retention = std::chrono::hours(24 * opt.http.retention_days);
  auto store = Require(adapters::sqlite::SqliteElectionStore::Open(store_options, ballot),
                       "cannot open the vote store");
  Require(store->ForEachClaim([&](const core::Digest& d, std::string_view tag) {
    return ledger.RestoreClaim(d, tag);
  }),
          "cannot restore the recorded votes");
  Require(store->ForEachAttempts(
              [&](const core::Digest& d, std::uint32_t n) { return ledger.RestoreAttempts(d, n); }),
          "cannot restore the recorded attempts");
  LogEvent(LogLevel::kInfo, "votes_restored", {{"accepted", ledger.claimed_count()}});
  // Closes moved on the admin port before a restart stay moved.
  pipeline::LawControl law_control(ballot, store->law_schedule());
  Require(law_control.Refresh(), "cannot read the laws' schedule");
  CheckAdminListener(opt.admin_listen);
  const std::string admin_token = LoadAdminToken(opt.admin_token_file);
  core::BallotSealer sealer = LoadOrCreateServeBallotKey(opt.mix.ballot_key_file, opt.data);
  std::shared_ptr<const core::RecordSigner> record_signer =
      LoadOrCreateServeRecordKey(opt.mix.record_key_file, opt.data);

  // 3. Metrics, intake, HTTP.
  metrics::Registry registry;
  metrics::VoteMetrics vote_metrics(registry);
  // The writer's transactions and the group commits' syncs: what an operator watches when the
  // latency of 202s grows (bench/RESULTS.md, "open-loop tail").
  const std::vector<double> seconds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                       0.01,   0.025,   0.05,   0.1,   0.25,   1};
  auto& commit_seconds =
      registry
          .AddHistogram("scrutin_store_commit_seconds",
                        "Time the embedded writer spends on one batch: decide, record, commit",
                        seconds)
          .Get();
  auto& batch_votes =
      registry
          .AddHistogram("scrutin_store_batch_votes", "Votes per transaction of the embedded writer",
                        {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024})
          .Get();
  auto& sync_seconds =
      registry
          .AddHistogram("scrutin_store_sync_seconds",
                        "Time of one group commit's fdatasync of the write-ahead log", seconds)
          .Get();
  auto& sync_votes = registry
                         .AddHistogram("scrutin_store_sync_votes",
                                       "Votes made durable by one group commit's fdatasync",
                                       {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096})
                         .Get();
  pipeline::BatchingIntakeOptions intake_options;
  intake_options.max_batch = static_cast<std::size_t>(opt.max_batch);
  intake_options.max_queue = static_cast<std::size_t>(opt.max_queue);
  intake_options.on_sync = [&](std::chrono::nanoseconds took, std::size_t votes) {
    sync_seconds.Observe(std::chrono::duration<double>(took).count());
    sync_votes.Observe(static_cast<double>(votes));
  };
  // The mixer opens the sealed ballots in groups (docs/ballot-secrecy.md), on the writer thread and
  // its connection: a round after each batch (so a group is counted before its last vote is
  // answered) and one after each idle second (laws that closed, votes recorded before a restart).
  std::unique_ptr<pipeline::Mixer> mixer =
      StartMixer(ballot, sealer, record_signer, store->ballot_box(), opt.mix, registry,
                 /*own_thread=*/false);
  intake_options.on_idle = [&mixer] { mixer->RunNow(); };
  intake_options.idle_tick = std::chrono::milliseconds(1000);

  pipeline::BatchingVoteIntake intake(
      ledger, store->recorder(), intake_options,
      [&](std::span<const core::VoteEnvelope> votes, std::span<const core::Decision> decisions,
          std::chrono::nanoseconds took) {
        commit_seconds.Observe(std::chrono::duration<double>(took).count());
        batch_votes.Observe(static_cast<double>(votes.size()));
        // The writer records every vote, so it tells the mixer what it sealed: a round then
        // touches the store only when a group may be due, not once a batch.
        for (std::size_t i = 0; i < votes.size(); ++i) {
          if (decisions[i].status == core::VoteStatus::kAccepted && !decisions[i].replay) {
            mixer->Recorded(votes[i].law_id, 1);
          }
        }
        mixer->RunIfDue();
      });
  auto& queue_depth =
      registry
          .AddGauge("scrutin_intake_queue_depth",
                    "Votes waiting for the embedded writer (503 beyond --max-queue)")
          .Get();
  auto depth_collector =
      registry.AddCollector([&] { queue_depth.Set(static_cast<double>(intake.queue_depth())); });

  FrontDoor door = StartFrontDoor(opt.http, http::ApiConfig{.ballot = ballot,
                                                            .hasher = hasher,
                                                            .sealer = sealer,
                                                            .intake = intake,
                                                            .queries = store->queries(),
                                                            .metrics = vote_metrics,
                                                            .shape = "embedded",
                                                            .rate_limit = 0,
                                                            .web_root = {},
                                                            .clock = {}});
  const auto& bound = door.bound;
  const std::string& web_root = door.web_root;
  // The operator port: /health with details, /metrics, and with a token the emergency close and
  // extension (docs/operations.md "Emergency close and extension").
  std::optional<dist::AdminServer> admin;
  if (!opt.admin_listen.empty()) {
    admin.emplace(http::AdminConfig{.registry = registry,
                                    .health = [&] { return intake.Health(); },
                                    .role = "serve",
                                    .shape = "embedded",
                                    .token = admin_token,
                                    .actions = admin_token.empty()
                                                   ? http::LawActions{}
                                                   : MakeLawActions(law_control, "serve")},
                  opt.admin_listen, nlohmann::json{{"listener", "admin"}});
  }

  auto ready_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  LogEvent(LogLevel::kInfo, "listening",
           {{"address", fmt::format("{}:{}", bound.address().to_string(), bound.port())},
            {"protocol", door.tls ? "https" : "http"},
            {"shape", "embedded"},
            {"laws", ballot.laws().size()},
            {"web_root", web_root.empty() ? "(built-in placeholder)" : web_root},
            {"startup_ms", ready_ms}});

  // 4. Wait for SIGTERM or SIGINT, then stop in order: HTTP first (in-flight votes are still
  //    committed by the intake and answered), then the intake (drains what is queued).
  LogEvent(LogLevel::kInfo, "stopping",
           {{"signal", WaitForStopSignal(stop_signals, [&] { ReloadTls(door); })}});
  door.server->Stop();
  if (admin) admin->Stop();
  intake.Stop();
  mixer->Stop();
  registry.RemoveCollector(depth_collector);
  LogEvent(LogLevel::kInfo, "stopped", {{"accepted", ledger.claimed_count()}});
}

}  // namespace

void AddServeCommand(CLI::App& app) {
  auto opt = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand(
      "serve",
      "Run the embedded shape: HTTP API, web UI, validation and tallying in one process, "
      "votes stored in SQLite");
  cmd->add_option("--hashes", opt->hashes,
                  "Eligibility database directory (from `scrutin hashgen`)")
      ->envname("SCRUTIN_HASHES")
      ->required();
  cmd->add_option("--laws", opt->laws, "Ballot configuration (laws.toml)")
      ->envname("SCRUTIN_LAWS")
      ->required();
  cmd->add_option("--data", opt->data,
                  "Directory for the vote store (scrutin.db); created if missing, kept across "
                  "restarts")
      ->envname("SCRUTIN_DATA")
      ->required();
  cmd->add_option("--key-file", opt->key_file,
                  "Election key file (from `scrutin keygen`); required for hmac-sha256 databases")
      ->envname("SCRUTIN_KEY_FILE");
  AddHttpFlags(cmd, opt->http);
  AddMixFlags(cmd, opt->mix, /*key_optional=*/true);
  cmd->add_option("--max-batch", opt->max_batch, "Votes committed together at most")
      ->envname("SCRUTIN_MAX_BATCH")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--max-queue", opt->max_queue,
                  "Votes waiting to be committed at most; beyond, 503 with Retry-After")
      ->envname("SCRUTIN_MAX_QUEUE")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  cmd->add_option("--admin-listen", opt->admin_listen,
                  "Address of the operator port, host:port (port 0 picks a free one, logged): "
                  "/health with details, /metrics, and with --admin-token-file the emergency "
                  "close and extension of a law; never expose it publicly. Empty: none")
      ->envname("SCRUTIN_ADMIN_LISTEN");
  AddAdminTokenFlag(cmd, opt->admin_token_file);
  AddRequireTlsFlag(cmd);
  cmd->callback([opt] { Serve(*opt); });
}

}  // namespace scrutin::apps
