// `scrutin validator`: the distributed shape's deciding worker. Consumes votes.validation in
// batches, decides each vote against the shared Redis ledger (one atomic claim per vote), publishes
// the decided votes (accepted -> votes.aggregation, duplicate/invalid -> votes.review) and waits
// for the broker's confirms, and only then acks its input (pipeline::ValidationStage); the
// aggregator writes the voters' statuses once PostgreSQL holds them. A crash anywhere before the
// ack redelivers the batch, which the ledger recognises by claim tag: replayed, never counted as a
// duplicate. When Redis is unreachable or has lost the ledger, the batch is held and retried, not
// decided (rabbitmq::RabbitConsumer); health and scrutin_ledger_ok say so.
//
// /metrics and /api/v1/health on --admin-listen. SIGTERM/SIGINT: finish the batch in progress,
// exit 0.
#include <chrono>
#include <thread>

#include "adapters/rabbitmq/rabbit_consumer.hpp"
#include "adapters/rabbitmq/rabbit_decision_publisher.hpp"
#include "adapters/redis/ledger_layout.hpp"
#include "adapters/redis/redis_credential_ledger.hpp"
#include "apps/backend_url.hpp"
#include "apps/administration.hpp"
#include "apps/commands.hpp"
#include "apps/distributed.hpp"
#include "apps/log.hpp"
#include "apps/startup.hpp"
#include "apps/tls_policy.hpp"
#include "core/failpoint.hpp"
#include "metrics/vote_metrics.hpp"
#include "pipeline/validation_stage.hpp"

namespace scrutin::apps {
namespace {

struct ValidatorOptions {
  dist::WorkerFlags worker;
  BackendUrl redis;
  int prefetch = 200;
  std::string prefix{redis::kDefaultPrefix};
};

void RunValidator(const ValidatorOptions& opt) {
  const dist::WorkerStart start = dist::StartWorker(opt.worker);
  const sigset_t stop_signals = start.stop_signals;
  const rabbitmq::AmqpEndpoint& endpoint = start.broker.endpoint;
  const rabbitmq::Topology& topology = start.broker.topology;

  // Redis: the ledger (must have been loaded).
  auto target = Require(redis::ParseRedisTarget(opt.redis.Get()), "invalid --redis");
  CheckRedis(target);
  auto pool = Require(redis::RedisClientPool::Create(target, {}, 4),
                      "cannot connect to Redis at " + dist::DisplayRedis(target));
  auto ledger = Require(redis::RedisCredentialLedger::Open(pool, opt.prefix),
                        "cannot open the credential ledger in Redis (run `scrutin load-hashes` "
                        "first)");

  // RabbitMQ: the decided-vote publisher (connected now, so a wrong URL fails at start-up; it
  // declares the topology), the consumer, and a monitor for health.
  rabbitmq::PublisherOptions publisher_options;
  publisher_options.endpoint = endpoint;
  publisher_options.topology = topology;
  publisher_options.connection.connection_name = "scrutin-validator";
  rabbitmq::RabbitDecisionPublisher publisher(publisher_options);
  Require(publisher.publisher().Connect(), "cannot connect to RabbitMQ at " + endpoint.ToString());
  rabbitmq::RabbitQueueMonitor monitor(endpoint, {}, topology.Queues());

  // Metrics: the decision series, Redis memory, the ledger's state, and whether a batch is held.
  metrics::Registry registry;
  metrics::VoteMetrics vote_metrics(registry);
  dist::AddRedisMemoryGauge(registry, *pool);
  dist::AddLedgerGauge(registry, *pool, opt.prefix, &ledger->layout());
  pipeline::ValidationStage stage(
      *ledger, publisher,
      [&vote_metrics](std::span<const core::VoteEnvelope> votes,
                      std::span<const core::Decision> decisions) {
        const auto now = core::Clock::now();
        for (std::size_t i = 0; i < votes.size(); ++i) {
          vote_metrics.RecordDecision(
              decisions[i].status,
              std::max(0.0, std::chrono::duration<double>(now - votes[i].received_at).count()));
        }
      });

  rabbitmq::ConsumerOptions consumer_options;
  consumer_options.endpoint = endpoint;
  consumer_options.topology = topology;
  consumer_options.queue = topology.validation_queue;
  consumer_options.prefetch = static_cast<std::uint16_t>(opt.prefetch);
  consumer_options.max_batch = static_cast<std::size_t>(opt.worker.batch);
  consumer_options.max_wait = std::chrono::milliseconds(opt.worker.batch_wait_ms);
  consumer_options.connection.connection_name = "scrutin-validator-consumer";
  consumer_options.on_error = [](const std::string& e) {
    LogEvent(LogLevel::kWarn, "consumer_error", {{"detail", e}});
  };
  rabbitmq::RabbitConsumer consumer(consumer_options);
  dist::AddHoldingGauge(registry, {&consumer});

  dist::AdminServer admin({.registry = registry,
                           .health =
                               [&] {
                                 return std::vector<ports::HealthCheck>{
                                     dist::BrokerProbe(monitor, "queue"),
                                     dist::LedgerProbe(*pool, opt.prefix, &ledger->layout(),
                                                       "ledger")};
                               },
                           .role = "validator",
                           .token = LoadAdminToken(opt.worker.admin_token_file)},
                          opt.worker.admin_listen,
                          {{"redis", dist::DisplayRedis(target)},
                           {"amqp", endpoint.ToString()},
                           {"failpoint", std::string(core::ArmedFailpoint())}});

  std::thread worker([&] {
    std::vector<core::VoteEnvelope> votes;
    std::vector<core::Decision> decisions;
    consumer.Run([&](std::span<const rabbitmq::InboundVote> batch,
                     std::span<rabbitmq::Outcome>) -> core::Status {
      votes.clear();
      for (const auto& in : batch) votes.push_back(in.vote);
      decisions.assign(votes.size(), core::Decision{});
      auto st = stage.Process(votes, decisions);
      if (st.code() == core::ErrorCode::kStateLost) {
        LogEvent(LogLevel::kError, "ledger_missing",
                 {{"detail", st.error()}, {"votes_held", votes.size()}});
      }
      return st;
    });
  });

  std::string_view signal = WaitForStopSignal(stop_signals);
  LogEvent(LogLevel::kInfo, "stopping", {{"signal", signal}});
  consumer.Stop();
  worker.join();
  admin.Stop();
  LogEvent(LogLevel::kInfo, "stopped",
           {{"delivered", consumer.delivered()},
            {"acked", consumer.acked()},
            {"requeued", consumer.requeued()}});
}

}  // namespace

void AddValidatorCommand(CLI::App& app) {
  auto opt = std::make_shared<ValidatorOptions>();
  auto* cmd = app.add_subcommand(
      "validator",
      "Run a validator (distributed shape): decide votes from votes.validation against the Redis "
      "ledger, publish them with confirms, then ack");
  dist::AddWorkerFlags(cmd, opt->worker,
                       "Votes decided together (whole messages are taken, so a batch may exceed "
                       "this by less than one message's votes)");
  AddBackendUrlFlags(cmd, opt->redis, "redis", "Redis URL",
                     "Redis holding the ledger: redis://host:port or "
                     "redis-cluster://host:port,host:port,...");
  cmd->add_option("--prefetch", opt->prefetch,
                  "Unacknowledged messages in flight at most (a message carries up to 1024 votes)")
      ->envname("SCRUTIN_PREFETCH")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  cmd->add_option("--prefix", opt->prefix, "Key prefix of the ledger in Redis")
      ->envname("SCRUTIN_PREFIX")
      ->capture_default_str();
  AddRequireTlsFlag(cmd);
  cmd->callback([opt] { RunValidator(*opt); });
}

}  // namespace scrutin::apps
