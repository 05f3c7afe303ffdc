#include "adapters/redis/redis_client_pool.hpp"

#include <algorithm>
#include <string>

#include "core/mutex.hpp"

namespace scrutin::redis {

using core::Fail;

core::Result<std::shared_ptr<RedisClientPool>> RedisClientPool::Create(const RedisTarget& target,
                                                                       const ClientOptions& options,
                                                                       std::size_t max_clients) {
  std::shared_ptr<RedisClientPool> pool(
      new RedisClientPool(target, options, std::max<std::size_t>(1, max_clients)));
  auto first = RedisClient::Connect(target, options);
  if (!first.ok()) return Fail(first.error());
  core::MutexLock lock(pool->mu_);
  pool->idle_.push_back(std::move(*first));
  return pool;
}

core::Result<RedisClientPool::Lease> RedisClientPool::Acquire() {
  {
    core::MutexLock lock(mu_);
    if (!cv_.WaitFor(lock, options_.acquire_timeout,
                     [&]() REQUIRES(mu_) { return !idle_.empty() || leased_ < max_clients_; })) {
      return Fail("redis: no connection free within " +
                  std::to_string(options_.acquire_timeout.count()) + " ms (" +
                  std::to_string(max_clients_) + " in use)");
    }
    ++leased_;
    if (!idle_.empty()) {
      auto client = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(client));
    }
  }
  // A new client connects outside the lock; its slot (leased_) is already taken.
  auto client = RedisClient::Connect(target_, options_);
  if (!client.ok()) {
    core::MutexLock lock(mu_);
    --leased_;
    cv_.NotifyOne();
    return Fail(client.error());
  }
  return Lease(this, std::move(*client));
}

void RedisClientPool::Release(std::unique_ptr<RedisClient> client) {
  core::MutexLock lock(mu_);
  --leased_;
  if (client) idle_.push_back(std::move(client));
  cv_.NotifyOne();
}

RedisClientPool::Lease::~Lease() {
  if (pool_ != nullptr && client_) pool_->Release(std::move(client_));
}

}  // namespace scrutin::redis
