// RabbitQueueMonitor: the depth of the pipeline's queues, read over AMQP with a passive
// queue.declare (message_count, consumer_count) — for the rabbitmq_queue_depth{queue} gauge and
// for tests. Cheaper than rabbitmqctl (which boots an Erlang VM per call) and needs no management
// plugin.
//
// Thread-safe (one connection behind a mutex; a scrape at a time). Reconnects on demand, at most
// once per second after a failure, so a scrape during an outage fails fast.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "adapters/rabbitmq/amqp_connection.hpp"
#include "core/mutex.hpp"
#include "core/result.hpp"

namespace scrutin::rabbitmq {

class RabbitQueueMonitor {
 public:
  RabbitQueueMonitor(AmqpEndpoint endpoint, ConnectionOptions options,
                     std::vector<std::string> queues);
  ~RabbitQueueMonitor();

  // Ready-message and consumer counts of every queue, in the order given. Error when the broker
  // cannot be reached or a queue does not exist (naming it).
  core::Result<std::vector<QueueInfo>> Depths();

 private:
  const AmqpEndpoint endpoint_;
  const ConnectionOptions options_;
  const std::vector<std::string> queues_;
  core::Mutex mu_;
  std::unique_ptr<AmqpConnection> conn_ GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point retry_at_{};  // GUARDED_BY(mu_)
  std::string last_error_ GUARDED_BY(mu_);
};

}  // namespace scrutin::rabbitmq
