// What the distributed shape's commands (api, validator, aggregator, load-hashes) share: health
// probes, the backend metric gauges, the admin HTTP server of the workers, and start-up helpers
// (signals, errors). Wiring only: no vote rule lives here. The ports' implementations over the
// backends are in their adapters (redis::RedisStatusWriter, rabbitmq::RabbitDecisionPublisher).
// Private to src/apps: other modules use its public headers.
#pragma once

#include <fmt/format.h>
#include <signal.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "adapters/postgres/pg_pool.hpp"
#include "adapters/rabbitmq/rabbit_consumer.hpp"
#include "adapters/rabbitmq/rabbit_queue_monitor.hpp"
#include "adapters/rabbitmq/topology.hpp"
#include "adapters/redis/ledger_layout.hpp"
#include "adapters/redis/redis_client.hpp"
#include "adapters/redis/redis_status_store.hpp"
#include "apps/backend_url.hpp"
#include "apps/commands.hpp"
#include "apps/startup.hpp"
#include "core/ballot.hpp"
#include "core/mutex.hpp"
#include "core/result.hpp"
#include "http/admin.hpp"
#include "http/server.hpp"
#include "metrics/registry.hpp"
#include "ports/vote_intake.hpp"

namespace scrutin::apps::dist {

// ---- start-up helpers (and see apps/startup.hpp) ------------------------------------------

// Redis URL without its password, for logs ("redis://h:p" / "redis-cluster://h:p,h:p").
std::string DisplayRedis(const redis::RedisTarget& target);

// ---- health probes (each bounded by its client's timeouts) ------------------------------------

ports::HealthCheck RedisProbe(redis::RedisClientPool& pool, std::string name);
ports::HealthCheck PgProbe(postgres::PgPool& pool, std::string name);
ports::HealthCheck BrokerProbe(rabbitmq::RabbitQueueMonitor& monitor, std::string name);
// The credential ledger in Redis is there and whole (redis::CheckLedger): the one `expected`
// (a validator's, as opened) or, when null, whichever ledger is loaded under `prefix` (the api).
// Failing with what to run when Redis lost it.
ports::HealthCheck LedgerProbe(redis::RedisClientPool& pool, const std::string& prefix,
                               const redis::LedgerLayout* expected, std::string name);

// scrutin_ledger_ok: 1 while LedgerProbe passes, 0 when the ledger is missing or Redis cannot be
// read (refreshed at scrape time). The alert ScrutinLedgerMissing fires on 0.
void AddLedgerGauge(metrics::Registry& registry, redis::RedisClientPool& pool,
                    const std::string& prefix, const redis::LedgerLayout* expected);

// ---- backend gauges, refreshed at scrape time -------------------------------------------------
// Each registers its family and a collector on `registry`; the referenced objects must outlive
// the registry's last Render().

void AddQueueDepthGauge(metrics::Registry& registry, rabbitmq::RabbitQueueMonitor& monitor);
void AddPgConnectionsGauge(metrics::Registry& registry, postgres::PgPool& pool);
void AddRedisMemoryGauge(metrics::Registry& registry, redis::RedisClientPool& pool);
// scrutin_worker_holding_batches: how many of these consumers hold a batch their stage failed on
// (a backend down or the ledger missing), waiting to retry it.
void AddHoldingGauge(metrics::Registry& registry,
                     std::vector<const rabbitmq::RabbitConsumer*> consumers);

// rabbitmq_queue_depth{queue} refreshed by a thread of its own every `period` instead of at scrape
// time: for the api, whose /metrics is served on its public port and must never wait on the
// broker. A failed read keeps the last values. `registry` and `monitor` must outlive this object.
class BackgroundQueueDepthGauge {
 public:
  BackgroundQueueDepthGauge(metrics::Registry& registry, rabbitmq::RabbitQueueMonitor& monitor,
                            std::chrono::milliseconds period = std::chrono::milliseconds(1000));
  ~BackgroundQueueDepthGauge() { Stop(); }
  // Waits for a read in progress to end. Idempotent.
  void Stop();

 private:
  metrics::Family<metrics::Gauge>& family_;
  rabbitmq::RabbitQueueMonitor& monitor_;
  const std::chrono::milliseconds period_;
  core::Mutex mu_;
  core::CondVar cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// ---- the admin port -----------------------------------------------------------------------------

// An http::Server with an AdminHandler (GET /health with details, GET /metrics, and the law actions
// when config.actions has them), started on `listen` ("host:port", port 0 = any free one). Logs
// {"event":"listening","address":...,"role":...} (plus extra_log_fields) once bound. Throws
// CommandError when the address is malformed or cannot be bound. Used by the workers and, with
// --admin-listen, by the api and serve.
class AdminServer {
 public:
  // `config.shape` and `config.role` name the process in /health; `config.token` (from
  // --admin-token-file) is required on every request when not empty.
  AdminServer(http::AdminConfig config, const std::string& listen,
              nlohmann::json extra_log_fields = nlohmann::json::object());
  ~AdminServer() { Stop(); }
  void Stop() { server_.Stop(std::chrono::milliseconds(2000)); }

 private:
  http::AdminHandler handler_;
  http::Server server_;
};

// The queue type when --queue-type is not given: quorum. A quorum queue delivers a message only
// once it is on disk (and, in a RabbitMQ cluster, on a majority of nodes), so a broker killed
// after a validator acted on a vote cannot lose that vote. A classic queue may deliver a message
// before it is written, and a broker crash then loses a vote whose claim Redis already holds
// (docs/architecture.md "Bounded redelivery"); classic stays selectable for comparisons.
inline constexpr const char* kDefaultQueueType = "quorum";

// --queue-type, shared by the commands that declare queues.
void AddQueueTypeOption(CLI::App* cmd, std::string& queue_type);

// The broker named by --amqp and --queue-type: where it is, and the standard topology with that
// queue type. Throws CommandError naming the flag when either value is malformed.
struct Broker {
  rabbitmq::AmqpEndpoint endpoint;
  rabbitmq::Topology topology;
};
Broker ResolveBroker(const std::string& amqp, const std::string& queue_type);

// --amqp / --amqp-file (SCRUTIN_AMQP / SCRUTIN_AMQP_FILE), one of them required: apps/backend_url.hpp.
void AddAmqpFlags(CLI::App* cmd, BackendUrl& amqp);

// The flags every queue worker (validator, aggregator) takes: the ballot, the broker, how votes
// are batched, how long statuses are kept, and where /metrics and /api/v1/health are served.
struct WorkerFlags {
  std::string laws;
  BackendUrl amqp;
  std::string admin_listen = "127.0.0.1:0";
  std::string admin_token_file;  // empty: /metrics and /health answer without a token
  int batch = 100;
  int batch_wait_ms = 20;
  int retention_days = 30;
  std::string queue_type = kDefaultQueueType;
};

// Registers --laws, --amqp, --admin-listen, --batch (described by batch_help),
// --batch-wait-ms, --status-retention-days and --queue-type, each with its SCRUTIN_* variable.
void AddWorkerFlags(CLI::App* cmd, WorkerFlags& flags, const std::string& batch_help);

// What a queue worker sets up first, in this order: logging; the stop signals blocked (before any
// thread starts, so that every thread inherits the mask); the ballot; the broker, refused under
// --require-tls unless amqps://; the admin listener's address, checked likewise. Throws
// CommandError naming what is wrong.
struct WorkerStart {
  sigset_t stop_signals;
  core::Ballot ballot;
  Broker broker;
};
WorkerStart StartWorker(const WorkerFlags& flags);

}  // namespace scrutin::apps::dist
