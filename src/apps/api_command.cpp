// `scrutin api`: the distributed shape's HTTP API — the same http::Api as `scrutin serve`, over
// the distributed backends:
//   POST /api/v1/vote        pending status written to Redis, vote published to RabbitMQ; 202
//                            only after the broker's confirm (PendingStatusIntake over
//                            RabbitPublisher), 503 + Retry-After when that cannot happen
//   GET  /api/v1/vote/{id}   from Redis (written by this api, then by the validators), read on a
//                            small bounded pool (http::BoundedExecutor): queue full, or a lookup
//                            not started within 1 s, is 503 + Retry-After at once
//   GET  /api/v1/results/... pipeline::CachedTallies over PostgreSQL (written by the aggregators):
//                            answered by a read that starts after the request, coalesced (one
//                            query answers every waiter, at most one per 5 ms); with no answer in
//                            250 ms, the cached tally if at most 5 s old, else 503 + Retry-After
//   GET  /api/v1/health      broker + Redis + PostgreSQL checks, probed in the background
//                            (pipeline::HealthMonitor), "ok"/"failing" each, 503 when one fails
//   GET  /metrics            the registry; votes_by_law from the cached tallies, queue depths
//                            refreshed in the background
// No request waits on a backend on an HTTP thread: a flood of reads or a stalled backend cannot
// stall the votes served by the same thread. With --admin-listen, an operator port serves /health
// with each failing check's detail, and /metrics.
// Stateless: run as many as needed behind a load balancer. Reads only manifest.json from --hashes
// (for the hashing scheme); the digests live in Redis (`scrutin load-hashes`).
//
// SIGTERM/SIGINT: stop taking requests, answer those in flight (publishing what is queued), exit 0.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "adapters/postgres/pg_schema.hpp"
#include "adapters/postgres/postgres_ballot_box.hpp"
#include "adapters/postgres/postgres_vote_queries.hpp"
#include "adapters/rabbitmq/rabbit_publisher.hpp"
#include "adapters/redis/ledger_layout.hpp"
#include "adapters/redis/redis_status_writer.hpp"
#include "apps/backend_url.hpp"
#include "apps/administration.hpp"
#include "apps/commands.hpp"
#include "apps/distributed.hpp"
#include "apps/log.hpp"
#include "apps/startup.hpp"
#include "apps/tls_policy.hpp"
#include "core/credential.hpp"
#include "core/failpoint.hpp"
#include "core/hash_database.hpp"
#include "http/api.hpp"
#include "http/bounded_executor.hpp"
#include "http/server.hpp"
#include "metrics/vote_metrics.hpp"
#include "pipeline/cached_tallies.hpp"
#include "pipeline/health_monitor.hpp"
#include "pipeline/law_control.hpp"
#include "pipeline/pending_status_intake.hpp"
#include "pipeline/split_vote_queries.hpp"

namespace scrutin::apps {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// How fresh a served tally is (pipeline::CachedTallies; stated in docs/openapi.yaml).
// GET /results waits (on no thread) for a coalesced read newer than the request: at most one
// query per 5 ms whatever the GET load. The periodic round keeps /metrics and the fallback fresh.
constexpr milliseconds kTallyRefresh{100};
constexpr milliseconds kTallyMaxAge{5000};
// Status lookups: threads, queue, and how long a lookup may wait in the queue before it is
// answered 503 without being made.
constexpr std::size_t kLookupThreads = 4;
constexpr std::size_t kLookupQueue = 256;
constexpr milliseconds kLookupDeadline{1000};

struct ApiOptions {
  std::string laws;
  std::string hashes;
  std::string key_file;
  std::string ballot_key_file;
  BackendUrl amqp;
  BackendUrl redis;
  BackendUrl pg;
  HttpFlags http;
  std::string queue_type = dist::kDefaultQueueType;
  int publishers = 2;
  int publish_linger_us = 1000;
  std::string prefix{redis::kDefaultPrefix};
  std::string admin_listen;  // empty: no admin port
  std::string admin_token_file;
};

void RunApi(const ApiOptions& opt) {
  InitLogging();
  const sigset_t stop_signals = BlockStopSignals(/*reload=*/true);
  const auto started = std::chrono::steady_clock::now();

  // 1. The ballot and the hashing scheme (the digests themselves are in Redis).
  core::Ballot ballot = Require(core::Ballot::Load(opt.laws), "cannot load the ballot");
  core::CredentialHasher hasher = LoadCredentialHasher(opt.hashes, opt.key_file);
  core::BallotSealer sealer = LoadBallotSealer(opt.ballot_key_file);
  const auto retention = std::chrono::seconds(std::chrono::hours(24 * opt.http.retention_days));

  // 2. Redis (statuses), PostgreSQL (tallies), RabbitMQ (the intake).
  auto redis_target = Require(redis::ParseRedisTarget(opt.redis.Get()), "invalid --redis");
  CheckRedis(redis_target);
  CheckAdminListener(opt.admin_listen);
  const std::string admin_token = LoadAdminToken(opt.admin_token_file);
  // Every wait on Redis is bounded: connect, each read and write, and the wait for a free client.
  redis::ClientOptions redis_options;
  redis_options.connect_timeout = milliseconds(1000);
  redis_options.command_timeout = milliseconds(2000);
  redis_options.acquire_timeout = milliseconds(1000);
  auto redis_pool = Require(redis::RedisClientPool::Create(redis_target, redis_options, 32),
                            "cannot connect to Redis at " + dist::DisplayRedis(redis_target));
  redis::RedisStatusStore status_store(redis_pool, retention, opt.prefix);
  redis::RedisStatusWriter status_writer(status_store);

  postgres::PgPoolOptions pg_options;
  pg_options.url = opt.pg.Get();
  pg_options.max_connections = 5;  // the tally cache, the lookups, the schedule's poll
  pg_options.session.application_name = "scrutin-api";
  auto pg_pool = Require(postgres::PgPool::Create(pg_options), "invalid --pg");
  CheckPostgres(pg_pool->target());
  Require(pg_pool->Warm(), "cannot connect to PostgreSQL at " + pg_pool->display());
  Require(postgres::Migrate(*pg_pool), "cannot bring the PostgreSQL schema up to date");
  Require(postgres::SeedTallies(*pg_pool, ballot), "cannot prepare the tallies");
  postgres::PostgresVoteQueries pg_tallies(pg_pool);
  std::vector<std::string> law_ids;
  for (const auto& law : ballot.laws()) law_ids.push_back(law.id);
  pipeline::CachedTallies tallies(
      pg_tallies, law_ids, {.refresh_period = kTallyRefresh, .max_age = kTallyMaxAge, .clock = {}});
  tallies.Start();
  pipeline::SplitVoteQueries queries(status_store, tallies);
  // Emergency closes and extensions, from any api's admin port: this api enforces the close in
  // force within half a second of the action (docs/operations.md "Emergency close and extension").
  postgres::PostgresLawSchedule schedule(pg_pool);
  pipeline::LawControl law_control(ballot, schedule);
  Require(law_control.Refresh(), "cannot read the laws' schedule");
  pipeline::SchedulePoller schedule_poller(
      law_control, milliseconds(500), [](const std::string& error) {
        LogEvent(LogLevel::kWarn, "schedule_unreadable", {{"error", error}});
      });

  const dist::Broker broker = dist::ResolveBroker(opt.amqp.Get(), opt.queue_type);
  CheckAmqp(broker.endpoint);
  const rabbitmq::AmqpEndpoint& endpoint = broker.endpoint;
  rabbitmq::RabbitPublisherOptions publisher_options;
  publisher_options.publisher.endpoint = endpoint;
  publisher_options.publisher.topology = broker.topology;
  publisher_options.publisher.connection.connection_name = "scrutin-api";
  publisher_options.publisher_threads = static_cast<std::size_t>(opt.publishers);
  publisher_options.linger = std::chrono::microseconds(opt.publish_linger_us);
  auto publisher = Require(rabbitmq::RabbitPublisher::Start(publisher_options),
                           "cannot connect to RabbitMQ at " + endpoint.ToString());
  rabbitmq::RabbitQueueMonitor monitor(endpoint, {}, publisher_options.publisher.topology.Queues());

  pipeline::PendingStatusIntakeOptions intake_options;
  intake_options.status_retention = retention;
  pipeline::PendingStatusIntake intake(*publisher, status_writer, ballot, intake_options, {});
  // The checks /api/v1/health reports (ok/failing) and the admin port details, probed here.
  using Checks = std::vector<ports::HealthCheck>;
  pipeline::HealthMonitor health(
      {{"queue", [&] { return intake.Health(); }, /*local=*/true},  // the publisher's state
       {"store", [&] { return Checks{dist::RedisProbe(*redis_pool, "store")}; }},
       // Votes are still taken (durable in the queue) but stay pending while Redis lacks the
       // ledger: health says so until `scrutin ledger rebuild`.
       {"ledger",
        [&] { return Checks{dist::LedgerProbe(*redis_pool, opt.prefix, nullptr, "ledger")}; }},
       {"results", [&] { return Checks{dist::PgProbe(*pg_pool, "results")}; }}},
      {});
  health.Start();
  http::BoundedExecutor lookups(
      {.threads = kLookupThreads, .max_queue = kLookupQueue, .deadline = kLookupDeadline});

  // 3. Metrics, HTTP.
  metrics::Registry registry;
  metrics::VoteMetrics vote_metrics(registry);
  dist::BackgroundQueueDepthGauge queue_depths(registry, monitor);
  dist::AddPgConnectionsGauge(registry, *pg_pool);

  // The operator port first: its "listening" line (marked "listener":"admin") is in the log
  // before the public port's, which is the one scripts/cluster waits for.
  std::optional<dist::AdminServer> admin;
  if (!opt.admin_listen.empty()) {
    admin.emplace(http::AdminConfig{.registry = registry,
                                    .health = [&] { return health.Checks(); },
                                    .role = "api",
                                    .token = admin_token,
                                    .actions = admin_token.empty()
                                                   ? http::LawActions{}
                                                   : MakeLawActions(law_control, "api")},
                  opt.admin_listen, nlohmann::json{{"listener", "admin"}});
  }
  FrontDoor door = StartFrontDoor(
      opt.http,
      http::ApiConfig{.ballot = ballot,
                      .hasher = hasher,
                      .sealer = sealer,
                      .intake = intake,
                      .queries = queries,
                      .metrics = vote_metrics,
                      .shape = "distributed",
                      .rate_limit = 0,
                      .web_root = {},
                      .clock = {},
                      .lookups = &lookups,
                      .health = [&] { return health.Checks(); },
                      .read_tally = [&](const std::string& law,
                                        auto done) { tallies.ReadFresh(law, std::move(done)); }});
  const auto& bound = door.bound;
  const std::string& web_root = door.web_root;
  LogEvent(LogLevel::kInfo, "listening",
           {{"address", fmt::format("{}:{}", bound.address().to_string(), bound.port())},
            {"protocol", door.tls ? "https" : "http"},
            {"shape", "distributed"},
            {"role", "api"},
            {"laws", ballot.laws().size()},
            {"scheme", core::ToString(hasher.scheme())},
            {"redis", dist::DisplayRedis(redis_target)},
            {"postgres", pg_pool->display()},
            {"amqp", endpoint.ToString()},
            {"web_root", web_root.empty() ? "(built-in placeholder)" : web_root},
            {"failpoint", std::string(core::ArmedFailpoint())},
            {"startup_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - started)
                               .count()}});
  // 4. Stop in order: HTTP (requests in flight still get their answers), then the pending-status
  //    stage (hands on what it holds), then the publisher (publishes what is queued).
  std::string_view signal = WaitForStopSignal(stop_signals, [&] { ReloadTls(door); });
  LogEvent(LogLevel::kInfo, "stopping", {{"signal", signal}});
  door.server->Stop();
  lookups.Stop();  // answers the lookups still queued
  if (admin) admin->Stop();
  schedule_poller.Stop();
  health.Stop();
  queue_depths.Stop();
  tallies.Stop();
  intake.Stop();
  publisher->Stop();
  LogEvent(LogLevel::kInfo, "stopped",
           {{"confirmed", publisher->messages_confirmed()},
            {"confirm_rounds", publisher->confirm_rounds()}});
}

}  // namespace

void AddApiCommand(CLI::App& app) {
  auto opt = std::make_shared<ApiOptions>();
  auto* cmd = app.add_subcommand(
      "api",
      "Run an HTTP API instance (distributed shape): votes published to RabbitMQ with confirms, "
      "statuses from Redis, results from PostgreSQL");
  cmd->add_option("--laws", opt->laws, "Ballot configuration (laws.toml)")
      ->envname("SCRUTIN_LAWS")
      ->required();
  cmd->add_option("--hashes", opt->hashes,
                  "Eligibility database directory (only manifest.json is read, for the scheme)")
      ->envname("SCRUTIN_HASHES")
      ->required();
  cmd->add_option("--key-file", opt->key_file,
                  "Election key file (from `scrutin keygen`); required for hmac-sha256 databases")
      ->envname("SCRUTIN_KEY_FILE");
  cmd->add_option("--ballot-key-file", opt->ballot_key_file,
                  "Ballot key file (from `scrutin keygen --ballot-key`): each vote is sealed with "
                  "it before it leaves this process")
      ->envname("SCRUTIN_BALLOT_KEY_FILE")
      ->required();
  dist::AddAmqpFlags(cmd, opt->amqp);
  AddBackendUrlFlags(cmd, opt->redis, "redis", "Redis URL",
                     "Redis for request statuses: redis://host:port or "
                     "redis-cluster://host:port,host:port,...");
  AddBackendUrlFlags(cmd, opt->pg, "pg", "PostgreSQL URL",
                     "PostgreSQL URL, postgresql://user:password@host:port/db");
  AddHttpFlags(cmd, opt->http);
  cmd->add_option("--publishers", opt->publishers,
                  "RabbitMQ publisher connections (each batches votes into one confirm round)")
      ->envname("SCRUTIN_PUBLISHERS")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  cmd->add_option("--publish-linger-us", opt->publish_linger_us,
                  "How long a publisher waits for more votes before publishing a batch smaller "
                  "than 500, in microseconds (larger messages: less broker CPU per vote)")
      ->envname("SCRUTIN_PUBLISH_LINGER_US")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_option("--prefix", opt->prefix, "Key prefix of the statuses in Redis")
      ->envname("SCRUTIN_PREFIX")
      ->capture_default_str();
  cmd->add_option("--admin-listen", opt->admin_listen,
                  "Address of the operator port, host:port (port 0 picks a free one, logged): "
                  "/health with each failing check's detail, /metrics, and with "
                  "--admin-token-file the emergency close and extension of a law; never expose "
                  "it publicly. Empty: no admin port (the public /api/v1/health says only "
                  "ok/failing)")
      ->envname("SCRUTIN_ADMIN_LISTEN");
  AddAdminTokenFlag(cmd, opt->admin_token_file);
  dist::AddQueueTypeOption(cmd, opt->queue_type);
  AddRequireTlsFlag(cmd);
  cmd->callback([opt] { RunApi(*opt); });
}

}  // namespace scrutin::apps
