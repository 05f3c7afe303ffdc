#include "adapters/rabbitmq/rabbit_batch_publisher.hpp"

#include <algorithm>
#include <cassert>

#include "core/timeval.hpp"

namespace scrutin::rabbitmq {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

RabbitBatchPublisher::RabbitBatchPublisher(PublisherOptions options)
    : options_(std::move(options)) {}

RabbitBatchPublisher::~RabbitBatchPublisher() = default;

void RabbitBatchPublisher::Disconnect() { conn_.reset(); }

core::Status RabbitBatchPublisher::Fail(std::string why) {
  last_error_ = std::move(why);
  conn_.reset();
  ++failures_;
  auto backoff = options_.min_backoff * (1LL << std::min(failures_ - 1, 16));
  next_attempt_ = Clock::now() + std::min<std::chrono::milliseconds>(
                                     std::chrono::duration_cast<std::chrono::milliseconds>(backoff),
                                     options_.max_backoff);
  return core::Fail(core::ErrorCode::kUnavailable, last_error_);
}

core::Status RabbitBatchPublisher::Connect() {
  if (connected()) return {};
  conn_.reset();
  if (Clock::now() < next_attempt_) {
    return core::Fail(core::ErrorCode::kUnavailable, "RabbitMQ unavailable: " + last_error_);
  }
  auto conn = AmqpConnection::Open(options_.endpoint, options_.connection);
  if (!conn.ok()) return Fail(conn.error());
  if (options_.declare_topology) {
    if (auto st = DeclareTopology(**conn, options_.topology); !st.ok()) {
      return Fail("RabbitMQ topology: " + st.error());
    }
  }
  if (auto st = (*conn)->EnableConfirms(); !st.ok()) return Fail(st.error());
  conn_ = std::move(*conn);
  failures_ = 0;
  return {};
}

core::Status RabbitBatchPublisher::Poll() {
  if (!connected()) return {};
  if (auto st = conn_->Poll(); !st.ok()) return Fail(st.error());
  return {};
}

core::Status RabbitBatchPublisher::PublishAndConfirm(std::span<const OutgoingMessage> messages) {
  if (messages.empty()) return {};
  std::vector<Delivery> out(messages.size());
  if (auto st = PublishBatch(messages, out); !st.ok()) return st;
  std::size_t nacked = 0, returned = 0;
  for (Delivery d : out) {
    nacked += d == Delivery::kNacked;
    returned += d == Delivery::kReturned;
  }
  if (nacked + returned == 0) return {};
  return core::Fail(core::ErrorCode::kUnavailable,
                    "RabbitMQ did not accept " + std::to_string(nacked + returned) + " of " +
                    std::to_string(messages.size()) + " messages (" + std::to_string(nacked) +
                    " nacked, " + std::to_string(returned) + " unroutable)");
}

core::Status RabbitBatchPublisher::PublishBatch(std::span<const OutgoingMessage> messages,
                                                std::span<Delivery> out) {
  assert(out.size() == messages.size());
  std::fill(out.begin(), out.end(), Delivery::kUnknown);
  if (messages.empty()) return {};
  if (auto st = Connect(); !st.ok()) return st;
  // Memory from the previous round (decoded frames) is no longer referenced.
  amqp_maybe_release_buffers(conn_->state());
  const std::uint64_t first = conn_->last_sequence() + 1;
  std::string error;
  {
    // One watchdog deadline for the whole batch's writes. (conn_ must outlive the guard: no
    // Fail() inside this scope.)
    AmqpConnection::WriteGuard guard(*conn_);
    for (const OutgoingMessage& m : messages) {
      if (auto st = conn_->Publish(m, /*mandatory=*/true); !st.ok()) {
        error = st.error();
        break;
      }
    }
  }
  // A watchdog timeout shows only once the guard is gone, and explains a socket error better.
  if (conn_->broken()) return Fail(conn_->last_error().empty() ? error : conn_->last_error());
  if (!error.empty()) return Fail(error);
  ++confirm_rounds_;
  return AwaitConfirms(messages, first, out);
}

core::Status RabbitBatchPublisher::AwaitConfirms(std::span<const OutgoingMessage> messages,
                                                 std::uint64_t first, std::span<Delivery> out) {
  const std::uint64_t last = first + messages.size() - 1;
  std::vector<bool> returned(messages.size(), false);
  std::size_t unresolved = messages.size();
  auto resolve = [&](std::uint64_t tag, bool multiple, bool ack) {
    const std::uint64_t lo = multiple ? first : tag;
    const std::uint64_t hi = std::min(tag, last);
    for (std::uint64_t seq = std::max(lo, first); seq <= hi; ++seq) {
      std::size_t i = seq - first;
      if (out[i] != Delivery::kUnknown) continue;
      out[i] = !ack ? Delivery::kNacked : returned[i] ? Delivery::kReturned : Delivery::kConfirmed;
      --unresolved;
    }
  };

  const auto deadline = Clock::now() + options_.confirm_timeout;
  amqp_connection_state_t state = conn_->state();
  while (unresolved > 0) {
    if (Clock::now() >= deadline) {
      return Fail("RabbitMQ did not confirm " + std::to_string(unresolved) + " of " +
                  std::to_string(messages.size()) + " messages within " +
                  std::to_string(options_.confirm_timeout.count()) + " ms");
    }
    amqp_frame_t frame;
    timeval tv = core::TimevalUntil(deadline);
    int rc = amqp_simple_wait_frame_noblock(state, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) continue;
    if (rc != AMQP_STATUS_OK) {
      auto st = conn_->LibraryFailure(rc, "waiting for confirms");
      return Fail(st.error());
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        auto* m = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
        resolve(m->delivery_tag, m->multiple != 0, /*ack=*/true);
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        auto* m = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
        resolve(m->delivery_tag, m->multiple != 0, /*ack=*/false);
        break;
      }
      case AMQP_BASIC_RETURN_METHOD: {
        // The returned message (header and body) follows; the broker acks it afterwards. It is
        // known by its message_id: every message of the batch with that id is marked (when ids
        // repeat, erring on the side of "not durable").
        amqp_message_t msg;
        amqp_rpc_reply_t reply = amqp_read_message(state, frame.channel, &msg, 0);
        if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
          auto st = conn_->Break("reading a returned message failed");
          return Fail(st.error());
        }
        std::string id;
        if (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
          id.assign(static_cast<const char*>(msg.properties.message_id.bytes),
                    msg.properties.message_id.len);
        }
        amqp_destroy_message(&msg);
        for (std::size_t i = 0; i < messages.size(); ++i) {
          if (messages[i].message_id == id) returned[i] = true;
        }
        break;
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD: {
        auto st = conn_->HandleCloseFrame(frame);
        return Fail(st.ok() ? std::string("RabbitMQ closed the channel") : st.error());
      }
      default:
        break;
    }
  }
  for (Delivery d : out) messages_confirmed_ += d == Delivery::kConfirmed;
  return {};
}

}  // namespace scrutin::rabbitmq
