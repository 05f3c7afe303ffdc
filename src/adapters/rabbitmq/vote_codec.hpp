// The wire format of the votes that travel through RabbitMQ: a fixed binary layout, versioned,
// about 70 bytes a vote. It carries the credential digest, never a NAS or a code (they do not
// exist past the API process).
//
// Layout (integers big-endian), version 1:
//
//   offset  size  field
//   0       1     format version (1)
//   1       1     kind: 1 = submitted vote, 2 = decided vote
//   2       16    request id (UUID bytes)
//   18      32    credential digest
//   50      8     received_at, signed nanoseconds since the Unix epoch (UTC)
//   58      1     choice: 0 = oui, 1 = non
//   59      1     L = length of law_id, 1..64
//   60      L     law_id, characters [A-Za-z0-9._-]
//   -- kind 2 only:
//   60+L    1     status: 1 = accepted, 2 = duplicate, 3 = invalid
//   61+L    4     attempt_count (>= 1)
//   65+L    1     replay: 0 or 1
//
// A message is exactly that long: trailing bytes, an unknown version or kind, an out-of-range
// value are all rejected with a reason (which goes into the dead-letter header). The AMQP
// message_id carries the request id again, for the broker's tools; the body is authoritative.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "core/vote.hpp"

namespace scrutin::rabbitmq {

inline constexpr std::uint8_t kFormatVersion = 1;
inline constexpr std::size_t kMaxLawIdLength = 64;

// The AMQP "type" property of each kind.
inline constexpr std::string_view kVoteType = "scrutin.vote.v1";
inline constexpr std::string_view kDecidedVoteType = "scrutin.decided-vote.v1";

struct VoteMessage {
  core::VoteEnvelope vote;
  std::optional<core::Decision> decision;  // present for decided votes
};

// REQUIRES: vote.law_id is 1..64 characters of [A-Za-z0-9._-] (every configured law id is).
std::string EncodeVote(const core::VoteEnvelope& vote);
// REQUIRES: as above, and decision.status is not kPending.
std::string EncodeDecidedVote(const core::VoteEnvelope& vote, const core::Decision& decision);

// Error with a short reason ("truncated", "unsupported version 7", ...) on anything that is not
// exactly one well-formed message.
core::Result<VoteMessage> DecodeVoteMessage(std::string_view bytes);

}  // namespace scrutin::rabbitmq
