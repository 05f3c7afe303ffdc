// RedisClientPool: RedisClients over one target shared by threads, each leased to one thread at a
// time. Waits for a client are bounded (ClientOptions::acquire_timeout).
// Private to src/adapters/redis: other modules use its public headers.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "adapters/redis/redis_client.hpp"
#include "core/mutex.hpp"
#include "core/result.hpp"

namespace scrutin::redis {

// Thread-safe pool of RedisClients over one target, at most max_clients at a time.
class RedisClientPool {
 public:
  // Connects one client right away so that a bad target is reported at start-up.
  static core::Result<std::shared_ptr<RedisClientPool>> Create(const RedisTarget& target,
                                                               const ClientOptions& options = {},
                                                               std::size_t max_clients = 16);

  // A client for the caller's exclusive use until the Lease is destroyed.
  class Lease {
   public:
    Lease(RedisClientPool* pool, std::unique_ptr<RedisClient> client)
        : pool_(pool), client_(std::move(client)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    RedisClient* operator->() const { return client_.get(); }
    RedisClient& operator*() const { return *client_; }

   private:
    RedisClientPool* pool_;
    std::unique_ptr<RedisClient> client_;
  };

  // Waits while max_clients are leased, at most options.acquire_timeout; error when none was
  // released in time, or when a new client cannot connect. Thread-safe.
  core::Result<Lease> Acquire();

  const RedisTarget& target() const { return target_; }

 private:
  RedisClientPool(RedisTarget target, ClientOptions options, std::size_t max_clients)
      : target_(std::move(target)), options_(options), max_clients_(max_clients) {}
  void Release(std::unique_ptr<RedisClient> client);

  const RedisTarget target_;
  const ClientOptions options_;
  const std::size_t max_clients_;
  core::Mutex mu_;
  core::CondVar cv_;
  std::vector<std::unique_ptr<RedisClient>> idle_ GUARDED_BY(mu_);
  std::size_t leased_ GUARDED_BY(mu_) = 0;
};

}  // namespace scrutin::redis
