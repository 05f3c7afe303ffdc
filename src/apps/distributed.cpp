#include "apps/distributed.hpp"

#include "apps/administration.hpp"

#include <thread>

#include "adapters/rabbitmq/rabbit_batch_publisher.hpp"
#include "adapters/rabbitmq/rabbit_publisher.hpp"
#include "adapters/redis/eligibility_loader.hpp"
#include "apps/log.hpp"
#include "apps/tls_policy.hpp"
#include "core/mutex.hpp"

namespace scrutin::apps::dist {

std::string DisplayRedis(const redis::RedisTarget& target) {
  std::string out =
      std::string(target.tls ? "rediss" : "redis") + (target.cluster ? "-cluster://" : "://");
  for (std::size_t i = 0; i < target.nodes.size(); ++i) {
    if (i) out += ',';
    out += target.nodes[i].ToString();
  }
  return out;
}

ports::HealthCheck RedisProbe(redis::RedisClientPool& pool, std::string name) {
  auto lease = pool.Acquire();
  if (!lease) return {std::move(name), false, "redis: " + lease.error()};
  auto reply = (*lease)->Execute(redis::Command::Keyless({"PING"}));
  if (!reply) return {std::move(name), false, "redis: " + reply.error()};
  if (reply->is_error()) return {std::move(name), false, "redis: " + reply->str};
  return {std::move(name), true, "ok"};
}

ports::HealthCheck PgProbe(postgres::PgPool& pool, std::string name) {
  auto lease = pool.Acquire();
  if (!lease) return {std::move(name), false, "postgresql: " + lease.error()};
  auto r = (*lease)->Exec("SELECT 1");
  if (!r) {
    lease->Discard();
    return {std::move(name), false, "postgresql: " + r.error().message};
  }
  return {std::move(name), true, "ok"};
}

ports::HealthCheck BrokerProbe(rabbitmq::RabbitQueueMonitor& monitor, std::string name) {
  auto depths = monitor.Depths();
  if (!depths) return {std::move(name), false, "rabbitmq: " + depths.error()};
  return {std::move(name), true, "ok"};
}

ports::HealthCheck LedgerProbe(redis::RedisClientPool& pool, const std::string& prefix,
                               const redis::LedgerLayout* expected, std::string name) {
  auto lease = pool.Acquire();
  if (!lease) return {std::move(name), false, "redis: " + lease.error()};
  core::Status st;
  if (expected != nullptr) {
    st = redis::CheckLedger(**lease, *expected);
  } else if (auto layout = redis::ReadLedgerLayout(**lease, prefix); !layout) {
    st = core::Fail(layout.code(), layout.error());
  } else {
    st = redis::CheckLedger(**lease, *layout);
  }
  if (!st) return {std::move(name), false, st.error()};
  return {std::move(name), true, "ok"};
}

void AddLedgerGauge(metrics::Registry& registry, redis::RedisClientPool& pool,
                    const std::string& prefix, const redis::LedgerLayout* expected) {
  auto& gauge = registry
                    .AddGauge("scrutin_ledger_ok",
                              "1 when the credential ledger in Redis is present and whole, 0 when "
                              "it is missing (run scrutin ledger rebuild) or unreadable")
                    .Get();
  registry.AddCollector([&gauge, &pool, prefix, expected] {
    gauge.Set(LedgerProbe(pool, prefix, expected, "ledger").ok ? 1.0 : 0.0);
  });
}

void AddQueueDepthGauge(metrics::Registry& registry, rabbitmq::RabbitQueueMonitor& monitor) {
  auto& family =
      registry.AddGauge("rabbitmq_queue_depth",
                        "Messages ready in each of the pipeline's RabbitMQ queues", {"queue"});
  registry.AddCollector([&family, &monitor] {
    auto depths = monitor.Depths();
    if (!depths) return;  // keep the last values; the scrape still succeeds
    for (const auto& q : *depths) family.WithLabels({q.name}).Set(q.messages);
  });
}

void AddPgConnectionsGauge(metrics::Registry& registry, postgres::PgPool& pool) {
  auto& gauge =
      registry.AddGauge("postgres_connections", "PostgreSQL connections this process holds open")
          .Get();
  registry.AddCollector(
      [&gauge, &pool] { gauge.Set(static_cast<double>(pool.ConnectionCount())); });
}

void AddRedisMemoryGauge(metrics::Registry& registry, redis::RedisClientPool& pool) {
  auto& gauge =
      registry.AddGauge("redis_memory_used_bytes", "Redis used_memory, summed over the masters")
          .Get();
  registry.AddCollector([&gauge, &pool] {
    auto lease = pool.Acquire();
    if (!lease) return;
    if (auto used = redis::UsedMemory(**lease)) gauge.Set(static_cast<double>(*used));
  });
}

void AddHoldingGauge(metrics::Registry& registry,
                     std::vector<const rabbitmq::RabbitConsumer*> consumers) {
  auto& gauge = registry
                    .AddGauge("scrutin_worker_holding_batches",
                              "Consumers of this worker holding a batch their stage failed on "
                              "(a backend down or the ledger missing), retrying it")
                    .Get();
  registry.AddCollector([&gauge, consumers = std::move(consumers)] {
    double holding = 0;
    for (const auto* c : consumers) holding += c->holding() ? 1 : 0;
    gauge.Set(holding);
  });
}

BackgroundQueueDepthGauge::BackgroundQueueDepthGauge(metrics::Registry& registry,
                                                     rabbitmq::RabbitQueueMonitor& monitor,
                                                     std::chrono::milliseconds period)
    : family_(registry.AddGauge("rabbitmq_queue_depth",
                                "Messages ready in each of the pipeline's RabbitMQ queues",
                                {"queue"})),
      monitor_(monitor),
      period_(period) {
  thread_ = std::thread([this] {
    core::MutexLock lock(mu_);
    while (!stopping_) {
      lock.Unlock();
      if (auto depths = monitor_.Depths()) {
        for (const auto& q : *depths) family_.WithLabels({q.name}).Set(q.messages);
      }
      lock.Lock();
      cv_.WaitFor(lock, period_, [&]() REQUIRES(mu_) { return stopping_; });
    }
  });
}

void BackgroundQueueDepthGauge::Stop() {
  {
    core::MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

AdminServer::AdminServer(http::AdminConfig config, const std::string& listen,
                         nlohmann::json extra_log_fields)
    : handler_(config),
      server_(
          [] {
            http::ServerOptions o;
            o.threads = 1;
            o.max_connections = 64;
            return o;
          }(),
          handler_) {
  auto endpoint = Require(http::ParseListenAddress(listen), "invalid --admin-listen");
  auto bound = Require(server_.Start(endpoint), "cannot listen on the admin address");
  nlohmann::json fields = {
      {"address", fmt::format("{}:{}", bound.address().to_string(), bound.port())},
      {"role", config.role},
      {"shape", config.shape},
      {"token", !config.token.empty()},
      {"law_actions", static_cast<bool>(config.actions.close)}};
  for (auto& [k, v] : extra_log_fields.items()) fields[k] = v;
  LogEvent(LogLevel::kInfo, "listening", std::move(fields));
}

void AddQueueTypeOption(CLI::App* cmd, std::string& queue_type) {
  cmd->add_option("--queue-type", queue_type,
                  "RabbitMQ queue type: quorum (delivers a message only once it is on disk; "
                  "replicated in a RabbitMQ cluster) or classic (may lose a vote a worker already "
                  "acted on when the broker crashes: for comparisons only); must match what the "
                  "queues were declared with")
      ->envname("SCRUTIN_QUEUE_TYPE")
      ->check(CLI::IsMember({"classic", "quorum"}))
      ->capture_default_str();
}

void AddAmqpFlags(CLI::App* cmd, BackendUrl& amqp) {
  AddBackendUrlFlags(cmd, amqp, "amqp", "RabbitMQ URL",
                     "RabbitMQ URL, amqp://user:password@host:port/vhost, or "
                     "amqps://...?cacertfile=CA.pem for TLS");
}

Broker ResolveBroker(const std::string& amqp, const std::string& queue_type) {
  Broker broker;
  broker.endpoint = Require(rabbitmq::ParseAmqpUrl(amqp), "invalid --amqp");
  broker.topology.queue_type =
      Require(rabbitmq::ParseQueueType(queue_type), "invalid --queue-type");
  return broker;
}

WorkerStart StartWorker(const WorkerFlags& flags) {
  InitLogging();
  const sigset_t stop_signals = BlockStopSignals();
  core::Ballot ballot = Require(core::Ballot::Load(flags.laws), "cannot load the ballot");
  Broker broker = ResolveBroker(flags.amqp.Get(), flags.queue_type);
  CheckAmqp(broker.endpoint);
  CheckAdminListener(flags.admin_listen);
  return WorkerStart{stop_signals, std::move(ballot), std::move(broker)};
}

void AddWorkerFlags(CLI::App* cmd, WorkerFlags& flags, const std::string& batch_help) {
  cmd->add_option("--laws", flags.laws, "Ballot configuration (laws.toml)")
      ->envname("SCRUTIN_LAWS")
      ->required();
  AddAmqpFlags(cmd, flags.amqp);
  cmd->add_option("--admin-listen", flags.admin_listen,
                  "Address of the admin port (/metrics, /api/v1/health), host:port; port 0 picks "
                  "a free one (logged)")
      ->envname("SCRUTIN_ADMIN_LISTEN")
      ->capture_default_str();
  AddAdminTokenFlag(cmd, flags.admin_token_file);
  cmd->add_option("--batch", flags.batch, batch_help)
      ->envname("SCRUTIN_BATCH")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cmd->add_option("--batch-wait-ms", flags.batch_wait_ms,
                  "How long a batch waits for more votes after its first, in ms")
      ->envname("SCRUTIN_BATCH_WAIT_MS")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  cmd->add_option("--status-retention-days", flags.retention_days,
                  "Days request statuses are kept after their law closes")
      ->envname("SCRUTIN_STATUS_RETENTION_DAYS")
      ->check(CLI::Range(0, 3650))
      ->capture_default_str();
  AddQueueTypeOption(cmd, flags.queue_type);
}

}  // namespace scrutin::apps::dist
