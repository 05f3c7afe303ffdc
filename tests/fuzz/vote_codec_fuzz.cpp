// Fuzzes rabbitmq::DecodeVoteMessages, which reads message bodies taken off the broker (version 3
// batches). Checks: it never crashes (ASan/UBSan) and never returns more than kMaxVotesPerMessage
// votes; a message it accepts re-encodes to exactly the same bytes, and decoding those bytes again gives back the same votes and decisions
// (decode(encode(x)) == x).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/rabbitmq/vote_codec.hpp"

namespace {

namespace rmq = scrutin::rabbitmq;

bool SameMessage(const rmq::VoteMessage& a, const rmq::VoteMessage& b) {
  if (!(a.vote.request_id == b.vote.request_id) || !(a.vote.digest == b.vote.digest) ||
      a.vote.law_id != b.vote.law_id || a.vote.ballot != b.vote.ballot ||
      a.vote.received_at != b.vote.received_at) {
    return false;
  }
  if (a.decision.has_value() != b.decision.has_value()) return false;
  if (!a.decision) return true;
  return a.decision->status == b.decision->status &&
         a.decision->attempt_count == b.decision->attempt_count &&
         a.decision->replay == b.decision->replay;
}

std::string Reencode(const std::vector<rmq::VoteMessage>& messages) {
  const bool decided = messages.front().decision.has_value();
  std::vector<scrutin::core::VoteEnvelope> votes;
  std::vector<scrutin::core::Decision> decisions;
  for (const auto& m : messages) {
    if (m.decision.has_value() != decided) std::abort();  // one kind per message
    votes.push_back(m.vote);
    if (decided) decisions.push_back(*m.decision);
  }
  return decided ? rmq::EncodeDecidedVotes(votes, decisions) : rmq::EncodeVotes(votes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = rmq::DecodeVoteMessages(bytes);
  if (!decoded.ok()) {
    if (decoded.error().empty()) std::abort();  // the reason goes into the dead-letter header
    return 0;
  }
  const auto& messages = decoded.value();
  if (messages.empty() || messages.size() > rmq::kMaxVotesPerMessage) std::abort();
  for (const auto& m : messages) {
    // Encoding requires a non-pending decision; the decoder never produces one.
    if (m.decision && m.decision->status == scrutin::core::VoteStatus::kPending) std::abort();
  }
  const std::string encoded = Reencode(messages);
  if (encoded != bytes) std::abort();
  auto again = rmq::DecodeVoteMessages(encoded);
  if (!again.ok() || again->size() != messages.size()) std::abort();
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (!SameMessage(messages[i], (*again)[i])) std::abort();
  }
  return 0;
}
