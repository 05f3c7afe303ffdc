#include "apps/tls_policy.hpp"

#include <fmt/format.h>

#include <atomic>

#include "apps/commands.hpp"
#include "http/server.hpp"

namespace scrutin::apps {
namespace {

// Set while the command line is parsed, read afterwards by the same command: one process, one
// command.
std::atomic<bool> g_require_tls{false};

}  // namespace

void AddRequireTlsFlag(CLI::App* cmd) {
  g_require_tls = false;  // a new command line
  cmd->add_flag_callback(
         "--require-tls", [] { g_require_tls = true; },
         "Refuse to start when any link (public port, PostgreSQL, RabbitMQ, Redis) is not "
         "verified TLS, naming it; the admin listener must then be on loopback")
      ->envname("SCRUTIN_REQUIRE_TLS");
}

bool TlsRequired() { return g_require_tls.load(); }

void CheckLink(std::string_view link, bool verified_tls, std::string_view problem,
               std::string_view fix) {
  if (!TlsRequired() || verified_tls) return;
  throw CommandError(fmt::format("--require-tls: {} {}; {}", link, problem, fix));
}

void CheckAdminListener(const std::string& listen) {
  if (!TlsRequired() || listen.empty()) return;
  auto endpoint = http::ParseListenAddress(listen);
  const bool loopback = endpoint.ok() && endpoint->address().is_loopback();
  CheckLink("the admin listener (--admin-listen " + listen + ")", loopback,
            "has no TLS and is not on a loopback address",
            "bind it to 127.0.0.1 and reach it through a sidecar or a port-forward");
}

void CheckPostgres(const postgres::PgTarget& target) {
  CheckLink("the PostgreSQL link (--pg " + target.display + ")", target.VerifiesServer(),
            "is not verified TLS (sslmode=" + target.sslmode + ")",
            "add sslmode=verify-full to the URL (or PGSSLMODE) and give the CA in PGSSLROOTCERT "
            "(or sslrootcert=)");
}

void CheckRedis(const redis::RedisTarget& target) {
  CheckLink("the Redis link (--redis)", target.tls, "is plain text",
            "use rediss:// (or rediss-cluster://) with ?cacert=CA.pem");
}

void CheckAmqp(const rabbitmq::AmqpEndpoint& endpoint) {
  CheckLink("the RabbitMQ link (--amqp " + endpoint.ToString() + ")", endpoint.tls, "is plain text",
            "use amqps://...?cacertfile=CA.pem");
}

}  // namespace scrutin::apps
