// Fuzzes rabbitmq::DecodeVoteMessage, which reads message bodies taken off the broker. Checks: it
// never crashes (ASan/UBSan); a message it accepts re-encodes to exactly the same bytes, and
// decoding those bytes again gives back the same vote and decision (decode(encode(x)) == x).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adapters/rabbitmq/vote_codec.hpp"

namespace {

bool SameMessage(const scrutin::rabbitmq::VoteMessage& a, const scrutin::rabbitmq::VoteMessage& b) {
  if (!(a.vote.request_id == b.vote.request_id) || !(a.vote.digest == b.vote.digest) ||
      a.vote.law_id != b.vote.law_id || a.vote.choice != b.vote.choice ||
      a.vote.received_at != b.vote.received_at) {
    return false;
  }
  if (a.decision.has_value() != b.decision.has_value()) return false;
  if (!a.decision) return true;
  return a.decision->status == b.decision->status &&
         a.decision->attempt_count == b.decision->attempt_count &&
         a.decision->replay == b.decision->replay;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = scrutin::rabbitmq::DecodeVoteMessage(bytes);
  if (!decoded.ok()) {
    if (decoded.error().empty()) std::abort();  // the reason goes into the dead-letter header
    return 0;
  }
  const auto& message = decoded.value();
  // Encoding requires a non-pending decision; the decoder never produces one.
  if (message.decision && message.decision->status == scrutin::core::VoteStatus::kPending) {
    std::abort();
  }
  const std::string encoded =
      message.decision ? scrutin::rabbitmq::EncodeDecidedVote(message.vote, *message.decision)
                       : scrutin::rabbitmq::EncodeVote(message.vote);
  if (encoded != bytes) std::abort();
  auto again = scrutin::rabbitmq::DecodeVoteMessage(encoded);
  if (!again.ok() || !SameMessage(message, again.value())) std::abort();
  return 0;
}
