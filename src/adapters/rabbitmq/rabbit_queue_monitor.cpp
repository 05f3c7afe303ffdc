#include "adapters/rabbitmq/rabbit_queue_monitor.hpp"

namespace scrutin::rabbitmq {

RabbitQueueMonitor::RabbitQueueMonitor(AmqpEndpoint endpoint, ConnectionOptions options,
                                       std::vector<std::string> queues)
    : endpoint_(std::move(endpoint)), options_(std::move(options)), queues_(std::move(queues)) {}

RabbitQueueMonitor::~RabbitQueueMonitor() = default;

core::Result<std::vector<QueueInfo>> RabbitQueueMonitor::Depths() {
  core::MutexLock lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (conn_ == nullptr || conn_->broken()) {
    conn_.reset();
    if (now < retry_at_) return core::Fail(last_error_);
    ConnectionOptions o = options_;
    o.connection_name += " queue monitor";
    auto conn = AmqpConnection::Open(endpoint_, o);
    if (!conn.ok()) {
      last_error_ = conn.error();
      retry_at_ = now + std::chrono::seconds(1);
      return core::Fail(last_error_);
    }
    conn_ = std::move(*conn);
  }
  std::vector<QueueInfo> out;
  out.reserve(queues_.size());
  for (const std::string& q : queues_) {
    auto info = conn_->InspectQueue(q);
    if (!info.ok()) {
      if (conn_->broken()) {
        last_error_ = info.error();
        retry_at_ = now + std::chrono::seconds(1);
        conn_.reset();
      }
      return core::Fail(info.error());
    }
    out.push_back(*info);
  }
  // Passive declares leave nothing to keep; release the frames' memory.
  amqp_maybe_release_buffers(conn_->state());
  return out;
}

}  // namespace scrutin::rabbitmq
