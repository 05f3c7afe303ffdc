#include "adapters/postgres/pg_pool.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <random>

#include "core/mutex.hpp"

namespace scrutin::postgres {
namespace {

using SteadyClock = std::chrono::steady_clock;

// +/- 20 % so that several processes restarted together do not reconnect in lockstep.
std::chrono::milliseconds Jitter(std::chrono::milliseconds d) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_int_distribution<long long> pct(80, 120);
  return std::chrono::milliseconds(d.count() * pct(rng) / 100);
}

long long MillisUntil(SteadyClock::time_point t) {
  return std::max<long long>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(t - SteadyClock::now()).count());
}

}  // namespace

PgPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::move(other.pool_)), conn_(std::move(other.conn_)) {}

PgPool::Lease& PgPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (pool_) pool_->Release(std::move(conn_));
    pool_ = std::move(other.pool_);
    conn_ = std::move(other.conn_);
  }
  return *this;
}

PgPool::Lease::~Lease() {
  if (pool_) pool_->Release(std::move(conn_));
}

void PgPool::Lease::Discard() {
  if (!pool_) return;
  conn_.reset();
  pool_->Release(nullptr);
  pool_.reset();
}

PgPool::PgPool(PgPoolOptions options, PgTarget target)
    : options_(std::move(options)), target_(std::move(target)) {}

core::Result<std::shared_ptr<PgPool>> PgPool::Create(PgPoolOptions options) {
  if (options.max_connections == 0) {
    return core::Fail(std::string("the PostgreSQL pool needs at least one connection"));
  }
  auto target = ParsePgTarget(options.url);
  if (!target) return core::Fail(target.code(), target.error());
  return std::shared_ptr<PgPool>(new PgPool(std::move(options), std::move(*target)));
}

core::Result<PgPool::Lease> PgPool::Acquire(bool verify) {
  const auto deadline = SteadyClock::now() + options_.acquire_timeout;
  for (;;) {
    // Under the lock: take an idle connection, or a slot to open one, or wait for either. The
    // health check and the connect run outside it.
    std::optional<Idle> item;
    {
      core::MutexLock lock(mu_);
      if (!idle_.empty()) {
        item = std::move(idle_.back());
        idle_.pop_back();
      } else if (open_ < options_.max_connections) {
        if (SteadyClock::now() < next_attempt_) {
          return core::Fail(
              fmt::format("PostgreSQL at {} is unavailable ({}); next connection attempt in {} ms",
                          target_.display, last_error_, MillisUntil(next_attempt_)));
        }
        ++open_;
      } else {
        if (!returned_.WaitUntil(lock, deadline) && idle_.empty() &&
            open_ >= options_.max_connections) {
          return core::Fail(fmt::format(
              "all {} PostgreSQL connections to {} are busy (waited {} ms)",
              options_.max_connections, target_.display, options_.acquire_timeout.count()));
        }
        continue;
      }
    }
    if (item) {
      bool healthy = item->conn->ok();
      if (healthy &&
          (verify || SteadyClock::now() - item->since > options_.health_check_after_idle)) {
        healthy = item->conn->ExecScript("").ok();  // one round trip: is the backend still there?
      }
      if (healthy) return Lease(shared_from_this(), std::move(item->conn));
      item->conn.reset();
      core::MutexLock lock(mu_);
      --open_;
      continue;
    }
    auto conn = Connect();
    if (!conn) return core::Fail(conn.code(), conn.error());
    return Lease(shared_from_this(), std::move(*conn));
  }
}

core::Result<std::unique_ptr<PgConnection>> PgPool::Connect() {
  auto conn = PgConnection::Open(target_, options_.session);
  core::MutexLock lock(mu_);
  if (!conn) {
    --open_;
    backoff_ = backoff_.count() == 0 ? options_.backoff_initial
                                     : std::min(backoff_ * 2, options_.backoff_max);
    next_attempt_ = SteadyClock::now() + Jitter(backoff_);
    last_error_ = conn.error().message;
    returned_.NotifyOne();  // a waiter may now try to connect itself
    return core::Fail(conn.error().message);
  }
  backoff_ = std::chrono::milliseconds(0);
  next_attempt_ = {};
  return std::make_unique<PgConnection>(std::move(*conn));
}

void PgPool::Release(std::unique_ptr<PgConnection> conn) {
  if (conn && conn->ok() && !conn->idle()) {
    // Returned inside a transaction (an error path that did not roll back): roll back here, or
    // the next borrower would run inside someone else's transaction.
    (void)conn->ExecScript("ROLLBACK");
  }
  if (conn && !conn->idle()) conn.reset();
  core::MutexLock lock(mu_);
  if (conn) {
    idle_.push_back(Idle{std::move(conn), SteadyClock::now()});
  } else {
    --open_;
  }
  returned_.NotifyOne();
}

core::Status PgPool::Warm() {
  auto lease = Acquire();
  if (!lease) return core::Fail(lease.code(), lease.error());
  return {};
}

std::size_t PgPool::ConnectionCount() const {
  core::MutexLock lock(mu_);
  return open_;
}

}  // namespace scrutin::postgres
