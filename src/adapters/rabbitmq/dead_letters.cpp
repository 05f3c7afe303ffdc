#include "adapters/rabbitmq/dead_letters.hpp"

#include <algorithm>
#include <string_view>

#include "adapters/rabbitmq/vote_codec.hpp"

namespace scrutin::rabbitmq {
namespace {

std::string HeaderOf(const ReceivedMessage& m, std::string_view key) {
  for (const auto& [k, v] : m.headers) {
    if (k == key) return v;
  }
  return {};
}

bool IsPipelineKey(std::string_view key) {
  return key == kSubmittedKey || key == kAcceptedKey || key == kDuplicateKey || key == kInvalidKey;
}

}  // namespace

DeadLetterSummary Summarise(const ReceivedMessage& m) {
  DeadLetterSummary s;
  s.routing_key = m.routing_key;
  s.reason = HeaderOf(m, kReasonHeader);
  if (s.reason.empty()) s.reason = m.death.empty() ? "unknown" : "broker: " + m.death;
  s.source_queue = HeaderOf(m, kSourceQueueHeader);
  auto votes = DecodeVoteMessages(m.body);
  if (votes.ok()) {
    s.votes = votes->size();
    for (const auto& v : *votes) {
      if (std::find(s.laws.begin(), s.laws.end(), v.vote.law_id) == s.laws.end()) {
        s.laws.push_back(v.vote.law_id);
      }
    }
  }
  s.replayable = votes.ok() && !votes->empty() && IsPipelineKey(m.routing_key);
  return s;
}

core::Result<std::unique_ptr<DeadLetters>> DeadLetters::Open(const AmqpEndpoint& endpoint,
                                                             const Topology& topology,
                                                             ConnectionOptions options) {
  options.connection_name = "scrutin-deadletter";
  auto conn = AmqpConnection::Open(endpoint, options);
  if (!conn.ok()) return core::Fail(conn.error());
  if (auto st = DeclareTopology(**conn, topology); !st.ok()) return core::Fail(st.error());
  return std::unique_ptr<DeadLetters>(
      new DeadLetters(std::move(*conn), topology, endpoint, std::move(options)));
}

core::Result<std::vector<DeadLetterSummary>> DeadLetters::List(std::size_t limit) {
  std::vector<DeadLetterSummary> out;
  std::vector<std::uint64_t> taken;
  core::Status failure;
  while (out.size() < limit) {
    auto m = conn_->Get(topology_.dead_queue);
    if (!m.ok()) {
      failure = core::Fail(m.error());
      break;
    }
    if (!m->has_value()) break;
    taken.push_back((*m)->delivery_tag);
    out.push_back(Summarise(**m));
    if ((*m)->remaining == 0) break;
  }
  // Put them back: requeued messages keep their place at the head of the queue.
  if (!taken.empty() && !conn_->broken()) {
    if (auto st = conn_->Nack(taken.back(), /*multiple=*/true, /*requeue=*/true); !st.ok()) {
      return core::Fail(st.error());
    }
  }
  if (!failure.ok()) return core::Fail(failure.error());
  return out;
}

core::Result<ReplayReport> DeadLetters::Replay(std::size_t limit) {
  ReplayReport report;
  auto info = conn_->InspectQueue(topology_.dead_queue);
  if (!info.ok()) return core::Fail(info.error());
  const std::size_t present = std::min<std::size_t>(info->messages, limit);

  PublisherOptions publisher_options;
  publisher_options.endpoint = endpoint_;
  publisher_options.connection = options_;
  publisher_options.connection.connection_name = "scrutin-deadletter-replay";
  publisher_options.topology = topology_;
  RabbitBatchPublisher publisher(publisher_options);
  if (auto st = publisher.Connect(); !st.ok()) return core::Fail(st.error());

  std::vector<std::uint64_t> keep;  // not replayable: requeued at the end
  for (std::size_t i = 0; i < present; ++i) {
    auto m = conn_->Get(topology_.dead_queue);
    if (!m.ok()) return core::Fail(m.error());
    if (!m->has_value()) break;
    const ReceivedMessage& dead = **m;
    DeadLetterSummary summary = Summarise(dead);
    if (!summary.replayable) {
      keep.push_back(dead.delivery_tag);
      ++report.left;
      continue;
    }
    OutgoingMessage back;
    back.exchange = topology_.exchange;
    back.routing_key = dead.routing_key;
    back.body = dead.body;
    back.message_id = dead.message_id;
    back.type = dead.type;
    back.headers = {{"x-scrutin-replayed", summary.reason}};
    if (auto st = publisher.PublishAndConfirm(std::span(&back, 1)); !st.ok()) {
      (void)conn_->Nack(dead.delivery_tag, false, true);
      return core::Fail("replaying a message failed (it stays in " + topology_.dead_queue +
                        "): " + st.error());
    }
    if (auto st = conn_->Ack(dead.delivery_tag, false); !st.ok()) {
      // Published but still in votes.dead: replaying it again later is harmless.
      return core::Fail(st.error());
    }
    ++report.replayed;
    report.votes += summary.votes;
  }
  for (std::uint64_t tag : keep) {
    if (auto st = conn_->Nack(tag, false, true); !st.ok()) return core::Fail(st.error());
  }
  return report;
}

}  // namespace scrutin::rabbitmq
