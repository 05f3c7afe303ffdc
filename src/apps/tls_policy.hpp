// --require-tls: a process refuses to start when any of its links would carry votes, statuses,
// credentials' digests or passwords in plain text or to a peer it has not verified. Every command
// with a network link registers the flag (SCRUTIN_REQUIRE_TLS=true in the environment does the
// same) and checks each link once it is parsed, before connecting; the error names the link and
// what to change. What counts as verified TLS, per link:
//   public HTTP port (serve, api)  --tls-cert/--tls-key given
//   PostgreSQL (--pg)              sslmode=verify-full (the URL's, or $PGSSLMODE)
//   RabbitMQ (--amqp)              amqps:// (always verified: see rabbitmq::AmqpEndpoint)
//   Redis (--redis)                rediss:// or rediss-cluster:// (always verified)
//   admin listener (--admin-listen) has no TLS of its own: allowed on a loopback address only
//                                  (reach it through a sidecar or a port-forward), refused
//                                  elsewhere.
// Wiring only (src/apps): the adapters say what their links are; this decides what is allowed.
// Private to src/apps: other modules use its public headers.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>

#include "adapters/postgres/pg_connection.hpp"
#include "adapters/rabbitmq/amqp_connection.hpp"
#include "adapters/redis/redis_target.hpp"

namespace scrutin::apps {

// Registers --require-tls (env SCRUTIN_REQUIRE_TLS) on `cmd`.
void AddRequireTlsFlag(CLI::App* cmd);

// Whether --require-tls was given to the running command.
bool TlsRequired();

// With --require-tls, throws CommandError "--require-tls: <link> <problem>; <fix>" when
// `verified_tls` is false. Without it, does nothing.
void CheckLink(std::string_view link, bool verified_tls, std::string_view problem,
               std::string_view fix);

// The admin listener's check: a loopback address (127.0.0.0/8, ::1, localhost) passes.
void CheckAdminListener(const std::string& listen);

// The backends' checks, each naming its flag.
void CheckPostgres(const postgres::PgTarget& target);
void CheckRedis(const redis::RedisTarget& target);
void CheckAmqp(const rabbitmq::AmqpEndpoint& endpoint);

}  // namespace scrutin::apps
