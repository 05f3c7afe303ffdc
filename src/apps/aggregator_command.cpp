// `scrutin aggregator`: the distributed shape's counting worker. Consumes decided votes from
// votes.aggregation (accepted) and votes.review (duplicate / invalid) in batches, records each
// batch in ONE PostgreSQL transaction (pipeline::AggregationStage over PostgresVoteRecorder: audit
// rows for every status; sealed ballots only for credentials not counted before; a mixer thread
// opens them in groups and moves the tallies, docs/ballot-secrecy.md),
// re-asserts the recorded claims in the Redis ledger (redis::RedisClaimMirror), writes each vote's
// final status, as PostgreSQL recorded it, to Redis for GET /api/v1/vote/{id}, then acks. A
// redelivered batch counts nothing twice. A vote the stage refuses (a law missing from this
// aggregator's laws.toml) is set aside in votes.dead after a few deliveries; PostgreSQL or Redis
// down: the batch is held and retried (rabbitmq::RabbitConsumer). Since one commit waits ~5 ms
// for the WAL fsync, --in-flight consumers (each with its own connection and batch) record
// concurrently so that commits share flushes.
//
// /metrics (votes_by_law from the tallies, rabbitmq_queue_depth, postgres_connections) and
// /api/v1/health on --admin-listen. SIGTERM/SIGINT: finish the batches in progress, exit 0.
#include <chrono>
#include <thread>

#include "adapters/postgres/pg_schema.hpp"
#include "adapters/postgres/postgres_ballot_box.hpp"
#include "adapters/postgres/postgres_vote_queries.hpp"
#include "adapters/postgres/postgres_vote_recorder.hpp"
#include "adapters/rabbitmq/rabbit_consumer.hpp"
#include "adapters/redis/ledger_layout.hpp"
#include "adapters/redis/redis_claim_mirror.hpp"
#include "adapters/redis/redis_status_writer.hpp"
#include "apps/backend_url.hpp"
#include "apps/administration.hpp"
#include "apps/commands.hpp"
#include "apps/distributed.hpp"
#include "apps/log.hpp"
#include "apps/mixing.hpp"
#include "apps/startup.hpp"
#include "apps/tls_policy.hpp"
#include "core/failpoint.hpp"
#include "metrics/vote_metrics.hpp"
#include "pipeline/aggregation_stage.hpp"
#include "pipeline/law_control.hpp"

namespace scrutin::apps {
namespace {

struct AggregatorOptions {
  dist::WorkerFlags worker;
  BackendUrl pg;
  BackendUrl redis;
  std::string prefix{redis::kDefaultPrefix};
  int in_flight = 3;
  MixFlags mix;
};

void RunAggregator(const AggregatorOptions& opt) {
  const dist::WorkerStart start = dist::StartWorker(opt.worker);
  const sigset_t stop_signals = start.stop_signals;
  const core::Ballot& ballot = start.ballot;
  const rabbitmq::AmqpEndpoint& endpoint = start.broker.endpoint;
  const rabbitmq::Topology& topology = start.broker.topology;

  // Loaded first: a missing or malformed ballot or record key stops start-up before any connection.
  core::BallotSealer sealer = LoadBallotSealer(opt.mix.ballot_key_file);
  std::shared_ptr<const core::RecordSigner> record_signer =
      LoadRecordSigner(opt.mix.record_key_file);

  // PostgreSQL: one connection per batch in flight, one for the review queue, one for reads, one
  // for the mixer, one for the schedule's poll.
  postgres::PgPoolOptions pool_options;
  pool_options.url = opt.pg.Get();
  pool_options.max_connections = static_cast<std::size_t>(opt.in_flight) + 4;
  pool_options.session.application_name = "scrutin-aggregator";
  auto pool = Require(postgres::PgPool::Create(pool_options), "invalid --pg");
  CheckPostgres(pool->target());
  Require(pool->Warm(), "cannot connect to PostgreSQL at " + pool->display());
  Require(postgres::Migrate(*pool), "cannot bring the PostgreSQL schema up to date");
  Require(postgres::SeedTallies(*pool, ballot), "cannot prepare the tallies");
  postgres::PostgresRecorderOptions recorder_options;
  recorder_options.status_retention = std::chrono::hours(24 * opt.worker.retention_days);
  postgres::PostgresVoteRecorder recorder(pool, ballot, recorder_options);
  postgres::PostgresVoteQueries queries(pool);
  postgres::PostgresBallotBox box(pool);
  // A law closed early or extended on an api's admin port: the mixer must act at the close in force
  // (read at start, then every half second).
  postgres::PostgresLawSchedule schedule(pool);
  pipeline::LawControl law_control(ballot, schedule);
  Require(law_control.Refresh(), "cannot read the laws' schedule");
  pipeline::SchedulePoller schedule_poller(
      law_control, std::chrono::milliseconds(500), [](const std::string& error) {
        LogEvent(LogLevel::kWarn, "schedule_unreadable", {{"error", error}});
      });

  // Redis: the voters' statuses, written once PostgreSQL holds the decision.
  auto redis_target = Require(redis::ParseRedisTarget(opt.redis.Get()), "invalid --redis");
  CheckRedis(redis_target);
  auto redis_pool = Require(redis::RedisClientPool::Create(redis_target, {}, opt.in_flight + 1),
                            "cannot connect to Redis at " + dist::DisplayRedis(redis_target));
  const auto retention = std::chrono::seconds(std::chrono::hours(24 * opt.worker.retention_days));
  redis::RedisStatusStore status_store(redis_pool, retention, opt.prefix);
  redis::RedisStatusWriter statuses(status_store);
  // The claims just recorded, re-asserted in the validators' ledger (see ports::ClaimMirror).
  redis::RedisClaimMirror mirror(redis_pool, opt.prefix);

  // RabbitMQ: declare the topology once (a consumer on a fresh broker declares it too).
  {
    rabbitmq::PublisherOptions declare;
    declare.endpoint = endpoint;
    declare.topology = topology;
    declare.connection.connection_name = "scrutin-aggregator-setup";
    rabbitmq::RabbitBatchPublisher setup(declare);
    Require(setup.Connect(), "cannot connect to RabbitMQ at " + endpoint.ToString());
  }
  rabbitmq::RabbitQueueMonitor monitor(endpoint, {}, topology.Queues());

  // Metrics: votes_by_law from the durable tallies (embargoed laws left out until they close, as
  // the api does), the queue depths and the pool size.
  metrics::Registry registry;
  metrics::VoteMetrics vote_metrics(registry);
  dist::AddQueueDepthGauge(registry, monitor);
  dist::AddPgConnectionsGauge(registry, *pool);
  registry.AddCollector([&] {
    const auto now = core::Clock::now();
    for (const auto& law : ballot.laws()) {
      if (!law.ResultsVisible(now)) continue;
      auto tally = queries.FindTally(law.id);
      if (!tally) continue;
      vote_metrics.votes_by_law.WithLabels({law.id, "oui"}).Set(static_cast<double>(tally->oui));
      vote_metrics.votes_by_law.WithLabels({law.id, "non"}).Set(static_cast<double>(tally->non));
    }
  });
  auto& recorded = registry.AddCounter(
      "aggregator_votes_recorded_total",
      "Decided votes recorded in PostgreSQL, by the status recorded (redeliveries included)",
      {"status"});
  metrics::Counter* recorded_by_status[] = {
      &recorded.WithLabels({"pending"}), &recorded.WithLabels({"accepted"}),
      &recorded.WithLabels({"duplicate"}), &recorded.WithLabels({"invalid"})};
  // The mixer opens the sealed ballots in groups (docs/ballot-secrecy.md); several aggregators
  // take turns per law (PostgresBallotBox's lock).
  std::unique_ptr<pipeline::Mixer> mixer =
      StartMixer(ballot, sealer, record_signer, box, opt.mix, registry, /*own_thread=*/true);
  pipeline::AggregationStage stage(
      recorder, &statuses, &mirror, ballot, retention,
      [&](std::span<const core::VoteEnvelope>, std::span<const core::Decision> ds) {
        for (const auto& d : ds) recorded_by_status[static_cast<int>(d.status)]->Increment();
        mixer->Wake();
      });

  auto& mirrored = registry.AddCounter(
      "aggregator_ledger_claims_total",
      "Recorded claims re-asserted in the Redis ledger after each commit, by what the ledger held: "
      "unchanged (it agreed), restored (it had lost the claim), replaced (another request held "
      "it), skipped (no ledger under the prefix yet)",
      {"result"});
  registry.AddCollector([&stage, &mirrored] {
    const ports::MirrorReport r = stage.mirrored();
    const std::pair<const char*, std::uint64_t> totals[] = {{"unchanged", r.unchanged},
                                                            {"restored", r.restored},
                                                            {"replaced", r.replaced},
                                                            {"skipped", r.skipped}};
    for (const auto& [label, total] : totals) {
      auto& c = mirrored.WithLabels({label});
      if (total > c.Value()) c.Increment(total - c.Value());
    }
  });

  // One consumer per batch in flight on votes.aggregation, one on votes.review.
  auto make_consumer = [&](const std::string& queue, int index) {
    rabbitmq::ConsumerOptions o;
    o.endpoint = endpoint;
    o.topology = topology;
    o.queue = queue;
    o.max_batch = static_cast<std::size_t>(opt.worker.batch);
    o.prefetch = static_cast<std::uint16_t>(std::min(65535, opt.worker.batch * 2));
    o.max_wait = std::chrono::milliseconds(opt.worker.batch_wait_ms);
    o.connection.connection_name = fmt::format("scrutin-aggregator-{}", index);
    o.on_error = [queue](const std::string& e) {
      LogEvent(LogLevel::kWarn, "consumer_error", {{"queue", queue}, {"detail", e}});
    };
    return std::make_unique<rabbitmq::RabbitConsumer>(o);
  };
  std::vector<std::unique_ptr<rabbitmq::RabbitConsumer>> consumers;
  for (int i = 0; i < opt.in_flight; ++i) {
    consumers.push_back(make_consumer(topology.aggregation_queue, i));
  }
  consumers.push_back(make_consumer(topology.review_queue, opt.in_flight));
  std::vector<const rabbitmq::RabbitConsumer*> watched;
  for (const auto& c : consumers) watched.push_back(c.get());
  dist::AddHoldingGauge(registry, std::move(watched));

  dist::AdminServer admin({.registry = registry,
                           .health =
                               [&] {
                                 return std::vector<ports::HealthCheck>{
                                     dist::BrokerProbe(monitor, "queue"),
                                     dist::PgProbe(*pool, "store"),
                                     dist::RedisProbe(*redis_pool, "statuses")};
                               },
                           .role = "aggregator",
                           .token = LoadAdminToken(opt.worker.admin_token_file)},
                          opt.worker.admin_listen,
                          {{"postgres", pool->display()},
                           {"redis", dist::DisplayRedis(redis_target)},
                           {"amqp", endpoint.ToString()},
                           {"in_flight", opt.in_flight},
                           {"failpoint", std::string(core::ArmedFailpoint())}});

  std::vector<std::thread> workers;
  for (auto& consumer : consumers) {
    workers.emplace_back([&stage, c = consumer.get()] {
      std::vector<core::VoteEnvelope> votes;
      std::vector<core::Decision> decisions;
      c->Run([&](std::span<const rabbitmq::InboundVote> batch,
                 std::span<rabbitmq::Outcome> outcomes) -> core::Status {
        votes.clear();
        decisions.clear();
        for (std::size_t i = 0; i < batch.size(); ++i) {
          // Only the validators publish here, always with a decision; anything else is set aside
          // with its reason rather than counted or silently dropped.
          if (!batch[i].decision || batch[i].decision->status == core::VoteStatus::kPending) {
            outcomes[i] = {rabbitmq::Disposition::kDeadLetter, "decided vote without a decision"};
            continue;
          }
          votes.push_back(batch[i].vote);
          decisions.push_back(*batch[i].decision);
        }
        auto st = stage.Process(votes, decisions);
        if (st) {
          for (std::size_t i = 0, j = 0; i < batch.size() && j < decisions.size(); ++i) {
            if (outcomes[i].disposition == rabbitmq::Disposition::kDeadLetter) continue;
            if (decisions[j].status != batch[i].decision->status) {
              // The ledger decided otherwise than the record (it had lost claims): the record wins.
              // No request id: with it a log reader could find the receipt, hence the ballot.
              LogEvent(LogLevel::kWarn, "decision_corrected",
                       {{"law_id", batch[i].vote.law_id},
                        {"ledger", core::ToString(batch[i].decision->status)},
                        {"recorded", core::ToString(decisions[j].status)}});
            }
            ++j;
          }
        }
        return st;
      });
    });
  }

  std::string_view signal = WaitForStopSignal(stop_signals);
  LogEvent(LogLevel::kInfo, "stopping", {{"signal", signal}});
  for (auto& c : consumers) c->Stop();
  for (auto& w : workers) w.join();
  mixer->Stop();
  schedule_poller.Stop();
  admin.Stop();
  std::uint64_t delivered = 0, acked = 0;
  for (auto& c : consumers) {
    delivered += c->delivered();
    acked += c->acked();
  }
  LogEvent(LogLevel::kInfo, "stopped", {{"delivered", delivered}, {"acked", acked}});
}

}  // namespace

void AddAggregatorCommand(CLI::App& app) {
  auto opt = std::make_shared<AggregatorOptions>();
  auto* cmd = app.add_subcommand(
      "aggregator",
      "Run an aggregator (distributed shape): record decided votes from votes.aggregation and "
      "votes.review in PostgreSQL, one transaction per batch, write the voters' statuses, then "
      "ack");
  dist::AddWorkerFlags(cmd, opt->worker,
                       "Votes recorded in one transaction (whole messages are taken, so a batch "
                       "may exceed this by less than one message's votes)");
  AddBackendUrlFlags(cmd, opt->pg, "pg", "PostgreSQL URL",
                     "PostgreSQL URL, postgresql://user:password@host:port/db");
  AddBackendUrlFlags(cmd, opt->redis, "redis", "Redis URL",
                     "Redis where the voters' statuses are written: redis://host:port or "
                     "redis-cluster://host:port,host:port,...");
  cmd->add_option("--prefix", opt->prefix, "Key prefix of the statuses in Redis")
      ->envname("SCRUTIN_PREFIX")
      ->capture_default_str();
  cmd->add_option("--in-flight", opt->in_flight,
                  "Batches of accepted votes recorded concurrently (one consumer and one "
                  "PostgreSQL connection each)")
      ->envname("SCRUTIN_IN_FLIGHT")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  AddMixFlags(cmd, opt->mix, /*key_optional=*/false);
  AddRequireTlsFlag(cmd);
  cmd->callback([opt] { RunAggregator(*opt); });
}

}  // namespace scrutin::apps
