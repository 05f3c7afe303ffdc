// RabbitBatchPublisher: publishes a batch of messages with publisher confirms and waits until the
// broker has confirmed every one of them — the building block of "durable before we say so".
//
// A batch is written in one go (persistent messages, mandatory flag), then the publisher reads the
// broker's basic.ack / basic.nack (single or `multiple`) and basic.return frames until each
// message of the batch is resolved, so the whole batch costs one confirm round trip. A message is
// kConfirmed only when the broker acked it and did not return it as unroutable; nacked, returned
// and unresolved (timeout, lost connection) messages are not durable as far as the caller knows.
//
// Used by the api (through RabbitPublisher) and by the validator, which publishes its decided
// votes and acks its input only once PublishAndConfirm succeeded; by the consumer for dead
// letters.
//
// Not thread-safe: one owner thread (rabbitmq-c connections are single-threaded). After a failure
// the connection is dropped; the next call reconnects, but not before the backoff (100 ms doubling
// up to max_backoff) has passed since the last failed attempt — until then calls fail at once
// with the last error, so callers never hammer a broker that is down.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "adapters/rabbitmq/amqp_connection.hpp"
#include "adapters/rabbitmq/topology.hpp"
#include "core/result.hpp"

namespace scrutin::rabbitmq {

struct PublisherOptions {
  AmqpEndpoint endpoint;
  ConnectionOptions connection;
  Topology topology;
  // Declare the topology on every (re)connection, so a broker that lost its definitions (or a
  // fresh one) is usable at once. Idempotent.
  bool declare_topology = true;
  // How long to wait for the broker's confirms of one batch before giving up on it.
  std::chrono::milliseconds confirm_timeout{5000};
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
};

// Fate of one message of a batch.
enum class Delivery : std::uint8_t {
  kUnknown,    // no answer from the broker (timeout, connection lost): maybe stored, maybe not
  kConfirmed,  // acked by the broker: persisted on a durable queue
  kNacked,     // the broker refused it (e.g. a queue's internal error)
  kReturned,   // unroutable: no queue bound for its routing key
};

class RabbitBatchPublisher {
 public:
  explicit RabbitBatchPublisher(PublisherOptions options);
  ~RabbitBatchPublisher();

  // Connects (declaring the topology and enabling confirms) unless already connected. Within the
  // backoff after a failure returns the last error without trying. Every error of this class is
  // coded kUnavailable: the broker cannot take the messages now; try again later.
  core::Status Connect();

  // Publishes messages[i] and writes its fate to out[i]. Success: every message got an answer
  // (out[i] is never kUnknown; some may be kNacked or kReturned). Error: the connection failed or
  // the confirms did not all arrive within confirm_timeout; out[i] says what is known (kUnknown
  // for the rest) and the connection has been dropped.
  // REQUIRES: out.size() == messages.size().
  core::Status PublishBatch(std::span<const OutgoingMessage> messages, std::span<Delivery> out);

  // PublishBatch, succeeding only if every message is kConfirmed. An empty span succeeds without
  // I/O.
  core::Status PublishAndConfirm(std::span<const OutgoingMessage> messages);

  // For an idle owner: services heartbeats and notices a connection the broker closed. Error
  // (and the connection dropped) when it is gone; no-op success when not connected.
  core::Status Poll();

  void Disconnect();
  bool connected() const { return conn_ != nullptr && !conn_->broken(); }
  const std::string& last_error() const { return last_error_; }
  const PublisherOptions& options() const { return options_; }

  // Confirm round trips waited for, and messages confirmed (for tests and metrics).
  std::uint64_t confirm_rounds() const { return confirm_rounds_; }
  std::uint64_t messages_confirmed() const { return messages_confirmed_; }

 private:
  core::Status Fail(std::string why);
  core::Status AwaitConfirms(std::span<const OutgoingMessage> messages, std::uint64_t first,
                             std::span<Delivery> out);

  PublisherOptions options_;
  std::unique_ptr<AmqpConnection> conn_;
  std::string last_error_;
  int failures_ = 0;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::uint64_t confirm_rounds_ = 0;
  std::uint64_t messages_confirmed_ = 0;
};

}  // namespace scrutin::rabbitmq
