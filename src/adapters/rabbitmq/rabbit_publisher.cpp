#include "adapters/rabbitmq/rabbit_publisher.hpp"

#include <algorithm>

#include "adapters/rabbitmq/vote_codec.hpp"
#include "core/mutex.hpp"

namespace scrutin::rabbitmq {

OutgoingMessage SubmittedVotesMessage(const Topology& topology,
                                      std::span<const core::VoteEnvelope> votes) {
  OutgoingMessage m;
  m.exchange = topology.exchange;
  m.routing_key = std::string(kSubmittedKey);
  m.body = EncodeVotes(votes);
  m.message_id = votes.front().request_id.ToString();
  m.type = std::string(kVoteType);
  return m;
}

OutgoingMessage SubmittedVoteMessage(const Topology& topology, const core::VoteEnvelope& vote) {
  return SubmittedVotesMessage(topology, std::span(&vote, 1));
}

void AppendDecidedVoteMessages(const Topology& topology, std::span<const core::VoteEnvelope> votes,
                               std::span<const core::Decision> decisions,
                               std::vector<OutgoingMessage>& out) {
  std::vector<core::VoteEnvelope> group;
  std::vector<core::Decision> group_decisions;
  for (core::VoteStatus status :
       {core::VoteStatus::kAccepted, core::VoteStatus::kDuplicate, core::VoteStatus::kInvalid}) {
    group.clear();
    group_decisions.clear();
    auto flush = [&] {
      if (group.empty()) return;
      OutgoingMessage m;
      m.exchange = topology.exchange;
      m.routing_key = std::string(RoutingKeyFor(status));
      m.body = EncodeDecidedVotes(group, group_decisions);
      m.message_id = group.front().request_id.ToString();
      m.type = std::string(kDecidedVoteType);
      out.push_back(std::move(m));
      group.clear();
      group_decisions.clear();
    };
    for (std::size_t i = 0; i < votes.size(); ++i) {
      if (decisions[i].status != status) continue;
      group.push_back(votes[i]);
      group_decisions.push_back(decisions[i]);
      if (group.size() == kMaxVotesPerMessage) flush();
    }
    flush();
  }
}

OutgoingMessage DecidedVoteMessage(const Topology& topology, const core::VoteEnvelope& vote,
                                   const core::Decision& decision) {
  std::vector<OutgoingMessage> out;
  AppendDecidedVoteMessages(topology, std::span(&vote, 1), std::span(&decision, 1), out);
  return std::move(out.front());
}

RabbitPublisher::RabbitPublisher(RabbitPublisherOptions options) : options_(std::move(options)) {}

core::Result<std::unique_ptr<RabbitPublisher>> RabbitPublisher::Start(
    RabbitPublisherOptions options) {
  if (options.publisher_threads == 0) options.publisher_threads = 1;
  if (options.max_batch == 0) options.max_batch = 1;
  std::unique_ptr<RabbitPublisher> p(new RabbitPublisher(std::move(options)));
  const std::size_t n = p->options_.publisher_threads;
  {
    core::MutexLock lock(p->mu_);  // no thread yet; taken so the analysis sees every access locked
    p->connected_.assign(n, false);
  }
  p->workers_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    PublisherOptions po = p->options_.publisher;
    po.connection.connection_name += " publisher " + std::to_string(i);
    p->workers_[i].publisher = std::make_unique<RabbitBatchPublisher>(std::move(po));
  }
  if (auto st = p->workers_[0].publisher->Connect(); !st.ok()) return core::Fail(st.error());
  p->SetConnected(0, true, "");
  for (std::size_t i = 0; i < n; ++i) {
    p->workers_[i].thread = std::thread([raw = p.get(), i] { raw->Loop(i); });
  }
  return p;
}

RabbitPublisher::~RabbitPublisher() { Stop(); }

void RabbitPublisher::Stop() {
  {
    core::MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  for (Worker& w : workers_) {
    if (w.thread.joinable()) w.thread.join();
  }
}

std::size_t RabbitPublisher::queue_depth() const {
  core::MutexLock lock(mu_);
  return queue_.size();
}

void RabbitPublisher::Submit(core::VoteEnvelope vote, Callback done) {
  ports::IntakeResult refused;
  {
    core::MutexLock lock(mu_);
    if (stopping_ || connected_count_ == 0) {
      refused.kind = ports::IntakeResult::Kind::kUnavailable;
      refused.retry_after = options_.retry_after_unavailable;
    } else if (queue_.size() >= options_.max_queue) {
      refused.kind = ports::IntakeResult::Kind::kOverloaded;
      refused.retry_after = options_.retry_after_overloaded;
    } else {
      queue_.push_back(Pending{std::move(vote), std::move(done), std::chrono::steady_clock::now()});
      lock.Unlock();
      cv_.NotifyOne();
      return;
    }
  }
  done(refused);
}

std::vector<ports::HealthCheck> RabbitPublisher::Health() {
  core::MutexLock lock(mu_);
  ports::HealthCheck check;
  check.name = "queue";
  check.ok = connected_count_ > 0 && !stopping_;
  if (stopping_) {
    check.detail = "stopping";
  } else if (check.ok) {
    check.detail = "RabbitMQ " + options_.publisher.endpoint.ToString() + ": " +
                   std::to_string(connected_count_) + "/" + std::to_string(workers_.size()) +
                   " publisher connections up";
  } else {
    check.detail =
        "RabbitMQ " + options_.publisher.endpoint.ToString() + " unreachable: " + last_error_;
  }
  return {check};
}

void RabbitPublisher::SetConnected(std::size_t index, bool connected, const std::string& error) {
  core::MutexLock lock(mu_);
  if (connected_[index] != connected) {
    connected_[index] = connected;
    connected ? ++connected_count_ : --connected_count_;
  }
  if (!connected && !error.empty()) last_error_ = error;
}

void RabbitPublisher::AnswerUnavailable(std::vector<Pending>& batch) {
  ports::IntakeResult r;
  r.kind = ports::IntakeResult::Kind::kUnavailable;
  r.retry_after = options_.retry_after_unavailable;
  for (Pending& p : batch) p.done(r);
  batch.clear();
}

void RabbitPublisher::PublishAndAnswer(RabbitBatchPublisher& publisher,
                                       std::vector<Pending>& batch) {
  // One message per kMaxVotesPerMessage votes (one message at the default max_batch).
  std::vector<OutgoingMessage> messages;
  std::vector<core::VoteEnvelope> votes;
  votes.reserve(std::min(batch.size(), kMaxVotesPerMessage));
  for (std::size_t first = 0; first < batch.size(); first += kMaxVotesPerMessage) {
    const std::size_t end = std::min(batch.size(), first + kMaxVotesPerMessage);
    votes.clear();
    for (std::size_t i = first; i < end; ++i) votes.push_back(std::move(batch[i].vote));
    messages.push_back(SubmittedVotesMessage(options_.publisher.topology, votes));
  }
  std::vector<Delivery> fate(messages.size());
  const auto rounds_before = publisher.confirm_rounds();
  (void)publisher.PublishBatch(messages, fate);  // failures show as non-kConfirmed fates
  confirm_rounds_ += publisher.confirm_rounds() - rounds_before;

  ports::IntakeResult durable;
  durable.kind = ports::IntakeResult::Kind::kDurable;
  durable.decision.status = core::VoteStatus::kPending;
  ports::IntakeResult unavailable;
  unavailable.kind = ports::IntakeResult::Kind::kUnavailable;
  unavailable.retry_after = options_.retry_after_unavailable;
  std::uint64_t confirmed_votes = 0, confirmed_messages = 0;
  for (std::size_t m = 0; m < messages.size(); ++m) {
    const bool confirmed = fate[m] == Delivery::kConfirmed;
    confirmed_messages += confirmed;
    const std::size_t first = m * kMaxVotesPerMessage;
    const std::size_t end = std::min(batch.size(), first + kMaxVotesPerMessage);
    for (std::size_t i = first; i < end; ++i) {
      // Never kDurable without the confirm of the very message that carries this vote.
      if (confirmed) {
        ++confirmed_votes;
        batch[i].done(durable);
      } else {
        batch[i].done(unavailable);
      }
    }
  }
  messages_confirmed_ += confirmed_messages;
  votes_confirmed_ += confirmed_votes;
  batch.clear();
}

void RabbitPublisher::Loop(std::size_t index) {
  RabbitBatchPublisher& publisher = *workers_[index].publisher;
  std::vector<Pending> batch;
  batch.reserve(options_.max_batch);
  for (;;) {
    if (!publisher.connected()) {
      SetConnected(index, false, publisher.last_error());
      auto st = publisher.Connect();
      if (st.ok()) {
        SetConnected(index, true, "");
      } else {
        // Nobody can publish: answer what waits rather than letting it wait for the broker.
        core::MutexLock lock(mu_);
        if (connected_count_ == 0) {
          while (!queue_.empty()) {
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
          }
        }
        if (batch.empty()) {
          if (stopping_) return;
          // Sleep until the next attempt; Stop() wakes us.
          cv_.WaitFor(lock, options_.idle_poll, [&]() REQUIRES(mu_) { return stopping_; });
          continue;
        }
        lock.Unlock();
        AnswerUnavailable(batch);
        continue;
      }
    }
    {
      core::MutexLock lock(mu_);
      cv_.WaitFor(lock, options_.idle_poll,
                  [&]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
      if (options_.linger.count() > 0 && !queue_.empty() && queue_.size() < options_.max_batch) {
        // Submit() notifies on every vote; the predicate keeps waiting until the batch is full.
        cv_.WaitUntil(lock, queue_.front().queued_at + options_.linger, [&]() REQUIRES(mu_) {
          return stopping_ || queue_.empty() || queue_.size() >= options_.max_batch;
        });
      }
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (batch.empty() && stopping_) return;
    }
    if (batch.empty()) {
      if (auto st = publisher.Poll(); !st.ok()) SetConnected(index, false, st.error());
      continue;
    }
    PublishAndAnswer(publisher, batch);
    if (!publisher.connected()) SetConnected(index, false, publisher.last_error());
  }
}

}  // namespace scrutin::rabbitmq
