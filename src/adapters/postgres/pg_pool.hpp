// PgPool: a bounded, thread-safe pool of PostgreSQL connections shared by the aggregator's
// recorder, the API's result queries and the audit helpers.
//
// - Bounded: at most max_connections are open; Acquire() waits up to acquire_timeout for one to be
//   returned, then fails with "all N PostgreSQL connections are busy".
// - Health-checked: a connection idle for longer than health_check_after_idle answers an empty
//   query before it is handed out; one that does not is closed and replaced.
// - Broken connections are dropped: a lease whose connection died (or was returned inside an
//   open transaction that cannot be rolled back) is closed instead of going back to the pool.
// - Reconnect with backoff: after a failed connection attempt, new attempts are refused until the
//   backoff (doubling from backoff_initial up to backoff_max, with jitter) has passed, so a server
//   that is down costs callers a fast error, not a connect timeout each.
// Error messages carry the server's words and the target as user@host:port/db, never a password.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "adapters/postgres/pg_connection.hpp"
#include "core/mutex.hpp"
#include "core/result.hpp"

namespace scrutin::postgres {

struct PgPoolOptions {
  std::string url;  // postgresql://user:password@host:port/dbname (or libpq key=value pairs)
  std::size_t max_connections = 8;
  std::chrono::milliseconds acquire_timeout{5000};
  std::chrono::milliseconds health_check_after_idle{10000};
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
  PgSessionOptions session;
};

class PgPool : public std::enable_shared_from_this<PgPool> {
 public:
  // A connection on loan; returns it to the pool (or closes it when broken) on destruction.
  // Not thread-safe itself: one thread uses a lease at a time.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();

    PgConnection& operator*() { return *conn_; }
    PgConnection* operator->() { return conn_.get(); }

    // Closes the connection instead of returning it (e.g. its state is unknown after an error).
    void Discard();

   private:
    friend class PgPool;
    Lease(std::shared_ptr<PgPool> pool, std::unique_ptr<PgConnection> conn)
        : pool_(std::move(pool)), conn_(std::move(conn)) {}
    std::shared_ptr<PgPool> pool_;
    std::unique_ptr<PgConnection> conn_;
  };

  // Validates the options and the URL; connects lazily (Warm() to connect at once).
  // Error: malformed URL, max_connections of 0.
  static core::Result<std::shared_ptr<PgPool>> Create(PgPoolOptions options);

  // A healthy connection: an idle one, or a new one when fewer than max_connections are open.
  // With verify, an idle connection is health-checked however recently it was used (callers that
  // just lost a connection use it: the others may have died with it).
  // Errors: server unreachable or refusing (the server's message), backoff in effect after a
  // recent failure, no connection returned within acquire_timeout. Thread-safe.
  core::Result<Lease> Acquire(bool verify = false);

  // Opens one connection now and returns it to the pool: fails fast at start-up on a wrong URL or
  // password instead of at the first vote. Thread-safe.
  core::Status Warm();

  // Connections currently open, in use or idle (the postgres_connections gauge). Thread-safe.
  std::size_t ConnectionCount() const;
  std::size_t max_connections() const { return options_.max_connections; }
  // user@host:port/dbname, for logs.
  const std::string& display() const { return target_.display; }
  const PgTarget& target() const { return target_; }

 private:
  struct Idle {
    std::unique_ptr<PgConnection> conn;
    std::chrono::steady_clock::time_point since;
  };

  PgPool(PgPoolOptions options, PgTarget target);
  void Release(std::unique_ptr<PgConnection> conn);
  core::Result<std::unique_ptr<PgConnection>> Connect();

  const PgPoolOptions options_;
  const PgTarget target_;

  mutable core::Mutex mu_;
  core::CondVar returned_;
  std::vector<Idle> idle_ GUARDED_BY(mu_);  // most recently returned last
  std::size_t open_ GUARDED_BY(mu_) = 0;    // idle + leased + being connected
  std::chrono::steady_clock::time_point next_attempt_ GUARDED_BY(mu_);
  std::chrono::milliseconds backoff_{0};  // GUARDED_BY(mu_)
  std::string last_error_ GUARDED_BY(mu_);
};

using PgPoolPtr = std::shared_ptr<PgPool>;

}  // namespace scrutin::postgres
