// The wire format of the votes that travel through RabbitMQ: a fixed binary layout, versioned. It
// carries the credential digest, never a NAS or a code (they do not exist past the API process),
// and the ballot sealed (docs/ballot-secrecy.md): no message holds a choice in clear.
//
// One message carries a batch of 1..kMaxVotesPerMessage votes of one kind, because the broker's
// cost is per message, not per byte (bench/RESULTS.md: ~120 us of broker CPU per single-vote
// message).
//
// Layout (integers big-endian), version 3:
//
//   offset  size  field
//   0       1     format version (3)
//   1       1     kind: 1 = submitted votes, 2 = decided votes (every vote of the message)
//   2       2     N = number of votes, 1..kMaxVotesPerMessage
//   4       ...   N vote records, back to back:
//
//   record offset  size  field
//   0              16    request id (UUID bytes)
//   16             32    credential digest
//   48             8     received_at, signed nanoseconds since the Unix epoch (UTC)
//   56             49    sealed ballot (core::SealedBallot: choice and receipt, encrypted)
//   105            1     L = length of law_id, 1..64
//   106            L     law_id, characters [A-Za-z0-9._-]
//   -- kind 2 only:
//   106+L          1     status: 1 = accepted, 2 = duplicate, 3 = invalid
//   107+L          4     attempt_count (>= 1)
//   111+L          1     replay: 0 or 1
//
// A record is at most kMaxRecordBytes (176), so a message is at most kMaxMessageBytes.
//
// Versions 1 and 2 (before sealed ballots) carried the choice in clear; they are no longer
// decoded: their messages are set aside with a reason saying so (docs/operations.md, "Upgrading":
// drain the queues before upgrading across this change).
//
// A message is exactly that long: trailing bytes, an unknown version or kind, a count of 0 or over
// the bound, an out-of-range value in any record are all rejected with a reason (which goes into
// the dead-letter header): a message is decoded whole or not at all. The AMQP message_id carries
// the first vote's request id, for the broker's tools; the body is authoritative.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/vote.hpp"

namespace scrutin::rabbitmq {

inline constexpr std::uint8_t kFormatVersion = 3;
inline constexpr std::size_t kMaxLawIdLength = 64;
inline constexpr std::size_t kMaxVotesPerMessage = 1024;
inline constexpr std::size_t kRecordFixedBytes = 56 + core::kSealedBallotSize + 1;  // 106
inline constexpr std::size_t kMaxRecordBytes = kRecordFixedBytes + kMaxLawIdLength + 6;
inline constexpr std::size_t kMaxMessageBytes = 4 + kMaxVotesPerMessage * kMaxRecordBytes;

// The AMQP "type" property of each kind (informative; the body's version byte is authoritative).
inline constexpr std::string_view kVoteType = "scrutin.votes.v3";
inline constexpr std::string_view kDecidedVoteType = "scrutin.decided-votes.v3";

struct VoteMessage {
  core::VoteEnvelope vote;
  std::optional<core::Decision> decision;  // present for decided votes
};

// REQUIRES: 1 <= votes.size() <= kMaxVotesPerMessage; every law_id is 1..64 characters of
// [A-Za-z0-9._-] (every configured law id is); for decided votes decisions.size() == votes.size()
// and no decision is kPending.
std::string EncodeVotes(std::span<const core::VoteEnvelope> votes);
std::string EncodeDecidedVotes(std::span<const core::VoteEnvelope> votes,
                               std::span<const core::Decision> decisions);

// Decodes a message into its votes, in message order. Error with a short reason ("truncated vote
// 3 of 10", "unsupported format version 7", ...) on anything that is not exactly one well-formed
// message; then no vote of it is returned.
core::Result<std::vector<VoteMessage>> DecodeVoteMessages(std::string_view bytes);

}  // namespace scrutin::rabbitmq
