#include "adapters/rabbitmq/rabbit_consumer.hpp"

#include <algorithm>
#include <optional>
#include <string_view>
#include <thread>

#include "core/timeval.hpp"

namespace scrutin::rabbitmq {
namespace {

using Clock = std::chrono::steady_clock;

std::string Copy(amqp_bytes_t b) {
  return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

PublisherOptions DeadLetterPublisherOptions(const ConsumerOptions& o) {
  PublisherOptions p;
  p.endpoint = o.endpoint;
  p.connection = o.connection;
  p.connection.connection_name += " dead-letters";
  p.topology = o.topology;
  p.declare_topology = o.declare_topology;
  p.min_backoff = o.min_backoff;
  p.max_backoff = o.max_backoff;
  return p;
}

// The x-delivery-count header quorum queues set on a redelivered message (deliveries before this
// one); nullopt when absent.
std::optional<std::int64_t> DeliveryCount(const amqp_basic_properties_t& p) {
  if (!(p._flags & AMQP_BASIC_HEADERS_FLAG)) return std::nullopt;
  for (int i = 0; i < p.headers.num_entries; ++i) {
    const amqp_table_entry_t& e = p.headers.entries[i];
    if (FieldKey(e) == "x-delivery-count") return FieldInteger(e.value);
  }
  return std::nullopt;
}

bool IsRefusal(const core::Status& st) { return st.code() == core::ErrorCode::kRefused; }

}  // namespace

RabbitConsumer::RabbitConsumer(ConsumerOptions options)
    : options_(std::move(options)), dead_letters_(DeadLetterPublisherOptions(options_)) {
  if (options_.prefetch == 0) options_.prefetch = 1;
  if (options_.max_batch == 0) options_.max_batch = 1;
}

RabbitConsumer::~RabbitConsumer() = default;

void RabbitConsumer::Report(const std::string& what) {
  if (options_.on_error) options_.on_error(what);
}

core::Status RabbitConsumer::Fail(std::string why) {
  last_error_ = "consumer of " + options_.queue + ": " + why;
  conn_.reset();
  ++failures_;
  auto backoff = options_.min_backoff * (1LL << std::min(failures_ - 1, 16));
  next_attempt_ = Clock::now() + std::min<std::chrono::milliseconds>(
                                     std::chrono::duration_cast<std::chrono::milliseconds>(backoff),
                                     options_.max_backoff);
  Report(last_error_);
  return core::Fail(last_error_);
}

core::Status RabbitConsumer::Connect() {
  if (connected()) return {};
  conn_.reset();
  if (Clock::now() < next_attempt_) return core::Fail(last_error_);
  ConnectionOptions co = options_.connection;
  co.connection_name += " consumer " + options_.queue;
  auto conn = AmqpConnection::Open(options_.endpoint, co);
  if (!conn.ok()) return Fail(conn.error());
  if (options_.declare_topology) {
    if (auto st = DeclareTopology(**conn, options_.topology); !st.ok()) {
      return Fail("topology: " + st.error());
    }
  }
  if (auto st = (*conn)->Qos(options_.prefetch); !st.ok()) return Fail(st.error());
  if (auto st = (*conn)->Consume(options_.queue); !st.ok()) return Fail(st.error());
  conn_ = std::move(*conn);
  failures_ = 0;
  return {};
}

core::Status RabbitConsumer::Receive(std::vector<Raw>& raws, std::chrono::milliseconds first_wait) {
  amqp_connection_state_t state = conn_->state();
  amqp_maybe_release_buffers(state);
  Clock::time_point deadline = Clock::now() + first_wait;
  // Votes gathered; an unparsable message counts as one. No more than `prefetch` messages can
  // arrive before an ack, so stop there rather than wait out max_wait for nothing.
  std::size_t votes = 0;
  while (votes < options_.max_batch && raws.size() < options_.prefetch) {
    timeval tv = core::TimevalUntil(deadline);
    amqp_envelope_t env;
    amqp_rpc_reply_t reply = amqp_consume_message(state, &env, &tv, 0);
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
      Raw raw;
      raw.tag = env.delivery_tag;
      raw.redelivered = env.redelivered != 0;
      raw.routing_key = Copy(env.routing_key);
      raw.body = Copy(env.message.body);
      if (env.message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
        raw.message_id = Copy(env.message.properties.message_id);
      }
      if (auto count = DeliveryCount(env.message.properties)) {
        raw.delivery = static_cast<std::uint32_t>(std::clamp<std::int64_t>(*count + 1, 1, 1 << 30));
      } else {
        raw.delivery = raw.redelivered ? 2 : 1;
      }
      amqp_destroy_envelope(&env);
      auto decoded = DecodeVoteMessages(raw.body);
      if (decoded.ok()) {
        raw.votes = std::move(*decoded);
      } else {
        raw.unparsable = "unparsable: " + decoded.error();
      }
      votes += std::max<std::size_t>(raw.votes.size(), 1);
      if (raws.empty()) deadline = Clock::now() + options_.max_wait;
      raws.push_back(std::move(raw));
      continue;
    }
    if (reply.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION) {
      return Fail("unexpected reply while consuming");
    }
    if (reply.library_error == AMQP_STATUS_TIMEOUT) return {};
    if (reply.library_error != AMQP_STATUS_UNEXPECTED_STATE) {
      return Fail(conn_->LibraryFailure(reply.library_error, "consuming").error());
    }
    // Something other than a delivery: read it and act on it.
    amqp_frame_t frame;
    timeval io = core::TimevalUntil(Clock::now() + options_.connection.io_timeout);
    int rc = amqp_simple_wait_frame_noblock(state, &frame, &io);
    if (rc != AMQP_STATUS_OK) return Fail(conn_->LibraryFailure(rc, "consuming").error());
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD: {
        auto st = conn_->HandleCloseFrame(frame);
        return Fail(st.ok() ? std::string("channel closed by RabbitMQ") : st.error());
      }
      case AMQP_BASIC_CANCEL_METHOD:
        return Fail("RabbitMQ cancelled the consumer (queue deleted?)");
      default:
        break;  // e.g. a late confirm; nothing to do
    }
  }
  return {};
}

OutgoingMessage RabbitConsumer::DeadLetterOf(const Raw& raw, std::string body,
                                             std::string message_id, std::string reason) const {
  OutgoingMessage m;
  m.exchange = options_.topology.dead_exchange;
  m.routing_key = raw.routing_key;
  m.body = std::move(body);
  m.message_id = std::move(message_id);
  m.type = "scrutin.dead-letter";
  m.headers = {{std::string(kReasonHeader), std::move(reason)},
               {std::string(kSourceQueueHeader), options_.queue}};
  return m;
}

core::Status RabbitConsumer::Settle(const std::vector<Raw>& raws,
                                    const std::vector<Disposition>& fate) {
  const bool all_ack =
      std::all_of(fate.begin(), fate.end(), [](Disposition d) { return d == Disposition::kAck; });
  if (all_ack) {
    // Every earlier delivery on the channel is settled already, so `multiple` acks just these.
    if (auto st = conn_->Ack(raws.back().tag, /*multiple=*/true); !st.ok()) return Fail(st.error());
    acked_ += raws.size();
    return {};
  }
  for (std::size_t i = 0; i < raws.size(); ++i) {
    if (fate[i] == Disposition::kAck) {
      if (auto st = conn_->Ack(raws[i].tag, false); !st.ok()) return Fail(st.error());
      ++acked_;
    } else {
      if (auto st = conn_->Nack(raws[i].tag, false, /*requeue=*/true); !st.ok()) {
        return Fail(st.error());
      }
      ++requeued_;
    }
  }
  return {};
}

core::Status RabbitConsumer::HandleIsolating(const BatchHandler& handler,
                                             std::span<const InboundVote> batch,
                                             std::span<Outcome> outcomes) {
  std::fill(outcomes.begin(), outcomes.end(), Outcome{});
  auto st = handler(batch, outcomes);
  if (st.ok() || !IsRefusal(st)) return st;
  if (batch.size() == 1) {
    // Refused on its own: another worker may accept it (a different laws.toml), so it goes back
    // until it has been tried poison_tries times (classic queues: at its first redelivery).
    const std::uint32_t limit =
        options_.topology.queue_type == QueueType::kQuorum ? options_.poison_tries : 2;
    if (batch[0].delivery >= limit) {
      outcomes[0] = {Disposition::kDeadLetter,
                     "refused " + std::to_string(batch[0].delivery) + " times: " + st.error()};
    } else {
      outcomes[0] = {Disposition::kRequeue, {}};
    }
    Report("consumer of " + options_.queue + ": a vote for " + batch[0].vote.law_id +
           " refused (delivery " + std::to_string(batch[0].delivery) + "): " + st.error());
    return {};
  }
  const std::size_t half = batch.size() / 2;
  if (auto first = HandleIsolating(handler, batch.first(half), outcomes.first(half)); !first.ok()) {
    return first;
  }
  return HandleIsolating(handler, batch.subspan(half), outcomes.subspan(half));
}

core::Status RabbitConsumer::Hold(std::chrono::milliseconds wait, std::size_t in_hand) {
  const Clock::time_point deadline = Clock::now() + wait;
  while (!stop_.load() && Clock::now() < deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    const std::size_t before = held_over_.size();
    if (in_hand + held_over_.size() < options_.prefetch) {
      // Reading services the heartbeats; a delivery is kept for the next batch.
      if (auto st = Receive(held_over_, std::min(left, std::chrono::milliseconds(500))); !st.ok()) {
        return st;
      }
    }
    if (held_over_.size() == before) {
      std::this_thread::sleep_for(
          std::min(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()),
                   std::chrono::milliseconds(50)));
    }
  }
  return {};
}

core::Result<std::size_t> RabbitConsumer::RunOnce(const BatchHandler& handler,
                                                  std::chrono::milliseconds first_wait) {
  if (unsettled_) {
    unsettled_ = false;
    held_over_.clear();
    conn_.reset();
    Report("consumer of " + options_.queue + ": previous batch left unsettled; reconnecting");
  }
  if (!connected()) held_over_.clear();  // their delivery tags died with the connection
  if (auto st = Connect(); !st.ok()) return core::Fail(st.error());
  std::vector<Raw> raws = std::move(held_over_);
  held_over_.clear();
  if (auto st = Receive(raws, raws.empty() ? first_wait : std::chrono::milliseconds(0)); !st.ok()) {
    return core::Fail(st.error());
  }
  if (raws.empty()) return std::size_t{0};
  delivered_ += raws.size();
  unsettled_ = true;

  // Unpack the messages into votes; owner[j] is the message of good[j].
  std::vector<Disposition> fate(raws.size(), Disposition::kAck);
  std::vector<InboundVote> good;
  std::vector<std::size_t> owner;
  std::vector<OutgoingMessage> dead;
  for (std::size_t i = 0; i < raws.size(); ++i) {
    Raw& raw = raws[i];
    if (!raw.unparsable.empty()) {
      dead.push_back(DeadLetterOf(raw, raw.body, raw.message_id, raw.unparsable));
      continue;
    }
    votes_delivered_ += raw.votes.size();
    for (VoteMessage& m : raw.votes) {
      InboundVote in;
      in.vote = std::move(m.vote);
      in.decision = m.decision;
      in.redelivered = raw.redelivered;
      in.delivery = raw.delivery;
      in.routing_key = raw.routing_key;
      good.push_back(std::move(in));
      owner.push_back(i);
    }
  }

  auto requeue_all = [&](const std::string& why) -> core::Result<std::size_t> {
    std::fill(fate.begin(), fate.end(), Disposition::kRequeue);
    unsettled_ = false;
    if (auto st = Settle(raws, fate); !st.ok()) return core::Fail(why + "; " + st.error());
    Report("consumer of " + options_.queue + ": " + why);
    return core::Fail(why);
  };

  if (!dead.empty()) {
    if (auto st = dead_letters_.PublishAndConfirm(dead); !st.ok()) {
      return requeue_all("cannot dead-letter " + std::to_string(dead.size()) +
                         " unparsable messages: " + st.error());
    }
    dead_lettered_ += dead.size();
  }

  if (!good.empty()) {
    std::vector<Outcome> outcomes(good.size());
    // Hold the batch through failures that are not the votes' fault (see the header).
    for (int failures = 0;; ++failures) {
      auto st = HandleIsolating(handler, good, outcomes);
      if (st.ok()) break;
      ++held_retries_;
      holding_.store(true);
      Report("consumer of " + options_.queue + ": handler failed (" +
             std::string(core::ToString(st.code())) + "), holding " + std::to_string(good.size()) +
             " votes and retrying: " + st.error());
      const auto backoff = std::min<std::chrono::milliseconds>(
          options_.min_backoff * (1LL << std::min(failures, 16)), options_.max_backoff);
      if (auto held = Hold(backoff, raws.size()); !held.ok()) {
        // The connection is gone and the batch with it: the broker delivers it again.
        holding_.store(false);
        unsettled_ = false;
        held_over_.clear();
        return core::Fail("handler: " + st.error() + "; " + held.error());
      }
      if (stop_.load()) {
        holding_.store(false);
        for (std::size_t i : owner) fate[i] = Disposition::kRequeue;
        unsettled_ = false;
        held_over_.clear();  // requeued by the broker when the connection closes
        if (auto settled = Settle(raws, fate); !settled.ok()) {
          return core::Fail("handler: " + st.error() + "; " + settled.error());
        }
        return core::Fail("stopped while holding a batch: " + st.error());
      }
    }
    holding_.store(false);
    // A vote to requeue sends its whole message back: decided first, so that no vote of a
    // message coming back is also dead-lettered now (it will be decided again).
    for (std::size_t j = 0; j < good.size(); ++j) {
      if (outcomes[j].disposition == Disposition::kRequeue) fate[owner[j]] = Disposition::kRequeue;
    }
    std::vector<OutgoingMessage> rejected;
    std::vector<std::size_t> rejected_owner;
    for (std::size_t j = 0; j < good.size(); ++j) {
      const std::size_t i = owner[j];
      if (outcomes[j].disposition != Disposition::kDeadLetter || fate[i] != Disposition::kAck) {
        continue;
      }
      std::string reason =
          outcomes[j].reason.empty() ? "rejected by the worker" : std::move(outcomes[j].reason);
      if (raws[i].votes.size() == 1) {
        // It travelled alone: set its message aside as it came (whatever its version).
        rejected.push_back(DeadLetterOf(raws[i], raws[i].body, raws[i].message_id, reason));
      } else {
        const core::VoteEnvelope& v = good[j].vote;
        std::string body = good[j].decision ? EncodeDecidedVotes(std::span(&v, 1),
                                                                 std::span(&*good[j].decision, 1))
                                            : EncodeVotes(std::span(&v, 1));
        rejected.push_back(
            DeadLetterOf(raws[i], std::move(body), v.request_id.ToString(), std::move(reason)));
      }
      rejected_owner.push_back(i);
    }
    if (!rejected.empty()) {
      if (auto st = dead_letters_.PublishAndConfirm(rejected); !st.ok()) {
        Report("consumer of " + options_.queue + ": cannot dead-letter: " + st.error());
        for (std::size_t i : rejected_owner) fate[i] = Disposition::kRequeue;
      } else {
        dead_lettered_ += rejected.size();
      }
    }
  }
  auto settled = Settle(raws, fate);
  unsettled_ = false;
  if (!settled.ok()) return core::Fail(settled.error());
  return raws.size();
}

void RabbitConsumer::Run(const BatchHandler& handler) {
  while (!stop_.load()) {
    auto r = RunOnce(handler, std::chrono::milliseconds(200));
    if (r.ok()) continue;
    // Back off (connection failures have set next_attempt_; handler failures wait min_backoff).
    const auto until = std::max(next_attempt_, Clock::now() + options_.min_backoff);
    while (!stop_.load() && Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace scrutin::rabbitmq
